//! Code versions: what identifies the code that computes an asset.
//!
//! A declared `code_version` is used as written. Otherwise Strata derives one from everything
//! that affects the asset's output and nothing else (Contracts, "Versions"): the normalized SQL,
//! or the command with the contents of its `code_files`, its `env`, `output`, `inputs` and
//! `schema`; the partitions definition; each dependency with its mapping. Description, tags,
//! owners, checks and policies never enter it, so editing them makes nothing stale.
//!
//! SQL is normalized by parsing and printing it back, so comments, whitespace and keyword case
//! do not change the version; a query that does not parse is hashed with its whitespace
//! collapsed (execution will report the error anyway).

use sha2::{Digest, Sha256};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::model::{Asset, Compute, SourceTarget};

/// The code version of `asset`: the declared one, else a hash (`h:` + 16 hex digits) of what
/// affects its output. `code_files` holds the contents of a command's `code_files`, in the
/// declared order (the caller reads them; a missing file is the caller's error to report).
pub fn code_version(asset: &Asset, code_files: &[(&str, &[u8])]) -> String {
    if let Some(declared) = &asset.code_version {
        return declared.clone();
    }
    let mut hash = FieldHasher::default();
    hash.field("kind", asset.compute.kind().as_bytes());
    match &asset.compute {
        Compute::Sql(sql) => hash.field("sql", normalize_sql(&sql.query).as_bytes()),
        Compute::Command(command) => {
            for arg in &command.command {
                hash.field("arg", arg.as_bytes());
            }
            for (path, contents) in code_files {
                hash.field("code_file", path.as_bytes());
                hash.field("contents", contents);
            }
            for (name, value) in &command.env {
                hash.field("env", name.as_bytes());
                hash.field("value", value.as_bytes());
            }
            hash.field("output", format!("{:?}", command.output).as_bytes());
            hash.field("inputs", format!("{:?}", command.inputs).as_bytes());
            for (column, ty) in &command.schema {
                hash.field("column", column.as_bytes());
                hash.field("type", format!("{ty:?}").as_bytes());
            }
        }
        Compute::Rust(rust) => {
            hash.field("function", rust.function.as_bytes());
            for (path, contents) in code_files {
                hash.field("code_file", path.as_bytes());
                hash.field("contents", contents);
            }
        }
        Compute::Source(source) => match &source.target {
            SourceTarget::Path(path) => hash.field("path", path.as_bytes()),
            SourceTarget::Observe(command) => {
                for arg in command {
                    hash.field("observe", arg.as_bytes());
                }
            }
        },
    }
    if let Some(partitions) = &asset.partitions {
        hash.field("partitions", format!("{:?}", partitions.spec).as_bytes());
    }
    for dep in &asset.deps {
        hash.field("dep", dep.key.to_string().as_bytes());
        hash.field("mapping", format!("{:?}", dep.mapping).as_bytes());
    }
    format!("h:{}", &hash.finish()[..16])
}

/// The query printed back from its syntax tree: comments, layout and keyword case removed.
pub fn normalize_sql(query: &str) -> String {
    match Parser::parse_sql(&GenericDialect {}, query) {
        Ok(statements) => statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(";\n"),
        Err(_) => query.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The digest of (key, data version) pairs in key order: equal exactly when every pair is.
/// A run of consumed upstream partitions records it; staleness recomputes it from the
/// current versions to tell whether any of them changed.
pub fn range_digest<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (key, version) in pairs {
        // Lengths first, so no two different lists can write the same bytes.
        for part in [key, version] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("range-sha256:{hex}")
}

/// SHA-256 over length-prefixed fields, so no two different field lists hash the same bytes.
#[derive(Default)]
pub struct FieldHasher(Sha256);

impl FieldHasher {
    /// Adds a named field.
    pub fn field(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    /// The digest as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{SourceFile, load_repository};

    fn asset(path: &str, text: &str) -> Asset {
        let project = SourceFile::new("strata.toml", "[project]\nname = \"t\"\n");
        let up = SourceFile::new(
            "assets/raw/up.toml",
            "command = [\"true\"]\npartitions = { daily = { start = \"2024-01-01\" } }\n",
        );
        let repo = load_repository(project, vec![up, SourceFile::new(path, text)])
            .unwrap_or_else(|e| panic!("{e:?}"));
        let key = crate::key::AssetKey::parse(&format!(
            "g/{}",
            path.rsplit('/').next().unwrap().split('.').next().unwrap()
        ))
        .unwrap();
        repo.asset(&key).unwrap().clone()
    }

    const HEADER: &str = "/*---\npartitions = { daily = { start = \"2024-01-01\" } }\n";

    fn sql(header_extra: &str, query: &str) -> String {
        code_version(
            &asset(
                "assets/g/a.sql",
                &format!("{HEADER}{header_extra}---*/\n{query}"),
            ),
            &[],
        )
    }

    #[test]
    fn layout_comments_and_case_do_not_change_the_version() {
        let base = sql("", "SELECT a, count(*) FROM raw.up GROUP BY a");
        assert!(base.starts_with("h:") && base.len() == 18, "{base}");
        assert_eq!(
            base,
            sql(
                "",
                "-- a comment\nselect a,\n   count(*)\nfrom raw.up /* x */ group by a\n"
            )
        );
    }

    #[test]
    fn description_tags_checks_and_policies_do_not_change_the_version() {
        let query = "SELECT a FROM raw.up";
        let base = sql("", query);
        let decorated = sql(
            "description = \"d\"\ntags = { team = \"x\" }\nowners = [\"a@b.c\"]\n\
             checks = [{ not_null = [\"a\"] }]\nretry = { max_retries = 2 }\ntimeout = \"1m\"\n\
             automation = \"eager\"\n",
            query,
        );
        assert_eq!(base, decorated);
    }

    #[test]
    fn query_partitions_and_mappings_change_the_version() {
        let base = sql("", "SELECT a FROM raw.up");
        assert_ne!(base, sql("", "SELECT b FROM raw.up"));
        assert_ne!(
            base,
            sql(
                "[deps.\"raw/up\"]\nmapping = { time_window = { start_offset = -1 } }\n",
                "SELECT a FROM raw.up"
            )
        );
        let other_start = code_version(
            &asset(
                "assets/g/a.sql",
                "/*---\npartitions = { daily = { start = \"2024-01-02\" } }\n---*/\nSELECT a FROM raw.up",
            ),
            &[],
        );
        assert_ne!(base, other_start);
    }

    #[test]
    fn declared_versions_win_and_code_files_count() {
        assert_eq!(sql("code_version = \"7\"\n", "SELECT 1"), "7");
        let command = asset(
            "assets/g/c.toml",
            "command = [\"python3\", \"s.py\"]\ncode_files = [\"s.py\"]\n",
        );
        let one = code_version(&command, &[("s.py", b"print(1)")]);
        let two = code_version(&command, &[("s.py", b"print(2)")]);
        assert_ne!(one, two);
        assert_eq!(one, code_version(&command, &[("s.py", b"print(1)")]));
    }
}
