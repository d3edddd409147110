//! Fault profiles: rates per fault kind, swarm mode and the chaos parts, expanded into a plan
//! from the seed.

use super::{
    ClockSkew, Fault, FaultAction, FaultKind, FaultPlan, InstanceKiller, LatencyMonkey, LeaderCrash,
    RoleFaultRate, ZoneOutage, ZonePartition,
};
use crate::network::{HostId, HostSpec, NetworkChaos, Partition};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// The most fault candidates of one kind [`FaultProfile::plan`] draws: a safety stop far above
/// any useful plan (tools bound plans much lower, before expanding them).
pub const PLAN_CANDIDATES_MAX: usize = 1_000_000;

/// How often one kind of fault happens and how long each lasts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRate {
    /// Mean time between starts (Poisson arrivals).
    pub mean_interval: Duration,
    /// Shortest duration of one fault.
    #[serde(default = "default_duration_min")]
    pub duration_min: Duration,
    /// Longest duration of one fault.
    #[serde(default = "default_duration_max")]
    pub duration_max: Duration,
}

pub(super) fn default_duration_min() -> Duration {
    Duration::from_millis(100)
}

pub(super) fn default_duration_max() -> Duration {
    Duration::from_secs(2)
}

/// Which faults a run suffers and how hard: expanded into a `FaultPlan` by `FaultProfile::plan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultProfile {
    /// Host crashes and restarts.
    pub crash: Option<FaultRate>,
    /// Host pauses.
    pub pause: Option<FaultRate>,
    /// Single-process kills and restarts.
    pub kill_process: Option<FaultRate>,
    /// Partitions (isolate, halves, one-way, bridge, zone cut; chosen at random).
    pub partition: Option<FaultRate>,
    /// Clogged links.
    pub clog: Option<FaultRate>,
    /// Slowed links.
    pub slow_link: Option<FaultRate>,
    /// Clock steps (duration fields unused).
    pub clock_jump: Option<FaultRate>,
    /// Periods of clock drift.
    pub clock_drift: Option<FaultRate>,
    /// Periods of lossy, duplicating, reordering network.
    pub network_chaos: Option<FaultRate>,
    /// Periods of a host degradation, each with one of `degrade_modes` (none when that is empty).
    pub degrade: Option<FaultRate>,
    /// Periods of a slow disk (syncs `2..=slow_factor_max` times slower).
    pub slow_disk: Option<FaultRate>,
    /// The model-defined conditions `degrade` picks from (e.g. `"slow:4"`, `"stall"`).
    pub degrade_modes: Vec<String>,
    /// At most this many hosts crashed or paused at once.
    pub max_hosts_down: u32,
    /// No fault starts or lasts into this final stretch of the horizon; the run heals at its
    /// start and liveness properties are judged during it.
    pub quiet_period: Duration,
    /// Swarm testing: each seed disables each enabled kind with probability 1/2.
    pub swarm: bool,
    /// Largest clock step, either direction.
    pub clock_jump_max: Duration,
    /// Largest drift, either direction, in parts per million.
    pub clock_drift_max_ppm: i64,
    /// Largest slow-link and slow-disk factor.
    pub slow_factor_max: u32,
    /// Rates used while network chaos is active.
    pub chaos: NetworkChaos,
    // The chaos family (see `chaos.rs`): each optional, combinable with the rates above.
    /// Role-targeted faults at random times within windows (`[[faults.profile.role_faults]]`).
    pub role_faults: Vec<RoleFaultRate>,
    /// Chaos Monkey: kills a random instance of a random one of some roles at a steady rate.
    pub instance_killer: Option<InstanceKiller>,
    /// Latency Monkey: a degradation on a share of a role's processes' hosts.
    pub latency_monkey: Option<LatencyMonkey>,
    /// Chaos Gorilla: a whole zone down together.
    pub zone_outage: Option<ZoneOutage>,
    /// One zone cut off from the others.
    pub zone_partition: Option<ZonePartition>,
    /// Clock drift (and steps) on a share of the hosts.
    pub clock_skew: Option<ClockSkew>,
    /// A crash of "the leader" (or another role target) in the middle of the faults.
    pub leader_crash: Option<LeaderCrash>,
}

impl Default for FaultProfile {
    fn default() -> Self {
        FaultProfile {
            crash: None,
            pause: None,
            kill_process: None,
            partition: None,
            clog: None,
            slow_link: None,
            clock_jump: None,
            clock_drift: None,
            network_chaos: None,
            degrade: None,
            slow_disk: None,
            degrade_modes: Vec::new(),
            max_hosts_down: 1,
            quiet_period: Duration::from_secs(5),
            swarm: false,
            clock_jump_max: Duration::from_millis(500),
            clock_drift_max_ppm: 100_000,
            slow_factor_max: 10,
            chaos: NetworkChaos::default(),
            role_faults: Vec::new(),
            instance_killer: None,
            latency_monkey: None,
            zone_outage: None,
            zone_partition: None,
            clock_skew: None,
            leader_crash: None,
        }
    }
}

impl FaultProfile {
    /// No faults at all.
    pub fn none() -> FaultProfile {
        FaultProfile::default()
    }

    /// Every fault kind at the same rate, for stress tests.
    pub fn everything(rate: FaultRate) -> FaultProfile {
        let mut p = FaultProfile::default();
        for kind in FaultKind::ALL {
            *p.rate_mut(kind) = Some(rate);
        }
        p
    }

    /// The rate of one kind.
    pub fn rate(&self, kind: FaultKind) -> Option<FaultRate> {
        match kind {
            FaultKind::Crash => self.crash,
            FaultKind::Pause => self.pause,
            FaultKind::KillProcess => self.kill_process,
            FaultKind::Partition => self.partition,
            FaultKind::Clog => self.clog,
            FaultKind::SlowLink => self.slow_link,
            FaultKind::ClockJump => self.clock_jump,
            FaultKind::ClockDrift => self.clock_drift,
            FaultKind::NetworkChaos => self.network_chaos,
            FaultKind::Degrade => self.degrade,
            FaultKind::SlowDisk => self.slow_disk,
        }
    }

    /// Mutable access to the rate of one kind.
    pub fn rate_mut(&mut self, kind: FaultKind) -> &mut Option<FaultRate> {
        match kind {
            FaultKind::Crash => &mut self.crash,
            FaultKind::Pause => &mut self.pause,
            FaultKind::KillProcess => &mut self.kill_process,
            FaultKind::Partition => &mut self.partition,
            FaultKind::Clog => &mut self.clog,
            FaultKind::SlowLink => &mut self.slow_link,
            FaultKind::ClockJump => &mut self.clock_jump,
            FaultKind::ClockDrift => &mut self.clock_drift,
            FaultKind::NetworkChaos => &mut self.network_chaos,
            FaultKind::Degrade => &mut self.degrade,
            FaultKind::SlowDisk => &mut self.slow_disk,
        }
    }

    /// True when no kind and no chaos-family part is enabled.
    pub fn is_empty(&self) -> bool {
        FaultKind::ALL.iter().all(|k| self.rate(*k).is_none()) && self.chaos_is_empty()
    }

    /// Checks rates and bounds, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        for kind in FaultKind::ALL {
            if let Some(r) = self.rate(kind) {
                if r.mean_interval == Duration::ZERO {
                    return Err(format!("{}.mean_interval must be positive", kind.name()));
                }
                if r.duration_min > r.duration_max {
                    return Err(format!(
                        "{}.duration_min ({}) is larger than duration_max ({})",
                        kind.name(),
                        r.duration_min,
                        r.duration_max
                    ));
                }
            }
        }
        if let Some(i) = self.degrade_modes.iter().position(|m| m.trim().is_empty()) {
            return Err(format!("degrade_modes.{i} is empty"));
        }
        if self.clock_drift_max_ppm.abs() >= 1_000_000 {
            return Err("clock_drift_max_ppm must be below 1000000".into());
        }
        for (name, p) in [
            ("chaos.loss", self.chaos.loss),
            ("chaos.duplicate", self.chaos.duplicate),
            ("chaos.reorder", self.chaos.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be within 0..=1, got {p}"));
            }
        }
        self.validate_chaos()
    }

    /// The expected number of fault actions of each enabled kind over `horizon` (before bounds
    /// such as `max_hosts_down` skip some): what a plan will hold, known without expanding it,
    /// so a profile that would expand into millions of faults can be refused up front.
    pub fn expected_actions(&self, horizon: Duration) -> Vec<(FaultKind, f64)> {
        let span = horizon.0.saturating_sub(self.quiet_period.0) as f64;
        let mut out: Vec<(FaultKind, f64)> = FaultKind::ALL
            .iter()
            .filter_map(|&kind| {
                let rate = self.rate(kind)?;
                if kind == FaultKind::Degrade && self.degrade_modes.is_empty() {
                    return None;
                }
                Some((kind, span / rate.mean_interval.0.max(1) as f64))
            })
            .collect();
        for (kind, n) in self.chaos_expected_actions(horizon) {
            match out.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, total)) => *total += n,
                None => out.push((kind, n)),
            }
        }
        out
    }

    /// Expands the profile into an explicit plan for a run of length `horizon` on `hosts`.
    ///
    /// At most [`PLAN_CANDIDATES_MAX`] candidates of one kind are drawn: a profile that
    /// would expand further is cut there rather than exhausting memory (callers refuse such
    /// profiles first, with [`expected_actions`](FaultProfile::expected_actions)).
    ///
    /// Each kind draws from its own stream `("faults/<kind>", 0)`, so enabling one kind never
    /// changes another's faults; swarm decisions come from `("faults/swarm", 0)`. Candidates are
    /// merged by start time and those that would exceed `max_hosts_down` (or hit a host that is
    /// already down) are skipped. The chaos-family parts (`instance_killer`, `zone_outage`, ...)
    /// are then merged in, each from its own stream. Everything ends by
    /// `horizon - quiet_period`, where the plan heals.
    pub fn plan(&self, seed: u64, hosts: &[HostSpec], horizon: Duration) -> FaultPlan {
        let faults_end = Instant(horizon.0.saturating_sub(self.quiet_period.0));
        let mut swarm = Random::stream(seed, "faults/swarm", 0);
        let mut candidates: Vec<FaultAction> = Vec::new();
        if !hosts.is_empty() {
            for kind in FaultKind::ALL {
                let Some(rate) = self.rate(kind) else { continue };
                // Always draw, so one kind's swarm choice does not depend on which others are on
                // (nor on whether degrade has modes).
                let swarm_off = swarm.chance(0.5);
                if kind == FaultKind::Degrade && self.degrade_modes.is_empty() {
                    continue;
                }
                if self.swarm && swarm_off {
                    continue;
                }
                let mut rng = Random::stream(seed, &format!("faults/{}", kind.name()), 0);
                let mut t = 0u64;
                let mut drawn = 0usize;
                loop {
                    drawn += 1;
                    if drawn > PLAN_CANDIDATES_MAX {
                        break;
                    }
                    t = t.saturating_add(rng.exponential(rate.mean_interval.0 as f64) as u64);
                    if t >= faults_end.0 {
                        break;
                    }
                    let d = rng.range_inclusive(rate.duration_min.0, rate.duration_max.0);
                    let d = Duration(d.min(faults_end.0 - t));
                    let fault = self.make_fault(kind, d, hosts, &mut rng);
                    candidates.push(FaultAction {
                        at: Instant(t),
                        fault,
                    });
                }
            }
        }
        candidates.sort_by_key(|a| a.at);
        let mut actions = self.enforce_bounds(candidates);
        if !self.chaos_is_empty() {
            // Stable: at equal times the per-kind faults come first, in their old order.
            actions.extend(self.chaos_actions(seed, hosts, faults_end));
            actions.sort_by_key(|a| a.at);
        }
        FaultPlan {
            actions,
            heal_at: Some(faults_end),
        }
    }

    fn make_fault(&self, kind: FaultKind, d: Duration, hosts: &[HostSpec], rng: &mut Random) -> Fault {
        let n = hosts.len();
        let host = HostId(rng.below(n as u64) as u32);
        let other = |rng: &mut Random| {
            if n < 2 {
                host
            } else {
                HostId(((host.0 as u64 + 1 + rng.below(n as u64 - 1)) % n as u64) as u32)
            }
        };
        match kind {
            FaultKind::Crash => Fault::CrashHost { host, down_for: d },
            FaultKind::Pause => Fault::PauseHost { host, paused_for: d },
            FaultKind::KillProcess => Fault::KillProcess {
                host,
                process_index: rng.below(1 << 16) as u32,
                down_for: d,
            },
            FaultKind::Partition => Fault::Partition {
                partition: random_partition(host, hosts, rng),
                duration: d,
            },
            FaultKind::Clog => Fault::Clog {
                from: host,
                to: other(rng),
                duration: d,
            },
            FaultKind::SlowLink => Fault::SlowLink {
                from: host,
                to: other(rng),
                factor: rng.range_inclusive(2, u64::from(self.slow_factor_max.max(2))) as u32,
                duration: d,
            },
            FaultKind::ClockJump => {
                let mag = rng.range_inclusive(1, self.clock_jump_max.0.max(1)) as i64;
                Fault::ClockJump {
                    host,
                    delta_ns: if rng.chance(0.5) { mag } else { -mag },
                }
            }
            FaultKind::ClockDrift => {
                let m = self.clock_drift_max_ppm.unsigned_abs().max(1);
                let ppm = rng.range_inclusive(0, 2 * m) as i64 - m as i64;
                Fault::ClockDrift {
                    host,
                    drift_ppm: ppm,
                    duration: d,
                }
            }
            FaultKind::NetworkChaos => Fault::NetworkChaos {
                chaos: self.chaos,
                duration: d,
            },
            FaultKind::Degrade => Fault::Degrade {
                host,
                mode: self.degrade_modes[rng.below(self.degrade_modes.len() as u64) as usize].clone(),
                duration: d,
            },
            FaultKind::SlowDisk => Fault::SlowDisk {
                host,
                factor: rng.range_inclusive(2, u64::from(self.slow_factor_max.max(2))) as u32,
                duration: d,
            },
        }
    }

    fn enforce_bounds(&self, candidates: Vec<FaultAction>) -> Vec<FaultAction> {
        // (host, down until) for accepted crashes and pauses.
        let mut down: Vec<(HostId, Instant)> = Vec::new();
        let mut accepted = Vec::with_capacity(candidates.len());
        for a in candidates {
            if let Fault::CrashHost { host, down_for: d } | Fault::PauseHost { host, paused_for: d } =
                &a.fault
            {
                down.retain(|(_, until)| *until > a.at);
                if down.len() as u32 >= self.max_hosts_down || down.iter().any(|(h, _)| h == host) {
                    continue;
                }
                down.push((*host, a.at.saturating_add(*d)));
            }
            accepted.push(a);
        }
        accepted
    }
}

fn random_partition(host: HostId, hosts: &[HostSpec], rng: &mut Random) -> Partition {
    let n = hosts.len();
    let mut ids: Vec<HostId> = (0..n as u32).map(HostId).collect();
    rng.shuffle(&mut ids);
    let zones: Vec<&str> = {
        let mut z: Vec<&str> = hosts.iter().filter_map(|h| h.zone.as_deref()).collect();
        z.sort();
        z.dedup();
        z
    };
    // Always draw the choice and the zone pick, so the stream's use does not depend on topology.
    let choice = rng.below(5);
    let zone_pick = rng.next_u64();
    match choice {
        0 => Partition::Isolate { host },
        1 => {
            let mut side = ids[..n / 2].to_vec();
            side.sort();
            Partition::Halves { side }
        }
        2 => {
            let cut = (n / 2).max(1);
            let (mut from, mut to) = (ids[..cut].to_vec(), ids[cut..].to_vec());
            from.sort();
            to.sort();
            Partition::OneWay { from, to }
        }
        3 if n >= 3 => {
            let bridge = ids[0];
            let rest = &ids[1..];
            let mid = rest.len() / 2;
            let (mut left, mut right) = (rest[..mid].to_vec(), rest[mid..].to_vec());
            left.sort();
            right.sort();
            Partition::Bridge { left, right, bridge }
        }
        4 if !zones.is_empty() => Partition::Zone {
            zone: zones[(zone_pick % zones.len() as u64) as usize].to_string(),
        },
        _ => Partition::Isolate { host },
    }
}
