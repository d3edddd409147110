//! The set of armed timers, kept as a bitmap over a sliding window of timer ids.
//!
//! Timer ids are handed out in increasing order and almost all timers fire or are cancelled
//! soon after they are armed, so the live ids sit in a narrow window. A bit per id in that
//! window makes arming, cancelling and the "is it still armed?" check at firing time a shift
//! and a mask, with no allocation per timer (a `BTreeSet` cost a node search and frequent
//! allocation on each). The window runs from the oldest live id to the newest id handed out,
//! so its memory is one bit per timer armed since the oldest live one: a timer that stays armed
//! for a long run while millions of others come and go costs 1 MiB per 8 million of those.

use std::collections::VecDeque;

/// Live timer ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerSet {
    /// The id of bit 0 of `words[0]`; every id below it is not live. Always a multiple of 64.
    base: u64,
    /// One bit per id from `base` on.
    words: VecDeque<u64>,
    /// One more than the largest id inserted (ids at or above it were never handed out).
    next: u64,
}

impl TimerSet {
    /// Marks `id` live. Ids must be inserted in increasing order.
    #[inline]
    pub(crate) fn insert(&mut self, id: u64) {
        assert!(
            id >= self.next,
            "timer ids must increase ({id} after {})",
            self.next
        );
        let offset = id - self.base;
        let word = (offset / 64) as usize;
        while self.words.len() <= word {
            self.words.push_back(0);
        }
        self.words[word] |= 1 << (offset % 64);
        self.next = id + 1;
    }

    /// Whether `id` is live.
    #[inline]
    pub(crate) fn contains(&self, id: &u64) -> bool {
        self.locate(*id)
            .is_some_and(|(word, bit)| self.words[word] & bit != 0)
    }

    /// Marks `id` no longer live; returns whether it was.
    #[inline]
    pub(crate) fn remove(&mut self, id: &u64) -> bool {
        let Some((word, bit)) = self.locate(*id) else {
            return false;
        };
        let was = self.words[word] & bit != 0;
        self.words[word] &= !bit;
        // Slide the window past words whose ids were all handed out and are all dead.
        while self.words.front() == Some(&0) && self.base + 64 <= self.next {
            self.words.pop_front();
            self.base += 64;
        }
        was
    }

    /// Number of live timers (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    #[inline]
    fn locate(&self, id: u64) -> Option<(usize, u64)> {
        let offset = id.checked_sub(self.base)?;
        let word = usize::try_from(offset / 64).ok()?;
        (word < self.words.len()).then_some((word, 1 << (offset % 64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn behaves_like_a_set_of_increasing_ids() {
        // Drive the bitmap and a BTreeSet with the same pseudo-random arm/cancel/fire mix.
        let mut set = TimerSet::default();
        let mut reference = BTreeSet::new();
        let mut next = 1u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 != 0 || reference.is_empty() {
                // Sometimes skip ids, as when other processes arm timers in between.
                next += 1 + (x >> 60) % 3;
                set.insert(next);
                reference.insert(next);
            } else {
                // Remove a recent id, an old one, or one that is already gone.
                let back = (x >> 20) % 200;
                let id = next.saturating_sub(back);
                assert_eq!(set.remove(&id), reference.remove(&id), "remove {id}");
            }
            let probe = next.saturating_sub((x >> 40) % 300);
            assert_eq!(
                set.contains(&probe),
                reference.contains(&probe),
                "contains {probe}"
            );
        }
        assert_eq!(set.len(), reference.len());
        assert!(!set.contains(&0) && !set.contains(&(next + 1)));
    }

    #[test]
    fn the_window_slides_when_old_timers_are_gone() {
        let mut set = TimerSet::default();
        for id in 1..=10_000 {
            set.insert(id);
            if id > 3 {
                assert!(set.remove(&(id - 3)));
            }
        }
        assert!(set.words.len() <= 2, "window of {} words", set.words.len());
        // A long-lived timer holds the window open; once it goes, the window shrinks again.
        set.insert(20_000);
        for id in 20_001..=30_000 {
            set.insert(id);
            assert!(set.remove(&id));
        }
        assert!(set.remove(&20_000));
        for id in 9_998..=10_000 {
            assert!(set.remove(&id));
        }
        assert_eq!(set.len(), 0);
        assert!(set.words.len() <= 1, "window of {} words", set.words.len());
        assert!(!set.remove(&20_000), "removing twice reports it was not live");
    }
}
