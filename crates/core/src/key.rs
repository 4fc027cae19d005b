//! Asset keys: `group/name`, two segments of `[a-z0-9_]`.

use std::fmt;
use std::sync::Arc;

/// The identity of an asset: `group/name`.
///
/// Both segments are non-empty and use only lowercase ASCII letters, digits and `_`, so a key
/// is safe as a path segment, a URL segment and (as `group.name`) an SQL table name.
///
/// The text is held once and shared: a key is cloned into every map keyed by asset (a tick of
/// the daemon builds several over thousands of assets), and a clone only counts a reference.
/// Keys order by group, then name — which is the order of their texts, since `/` sorts before
/// every character a segment may hold.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetKey {
    /// `group/name`.
    text: Arc<str>,
    /// The position of the `/`.
    slash: usize,
}

/// Why a text is not an asset key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid asset key `{text}`: {reason}")]
pub struct InvalidKey {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl AssetKey {
    /// Parses `group/name`.
    pub fn parse(text: &str) -> Result<Self, InvalidKey> {
        let invalid = |reason| InvalidKey {
            text: text.to_string(),
            reason,
        };
        let mut parts = text.split('/');
        let (Some(group), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("expected exactly two segments, `group/name`"));
        };
        for segment in [group, name] {
            if segment.is_empty() {
                return Err(invalid("a segment is empty"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(invalid(
                    "segments may use only lowercase letters, digits and `_`",
                ));
            }
        }
        Ok(Self {
            text: text.into(),
            slash: group.len(),
        })
    }

    /// The first segment.
    pub fn group(&self) -> &str {
        &self.text[..self.slash]
    }

    /// The second segment.
    pub fn name(&self) -> &str {
        &self.text[self.slash + 1..]
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AssetKey").field(&&*self.text).finish()
    }
}

impl std::str::FromStr for AssetKey {
    type Err = InvalidKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Serialized as its text, `group/name`, so events and API bodies read naturally.
impl serde::Serialize for AssetKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AssetKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_segments() {
        let key = AssetKey::parse("flights/daily_delays").unwrap();
        assert_eq!((key.group(), key.name()), ("flights", "daily_delays"));
        assert_eq!(key.to_string(), "flights/daily_delays");
    }

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            "flights",
            "a/b/c",
            "/x",
            "x/",
            "Flights/x",
            "a/b-c",
            "a/../b",
            "a/b c",
        ] {
            assert!(AssetKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serializes_as_its_text_and_validates_on_the_way_back() {
        let key = AssetKey::parse("flights/daily_delays").unwrap();
        assert_eq!(
            serde_json::to_string(&key).unwrap(),
            "\"flights/daily_delays\""
        );
        assert_eq!(
            serde_json::from_str::<AssetKey>("\"flights/daily_delays\"").unwrap(),
            key
        );
        assert!(serde_json::from_str::<AssetKey>("\"../etc\"").is_err());
    }

    #[test]
    fn keys_order_by_group_then_name() {
        let texts = ["a/z", "a_b/a", "ab/a", "a0/a", "b/a", "a/a", "a1/b"];
        let mut keys: Vec<AssetKey> = texts.iter().map(|t| AssetKey::parse(t).unwrap()).collect();
        keys.sort();
        let mut pairs: Vec<(&str, &str)> =
            texts.iter().map(|t| t.split_once('/').unwrap()).collect();
        pairs.sort();
        let sorted: Vec<(&str, &str)> = keys.iter().map(|k| (k.group(), k.name())).collect();
        assert_eq!(sorted, pairs);
    }
}
