//! One-step simplifications of a single fault, the third stage of [`PlanSearch`](super::PlanSearch).

use super::PlanSearch;
use crate::fault::{Fault, Pick, RoleTarget};
use crate::network::{HostId, HostSpec, NetworkChaos, Partition};
use crate::time::Duration;

/// The same fault lasting `d` instead (`None` for faults without a duration).
pub fn with_duration(fault: &Fault, d: Duration) -> Option<Fault> {
    let mut f = fault.clone();
    *f.duration_mut()? = d;
    Some(f)
}

/// The same role-targeted fault aimed at `target` instead (other faults unchanged).
fn with_target(fault: &Fault, new: RoleTarget) -> Fault {
    let mut f = fault.clone();
    match &mut f {
        Fault::CrashRole { target, .. }
        | Fault::PauseRole { target, .. }
        | Fault::KillRole { target, .. }
        | Fault::IsolateRole { target, .. }
        | Fault::DegradeRole { target, .. } => *target = new,
        _ => {}
    }
    f
}

/// The one-step simplifications of `fault` on a topology of `hosts`, most drastic first. Each
/// strictly decreases a measure (partition shape, hosts named, a duration or magnitude), so
/// shrinking terminates.
pub fn simplifications(fault: &Fault, hosts: &[HostSpec]) -> Vec<Fault> {
    let mut out = Vec::new();
    match fault {
        Fault::Partition { partition, duration } => {
            for p in simpler_partitions(partition, hosts) {
                out.push(Fault::Partition {
                    partition: p,
                    duration: *duration,
                });
            }
        }
        Fault::KillProcess {
            host,
            process_index,
            down_for,
        } => {
            // Lower indexes first; a small index names the same process whatever the count.
            for i in 0..(*process_index).min(4) {
                out.push(Fault::KillProcess {
                    host: *host,
                    process_index: i,
                    down_for: *down_for,
                });
            }
        }
        Fault::SlowLink {
            from,
            to,
            factor,
            duration,
        } if *factor > 2 => out.push(Fault::SlowLink {
            from: *from,
            to: *to,
            factor: (*factor / 2).max(2),
            duration: *duration,
        }),
        Fault::SlowDisk {
            host,
            factor,
            duration,
        } if *factor > 2 => out.push(Fault::SlowDisk {
            host: *host,
            factor: (*factor / 2).max(2),
            duration: *duration,
        }),
        Fault::ClockJump { host, delta_ns } if delta_ns.unsigned_abs() >= 2 * PlanSearch::DURATION_MIN.0 => {
            out.push(Fault::ClockJump {
                host: *host,
                delta_ns: delta_ns / 2,
            });
        }
        Fault::ClockDrift {
            host,
            drift_ppm,
            duration,
        } if drift_ppm.unsigned_abs() >= 2 => out.push(Fault::ClockDrift {
            host: *host,
            drift_ppm: drift_ppm / 2,
            duration: *duration,
        }),
        Fault::NetworkChaos { chaos, duration } => {
            let quieter = |f: fn(&mut NetworkChaos)| {
                let mut c = *chaos;
                f(&mut c);
                Fault::NetworkChaos {
                    chaos: c,
                    duration: *duration,
                }
            };
            if chaos.loss > 0.0 {
                out.push(quieter(|c| c.loss = 0.0));
            }
            if chaos.duplicate > 0.0 {
                out.push(quieter(|c| c.duplicate = 0.0));
            }
            if chaos.reorder > 0.0 {
                out.push(quieter(|c| c.reorder = 0.0));
            }
        }
        _ => {}
    }
    if let Some(target) = fault.target() {
        // A crash of a role's host becomes a kill of its process (no disk loss, others on the
        // host live); then a share of the role becomes one random player, and a random
        // player the first one (no draw at all).
        if let Fault::CrashRole { target, down_for } = fault {
            out.push(Fault::KillRole {
                target: target.clone(),
                down_for: *down_for,
            });
        }
        let simpler_pick = match target.pick {
            Pick::Percent(_) => Some(Pick::Random),
            Pick::Random => Some(Pick::First),
            Pick::First => None,
        };
        if let Some(pick) = simpler_pick {
            out.push(with_target(
                fault,
                RoleTarget {
                    role: target.role.clone(),
                    pick,
                },
            ));
        }
    }
    if let Some(d) = fault.duration() {
        let half = Duration(d.0 / 2);
        if half >= PlanSearch::DURATION_MIN {
            out.push(with_duration(fault, half).expect("the fault has a duration"));
        }
    }
    out
}

/// Simpler partitions: a simpler shape first, then the same shape naming fewer hosts.
fn simpler_partitions(partition: &Partition, hosts: &[HostSpec]) -> Vec<Partition> {
    let without = |side: &[HostId], i: usize| -> Vec<HostId> {
        let mut s = side.to_vec();
        s.remove(i);
        s
    };
    let mut out = Vec::new();
    match partition {
        Partition::Isolate { .. } => {}
        Partition::Halves { side } => {
            out.extend(side.iter().map(|&host| Partition::Isolate { host }));
            if side.len() >= 2 {
                out.extend((0..side.len()).map(|i| Partition::Halves {
                    side: without(side, i),
                }));
            }
        }
        Partition::OneWay { from, to } => {
            if from.len() >= 2 {
                out.extend((0..from.len()).map(|i| Partition::OneWay {
                    from: without(from, i),
                    to: to.clone(),
                }));
            }
            if to.len() >= 2 {
                out.extend((0..to.len()).map(|i| Partition::OneWay {
                    from: from.clone(),
                    to: without(to, i),
                }));
            }
        }
        Partition::Bridge { left, right, bridge } => {
            // Without the bridge host's double role: left against everyone else.
            if !left.is_empty() {
                out.push(Partition::Halves { side: left.clone() });
            }
            if left.len() >= 2 {
                out.extend((0..left.len()).map(|i| Partition::Bridge {
                    left: without(left, i),
                    right: right.clone(),
                    bridge: *bridge,
                }));
            }
            if right.len() >= 2 {
                out.extend((0..right.len()).map(|i| Partition::Bridge {
                    left: left.clone(),
                    right: without(right, i),
                    bridge: *bridge,
                }));
            }
        }
        Partition::Zone { zone } => {
            let side: Vec<HostId> = hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| h.zone.as_deref() == Some(zone.as_str()))
                .map(|(i, _)| HostId(i as u32))
                .collect();
            if !side.is_empty() {
                out.push(Partition::Halves { side });
            }
        }
    }
    out
}
