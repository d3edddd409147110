//! What work costs in virtual time: CPU time per handled event, the latency of a storage
//! sync, and clocks that start apart.
//!
//! A host has one CPU. A handler runs at the event's time and *spends* time: the host's
//! handler cost (drawn per event) plus whatever it calls [`Context::spend`](crate::Context::spend)
//! for and each [`Storage::sync`](crate::Storage::sync) takes (an fsync stalls the
//! single-threaded handler). Everything the handler does takes effect from the moment the time
//! spent so far has elapsed: a message departs at `now + spent`, a timer counts from there, and
//! the clocks read there. The host is then busy until `now + spent`; an event for a busy host
//! waits until it is free, in the order the events came up ((time, sequence) order, so FIFO).
//! A handler's effects are committed when it runs: a crash during its busy time does not undo
//! what it sent.
//!
//! [`Context::sync_async`](crate::Context::sync_async) is the other way to sync: the handler
//! goes on, the host's disk serves such syncs one at a time (each one latency draw), and the
//! completion comes back as an event of its own; the writes it covers are durable only then.
//! A blocking sync uses the same disk: it waits for the background syncs queued before it.
//!
//! Every draw comes from the host's own streams (`costs/cpu`, `costs/disk`), so turning costs
//! on moves no other stream, and with every cost zero (the default) nothing is drawn and a run
//! is exactly as without costs.

use crate::rng::{Distribution, Random};
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

/// A host's costs: CPU time per handled event and the latency of a storage sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCosts {
    /// CPU time each handler call (message, timer or start) takes, drawn per event (`None`: free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Distribution>,
    /// How long a `Storage::sync` (an fsync) takes, drawn per sync (`None`: instant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_sync: Option<Distribution>,
}

impl HostCosts {
    /// Checks the distributions.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(d) = &self.handler {
            d.validate().map_err(|m| format!("handler: {m}"))?;
        }
        if let Some(d) = &self.disk_sync {
            d.validate().map_err(|m| format!("disk_sync: {m}"))?;
        }
        Ok(())
    }
}

/// Clocks that start apart: each host draws, from the seed (stream `clocks`, the host's
/// index), an offset within `±offset_max`, a drift within `±drift_max_ppm` (both added to the
/// host's own clock settings) and a boot time within `[0, start_jitter_max]`.
///
/// Offsets alone never separate two hosts' timers (timers are relative to when they are set),
/// and drift of a few hundred ppm separates a 150 ms timeout by tens of microseconds, less
/// than a network hop. The boot time does: a host is busy booting until it, so its processes
/// start then (events that arrive earlier wait for the boot), and their first timers fire
/// that much later.
///
/// `Default` (and [`ClockSpread::NONE`]) is all zero: every host boots at zero with its own
/// clock, so the engine's own timings stay exact. Scenario files start from
/// [`ClockSpread::typical`] instead, and a field a file leaves out takes its typical value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default = "ClockSpread::typical", deny_unknown_fields)]
pub struct ClockSpread {
    /// Largest initial offset either way.
    pub offset_max: Duration,
    /// Largest drift either way, in parts per million.
    pub drift_max_ppm: i64,
    /// Latest boot time.
    pub start_jitter_max: Duration,
}

/// One host's draw from a [`ClockSpread`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostSpread {
    pub(crate) offset_ns: i64,
    pub(crate) drift_ppm: i64,
    pub(crate) boot_at: Duration,
}

impl ClockSpread {
    /// No spread: every clock exact, every host booted at zero.
    pub const NONE: ClockSpread = ClockSpread {
        offset_max: Duration(0),
        drift_max_ppm: 0,
        start_jitter_max: Duration(0),
    };

    /// What NTP-disciplined machines in one data centre look like: offsets within ±1 ms and
    /// crystal drift within ±20 ppm, every host booted at zero. Enough that no two hosts' timers
    /// fire at the same instant (a 150 ms timeout differs by up to 6 µs, and the gap grows with
    /// every re-arm), too little to matter to any lease or timeout with a margin.
    pub const fn typical() -> ClockSpread {
        ClockSpread {
            offset_max: Duration(1_000_000),
            drift_max_ppm: 20,
            start_jitter_max: Duration(0),
        }
    }

    /// Whether the spread changes anything.
    pub fn is_off(&self) -> bool {
        *self == ClockSpread::default()
    }

    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.drift_max_ppm < 0 || self.drift_max_ppm >= 100_000 {
            return Err(format!(
                "drift_max_ppm must be within 0..100000, got {}",
                self.drift_max_ppm
            ));
        }
        if self.offset_max.0 > i64::MAX as u64 / 2 {
            return Err("offset_max is too large".into());
        }
        Ok(())
    }

    /// Host `index`'s offset, drift and boot time under `seed`.
    pub(crate) fn draw(&self, seed: u64, index: usize) -> HostSpread {
        let mut rng = Random::stream(seed, "clocks", index as u64);
        let offset = self.offset_max.0.min(i64::MAX as u64 / 2);
        let offset_ns = rng.range_inclusive(0, 2 * offset) as i64 - offset as i64;
        let drift = self.drift_max_ppm.clamp(0, 999_999) as u64;
        let drift_ppm = rng.range_inclusive(0, 2 * drift) as i64 - drift as i64;
        let boot_at = Duration(rng.range_inclusive(0, self.start_jitter_max.0));
        HostSpread {
            offset_ns,
            drift_ppm,
            boot_at,
        }
    }
}

/// A host's disk timing: the sync latency, its stream and the slow-disk faults in force.
#[derive(Clone, Debug)]
pub(crate) struct DiskTiming {
    pub(crate) latency: Option<Distribution>,
    pub(crate) rng: Random,
    /// Active `Fault::SlowDisk` factors as (fault index, factor).
    pub(crate) slow: Vec<(u32, u32)>,
    /// When the last queued asynchronous sync completes: the disk serves them one at a time.
    pub(crate) queue_free_at: Instant,
}

impl DiskTiming {
    pub(crate) fn new(latency: Option<Distribution>, seed: u64, host: usize) -> DiskTiming {
        DiskTiming {
            latency,
            rng: Random::stream(seed, "costs/disk", host as u64),
            slow: Vec::new(),
            queue_free_at: Instant::ZERO,
        }
    }

    /// Queues an asynchronous sync issued at `at` and returns when it completes: it starts once
    /// the syncs queued before it are done and takes one [`sync_time`](Self::sync_time).
    pub(crate) fn queue_sync(&mut self, at: Instant) -> Instant {
        let start = at.max(self.queue_free_at);
        let done = start.saturating_add(self.sync_time());
        self.queue_free_at = done;
        done
    }

    /// A crash empties the disk's queue: what was queued never completes.
    pub(crate) fn crash(&mut self, now: Instant) {
        self.queue_free_at = self.queue_free_at.min(now);
    }

    /// How long one sync takes now: the latency draw times the largest slow-disk factor in
    /// force (no latency: zero, and nothing drawn).
    pub(crate) fn sync_time(&mut self) -> Duration {
        let Some(latency) = self.latency else {
            return Duration::ZERO;
        };
        let base = latency.sample(&mut self.rng);
        let factor = self.slow.iter().map(|(_, f)| *f).max().unwrap_or(1).max(1);
        Duration(base.0.saturating_mul(u64::from(factor)))
    }
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod sync_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_seeded_within_bounds_and_differ_between_hosts() {
        let spread = ClockSpread {
            offset_max: Duration::from_millis(50),
            drift_max_ppm: 200,
            start_jitter_max: Duration::from_millis(150),
        };
        let draws: Vec<HostSpread> = (0..5).map(|i| spread.draw(7, i)).collect();
        for d in &draws {
            assert!(d.offset_ns.unsigned_abs() <= 50_000_000, "{d:?}");
            assert!(d.drift_ppm.abs() <= 200, "{d:?}");
            assert!(d.boot_at <= Duration::from_millis(150), "{d:?}");
        }
        assert_eq!(draws, (0..5).map(|i| spread.draw(7, i)).collect::<Vec<_>>());
        assert!(draws.windows(2).any(|w| w[0].boot_at != w[1].boot_at));
        assert_ne!(spread.draw(8, 0), draws[0], "another seed, another draw");
    }

    #[test]
    fn a_slow_disk_multiplies_the_sync_time_and_no_latency_draws_nothing() {
        let mut none = DiskTiming::new(None, 1, 0);
        none.slow.push((0, 10));
        assert_eq!(none.sync_time(), Duration::ZERO);
        let mut disk = DiskTiming::new(Some(Distribution::constant(Duration::from_millis(2))), 1, 0);
        assert_eq!(disk.sync_time(), Duration::from_millis(2));
        disk.slow.push((3, 5));
        disk.slow.push((4, 3));
        assert_eq!(disk.sync_time(), Duration::from_millis(10));
    }

    #[test]
    fn queued_syncs_complete_one_after_another_and_a_crash_empties_the_queue() {
        let mut disk = DiskTiming::new(Some(Distribution::constant(Duration::from_millis(2))), 1, 0);
        let t = |ms: u64| Instant::ZERO.saturating_add(Duration::from_millis(ms));
        assert_eq!(disk.queue_sync(t(1)), t(3));
        assert_eq!(disk.queue_sync(t(2)), t(5), "waits for the first");
        assert_eq!(disk.queue_sync(t(10)), t(12), "an idle disk starts at once");
        disk.crash(t(11));
        assert_eq!(
            disk.queue_sync(t(11)),
            t(13),
            "the crashed sync no longer holds the queue"
        );
        let mut instant = DiskTiming::new(None, 1, 0);
        assert_eq!(instant.queue_sync(t(4)), t(4));
    }
}
