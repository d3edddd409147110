//! The moments the run report marks over the shaded fault windows: detection (the catalog
//! leader's listing of a tier drops below its count), rescheduling (the scheduler leader
//! places replacements) and recovery (the first client's success over an SLO window is back
//! within the SLO). Each watcher marks at most once per SLO window, and only on a transition,
//! so a chart shows one mark of each per fault episode instead of one per event.
//!
//! Marks are metrics: outside the fingerprint, so watching changes no run.

use super::process::Shared;
use crate::discovery::consul::HealthCatalog;
use crate::scheduler::state::{AllocId, ClusterState};
use ruckus_sim::{Context, Duration, Instant, Process};
use std::rc::Rc;

/// When a watcher last marked, to keep to one mark per quiet period.
#[derive(Clone, Debug)]
struct Quiet {
    every: Duration,
    last: Option<Instant>,
}

impl Quiet {
    fn new(shared: &Shared) -> Quiet {
        Quiet {
            every: shared.config.slo.window,
            last: None,
        }
    }

    fn mark<P: Process>(&mut self, ctx: &mut Context<'_, P>, label: &str) {
        let now = ctx.now();
        if self.last.is_none_or(|t| now >= t.saturating_add(self.every)) {
            ctx.mark(label);
            self.last = Some(now);
        }
    }
}

/// A catalog server's watch: marks `detected: <tiers>` when, as its leader applies a change,
/// some tier's passing instances drop below the tier's count (from all at count).
#[derive(Clone, Debug)]
pub struct DetectionMarks {
    shared: Rc<Shared>,
    quiet: Quiet,
    /// The catalog index last looked at.
    index: u64,
    /// Whether some tier was short then (true until every tier first lists its count, so
    /// the start and a restarted server's replay mark nothing).
    short: bool,
}

impl DetectionMarks {
    /// A watch for a catalog server of the platform.
    pub fn new(shared: Rc<Shared>) -> DetectionMarks {
        DetectionMarks {
            quiet: Quiet::new(&shared),
            shared,
            index: 0,
            short: true,
        }
    }

    /// After the server handled an event: looks again if the catalog changed.
    pub fn after<P: Process>(&mut self, ctx: &mut Context<'_, P>, catalog: &HealthCatalog, leader: bool) {
        if catalog.index == self.index {
            return;
        }
        self.index = catalog.index;
        let short: Vec<&str> = self
            .shared
            .config
            .tiers
            .iter()
            .enumerate()
            .filter(|(t, tier)| (catalog.listing(*t as u32).passing().len() as u32) < tier.serve.servers)
            .map(|(_, tier)| tier.name.as_str())
            .collect();
        if leader && !self.short && !short.is_empty() {
            self.quiet.mark(ctx, &format!("detected: {}", short.join("+")));
        }
        self.short = !short.is_empty();
    }
}

/// A scheduler server's watch: marks `rescheduled: <jobs>` when its leader's state gains
/// allocations that replace lost or failed ones.
#[derive(Clone, Debug)]
pub struct RescheduleMarks {
    quiet: Quiet,
    /// The newest allocation looked at.
    seen: Option<AllocId>,
}

impl RescheduleMarks {
    /// A watch for a scheduler server of the platform.
    pub fn new(shared: &Shared) -> RescheduleMarks {
        RescheduleMarks {
            quiet: Quiet::new(shared),
            seen: None,
        }
    }

    /// After the server handled an event: looks at the allocations created since.
    pub fn after<P: Process>(&mut self, ctx: &mut Context<'_, P>, state: &ClusterState, leader: bool) {
        let newest = state.allocs.keys().next_back().copied();
        if newest == self.seen {
            return;
        }
        let from = self.seen.map_or(AllocId(0), |a| AllocId(a.0 + 1));
        self.seen = newest;
        // Only replacements created just now: a restarted server replaying its log marks nothing.
        let recent = ctx.now().saturating_sub(self.quiet.every);
        let mut jobs: Vec<&str> = Vec::new();
        for a in state.allocs.range(from..).map(|(_, a)| a) {
            if a.previous.is_some() && a.created_at >= recent && !jobs.contains(&a.job.as_str()) {
                jobs.push(&a.job);
            }
        }
        if leader && !jobs.is_empty() {
            self.quiet.mark(ctx, &format!("rescheduled: {}", jobs.join("+")));
        }
    }
}

/// The first client's watch: over the last SLO window of its own requests (one-second
/// buckets), marks `recovered` when success is back within the SLO after it saw it fall below.
#[derive(Clone, Debug)]
pub struct RecoveryMarks {
    quiet: Quiet,
    slo: f64,
    from: Instant,
    /// (ok, failed) per second, the newest last; at most a window's worth.
    buckets: Vec<(u64, u64)>,
    /// The second the last bucket counts.
    second: u64,
    /// The client's outcomes already counted.
    seen: (u64, u64),
    below: bool,
}

impl RecoveryMarks {
    /// A watch starting at `now`, judging windows that begin after the warm-up.
    pub fn new(shared: &Shared, now: Instant) -> RecoveryMarks {
        RecoveryMarks {
            quiet: Quiet::new(shared),
            slo: shared.config.slo.success_rate,
            from: Instant::ZERO + shared.config.warmup,
            buckets: vec![(0, 0)],
            second: now.as_nanos() / SECOND,
            seen: (0, 0),
            below: false,
        }
    }

    /// After the client handled an event, with its outcomes so far.
    pub fn after<P: Process>(&mut self, ctx: &mut Context<'_, P>, outcomes: (u64, u64)) {
        let second = ctx.now().as_nanos() / SECOND;
        let window = (self.quiet.every.as_nanos() / SECOND).max(1) as usize;
        while self.second < second {
            // A second is over: judge the full window that ends with it.
            let window_start = Instant((self.second + 1).saturating_sub(window as u64) * SECOND);
            if self.buckets.len() == window && window_start >= self.from {
                let (ok, failed) = self
                    .buckets
                    .iter()
                    .fold((0, 0), |(o, f), (bo, bf)| (o + bo, f + bf));
                let total = ok + failed;
                let within = total > 0 && ok as f64 / total as f64 >= self.slo;
                if total > 0 && !within {
                    self.below = true;
                } else if within && self.below {
                    self.below = false;
                    self.quiet.mark(ctx, "recovered");
                }
            }
            self.second += 1;
            if self.buckets.len() == window {
                self.buckets.remove(0);
            }
            self.buckets.push((0, 0));
        }
        let last = self.buckets.last_mut().expect("at least one bucket");
        last.0 += outcomes.0 - self.seen.0;
        last.1 += outcomes.1 - self.seen.1;
        self.seen = outcomes;
    }
}

const SECOND: u64 = 1_000_000_000;
