//! Partition mappings: which upstream partitions a downstream partition needs, and back.
//!
//! Every mapping answers both directions on compact subsets, with Dagster's semantics:
//! the upstream direction also reports the partitions that are required but do not exist
//! upstream (Dagster's `required_but_nonexistent`), and the time-window mapping clamps offset
//! windows at the upstream's bounds exactly as Dagster 1.13 does.

use std::collections::{BTreeMap, BTreeSet};

use super::definition::{Keyspace, PartitionsDefinition, TimeWindowPartitions};
use super::spec::MappingSpec;
use super::subset::PartitionSubset;
use super::time_window::TimeWindow;

/// A checked partition mapping.
#[derive(Clone, Debug, PartialEq)]
pub enum PartitionMapping {
    /// The same key on both sides.
    Identity,
    /// Every upstream partition.
    All,
    /// The last upstream partition.
    Last,
    /// Upstream windows overlapping the downstream window, shifted by offsets counted in
    /// downstream partitions.
    TimeWindow {
        /// Shift of the window's start.
        start_offset: i64,
        /// Shift of the window's end.
        end_offset: i64,
        /// Whether out-of-range upstream partitions are silently dropped.
        allow_nonexistent: bool,
    },
    /// Upstream key → downstream keys.
    Static(BTreeMap<String, BTreeSet<String>>),
    /// A fixed list of upstream keys.
    Specific(Vec<String>),
    /// A multi-partitioned side to one of its dimensions (inferred when `None`).
    MultiToSingle(Option<String>),
    /// One mapping per shared dimension name; dimensions left out map as `all`.
    Multi(BTreeMap<String, PartitionMapping>),
}

const NOT_PARTITIONED: &str =
    "the upstream asset is not partitioned: only the default mapping applies";

/// What a set of downstream partitions needs upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamPartitions {
    /// The upstream partitions that exist, as a subset of the upstream keyspace.
    pub partitions: PartitionSubset,
    /// Keys that the mapping requires but the upstream does not have, in time order where the
    /// upstream is time-partitioned.
    pub nonexistent: Vec<String>,
}

/// Both sides of a dependency, evaluated at one moment.
#[derive(Clone, Copy)]
pub struct Sides<'a, 'k> {
    /// The upstream definition.
    pub upstream: &'a PartitionsDefinition,
    /// Its keyspace.
    pub upstream_keys: &'a Keyspace<'k>,
    /// The downstream definition.
    pub downstream: &'a PartitionsDefinition,
    /// Its keyspace.
    pub downstream_keys: &'a Keyspace<'k>,
}

impl<'a, 'k> Sides<'a, 'k> {
    /// Both sides as time-window definitions with their keyspaces (upstream, downstream).
    fn time_windows(&self) -> Option<(WindowSide<'a, 'k>, WindowSide<'a, 'k>)> {
        match (self.upstream_keys, self.downstream_keys) {
            (Keyspace::TimeWindow(up_keys), Keyspace::TimeWindow(down_keys)) => Some((
                WindowSide {
                    def: self.upstream.as_time_window()?,
                    keys: up_keys,
                },
                WindowSide {
                    def: self.downstream.as_time_window()?,
                    keys: down_keys,
                },
            )),
            _ => None,
        }
    }
}

impl PartitionMapping {
    /// Builds a mapping from its spec.
    pub fn from_spec(spec: &MappingSpec) -> Self {
        match spec {
            MappingSpec::Identity => Self::Identity,
            MappingSpec::All => Self::All,
            MappingSpec::Last => Self::Last,
            MappingSpec::TimeWindow(s) => Self::TimeWindow {
                start_offset: s.start_offset,
                end_offset: s.end_offset,
                allow_nonexistent: s.allow_nonexistent,
            },
            MappingSpec::Static(map) => Self::Static(
                map.iter()
                    .map(|(up, down)| (up.clone(), down.keys().iter().cloned().collect()))
                    .collect(),
            ),
            MappingSpec::Specific(keys) => Self::Specific(keys.clone()),
            MappingSpec::MultiToSingle(s) => Self::MultiToSingle(s.dimension.clone()),
            MappingSpec::Multi(map) => Self::Multi(
                map.iter()
                    .map(|(dim, m)| (dim.clone(), Self::from_spec(m)))
                    .collect(),
            ),
        }
    }

    /// The mapping Dagster infers when none is declared.
    pub fn default_for(
        upstream: Option<&PartitionsDefinition>,
        downstream: Option<&PartitionsDefinition>,
    ) -> Self {
        match (upstream, downstream) {
            (Some(up), Some(down)) => {
                if multi_to_single_dimension(up, down, None).is_ok() {
                    Self::MultiToSingle(None)
                } else if up.as_time_window().is_some() && down.as_time_window().is_some() {
                    Self::TimeWindow {
                        start_offset: 0,
                        end_offset: 0,
                        allow_nonexistent: false,
                    }
                } else {
                    Self::Identity
                }
            }
            _ => Self::All,
        }
    }

    /// A short description, such as `time_window(-6, 0)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Identity => "identity".into(),
            Self::All => "all".into(),
            Self::Last => "last".into(),
            Self::TimeWindow {
                start_offset,
                end_offset,
                allow_nonexistent,
            } => {
                let allow = if *allow_nonexistent {
                    ", allow_nonexistent"
                } else {
                    ""
                };
                format!("time_window({start_offset}, {end_offset}{allow})")
            }
            Self::Static(map) => format!("static ({} keys)", map.len()),
            Self::Specific(keys) => format!("specific ({})", keys.join(", ")),
            Self::MultiToSingle(Some(dim)) => format!("multi_to_single({dim})"),
            Self::MultiToSingle(None) => "multi_to_single".into(),
            Self::Multi(map) => {
                let dims: Vec<String> = map
                    .iter()
                    .map(|(d, m)| format!("{d}: {}", m.describe()))
                    .collect();
                format!("multi({})", dims.join(", "))
            }
        }
    }

    /// Rejects what Dagster's `validate_partition_mapping` rejects, with the reason.
    pub fn validate(
        &self,
        upstream: Option<&PartitionsDefinition>,
        downstream: Option<&PartitionsDefinition>,
    ) -> Result<(), String> {
        let needs_both =
            |name: &str| -> Result<(&PartitionsDefinition, &PartitionsDefinition), String> {
                match (upstream, downstream) {
                    (Some(up), Some(down)) => Ok((up, down)),
                    (None, _) => Err(format!(
                        "the `{name}` mapping needs a partitioned upstream asset"
                    )),
                    (_, None) => Err(format!(
                        "the `{name}` mapping needs a partitioned downstream asset"
                    )),
                }
            };
        match self {
            // Like Dagster, these accept any pair, partitioned or not.
            Self::All | Self::Last => Ok(()),
            Self::Specific(keys) => {
                let Some(up) = upstream else {
                    return Err(NOT_PARTITIONED.into());
                };
                let unknown: Vec<&str> = keys
                    .iter()
                    .filter(|k| match up {
                        PartitionsDefinition::Static(s) => !s.keys().contains(k),
                        PartitionsDefinition::TimeWindow(t) => t.window_of_key(k).is_none(),
                        _ => false,
                    })
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(format!(
                        "the mapping names keys the upstream asset does not have: {}",
                        unknown.join(", ")
                    ));
                }
                Ok(())
            }
            Self::Identity => {
                let (up, down) = needs_both("identity")?;
                if std::mem::discriminant(up) != std::mem::discriminant(down) {
                    return Err(format!(
                        "identity maps equal kinds of partitions; upstream is {} and downstream is {}: declare another mapping",
                        up.describe(),
                        down.describe()
                    ));
                }
                Ok(())
            }
            Self::TimeWindow { .. } => {
                let (up, down) = needs_both("time_window")?;
                let (Some(up), Some(down)) = (up.as_time_window(), down.as_time_window()) else {
                    return Err(
                        "the `time_window` mapping needs time-window partitions on both sides"
                            .into(),
                    );
                };
                if up.tz() != down.tz() {
                    return Err(format!(
                        "time zones {} (upstream) and {} (downstream) don't match",
                        up.tz(),
                        down.tz()
                    ));
                }
                Ok(())
            }
            Self::Static(map) => {
                let (up, down) = needs_both("static")?;
                let (PartitionsDefinition::Static(up), PartitionsDefinition::Static(down)) =
                    (up, down)
                else {
                    return Err("the `static` mapping needs static partitions on both sides".into());
                };
                let unknown_up: Vec<&str> = map
                    .keys()
                    .filter(|k| !up.keys().contains(k))
                    .map(String::as_str)
                    .collect();
                if !unknown_up.is_empty() {
                    return Err(format!(
                        "the mapping names upstream keys the upstream asset does not have: {}",
                        unknown_up.join(", ")
                    ));
                }
                let unknown_down: BTreeSet<&str> = map
                    .values()
                    .flatten()
                    .filter(|k| !down.keys().contains(k))
                    .map(String::as_str)
                    .collect();
                if !unknown_down.is_empty() {
                    return Err(format!(
                        "the mapping names downstream keys this asset does not have: {}",
                        unknown_down.into_iter().collect::<Vec<_>>().join(", ")
                    ));
                }
                Ok(())
            }
            Self::MultiToSingle(dimension) => {
                let (up, down) = needs_both("multi_to_single")?;
                let (name, mapping) = multi_to_single_dimension(up, down, dimension.as_deref())?;
                let dimension_def = |side: &'_ PartitionsDefinition| {
                    side.dimensions()
                        .and_then(|dims| dims.iter().find(|(n, _)| *n == name))
                        .map(|(_, d)| d.clone())
                };
                let (up_dim, down_dim) = match (dimension_def(up), dimension_def(down)) {
                    (Some(u), None) => (u, down.clone()),
                    (None, Some(d)) => (up.clone(), d),
                    _ => {
                        return Err(
                            "multi_to_single needs exactly one multi-partitioned side".into()
                        );
                    }
                };
                mapping
                    .validate(Some(&up_dim), Some(&down_dim))
                    .map_err(|e| format!("dimension `{name}`: {e}"))
            }
            Self::Multi(map) => {
                let (up, down) = needs_both("multi")?;
                let (Some(up_dims), Some(down_dims)) = (up.dimensions(), down.dimensions()) else {
                    return Err("the `multi` mapping needs multi partitions on both sides".into());
                };
                for (dim, mapping) in map {
                    let up_dim = up_dims.iter().find(|(n, _)| n == dim);
                    let down_dim = down_dims.iter().find(|(n, _)| n == dim);
                    let (Some((_, up_def)), Some((_, down_def))) = (up_dim, down_dim) else {
                        return Err(format!(
                            "dimension `{dim}` is not a dimension of both assets (upstream: {}; downstream: {})",
                            dimension_names(up_dims),
                            dimension_names(down_dims)
                        ));
                    };
                    mapping
                        .validate(Some(up_def), Some(down_def))
                        .map_err(|e| format!("dimension `{dim}`: {e}"))?;
                }
                Ok(())
            }
        }
    }

    /// The upstream partitions that `downstream` (a subset of the downstream keyspace) needs.
    pub fn upstream_of(
        &self,
        sides: Sides<'_, '_>,
        downstream: &PartitionSubset,
    ) -> UpstreamPartitions {
        let exists_only = |partitions| UpstreamPartitions {
            partitions,
            nonexistent: Vec::new(),
        };
        let up_len = sides.upstream_keys.len();
        match self {
            Self::All => exists_only(PartitionSubset::all(up_len)),
            Self::Last => exists_only(match up_len {
                0 => PartitionSubset::empty(),
                n => PartitionSubset::from_range(n - 1..n),
            }),
            Self::Specific(keys) => exists_only(PartitionSubset::from_indices(
                keys.iter().filter_map(|k| sides.upstream_keys.index_of(k)),
            )),
            Self::Identity => {
                if sides.upstream == sides.downstream {
                    return exists_only(downstream.clone());
                }
                let mut found = Vec::new();
                let mut nonexistent = Vec::new();
                for index in downstream.iter() {
                    let key = sides.downstream_keys.key(index).expect("index in range");
                    match sides.upstream_keys.index_of(&key) {
                        Some(up) => found.push(up),
                        None => nonexistent.push(key),
                    }
                }
                nonexistent.sort();
                UpstreamPartitions {
                    partitions: PartitionSubset::from_indices(found),
                    nonexistent,
                }
            }
            Self::Static(map) => {
                let wanted: BTreeSet<String> = downstream
                    .iter()
                    .filter_map(|i| sides.downstream_keys.key(i))
                    .collect();
                exists_only(PartitionSubset::from_indices(
                    map.iter()
                        .filter(|(_, downs)| downs.iter().any(|d| wanted.contains(d)))
                        .filter_map(|(up, _)| sides.upstream_keys.index_of(up)),
                ))
            }
            Self::TimeWindow {
                start_offset,
                end_offset,
                allow_nonexistent,
            } => {
                let Some((up, down)) = sides.time_windows() else {
                    return exists_only(PartitionSubset::empty());
                };
                let windows = subset_windows(down.def, down.keys, downstream);
                let (partitions, nonexistent) = map_windows(
                    &down,
                    &up,
                    &windows,
                    *start_offset,
                    *end_offset,
                    true,
                    *allow_nonexistent,
                );
                UpstreamPartitions {
                    partitions,
                    nonexistent,
                }
            }
            Self::MultiToSingle(_) | Self::Multi(_) => self.multi_upstream_of(sides, downstream),
        }
    }

    /// The downstream partitions that `upstream` (a subset of the upstream keyspace) feeds.
    pub fn downstream_of(
        &self,
        sides: Sides<'_, '_>,
        upstream: &PartitionSubset,
    ) -> PartitionSubset {
        let down_len = sides.downstream_keys.len();
        let all_if = |feeds: bool| {
            if feeds {
                PartitionSubset::all(down_len)
            } else {
                PartitionSubset::empty()
            }
        };
        match self {
            Self::All => all_if(!upstream.is_empty()),
            Self::Last => {
                let len = sides.upstream_keys.len();
                all_if(len > 0 && upstream.contains(len - 1))
            }
            Self::Specific(keys) => all_if(
                keys.iter()
                    .filter_map(|k| sides.upstream_keys.index_of(k))
                    .any(|i| upstream.contains(i)),
            ),
            Self::Identity => {
                if sides.upstream == sides.downstream {
                    return upstream.clone();
                }
                PartitionSubset::from_indices(upstream.iter().filter_map(|i| {
                    let key = sides.upstream_keys.key(i)?;
                    sides.downstream_keys.index_of(&key)
                }))
            }
            Self::Static(map) => PartitionSubset::from_indices(
                upstream
                    .iter()
                    .filter_map(|i| sides.upstream_keys.key(i))
                    .filter_map(|k| map.get(&k))
                    .flatten()
                    .filter_map(|d| sides.downstream_keys.index_of(d)),
            ),
            Self::TimeWindow {
                start_offset,
                end_offset,
                allow_nonexistent,
            } => {
                let Some((up, down)) = sides.time_windows() else {
                    return PartitionSubset::empty();
                };
                let windows = subset_windows(up.def, up.keys, upstream);
                map_windows(
                    &up,
                    &down,
                    &windows,
                    -end_offset,
                    -start_offset,
                    false,
                    *allow_nonexistent,
                )
                .0
            }
            Self::MultiToSingle(_) | Self::Multi(_) => self.multi_downstream_of(sides, upstream),
        }
    }

    /// The per-dimension dependencies of a multi mapping: (upstream dimension, downstream
    /// dimension, mapping), where `None` names the single-dimensional side.
    fn dimension_dependencies(
        &self,
        upstream: &PartitionsDefinition,
        downstream: &PartitionsDefinition,
    ) -> Vec<(Option<String>, Option<String>, PartitionMapping)> {
        match self {
            Self::MultiToSingle(dimension) => {
                match multi_to_single_dimension(upstream, downstream, dimension.as_deref()) {
                    Ok((name, mapping)) => {
                        if upstream.dimensions().is_some() {
                            vec![(Some(name), None, mapping)]
                        } else {
                            vec![(None, Some(name), mapping)]
                        }
                    }
                    Err(_) => Vec::new(),
                }
            }
            Self::Multi(map) => map
                .iter()
                .map(|(dim, m)| (Some(dim.clone()), Some(dim.clone()), m.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn multi_upstream_of(
        &self,
        sides: Sides<'_, '_>,
        downstream: &PartitionSubset,
    ) -> UpstreamPartitions {
        let deps = self.dimension_dependencies(sides.upstream, sides.downstream);
        let a = KeyedSide::new(sides.downstream, sides.downstream_keys);
        let b = KeyedSide::new(sides.upstream, sides.upstream_keys);
        let dims: Vec<(Option<String>, Option<String>, PartitionMapping)> = deps
            .into_iter()
            .map(|(up, down, m)| (down, up, m))
            .collect();
        let mut nonexistent = BTreeSet::new();
        let partitions = map_by_dimension(
            &a,
            &b,
            downstream,
            &dims,
            |m, a_def, a_ks, b_def, b_ks, key_subset| {
                let result = m.upstream_of(
                    Sides {
                        upstream: b_def,
                        upstream_keys: b_ks,
                        downstream: a_def,
                        downstream_keys: a_ks,
                    },
                    key_subset,
                );
                nonexistent.extend(result.nonexistent);
                result.partitions
            },
        );
        UpstreamPartitions {
            partitions,
            nonexistent: nonexistent.into_iter().collect(),
        }
    }

    fn multi_downstream_of(
        &self,
        sides: Sides<'_, '_>,
        upstream: &PartitionSubset,
    ) -> PartitionSubset {
        let dims = self.dimension_dependencies(sides.upstream, sides.downstream);
        let a = KeyedSide::new(sides.upstream, sides.upstream_keys);
        let b = KeyedSide::new(sides.downstream, sides.downstream_keys);
        map_by_dimension(
            &a,
            &b,
            upstream,
            &dims,
            |m, a_def, a_ks, b_def, b_ks, key_subset| {
                m.downstream_of(
                    Sides {
                        upstream: a_def,
                        upstream_keys: a_ks,
                        downstream: b_def,
                        downstream_keys: b_ks,
                    },
                    key_subset,
                )
            },
        )
    }
}

fn dimension_names(dims: &[(String, PartitionsDefinition)]) -> String {
    dims.iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Dagster's `get_infer_single_to_multi_dimension_deps_result`: the dimension of the
/// multi-partitioned side that corresponds to the single-dimensional side, and the mapping
/// between them (identity for an equal definition, else time_window for a time dimension).
fn multi_to_single_dimension(
    upstream: &PartitionsDefinition,
    downstream: &PartitionsDefinition,
    dimension: Option<&str>,
) -> Result<(String, PartitionMapping), String> {
    let (multi, single) = match (upstream.dimensions(), downstream.dimensions()) {
        (Some(_), None) => (upstream, downstream),
        (None, Some(_)) => (downstream, upstream),
        (up, down) => {
            let count = usize::from(up.is_some()) + usize::from(down.is_some());
            return Err(format!(
                "multi_to_single maps a multi-partitioned asset to a single-dimensional one; here {count} of the two are multi-partitioned"
            ));
        }
    };
    let dims = multi.dimensions().expect("multi");
    let candidates: Vec<&(String, PartitionsDefinition)> = match dimension {
        Some(name) => {
            let found: Vec<_> = dims.iter().filter(|(n, _)| n == name).collect();
            if found.is_empty() {
                return Err(format!(
                    "dimension `{name}` is not a dimension of the multi-partitioned asset (it has: {})",
                    dimension_names(dims)
                ));
            }
            found
        }
        None => dims.iter().collect(),
    };
    let equal: Vec<_> = candidates.iter().filter(|(_, d)| d == single).collect();
    match equal.len() {
        1 => return Ok((equal[0].0.clone(), PartitionMapping::Identity)),
        n if n > 1 => {
            return Err(
                "several dimensions equal the single-dimensional definition: name the dimension"
                    .into(),
            );
        }
        _ => {}
    }
    let time: Vec<_> = candidates
        .iter()
        .filter(|(_, d)| d.as_time_window().is_some())
        .collect();
    if time.len() == 1 && single.as_time_window().is_some() {
        return Ok((
            time[0].0.clone(),
            PartitionMapping::TimeWindow {
                start_offset: 0,
                end_offset: 0,
                allow_nonexistent: false,
            },
        ));
    }
    Err(format!(
        "no dimension of the multi-partitioned asset ({}) matches {}",
        dimension_names(dims),
        single.describe()
    ))
}

/// A definition and its keyspace, with per-dimension access for multi definitions.
struct KeyedSide<'a, 'k> {
    def: &'a PartitionsDefinition,
    keys: &'a Keyspace<'k>,
}

impl<'a, 'k> KeyedSide<'a, 'k> {
    fn new(def: &'a PartitionsDefinition, keys: &'a Keyspace<'k>) -> Self {
        Self { def, keys }
    }

    /// The definition and keyspace of a dimension (`None`: the whole single side).
    fn dimension(
        &self,
        name: Option<&str>,
    ) -> Option<(&'a PartitionsDefinition, &'a Keyspace<'k>, usize)> {
        match name {
            None => Some((self.def, self.keys, 0)),
            Some(name) => {
                let dims = self.def.dimensions()?;
                let position = dims.iter().position(|(n, _)| n == name)?;
                let keyspaces = self.keys.dimensions()?;
                Some((&dims[position].1, &keyspaces[position], position))
            }
        }
    }
}

/// Dagster's multi-mapping algorithm: map each mapped dimension's keys through its mapping,
/// give every unmapped dimension of `b` all its keys, and take the product per key of `a`.
fn map_by_dimension(
    a: &KeyedSide<'_, '_>,
    b: &KeyedSide<'_, '_>,
    a_subset: &PartitionSubset,
    dims: &[(Option<String>, Option<String>, PartitionMapping)],
    mut map_one: impl FnMut(
        &PartitionMapping,
        &PartitionsDefinition,
        &Keyspace<'_>,
        &PartitionsDefinition,
        &Keyspace<'_>,
        &PartitionSubset,
    ) -> PartitionSubset,
) -> PartitionSubset {
    let b_dims: Vec<Option<String>> = match b.def.dimensions() {
        Some(dims) => dims.iter().map(|(n, _)| Some(n.clone())).collect(),
        None => vec![None],
    };
    // For each a-index: per b dimension, the b-dimension indices it maps to.
    let mut cache: BTreeMap<(usize, u64), PartitionSubset> = BTreeMap::new();
    let mut out: BTreeSet<u64> = BTreeSet::new();
    for a_index in a_subset.iter() {
        let mut per_b_dim: Vec<Vec<u64>> = Vec::with_capacity(b_dims.len());
        for b_dim in &b_dims {
            let (_, b_ks, _) = b.dimension(b_dim.as_deref()).expect("dimension exists");
            match dims.iter().enumerate().find(|(_, (_, bd, _))| bd == b_dim) {
                Some((n, (a_dim, _, mapping))) => {
                    let (a_def, a_ks, a_pos) =
                        a.dimension(a_dim.as_deref()).expect("dimension exists");
                    let a_dim_index = match a.keys.split_multi_index(a_index) {
                        Some(pair) if a_dim.is_some() => [pair.0, pair.1][a_pos],
                        _ => a_index,
                    };
                    let mapped = cache.entry((n, a_dim_index)).or_insert_with(|| {
                        let (b_def, b_ks, _) =
                            b.dimension(b_dim.as_deref()).expect("dimension exists");
                        map_one(
                            mapping,
                            a_def,
                            a_ks,
                            b_def,
                            b_ks,
                            &PartitionSubset::from_indices([a_dim_index]),
                        )
                    });
                    per_b_dim.push(mapped.iter().collect());
                }
                None => per_b_dim.push((0..b_ks.len()).collect()),
            }
        }
        match per_b_dim.as_slice() {
            [only] => out.extend(only.iter().copied()),
            [first, second] => {
                let second_len = b.keys.dimensions().expect("multi")[1].len();
                for i in first {
                    for j in second {
                        out.insert(i * second_len + j);
                    }
                }
            }
            _ => {}
        }
    }
    PartitionSubset::from_indices(out)
}

/// A time-window definition and its keyspace at the moment of mapping.
struct WindowSide<'a, 'k> {
    def: &'a TimeWindowPartitions,
    keys: &'a super::definition::TimeKeyspace<'k>,
}

/// The merged time windows of a subset (consecutive partitions whose windows touch merge).
fn subset_windows(
    def: &TimeWindowPartitions,
    keys: &super::definition::TimeKeyspace<'_>,
    subset: &PartitionSubset,
) -> Vec<TimeWindow> {
    let mut windows: Vec<TimeWindow> = Vec::new();
    let mut push = |w: TimeWindow| match windows.last_mut() {
        Some(last) if last.end >= w.start => last.end = last.end.max(w.end),
        _ => windows.push(w),
    };
    for range in subset.ranges() {
        if range.is_empty() {
            continue;
        }
        if def.has_exclusions() {
            for index in range {
                push(keys.window(index).expect("index in range"));
            }
        } else {
            let first = keys.window(range.start).expect("index in range");
            let last = keys.window(range.end - 1).expect("index in range");
            push(TimeWindow {
                start: first.start,
                end: last.end,
            });
        }
    }
    windows
}

/// Dagster's `TimeWindowPartitionMapping._map_partitions`, including its fast paths.
#[allow(clippy::too_many_arguments)]
fn map_windows(
    from: &WindowSide<'_, '_>,
    to: &WindowSide<'_, '_>,
    windows: &[TimeWindow],
    start_offset: i64,
    end_offset: i64,
    downstream_to_upstream: bool,
    allow_nonexistent: bool,
) -> (PartitionSubset, Vec<String>) {
    if windows.is_empty() {
        return (PartitionSubset::empty(), Vec::new());
    }
    let first_start = windows[0].start;
    if start_offset == 0 && end_offset == 0 {
        if from.def == to.def {
            return (starting_in(to, windows), Vec::new());
        }
        let covers_start = from.def.start() >= to.def.start() || first_start >= to.def.start();
        if from.def.equal_except_for_start_or_end(to.def)
            && covers_start
            && (to.def.end().is_none() || from.def.end().is_some_and(|fe| to.def.end() >= Some(fe)))
        {
            return (starting_in(to, windows), Vec::new());
        }
        let from_last_end = (!from.keys.is_empty())
            .then(|| from.keys.window(from.keys.len() - 1).expect("last").end);
        let to_last_end =
            (!to.keys.is_empty()).then(|| to.keys.window(to.keys.len() - 1).expect("last").end);
        if from.def.is_basic_daily()
            && to.def.is_basic_hourly()
            && covers_start
            && matches!((from_last_end, to_last_end), (Some(f), Some(t)) if f <= t)
        {
            return (starting_in(to, windows), Vec::new());
        }
        if windows.last().expect("non-empty").end <= to.def.start() {
            let nonexistent = if allow_nonexistent {
                Vec::new()
            } else {
                windows
                    .iter()
                    .flat_map(|w| ticks_in_window(to.def, *w))
                    .map(|t| to.def.format_key(t))
                    .collect()
            };
            return (PartitionSubset::empty(), nonexistent);
        }
    }

    let bounds = (!to.keys.is_empty()).then(|| {
        let first = to.keys.window(0).expect("first");
        let last = to.keys.window(to.keys.len() - 1).expect("last");
        (first, last)
    });
    let full = bounds.map(|(first, last)| TimeWindow {
        start: first.start,
        end: last.end,
    });
    let aligned = from.def.schedule().cron() == to.def.schedule().cron()
        || (from.def.is_basic_daily() && to.def.is_basic_hourly());

    let mut mapped: Vec<TimeWindow> = Vec::new();
    for window in windows {
        let (mut start, mut end) = (window.start, window.end);
        if downstream_to_upstream {
            start = offset_with_bounds(from.def, start, start_offset, full);
            end = offset_with_bounds(from.def, end, end_offset, full);
        }
        if !aligned {
            start = to.def.window_containing(start, false).start;
            end = to.def.window_containing(end, true).end;
        }
        if !downstream_to_upstream {
            start = offset_with_bounds(to.def, start, start_offset, full);
            end = offset_with_bounds(to.def, end, end_offset, full);
        }
        if start < end {
            mapped.push(TimeWindow { start, end });
        }
    }

    let mut kept: Vec<TimeWindow> = Vec::new();
    // Window starts, so the keys come out in time order without duplicates.
    let mut nonexistent: BTreeSet<i64> = BTreeSet::new();
    for w in &mapped {
        if let Some((first, last)) = bounds
            && w.start <= last.start
            && w.end >= first.end
        {
            kept.push(TimeWindow {
                start: w.start.max(first.start),
                end: w.end.min(last.end),
            });
        }
        if allow_nonexistent {
            continue;
        }
        let invalid = match bounds {
            None => Some(*w),
            Some((first, last)) if w.start < first.start && w.end > last.end => Some(*w),
            Some((first, _)) if w.start < first.start => Some(TimeWindow {
                start: w.start,
                end: w.end.min(first.start),
            }),
            Some((_, last)) if w.end > last.end => Some(TimeWindow {
                start: w.start.max(last.end),
                end: w.end,
            }),
            _ => None,
        };
        if let Some(invalid) = invalid {
            nonexistent.extend(ticks_in_window(to.def, invalid));
        }
    }
    let nonexistent = nonexistent
        .into_iter()
        .map(|t| to.def.format_key(t))
        .collect();
    (starting_in(to, &kept), nonexistent)
}

/// The existing partitions of `to` whose windows start within `windows`. Dagster's fast paths
/// relabel windows without clamping; keys past the keyspace are dropped here, since a subset
/// holds existing partitions only.
fn starting_in(to: &WindowSide<'_, '_>, windows: &[TimeWindow]) -> PartitionSubset {
    PartitionSubset::from_ranges(windows.iter().map(|w| {
        to.keys.first_index_starting_at_or_after(w.start)
            ..to.keys.first_index_starting_at_or_after(w.end)
    }))
}

/// Starts of the definition's (non-excluded) windows starting in `window`, whether or not
/// they exist now.
fn ticks_in_window(
    def: &TimeWindowPartitions,
    window: TimeWindow,
) -> impl Iterator<Item = i64> + '_ {
    std::iter::successors(Some(def.schedule().tick_at_or_after(window.start)), |&t| {
        Some(def.schedule().next_tick(t))
    })
    .take_while(move |&t| t < window.end)
    .filter(|&t| !def.is_excluded_tick(t))
}

/// Dagster's `_offsetted_datetime_with_bounds`: shift by whole windows of `def`, never past the
/// target's bounds.
fn offset_with_bounds(
    def: &TimeWindowPartitions,
    t: i64,
    offset: i64,
    bounds: Option<TimeWindow>,
) -> i64 {
    let shifted = def.offset_instant(t, offset);
    match bounds {
        Some(b) if offset < 0 => shifted.max(b.start),
        Some(b) if offset > 0 => shifted.min(b.end),
        _ => shifted,
    }
}
