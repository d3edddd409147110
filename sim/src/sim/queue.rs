//! The event queue: a hierarchical timing wheel over virtual time with a binary heap for
//! the current bucket, popping events in exact (time, sequence) order.
//!
//! Time is cut into buckets of `2^BUCKET_BITS` ns. The events of the current bucket are sorted
//! by (time, sequence) when the bucket becomes current and taken from the end of that run;
//! the few pushed into the current bucket afterwards (zero delays, requeues) wait in a small
//! binary heap, and a pop takes the earlier of the two heads, so ties and order are exactly
//! those of one heap over everything. Later events wait unsorted in the wheel: a bucket index is read
//! as base-64 digits, and an event goes to the level of the highest digit in which its bucket
//! differs from the current one, in the slot named by that digit. Every event of a level is
//! earlier than every event of the levels above, and within a level the lowest occupied slot
//! holds the earliest, so the next events are found with a few bit scans. Moving to a slot
//! re-files its events into lower levels (at most once per level, usually once or twice per
//! event), and a level-0 slot is exactly one bucket: its vector becomes the sorted run in
//! place (swapped, not copied).
//!
//! Why this and not one binary heap: a heap's pop walks `log n` levels of a structure as large
//! as the whole queue, which at thousands of hosts (tens of thousands of pending events) misses
//! the cache on most levels; here an event is appended to a slot, moved a level or two in
//! sequential batches, and sorted with its bucket's events. Why a sorted run and not a heap per
//! bucket: a bucket holds a handful of events at small scales (pingpong at 5 hosts: one or
//! two), where building and draining a heap cost more than the whole sort, and sorting once
//! moves each event fewer times than sifting it through a heap.

use super::core::Event;
use crate::process::Process;
use crate::time::Instant;
use std::collections::BinaryHeap;

/// A bucket is `2^BUCKET_BITS` ns (about 262 µs): level 0 spans 16.8 ms, so network
/// latencies of milliseconds land in their final slot at once, and level 1 spans a second,
/// so probe intervals and timeouts move once before they fire.
const BUCKET_BITS: u32 = 18;
/// Bits of a bucket index per wheel level (64 slots, one occupancy word per level).
const LEVEL_BITS: u32 = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
/// Enough levels for any bucket index of a u64 time.
const LEVELS: usize = ((63 - BUCKET_BITS) / LEVEL_BITS + 1) as usize;

/// Events ordered by (time, sequence).
pub(crate) struct EventQueue<P: Process> {
    /// The current bucket's events as they were when it became current, sorted latest first
    /// (the earliest is popped from the end).
    run: Vec<Event<P>>,
    /// Events pushed into `current` or an earlier bucket after `run` was sorted, earliest on top.
    late: BinaryHeap<Event<P>>,
    /// `LEVELS * SLOTS` unsorted slots of events after the current bucket.
    slots: Vec<Vec<Event<P>>>,
    /// Per level, a bit per non-empty slot.
    occupied: [u64; LEVELS],
    /// The bucket index the wheel's placement is relative to: every event in the wheel is in a
    /// later bucket, every event in `run` and `late` in this one or earlier.
    current: u64,
    /// Events in the wheel (not counting `run` and `late`).
    in_wheel: usize,
}

#[inline]
fn bucket(time: Instant) -> u64 {
    time.0 >> BUCKET_BITS
}

impl<P: Process> EventQueue<P> {
    /// An empty queue at time zero.
    pub(crate) fn new() -> Self {
        EventQueue {
            run: Vec::with_capacity(64),
            late: BinaryHeap::new(),
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            current: 0,
            in_wheel: 0,
        }
    }

    /// Events queued.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.run.len() + self.late.len() + self.in_wheel
    }

    /// Adds an event. Its (time, sequence) must not be before the last popped event's.
    /// Always inlined: passed to a call, the event was built on the stack with narrow stores
    /// and read back with wide loads that stalled on them (a fifth of a pingpong run).
    #[inline(always)]
    pub(crate) fn push(&mut self, event: Event<P>) {
        let b = bucket(event.time);
        if b <= self.current {
            self.late.push(event);
        } else {
            self.file(b, event);
        }
    }

    /// Puts an event of a bucket after `current` into its wheel slot.
    #[inline(always)]
    fn file(&mut self, b: u64, event: Event<P>) {
        let differ = b ^ self.current;
        let level = ((63 - differ.leading_zeros()) / LEVEL_BITS) as usize;
        let slot = ((b >> (level as u32 * LEVEL_BITS)) as usize) & (SLOTS - 1);
        self.slots[level * SLOTS + slot].push(event);
        self.occupied[level] |= 1 << slot;
        self.in_wheel += 1;
    }

    /// Whether the next event comes from `late` rather than `run` (both hold only events
    /// before everything in the wheel).
    #[inline]
    fn late_first(&self) -> bool {
        match (self.late.peek(), self.run.last()) {
            (Some(l), Some(r)) => (l.time, l.seq) < (r.time, r.seq),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The time of the earliest event.
    #[inline]
    pub(crate) fn peek_time(&mut self) -> Option<Instant> {
        if self.late.is_empty() {
            if let Some(event) = self.run.last() {
                return Some(event.time);
            }
        } else {
            return if self.late_first() {
                self.late.peek().map(|e| e.time)
            } else {
                self.run.last().map(|e| e.time)
            };
        }
        if let Some(slot) = self.lone_next() {
            return Some(self.slots[slot][0].time);
        }
        if !self.advance() {
            return None;
        }
        self.run.last().map(|e| e.time)
    }

    /// With `run` and `late` empty: the level-0 slot of the next bucket, if it holds exactly one event
    /// (the common case of a sparse run, served without passing through the heap).
    #[inline]
    fn lone_next(&self) -> Option<usize> {
        if self.occupied[0] == 0 {
            return None;
        }
        let slot = self.occupied[0].trailing_zeros() as usize;
        (self.slots[slot].len() == 1).then_some(slot)
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event<P>> {
        if self.late.is_empty() {
            if let Some(event) = self.run.pop() {
                return Some(event);
            }
        } else {
            return if self.late_first() {
                self.late.pop()
            } else {
                self.run.pop()
            };
        }
        if let Some(slot) = self.lone_next() {
            self.occupied[0] &= !(1 << slot);
            self.current = (self.current & !(SLOTS as u64 - 1)) | slot as u64;
            self.in_wheel -= 1;
            return self.slots[slot].pop();
        }
        if !self.advance() {
            return None;
        }
        self.run.pop()
    }

    /// With `run` and `late` empty, moves `current` to the earliest non-empty bucket and makes
    /// its events the sorted `run`; false if the queue is empty.
    fn advance(&mut self) -> bool {
        while self.in_wheel > 0 {
            let level = self
                .occupied
                .iter()
                .position(|&w| w != 0)
                .expect("a non-empty wheel has an occupied level");
            let slot = self.occupied[level].trailing_zeros() as u64;
            self.occupied[level] &= !(1 << slot);
            // The slot's first bucket: `current`'s digits above `level`, `slot` at `level`, zeros
            // below. Events elsewhere in the wheel keep their level and slot relative to it.
            let shift = level as u32 * LEVEL_BITS;
            let above = shift + LEVEL_BITS;
            let high = if above >= 64 {
                0
            } else {
                (self.current >> above) << above
            };
            self.current = high | (slot << shift);
            let index = level * SLOTS + slot as usize;
            if level == 0 {
                // A level-0 slot is exactly the new current bucket: its vector becomes the run,
                // and the run's empty one (with its allocation) waits for the slot's next use.
                std::mem::swap(&mut self.run, &mut self.slots[index]);
                self.in_wheel -= self.run.len();
            } else {
                let mut events = std::mem::take(&mut self.slots[index]);
                self.in_wheel -= events.len();
                for event in events.drain(..) {
                    let b = bucket(event.time);
                    if b == self.current {
                        self.run.push(event);
                    } else {
                        self.file(b, event);
                    }
                }
                // Keep the slot's allocation for the next time it fills.
                self.slots[index] = events;
            }
            if self.run.is_empty() {
                continue;
            }
            sort_latest_first(&mut self.run);
            return true;
        }
        false
    }
}

/// Sorts a bucket's events latest first by (time, sequence). Buckets hold a handful of events at
/// small scales, where an insertion sort on the packed key beats the library's general sort
/// (which showed as 6% of a 5-host pingpong run); large buckets go to the library's.
#[inline]
fn sort_latest_first<P: Process>(run: &mut [Event<P>]) {
    let key = |e: &Event<P>| (u128::from(e.time.0) << 64) | u128::from(e.seq);
    match run.len() {
        0 | 1 => {}
        // The commonest bucket that needs ordering: one compare.
        2 => {
            if key(&run[0]) < key(&run[1]) {
                run.swap(0, 1);
            }
        }
        n if n <= 16 => {
            // Swapped down into place: no call, and nothing moves when already in order.
            for i in 1..n {
                let k = key(&run[i]);
                let mut j = i;
                while j > 0 && key(&run[j - 1]) < k {
                    run.swap(j - 1, j);
                    j -= 1;
                }
            }
        }
        // Sequences are unique, so the order is total.
        _ => run.sort_unstable_by_key(|e| std::cmp::Reverse(key(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Context, ProcessId};
    use crate::sim::core::Payload;
    use std::cmp::Reverse;

    #[derive(Clone, Debug)]
    struct Nothing;
    impl Process for Nothing {
        type Message = ();
        type Timer = ();
        type Operation = ();
        fn on_start(&mut self, _: &mut Context<'_, Self>) {}
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
    }

    fn event(time: u64, seq: u64) -> Event<Nothing> {
        Event {
            time: Instant(time),
            seq,
            target: 0,
            incarnation: 0,
            payload: Payload::Start,
        }
    }

    /// Drives the wheel and a plain binary heap with the same pushes and pops: delays from
    /// nothing to hours, many equal times, pops interleaved with pushes as in a run.
    #[test]
    fn pops_in_the_order_of_one_binary_heap() {
        let mut queue = EventQueue::<Nothing>::new();
        let mut reference = BinaryHeap::new();
        let (mut now, mut seq) = (0u64, 0u64);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut popped = 0;
        for step in 0..300_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pushes = if step < 1_000 { 2 } else { (x % 3) as usize };
            for k in 0..pushes {
                let r = x.rotate_left(16 * k as u32);
                let delay = match r % 8 {
                    0 => 0,
                    1 => r >> 60,                    // a few ns: same bucket, ties
                    2 => (r >> 20) % 70_000,         // around one bucket
                    3 => (r >> 20) % 10_000_000,     // up to 10 ms
                    4 => (r >> 20) % 2_000_000_000,  // up to 2 s
                    5 => (r >> 10) % (1 << 45),      // up to 9 hours
                    6 => 1_000_000 * ((r >> 8) % 4), // coarse: many equal times
                    _ => u64::MAX - now - (r >> 62), // the end of time
                };
                seq += 1;
                let t = now.saturating_add(delay);
                queue.push(event(t, seq));
                reference.push(Reverse((t, seq)));
            }
            assert_eq!(queue.len(), reference.len());
            {
                let expected = reference.pop().map(|Reverse(k)| k);
                assert_eq!(queue.peek_time().map(|t| t.0), expected.map(|k| k.0));
                let got = queue.pop().map(|e| (e.time.0, e.seq));
                assert_eq!(got, expected, "pop {popped}");
                if let Some((t, _)) = got {
                    now = t;
                    popped += 1;
                }
            }
        }
        while let Some(Reverse(expected)) = reference.pop() {
            let got = queue.pop().map(|e| (e.time.0, e.seq));
            assert_eq!(got, Some(expected));
        }
        assert!(queue.pop().is_none() && queue.peek_time().is_none());
        assert_eq!(queue.len(), 0);
        assert!(popped > 200_000, "{popped} pops");
    }

    #[test]
    fn an_event_pushed_before_the_current_bucket_still_comes_out_first() {
        // Peeking moves the wheel to the next event's bucket; an event pushed afterwards at an
        // earlier time (a test poking the queue between runs) must still come first.
        let mut queue = EventQueue::<Nothing>::new();
        queue.push(event(5_000_000_000, 1));
        assert_eq!(queue.peek_time(), Some(Instant(5_000_000_000)));
        queue.push(event(1_000, 2));
        queue.push(event(5_000_000_000, 3));
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|e| e.seq)).collect();
        assert_eq!(order, [2, 1, 3]);
    }
}
