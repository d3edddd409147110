//! Parameters of the SWIM component, the bug switches, and the timing math derived from them.
//!
//! Names and defaults follow memberlist's LAN profile, so a figure measured here can be set
//! beside one measured on a real Consul or Nomad cluster.

use ruckus_sim::Duration;
use serde::{Deserialize, Serialize};

/// How a member picks the next member to probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSelection {
    /// memberlist: walk the members in a random order, a new one after each full pass (a
    /// keyed permutation computed on the fly, not a stored shuffle). Bounds the time until
    /// every member is probed by everyone to one pass.
    #[default]
    RoundRobin,
    /// The SWIM paper's analysis: a uniformly random other member each period.
    Random,
}

/// Switches that re-introduce known membership bugs, so the simulator can be shown to find them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// One missed probe declares the target dead at once (no suspicion phase): any member
    /// briefly unreachable (a pause, a short partition, lost packets) is declared dead.
    pub no_suspicion: bool,
    /// A suspected member refutes without bumping its incarnation, so its alive message never
    /// outranks the suspicion and it cannot clear itself.
    pub no_incarnation_bump: bool,
}

/// The component's parameters (memberlist `DefaultLANConfig` names and values).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwimConfig {
    /// Time between probe rounds (stretched by the local health multiplier).
    pub probe_interval: Duration,
    /// How long a direct ping waits for its ack before indirect probes go out.
    pub probe_timeout: Duration,
    /// Members asked to ping a target that missed its direct ack (`k` in the SWIM paper).
    pub indirect_checks: u32,
    /// Suspicion timeout floor, in probe intervals, scaled by log10 of the cluster size.
    pub suspicion_mult: u32,
    /// Suspicion timeout ceiling as a multiple of the floor (Lifeguard starts there).
    pub suspicion_max_timeout_mult: u32,
    /// Time between gossip rounds.
    pub gossip_interval: Duration,
    /// Members each gossip round sends to.
    pub gossip_nodes: u32,
    /// How long a dead member still receives gossip (so it can learn it was declared dead).
    pub gossip_to_the_dead_time: Duration,
    /// Retransmissions of each update: `retransmit_mult * ceil(log10(n + 1))`.
    pub retransmit_mult: u32,
    /// Time between full state exchanges with a random member (scaled up above 32 members).
    pub push_pull_interval: Duration,
    /// Time between attempts to exchange state with a random dead member (serf's reconnect),
    /// which is how the two sides of a healed partition find each other again.
    pub reconnect_interval: Duration,
    /// Time between join attempts through the seeds while this member knows no one else.
    pub join_retry_interval: Duration,
    /// Lifeguard's local health awareness: failed probes, missed nacks and accusations of this
    /// member stretch its own probe timeout and interval, up to `awareness_max_multiplier`.
    pub lifeguard: bool,
    /// Largest local health multiplier (memberlist `AwarenessMaxMultiplier`).
    pub awareness_max_multiplier: u32,
    /// A member that hears a suspicion or death older than the alive it holds (about itself
    /// or another member) spreads that alive again: the accuser evidently missed the
    /// refutation. Not in memberlist, which ignores stale accusations, so a refutation whose
    /// few retransmits went into a partition, or simply missed the accuser, is lost until a
    /// push-pull, and the accuser's suspicion can run out on a live member
    /// (`swim_no_suspicion` shows it). Off: memberlist's behaviour.
    pub repeat_refutation: bool,
    /// How probe targets are chosen.
    pub target_selection: TargetSelection,
    /// Start the first probe round at a random offset within one interval (memberlist
    /// staggers its tickers); off: every member probes on the same period boundaries.
    pub stagger: bool,
    /// Byte budget for the updates piggybacked on one packet (memberlist `UDPBufferSize`).
    pub packet_bytes_max: u32,
    /// Busy time per received message under degrade mode `slow:F` is `F` times this.
    pub slow_unit: Duration,
    /// Received messages a slow member holds before it drops new ones (its socket buffer).
    pub inbox_max: u32,
}

impl Default for SwimConfig {
    fn default() -> Self {
        SwimConfig {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            retransmit_mult: 4,
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            join_retry_interval: Duration::from_secs(1),
            lifeguard: true,
            awareness_max_multiplier: 8,
            repeat_refutation: false,
            target_selection: TargetSelection::RoundRobin,
            stagger: true,
            packet_bytes_max: 1_400,
            slow_unit: Duration::from_millis(10),
            inbox_max: 256,
        }
    }
}

impl SwimConfig {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("probe_interval", self.probe_interval.as_nanos()),
            ("probe_timeout", self.probe_timeout.as_nanos()),
            ("suspicion_mult", u64::from(self.suspicion_mult)),
            (
                "suspicion_max_timeout_mult",
                u64::from(self.suspicion_max_timeout_mult),
            ),
            ("gossip_interval", self.gossip_interval.as_nanos()),
            ("retransmit_mult", u64::from(self.retransmit_mult)),
            ("push_pull_interval", self.push_pull_interval.as_nanos()),
            ("reconnect_interval", self.reconnect_interval.as_nanos()),
            ("join_retry_interval", self.join_retry_interval.as_nanos()),
            (
                "awareness_max_multiplier",
                u64::from(self.awareness_max_multiplier),
            ),
            ("packet_bytes_max", u64::from(self.packet_bytes_max)),
            ("inbox_max", u64::from(self.inbox_max)),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.probe_timeout > self.probe_interval {
            return Err(format!(
                "probe_timeout ({}) must not exceed probe_interval ({}): the indirect probes need the rest of the round",
                self.probe_timeout, self.probe_interval
            ));
        }
        // Every derived duration is a small multiple of these; keep them far from overflow.
        let day = Duration::from_secs(86_400);
        for (name, d) in [
            ("probe_interval", self.probe_interval),
            ("gossip_interval", self.gossip_interval),
            ("push_pull_interval", self.push_pull_interval),
            ("reconnect_interval", self.reconnect_interval),
            ("gossip_to_the_dead_time", self.gossip_to_the_dead_time),
            ("slow_unit", self.slow_unit),
        ] {
            if d > day {
                return Err(format!("{name} must be at most a day (got {d})"));
            }
        }
        if self.suspicion_mult > 100 || self.suspicion_max_timeout_mult > 100 {
            return Err("suspicion_mult and suspicion_max_timeout_mult must be at most 100".into());
        }
        if self.awareness_max_multiplier > 64 || self.indirect_checks > 64 || self.gossip_nodes > 64 {
            return Err(
                "awareness_max_multiplier, indirect_checks and gossip_nodes must be at most 64".into(),
            );
        }
        Ok(())
    }

    /// The suspicion timeout floor for a cluster of `n`: memberlist's
    /// `suspicion_mult * max(1, log10(max(1, n))) * probe_interval`, in whole milliseconds.
    pub fn suspicion_timeout_min(&self, n: u32) -> Duration {
        let scale = log10(f64::from(n.max(1))).max(1.0);
        let millis = f64::from(self.suspicion_mult) * scale * self.probe_interval.as_nanos() as f64 / 1e6;
        // Whole milliseconds like memberlist, rounded so log10(100) = 1.999... gives 8 s.
        Duration::from_nanos(millis.round() as u64 * 1_000_000)
    }

    /// The suspicion timeout ceiling: where a fresh suspicion starts (Lifeguard).
    pub fn suspicion_timeout_max(&self, n: u32) -> Duration {
        self.suspicion_timeout_min(n) * u64::from(self.suspicion_max_timeout_mult)
    }

    /// Independent confirmations that bring a suspicion down to the floor: memberlist uses
    /// `suspicion_mult - 2`, and none in clusters too small to supply them.
    pub fn confirmations_wanted(&self, n: u32) -> u32 {
        let k = self.suspicion_mult.saturating_sub(2);
        if n.saturating_sub(2) < k { 0 } else { k }
    }

    /// How many times each update is piggybacked or gossiped: `retransmit_mult * ceil(log10(n + 1))`.
    pub fn retransmit_limit(&self, n: u32) -> u32 {
        self.retransmit_mult * decimal_digits(n)
    }

    /// memberlist's push-pull scaling: the interval as is up to 32 members, then one more
    /// multiple for each doubling (so state exchange load stays bounded as the cluster grows).
    pub fn push_pull_interval_scaled(&self, n: u32) -> Duration {
        const THRESHOLD: u32 = 32;
        if n <= THRESHOLD {
            return self.push_pull_interval;
        }
        let ceil_log2 = 32 - (n - 1).leading_zeros();
        let multiplier = ceil_log2 - THRESHOLD.trailing_zeros() + 1;
        self.push_pull_interval * u64::from(multiplier)
    }
}

/// Lifeguard's dynamic suspicion timeout: `max(min, max - (max - min) * log(c + 1) / log(k + 1))`
/// after `c` of the `k` wanted independent confirmations (`k = 0`: the floor at once).
pub fn suspicion_timeout(min: Duration, max: Duration, k: u32, c: u32) -> Duration {
    assert!(min <= max, "suspicion floor {min} above ceiling {max}");
    if k == 0 {
        return min;
    }
    let fraction = ln(f64::from(c.min(k)) + 1.0) / ln(f64::from(k) + 1.0);
    let span = (max.as_nanos() - min.as_nanos()) as f64;
    let raw = max.as_nanos() as f64 - fraction * span;
    Duration::from_nanos((raw as u64).max(min.as_nanos()))
}

/// `ceil(log10(n + 1))`, which for whole numbers is the count of decimal digits of `n` (0 for 0).
pub fn decimal_digits(n: u32) -> u32 {
    let mut digits = 0;
    let mut rest = n;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    digits
}

/// Natural logarithm from IEEE basic operations only, so the value is the same on every
/// platform (the system `ln` may differ in the last bit, and a timer set from it would shift
/// the whole run). `x = m * 2^e` with `m` in [1, 2), then `ln m = 2 atanh((m - 1) / (m + 1))`.
pub fn ln(x: f64) -> f64 {
    assert!(x.is_finite() && x >= f64::MIN_POSITIVE, "ln of {x}");
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let s = (mantissa - 1.0) / (mantissa + 1.0); // in [0, 1/3)
    let s2 = s * s;
    let (mut term, mut sum, mut k) = (s, 0.0, 1.0);
    for _ in 0..40 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + exponent as f64 * std::f64::consts::LN_2
}

/// Base-10 logarithm through [`ln`].
pub fn log10(x: f64) -> f64 {
    ln(x) / std::f64::consts::LN_10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_the_system_logarithm_closely() {
        for x in [1.0, 1.5, 2.0, 3.0, 10.0, 100.0, 1e4, 0.25, 123_456.789] {
            let (ours, system) = (ln(x), x.ln());
            assert!((ours - system).abs() < 1e-12, "ln({x}) = {ours}, system {system}");
        }
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn suspicion_floor_scales_with_log10_of_cluster_size() {
        let c = SwimConfig::default();
        // Below 10 members the scale is clamped to 1: 4 * 1 s.
        assert_eq!(c.suspicion_timeout_min(1), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout_min(5), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout_min(10), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout_min(100), Duration::from_secs(8));
        assert_eq!(c.suspicion_timeout_min(1_000), Duration::from_secs(12));
        assert_eq!(c.suspicion_timeout_max(100), Duration::from_secs(48));
        let between = c.suspicion_timeout_min(50).as_nanos();
        assert_eq!(between, 6_796_000_000); // 4 * log10(50) = 6.796 s
    }

    #[test]
    fn lifeguard_timeout_falls_from_ceiling_to_floor_with_confirmations() {
        let (min, max) = (Duration::from_secs(4), Duration::from_secs(24));
        assert_eq!(suspicion_timeout(min, max, 2, 0), max);
        // One of two: 24 - 20 * ln 2 / ln 3 = 11.38 s.
        let one = suspicion_timeout(min, max, 2, 1).as_nanos();
        assert!(one > 11_380_000_000 && one < 11_390_000_000, "{one}");
        assert_eq!(suspicion_timeout(min, max, 2, 2), min);
        assert_eq!(
            suspicion_timeout(min, max, 2, 9),
            min,
            "extra confirmations change nothing"
        );
        assert_eq!(
            suspicion_timeout(min, max, 0, 0),
            min,
            "nobody to confirm: the floor"
        );
    }

    #[test]
    fn confirmations_wanted_is_mult_minus_two_unless_the_cluster_is_too_small() {
        let c = SwimConfig::default();
        assert_eq!(c.confirmations_wanted(100), 2);
        assert_eq!(c.confirmations_wanted(4), 2);
        assert_eq!(c.confirmations_wanted(3), 0);
    }

    #[test]
    fn retransmit_limit_is_mult_times_ceil_log10_of_n_plus_one() {
        let c = SwimConfig::default();
        assert_eq!(c.retransmit_limit(1), 4);
        assert_eq!(c.retransmit_limit(9), 4);
        assert_eq!(c.retransmit_limit(10), 8);
        assert_eq!(c.retransmit_limit(99), 8);
        assert_eq!(c.retransmit_limit(100), 12);
        assert_eq!(c.retransmit_limit(10_000), 20);
    }

    #[test]
    fn push_pull_interval_grows_one_multiple_per_doubling_above_32() {
        let c = SwimConfig::default();
        let s = |n| c.push_pull_interval_scaled(n).as_secs_f64();
        assert_eq!(s(32), 30.0);
        assert_eq!(s(33), 60.0);
        assert_eq!(s(64), 60.0);
        assert_eq!(s(65), 90.0);
        assert_eq!(s(1_000), 180.0);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let c = SwimConfig {
            probe_timeout: Duration::from_secs(2),
            ..SwimConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("probe_timeout"));
        let c = SwimConfig {
            gossip_interval: Duration::ZERO,
            ..SwimConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("gossip_interval"));
        assert_eq!(SwimConfig::default().validate(), Ok(()));
    }
}
