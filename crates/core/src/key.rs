//! Asset keys: `group/name`, two segments of `[a-z0-9_]`.

use std::fmt;

/// The identity of an asset: `group/name`.
///
/// Both segments are non-empty and use only lowercase ASCII letters, digits and `_`, so a key
/// is safe as a path segment, a URL segment and (as `group.name`) an SQL table name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetKey {
    group: String,
    name: String,
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
            group: group.to_string(),
            name: name.to_string(),
        })
    }

    /// The first segment.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The second segment.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.name)
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
}
