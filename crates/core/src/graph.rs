//! The asset graph: who feeds whom, in a deterministic order, and the cycles that forbid one.
//!
//! Planning, lineage and selection all walk the same graph, so it is built once per repository.
//! Nodes are kept in key order and every traversal breaks ties alphabetically: the same
//! declarations always give the same plan and the same explanation.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;

use crate::key::AssetKey;

/// A directed acyclic-or-not graph of asset keys; edges point from upstream to downstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetGraph {
    /// Every key, sorted; a node's index is its position here.
    keys: Vec<AssetKey>,
    index: BTreeMap<AssetKey, usize>,
    /// Upstream node indices of each node, sorted.
    upstream: Vec<Vec<usize>>,
    /// Downstream node indices of each node, sorted.
    downstream: Vec<Vec<usize>>,
}

/// A dependency cycle, in data-flow order, starting and ending at its smallest key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(pub Vec<AssetKey>);

impl fmt::Display for Cycle {
    /// `a → b → c → a`, where `x → y` means `y` depends on `x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{key}")?;
        }
        if let Some(first) = self.0.first() {
            write!(f, " → {first}")?;
        }
        Ok(())
    }
}

/// A graph edge to a key that is not a node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{downstream}` depends on `{upstream}`, which is not an asset")]
pub struct MissingNode {
    /// The asset declaring the dependency.
    pub downstream: AssetKey,
    /// The dependency that is not in the graph.
    pub upstream: AssetKey,
}

impl AssetGraph {
    /// Builds the graph from each asset and the keys it depends on.
    ///
    /// Every upstream key must itself be a node; duplicate edges collapse into one.
    pub fn new<I, U>(nodes: I) -> Result<Self, MissingNode>
    where
        I: IntoIterator<Item = (AssetKey, U)>,
        U: IntoIterator<Item = AssetKey>,
    {
        let pairs: Vec<(AssetKey, Vec<AssetKey>)> = nodes
            .into_iter()
            .map(|(key, upstream)| (key, upstream.into_iter().collect()))
            .collect();
        let mut keys: Vec<AssetKey> = pairs.iter().map(|(key, _)| key.clone()).collect();
        keys.sort();
        keys.dedup();
        let index: BTreeMap<AssetKey, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (key.clone(), i))
            .collect();
        let mut upstream: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); keys.len()];
        let mut downstream: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); keys.len()];
        for (key, deps) in pairs {
            let node = index[&key];
            for dep in deps {
                let Some(&up) = index.get(&dep) else {
                    return Err(MissingNode {
                        downstream: key,
                        upstream: dep,
                    });
                };
                upstream[node].insert(up);
                downstream[up].insert(node);
            }
        }
        let sorted = |sets: Vec<BTreeSet<usize>>| -> Vec<Vec<usize>> {
            sets.into_iter()
                .map(|set| set.into_iter().collect())
                .collect()
        };
        Ok(Self {
            keys,
            index,
            upstream: sorted(upstream),
            downstream: sorted(downstream),
        })
    }

    /// Every key, sorted.
    pub fn keys(&self) -> &[AssetKey] {
        &self.keys
    }

    /// The number of assets.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the graph has no assets.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` is an asset of the graph.
    pub fn contains(&self, key: &AssetKey) -> bool {
        self.index.contains_key(key)
    }

    /// The position of `key` in [`keys`](Self::keys): its node index.
    pub fn index_of(&self, key: &AssetKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The node indices of the direct dependencies of node `node`, sorted.
    pub fn upstream_indices(&self, node: usize) -> &[usize] {
        &self.upstream[node]
    }

    /// The node indices of the direct dependents of node `node`, sorted.
    pub fn downstream_indices(&self, node: usize) -> &[usize] {
        &self.downstream[node]
    }

    /// The direct dependencies of `key`, sorted (empty for an unknown key).
    pub fn upstream(&self, key: &AssetKey) -> impl Iterator<Item = &AssetKey> + '_ {
        self.neighbours(key, &self.upstream)
    }

    /// The direct dependents of `key`, sorted (empty for an unknown key).
    pub fn downstream(&self, key: &AssetKey) -> impl Iterator<Item = &AssetKey> + '_ {
        self.neighbours(key, &self.downstream)
    }

    fn neighbours<'a>(
        &'a self,
        key: &AssetKey,
        adjacency: &'a [Vec<usize>],
    ) -> impl Iterator<Item = &'a AssetKey> + 'a {
        let list: &[usize] = match self.index.get(key) {
            Some(&i) => &adjacency[i],
            None => &[],
        };
        list.iter().map(|&i| &self.keys[i])
    }

    /// Everything upstream of `key` within `depth` levels (`None`: no limit), without `key`
    /// itself unless a cycle leads back to it.
    pub fn ancestors(&self, key: &AssetKey, depth: Option<u32>) -> BTreeSet<AssetKey> {
        self.reach(key, depth, &self.upstream)
    }

    /// Everything downstream of `key` within `depth` levels (`None`: no limit).
    pub fn descendants(&self, key: &AssetKey, depth: Option<u32>) -> BTreeSet<AssetKey> {
        self.reach(key, depth, &self.downstream)
    }

    fn reach(
        &self,
        key: &AssetKey,
        depth: Option<u32>,
        adjacency: &[Vec<usize>],
    ) -> BTreeSet<AssetKey> {
        let Some(&start) = self.index.get(key) else {
            return BTreeSet::new();
        };
        let mut seen = vec![false; self.keys.len()];
        let mut found = BTreeSet::new();
        let mut queue = VecDeque::from([(start, 0u32)]);
        while let Some((node, level)) = queue.pop_front() {
            if depth.is_some_and(|limit| level >= limit) {
                continue;
            }
            for &next in &adjacency[node] {
                if !seen[next] {
                    seen[next] = true;
                    found.insert(self.keys[next].clone());
                    queue.push_back((next, level + 1));
                }
            }
        }
        found
    }

    /// Every key, upstream before downstream, ties broken alphabetically; or every cycle.
    pub fn topological_order(&self) -> Result<Vec<AssetKey>, Vec<Cycle>> {
        match self.topological_indices() {
            Some(order) => Ok(order.into_iter().map(|i| self.keys[i].clone()).collect()),
            None => Err(self.cycles()),
        }
    }

    /// [`topological_order`](Self::topological_order) as node indices; `None` when there is a
    /// cycle.
    pub fn topological_indices(&self) -> Option<Vec<usize>> {
        let mut remaining: Vec<usize> = self.upstream.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<usize>> = remaining
            .iter()
            .enumerate()
            .filter(|(_, count)| **count == 0)
            .map(|(i, _)| Reverse(i))
            .collect();
        let mut order = Vec::with_capacity(self.keys.len());
        while let Some(Reverse(node)) = ready.pop() {
            order.push(node);
            for &next in &self.downstream[node] {
                remaining[next] -= 1;
                if remaining[next] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        (order.len() == self.keys.len()).then_some(order)
    }

    /// One cycle per strongly connected component that has one, sorted by first key.
    ///
    /// Each cycle starts at the smallest key of its component and follows, at every step, the
    /// smallest dependent that leads back to the start: one cycle per tangle, always the same.
    pub fn cycles(&self) -> Vec<Cycle> {
        let components = self.strongly_connected_components();
        let mut cycles = Vec::new();
        for component in components {
            let start = component[0];
            let single = component.len() == 1;
            if single && !self.downstream[start].contains(&start) {
                continue;
            }
            let mut member = vec![false; self.keys.len()];
            for &node in &component {
                member[node] = true;
            }
            cycles.push(Cycle(
                self.cycle_through(start, &member)
                    .into_iter()
                    .map(|i| self.keys[i].clone())
                    .collect(),
            ));
        }
        cycles.sort_by(|a, b| a.0.cmp(&b.0));
        cycles
    }

    /// A shortest path from `start` back to itself inside one component (breadth first, so the
    /// reported cycle is as short as the component allows).
    fn cycle_through(&self, start: usize, member: &[bool]) -> Vec<usize> {
        let mut parent: Vec<Option<usize>> = vec![None; self.keys.len()];
        let mut queue = VecDeque::from([start]);
        let mut seen = vec![false; self.keys.len()];
        seen[start] = true;
        while let Some(node) = queue.pop_front() {
            for &next in &self.downstream[node] {
                if !member[next] {
                    continue;
                }
                if next == start {
                    let mut path = vec![node];
                    let mut at = node;
                    while let Some(p) = parent[at] {
                        path.push(p);
                        at = p;
                    }
                    if at != start {
                        path.push(start);
                    }
                    path.reverse();
                    path.dedup();
                    return path;
                }
                if !seen[next] {
                    seen[next] = true;
                    parent[next] = Some(node);
                    queue.push_back(next);
                }
            }
        }
        vec![start]
    }

    /// Tarjan's algorithm without recursion; each component sorted, smallest index first.
    fn strongly_connected_components(&self) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.keys.len();
        let mut order = vec![UNSEEN; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut components = Vec::new();
        let mut counter = 0;
        for root in 0..n {
            if order[root] != UNSEEN {
                continue;
            }
            // (node, next child position)
            let mut work: Vec<(usize, usize)> = vec![(root, 0)];
            order[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (node, ref mut child)) = work.last_mut() {
                if let Some(&next) = self.downstream[node].get(*child) {
                    *child += 1;
                    if order[next] == UNSEEN {
                        order[next] = counter;
                        low[next] = counter;
                        counter += 1;
                        stack.push(next);
                        on_stack[next] = true;
                        work.push((next, 0));
                    } else if on_stack[next] {
                        low[node] = low[node].min(order[next]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == order[node] {
                    let mut component = Vec::new();
                    while let Some(top) = stack.pop() {
                        on_stack[top] = false;
                        component.push(top);
                        if top == node {
                            break;
                        }
                    }
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
        components
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> AssetKey {
        AssetKey::parse(text).unwrap()
    }

    fn graph(edges: &[(&str, &[&str])]) -> AssetGraph {
        AssetGraph::new(
            edges
                .iter()
                .map(|(k, ups)| (key(k), ups.iter().map(|u| key(u)).collect::<Vec<_>>())),
        )
        .unwrap()
    }

    fn names(keys: &[AssetKey]) -> Vec<String> {
        keys.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn topological_order_is_alphabetical_among_ready_nodes() {
        let g = graph(&[
            ("s/z", &[]),
            ("s/a", &["s/z"]),
            ("s/m", &[]),
            ("s/b", &["s/m", "s/z"]),
        ]);
        assert_eq!(
            names(&g.topological_order().unwrap()),
            ["s/m", "s/z", "s/a", "s/b"]
        );
    }

    #[test]
    fn adjacency_and_reach() {
        let g = graph(&[
            ("r/a", &[]),
            ("r/b", &["r/a"]),
            ("r/c", &["r/b"]),
            ("r/d", &["r/c", "r/a"]),
        ]);
        let ups: Vec<_> = g.upstream(&key("r/d")).cloned().collect();
        assert_eq!(names(&ups), ["r/a", "r/c"]);
        let downs: Vec<_> = g.downstream(&key("r/a")).cloned().collect();
        assert_eq!(names(&downs), ["r/b", "r/d"]);
        let one: Vec<_> = g.ancestors(&key("r/d"), Some(1)).into_iter().collect();
        assert_eq!(names(&one), ["r/a", "r/c"]);
        let all: Vec<_> = g.ancestors(&key("r/d"), None).into_iter().collect();
        assert_eq!(names(&all), ["r/a", "r/b", "r/c"]);
        let below: Vec<_> = g.descendants(&key("r/b"), None).into_iter().collect();
        assert_eq!(names(&below), ["r/c", "r/d"]);
        assert!(g.ancestors(&key("x/unknown"), None).is_empty());
    }

    #[test]
    fn reports_the_whole_cycle_once() {
        let g = graph(&[
            ("g/a", &["g/c"]),
            ("g/b", &["g/a"]),
            ("g/c", &["g/b"]),
            ("g/d", &["g/c"]),
            ("g/self", &["g/self"]),
        ]);
        let cycles = g.topological_order().unwrap_err();
        let shown: Vec<String> = cycles.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["g/a → g/b → g/c → g/a", "g/self → g/self"]);
    }

    #[test]
    fn a_tangle_gives_one_cycle() {
        // Two cycles sharing g/a form one component: reported once, shortest loop from g/a.
        let g = graph(&[
            ("g/a", &["g/b", "g/c"]),
            ("g/b", &["g/a"]),
            ("g/c", &["g/d"]),
            ("g/d", &["g/a"]),
        ]);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].to_string(), "g/a → g/b → g/a");
    }

    #[test]
    fn rejects_edges_to_unknown_nodes() {
        let error = AssetGraph::new([(key("a/b"), vec![key("a/missing")])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`a/b` depends on `a/missing`, which is not an asset"
        );
    }

    proptest::proptest! {
        /// Random DAGs (edges only from lower to higher node numbers, keys shuffled by
        /// naming): the order is a permutation in which every edge points forward, and it is
        /// the same however the input is ordered.
        #[test]
        fn order_respects_every_edge(
            edges in proptest::collection::vec((0usize..30, 0usize..30), 0..80),
        ) {
            let name = |i: usize| key(&format!("g/n{:02}", (i * 7) % 30));
            let mut nodes: Vec<(AssetKey, Vec<AssetKey>)> = (0..30).map(|i| (name(i), vec![])).collect();
            for (a, b) in &edges {
                let (up, down) = (a.min(b), a.max(b));
                if up != down {
                    nodes[*down].1.push(name(*up));
                }
            }
            let graph = AssetGraph::new(nodes.clone()).unwrap();
            let order = graph.topological_order().unwrap();
            proptest::prop_assert_eq!(order.len(), 30);
            let position: BTreeMap<&AssetKey, usize> = order.iter().enumerate().map(|(i, k)| (k, i)).collect();
            for (down, ups) in &nodes {
                for up in ups {
                    proptest::prop_assert!(position[up] < position[down]);
                }
            }
            nodes.reverse();
            proptest::prop_assert_eq!(AssetGraph::new(nodes).unwrap().topological_order().unwrap(), order);
        }
    }
}
