//! Mutations of a fault plan for the guided search, each keeping the plan valid and within
//! the scenario's fault profile.
//!
//! What "within the profile" means ([`Bounds::check`]): every fault ends by the plan's heal (or
//! the horizon); a changed duration stays within its kind's `duration_min..=duration_max`;
//! clock drift within `clock_drift_max_ppm`, clock steps within `clock_jump_max`, slow links
//! within `slow_factor_max`; crashes and pauses within `max_hosts_down` (no host down twice at
//! once); and `FaultPlan::validate` passes. A scenario with an explicit plan has no profile:
//! then only the heal and `validate` bound the mutations.

use ruckus_sim::{
    Duration, Fault, FaultAction, FaultKind, FaultPlan, FaultProfile, HostId, HostSpec, Instant, Partition,
    Random,
};

/// One way of changing a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mutation {
    /// One action starts at another time (near its old one, or anywhere).
    Move,
    /// One action lasts longer or shorter (a clock step gets bigger or smaller).
    Stretch,
    /// One action is copied to another time.
    Duplicate,
    /// One action hits other hosts (or another process of its host).
    Retarget,
    /// The actions of a time window are taken from another corpus entry's plan.
    Combine,
    /// Two hosts' clocks drift at the profile's bound in opposite directions over one window
    /// (their other drifts in that window removed); half the time one host against all the
    /// others.
    OppositeDrift,
    /// One action is removed.
    Drop,
    /// The run's seed changes (new workload draws and buggify choices), the plan stays.
    Reseed,
}

impl Mutation {
    /// Every mutation, in the order the search weighs them.
    pub const ALL: [Mutation; 8] = [
        Mutation::Move,
        Mutation::Stretch,
        Mutation::Duplicate,
        Mutation::Retarget,
        Mutation::Combine,
        Mutation::OppositeDrift,
        Mutation::Drop,
        Mutation::Reseed,
    ];

    /// How often the search picks it, relative to the others.
    pub fn weight(self) -> u64 {
        match self {
            Mutation::Move | Mutation::OppositeDrift => 3,
            Mutation::Stretch | Mutation::Duplicate | Mutation::Retarget => 2,
            Mutation::Combine | Mutation::Drop | Mutation::Reseed => 1,
        }
    }

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Move => "move",
            Mutation::Stretch => "stretch",
            Mutation::Duplicate => "duplicate",
            Mutation::Retarget => "retarget",
            Mutation::Combine => "combine",
            Mutation::OppositeDrift => "opposite drift",
            Mutation::Drop => "drop",
            Mutation::Reseed => "reseed",
        }
    }
}

/// What bounds a scenario's plans: its hosts, when faults must end, and its profile.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// The topology's hosts.
    pub hosts: Vec<HostSpec>,
    /// Every fault ends by this: the plan's heal, or the horizon.
    pub end: Instant,
    /// The profile plans come from (`None` for an explicit plan).
    pub profile: Option<FaultProfile>,
}

impl Bounds {
    /// The bounds of plans like `plan` on `hosts` with horizon `horizon`.
    pub fn new(
        hosts: &[HostSpec],
        plan: &FaultPlan,
        horizon: Duration,
        profile: Option<FaultProfile>,
    ) -> Bounds {
        Bounds {
            hosts: hosts.to_vec(),
            end: plan.heal_at.unwrap_or(Instant(horizon.0)),
            profile,
        }
    }

    /// The profile's duration range for `kind` (`None` without a profile or a rate for it).
    fn durations(&self, kind: FaultKind) -> Option<(Duration, Duration)> {
        let rate = self.profile.as_ref()?.rate(kind)?;
        Some((rate.duration_min, rate.duration_max))
    }

    /// Whether the profile has parts beyond the per-kind rates (role faults, zone outages,
    /// ...): their faults follow their own settings, so only the per-kind bounds that every
    /// profile plan obeys are checked then.
    fn has_chaos_parts(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| {
            !p.role_faults.is_empty()
                || p.instance_killer.is_some()
                || p.latency_monkey.is_some()
                || p.zone_outage.is_some()
                || p.zone_partition.is_some()
                || p.clock_skew.is_some()
                || p.leader_crash.is_some()
        })
    }

    /// Checks `plan` against the bounds (see the module docs); `Err` names the first breach.
    pub fn check(&self, plan: &FaultPlan) -> Result<(), String> {
        plan.validate(&self.hosts)?;
        let mut down: Vec<(HostId, Instant, Instant)> = Vec::new();
        for (i, a) in plan.actions.iter().enumerate() {
            let d = a.fault.duration().unwrap_or_default();
            if a.at.saturating_add(d) > self.end {
                return Err(format!("fault #{i} ({}) ends after {}", a.fault, self.end));
            }
            let Some(p) = &self.profile else { continue };
            if self.has_chaos_parts() {
                continue;
            }
            if let Some((_, max)) = self.durations(a.fault.kind())
                && d > max
            {
                return Err(format!("fault #{i} ({}) lasts longer than {max}", a.fault));
            }
            match &a.fault {
                Fault::ClockDrift { drift_ppm, .. } if drift_ppm.abs() > p.clock_drift_max_ppm.abs() => {
                    return Err(format!("fault #{i} drifts past {} ppm", p.clock_drift_max_ppm));
                }
                Fault::ClockJump { delta_ns, .. } if delta_ns.unsigned_abs() > p.clock_jump_max.0 => {
                    return Err(format!("fault #{i} steps a clock past {}", p.clock_jump_max));
                }
                Fault::SlowLink { factor, .. } if *factor > p.slow_factor_max.max(2) => {
                    return Err(format!("fault #{i} slows a link past x{}", p.slow_factor_max));
                }
                Fault::SlowDisk { factor, .. } if *factor > p.slow_factor_max.max(2) => {
                    return Err(format!("fault #{i} slows a disk past x{}", p.slow_factor_max));
                }
                Fault::CrashHost { host, .. } | Fault::PauseHost { host, .. } => {
                    down.push((*host, a.at, a.at.saturating_add(d)));
                }
                _ => {}
            }
        }
        if let Some(p) = &self.profile {
            for (j, (host, start, _)) in down.iter().enumerate() {
                let at_once: Vec<&(HostId, Instant, Instant)> = down
                    .iter()
                    .enumerate()
                    .filter(|(k, (_, s, e))| *k != j && s <= start && e > start)
                    .map(|(_, x)| x)
                    .collect();
                if at_once.iter().any(|(h, _, _)| h == host) {
                    return Err(format!("host {host} is crashed or paused twice at {start}"));
                }
                if at_once.len() as u32 >= p.max_hosts_down.max(1) {
                    return Err(format!(
                        "more than max_hosts_down = {} hosts are down at {start}",
                        p.max_hosts_down
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether `mutation` can apply to plans under these bounds at all.
    pub fn allows(&self, mutation: Mutation) -> bool {
        match mutation {
            Mutation::OppositeDrift => {
                self.hosts.len() >= 2
                    && self
                        .profile
                        .as_ref()
                        .is_some_and(|p| p.clock_drift.is_some() && p.clock_drift_max_ppm != 0)
            }
            _ => true,
        }
    }
}

/// Applies `mutation` to `plan` (drawing from `rng`; `other` is a second corpus plan for
/// [`Mutation::Combine`]). `false` when it does not apply (an empty plan, no second plan, no
/// host to move to); the plan is then unchanged. The result is sorted by start time; the caller
/// still checks it with [`Bounds::check`] (crashes may now overlap past `max_hosts_down`).
pub fn mutate(
    plan: &mut FaultPlan,
    mutation: Mutation,
    other: Option<&FaultPlan>,
    bounds: &Bounds,
    rng: &mut Random,
) -> bool {
    let applied = match mutation {
        Mutation::Move => pick(plan, rng).is_some_and(|i| {
            let d = plan.actions[i].fault.duration().unwrap_or_default();
            plan.actions[i].at = new_start(plan.actions[i].at, d, bounds, rng);
            true
        }),
        Mutation::Stretch => pick(plan, rng).is_some_and(|i| stretch(&mut plan.actions[i], bounds, rng)),
        Mutation::Duplicate => pick(plan, rng).is_some_and(|i| {
            let mut copy = plan.actions[i].clone();
            let d = copy.fault.duration().unwrap_or_default();
            copy.at = anywhere(d, bounds, rng);
            plan.actions.push(copy);
            true
        }),
        Mutation::Retarget => {
            pick(plan, rng).is_some_and(|i| retarget(&mut plan.actions[i].fault, bounds, rng))
        }
        Mutation::Combine => other.is_some_and(|o| combine(plan, o, bounds, rng)),
        Mutation::OppositeDrift => opposite_drift(plan, bounds, rng),
        Mutation::Drop => pick(plan, rng).is_some_and(|i| {
            plan.actions.remove(i);
            true
        }),
        Mutation::Reseed => false,
    };
    if applied {
        plan.sort();
    }
    applied
}

fn pick(plan: &FaultPlan, rng: &mut Random) -> Option<usize> {
    (!plan.actions.is_empty()).then(|| rng.index(plan.actions.len()))
}

/// The latest start for a fault of length `d`.
fn latest(d: Duration, bounds: &Bounds) -> u64 {
    bounds.end.0.saturating_sub(d.0)
}

fn anywhere(d: Duration, bounds: &Bounds, rng: &mut Random) -> Instant {
    Instant(rng.range_inclusive(0, latest(d, bounds)))
}

/// Half the time near `at` (within a tenth of the faulted span), else anywhere.
fn new_start(at: Instant, d: Duration, bounds: &Bounds, rng: &mut Random) -> Instant {
    let last = latest(d, bounds);
    if rng.chance(0.5) {
        return Instant(rng.range_inclusive(0, last));
    }
    let w = (bounds.end.0 / 10).max(1);
    let lo = at.0.saturating_sub(w).min(last);
    let hi = at.0.saturating_add(w).min(last);
    Instant(rng.range_inclusive(lo, hi.max(lo)))
}

/// A new duration for `d`: half the time the kind's bound (shortest or longest), else from
/// half to twice `d`; within the kind's range and ending by the heal.
fn new_duration(kind: FaultKind, at: Instant, d: Duration, bounds: &Bounds, rng: &mut Random) -> Duration {
    let (lo, hi) = bounds
        .durations(kind)
        .unwrap_or((Duration(d.0 / 2), Duration(d.0.saturating_mul(2))));
    let (lo, hi) = (lo.0.min(hi.0), hi.0);
    let wanted = if rng.chance(0.5) {
        if rng.chance(0.5) { lo } else { hi }
    } else {
        rng.range_inclusive(d.0 / 2, d.0.saturating_mul(2).max(1))
    };
    let room = bounds.end.0.saturating_sub(at.0);
    Duration(wanted.clamp(lo, hi.max(lo)).min(room))
}

fn stretch(a: &mut FaultAction, bounds: &Bounds, rng: &mut Random) -> bool {
    let kind = a.fault.kind();
    if let Fault::ClockJump { delta_ns, .. } = &mut a.fault {
        let max = bounds
            .profile
            .as_ref()
            .map_or(delta_ns.unsigned_abs().saturating_mul(2), |p| p.clock_jump_max.0)
            .max(1);
        let mag = if rng.chance(0.5) {
            max
        } else {
            rng.range_inclusive(1, max)
        };
        let mag = i64::try_from(mag).unwrap_or(i64::MAX);
        *delta_ns = if *delta_ns < 0 { -mag } else { mag };
        return true;
    }
    let Some(d) = a.fault.duration() else { return false };
    let new = new_duration(kind, a.at, d, bounds, rng);
    set_duration(&mut a.fault, new);
    true
}

fn set_duration(fault: &mut Fault, new: Duration) {
    if let Some(d) = fault.duration_mut() {
        *d = new;
    }
}

/// Another host than `h`, or `None` with one host.
fn other_host(h: HostId, n: usize, rng: &mut Random) -> Option<HostId> {
    (n >= 2).then(|| HostId(((h.0 as u64 + 1 + rng.below(n as u64 - 1)) % n as u64) as u32))
}

fn retarget(fault: &mut Fault, bounds: &Bounds, rng: &mut Random) -> bool {
    let n = bounds.hosts.len();
    match fault {
        Fault::CrashHost { host, .. }
        | Fault::PauseHost { host, .. }
        | Fault::ClockJump { host, .. }
        | Fault::ClockDrift { host, .. }
        | Fault::Degrade { host, .. }
        | Fault::SlowDisk { host, .. } => other_host(*host, n, rng).map(|h| *host = h).is_some(),
        Fault::KillProcess {
            host, process_index, ..
        } => {
            // Another host, or another of this host's processes.
            if n >= 2 && rng.chance(0.5) {
                other_host(*host, n, rng).map(|h| *host = h).is_some()
            } else {
                *process_index = process_index.wrapping_add(1 + rng.below(7) as u32) % (1 << 16);
                true
            }
        }
        Fault::Clog { from, to, .. } | Fault::SlowLink { from, to, .. } => {
            if n < 2 {
                return false;
            }
            if rng.chance(0.5) {
                std::mem::swap(from, to);
            } else {
                *from = HostId(rng.below(n as u64) as u32);
                *to = other_host(*from, n, rng).unwrap_or(*to);
            }
            true
        }
        Fault::Partition { partition, .. } => retarget_partition(partition, bounds, rng),
        Fault::NetworkChaos { .. }
        | Fault::CrashRole { .. }
        | Fault::PauseRole { .. }
        | Fault::KillRole { .. }
        | Fault::IsolateRole { .. }
        | Fault::DegradeRole { .. } => false,
    }
}

fn retarget_partition(partition: &mut Partition, bounds: &Bounds, rng: &mut Random) -> bool {
    let n = bounds.hosts.len();
    if n < 2 {
        return false;
    }
    let mut ids: Vec<HostId> = (0..n as u32).map(HostId).collect();
    rng.shuffle(&mut ids);
    match partition {
        Partition::Isolate { host } => other_host(*host, n, rng).map(|h| *host = h).is_some(),
        Partition::Halves { side } => {
            let k = side.len().clamp(1, n - 1);
            *side = sorted(&ids[..k]);
            true
        }
        Partition::OneWay { from, to } => {
            std::mem::swap(from, to);
            true
        }
        Partition::Bridge { left, right, bridge } => {
            if n < 3 {
                return false;
            }
            let mid = 1 + (n - 1) / 2;
            *bridge = ids[0];
            *left = sorted(&ids[1..mid]);
            *right = sorted(&ids[mid..]);
            true
        }
        Partition::Zone { zone } => {
            let mut zones: Vec<&str> = bounds.hosts.iter().filter_map(|h| h.zone.as_deref()).collect();
            zones.sort();
            zones.dedup();
            zones.retain(|z| *z != zone.as_str());
            if zones.is_empty() {
                return false;
            }
            *zone = zones[rng.index(zones.len())].to_owned();
            true
        }
    }
}

fn sorted(hosts: &[HostId]) -> Vec<HostId> {
    let mut v = hosts.to_vec();
    v.sort();
    v
}

/// The actions of `other` starting in a random window replace those of `plan` there.
fn combine(plan: &mut FaultPlan, other: &FaultPlan, bounds: &Bounds, rng: &mut Random) -> bool {
    if other.actions.is_empty() || bounds.end.0 == 0 {
        return false;
    }
    let width = rng.range_inclusive(1, (bounds.end.0 / 2).max(1));
    let from = rng.range_inclusive(0, bounds.end.0.saturating_sub(width));
    let inside = |a: &FaultAction| a.at.0 >= from && a.at.0 < from + width;
    let taken: Vec<FaultAction> = other.actions.iter().filter(|a| inside(a)).cloned().collect();
    let before = plan.actions.len();
    plan.actions.retain(|a| !inside(a));
    if taken.is_empty() && plan.actions.len() == before {
        return false;
    }
    plan.actions.extend(taken);
    true
}

/// Two hosts (or one host and all the others) drift at plus and minus the profile's bound over
/// one window; their other drifts overlapping it are removed, so the extremes hold for the
/// whole window.
fn opposite_drift(plan: &mut FaultPlan, bounds: &Bounds, rng: &mut Random) -> bool {
    if !bounds.allows(Mutation::OppositeDrift) {
        return false;
    }
    let Some(profile) = &bounds.profile else {
        return false;
    };
    let Some((lo, hi)) = bounds.durations(FaultKind::ClockDrift) else {
        return false;
    };
    let n = bounds.hosts.len();
    // One host at one bound; another (half the time: every other host) at the other.
    let one = HostId(rng.below(n as u64) as u32);
    let Some(second) = other_host(one, n, rng) else {
        return false;
    };
    let rest: Vec<HostId> = if rng.chance(0.5) {
        vec![second]
    } else {
        (0..n as u32).map(HostId).filter(|h| *h != one).collect()
    };
    let sign = if rng.chance(0.5) { 1 } else { -1 };
    // Any length the profile allows: a window over the whole run would rarely catch the
    // slow host in the role that matters (a slow clock makes a late candidate).
    let d = rng.range_inclusive(lo.0.min(hi.0), hi.0);
    let d = Duration(d.min(bounds.end.0));
    if d.0 == 0 {
        return false;
    }
    // Half the time over the start of another fault (a partition, a pause: what the drift
    // must coincide with), else anywhere.
    let others: Vec<Instant> = plan
        .actions
        .iter()
        .filter(|a| a.fault.kind() != FaultKind::ClockDrift)
        .map(|a| a.at)
        .collect();
    let at = if !others.is_empty() && rng.chance(0.5) {
        let anchor = others[rng.index(others.len())];
        Instant(
            anchor
                .0
                .saturating_sub(rng.range_inclusive(0, d.0))
                .min(latest(d, bounds)),
        )
    } else {
        anywhere(d, bounds, rng)
    };
    let until = at.saturating_add(d);
    plan.actions.retain(|a| match &a.fault {
        Fault::ClockDrift { host, duration, .. } if *host == one || rest.contains(host) => {
            a.at.saturating_add(*duration) <= at || a.at >= until
        }
        _ => true,
    });
    let ppm = profile.clock_drift_max_ppm.abs();
    let pushed = std::iter::once((one, sign * ppm)).chain(rest.iter().map(|h| (*h, -sign * ppm)));
    for (host, drift_ppm) in pushed {
        plan.actions.push(FaultAction {
            at,
            fault: Fault::ClockDrift {
                host,
                drift_ppm,
                duration: d,
            },
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::runner;

    /// Bounds and some profile plans of a built-in scenario.
    fn plans(name: &str, seeds: u64) -> (Bounds, Vec<FaultPlan>) {
        let s = Registry::builtin().scenario(name, &[]).unwrap();
        let hosts = runner::topology(&s.topology).hosts().to_vec();
        let plans: Vec<FaultPlan> = (0..seeds).map(|seed| runner::fault_plan(&s, seed)).collect();
        let bounds = Bounds::new(
            &hosts,
            &plans[0],
            s.limits.horizon,
            Some(s.faults.profile.clone()),
        );
        (bounds, plans)
    }

    #[test]
    fn every_mutation_keeps_the_plan_valid_and_within_the_profile() {
        for name in [
            "lease_lock_no_fencing",
            "raft_lease_without_drift_margin",
            "consul",
        ] {
            let (bounds, plans) = plans(name, 10);
            let mut rng = Random::stream(7, "test", 0);
            let (mut applied, mut in_bounds) = (0, 0);
            for (i, plan) in plans.iter().enumerate() {
                bounds
                    .check(plan)
                    .unwrap_or_else(|e| panic!("{name}: profile plan {i}: {e}"));
                let other = &plans[(i + 1) % plans.len()];
                for m in Mutation::ALL {
                    for _ in 0..20 {
                        let mut p = plan.clone();
                        if !mutate(&mut p, m, Some(other), &bounds, &mut rng) {
                            continue;
                        }
                        applied += 1;
                        p.validate(&bounds.hosts)
                            .unwrap_or_else(|e| panic!("{name} {m:?}: {e}"));
                        assert!(
                            p.actions.windows(2).all(|w| w[0].at <= w[1].at),
                            "{name} {m:?}: unsorted"
                        );
                        // The one bound a single action's change cannot see: crashes and pauses
                        // of other actions at the same time. The search drops those mutants.
                        match bounds.check(&p) {
                            Ok(()) => in_bounds += 1,
                            Err(e) => assert!(e.contains("down") || e.contains("twice"), "{name} {m:?}: {e}"),
                        }
                    }
                }
            }
            assert!(applied > 1000, "{name}: {applied}");
            assert!(
                in_bounds * 10 > applied * 8,
                "{name}: {in_bounds} of {applied} within bounds"
            );
        }
    }

    #[test]
    fn opposite_drift_pushes_two_hosts_to_the_bound_in_opposite_directions() {
        let (bounds, plans) = plans("lease_lock_no_fencing", 1);
        let max = bounds.profile.as_ref().unwrap().clock_drift_max_ppm;
        let mut rng = Random::stream(1, "test", 0);
        let mut p = plans[0].clone();
        assert!(mutate(&mut p, Mutation::OppositeDrift, None, &bounds, &mut rng));
        let extremes: Vec<(Instant, HostId, i64, Duration)> = p
            .actions
            .iter()
            .filter_map(|a| match a.fault {
                Fault::ClockDrift {
                    host,
                    drift_ppm,
                    duration,
                } if drift_ppm.abs() == max => Some((a.at, host, drift_ppm, duration)),
                _ => None,
            })
            .collect();
        let pair: Vec<_> = extremes
            .iter()
            .filter(|x| {
                extremes
                    .iter()
                    .any(|y| y.0 == x.0 && y.3 == x.3 && y.1 != x.1 && y.2 == -x.2)
            })
            .collect();
        // The pushed hosts share one window, at least one at each bound.
        assert!(pair.len() >= 2, "{extremes:?}");
        assert!(
            pair.iter().all(|x| x.0 == pair[0].0 && x.3 == pair[0].3),
            "{pair:?}"
        );
        // No other drift of those hosts overlaps the window.
        let (at, d) = (pair[0].0, pair[0].3);
        for a in &p.actions {
            if let Fault::ClockDrift { host, duration, .. } = a.fault
                && pair.iter().any(|x| x.1 == host)
                && a.at.saturating_add(duration) > at
                && a.at < at.saturating_add(d)
            {
                assert!(pair.iter().any(|x| x.0 == a.at && x.1 == host), "{a:?}");
            }
        }
        // A profile without drift has no such mutation.
        let (no_drift, plans) = plans_without_drift();
        assert!(!no_drift.allows(Mutation::OppositeDrift));
        let mut p = plans;
        assert!(!mutate(
            &mut p,
            Mutation::OppositeDrift,
            None,
            &no_drift,
            &mut rng
        ));
    }

    fn plans_without_drift() -> (Bounds, FaultPlan) {
        let (mut bounds, plans) = plans("lease_lock_no_fencing", 1);
        if let Some(p) = &mut bounds.profile {
            p.clock_drift = None;
        }
        (bounds, plans[0].clone())
    }

    #[test]
    fn bounds_name_what_a_plan_breaks() {
        let (bounds, plans) = plans("lease_lock_no_fencing", 1);
        let mut p = plans[0].clone();
        p.actions.push(FaultAction {
            at: bounds.end,
            fault: Fault::CrashHost {
                host: HostId(0),
                down_for: Duration::from_millis(10),
            },
        });
        assert!(bounds.check(&p).unwrap_err().contains("ends after"));
        let mut p = FaultPlan::none();
        p.actions.push(FaultAction {
            at: Instant::ZERO,
            fault: Fault::ClockDrift {
                host: HostId(0),
                drift_ppm: 999_999,
                duration: Duration::from_millis(10),
            },
        });
        assert!(bounds.check(&p).unwrap_err().contains("ppm"));
    }
}
