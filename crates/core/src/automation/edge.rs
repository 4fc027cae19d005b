//! Subsets mapped along dependency edges, both ways, cached for the tick.
//!
//! Many edges share a pair of partitions definitions and a mapping (a thousand daily assets
//! reading daily assets with the default mapping), and a tick maps the same few subsets along
//! them (every partition, the latest one): the results are cached per (definitions, mapping,
//! direction, subset). An edge between assets of one definition whose mapping keeps each
//! partition (identity, or a time window without offsets) maps a subset to itself.
//!
//! An unpartitioned side is a keyspace of one partition that maps to and from everything on
//! the other side (Dagster's all-partitions mapping), except that `last` reads only the
//! upstream's last partition.

use std::collections::HashMap;

use super::evaluate::TickIndex;
use super::set::Set;
use crate::partitions::mapping::{PartitionMapping, Sides};

/// Which way a subset is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// From the downstream partitions to the upstream partitions they read.
    Up,
    /// From upstream partitions to the downstream partitions that read some of them.
    Down,
}

/// The tick's mapped subsets.
#[derive(Default)]
pub(crate) struct EdgeCache<'t> {
    classes: Vec<EdgeClass<'t>>,
}

/// Edges with one pair of definitions and one mapping.
struct EdgeClass<'t> {
    up: usize,
    down: usize,
    mapping: &'t PartitionMapping,
    mapped: HashMap<(Direction, Set), Set>,
}

impl<'t> EdgeCache<'t> {
    /// Maps `set` along the edge from `up` to `down` (asset indices) with `mapping`.
    pub(crate) fn map(
        &mut self,
        index: &TickIndex<'t, '_>,
        (up, down, mapping): (usize, usize, &'t PartitionMapping),
        direction: Direction,
        set: &Set,
    ) -> Set {
        if set.is_empty() {
            return Set::Empty;
        }
        let target = match direction {
            Direction::Up => up,
            Direction::Down => down,
        };
        match (index.partitioned(up), index.partitioned(down)) {
            (Some(u), Some(d)) => {
                if u == d && keeps_partitions(mapping, index.definitions[u].time_window) {
                    return set.clone();
                }
                self.mapped(index, (up, down, mapping), (u, d), direction, set)
            }
            (Some(_), None) if matches!(mapping, PartitionMapping::Last) => {
                let last = index.len[up].checked_sub(1);
                match direction {
                    Direction::Up => last.map_or(Set::Empty, |n| Set::span(n..n + 1)),
                    Direction::Down if last.is_some_and(|n| set.contains(n)) => {
                        Set::all(index.len[down])
                    }
                    Direction::Down => Set::Empty,
                }
            }
            _ => Set::all(index.len[target]),
        }
    }

    fn mapped(
        &mut self,
        index: &TickIndex<'t, '_>,
        (up, down, mapping): (usize, usize, &'t PartitionMapping),
        (up_def, down_def): (usize, usize),
        direction: Direction,
        set: &Set,
    ) -> Set {
        let class = match self.classes.iter().position(|c| {
            c.up == up_def
                && c.down == down_def
                && (std::ptr::eq(c.mapping, mapping) || c.mapping == mapping)
        }) {
            Some(class) => class,
            None => {
                self.classes.push(EdgeClass {
                    up: up_def,
                    down: down_def,
                    mapping,
                    mapped: HashMap::new(),
                });
                self.classes.len() - 1
            }
        };
        let key = (direction, set.clone());
        if let Some(mapped) = self.classes[class].mapped.get(&key) {
            return mapped.clone();
        }
        let (Some(upstream_keys), Some(downstream_keys)) =
            (index.keyspaces[up], index.keyspaces[down])
        else {
            unreachable!("partitioned sides have keyspaces");
        };
        let sides = Sides {
            upstream: index.definitions[up_def].definition,
            upstream_keys,
            downstream: index.definitions[down_def].definition,
            downstream_keys,
        };
        let subset = set.to_subset();
        let mapped = Set::of(&match direction {
            Direction::Up => mapping.upstream_of(sides, &subset).partitions,
            Direction::Down => mapping.downstream_of(sides, &subset),
        });
        self.classes[class].mapped.insert(key, mapped.clone());
        mapped
    }
}

/// Whether the mapping sends each partition to itself between assets of one definition.
fn keeps_partitions(mapping: &PartitionMapping, time_window: bool) -> bool {
    match mapping {
        PartitionMapping::Identity => true,
        PartitionMapping::TimeWindow {
            start_offset: 0,
            end_offset: 0,
            ..
        } => time_window,
        _ => false,
    }
}
