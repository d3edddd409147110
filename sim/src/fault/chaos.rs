//! The chaos family as profile parts: role-targeted faults at a rate, an instance killer
//! (Chaos Monkey), latency or error injection on a share of a role (Latency Monkey), a whole
//! zone down (Chaos Gorilla), a partition between zones, clock skew on a share of hosts, and a
//! leader crash in the middle. Each is optional and usable alone or with the others and with
//! the per-kind rates; like the rest of a profile they expand into plain plan actions before
//! the run, so every design variant of a seed meets the same failures.
//!
//! Each part draws from its own stream (`"faults/<part>"`), so switching one on never changes
//! another's faults, and a profile without them expands exactly as before. Their actions are
//! not subject to `max_hosts_down` (a zone outage takes a whole zone down on purpose), and
//! swarm mode does not switch them off (they are deliberate, not a random mix). Times
//! are offsets from the start of the run; every fault is cut to end when faults stop
//! (`horizon - quiet_period`).

use super::{
    Fault, FaultAction, FaultKind, FaultProfile, RoleTarget, default_duration_max, default_duration_min,
};
use crate::network::{HostId, HostSpec, Partition};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// What a role-targeted fault does to the processes it hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleAction {
    /// `Fault::CrashRole`: their hosts crash.
    Crash,
    /// `Fault::PauseRole`: their hosts pause.
    Pause,
    /// `Fault::KillRole`: the processes die, hosts stay up.
    Kill,
    /// `Fault::IsolateRole`: their hosts are cut off from the rest.
    Isolate,
    /// `Fault::DegradeRole` with `mode`.
    Degrade,
}

/// Role-targeted faults arriving at random (Poisson) within a window, e.g. "pause a random
/// follower every 2 s on average between 10 s and 40 s".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFaultRate {
    /// What each fault does.
    pub action: RoleAction,
    /// Whom it hits, e.g. `"a random follower"`.
    pub target: RoleTarget,
    /// Mean time between starts.
    pub mean_interval: Duration,
    /// The window opens at this offset from the start.
    #[serde(default)]
    pub from: Duration,
    /// The window closes at this offset (default: when faults stop).
    #[serde(default)]
    pub until: Option<Duration>,
    /// Shortest duration of one fault.
    #[serde(default = "default_duration_min")]
    pub duration_min: Duration,
    /// Longest duration of one fault.
    #[serde(default = "default_duration_max")]
    pub duration_max: Duration,
    /// The model-defined condition (for `action = "degrade"` only).
    #[serde(default)]
    pub mode: Option<String>,
}

/// Chaos Monkey: kills a random process of a random one of `roles` at a steady rate during a
/// window; each killed process restarts after `down_for`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceKiller {
    /// The roles (service groups) whose instances may die; each kill draws one.
    pub roles: Vec<String>,
    /// Time between kills.
    pub every: Duration,
    /// The first kill is at this offset (default 0: the first at `every`).
    #[serde(default)]
    pub from: Duration,
    /// No kill at or after this offset (default: when faults stop).
    #[serde(default)]
    pub until: Option<Duration>,
    /// How long a killed process stays down.
    pub down_for: Duration,
}

/// Latency Monkey: a `Degrade` condition (latency or errors, as the model defines `mode`) on
/// `percent` % of the processes playing `role`, chosen when it begins, for `duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyMonkey {
    /// The role whose hosts are degraded.
    pub role: String,
    /// Which share of its processes (1..=100), rounded up.
    pub percent: u32,
    /// The model-defined condition, e.g. `"slow:4"` or `"errors:0.3"`.
    pub mode: String,
    /// When it begins.
    pub at: Duration,
    /// How long it lasts.
    pub duration: Duration,
}

/// Chaos Gorilla: every host of one zone crashes at the same instant and comes back together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneOutage {
    /// The zone (default: one of the topology's zones, drawn per seed).
    #[serde(default)]
    pub zone: Option<String>,
    /// When it goes down.
    pub at: Duration,
    /// How long it stays down.
    pub down_for: Duration,
}

/// A partition between zones: one zone cut off from all the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonePartition {
    /// The zone cut off (default: one of the topology's zones, drawn per seed).
    #[serde(default)]
    pub zone: Option<String>,
    /// When the cut begins.
    pub at: Duration,
    /// How long it lasts.
    pub duration: Duration,
}

/// Clock skew on a share of the hosts (drawn per seed): each drifts by `drift_ppm` (sign drawn
/// per host) for `duration`, and with a non-zero `jump` its clock also steps by that much
/// (sign drawn) when the skew begins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSkew {
    /// Which share of the hosts (1..=100), rounded up.
    pub percent: u32,
    /// Drift magnitude in parts per million.
    pub drift_ppm: i64,
    /// Clock step magnitude at the start (0: none).
    #[serde(default)]
    pub jump: Duration,
    /// When it begins.
    pub at: Duration,
    /// How long the drift lasts.
    pub duration: Duration,
}

/// A crash of a role's process (by default "the leader") in the middle of the faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderCrash {
    /// Whom it hits (default `"the leader"`).
    #[serde(default = "the_leader")]
    pub target: RoleTarget,
    /// When (default: halfway to when faults stop).
    #[serde(default)]
    pub at: Option<Duration>,
    /// How long its host stays down.
    pub down_for: Duration,
}

fn the_leader() -> RoleTarget {
    RoleTarget::first("leader")
}

/// The most actions one steady-rate part expands to (a safety stop, like `PLAN_CANDIDATES_MAX`).
const STEADY_MAX: u64 = super::PLAN_CANDIDATES_MAX as u64;

fn check_percent(field: &str, p: u32) -> Result<(), String> {
    if (1..=100).contains(&p) {
        Ok(())
    } else {
        Err(format!("{field} must be within 1..=100, got {p}"))
    }
}

fn check_role(field: &str, role: &str) -> Result<(), String> {
    RoleTarget::first(role)
        .validate()
        .map_err(|m| format!("{field}: {m}"))
}

impl FaultProfile {
    /// True when no chaos-family part is on.
    pub(super) fn chaos_is_empty(&self) -> bool {
        self.role_faults.is_empty()
            && self.instance_killer.is_none()
            && self.latency_monkey.is_none()
            && self.zone_outage.is_none()
            && self.zone_partition.is_none()
            && self.clock_skew.is_none()
            && self.leader_crash.is_none()
    }

    /// Checks the chaos-family parts, naming the field at fault.
    pub(super) fn validate_chaos(&self) -> Result<(), String> {
        for (i, r) in self.role_faults.iter().enumerate() {
            let at = format!("role_faults.{i}");
            r.target.validate().map_err(|m| format!("{at}.target: {m}"))?;
            if r.mean_interval == Duration::ZERO {
                return Err(format!("{at}.mean_interval must be positive"));
            }
            if r.duration_min > r.duration_max {
                return Err(format!("{at}.duration_min is larger than duration_max"));
            }
            if r.until.is_some_and(|u| u <= r.from) {
                return Err(format!("{at}.until must be after from"));
            }
            match (&r.action, &r.mode) {
                (RoleAction::Degrade, None) => return Err(format!("{at}.mode is needed to degrade")),
                (RoleAction::Degrade, Some(m)) if m.trim().is_empty() => {
                    return Err(format!("{at}.mode is empty"));
                }
                (RoleAction::Degrade, Some(_)) | (_, None) => {}
                (_, Some(_)) => return Err(format!("{at}.mode applies to action = \"degrade\" only")),
            }
        }
        if let Some(k) = &self.instance_killer {
            if k.roles.is_empty() {
                return Err("instance_killer.roles must name at least one role".into());
            }
            for (i, r) in k.roles.iter().enumerate() {
                check_role(&format!("instance_killer.roles.{i}"), r)?;
            }
            if k.every == Duration::ZERO {
                return Err("instance_killer.every must be positive".into());
            }
            if k.until.is_some_and(|u| u <= k.from) {
                return Err("instance_killer.until must be after from".into());
            }
        }
        if let Some(l) = &self.latency_monkey {
            check_role("latency_monkey.role", &l.role)?;
            check_percent("latency_monkey.percent", l.percent)?;
            if l.mode.trim().is_empty() {
                return Err("latency_monkey.mode is empty".into());
            }
        }
        if let Some(s) = &self.clock_skew {
            check_percent("clock_skew.percent", s.percent)?;
            if s.drift_ppm.abs() >= 1_000_000 {
                return Err("clock_skew.drift_ppm must be below 1000000".into());
            }
        }
        if let Some(c) = &self.leader_crash {
            c.target
                .validate()
                .map_err(|m| format!("leader_crash.target: {m}"))?;
        }
        Ok(())
    }

    /// Checks the zones the parts name against the topology.
    pub fn validate_zones(&self, hosts: &[HostSpec]) -> Result<(), String> {
        let has_zones = hosts.iter().any(|h| h.zone.is_some());
        for (field, zone) in [
            ("zone_outage", self.zone_outage.as_ref().map(|z| &z.zone)),
            ("zone_partition", self.zone_partition.as_ref().map(|z| &z.zone)),
        ] {
            match zone {
                None => {}
                Some(None) if !has_zones => {
                    return Err(format!(
                        "{field} needs a topology with zones (layout = \"zoned\")"
                    ));
                }
                Some(Some(z)) if !hosts.iter().any(|h| h.zone.as_deref() == Some(z.as_str())) => {
                    return Err(format!("{field}.zone {z:?} has no hosts in the topology"));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The expected number of actions of the chaos-family parts over `horizon`, by kind.
    pub(super) fn chaos_expected_actions(&self, horizon: Duration) -> Vec<(FaultKind, f64)> {
        let end = horizon.0.saturating_sub(self.quiet_period.0);
        let span = |from: Duration, until: Option<Duration>| {
            until.map_or(end, |u| u.0.min(end)).saturating_sub(from.0) as f64
        };
        let mut out = Vec::new();
        for r in &self.role_faults {
            let kind = role_fault(r.action, r.target.clone(), r.mode.clone(), Duration::ZERO).kind();
            out.push((kind, span(r.from, r.until) / r.mean_interval.0.max(1) as f64));
        }
        if let Some(k) = &self.instance_killer {
            out.push((
                FaultKind::KillProcess,
                span(k.from, k.until) / k.every.0.max(1) as f64,
            ));
        }
        let one = |present: bool, kind: FaultKind, n: f64| present.then_some((kind, n));
        out.extend(one(self.latency_monkey.is_some(), FaultKind::Degrade, 1.0));
        out.extend(one(self.zone_partition.is_some(), FaultKind::Partition, 1.0));
        out.extend(one(self.leader_crash.is_some(), FaultKind::Crash, 1.0));
        // One per host of the zone or share (at most the host count, unknown here): counted
        // as one, since the bound this estimate serves is far above any topology's size.
        out.extend(one(self.zone_outage.is_some(), FaultKind::Crash, 1.0));
        out.extend(one(self.clock_skew.is_some(), FaultKind::ClockDrift, 1.0));
        out
    }

    /// The chaos-family parts' actions for one seed (unsorted), each ending by `faults_end`.
    pub(super) fn chaos_actions(
        &self,
        seed: u64,
        hosts: &[HostSpec],
        faults_end: Instant,
    ) -> Vec<FaultAction> {
        let mut out = Vec::new();
        let end = faults_end.0;
        for (i, r) in self.role_faults.iter().enumerate() {
            let mut rng = Random::stream(seed, "faults/role_faults", i as u64);
            let until = r.until.map_or(end, |u| u.0.min(end));
            let mut t = r.from.0;
            for _ in 0..STEADY_MAX {
                t = t.saturating_add(rng.exponential(r.mean_interval.0 as f64) as u64);
                if t >= until {
                    break;
                }
                let d = Duration(rng.range_inclusive(r.duration_min.0, r.duration_max.0));
                clipped(&mut out, end, t, d, |d| {
                    role_fault(r.action, r.target.clone(), r.mode.clone(), d)
                });
            }
        }
        if let Some(k) = &self.instance_killer {
            let mut rng = Random::stream(seed, "faults/instance_killer", 0);
            let until = k.until.map_or(end, |u| u.0.min(end));
            let mut t = k.from.0;
            for _ in 0..STEADY_MAX {
                t = t.saturating_add(k.every.0);
                if t >= until {
                    break;
                }
                let role = &k.roles[rng.index(k.roles.len())];
                clipped(&mut out, end, t, k.down_for, |d| Fault::KillRole {
                    target: RoleTarget::random(role),
                    down_for: d,
                });
            }
        }
        if let Some(l) = &self.latency_monkey {
            clipped(&mut out, end, l.at.0, l.duration, |d| Fault::DegradeRole {
                target: RoleTarget::percent(&l.role, l.percent),
                mode: l.mode.clone(),
                duration: d,
            });
        }
        let mut zones: Vec<&str> = hosts.iter().filter_map(|h| h.zone.as_deref()).collect();
        zones.sort();
        zones.dedup();
        let pick_zone = |given: &Option<String>, stream: &str| -> Option<String> {
            given.clone().or_else(|| {
                let mut rng = Random::stream(seed, stream, 0);
                (!zones.is_empty()).then(|| zones[rng.index(zones.len())].to_string())
            })
        };
        if let Some(z) = &self.zone_outage
            && let Some(zone) = pick_zone(&z.zone, "faults/zone_outage")
        {
            for (h, spec) in hosts.iter().enumerate() {
                if spec.zone.as_deref() == Some(zone.as_str()) {
                    clipped(&mut out, end, z.at.0, z.down_for, |d| Fault::CrashHost {
                        host: HostId(h as u32),
                        down_for: d,
                    });
                }
            }
        }
        if let Some(z) = &self.zone_partition
            && let Some(zone) = pick_zone(&z.zone, "faults/zone_partition")
        {
            clipped(&mut out, end, z.at.0, z.duration, |d| Fault::Partition {
                partition: Partition::Zone { zone: zone.clone() },
                duration: d,
            });
        }
        if let Some(s) = &self.clock_skew
            && !hosts.is_empty()
        {
            let mut rng = Random::stream(seed, "faults/clock_skew", 0);
            let mut ids: Vec<u32> = (0..hosts.len() as u32).collect();
            rng.shuffle(&mut ids);
            let k = (hosts.len() * s.percent.min(100) as usize).div_ceil(100).max(1);
            let mut chosen = ids[..k].to_vec();
            chosen.sort();
            for h in chosen {
                let sign = |rng: &mut Random| if rng.chance(0.5) { 1 } else { -1 };
                let drift = s.drift_ppm.abs() * sign(&mut rng);
                let jump = s.jump.0 as i64 * sign(&mut rng);
                if jump != 0 && s.at.0 < end {
                    out.push(FaultAction {
                        at: Instant(s.at.0),
                        fault: Fault::ClockJump {
                            host: HostId(h),
                            delta_ns: jump,
                        },
                    });
                }
                if drift != 0 {
                    clipped(&mut out, end, s.at.0, s.duration, |d| Fault::ClockDrift {
                        host: HostId(h),
                        drift_ppm: drift,
                        duration: d,
                    });
                }
            }
        }
        if let Some(c) = &self.leader_crash {
            let at = c.at.map_or(end / 2, |a| a.0);
            clipped(&mut out, end, at, c.down_for, |d| Fault::CrashRole {
                target: c.target.clone(),
                down_for: d,
            });
        }
        out
    }
}

/// Adds the fault `make` builds at `at`, lasting `d` cut to end by `end`, if it starts before.
fn clipped(out: &mut Vec<FaultAction>, end: u64, at: u64, d: Duration, make: impl FnOnce(Duration) -> Fault) {
    if at < end {
        out.push(FaultAction {
            at: Instant(at),
            fault: make(Duration(d.0.min(end - at))),
        });
    }
}

/// The role-targeted fault `action` names.
fn role_fault(action: RoleAction, target: RoleTarget, mode: Option<String>, d: Duration) -> Fault {
    match action {
        RoleAction::Crash => Fault::CrashRole { target, down_for: d },
        RoleAction::Pause => Fault::PauseRole {
            target,
            paused_for: d,
        },
        RoleAction::Kill => Fault::KillRole { target, down_for: d },
        RoleAction::Isolate => Fault::IsolateRole { target, duration: d },
        RoleAction::Degrade => Fault::DegradeRole {
            target,
            mode: mode.unwrap_or_default(),
            duration: d,
        },
    }
}

#[cfg(test)]
mod tests;
