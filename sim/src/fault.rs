//! Fault plans: explicit, timestamped, serializable lists of faults, and the profiles that
//! generate them from the seed.
//!
//! A plan never depends on how the system behaves: it is expanded from the profile, the topology
//! and the fault streams before the run starts. Two design variants run under one seed therefore
//! meet exactly the same faults, and a plan can be printed, edited, saved, shrunk and replayed.

mod chaos;
mod role;

pub use chaos::{
    ClockSkew, InstanceKiller, LatencyMonkey, LeaderCrash, RoleAction, RoleFaultRate, ZoneOutage,
    ZonePartition,
};
pub use role::{Pick, RoleTarget};

use crate::network::{HostId, HostSpec, NetworkChaos, Partition};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One fault. Faults with a duration end by themselves; the engine undoes them at `at + duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The host crashes (every process dies, unsynced writes face the disk-fault draw) and
    /// restarts its boot processes after `down_for`.
    CrashHost {
        /// The host.
        host: HostId,
        /// How long it stays down.
        down_for: Duration,
    },
    /// The host stops handling events (a GC pause, a stalled VM); what arrives meanwhile is
    /// handled after it resumes, and its timers fire late.
    PauseHost {
        /// The host.
        host: HostId,
        /// How long it is paused.
        paused_for: Duration,
    },
    /// One process is killed and restarted after `down_for`. `process_index` counts the host's
    /// boot processes (modulo their number), so the plan does not depend on the model.
    KillProcess {
        /// The host.
        host: HostId,
        /// Which of the host's boot processes (modulo their count).
        process_index: u32,
        /// How long it stays down.
        down_for: Duration,
    },
    /// A network partition.
    Partition {
        /// Which pairs are cut.
        partition: Partition,
        /// How long it lasts.
        duration: Duration,
    },
    /// Messages from `from` to `to` are held and released together when the clog ends.
    Clog {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
        /// How long it lasts.
        duration: Duration,
    },
    /// Latency from `from` to `to` is multiplied by `factor`.
    SlowLink {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
        /// Latency multiplier.
        factor: u32,
        /// How long it lasts.
        duration: Duration,
    },
    /// The host's clock reading steps by `delta_ns` (an NTP step; negative goes back).
    ClockJump {
        /// The host.
        host: HostId,
        /// The step in nanoseconds.
        delta_ns: i64,
    },
    /// The host's clock drifts at `drift_ppm` for a while, then returns to its previous rate.
    ClockDrift {
        /// The host.
        host: HostId,
        /// Drift in parts per million.
        drift_ppm: i64,
        /// How long it lasts.
        duration: Duration,
    },
    /// Every message risks loss, duplication and reordering.
    NetworkChaos {
        /// The rates.
        chaos: NetworkChaos,
        /// How long it lasts.
        duration: Duration,
    },
    /// A model-defined condition on a host (a slow or erroring server, a brownout, a CPU cut):
    /// the engine only keeps it active for `duration` and shows it to the host's handlers
    /// through `Context::degradations`; the model decides what `mode` means (e.g. `"slow:4"`).
    Degrade {
        /// The host.
        host: HostId,
        /// The model-defined condition, e.g. `"errors:0.3"` or `"stall"`.
        mode: String,
        /// How long it lasts.
        duration: Duration,
    },
    // Role-targeted faults (after the host faults, so older plans keep their encoding). Each
    // resolves its target when it begins, among the live processes whose
    // `Process::has_role` answers yes; with no such process it is skipped (and recorded so).
    // The trace records which processes and hosts it hit.
    /// The hosts of the processes playing a role crash, as `CrashHost` ("crash the leader").
    CrashRole {
        /// Who: e.g. `"the leader"`.
        target: RoleTarget,
        /// How long the hosts stay down.
        down_for: Duration,
    },
    /// The hosts of the processes playing a role pause, as `PauseHost`.
    PauseRole {
        /// Who: e.g. `"a random follower"`.
        target: RoleTarget,
        /// How long they are paused.
        paused_for: Duration,
    },
    /// The processes playing a role are killed (their hosts stay up) and restarted after
    /// `down_for` ("kill a random instance of tier1").
    KillRole {
        /// Who: e.g. `"a random tier1"`.
        target: RoleTarget,
        /// How long they stay down.
        down_for: Duration,
    },
    /// The hosts of the processes playing a role are cut off from every other host (one host:
    /// `Partition::Isolate`; several: together on one side of `Partition::Halves`).
    IsolateRole {
        /// Who: e.g. `"the leader"`.
        target: RoleTarget,
        /// How long it lasts.
        duration: Duration,
    },
    /// A `Degrade` condition on the hosts of the processes playing a role (Latency Monkey).
    DegradeRole {
        /// Who: e.g. `"30% of tier1"`.
        target: RoleTarget,
        /// The model-defined condition.
        mode: String,
        /// How long it lasts.
        duration: Duration,
    },
    /// The host's storage syncs take `factor` times their latency (a failing or contended
    /// disk). It multiplies the host's disk sync latency (`HostCosts::disk_sync`): a host
    /// whose syncs are instant stays instant. Environmental, like `Degrade`: a crash keeps it.
    SlowDisk {
        /// The host.
        host: HostId,
        /// Sync latency multiplier.
        factor: u32,
        /// How long it lasts.
        duration: Duration,
    },
}

/// The kinds of fault, for profiles and swarm testing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `Fault::CrashHost`.
    Crash,
    /// `Fault::PauseHost`.
    Pause,
    /// `Fault::KillProcess`.
    KillProcess,
    /// `Fault::Partition`.
    Partition,
    /// `Fault::Clog`.
    Clog,
    /// `Fault::SlowLink`.
    SlowLink,
    /// `Fault::ClockJump`.
    ClockJump,
    /// `Fault::ClockDrift`.
    ClockDrift,
    /// `Fault::NetworkChaos`.
    NetworkChaos,
    /// `Fault::Degrade`.
    Degrade,
    /// `Fault::SlowDisk`.
    SlowDisk,
}

impl FaultKind {
    /// Every kind, in the fixed order used for generation.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::KillProcess,
        FaultKind::Partition,
        FaultKind::Clog,
        FaultKind::SlowLink,
        FaultKind::ClockJump,
        FaultKind::ClockDrift,
        FaultKind::NetworkChaos,
        // Last, so the swarm stream's draws for the older kinds stay where they were.
        FaultKind::Degrade,
        FaultKind::SlowDisk,
    ];

    /// The snake_case name used in files and streams.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::KillProcess => "kill_process",
            FaultKind::Partition => "partition",
            FaultKind::Clog => "clog",
            FaultKind::SlowLink => "slow_link",
            FaultKind::ClockJump => "clock_jump",
            FaultKind::ClockDrift => "clock_drift",
            FaultKind::NetworkChaos => "network_chaos",
            FaultKind::Degrade => "degrade",
            FaultKind::SlowDisk => "slow_disk",
        }
    }
}

/// One match over every fault kind's duration field (bound as `$d`), so reading and changing
/// it cannot list different kinds.
macro_rules! duration_field {
    ($fault:expr, $d:ident => $some:expr, $none:expr) => {
        match $fault {
            Fault::CrashHost { down_for: $d, .. }
            | Fault::PauseHost { paused_for: $d, .. }
            | Fault::KillProcess { down_for: $d, .. }
            | Fault::Partition { duration: $d, .. }
            | Fault::Clog { duration: $d, .. }
            | Fault::SlowLink { duration: $d, .. }
            | Fault::ClockDrift { duration: $d, .. }
            | Fault::NetworkChaos { duration: $d, .. }
            | Fault::Degrade { duration: $d, .. }
            | Fault::CrashRole { down_for: $d, .. }
            | Fault::PauseRole { paused_for: $d, .. }
            | Fault::KillRole { down_for: $d, .. }
            | Fault::IsolateRole { duration: $d, .. }
            | Fault::DegradeRole { duration: $d, .. }
            | Fault::SlowDisk { duration: $d, .. } => $some,
            Fault::ClockJump { .. } => $none,
        }
    };
}

impl Fault {
    /// Which kind of fault this is.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::CrashHost { .. } => FaultKind::Crash,
            Fault::PauseHost { .. } => FaultKind::Pause,
            Fault::KillProcess { .. } => FaultKind::KillProcess,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Clog { .. } => FaultKind::Clog,
            Fault::SlowLink { .. } => FaultKind::SlowLink,
            Fault::ClockJump { .. } => FaultKind::ClockJump,
            Fault::ClockDrift { .. } => FaultKind::ClockDrift,
            Fault::NetworkChaos { .. } => FaultKind::NetworkChaos,
            Fault::Degrade { .. } => FaultKind::Degrade,
            Fault::CrashRole { .. } => FaultKind::Crash,
            Fault::PauseRole { .. } => FaultKind::Pause,
            Fault::KillRole { .. } => FaultKind::KillProcess,
            Fault::IsolateRole { .. } => FaultKind::Partition,
            Fault::DegradeRole { .. } => FaultKind::Degrade,
            Fault::SlowDisk { .. } => FaultKind::SlowDisk,
        }
    }

    /// The role a role-targeted fault aims at (`None` for faults that name hosts).
    pub fn target(&self) -> Option<&RoleTarget> {
        match self {
            Fault::CrashRole { target, .. }
            | Fault::PauseRole { target, .. }
            | Fault::KillRole { target, .. }
            | Fault::IsolateRole { target, .. }
            | Fault::DegradeRole { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Whether the fault cuts the network (a partition, or isolating a role's hosts).
    pub fn is_partition(&self) -> bool {
        matches!(self, Fault::Partition { .. } | Fault::IsolateRole { .. })
    }

    /// How long the fault lasts; `None` for instantaneous faults (clock jumps).
    pub fn duration(&self) -> Option<Duration> {
        duration_field!(self, d => Some(*d), None)
    }

    /// The fault's duration, to change it; `None` for instantaneous faults (clock jumps).
    pub fn duration_mut(&mut self) -> Option<&mut Duration> {
        duration_field!(self, d => Some(d), None)
    }

    /// Every host the fault names (none for role faults, zone cuts and network chaos, which
    /// are resolved when they begin or name no host).
    pub fn hosts(&self) -> Vec<HostId> {
        match self {
            Fault::CrashHost { host, .. }
            | Fault::PauseHost { host, .. }
            | Fault::KillProcess { host, .. }
            | Fault::ClockJump { host, .. }
            | Fault::ClockDrift { host, .. }
            | Fault::Degrade { host, .. }
            | Fault::SlowDisk { host, .. } => vec![*host],
            Fault::Clog { from, to, .. } | Fault::SlowLink { from, to, .. } => vec![*from, *to],
            Fault::Partition { partition, .. } => match partition {
                Partition::Isolate { host } => vec![*host],
                Partition::Halves { side } => side.clone(),
                Partition::OneWay { from, to } => from.iter().chain(to).copied().collect(),
                Partition::Bridge { left, right, bridge } => {
                    left.iter().chain(right).chain([bridge]).copied().collect()
                }
                Partition::Zone { .. } => vec![],
            },
            Fault::NetworkChaos { .. } => vec![],
            // Resolved when they begin: no host to check beforehand.
            Fault::CrashRole { .. }
            | Fault::PauseRole { .. }
            | Fault::KillRole { .. }
            | Fault::IsolateRole { .. }
            | Fault::DegradeRole { .. } => vec![],
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::CrashHost { host, down_for } => write!(f, "crash {host} for {down_for}"),
            Fault::PauseHost { host, paused_for } => write!(f, "pause {host} for {paused_for}"),
            Fault::KillProcess {
                host,
                process_index,
                down_for,
            } => {
                write!(f, "kill process #{process_index} on {host} for {down_for}")
            }
            Fault::Partition { partition, duration } => write!(f, "partition {partition:?} for {duration}"),
            Fault::Clog { from, to, duration } => write!(f, "clog {from}->{to} for {duration}"),
            Fault::SlowLink {
                from,
                to,
                factor,
                duration,
            } => {
                write!(f, "slow {from}->{to} x{factor} for {duration}")
            }
            Fault::ClockJump { host, delta_ns } => write!(f, "clock jump {host} by {delta_ns}ns"),
            Fault::ClockDrift {
                host,
                drift_ppm,
                duration,
            } => {
                write!(f, "clock drift {host} {drift_ppm}ppm for {duration}")
            }
            Fault::NetworkChaos { chaos, duration } => write!(
                f,
                "network chaos loss={} dup={} reorder={} for {duration}",
                chaos.loss, chaos.duplicate, chaos.reorder
            ),
            Fault::Degrade { host, mode, duration } => write!(f, "degrade {host} {mode:?} for {duration}"),
            Fault::CrashRole { target, down_for } => write!(f, "crash {target} for {down_for}"),
            Fault::PauseRole { target, paused_for } => write!(f, "pause {target} for {paused_for}"),
            Fault::KillRole { target, down_for } => write!(f, "kill {target} for {down_for}"),
            Fault::IsolateRole { target, duration } => {
                write!(f, "partition {target} from the rest for {duration}")
            }
            Fault::DegradeRole {
                target,
                mode,
                duration,
            } => write!(f, "degrade {target} {mode:?} for {duration}"),
            Fault::SlowDisk {
                host,
                factor,
                duration,
            } => write!(f, "slow disk {host} x{factor} for {duration}"),
        }
    }
}

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

fn default_duration_min() -> Duration {
    Duration::from_millis(100)
}
fn default_duration_max() -> Duration {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Topology;
    use crate::rng::Distribution;

    fn rate() -> FaultRate {
        FaultRate {
            mean_interval: Duration::from_secs(1),
            duration_min: Duration::from_millis(100),
            duration_max: Duration::from_secs(3),
        }
    }

    fn hosts(n: u32) -> Vec<HostSpec> {
        Topology::zoned(
            n,
            2,
            Distribution::constant(Duration::from_millis(1)),
            Distribution::constant(Duration::from_millis(1)),
        )
        .hosts()
        .to_vec()
    }

    #[test]
    fn plans_are_reproducible_and_seed_dependent() {
        let mut p = FaultProfile::everything(rate());
        p.degrade_modes = vec!["slow:4".into(), "stall".into()];
        let h = hosts(5);
        let a = p.plan(1, &h, Duration::from_secs(60));
        assert_eq!(a, p.plan(1, &h, Duration::from_secs(60)));
        assert_ne!(a, p.plan(2, &h, Duration::from_secs(60)));
        assert!(a.actions.len() > 50, "{}", a.actions.len());
        for kind in FaultKind::ALL {
            assert!(
                a.actions.iter().any(|x| x.fault.kind() == kind),
                "{kind:?} missing"
            );
        }
        a.validate(&h).unwrap();
    }

    #[test]
    fn enabling_a_kind_does_not_change_another_kinds_faults() {
        let h = hosts(5);
        let mut only_crash = FaultProfile::none();
        only_crash.crash = Some(rate());
        only_crash.max_hosts_down = 5;
        let mut with_clog = only_crash.clone();
        with_clog.clog = Some(rate());
        let crashes = |p: &FaultProfile| -> Vec<FaultAction> {
            p.plan(9, &h, Duration::from_secs(60))
                .actions
                .into_iter()
                .filter(|a| a.fault.kind() == FaultKind::Crash)
                .collect()
        };
        assert_eq!(crashes(&only_crash), crashes(&with_clog));
    }

    #[test]
    fn max_hosts_down_and_quiet_period_hold() {
        let mut p = FaultProfile::none();
        p.crash = Some(rate());
        p.pause = Some(rate());
        p.max_hosts_down = 2;
        p.quiet_period = Duration::from_secs(10);
        for seed in 0..50 {
            let plan = p.plan(seed, &hosts(5), Duration::from_secs(100));
            assert_eq!(plan.heal_at, Some(Instant(Duration::from_secs(90).0)));
            let intervals: Vec<(Instant, Instant, HostId)> = plan
                .actions
                .iter()
                .map(|a| {
                    let h = match a.fault {
                        Fault::CrashHost { host, .. } | Fault::PauseHost { host, .. } => host,
                        _ => unreachable!(),
                    };
                    (a.at, a.at.saturating_add(a.fault.duration().unwrap()), h)
                })
                .collect();
            for (start, end, host) in &intervals {
                assert!(*end <= plan.heal_at.unwrap());
                let overlapping: Vec<_> = intervals
                    .iter()
                    .filter(|(s, e, _)| s <= start && e > start)
                    .collect();
                assert!(overlapping.len() <= 2, "seed {seed}: {overlapping:?}");
                assert_eq!(overlapping.iter().filter(|(_, _, h)| h == host).count(), 1);
            }
        }
    }

    #[test]
    fn swarm_disables_some_kinds_on_some_seeds() {
        let mut p = FaultProfile::everything(rate());
        p.swarm = true;
        let h = hosts(5);
        let kinds_per_seed: Vec<usize> = (0..20)
            .map(|s| {
                let mut k: Vec<FaultKind> = p
                    .plan(s, &h, Duration::from_secs(60))
                    .actions
                    .iter()
                    .map(|a| a.fault.kind())
                    .collect();
                k.sort();
                k.dedup();
                k.len()
            })
            .collect();
        assert!(kinds_per_seed.iter().any(|&k| k < 9), "{kinds_per_seed:?}");
        assert!(kinds_per_seed.iter().any(|&k| k >= 3), "{kinds_per_seed:?}");
    }

    #[test]
    fn degrade_faults_pick_a_mode_and_leave_other_kinds_alone() {
        let h = hosts(5);
        let mut base = FaultProfile::everything(rate());
        base.swarm = true;
        let mut with = base.clone();
        with.degrade_modes = vec!["slow:4".into(), "errors:0.3".into(), "stall".into()];
        for seed in 0..10 {
            let a = base.plan(seed, &h, Duration::from_secs(60));
            let b = with.plan(seed, &h, Duration::from_secs(60));
            // No modes, no degrade faults.
            assert!(a.actions.iter().all(|x| x.fault.kind() != FaultKind::Degrade));
            let others: Vec<&FaultAction> = b
                .actions
                .iter()
                .filter(|x| x.fault.kind() != FaultKind::Degrade)
                .collect();
            assert_eq!(others, a.actions.iter().collect::<Vec<_>>(), "seed {seed}");
        }
        // Without swarm every mode turns up, each on a valid host.
        with.swarm = false;
        let plan = with.plan(3, &h, Duration::from_secs(120));
        let mut modes: Vec<&str> = plan
            .actions
            .iter()
            .filter_map(|x| match &x.fault {
                Fault::Degrade { mode, .. } => Some(mode.as_str()),
                _ => None,
            })
            .collect();
        modes.sort();
        modes.dedup();
        assert_eq!(modes, vec!["errors:0.3", "slow:4", "stall"]);
        plan.validate(&h).unwrap();
        let mut bad = with.clone();
        bad.degrade_modes.push(" ".into());
        assert!(bad.validate().unwrap_err().contains("degrade_modes.3"));
    }

    #[test]
    fn validation_names_the_problem() {
        let plan = FaultPlan {
            actions: vec![FaultAction {
                at: Instant(0),
                fault: Fault::CrashHost {
                    host: HostId(9),
                    down_for: Duration(1),
                },
            }],
            heal_at: None,
        };
        let err = plan.validate(&hosts(3)).unwrap_err();
        assert!(err.contains("h9") && err.contains("3 hosts"), "{err}");
        let mut p = FaultProfile::none();
        p.crash = Some(FaultRate {
            duration_min: Duration(5),
            duration_max: Duration(1),
            ..rate()
        });
        assert!(p.validate().unwrap_err().contains("crash.duration_min"));
    }

    #[test]
    fn plans_round_trip_through_serde() {
        let plan = FaultProfile::everything(rate()).plan(3, &hosts(4), Duration::from_secs(20));
        let bytes = postcard::to_allocvec(&plan).unwrap();
        let back: FaultPlan = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, plan);
        assert!(format!("{plan}").contains("heal everything at"));
    }
}
