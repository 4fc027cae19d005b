//! The object path of one materialization of one asset partition.
//!
//! ```text
//!   <group>/<name>/p=<encoded partition key>/<materialization id>.parquet
//!   <group>/<name>/_/<materialization id>.parquet          (unpartitioned)
//!
//! One file per materialization, beside the partition's other materializations: a folder per
//! materialization would cost a directory creation per write, which on a local disk is as
//! much as writing a small partition itself.
//! ```
//!
//! Asset keys are already `[a-z0-9_]` and materialization ids are checked against
//! `[A-Za-z0-9_-]{1,64}`; only partition keys are free text. They are encoded byte by byte:
//! `[A-Za-z0-9_-]` is kept and every other byte of the UTF-8 text becomes `=XX` (uppercase hex).
//! So an encoded key never holds `/`, `.`, `%` or `\`, no segment can be `.`, `..` or empty, and
//! decoding is unambiguous (`=` always starts a three-character escape), which makes the
//! encoding injective. `=` is used rather than `%` because object stores and URLs percent-encode
//! `%` again, which would make the stored name differ from the one computed here.
//!
//! A long key would make a long path (S3 keys stop at 1,024 bytes; many file systems at 255
//! bytes a segment), so an encoding longer than [`MAX_ENCODED_KEY`] characters is cut to its
//! first 64 characters (never inside an escape) followed by `=Z` and 32 hex digits of the key's
//! SHA-256. `=Z` cannot come out of the plain encoding, so a shortened key never equals a
//! plain one, and two shortened keys are equal only if 128 bits of SHA-256 collide.

use sha2::{Digest, Sha256};
use strata_core::key::AssetKey;

use crate::IoError;

/// The longest encoded partition key kept whole; longer ones are shortened with a hash.
pub const MAX_ENCODED_KEY: usize = 120;

/// Encoded characters kept before the hash of a shortened key.
const SHORTENED_HEAD: usize = 64;

/// The segment of an unpartitioned asset, in place of `p=<key>`.
const UNPARTITIONED_SEGMENT: &str = "_";

/// Where one materialization of one asset partition is stored, relative to an IO manager's root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PartitionLocation {
    asset: AssetKey,
    partition_key: Option<String>,
    partition_segment: String,
    materialization_id: String,
}

impl PartitionLocation {
    /// The location of materialization `materialization_id` of `asset`'s partition
    /// `partition` (`None` for an unpartitioned asset).
    ///
    /// Fails for an empty partition key and for a materialization id outside
    /// `[A-Za-z0-9_-]{1,64}`.
    pub fn new(
        asset: &AssetKey,
        partition: Option<&str>,
        materialization_id: &str,
    ) -> Result<Self, IoError> {
        check_materialization_id(materialization_id)?;
        let partition_segment = match partition {
            Some(key) => format!("p={}", encode_partition_key(key)?),
            None => UNPARTITIONED_SEGMENT.to_string(),
        };
        Ok(Self {
            asset: asset.clone(),
            partition_key: partition.map(str::to_string),
            partition_segment,
            materialization_id: materialization_id.to_string(),
        })
    }

    /// The object path of this materialization without its extension, relative to the IO
    /// manager's root: `<group>/<name>/<partition segment>/<materialization id>`, with no
    /// leading or trailing `/`. Its file is `<prefix>.<ext>`.
    pub fn prefix(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.asset.group(),
            self.asset.name(),
            self.partition_segment,
            self.materialization_id
        )
    }

    /// The asset.
    pub fn asset(&self) -> &AssetKey {
        &self.asset
    }

    /// The partition key as given, or `None` for an unpartitioned asset.
    pub fn partition_key(&self) -> Option<&str> {
        self.partition_key.as_deref()
    }

    /// The path segment of the partition: `p=<encoded key>`, or `_` when unpartitioned.
    pub fn partition_segment(&self) -> &str {
        &self.partition_segment
    }

    /// The materialization id.
    pub fn materialization_id(&self) -> &str {
        &self.materialization_id
    }
}

/// Encodes a partition key into `[A-Za-z0-9_=-]`, at most [`MAX_ENCODED_KEY`] characters
/// (see the module documentation). Distinct keys give distinct encodings.
///
/// Fails for the empty key, which no partitions definition produces and which would make an
/// ambiguous path.
pub fn encode_partition_key(key: &str) -> Result<String, IoError> {
    if key.is_empty() {
        return Err(IoError::InvalidPartitionKey {
            key: String::new(),
            reason: "a partition key cannot be empty",
        });
    }
    let mut encoded = String::with_capacity(key.len());
    // Where each escape or kept byte ends, to cut a long encoding at a boundary.
    let mut cut = 0;
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            encoded.push(char::from(byte));
        } else {
            encoded.push('=');
            encoded.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
        if encoded.len() <= SHORTENED_HEAD {
            cut = encoded.len();
        }
    }
    if encoded.len() <= MAX_ENCODED_KEY {
        return Ok(encoded);
    }
    encoded.truncate(cut);
    encoded.push_str("=Z");
    let digest = Sha256::digest(key.as_bytes());
    for byte in &digest[..16] {
        encoded.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        encoded.push(char::from(HEX_LOWER[usize::from(byte & 0x0f)]));
    }
    Ok(encoded)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn check_materialization_id(id: &str) -> Result<(), IoError> {
    let reason = if id.is_empty() {
        "it is empty"
    } else if id.len() > 64 {
        "it is longer than 64 characters"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        "it may use only ASCII letters, digits, `_` and `-`"
    } else {
        return Ok(());
    };
    Err(IoError::InvalidMaterializationId {
        id: id.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn asset() -> AssetKey {
        AssetKey::parse("flights/clean").unwrap()
    }

    fn prefix(key: &str) -> String {
        PartitionLocation::new(&asset(), Some(key), "m1")
            .unwrap()
            .prefix()
    }

    /// Every segment is a plain name in the safe alphabet, so the prefix is a child of the root.
    fn assert_safe(prefix: &str) {
        assert!(
            !prefix.starts_with('/') && !prefix.ends_with('/'),
            "{prefix}"
        );
        let segments: Vec<&str> = prefix.split('/').collect();
        assert_eq!(segments.len(), 4, "{prefix}");
        for segment in segments {
            assert!(!segment.is_empty() && segment != "." && segment != "..");
            assert!(
                segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_=-".contains(&b)),
                "unsafe segment `{segment}` in `{prefix}`"
            );
            assert!(segment.len() <= MAX_ENCODED_KEY + 2, "{segment}");
        }
    }

    #[test]
    fn layout_of_partitioned_and_unpartitioned_assets() {
        assert_eq!(prefix("2013-01-01"), "flights/clean/p=2013-01-01/m1");
        let whole = PartitionLocation::new(&asset(), None, "0193-ab_C").unwrap();
        assert_eq!(whole.prefix(), "flights/clean/_/0193-ab_C");
        assert_eq!(whole.partition_key(), None);
        assert_eq!(whole.materialization_id(), "0193-ab_C");
        assert_eq!(whole.asset(), &asset());
    }

    #[test]
    fn encoding_escapes_every_byte_outside_the_safe_alphabet() {
        let cases = [
            ("..", "=2E=2E"),
            (".", "=2E"),
            ("/", "=2F"),
            ("a/../../b", "a=2F=2E=2E=2F=2E=2E=2Fb"),
            ("%2e%2e", "=252e=252e"),
            ("%2F", "=252F"),
            ("\0", "=00"),
            ("\\", "=5C"),
            ("=41", "=3D41"),
            ("A", "A"),
            ("日本", "=E6=97=A5=E6=9C=AC"),
            ("🦀", "=F0=9F=A6=80"),
            ("2013-01-01|EWR", "2013-01-01=7CEWR"),
        ];
        for (key, encoded) in cases {
            assert_eq!(encode_partition_key(key).unwrap(), encoded, "key {key:?}");
            assert_safe(&prefix(key));
        }
    }

    #[test]
    fn long_keys_are_shortened_with_a_hash() {
        let long = "x".repeat(1_000);
        let encoded = encode_partition_key(&long).unwrap();
        assert_eq!(encoded.len(), 64 + 2 + 32);
        assert!(encoded.starts_with(&"x".repeat(64)));
        assert_eq!(&encoded[64..66], "=Z");
        // The cut never splits an escape: 21 escapes are 63 characters, a 22nd would pass 64.
        let dots = encode_partition_key(&".".repeat(50)).unwrap();
        assert!(dots.starts_with(&"=2E".repeat(21)));
        assert_eq!(&dots[63..65], "=Z");
        // 120 encoded characters stay whole; 121 do not.
        assert_eq!(encode_partition_key(&"a".repeat(120)).unwrap().len(), 120);
        assert!(
            encode_partition_key(&"a".repeat(121))
                .unwrap()
                .contains("=Z")
        );
        assert_safe(&prefix(&long));
        assert_ne!(encoded, encode_partition_key(&"x".repeat(999)).unwrap());
    }

    #[test]
    fn empty_key_is_rejected() {
        let error = PartitionLocation::new(&asset(), Some(""), "m1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid partition key ``: a partition key cannot be empty"
        );
    }

    #[test]
    fn materialization_ids_are_checked() {
        let message = |id: &str| {
            PartitionLocation::new(&asset(), None, id)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(message(""), "invalid materialization id ``: it is empty");
        assert_eq!(
            message("../x"),
            "invalid materialization id `../x`: it may use only ASCII letters, digits, `_` and `-`"
        );
        assert_eq!(
            message(&"a".repeat(65)),
            format!(
                "invalid materialization id `{}`: it is longer than 64 characters",
                "a".repeat(65)
            )
        );
        assert!(PartitionLocation::new(&asset(), None, &"a".repeat(64)).is_ok());
    }

    /// Decodes a plain (not shortened) encoding, to show it loses nothing.
    fn decode(encoded: &str) -> Vec<u8> {
        let bytes = encoded.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_key_stays_under_the_root(key in "\\PC{1,400}|[./\\\\%=\0a-z]{1,60}") {
            assert_safe(&prefix(&key));
        }

        #[test]
        fn plain_encodings_decode_to_the_key(key in "\\PC{1,30}|[./\\\\%=\0A-Z]{1,30}") {
            let encoded = encode_partition_key(&key).unwrap();
            if !encoded.contains("=Z") {
                prop_assert_eq!(decode(&encoded), key.as_bytes());
            }
        }

        #[test]
        fn distinct_keys_give_distinct_segments(
            keys in proptest::collection::hash_set("\\PC{1,80}|[./=%a-c]{1,50}", 1..60)
        ) {
            let segments: HashSet<String> =
                keys.iter().map(|key| encode_partition_key(key).unwrap()).collect();
            prop_assert_eq!(segments.len(), keys.len());
        }
    }
}
