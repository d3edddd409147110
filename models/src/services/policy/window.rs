//! A rolling window of time buckets, shared by the time-based budget and breaker.

use ruckus_sim::{Duration, Instant};

/// `n` buckets of `span / n` each: adding goes to the bucket of `now`, and buckets older than
/// the span are emptied as time moves on, so [`RollingWindow::sum`] covers the last `span`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RollingWindow<T> {
    buckets: Vec<T>,
    width: u64,
    /// The absolute number (`now / width`) of the newest bucket.
    head: u64,
}

impl<T: Copy + Default> RollingWindow<T> {
    /// A window over `span` in `n` buckets (both at least 1 ns / 1 bucket).
    pub(super) fn new(span: Duration, n: u32) -> RollingWindow<T> {
        let n = n.max(1);
        RollingWindow {
            buckets: vec![T::default(); n as usize],
            width: (span.0 / u64::from(n)).max(1),
            head: 0,
        }
    }

    /// Moves the window to `now`: buckets it left behind are emptied. A clock that stepped
    /// back keeps adding to the newest bucket.
    fn advance(&mut self, now: Instant) {
        let b = now.as_nanos() / self.width;
        if b <= self.head {
            return;
        }
        let n = self.buckets.len() as u64;
        for k in self.head + 1..=b.min(self.head + n) {
            self.buckets[(k % n) as usize] = T::default();
        }
        self.head = b;
    }

    /// The bucket of `now`, to add to.
    pub(super) fn current(&mut self, now: Instant) -> &mut T {
        self.advance(now);
        let n = self.buckets.len() as u64;
        &mut self.buckets[(self.head % n) as usize]
    }

    /// The buckets of the last span at `now`, in no particular order.
    pub(super) fn buckets(&mut self, now: Instant) -> &[T] {
        self.advance(now);
        &self.buckets
    }

    /// Empties every bucket.
    pub(super) fn clear(&mut self) {
        self.buckets.fill(T::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_buckets_fall_out_of_the_window() {
        let at = |ms: u64| Instant::ZERO + Duration::from_millis(ms);
        let mut w = RollingWindow::<i64>::new(Duration::from_secs(1), 10);
        *w.current(at(0)) += 1;
        *w.current(at(450)) += 2;
        *w.current(at(999)) += 4;
        assert_eq!(w.buckets(at(999)).iter().sum::<i64>(), 7);
        assert_eq!(
            w.buckets(at(1000)).iter().sum::<i64>(),
            6,
            "the first bucket left"
        );
        assert_eq!(w.buckets(at(1450)).iter().sum::<i64>(), 4);
        // A clock stepping back adds to the newest bucket.
        *w.current(at(10)) += 8;
        assert_eq!(w.buckets(at(1450)).iter().sum::<i64>(), 12);
        assert_eq!(
            w.buckets(at(60_000)).iter().sum::<i64>(),
            0,
            "a long gap empties all"
        );
    }
}
