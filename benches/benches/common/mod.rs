//! Shared by the bench binaries: a timing loop that hands criterion its measurement and also
//! keeps a tally of it, so a bench can print figures criterion does not compute (one function's
//! speed relative to another's, simulated seconds per wall second).
//!
//! Benches time whole runs from outside them, so reading the wall clock here cannot affect
//! any run: the determinism rules forbid it only inside a run.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use criterion::Bencher;
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Every timed iteration criterion ran for one bench function (warm-up included): how many,
/// and their total wall time.
#[derive(Debug, Default)]
pub struct WallTally {
    runs: Cell<u64>,
    total: Cell<Duration>,
}

impl WallTally {
    fn add(&self, runs: u64, total: Duration) {
        self.runs.set(self.runs.get() + runs);
        self.total.set(self.total.get() + total);
    }

    /// Mean wall seconds per run, or `None` if criterion ran nothing (e.g. filtered out).
    pub fn mean_secs(&self) -> Option<f64> {
        let runs = self.runs.get();
        (runs > 0).then(|| self.total.get().as_secs_f64() / runs as f64)
    }

    /// Runs tallied.
    pub fn runs(&self) -> u64 {
        self.runs.get()
    }
}

/// Like criterion's `iter_batched` with one input per iteration: `setup` is not timed,
/// `routine` is (including dropping what it consumes), and every measurement also goes into
/// `tally`.
pub fn iter_timed<S, R>(
    b: &mut Bencher<'_>,
    tally: &WallTally,
    mut setup: impl FnMut() -> S,
    mut routine: impl FnMut(S) -> R,
) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let input = setup();
            let start = Instant::now();
            let out = routine(black_box(input));
            total += start.elapsed();
            black_box(out);
        }
        tally.add(iters, total);
        total
    });
}

/// `numerator / denominator` of two optional means, formatted, or "n/a".
pub fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "n/a".into(),
    }
}
