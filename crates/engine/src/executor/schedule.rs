//! Which step may start next: dependency counts, the run's concurrency and per-pool limits, and
//! skipping everything downstream of a failure. No I/O, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use strata_core::plan::PlannedStep;

/// How a finished step affects the steps that wait for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Finished {
    /// Downstream steps may use its output.
    Succeeded,
    /// Downstream steps are skipped: `reason` says why (the step failed, or a blocking check
    /// of its output failed).
    Stops(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
    Skipped,
}

/// The scheduling state of one run.
pub(crate) struct Schedule {
    state: Vec<State>,
    /// Upstream steps not yet succeeded, per step.
    waiting_on: Vec<usize>,
    downstream: Vec<Vec<usize>>,
    pools: Vec<Option<String>>,
    /// Steps whose upstream all succeeded, in plan order (upstream first).
    ready: BTreeSet<usize>,
    running: usize,
    concurrency: usize,
    pool_limits: BTreeMap<String, usize>,
    pool_running: BTreeMap<String, usize>,
}

impl Schedule {
    /// A schedule for `steps`; `pools[i]` is the pool step `i` takes a slot of.
    pub(crate) fn new(
        steps: &[PlannedStep],
        pools: Vec<Option<String>>,
        concurrency: usize,
        pool_limits: BTreeMap<String, usize>,
    ) -> Self {
        let mut downstream = vec![Vec::new(); steps.len()];
        for (id, step) in steps.iter().enumerate() {
            for &up in &step.upstream {
                downstream[up].push(id);
            }
        }
        let waiting_on: Vec<usize> = steps.iter().map(|s| s.upstream.len()).collect();
        let ready = (0..steps.len()).filter(|&i| waiting_on[i] == 0).collect();
        Self {
            state: vec![State::Waiting; steps.len()],
            waiting_on,
            downstream,
            pools,
            ready,
            running: 0,
            concurrency: concurrency.max(1),
            pool_limits,
            pool_running: BTreeMap::new(),
        }
    }

    /// The next step that may start now, marked running; `None` when every ready step is held
    /// back by a limit (or nothing is ready).
    pub(crate) fn next(&mut self) -> Option<usize> {
        if self.running >= self.concurrency {
            return None;
        }
        let id = *self.ready.iter().find(|&&id| self.pool_has_room(id))?;
        self.ready.remove(&id);
        self.state[id] = State::Running;
        self.running += 1;
        if let Some(pool) = &self.pools[id] {
            *self.pool_running.entry(pool.clone()).or_default() += 1;
        }
        Some(id)
    }

    fn pool_has_room(&self, id: usize) -> bool {
        match &self.pools[id] {
            Some(pool) => match self.pool_limits.get(pool) {
                Some(&limit) => self.pool_running.get(pool).copied().unwrap_or(0) < limit.max(1),
                None => true,
            },
            None => true,
        }
    }

    /// Records that running step `id` finished. Returns the steps skipped because of it (every
    /// step downstream of a stop, transitively), each with the reason.
    pub(crate) fn finish(&mut self, id: usize, finished: Finished) -> Vec<(usize, String)> {
        debug_assert_eq!(self.state[id], State::Running);
        self.state[id] = State::Done;
        self.running -= 1;
        if let Some(pool) = &self.pools[id]
            && let Some(count) = self.pool_running.get_mut(pool)
        {
            *count -= 1;
        }
        match finished {
            Finished::Succeeded => {
                for &down in &self.downstream[id] {
                    self.waiting_on[down] -= 1;
                    if self.waiting_on[down] == 0 && self.state[down] == State::Waiting {
                        self.ready.insert(down);
                    }
                }
                Vec::new()
            }
            Finished::Stops(reason) => self.skip_downstream(id, &reason),
        }
    }

    fn skip_downstream(&mut self, id: usize, reason: &str) -> Vec<(usize, String)> {
        let mut skipped = Vec::new();
        let mut stack: Vec<usize> = self.downstream[id].clone();
        while let Some(down) = stack.pop() {
            if self.state[down] != State::Waiting {
                continue;
            }
            self.state[down] = State::Skipped;
            self.ready.remove(&down);
            skipped.push((down, reason.to_string()));
            stack.extend(self.downstream[down].iter().copied());
        }
        skipped.sort_unstable();
        skipped
    }

    /// Marks every step not yet started as skipped (cancellation) and returns them.
    pub(crate) fn skip_the_rest(&mut self) -> Vec<usize> {
        let rest: Vec<usize> = (0..self.state.len())
            .filter(|&i| self.state[i] == State::Waiting)
            .collect();
        for &i in &rest {
            self.state[i] = State::Skipped;
        }
        self.ready.clear();
        rest
    }

    /// Steps executing now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Whether no step is running and none can start.
    pub(crate) fn is_done(&self) -> bool {
        self.running == 0 && self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::key::AssetKey;

    fn steps(upstream: &[&[usize]]) -> Vec<PlannedStep> {
        upstream
            .iter()
            .map(|ups| PlannedStep {
                asset: AssetKey::parse("g/a").unwrap(),
                partitions: None,
                upstream: ups.to_vec(),
            })
            .collect()
    }

    #[test]
    fn steps_start_after_their_upstream_within_the_concurrency_limit() {
        // 0 → 2, 1 → 2, 2 → 3
        let plan = steps(&[&[], &[], &[0, 1], &[2]]);
        let mut s = Schedule::new(&plan, vec![None; 4], 1, BTreeMap::new());
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.next(), None, "concurrency 1");
        s.finish(0, Finished::Succeeded);
        assert_eq!(s.next(), Some(1));
        assert_eq!(s.next(), None);
        s.finish(1, Finished::Succeeded);
        assert_eq!(s.next(), Some(2));
        s.finish(2, Finished::Succeeded);
        assert_eq!(s.next(), Some(3));
        assert!(!s.is_done());
        s.finish(3, Finished::Succeeded);
        assert!(s.is_done());
    }

    #[test]
    fn a_pool_limits_its_steps_but_not_the_others() {
        let plan = steps(&[&[], &[], &[], &[]]);
        let pools = vec![
            Some("warehouse".to_string()),
            Some("warehouse".to_string()),
            Some("warehouse".to_string()),
            None,
        ];
        let mut s = Schedule::new(&plan, pools, 3, BTreeMap::from([("warehouse".into(), 2)]));
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.next(), Some(1));
        assert_eq!(s.next(), Some(3), "step 2 waits for a warehouse slot");
        assert_eq!(s.next(), None);
        s.finish(0, Finished::Succeeded);
        assert_eq!(s.next(), Some(2));
        assert_eq!(s.running(), 3);
    }

    #[test]
    fn a_stop_skips_everything_downstream_with_its_reason() {
        // 0 → 1 → 2, 3 independent, 0 → 4 ← 3
        let plan = steps(&[&[], &[0], &[1], &[], &[0, 3]]);
        let mut s = Schedule::new(&plan, vec![None; 5], 4, BTreeMap::new());
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.next(), Some(3));
        let skipped = s.finish(0, Finished::Stops("g/a failed".into()));
        assert_eq!(
            skipped,
            vec![
                (1, "g/a failed".to_string()),
                (2, "g/a failed".to_string()),
                (4, "g/a failed".to_string())
            ]
        );
        assert!(s.finish(3, Finished::Succeeded).is_empty());
        assert_eq!(s.next(), None);
        assert!(s.is_done());
    }

    #[test]
    fn cancellation_skips_what_has_not_started() {
        let plan = steps(&[&[], &[0], &[]]);
        let mut s = Schedule::new(&plan, vec![None; 3], 1, BTreeMap::new());
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.skip_the_rest(), vec![1, 2]);
        s.finish(0, Finished::Succeeded);
        assert_eq!(s.next(), None);
        assert!(s.is_done());
    }
}
