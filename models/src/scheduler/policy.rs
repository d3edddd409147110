//! Timing policies as plain functions and state: heartbeat TTLs, task restarts on a client,
//! allocation rescheduling on the servers. Defaults are Nomad's.

use ruckus_sim::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// How servers size client heartbeat TTLs (Nomad: `max_heartbeats_per_second` = 50,
/// `min_heartbeat_ttl` = 10 s, `heartbeat_grace` = 10 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatPolicy {
    /// The most heartbeats per second the servers should receive from the whole cluster.
    pub max_heartbeats_per_second: u64,
    /// The shortest TTL handed to a client.
    pub min_heartbeat_ttl: Duration,
    /// Extra time past the TTL before a silent node is marked down.
    pub heartbeat_grace: Duration,
}

impl Default for HeartbeatPolicy {
    fn default() -> Self {
        HeartbeatPolicy {
            max_heartbeats_per_second: 50,
            min_heartbeat_ttl: Duration::from_secs(10),
            heartbeat_grace: Duration::from_secs(10),
        }
    }
}

impl HeartbeatPolicy {
    /// The base TTL for a cluster of `nodes`: long enough that `nodes` heartbeats, one per
    /// node per TTL, arrive at most `max_heartbeats_per_second` (`nodes / rate` seconds), and at
    /// least `min_heartbeat_ttl`. With `fixed` (the `fixed_heartbeat_ttl` bug) it is always the
    /// minimum, so a large cluster floods the servers.
    pub fn base_ttl(&self, nodes: usize, fixed: bool) -> Duration {
        if fixed {
            return self.min_heartbeat_ttl;
        }
        let rate = self.max_heartbeats_per_second.max(1);
        let scaled = Duration::from_nanos((nodes as u64).saturating_mul(1_000_000_000) / rate);
        scaled.max(self.min_heartbeat_ttl)
    }

    /// The TTL handed to one client: the base plus a random stagger in `[0, base)` (from the
    /// server's stream: `stagger_fraction` in [0, 1)), so heartbeats do not synchronise.
    pub fn ttl(&self, nodes: usize, fixed: bool, stagger_fraction: f64) -> Duration {
        let base = self.base_ttl(nodes, fixed);
        let stagger = (base.as_nanos() as f64 * stagger_fraction.clamp(0.0, 1.0)) as u64;
        base + Duration::from_nanos(stagger.min(base.as_nanos().saturating_sub(1)))
    }

    /// How long the server waits for the next heartbeat after granting `ttl`.
    pub fn deadline(&self, ttl: Duration) -> Duration {
        ttl + self.heartbeat_grace
    }
}

/// How a client restarts a failed task in place (Nomad service defaults: 2 attempts in 30 min,
/// 15 s delay, then the allocation fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartPolicy {
    /// Restarts allowed within one interval.
    pub attempts: u32,
    /// The window restarts are counted in.
    pub interval: Duration,
    /// Wait before each restart.
    pub delay: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            attempts: 2,
            interval: Duration::from_secs(30 * 60),
            delay: Duration::from_secs(15),
        }
    }
}

impl RestartPolicy {
    /// Given the times of earlier restarts of a task, whether a failure at `now` may restart it
    /// (fewer than `attempts` restarts within the last `interval`); if not, the allocation fails.
    pub fn may_restart(&self, restarts: &[Instant], now: Instant) -> bool {
        let recent = restarts
            .iter()
            .filter(|&&t| now.saturating_since(t) < self.interval)
            .count();
        recent < self.attempts as usize
    }
}

/// How servers replace a failed allocation (Nomad service defaults: 30 s delay, exponential,
/// capped at 1 h, unlimited attempts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReschedulePolicy {
    /// Delay before the first replacement.
    pub delay: Duration,
    /// Double the delay with every further attempt.
    pub exponential: bool,
    /// The longest delay.
    pub max_delay: Duration,
    /// Most replacements in a chain (`None`: unlimited).
    pub attempts: Option<u32>,
}

impl Default for ReschedulePolicy {
    fn default() -> Self {
        ReschedulePolicy {
            delay: Duration::from_secs(30),
            exponential: true,
            max_delay: Duration::from_secs(3600),
            attempts: None,
        }
    }
}

impl ReschedulePolicy {
    /// Nomad's batch default: one attempt after 5 s.
    pub fn batch_default() -> ReschedulePolicy {
        ReschedulePolicy {
            delay: Duration::from_secs(5),
            exponential: false,
            max_delay: Duration::from_secs(5),
            attempts: Some(1),
        }
    }

    /// The delay before replacing an allocation that is the `previous`-th reschedule of its
    /// chain (0 for an original): `delay * 2^previous` if exponential, capped at `max_delay`.
    pub fn delay_after(&self, previous: u32) -> Duration {
        if !self.exponential {
            return self.delay.min(self.max_delay);
        }
        let factor = 1u64.checked_shl(previous.min(63)).unwrap_or(u64::MAX);
        Duration::from_nanos(self.delay.as_nanos().saturating_mul(factor)).min(self.max_delay)
    }

    /// Whether a chain with `previous` reschedules may be rescheduled again.
    pub fn allows(&self, previous: u32) -> bool {
        self.attempts.is_none_or(|a| previous < a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_grows_with_the_cluster_above_the_minimum() {
        let p = HeartbeatPolicy::default();
        assert_eq!(p.base_ttl(10, false), Duration::from_secs(10));
        assert_eq!(p.base_ttl(500, false), Duration::from_secs(10));
        assert_eq!(p.base_ttl(1000, false), Duration::from_secs(20));
        assert_eq!(p.base_ttl(2500, false), Duration::from_secs(50));
        assert_eq!(p.base_ttl(2500, true), Duration::from_secs(10));
        assert_eq!(p.ttl(1000, false, 0.5), Duration::from_secs(30));
        assert_eq!(p.ttl(1000, false, 0.0), Duration::from_secs(20));
        assert!(p.ttl(1000, false, 1.0) < Duration::from_secs(40));
        assert_eq!(p.deadline(Duration::from_secs(30)), Duration::from_secs(40));
    }

    #[test]
    fn restart_policy_counts_restarts_in_the_interval() {
        let p = RestartPolicy {
            attempts: 2,
            interval: Duration::from_secs(60),
            delay: Duration::from_secs(1),
        };
        let t = |s| Instant::ZERO + Duration::from_secs(s);
        assert!(p.may_restart(&[], t(0)));
        assert!(p.may_restart(&[t(10)], t(20)));
        assert!(!p.may_restart(&[t(10), t(20)], t(30)));
        // The first restart has left the window.
        assert!(p.may_restart(&[t(10), t(20)], t(71)));
    }

    #[test]
    fn reschedule_delay_doubles_up_to_the_cap() {
        let p = ReschedulePolicy::default();
        let secs: Vec<u64> = (0..10)
            .map(|n| p.delay_after(n).as_nanos() / 1_000_000_000)
            .collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(p.delay_after(200), Duration::from_secs(3600));
        assert!(p.allows(1_000_000));
        let b = ReschedulePolicy::batch_default();
        assert_eq!(b.delay_after(3), Duration::from_secs(5));
        assert!(b.allows(0));
        assert!(!b.allows(1));
    }
}

/// Which allocation stays when a disconnected node comes back while replacements of its
/// allocations exist (Nomad's `disconnect.reconcile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconnectPolicy {
    /// The original runs on; its replacement is stopped (Nomad's default).
    #[default]
    KeepOriginal,
    /// Whichever scores better on its node under the fit algorithm stays (a tie keeps the
    /// original).
    BestScore,
}

/// What happens to the allocations of a node that missed its heartbeats (Nomad's `disconnect`
/// block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisconnectPolicy {
    /// How long they stay "unknown" (holding their slot, not replaced) before they are
    /// replaced. Zero (the default): lost and replaced at once, as without the block.
    pub lost_after: Duration,
    /// Who stays when the node comes back and replacements exist.
    pub reconcile: ReconnectPolicy,
}

/// How a service job's allocations move to a new version (Nomad's `update` block, simplified;
/// defaults are Nomad's): at most `max_parallel` replacements of a task group at a time, each
/// old allocation stopped only once its replacement has run `min_healthy_time`; a replacement
/// not healthy within `healthy_deadline` of its placement fails the deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdatePolicy {
    /// Replacements of a task group in flight at once.
    pub max_parallel: u32,
    /// How long a new allocation must run to count as healthy.
    pub min_healthy_time: Duration,
    /// How long after placement a new allocation may take to become healthy.
    pub healthy_deadline: Duration,
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        UpdatePolicy {
            max_parallel: 1,
            min_healthy_time: Duration::from_secs(10),
            healthy_deadline: Duration::from_secs(300),
        }
    }
}
