//! Dagster's asset selection syntax (the CLI form), parsed apart from the graph it selects from.
//!
//! The same text selects assets on the command line, in alert rules and in automation
//! conditions (`.ignore('group:raw')`), so parsing is separate from resolving: a declaration can
//! be checked for syntax where it is read and resolved once the whole repository is known.
//!
//! Syntax: items separated by commas form a union. An item is `*` (every asset),
//! `group:<group>`, `tag:<key>=<value>` or `tag:<key>` (has the tag), `kind:<kind>`, or an asset
//! key `group/name` with optional upstream and downstream reach: `*key` (it and everything
//! upstream), `+key` (one level up), `++key` (two), `key*`, `key+`, `*key*`.

use std::collections::BTreeSet;
use std::fmt;

use crate::graph::AssetGraph;
use crate::key::AssetKey;
use crate::suggest;

/// A parsed selection: the union of its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    text: String,
    items: Vec<SelectionItem>,
}

/// One comma-separated part of a selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectionItem {
    /// `*`: every asset.
    All,
    /// A key with how far up and down to extend it.
    Key {
        /// The asset named.
        key: AssetKey,
        /// Levels upstream to include: `Some(0)` none, `None` all (`*key`).
        upstream: Option<u32>,
        /// Levels downstream to include: `Some(0)` none, `None` all (`key*`).
        downstream: Option<u32>,
        /// Byte offset of the key in the selection text.
        offset: usize,
    },
    /// `group:<group>`: every asset whose key starts with the group.
    Group {
        /// The group.
        group: String,
        /// Byte offset of the group in the selection text.
        offset: usize,
    },
    /// `tag:<key>=<value>` or `tag:<key>`.
    Tag {
        /// The tag key.
        key: String,
        /// The value it must have; any value when absent.
        value: Option<String>,
    },
    /// `kind:<kind>`: assets with that kind (`sql`, `command`, `source`, or a declared kind).
    Kind(String),
}

/// Why a selection does not parse or does not resolve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectionError {
    /// Byte offset in the selection text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it (closest key, valid syntax), when known.
    pub hint: Option<String>,
}

/// What a selection needs to know about assets beyond their keys and edges.
pub trait AssetAttributes {
    /// Whether the asset has tag `tag`, with value `value` when given.
    fn has_tag(&self, key: &AssetKey, tag: &str, value: Option<&str>) -> bool;
    /// Whether the asset has kind `kind`.
    fn has_kind(&self, key: &AssetKey, kind: &str) -> bool;
}

const SYNTAX: &str = "items are `group/name`, `*group/name`, `+group/name`, `group/name+`, \
                      `group:<group>`, `tag:<key>=<value>`, `kind:<kind>` or `*`, separated by commas";

impl Selection {
    /// Parses a selection; whitespace around items is ignored.
    pub fn parse(text: &str) -> Result<Self, SelectionError> {
        let mut items = Vec::new();
        let mut start = 0;
        for part in text.split(',') {
            let trimmed = part.trim_start();
            let offset = start + (part.len() - trimmed.len());
            items.push(parse_item(trimmed.trim_end(), offset)?);
            start += part.len() + 1;
        }
        Ok(Self {
            text: text.trim().to_string(),
            items,
        })
    }

    /// The selection every asset: `*`.
    pub fn all() -> Self {
        Self {
            text: "*".into(),
            items: vec![SelectionItem::All],
        }
    }

    /// The items of the union.
    pub fn items(&self) -> &[SelectionItem] {
        &self.items
    }

    /// The selection as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The assets selected, sorted. An unknown key is an error naming the closest key; a group,
    /// tag or kind that no asset has selects nothing (as in Dagster).
    pub fn resolve(
        &self,
        graph: &AssetGraph,
        attributes: &impl AssetAttributes,
    ) -> Result<BTreeSet<AssetKey>, SelectionError> {
        let mut selected = BTreeSet::new();
        for item in &self.items {
            match item {
                SelectionItem::All => selected.extend(graph.keys().iter().cloned()),
                SelectionItem::Key {
                    key,
                    upstream,
                    downstream,
                    offset,
                } => {
                    if !graph.contains(key) {
                        return Err(unknown_key(key, *offset, graph));
                    }
                    selected.insert(key.clone());
                    if *upstream != Some(0) {
                        selected.extend(graph.ancestors(key, *upstream));
                    }
                    if *downstream != Some(0) {
                        selected.extend(graph.descendants(key, *downstream));
                    }
                }
                SelectionItem::Group { group, .. } => {
                    selected.extend(graph.keys().iter().filter(|k| k.group() == group).cloned());
                }
                SelectionItem::Tag { key, value } => selected.extend(
                    graph
                        .keys()
                        .iter()
                        .filter(|k| attributes.has_tag(k, key, value.as_deref()))
                        .cloned(),
                ),
                SelectionItem::Kind(kind) => selected.extend(
                    graph
                        .keys()
                        .iter()
                        .filter(|k| attributes.has_kind(k, kind))
                        .cloned(),
                ),
            }
        }
        Ok(selected)
    }

    /// The keys the selection names explicitly, with their byte offsets.
    pub fn named_keys(&self) -> impl Iterator<Item = (&AssetKey, usize)> {
        self.items.iter().filter_map(|item| match item {
            SelectionItem::Key { key, offset, .. } => Some((key, *offset)),
            _ => None,
        })
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The error for a key that is not in the graph, suggesting the closest one.
pub fn unknown_key(key: &AssetKey, offset: usize, graph: &AssetGraph) -> SelectionError {
    let text = key.to_string();
    let names: Vec<String> = graph.keys().iter().map(ToString::to_string).collect();
    SelectionError {
        offset,
        message: format!("unknown asset `{key}`"),
        hint: suggest::did_you_mean(&text, names.iter().map(String::as_str)),
    }
}

fn parse_item(item: &str, offset: usize) -> Result<SelectionItem, SelectionError> {
    let error = |at: usize, message: String| SelectionError {
        offset: at,
        message,
        hint: Some(SYNTAX.to_string()),
    };
    if item.is_empty() {
        return Err(error(offset, "empty selection item".into()));
    }
    if item == "*" {
        return Ok(SelectionItem::All);
    }
    if let Some((prefix, rest)) = item.split_once(':') {
        let rest_offset = offset + prefix.len() + 1;
        return match prefix {
            "group" => {
                check_word(rest, rest_offset, "group", is_key_char)?;
                Ok(SelectionItem::Group {
                    group: rest.to_string(),
                    offset: rest_offset,
                })
            }
            "tag" => {
                let (key, value) = match rest.split_once('=') {
                    Some((key, value)) => (key, Some(value)),
                    None => (rest, None),
                };
                check_word(key, rest_offset, "tag key", is_tag_char)?;
                if let Some(value) = value {
                    check_word(value, rest_offset + key.len() + 1, "tag value", is_tag_char)
                        .or_else(|e| if value.is_empty() { Ok(()) } else { Err(e) })?;
                }
                Ok(SelectionItem::Tag {
                    key: key.to_string(),
                    value: value.map(str::to_string),
                })
            }
            "kind" => {
                check_word(rest, rest_offset, "kind", is_tag_char)?;
                Ok(SelectionItem::Kind(rest.to_string()))
            }
            other => Err(SelectionError {
                offset,
                message: format!("unknown selection prefix `{other}:`"),
                hint: Some(
                    suggest::did_you_mean(other, ["group", "kind", "tag"])
                        .unwrap_or_else(|| "prefixes are `group:`, `tag:` and `kind:`".into()),
                ),
            }),
        };
    }
    let (upstream, head) = reach_prefix(item);
    let (downstream, tail) = reach_suffix(&item[head..]);
    let key_text = &item[head..head + tail];
    let key_offset = offset + head;
    let key = AssetKey::parse(key_text).map_err(|e| SelectionError {
        offset: key_offset,
        message: format!("invalid asset key `{key_text}` in selection: {}", e.reason),
        hint: Some(SYNTAX.to_string()),
    })?;
    Ok(SelectionItem::Key {
        key,
        upstream,
        downstream,
        offset: key_offset,
    })
}

/// Leading `*` or `+`s: the upstream reach and the byte length they take.
fn reach_prefix(item: &str) -> (Option<u32>, usize) {
    if item.starts_with('*') {
        return (None, 1);
    }
    let pluses = item.bytes().take_while(|b| *b == b'+').count();
    (Some(pluses as u32), pluses)
}

/// Trailing `*` or `+`s of `rest`: the downstream reach and the length of what precedes them.
fn reach_suffix(rest: &str) -> (Option<u32>, usize) {
    if let Some(stripped) = rest.strip_suffix('*') {
        return (None, stripped.len());
    }
    let pluses = rest.bytes().rev().take_while(|b| *b == b'+').count();
    (Some(pluses as u32), rest.len() - pluses)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// Dagster's tag alphabet, plus `/` for prefixed tag keys.
fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn check_word(
    word: &str,
    offset: usize,
    what: &str,
    valid: fn(char) -> bool,
) -> Result<(), SelectionError> {
    if word.is_empty() {
        return Err(SelectionError {
            offset,
            message: format!("expected a {what}"),
            hint: Some(SYNTAX.to_string()),
        });
    }
    if let Some((i, c)) = word.char_indices().find(|(_, c)| !valid(*c)) {
        return Err(SelectionError {
            offset: offset + i,
            message: format!("unexpected `{c}` in {what} `{word}`"),
            hint: Some(SYNTAX.to_string()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type Tags = &'static [(&'static str, &'static str)];
    struct Attrs(BTreeMap<&'static str, (Tags, &'static str)>);

    impl AssetAttributes for Attrs {
        fn has_tag(&self, key: &AssetKey, tag: &str, value: Option<&str>) -> bool {
            self.0
                .get(key.to_string().as_str())
                .is_some_and(|(tags, _)| {
                    tags.iter()
                        .any(|(k, v)| *k == tag && value.is_none_or(|value| value == *v))
                })
        }
        fn has_kind(&self, key: &AssetKey, kind: &str) -> bool {
            self.0
                .get(key.to_string().as_str())
                .is_some_and(|(_, k)| *k == kind)
        }
    }

    fn key(text: &str) -> AssetKey {
        AssetKey::parse(text).unwrap()
    }

    /// raw/a → clean/b → stats/c → stats/d, and raw/e → stats/c.
    fn fixture() -> (AssetGraph, Attrs) {
        let graph = AssetGraph::new([
            (key("raw/a"), vec![]),
            (key("clean/b"), vec![key("raw/a")]),
            (key("stats/c"), vec![key("clean/b"), key("raw/e")]),
            (key("stats/d"), vec![key("stats/c")]),
            (key("raw/e"), vec![]),
        ])
        .unwrap();
        let attrs = Attrs(BTreeMap::from([
            ("raw/a", (&[("team", "ingest")][..], "source")),
            ("clean/b", (&[("team", "ops")][..], "sql")),
            ("stats/c", (&[("team", "ops"), ("tier", "1")][..], "sql")),
            ("stats/d", (&[][..], "command")),
            ("raw/e", (&[][..], "source")),
        ]));
        (graph, attrs)
    }

    fn select(text: &str) -> Vec<String> {
        let (graph, attrs) = fixture();
        Selection::parse(text)
            .unwrap()
            .resolve(&graph, &attrs)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn keys_and_reach() {
        assert_eq!(select("clean/b"), ["clean/b"]);
        assert_eq!(select("*stats/c"), ["clean/b", "raw/a", "raw/e", "stats/c"]);
        assert_eq!(select("+stats/c"), ["clean/b", "raw/e", "stats/c"]);
        assert_eq!(
            select("++stats/c"),
            ["clean/b", "raw/a", "raw/e", "stats/c"]
        );
        assert_eq!(select("raw/a*"), ["clean/b", "raw/a", "stats/c", "stats/d"]);
        assert_eq!(select("raw/a+"), ["clean/b", "raw/a"]);
        assert_eq!(select("raw/a++"), ["clean/b", "raw/a", "stats/c"]);
        assert_eq!(
            select("*clean/b*"),
            ["clean/b", "raw/a", "stats/c", "stats/d"]
        );
        assert_eq!(select("+clean/b+"), ["clean/b", "raw/a", "stats/c"]);
    }

    #[test]
    fn attributes_and_unions() {
        assert_eq!(select("*").len(), 5);
        assert_eq!(select("group:stats"), ["stats/c", "stats/d"]);
        assert_eq!(select("tag:team=ops"), ["clean/b", "stats/c"]);
        assert_eq!(select("tag:team"), ["clean/b", "raw/a", "stats/c"]);
        assert_eq!(select("tag:team=nobody"), Vec::<String>::new());
        assert_eq!(select("kind:source"), ["raw/a", "raw/e"]);
        assert_eq!(
            select("raw/a, group:stats"),
            ["raw/a", "stats/c", "stats/d"]
        );
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let (graph, attrs) = fixture();
        let error = Selection::parse("raw/a,stats/cc")
            .unwrap()
            .resolve(&graph, &attrs)
            .unwrap_err();
        assert_eq!(error.offset, 6);
        assert_eq!(error.message, "unknown asset `stats/cc`");
        assert_eq!(error.hint.as_deref(), Some("did you mean `stats/c`?"));
        let nothing = Selection::parse("group:stat")
            .unwrap()
            .resolve(&graph, &attrs)
            .unwrap();
        assert!(nothing.is_empty());
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let cases = [
            ("", 0, "empty selection item"),
            ("a/b,", 4, "empty selection item"),
            ("grop:x", 0, "unknown selection prefix `grop:`"),
            ("group:", 6, "expected a group"),
            ("group:Flights", 6, "unexpected `F` in group `Flights`"),
            ("tag:=x", 4, "expected a tag key"),
            ("flights", 0, "invalid asset key `flights` in selection"),
            ("*a/b/c", 1, "invalid asset key `a/b/c`"),
        ];
        for (text, offset, message) in cases {
            let error = Selection::parse(text).unwrap_err();
            assert_eq!(error.offset, offset, "{text}: {error}");
            assert!(error.message.starts_with(message), "{text}: {error}");
        }
        let error = Selection::parse("grop:x").unwrap_err();
        assert_eq!(error.hint.as_deref(), Some("did you mean `group`?"));
    }

    #[test]
    fn keeps_offsets_of_named_keys() {
        let selection = Selection::parse("a/b, *c/d+").unwrap();
        let named: Vec<_> = selection
            .named_keys()
            .map(|(k, o)| (k.to_string(), o))
            .collect();
        assert_eq!(named, [("a/b".to_string(), 0), ("c/d".to_string(), 6)]);
        assert_eq!(selection.to_string(), "a/b, *c/d+");
    }
}
