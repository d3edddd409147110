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

use crate::network::{HostId, NetworkChaos, Partition};
use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;
mod plan;
mod profile;
#[cfg(test)]
mod tests;

pub use plan::{FaultAction, FaultPlan};
pub use profile::{FaultProfile, FaultRate, PLAN_CANDIDATES_MAX};
use profile::{default_duration_max, default_duration_min};

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
