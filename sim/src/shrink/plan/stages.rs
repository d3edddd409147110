//! The groups the removal stage of [`PlanSearch`] cuts a large plan by: fault kinds, hosts,
//! time windows, the stretch before the failure.

use super::{Pending, PlanSearch};
use crate::fault::FaultPlan;
use crate::network::HostId;
use crate::time::Instant;

impl PlanSearch {
    /// The fault kinds of the accepted plan, the most frequent first (ties in kind order).
    pub(super) fn kinds_by_count(&self) -> Vec<crate::fault::FaultKind> {
        let mut counts: std::collections::BTreeMap<crate::fault::FaultKind, usize> =
            std::collections::BTreeMap::new();
        for a in &self.accepted.actions {
            *counts.entry(a.fault.kind()).or_default() += 1;
        }
        let mut kinds: Vec<_> = counts.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        kinds.into_iter().map(|(k, _)| k).collect()
    }

    /// The earliest and the latest start among the accepted actions (none if there are none).
    pub(super) fn start_span(&self) -> Option<(Instant, Instant)> {
        let starts = self.accepted.actions.iter().map(|a| a.at);
        Some((starts.clone().min()?, starts.max()?))
    }

    /// The indexes of the accepted actions that start in the last `1 / 2^k` of the span from
    /// the first action's start to the failure (or, not knowing it, the last action's start).
    pub(super) fn recent(&self, k: u32) -> Vec<usize> {
        let actions = &self.accepted.actions;
        let Some((first, last)) = self.start_span() else {
            return Vec::new();
        };
        let end = self.failed_at.unwrap_or(last).max(first);
        let from = end.0 - ((end.0 - first.0) >> k);
        (0..actions.len()).filter(|&j| actions[j].at.0 >= from).collect()
    }

    /// The hosts the accepted plan's faults name, the most named first (ties by host), each
    /// named by at least 1 / [`HOST_SHARE`](Self::HOST_SHARE) of them.
    pub(super) fn hosts_by_count(&self) -> Vec<HostId> {
        let mut counts: std::collections::BTreeMap<HostId, usize> = std::collections::BTreeMap::new();
        for a in &self.accepted.actions {
            for h in a.fault.hosts() {
                *counts.entry(h).or_default() += 1;
            }
        }
        let mut hosts: Vec<_> = counts.into_iter().collect();
        hosts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // A host named by few faults is left to the finer stages (and the stage stays short:
        // few hosts hold a 1/HOST_SHARE share each).
        let least = (self.accepted.actions.len() / Self::HOST_SHARE).max(2);
        hosts
            .into_iter()
            .filter(|&(_, n)| n >= least)
            .map(|(h, _)| h)
            .collect()
    }

    /// The indexes of the accepted actions that do not start in window `i` of `n` equal
    /// windows of the span from the first action's start to the last one's.
    pub(super) fn outside_window(&self, n: usize, i: usize) -> Vec<usize> {
        let actions = &self.accepted.actions;
        let Some((first, last)) = self.start_span() else {
            return Vec::new();
        };
        let span = u128::from(last.0 - first.0) + 1;
        let window = |at: Instant| (u128::from(at.0 - first.0) * n as u128 / span) as usize;
        (0..actions.len())
            .filter(|&j| window(actions[j].at) != i)
            .collect()
    }

    /// The accepted plan with only the actions at `indexes` (ascending).
    pub(super) fn subset(&self, indexes: &[usize]) -> Pending {
        Pending {
            plan: FaultPlan {
                actions: indexes
                    .iter()
                    .map(|&i| self.accepted.actions[i].clone())
                    .collect(),
                heal_at: self.accepted.heal_at,
            },
            origin: indexes.iter().map(|&i| self.origin[i]).collect(),
        }
    }
}
