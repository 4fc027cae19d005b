//! One asset file — `.sql` with a TOML header, or `.toml` — into a draft asset.
//!
//! Everything that can be checked from the file alone is checked here (fields, key, query,
//! expressions, names from `strata.toml`); what needs the other assets (dependencies exist,
//! mappings fit both partitions definitions, no cycles) is left to the repository pass, with
//! the positions it needs to report at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use toml::de::{DeTable, DeValue};

use super::diagnostics::{Diagnostic, FileSink};
use super::fields::{self, Value, get};
use super::policies::{self, CheckTable};
use super::project::ProjectOutput;
use super::{SelectionUse, SourceFile};
use crate::automation::{Condition, parse_condition};
use crate::key::AssetKey;
use crate::model::{
    Asset, Automation, BackfillPolicy, ColumnType, CommandCompute, Compute, DataFormat, Partitions,
    RustCompute, SourceCompute, SourceTarget, SqlCompute,
};
use crate::partitions::PartitionsDefinition;
use crate::partitions::spec::{MappingSpec, PartitionsSpec};
use crate::sql_deps::analyze_query;
use crate::suggest;

/// An asset read from its file, with what the repository pass still has to check.
pub(crate) struct AssetDraft {
    /// The asset, without its dependencies.
    pub(crate) asset: Asset,
    /// Where the key is declared (the `key` field, else the file start).
    pub(crate) key_offset: usize,
    pub(crate) deps: Vec<DepDraft>,
    /// Single-part table names in the query (`FROM clean_flights`), reported with a guess.
    pub(crate) unqualified: Vec<(String, usize)>,
    pub(crate) check_tables: Vec<CheckTable>,
    pub(crate) selections: Vec<SelectionUse>,
    /// False when `partitions` was declared but invalid (already reported): mappings to and
    /// from this asset are not checked then.
    pub(crate) partitions_ok: bool,
}

/// A dependency before it is checked against the other assets.
pub(crate) struct DepDraft {
    pub(crate) key: AssetKey,
    /// Where the dependency is written (the table reference or the `[deps]` key).
    pub(crate) offset: usize,
    pub(crate) mapping: Option<(MappingSpec, usize)>,
    /// Inferred from the query (so shown as `group.name`), not declared in `[deps]`.
    pub(crate) from_sql: bool,
}

const COMMON: &[&str] = &[
    "key",
    "description",
    "owners",
    "tags",
    "kinds",
    "code_version",
    "partitions",
    "automation",
    "freshness",
    "checks",
    "retry",
    "timeout",
    "io_manager",
    "pool",
    "deps",
];
const COMMAND: &[&str] = &["command", "code_files", "output", "inputs", "schema", "env"];
const COMMAND_ONLY: &str = "applies only to command assets (`.toml` files with `command = [...]`)";
const SOURCE_ONLY: &str = "applies only to `.toml` assets";
const SOURCE_FIELDS: &str = "does not apply to a source asset: Strata observes it and never \
                             materializes it (it takes `source`, `description`, `owners`, `tags`, \
                             `kinds` and `key`)";
const SQL_ONLY: &str =
    "applies only to SQL assets (`backfill = \"single_run\"` runs one query over a range)";

/// Reads one asset file; `None` when it is not an asset file or cannot be read at all.
pub(crate) fn parse_asset(
    file: &SourceFile,
    project: &ProjectOutput,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<AssetDraft> {
    let extension = file.path.extension().and_then(|e| e.to_str())?;
    let mut sink = FileSink::new(&file.path, &file.text, diagnostics);
    match extension {
        "sql" => parse_sql_file(&mut sink, project),
        "toml" => {
            let root = parse_toml(&mut sink, &file.text)?;
            parse_toml_file(&mut sink, root.get_ref(), project)
        }
        _ => None,
    }
}

fn parse_toml<'i>(sink: &mut FileSink<'_>, text: &'i str) -> Option<toml::Spanned<DeTable<'i>>> {
    match DeTable::parse(text) {
        Ok(root) => Some(root),
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            sink.span(
                span,
                format!("invalid TOML: {}", error.message().trim()),
                None,
            );
            None
        }
    }
}

/// The header `/*--- … ---*/` of an SQL file: (TOML start, TOML end, end of the comment).
fn find_header(sink: &mut FileSink<'_>, text: &str) -> Result<Option<(usize, usize, usize)>, ()> {
    let start = text.len()
        - text
            .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
            .len();
    if !text[start..].starts_with("/*---") {
        if let Some(found) = text.find("/*---") {
            sink.at(
                found,
                "the `/*--- … ---*/` header must come first in the file",
                Some("move it above the query".into()),
            );
            return Err(());
        }
        return Ok(None);
    }
    let body = start + "/*---".len();
    match text[body..].find("---*/") {
        Some(end) => Ok(Some((body, body + end, body + end + "---*/".len()))),
        None => {
            sink.at(
                start,
                "malformed header: `/*---` is never closed by `---*/`",
                Some("end the TOML header with a line `---*/`".into()),
            );
            Err(())
        }
    }
}

fn parse_sql_file(sink: &mut FileSink<'_>, project: &ProjectOutput) -> Option<AssetDraft> {
    let text = sink.text;
    let header = find_header(sink, text).ok()?;
    let empty = toml::Spanned::new(0..0, DeTable::new());
    let (root, query_start) = match header {
        Some((toml_start, toml_end, comment_end)) => {
            sink.base = toml_start;
            let root = parse_toml(sink, &text[toml_start..toml_end])?;
            (root, comment_end)
        }
        None => (empty, 0),
    };
    let root = root.get_ref();
    let sql_only: Vec<(&str, &str)> = COMMAND
        .iter()
        .map(|k| (*k, COMMAND_ONLY))
        .chain([("source", SOURCE_ONLY)])
        .collect();
    fields::check_keys(
        sink,
        root,
        &[COMMON, &["backfill"]].concat(),
        &sql_only,
        "an SQL asset header",
    );
    let mut draft = common(sink, root, project)?;

    // The query, parsed in place (header blanked out) so positions are the file's.
    let mut blanked: String = text[..query_start]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    blanked.push_str(&text[query_start..]);
    let query_text = text[query_start..].trim_start();
    let query_offset = text.len() - query_text.len();
    let (line, _) = sink.index.position(text, query_offset);
    let saved_base = sink.base;
    sink.base = 0;
    let mut inferred: Vec<DepDraft> = Vec::new();
    let mut output_columns = None;
    match analyze_query(&blanked) {
        Ok(info) => {
            output_columns = Some(info.output_columns);
            for table in info.tables {
                let offset = sink.index.offset(text, table.line, table.col);
                match table.parts.as_slice() {
                    [_single] => draft.unqualified.push((table.name(), offset)),
                    [group, name] => match AssetKey::parse(&format!("{group}/{name}")) {
                        Ok(key) => {
                            if !inferred.iter().any(|d| d.key == key) {
                                inferred.push(DepDraft {
                                    key,
                                    offset,
                                    mapping: None,
                                    from_sql: true,
                                });
                            }
                        }
                        Err(error) => sink.at(
                            offset,
                            format!(
                                "table `{}` is not an asset table: {}",
                                table.name(),
                                error.reason
                            ),
                            Some("asset tables are `group.name`, lowercase".into()),
                        ),
                    },
                    _ => sink.at(
                        offset,
                        format!("table `{}` is not an asset table", table.name()),
                        Some("asset tables have two parts, `group.name`".into()),
                    ),
                }
            }
        }
        Err(error) => {
            let offset = sink.index.offset(text, error.line, error.col);
            sink.at(offset, error.message, None);
        }
    }
    sink.base = saved_base;
    // `[deps]` adds dependencies and sets mappings of inferred ones.
    let declared = deps_table(sink, root);
    for dep in declared {
        match inferred.iter_mut().find(|d| d.key == dep.key) {
            Some(existing) => existing.mapping = dep.mapping,
            None => inferred.push(dep),
        }
    }
    draft.deps = inferred;
    draft.asset.compute = Compute::Sql(SqlCompute {
        query: query_text.to_string(),
        line: u64::from(line),
    });
    draft.asset.kinds.insert("sql".into());
    if let Some(value) = get(root, "backfill")
        && fields::choice(sink, value, "backfill", &["single_run"]).is_some()
    {
        if draft.asset.partitions.is_none() {
            sink.span(
                value.span(),
                "`backfill = \"single_run\"` needs a partitioned asset",
                None,
            );
        } else if let Some(Some(columns)) = &output_columns
            && !columns.iter().any(|c| c == "partition_key")
        {
            sink.span(
                value.span(),
                "`backfill = \"single_run\"` needs the query to output a `partition_key` column",
                Some("select each upstream's `partition_key` and group by it, so Strata can split the result into partitions".into()),
            );
        }
        draft.asset.backfill = BackfillPolicy::SingleRun;
    }
    Some(draft)
}

fn parse_toml_file(
    sink: &mut FileSink<'_>,
    root: &DeTable<'_>,
    project: &ProjectOutput,
) -> Option<AssetDraft> {
    let command = get(root, "command");
    let source = get(root, "source");
    let rust = get(root, "rust");
    let special = [("backfill", SQL_ONLY)];
    let given: Vec<(&str, &Value<'_>)> = [("command", command), ("source", source), ("rust", rust)]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    match given.as_slice() {
        [] => {
            sink.at(
                0,
                "a .toml asset needs `command = [...]` (a command asset), `source = { … }` (a \
                 source asset) or `rust = \"name\"` (a function registered through the Rust API)",
                Some("SQL assets are .sql files".into()),
            );
            return None;
        }
        [(first, _), (second, value), ..] => {
            sink.span(
                value.span(),
                format!(
                    "an asset is computed one way: `{first}` and `{second}` cannot both be set"
                ),
                Some(format!("remove `{first}` or `{second}`")),
            );
            return None;
        }
        [("command", _)] => {
            let source_special: Vec<(&str, &str)> = special
                .into_iter()
                .chain([("source", "cannot be combined with `command`")])
                .collect();
            fields::check_keys(
                sink,
                root,
                &[COMMON, COMMAND].concat(),
                &source_special,
                "a command asset",
            );
        }
        [("rust", _)] => {
            let rust_special: Vec<(&str, &str)> = special
                .into_iter()
                .chain(
                    COMMAND
                        .iter()
                        .filter(|k| **k != "code_files")
                        .map(|k| (*k, COMMAND_ONLY)),
                )
                .collect();
            fields::check_keys(
                sink,
                root,
                &[COMMON, &["rust", "code_files"]].concat(),
                &rust_special,
                "a Rust asset",
            );
        }
        _ => {
            let allowed = ["key", "description", "owners", "tags", "kinds", "source"];
            let source_special: Vec<(&str, &str)> = COMMON
                .iter()
                .chain(COMMAND)
                .chain(&["backfill"])
                .filter(|k| !allowed.contains(*k))
                .map(|k| (*k, SOURCE_FIELDS))
                .collect();
            fields::check_keys(sink, root, &allowed, &source_special, "a source asset");
        }
    }
    let mut draft = common(sink, root, project)?;
    if let Some(command) = command {
        draft.deps = deps_table(sink, root);
        draft.asset.compute = Compute::Command(command_compute(sink, root, command)?);
        draft.asset.kinds.insert("command".into());
    } else if let Some(rust) = rust {
        draft.deps = deps_table(sink, root);
        draft.asset.compute = Compute::Rust(rust_compute(sink, root, rust)?);
        draft.asset.kinds.insert("rust".into());
    } else if let Some(source) = source {
        draft.asset.compute = Compute::Source(source_compute(sink, source)?);
        draft.asset.kinds.insert("source".into());
    }
    Some(draft)
}

/// The fields every asset has. `None` if the key cannot be known (nothing else can be).
fn common(
    sink: &mut FileSink<'_>,
    root: &DeTable<'_>,
    project: &ProjectOutput,
) -> Option<AssetDraft> {
    let (key, key_offset) = asset_key(sink, root)?;
    let mut draft = AssetDraft {
        asset: Asset {
            key,
            path: sink.path.to_path_buf(),
            description: None,
            owners: Vec::new(),
            tags: BTreeMap::new(),
            kinds: BTreeSet::new(),
            code_version: None,
            partitions: None,
            deps: Vec::new(),
            freshness: None,
            automation: None,
            checks: Vec::new(),
            retry: None,
            timeout: None,
            io_manager: "default".into(),
            pool: None,
            backfill: BackfillPolicy::PerPartition,
            compute: Compute::Sql(SqlCompute {
                query: String::new(),
                line: 1,
            }),
        },
        key_offset,
        deps: Vec::new(),
        unqualified: Vec::new(),
        check_tables: Vec::new(),
        selections: Vec::new(),
        partitions_ok: true,
    };
    let asset = &mut draft.asset;
    if let Some(v) = get(root, "description") {
        asset.description = fields::string(sink, v, "description");
    }
    if let Some(v) = get(root, "owners") {
        for owner in fields::string_list(sink, v, "owners").unwrap_or_default() {
            let text = owner.get_ref();
            let is_email = text
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
            let is_team = text.strip_prefix("team:").is_some_and(|t| !t.is_empty());
            if is_email || is_team {
                asset.owners.push(owner.into_inner());
            } else {
                sink.span(
                    owner.span(),
                    format!("invalid owner \"{text}\""),
                    Some("an owner is an email address or `team:<name>`".into()),
                );
            }
        }
    }
    if let Some(v) = get(root, "tags") {
        asset.tags = tags(sink, v);
    }
    if let Some(v) = get(root, "kinds") {
        let kinds = fields::string_list(sink, v, "kinds").unwrap_or_default();
        if kinds.len() > 10 {
            sink.span(v.span(), "an asset has at most 10 kinds", None);
        }
        for kind in kinds {
            if tag_part_ok(kind.get_ref()) {
                asset.kinds.insert(kind.into_inner());
            } else {
                sink.span(
                    kind.span(),
                    format!("invalid kind \"{}\"", kind.get_ref()),
                    Some(
                        "kinds use letters, digits, `-`, `_` and `.`, at most 63 characters".into(),
                    ),
                );
            }
        }
    }
    if let Some(v) = get(root, "code_version") {
        asset.code_version = fields::nonempty_string(sink, v, "code_version");
    }
    if let Some(v) = get(root, "partitions")
        && let Some(spec) = fields::deserialize::<PartitionsSpec>(sink, v, "partitions")
    {
        match PartitionsDefinition::from_spec(&spec) {
            Ok(definition) => asset.partitions = Some(Partitions { spec, definition }),
            Err(error) => sink.span(v.span(), format!("`partitions`: {error}"), None),
        }
    }
    draft.partitions_ok = get(root, "partitions").is_none() || draft.asset.partitions.is_some();
    let asset = &mut draft.asset;
    if let Some(v) = get(root, "automation") {
        asset.automation = automation(sink, v, &mut draft.selections);
    }
    let asset = &mut draft.asset;
    if let Some(v) = get(root, "freshness") {
        let time_partitioned = asset.partitions.as_ref().map(|p| is_time_spec(&p.spec));
        let time_partitioned = match get(root, "partitions") {
            Some(_) if time_partitioned.is_none() => None, // invalid partitions: already reported
            _ => Some(time_partitioned.unwrap_or(false)),
        };
        asset.freshness = policies::freshness(sink, v, time_partitioned);
    }
    if let Some(v) = get(root, "checks") {
        asset.checks = policies::checks(sink, v, &mut draft.check_tables).unwrap_or_default();
    }
    let asset = &mut draft.asset;
    if let Some(v) = get(root, "retry") {
        asset.retry = policies::retry(sink, v);
    }
    if let Some(v) = get(root, "timeout") {
        asset.timeout = fields::positive_duration(sink, v, "timeout");
    }
    if let Some(v) = get(root, "io_manager")
        && let Some(name) = fields::string(sink, v, "io_manager")
    {
        let config = &project.config;
        let known = config
            .io_managers
            .keys()
            .chain(&config.custom_io_managers)
            .map(String::as_str);
        let declared =
            config.io_managers.contains_key(&name) || config.custom_io_managers.contains(&name);
        if project.parsed && !declared {
            let hint = suggest::did_you_mean(&name, known)
                .unwrap_or_else(|| format!("declare [io_managers.{name}] in strata.toml"));
            sink.span(v.span(), format!("unknown IO manager `{name}`"), Some(hint));
        }
        asset.io_manager = name;
    }
    if let Some(v) = get(root, "pool")
        && let Some(name) = fields::string(sink, v, "pool")
    {
        let pools = &project.config.executor.pools;
        if project.parsed && !pools.contains_key(&name) {
            let hint = suggest::did_you_mean(&name, pools.keys().map(String::as_str))
                .unwrap_or_else(|| {
                    format!("declare it in strata.toml: [executor] pools = {{ {name} = 2 }}")
                });
            sink.span(v.span(), format!("unknown pool `{name}`"), Some(hint));
        }
        asset.pool = Some(name);
    }
    Some(draft)
}

fn is_time_spec(spec: &PartitionsSpec) -> bool {
    match spec {
        PartitionsSpec::Hourly(_)
        | PartitionsSpec::Daily(_)
        | PartitionsSpec::Weekly(_)
        | PartitionsSpec::Monthly(_)
        | PartitionsSpec::Cron(_) => true,
        PartitionsSpec::Multi(dimensions) => dimensions.values().any(is_time_spec),
        PartitionsSpec::Static(_) | PartitionsSpec::Dynamic(_) => false,
    }
}

/// The key: `key = "…"`, else `assets/<group>/**/<name>.<ext>`.
fn asset_key(sink: &mut FileSink<'_>, root: &DeTable<'_>) -> Option<(AssetKey, usize)> {
    if let Some(value) = get(root, "key") {
        let text = fields::string(sink, value, "key")?;
        return match AssetKey::parse(&text) {
            Ok(key) => Some((key, sink.base + value.span().start)),
            Err(error) => {
                sink.span(
                    value.span(),
                    format!("invalid asset key \"{text}\": {}", error.reason),
                    Some("keys are `group/name`, lowercase letters, digits and `_`".into()),
                );
                None
            }
        };
    }
    let parts: Vec<String> = sink
        .path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let derived = match parts.as_slice() {
        [assets, group, .., file] if assets == "assets" => {
            let stem = Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
            stem.map(|name| format!("{group}/{name}"))
        }
        _ => None,
    };
    let Some(text) = derived else {
        sink.at(
            0,
            format!(
                "cannot derive an asset key from `{}`: asset files live at assets/<group>/**/<name>.sql or .toml",
                sink.path.display()
            ),
            Some("move the file into a group folder, or set key = \"group/name\"".into()),
        );
        return None;
    };
    match AssetKey::parse(&text) {
        Ok(key) => Some((key, 0)),
        Err(error) => {
            let fixed: String = text
                .chars()
                .map(|c| match c {
                    'A'..='Z' => c.to_ascii_lowercase(),
                    'a'..='z' | '0'..='9' | '_' | '/' => c,
                    _ => '_',
                })
                .collect();
            sink.at(
                0,
                format!(
                    "invalid asset key `{text}` (from the file path): {}",
                    error.reason
                ),
                Some(format!(
                    "rename the file or folder, or set key = \"{fixed}\""
                )),
            );
            None
        }
    }
}

/// Dagster's tag rules: keys are an optional `prefix/` and a name; each part and the value
/// use letters, digits, `-`, `_`, `.`, at most 63 characters (the value may be empty).
fn tags(sink: &mut FileSink<'_>, value: &Value<'_>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let Some(table) = fields::table(sink, value, "tags") else {
        return tags;
    };
    for (key, value) in table.iter() {
        let key_text = key.get_ref().to_string();
        let parts: Vec<&str> = key_text.split('/').collect();
        if parts.len() > 2 || parts.iter().any(|p| !tag_part_ok(p)) {
            sink.span(
                key.span(),
                format!("invalid tag key `{key_text}`"),
                Some("a tag key is an optional `prefix/` and a name of letters, digits, `-`, `_` and `.` (at most 63)".into()),
            );
            continue;
        }
        let Some(text) = fields::string(sink, value, &format!("tags.{key_text}")) else {
            continue;
        };
        if !text.is_empty() && !tag_part_ok(&text) {
            sink.span(
                value.span(),
                format!("invalid value \"{text}\" for tag `{key_text}`"),
                Some(
                    "tag values use letters, digits, `-`, `_` and `.`, at most 63 characters"
                        .into(),
                ),
            );
            continue;
        }
        tags.insert(key_text, text);
    }
    tags
}

fn tag_part_ok(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 63
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn automation(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    selections: &mut Vec<SelectionUse>,
) -> Option<Automation> {
    let text = fields::string(sink, value, "automation")?;
    match parse_condition(&text) {
        Ok(condition) => {
            let content = sink.string_content(value.span(), &text);
            let start = sink.base + value.span().start;
            let mut found = Vec::new();
            collect_selections(&condition, &mut found);
            for selection in found {
                let quoted = format!("'{}'", selection.as_str());
                let (offset, exact) = match (content, text.find(&quoted)) {
                    (Some(content), Some(at)) => (content + at + 1, true),
                    _ => (start, false),
                };
                selections.push(SelectionUse {
                    selection: selection.clone(),
                    path: sink.path.to_path_buf(),
                    offset,
                    exact,
                });
            }
            Some(Automation {
                source: text,
                condition,
            })
        }
        Err(error) => {
            let offset = sink.offset_in_string(value.span(), &text, error.offset);
            sink.at(
                offset,
                format!("`automation`: {}", error.message),
                error.hint,
            );
            None
        }
    }
}

fn collect_selections<'c>(
    condition: &'c Condition,
    out: &mut Vec<&'c crate::selection::Selection>,
) {
    match condition {
        Condition::Operand(_) => {}
        Condition::Not(inner)
        | Condition::NewlyTrue(inner)
        | Condition::SinceLastHandled(inner) => collect_selections(inner, out),
        Condition::And(parts) | Condition::Or(parts) => {
            parts.iter().for_each(|p| collect_selections(p, out))
        }
        Condition::Since { condition, reset } => {
            collect_selections(condition, out);
            collect_selections(reset, out);
        }
        Condition::Deps {
            condition, filter, ..
        } => {
            out.extend(filter.allow.iter().chain(&filter.ignore));
            collect_selections(condition, out);
        }
        Condition::Named { filter, .. } => out.extend(filter.allow.iter().chain(&filter.ignore)),
    }
}

/// `[deps."group/name"]` tables, each with an optional `mapping`.
fn deps_table(sink: &mut FileSink<'_>, root: &DeTable<'_>) -> Vec<DepDraft> {
    let mut deps = Vec::new();
    let Some(value) = get(root, "deps") else {
        return deps;
    };
    let Some(table) = fields::table(sink, value, "deps") else {
        return deps;
    };
    for (key, value) in table.iter() {
        let key_text = key.get_ref().to_string();
        let key_offset = sink.base + key.span().start;
        let parsed = AssetKey::parse(&key_text);
        let mapping = match value.get_ref() {
            DeValue::Table(dep) => {
                fields::check_keys(
                    sink,
                    dep,
                    &["mapping"],
                    &[],
                    &format!("[deps.\"{key_text}\"]"),
                );
                get(dep, "mapping").and_then(|m| {
                    let spec = fields::deserialize::<MappingSpec>(sink, m, "mapping")?;
                    Some((spec, sink.base + m.span().start))
                })
            }
            _ => {
                fields::wrong_type(
                    sink,
                    value,
                    &format!("deps.\"{key_text}\""),
                    "a table (`{}` for the default mapping)",
                );
                None
            }
        };
        match parsed {
            Ok(key) => deps.push(DepDraft {
                key,
                offset: key_offset,
                mapping,
                from_sql: false,
            }),
            Err(error) => sink.at(
                key_offset,
                format!(
                    "invalid asset key \"{key_text}\" in `deps`: {}",
                    error.reason
                ),
                Some("keys are `group/name`, lowercase letters, digits and `_`".into()),
            ),
        }
    }
    deps
}

fn rust_compute(
    sink: &mut FileSink<'_>,
    root: &DeTable<'_>,
    rust: &Value<'_>,
) -> Option<RustCompute> {
    let function = fields::string(sink, rust, "rust")?;
    let valid = !function.is_empty()
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid {
        sink.span(
            rust.span(),
            format!("`rust = \"{function}\"` is not a function name"),
            Some(
                "the name the binary registers the function under, e.g. rust = \"weekday_counts\""
                    .into(),
            ),
        );
        return None;
    }
    let code_files = get(root, "code_files")
        .map(|v| fields::string_list(sink, v, "code_files").unwrap_or_default())
        .unwrap_or_default();
    let (line, col) = sink.position(rust.span().start);
    Some(RustCompute {
        function,
        code_files: code_files.into_iter().map(|f| f.into_inner()).collect(),
        line,
        col,
    })
}

fn command_compute(
    sink: &mut FileSink<'_>,
    root: &DeTable<'_>,
    command: &Value<'_>,
) -> Option<CommandCompute> {
    let program = fields::string_list(sink, command, "command");
    if let Some(program) = &program
        && program
            .first()
            .is_none_or(|p| p.get_ref().trim().is_empty())
    {
        sink.span(
            command.span(),
            "`command` needs a program",
            Some("e.g. command = [\"python3\", \"scripts/ingest.py\"]".into()),
        );
        return None;
    }
    let code_files = get(root, "code_files")
        .map(|v| fields::string_list(sink, v, "code_files").unwrap_or_default())
        .unwrap_or_default();
    let format = |sink: &mut FileSink<'_>, key: &str| match get(root, key) {
        Some(v) => fields::choice(sink, v, key, &DataFormat::NAMES).and_then(DataFormat::from_name),
        None => Some(DataFormat::Parquet),
    };
    let output = format(sink, "output");
    let inputs = format(sink, "inputs");
    let mut schema = BTreeMap::new();
    if let Some(v) = get(root, "schema")
        && let Some(table) = fields::table(sink, v, "schema")
    {
        for (column, ty) in table.iter() {
            let what = format!("schema.{}", column.get_ref());
            if let Some(ty) =
                fields::choice(sink, ty, &what, &ColumnType::NAMES).and_then(ColumnType::from_name)
            {
                schema.insert(column.get_ref().to_string(), ty);
            }
        }
        if matches!(output, Some(DataFormat::Parquet | DataFormat::ArrowIpc)) {
            sink.span(
                v.span(),
                "`schema` pins CSV or NDJSON types; Parquet and Arrow IPC carry their own",
                Some("set output = \"csv\" or \"ndjson\", or remove `schema`".into()),
            );
        }
    }
    let mut env = BTreeMap::new();
    if let Some(v) = get(root, "env")
        && let Some(table) = fields::table(sink, v, "env")
    {
        for (name, value) in table.iter() {
            let name_text = name.get_ref().to_string();
            let valid = name_text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name_text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                sink.span(
                    name.span(),
                    format!("invalid environment variable name `{name_text}`"),
                    None,
                );
                continue;
            }
            if name_text.starts_with("STRATA_") {
                sink.span(
                    name.span(),
                    format!("`{name_text}`: variables starting with STRATA_ are set by Strata"),
                    None,
                );
                continue;
            }
            if let Some(text) = fields::string(sink, value, &format!("env.{name_text}")) {
                env.insert(name_text, text);
            }
        }
    }
    Some(CommandCompute {
        command: program?.into_iter().map(|p| p.into_inner()).collect(),
        code_files: code_files.into_iter().map(|f| f.into_inner()).collect(),
        output: output?,
        inputs: inputs?,
        schema,
        env,
    })
}

fn source_compute(sink: &mut FileSink<'_>, value: &Value<'_>) -> Option<SourceCompute> {
    let table = fields::table(sink, value, "source")?;
    fields::check_keys(
        sink,
        table,
        &["path", "observe", "interval"],
        &[],
        "`source`",
    );
    let target = match (get(table, "path"), get(table, "observe")) {
        (Some(path), None) => {
            SourceTarget::Path(fields::nonempty_string(sink, path, "source.path")?)
        }
        (None, Some(observe)) => {
            let program = fields::string_list(sink, observe, "source.observe")?;
            if program
                .first()
                .is_none_or(|p| p.get_ref().trim().is_empty())
            {
                sink.span(observe.span(), "`source.observe` needs a program", None);
                return None;
            }
            SourceTarget::Observe(program.into_iter().map(|p| p.into_inner()).collect())
        }
        (Some(path), Some(_)) => {
            sink.span(
                path.span(),
                "`source` takes `path` or `observe`, not both",
                None,
            );
            return None;
        }
        (None, None) => {
            sink.span(
                value.span(),
                "`source` needs `path` (a path or glob) or `observe` (a command)",
                Some("e.g. source = { path = \"landing/*.csv\", interval = \"5m\" }".into()),
            );
            return None;
        }
    };
    let Some(interval) = get(table, "interval") else {
        sink.span(
            value.span(),
            "`source` needs `interval`: how often to observe it",
            Some("e.g. interval = \"1h\"".into()),
        );
        return None;
    };
    let interval = fields::positive_duration(sink, interval, "source.interval")?;
    Some(SourceCompute { target, interval })
}
