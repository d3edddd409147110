//! An explicit fault plan: timestamped faults, checked against the topology, printable.

use super::Fault;
use crate::network::{HostSpec, Partition};
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A fault and when it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultAction {
    /// True time the fault begins.
    pub at: Instant,
    /// The fault.
    pub fault: Fault,
}

/// An explicit list of faults: what a run will suffer, decided before it starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// The faults, sorted by start time.
    pub actions: Vec<FaultAction>,
    /// When every fault is undone and the liveness phase begins (`None`: after the last fault ends).
    pub heal_at: Option<Instant>,
}

impl FaultPlan {
    /// An empty plan: no faults.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// When faults stop: `heal_at`, or the end of the last fault.
    pub fn faults_end(&self) -> Instant {
        self.heal_at.unwrap_or_else(|| {
            self.actions
                .iter()
                .map(|a| a.at.saturating_add(a.fault.duration().unwrap_or_default()))
                .max()
                .unwrap_or(Instant::ZERO)
        })
    }

    /// Checks that every host named exists and durations make sense.
    pub fn validate(&self, hosts: &[HostSpec]) -> Result<(), String> {
        for (i, a) in self.actions.iter().enumerate() {
            for h in a.fault.hosts() {
                if h.index() >= hosts.len() {
                    return Err(format!(
                        "fault #{i} ({}) names host {h}, but the topology has {} hosts",
                        a.fault,
                        hosts.len()
                    ));
                }
            }
            if let Fault::Partition {
                partition: Partition::Zone { zone },
                ..
            } = &a.fault
                && !hosts.iter().any(|h| h.zone.as_deref() == Some(zone.as_str()))
            {
                return Err(format!("fault #{i} cuts zone {zone:?}, which has no hosts"));
            }
            if let Fault::NetworkChaos { chaos, .. } = &a.fault {
                for (name, p) in [
                    ("loss", chaos.loss),
                    ("duplicate", chaos.duplicate),
                    ("reorder", chaos.reorder),
                ] {
                    if !(0.0..=1.0).contains(&p) {
                        return Err(format!("fault #{i}: {name} probability {p} is not within 0..=1"));
                    }
                }
            }
            if let Fault::Degrade { mode, .. } | Fault::DegradeRole { mode, .. } = &a.fault
                && mode.trim().is_empty()
            {
                return Err(format!("fault #{i}: a degrade fault needs a mode"));
            }
            if let Some(target) = a.fault.target() {
                target
                    .validate()
                    .map_err(|m| format!("fault #{i} ({}): {m}", a.fault))?;
            }
        }
        let concurrent = self.max_concurrent_partitions();
        if concurrent > crate::network::MAX_ACTIVE_PARTITIONS {
            return Err(format!(
                "{concurrent} partitions are active at once, over the bound of {}",
                crate::network::MAX_ACTIVE_PARTITIONS
            ));
        }
        Ok(())
    }

    /// The most partitions active at the same time (ends before starts at equal times).
    pub fn max_concurrent_partitions(&self) -> usize {
        let mut edges: Vec<(Instant, i8)> = Vec::new();
        for a in &self.actions {
            if a.fault.is_partition() {
                let duration = a.fault.duration().unwrap_or_default();
                edges.push((a.at, 1));
                edges.push((a.at.saturating_add(duration), -1));
            }
        }
        edges.sort();
        let (mut now, mut most) = (0i64, 0i64);
        for (_, d) in edges {
            now += i64::from(d);
            most = most.max(now);
        }
        most as usize
    }

    /// Sorts actions by start time (stable, so equal times keep their order).
    pub fn sort(&mut self) {
        self.actions.sort_by_key(|a| a.at);
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.actions.is_empty() {
            writeln!(f, "  (no faults)")?;
        }
        for (i, a) in self.actions.iter().enumerate() {
            writeln!(f, "  #{i:<3} {:>16}  {}", a.at.to_string(), a.fault)?;
        }
        if let Some(h) = self.heal_at {
            writeln!(f, "  heal everything at {h}")?;
        }
        Ok(())
    }
}
