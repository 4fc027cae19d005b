//! Data versions and code versions as execution computes them.
//!
//! A data version is reported by a command, else it is Dagster's default: with inputs, a hash of
//! the code version and the data versions of everything consumed (provenance — stable under row
//! order, and computed without reading the data); without inputs, a hash of the content.

use std::path::Path;

use strata_core::model::{Asset, Compute};
use strata_core::versions::{FieldHasher, code_version};
use strata_storage::event::ConsumedInput;

/// The provenance data version: the code version and every consumed range's data version.
pub fn provenance_data_version(code_version: &str, inputs: &[ConsumedInput]) -> String {
    let mut hash = FieldHasher::default();
    hash.field("code_version", code_version.as_bytes());
    let mut inputs: Vec<&ConsumedInput> = inputs.iter().collect();
    inputs.sort_by(|a, b| a.asset.cmp(&b.asset));
    for input in inputs {
        hash.field("input", input.asset.to_string().as_bytes());
        for range in &input.ranges {
            hash.field("first", range.first.as_deref().unwrap_or("").as_bytes());
            hash.field("last", range.last.as_deref().unwrap_or("").as_bytes());
            hash.field("data_version", range.data_version.as_bytes());
        }
    }
    format!("p:{}", &hash.finish()[..32])
}

/// A content data version from bytes that represent the data.
pub fn content_data_version(parts: &[&[u8]]) -> String {
    let mut hash = FieldHasher::default();
    for part in parts {
        hash.field("content", part);
    }
    format!("c:{}", &hash.finish()[..32])
}

/// The asset's code version, reading its `code_files` from the repository at `root`.
pub fn asset_code_version(root: &Path, asset: &Asset) -> Result<String, String> {
    let files = match code_files(asset) {
        files if asset.code_version.is_none() => files
            .iter()
            .map(|path| {
                std::fs::read(root.join(path))
                    .map(|bytes| (path.as_str(), bytes))
                    .map_err(|e| {
                        format!(
                            "{}: cannot read code file `{path}` (listed in code_files): {e}",
                            asset.key
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    Ok(code_version(asset, &borrowed))
}

/// The code files an asset lists (`code_files` of a command or Rust asset).
fn code_files(asset: &Asset) -> &[String] {
    match &asset.compute {
        Compute::Command(command) => &command.code_files,
        Compute::Rust(rust) => &rust.code_files,
        _ => &[],
    }
}

/// Whether the asset's code version reads files (else it is a function of the declaration).
pub(crate) fn reads_code_files(asset: &Asset) -> bool {
    asset.code_version.is_none() && !code_files(asset).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::key::AssetKey;

    fn input(asset: &str, version: &str) -> ConsumedInput {
        ConsumedInput::unpartitioned(AssetKey::parse(asset).unwrap(), version.into())
    }

    #[test]
    fn provenance_depends_on_code_and_input_versions_not_their_order() {
        let a = provenance_data_version("1", &[input("g/a", "x"), input("g/b", "y")]);
        assert_eq!(
            a,
            provenance_data_version("1", &[input("g/b", "y"), input("g/a", "x")])
        );
        assert_ne!(
            a,
            provenance_data_version("2", &[input("g/a", "x"), input("g/b", "y")])
        );
        assert_ne!(
            a,
            provenance_data_version("1", &[input("g/a", "x"), input("g/b", "z")])
        );
        assert!(a.starts_with("p:") && a.len() == 34);
    }

    #[test]
    fn content_versions_differ_with_content() {
        assert_ne!(content_data_version(&[b"a"]), content_data_version(&[b"b"]));
        assert_eq!(content_data_version(&[b"a"]), content_data_version(&[b"a"]));
    }
}
