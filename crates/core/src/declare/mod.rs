//! Declarations → a checked [`Repository`], with every error located at file:line:col.
//!
//! The server walks the repository folder and hands over file paths and texts; everything from
//! there on is pure and happens here. [`load_repository`] reads `strata.toml` and every asset
//! file, then checks what spans files (dependencies exist, partition mappings fit both sides,
//! no cycles, selections name real assets) and returns either a repository or all the errors at
//! once, sorted by file and position. A repository with any error yields nothing.
//!
//! - [`diagnostics`]: the error type and offset → line:col.
//! - `fields`: typed reading of spanned TOML values.
//! - `project`: `strata.toml`.
//! - `asset_file`: one `.sql` or `.toml` asset file.
//! - `policies`: freshness, checks and retry fields.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::graph::AssetGraph;
use crate::key::AssetKey;
use crate::model::{Asset, Dependency, Repository};
use crate::partitions::PartitionMapping;
use crate::selection::{AssetAttributes, Selection};
use crate::suggest;

mod asset_file;
pub mod diagnostics;
mod fields;
mod policies;
mod project;

pub use diagnostics::Diagnostic;
pub use project::parse_alert_rule;

use asset_file::AssetDraft;
use diagnostics::LineIndex;

/// One declaration file: its path relative to the repository root and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// E.g. `strata.toml` or `assets/flights/daily_delays.sql`.
    pub path: PathBuf,
    /// The file's contents.
    pub text: String,
}

impl SourceFile {
    /// A file from its path and text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// A selection written in a declaration, resolved once every asset is known.
pub(crate) struct SelectionUse {
    pub(crate) selection: Selection,
    pub(crate) path: PathBuf,
    /// File offset of the selection text (or of the string holding it, when not `exact`).
    pub(crate) offset: usize,
    /// Whether offsets inside the selection map exactly onto the file.
    pub(crate) exact: bool,
}

/// Reads and checks `strata.toml` and the asset files (`.sql`, `.toml`; other files are
/// ignored). Returns the repository, or every problem found, sorted by file and position.
pub fn load_repository(
    project: SourceFile,
    assets: Vec<SourceFile>,
) -> Result<Repository, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let project_output = project::parse_project(&project, &mut diagnostics);
    let mut drafts: Vec<AssetDraft> = assets
        .iter()
        .filter_map(|file| asset_file::parse_asset(file, &project_output, &mut diagnostics))
        .collect();
    let mut texts: BTreeMap<PathBuf, &str> = assets
        .iter()
        .map(|f| (f.path.clone(), f.text.as_str()))
        .collect();
    texts.insert(project.path.clone(), project.text.as_str());
    let mut report = Reporter {
        texts: &texts,
        diagnostics: &mut diagnostics,
    };

    drafts.sort_by(|a, b| (&a.asset.key, &a.asset.path).cmp(&(&b.asset.key, &b.asset.path)));
    remove_duplicates(&mut drafts, &mut report);
    let index: BTreeMap<AssetKey, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.asset.key.clone(), i))
        .collect();
    let names: Vec<String> = index.keys().map(ToString::to_string).collect();

    // Dependencies: they must exist, and their mappings must fit both definitions.
    let mut resolved: Vec<Vec<(Dependency, usize)>> = Vec::with_capacity(drafts.len());
    for draft in &drafts {
        let mut deps = Vec::new();
        for dep in &draft.deps {
            let Some(&upstream) = index.get(&dep.key) else {
                report.unknown_dependency(draft, dep, &names);
                continue;
            };
            let up = &drafts[upstream];
            let up_def = up.asset.partitions_definition();
            let down_def = draft.asset.partitions_definition();
            let mapping = match &dep.mapping {
                Some((spec, _)) => PartitionMapping::from_spec(spec),
                None => PartitionMapping::default_for(up_def, down_def),
            };
            // Declared mappings are checked; inferred ones only between two partitioned assets
            // (toward or from an unpartitioned asset the inferred `all` always holds).
            let checked = dep.mapping.is_some() || (up_def.is_some() && down_def.is_some());
            if checked
                && up.partitions_ok
                && draft.partitions_ok
                && let Err(reason) = mapping.validate(up_def, down_def)
            {
                let offset = dep.mapping.as_ref().map_or(dep.offset, |(_, at)| *at);
                report.at(
                    &draft.asset.path,
                    offset,
                    format!("invalid partition mapping from `{}`: {reason}", dep.key),
                    None,
                );
            }
            deps.push((
                Dependency {
                    key: dep.key.clone(),
                    mapping,
                    mapping_spec: dep.mapping.as_ref().map(|(spec, _)| spec.clone()),
                },
                dep.offset,
            ));
        }
        deps.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        resolved.push(deps);
        for (name, offset) in &draft.unqualified {
            report.unqualified_table(draft, name, *offset, &names);
        }
        for check_table in &draft.check_tables {
            report.check_table(draft, check_table, &index, &names);
        }
    }

    // The graph (of the dependencies that exist) gives cycles and resolves selections.
    let graph = AssetGraph::new(drafts.iter().zip(&resolved).map(|(draft, deps)| {
        (
            draft.asset.key.clone(),
            deps.iter()
                .map(|(dep, _)| dep.key.clone())
                .collect::<Vec<_>>(),
        )
    }))
    .unwrap_or_default();
    for cycle in graph.cycles() {
        let first = &cycle.0[0];
        let last = cycle.0.last().unwrap_or(first);
        let position = index[first];
        let offset = resolved[position]
            .iter()
            .find(|(dep, _)| &dep.key == last)
            .map_or(0, |(_, offset)| *offset);
        report.at(
            &drafts[position].asset.path,
            offset,
            format!("dependency cycle: {cycle}"),
            Some("`a → b` means b reads a; remove one of these dependencies".into()),
        );
    }
    let attributes = DraftAttributes {
        drafts: &drafts,
        index: &index,
    };
    let uses = drafts
        .iter()
        .flat_map(|d| &d.selections)
        .chain(&project_output.selections);
    for selection_use in uses {
        if let Err(error) = selection_use.selection.resolve(&graph, &attributes) {
            let offset = selection_use.offset + if selection_use.exact { error.offset } else { 0 };
            report.at(&selection_use.path, offset, error.message, error.hint);
        }
    }

    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(diagnostics);
    }
    let assets: Vec<Asset> = drafts
        .into_iter()
        .zip(resolved)
        .map(|(draft, deps)| {
            let mut asset = draft.asset;
            asset.deps = deps.into_iter().map(|(dep, _)| dep).collect();
            asset
        })
        .collect();
    Repository::new(project_output.config, assets).map_err(|error| {
        vec![Diagnostic {
            path: project.path.clone(),
            line: 1,
            col: 1,
            message: format!("internal error: declarations passed checks but {error}"),
            hint: None,
        }]
    })
}

/// Keeps the first declaration of each key (by path) and reports the others.
fn remove_duplicates(drafts: &mut Vec<AssetDraft>, report: &mut Reporter<'_>) {
    let mut kept: Vec<AssetDraft> = Vec::with_capacity(drafts.len());
    for draft in drafts.drain(..) {
        if let Some(first) = kept.last()
            && first.asset.key == draft.asset.key
        {
            report.at(
                &draft.asset.path,
                draft.key_offset,
                format!(
                    "asset `{}` is declared twice: also in {}",
                    draft.asset.key,
                    first.asset.path.display()
                ),
                Some("asset keys are unique; rename one file or set `key`".into()),
            );
            continue;
        }
        kept.push(draft);
    }
    *drafts = kept;
}

/// Reports at offsets of any file.
struct Reporter<'a> {
    texts: &'a BTreeMap<PathBuf, &'a str>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Reporter<'_> {
    fn at(&mut self, path: &PathBuf, offset: usize, message: String, hint: Option<String>) {
        let text = self.texts.get(path).copied().unwrap_or_default();
        let (line, col) = LineIndex::new(text).position(text, offset);
        self.diagnostics.push(Diagnostic {
            path: path.clone(),
            line,
            col,
            message,
            hint,
        });
    }

    fn unknown_dependency(
        &mut self,
        draft: &AssetDraft,
        dep: &asset_file::DepDraft,
        names: &[String],
    ) {
        let closest = suggest::closest(&dep.key.to_string(), names.iter().map(String::as_str));
        let (message, hint) = if dep.from_sql {
            let table = format!("{}.{}", dep.key.group(), dep.key.name());
            (
                format!("table `{table}` is not an asset (no asset `{}`)", dep.key),
                closest.map(|c| format!("did you mean `{}`?", c.replacen('/', ".", 1))),
            )
        } else {
            (
                format!("unknown asset `{}` in `deps`", dep.key),
                closest.map(|c| format!("did you mean `{c}`?")),
            )
        };
        self.at(&draft.asset.path, dep.offset, message, hint);
    }

    fn unqualified_table(
        &mut self,
        draft: &AssetDraft,
        name: &str,
        offset: usize,
        names: &[String],
    ) {
        let hint = match suggest::closest(name, names.iter().map(String::as_str)) {
            Some(key) => format!("did you mean `{}`?", key.replacen('/', ".", 1)),
            None => "asset tables are `group.name`".to_string(),
        };
        self.at(
            &draft.asset.path,
            offset,
            format!("table `{name}` is not an asset table: asset tables are `group.name`"),
            Some(hint),
        );
    }

    fn check_table(
        &mut self,
        draft: &AssetDraft,
        check_table: &policies::CheckTable,
        index: &BTreeMap<AssetKey, usize>,
        names: &[String],
    ) {
        let table = &check_table.table;
        let key = match table.parts.as_slice() {
            [group, name] => AssetKey::parse(&format!("{group}/{name}")).ok(),
            _ => None,
        };
        if key.as_ref().is_some_and(|k| index.contains_key(k)) {
            return;
        }
        let guess = table.parts.join("/");
        let hint = suggest::closest(&guess, names.iter().map(String::as_str))
            .map(|c| format!("did you mean `{}`?", c.replacen('/', ".", 1)))
            .or_else(|| {
                Some("a check reads `this` (the asset checked) or asset tables `group.name`".into())
            });
        self.at(
            &draft.asset.path,
            check_table.offset,
            format!("table `{}` in a check is not an asset", table.name()),
            hint,
        );
    }
}

/// Tags and kinds of the assets being loaded, for resolving selections before the repository
/// exists.
struct DraftAttributes<'a> {
    drafts: &'a [AssetDraft],
    index: &'a BTreeMap<AssetKey, usize>,
}

impl AssetAttributes for DraftAttributes<'_> {
    fn has_tag(&self, key: &AssetKey, tag: &str, value: Option<&str>) -> bool {
        self.index
            .get(key)
            .is_some_and(|&i| self.drafts[i].asset.has_tag(tag, value))
    }

    fn has_kind(&self, key: &AssetKey, kind: &str) -> bool {
        self.index
            .get(key)
            .is_some_and(|&i| self.drafts[i].asset.kinds.contains(kind))
    }
}

#[cfg(test)]
mod tests;
