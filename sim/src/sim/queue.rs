//! The event queue: a hierarchical timing wheel over virtual time with a binary heap for
//! the current bucket, popping events in exact (time, sequence) order.
//!
//! Time is cut into buckets of `2^BUCKET_BITS` ns, and bucket indexes into blocks of 64. The
//! events of the current bucket are sorted by (time, sequence) when the bucket becomes current
//! and taken from the end of that run; the few pushed into the current bucket afterwards (zero
//! delays, requeues) wait in a small binary heap, and a peek moves the heap's head to the run's
//! end when it is the earlier of the two, so ties and order are exactly those of one heap over
//! everything while the pop after a peek is always the run's (one path, so the popped event
//! goes straight to the handler rather than through the stack). Later events wait unsorted
//! in the wheel. Level 0 has a slot per bucket for two blocks, the current one and the next
//! (128 slots, the block's parity choosing the half), so an event less than a block or two
//! ahead (network latencies of milliseconds) is filed once, in its final slot. Level 1 does
//! the same one step up: a slot per block for two spans of 64 blocks (about 1.07 s each), the
//! current span and the next, so a timer of up to a second or two (probe rounds and
//! timeouts) is moved once, into level 0 when its block begins. Further events go to the
//! levels above: a bucket index is read as base-64 digits, and an event goes to the level of
//! the highest digit in which its bucket differs from the current one, in the slot named by
//! that digit. Every event of level 0 is earlier than those of level 1, and those of level 1
//! earlier than those above, but for the next block's and the next span's events filed when
//! they were further ahead: entering a block brings in its level-1 slot, and entering a span
//! brings down the slot holding the span after it (`move_to`). Within a level the lowest
//! occupied slot holds the earliest, so the next events are found with a few bit scans.
//! Moving to an upper slot re-files its events into lower levels, and a level-0 slot is
//! exactly one bucket: its vector becomes the sorted run in place (swapped, not copied). A
//! large bucket's emptied vector (and a refiled upper slot's) goes to a pool that the next
//! slot to fill takes from, most recent first, so at thousands of hosts the queue cycles
//! through the memory of the events in flight rather than through every slot's own
//! allocation; filing an event prefetches the slot a few events past its end, as that memory
//! was last written a block or more ago (or never) and a store into it waits for the line.
//!
//! Why this and not one binary heap: a heap's pop walks `log n` levels of a structure as large
//! as the whole queue, which at thousands of hosts (tens of thousands of pending events) misses
//! the cache on most levels; here an event is appended to a slot, moved a level or two in
//! sequential batches (for delays under a block, not at all), and sorted with its bucket's
//! events. Why a sorted run and not a heap per bucket: a bucket holds a handful of events at
//! small scales (pingpong at 5 hosts: one or two), where building and draining a heap cost
//! more than the whole sort, and sorting once moves each event fewer times than sifting it
//! through a heap. Why two blocks at level 0: with one (aligned) block, an event crossing into
//! the next block went to level 1 and was moved again when that block began: a third of a
//! pingpong run's events. Why two spans at level 1: with one, a timer of a second crossed into
//! the next span nine times in ten, went to level 2 and was moved twice; at SWIM 10,000 that
//! second move read back a megabyte written a second before, for every span.

use super::core::Event;
use crate::prefetch::prefetch;
use crate::process::Process;
use crate::time::Instant;
use std::collections::BinaryHeap;

/// A bucket is `2^BUCKET_BITS` ns (about 262 µs): a block spans 16.8 ms, so network
/// latencies of milliseconds land in their final level-0 slot at once, and a span 1.07 s, so
/// probe intervals and timeouts move once (from level 1) before they fire.
const BUCKET_BITS: u32 = 18;
/// Bits of a bucket index per wheel level (64 slots, one occupancy word per level).
const LEVEL_BITS: u32 = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
/// Enough levels for any bucket index of a u64 time (levels 0 and 1 counted once each).
const LEVELS: usize = ((63 - BUCKET_BITS) / LEVEL_BITS + 1) as usize;
/// Level 0's slots: one per bucket of the current block and of the next.
const LEVEL0_SLOTS: usize = 2 * SLOTS;
/// Level 1's slots: one per block of the current span and of the next.
const LEVEL1_SLOTS: usize = 2 * SLOTS;
/// A span is a level-1 window: 64 blocks (about 1.07 s); a bucket index shifted by this is
/// its span.
const SPAN_SHIFT: u32 = 2 * LEVEL_BITS;

/// Events ordered by (time, sequence).
pub(crate) struct EventQueue<P: Process> {
    /// The current bucket's events as they were when it became current, sorted latest first
    /// (the earliest is popped from the end).
    run: Vec<Event<P>>,
    /// Events pushed into `current` or an earlier bucket after `run` was sorted, earliest on top.
    late: BinaryHeap<Event<P>>,
    /// Unsorted slots of events after the current bucket: level 0's 128 (slot `b % 128` for
    /// bucket `b` of the current or the next block), then 64 per upper level.
    slots: Vec<Vec<Event<P>>>,
    /// Level 0's occupancy, a word per block parity (`(b >> LEVEL_BITS) & 1`).
    occupied0: [u64; 2],
    /// Level 1's occupancy, a word per span parity (`(b >> SPAN_SHIFT) & 1`).
    occupied1: [u64; 2],
    /// Per level from 2 up (indexes 0 and 1 unused), a bit per non-empty slot.
    occupied: [u64; LEVELS],
    /// The bucket index the wheel's placement is relative to: every event in the wheel is in a
    /// later bucket, every event in `run` and `late` in this one or earlier.
    current: u64,
    /// Events queued: in `run`, `late` and the wheel (one field, as the run's bound on the
    /// queue reads it after every event).
    len: usize,
    /// Scratch for ordering a large bucket.
    keys: Keys,
    /// Emptied slot vectors, the most recently emptied on top, handed to the next slot that
    /// fills: at 10,000 hosts a bucket holds ~270 KB of events, and a vector kept by its own
    /// slot was next written 128 buckets later (34 MB cycled through, past the caches); from
    /// here the memory just read out of one bucket is written by the next.
    spare: Vec<Vec<Event<P>>>,
}

#[inline]
fn bucket(time: Instant) -> u64 {
    time.0 >> BUCKET_BITS
}

/// The index in `slots` of a slot of level 2 or above.
#[inline]
fn upper(level: usize, slot: usize) -> usize {
    debug_assert!(level >= 2);
    LEVEL0_SLOTS + LEVEL1_SLOTS + (level - 2) * SLOTS + slot
}

/// The index in `slots` of level 1's slot for `block` (of the current span or the next).
#[inline]
fn level1(block: u64) -> usize {
    LEVEL0_SLOTS + (block & (LEVEL1_SLOTS as u64 - 1)) as usize
}

/// Where level 1's occupancy marks `block`: the word of its span's parity, and its bit.
#[inline]
fn level1_bit(block: u64) -> (usize, u64) {
    (
        ((block >> LEVEL_BITS) & 1) as usize,
        1 << (block & (SLOTS as u64 - 1)),
    )
}

/// The highest base-64 digit in which two different bucket indexes differ.
#[inline]
fn highest_digit(differ: u64) -> usize {
    debug_assert!(differ != 0);
    ((63 - differ.leading_zeros()) / LEVEL_BITS) as usize
}

impl<P: Process> EventQueue<P> {
    /// An empty queue at time zero.
    pub(crate) fn new() -> Self {
        EventQueue {
            run: Vec::with_capacity(64),
            late: BinaryHeap::new(),
            slots: (0..LEVEL0_SLOTS + LEVEL1_SLOTS + (LEVELS - 2) * SLOTS)
                .map(|_| Vec::new())
                .collect(),
            occupied0: [0; 2],
            occupied1: [0; 2],
            occupied: [0; LEVELS],
            current: 0,
            len: 0,
            keys: Keys::default(),
            spare: Vec::new(),
        }
    }

    /// Events queued.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds an event. Its (time, sequence) must not be before the last popped event's.
    /// Always inlined: passed to a call, the event was built on the stack with narrow stores
    /// and read back with wide loads that stalled on them (a fifth of a pingpong run).
    #[inline(always)]
    pub(crate) fn push(&mut self, event: Event<P>) {
        let b = bucket(event.time);
        if b <= self.current {
            self.late.push(event);
            self.len += 1;
        } else {
            self.file(b, event);
        }
    }

    /// Puts an event of bucket `b` (the current one or later) into its wheel slot.
    #[inline(always)]
    fn file(&mut self, b: u64, event: Event<P>) {
        let index = if (b >> LEVEL_BITS).wrapping_sub(self.current >> LEVEL_BITS) <= 1 {
            // This block or the next: level 0, final.
            self.occupied0[((b >> LEVEL_BITS) & 1) as usize] |= 1 << (b & (SLOTS as u64 - 1));
            (b & (LEVEL0_SLOTS as u64 - 1)) as usize
        } else if (b >> SPAN_SHIFT).wrapping_sub(self.current >> SPAN_SHIFT) <= 1 {
            // This span or the next: level 1, moved once more (into level 0) when its block
            // begins.
            let block = b >> LEVEL_BITS;
            let (half, bit) = level1_bit(block);
            self.occupied1[half] |= bit;
            level1(block)
        } else {
            self.file_upper(b)
        };
        let slot = &mut self.slots[index];
        if slot.capacity() == 0 {
            if let Some(spare) = self.spare.pop() {
                *slot = spare;
            }
        }
        slot.push(event);
        // A large slot's tail is cold (its memory last held events a block or more ago, or
        // never): start on the lines the next pushes write, so their stores do not wait. A
        // small queue's slots stay in the cache.
        if self.len >= TAIL_PREFETCH_FROM {
            if let Some(ahead) = slot.spare_capacity_mut().get(TAIL_AHEAD) {
                prefetch(ahead);
            }
        }
        self.len += 1;
    }

    /// Marks and names the slot of level 2 or above of a bucket two or more spans ahead.
    #[inline]
    fn file_upper(&mut self, b: u64) -> usize {
        let level = highest_digit(b ^ self.current);
        let slot = ((b >> (level as u32 * LEVEL_BITS)) as usize) & (SLOTS - 1);
        self.occupied[level] |= 1 << slot;
        upper(level, slot)
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

    /// The time of the earliest event, which this makes the last of `run`, so that the pop
    /// after it is one `Vec::pop` on one path (merged from several, the popped event went
    /// through the stack).
    #[inline]
    pub(crate) fn peek_time(&mut self) -> Option<Instant> {
        if !self.late.is_empty() && self.late_first() {
            self.take_late();
        }
        if let Some(event) = self.run.last() {
            return Some(event.time);
        }
        if let Some(slot) = self.lone_next() {
            let bit = slot & (SLOTS - 1);
            self.occupied0[self.parity()] &= !(1 << bit);
            self.current = (self.current & !(SLOTS as u64 - 1)) | bit as u64;
            // The lone event's vector becomes the run, as a sorted bucket's does.
            std::mem::swap(&mut self.run, &mut self.slots[slot]);
        } else if !self.advance() {
            return None;
        }
        self.run.last().map(|e| e.time)
    }

    /// Moves the earliest of `late` to the end of `run`, where it is next: it is before
    /// everything in `run`.
    #[cold]
    #[inline(never)]
    fn take_late(&mut self) {
        let event = self.late.pop().expect("late is not empty");
        self.run.push(event);
    }

    /// Removes and returns the event `peek_time` just found (the caller pushed nothing since).
    #[inline]
    pub(crate) fn pop_peeked(&mut self) -> Event<P> {
        self.len -= 1;
        self.run.pop().expect("peeked")
    }

    /// The targets of the next `n` events at most, for prefetching: the current bucket's sorted
    /// run in the order it is popped, then the later buckets of this block and the next, each
    /// bucket's in the order filed. Events pushed into the current bucket after it was sorted
    /// (while they wait in `late`), and those further than the next block, are left out.
    pub(crate) fn upcoming_targets(&self, n: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.run.iter().rev().take(n).map(|e| e.target));
        let parity = self.parity();
        // Every occupied bucket of this block's word is after the current one.
        for half in [parity, parity ^ 1] {
            let mut word = self.occupied0[half];
            while word != 0 && out.len() < n {
                let slot = half * SLOTS + word.trailing_zeros() as usize;
                word &= word - 1;
                let room = n - out.len();
                out.extend(self.slots[slot].iter().take(room).map(|e| e.target));
            }
        }
    }

    /// The parity of the current block: which of `occupied0` is this block's.
    #[inline]
    fn parity(&self) -> usize {
        ((self.current >> LEVEL_BITS) & 1) as usize
    }

    /// With `run` and `late` empty: the level-0 slot of the next bucket in the current block,
    /// if it holds exactly one event (the common case of a sparse run, served without a sort).
    #[inline]
    fn lone_next(&self) -> Option<usize> {
        let word = self.occupied0[self.parity()];
        if word == 0 {
            return None;
        }
        let slot = self.parity() * SLOTS + word.trailing_zeros() as usize;
        (self.slots[slot].len() == 1).then_some(slot)
    }

    /// Removes and returns the earliest event (the event loop peeks, then `pop_peeked`).
    #[cfg(test)]
    pub(crate) fn pop(&mut self) -> Option<Event<P>> {
        self.peek_time()?;
        self.len -= 1;
        self.run.pop()
    }

    /// With `run` and `late` empty, moves `current` to the earliest non-empty bucket and makes
    /// its events the sorted `run`; false if the queue is empty.
    fn advance(&mut self) -> bool {
        // `run` and `late` are empty: every event queued is in the wheel.
        while self.len > 0 {
            let parity = self.parity();
            let word = self.occupied0[parity];
            if word != 0 {
                // The current block's earliest bucket: its slot's vector becomes the run, and
                // the run's empty one (with its allocation) waits for the slot's next use.
                let bit = word.trailing_zeros() as u64;
                self.occupied0[parity] &= !(1 << bit);
                self.current = (self.current & !(SLOTS as u64 - 1)) | bit;
                let index = parity * SLOTS + bit as usize;
                let n = self.slots[index].len();
                if n == 0 {
                    continue;
                }
                if n <= SMALL_BUCKET {
                    std::mem::swap(&mut self.run, &mut self.slots[index]);
                    sort_latest_first(&mut self.run);
                } else {
                    let mut emptied = std::mem::take(&mut self.slots[index]);
                    order_by_keys(&mut emptied, &mut self.run, &mut self.keys);
                    self.spare.push(emptied);
                }
                return true;
            }
            let block = self.current >> LEVEL_BITS;
            if self.occupied0[parity ^ 1] != 0 {
                // The current block is done: enter the next, whose events are in level 0 and
                // in the level-1 slot that held them when it was further ahead.
                self.move_to((block + 1) << LEVEL_BITS);
                continue;
            }
            // Level 0 is empty: the earliest events are in level 1's lowest occupied block,
            // this span's before the next's.
            let span = self.current >> SPAN_SHIFT;
            let this = (span & 1) as usize;
            let (later, word) = if self.occupied1[this] != 0 {
                (0, self.occupied1[this])
            } else {
                (1, self.occupied1[this ^ 1])
            };
            if word != 0 {
                let block = ((span + later) << LEVEL_BITS) | u64::from(word.trailing_zeros());
                self.move_to(block << LEVEL_BITS);
                continue;
            }
            // Levels 0 and 1 are empty: the earliest events are in the lowest occupied slot of
            // the lowest occupied level above. Its first bucket: `current`'s digits above that
            // level, the slot's at it, zeros below.
            let level = (2..LEVELS)
                .find(|&l| self.occupied[l] != 0)
                .expect("a non-empty wheel has an occupied level");
            let slot = u64::from(self.occupied[level].trailing_zeros());
            let shift = level as u32 * LEVEL_BITS;
            let above = shift + LEVEL_BITS;
            let high = if above >= 64 {
                0
            } else {
                (self.current >> above) << above
            };
            self.move_to(high | (slot << shift));
        }
        false
    }

    /// Moves `current` forward to `to`, the first bucket of a block, and files lower the
    /// events the move brings within reach of the lower levels: those of the upper slot whose
    /// window it entered, those of the new block's level-1 slot (filed when the block was a
    /// span or two ahead), and, when it entered a new span, those of the slot holding the next
    /// span (which go to level 1). So every event of the current span and the next is in
    /// levels 0 and 1, and every event of the current block and the next in level 0 but for
    /// the next block's level-1 slot.
    fn move_to(&mut self, to: u64) {
        let from = self.current;
        debug_assert!(to > from && to.trailing_zeros() >= LEVEL_BITS);
        self.current = to;
        let level = highest_digit(from ^ to);
        if level >= 2 {
            self.pull(level, to);
        }
        let block = to >> LEVEL_BITS;
        let (half, bit) = level1_bit(block);
        if self.occupied1[half] & bit != 0 {
            self.occupied1[half] &= !bit;
            self.refile(level1(block));
        }
        if from >> SPAN_SHIFT != to >> SPAN_SHIFT {
            let next_span = ((to >> SPAN_SHIFT) + 1) << SPAN_SHIFT;
            self.pull(highest_digit(next_span ^ to), next_span);
        }
    }

    /// Files again, relative to `current`, the events of the slot of `level` (2 or above)
    /// whose window holds bucket `b`, if it has any.
    fn pull(&mut self, level: usize, b: u64) {
        let slot = ((b >> (level as u32 * LEVEL_BITS)) as usize) & (SLOTS - 1);
        if self.occupied[level] & (1 << slot) != 0 {
            self.occupied[level] &= !(1 << slot);
            self.refile(upper(level, slot));
        }
    }

    /// Files an upper slot's events again relative to the new `current` (all in its bucket or
    /// later), each where `file` puts it: level 0 in this block or the next, level 1 in this
    /// span or the next, else the level of the highest digit it differs in.
    fn refile(&mut self, index: usize) {
        let mut events = std::mem::take(&mut self.slots[index]);
        self.len -= events.len();
        for event in events.drain(..) {
            let b = bucket(event.time);
            self.file(b, event);
        }
        // Keep the allocation for the next slot that fills.
        self.spare.push(events);
    }
}

/// How many events past a slot's end `file` prefetches.
const TAIL_AHEAD: usize = 4;
/// Events queued from which `file` prefetches slot tails: below, the slots' memory (tens of KB
/// at most) stays in the cache.
const TAIL_PREFETCH_FROM: usize = 1024;

/// Buckets up to this size are sorted in place; larger ones (pingpong at 500 hosts: ~240
/// events a bucket; at 10,000: ~4,800) through [`order_by_keys`].
const SMALL_BUCKET: usize = 32;

/// Moves a large bucket's events from `slot` into the empty `run`, latest first by (time,
/// sequence), leaving `slot` empty with its allocation. The events are ordered through keys
/// rather than sorted in place: at 10,000 hosts a bucket holds thousands of events, and sorting
/// them in place moved each 56-byte event a dozen times (a quarter of a 10,000-host pingpong
/// run's samples; ordering the keys is ~10%); here each moves once. A slot filled only by direct pushes holds its events in sequence order, so a
/// stable radix sort on the time within the bucket (18 bits, two passes) orders them exactly by
/// (time, sequence); a slot that also took refiled events (filed earlier, further ahead) is
/// sorted on full (time, sequence, position) keys.
// Out of line: the small-bucket path of `advance` is the hot one at small scales.
#[inline(never)]
fn order_by_keys<P: Process>(slot: &mut Vec<Event<P>>, run: &mut Vec<Event<P>>, keys: &mut Keys) {
    debug_assert!(run.is_empty());
    if slot.len() > u32::MAX as usize {
        // Beyond the keys' position field (never in practice: 200 GB of events in one bucket).
        std::mem::swap(run, slot);
        run.sort_unstable_by_key(|e| std::cmp::Reverse((e.time, e.seq)));
        return;
    }
    let within = (1u64 << BUCKET_BITS) - 1;
    let in_sequence = slot.windows(2).all(|w| w[0].seq < w[1].seq);
    run.reserve(slot.len());
    if in_sequence {
        // (time within the bucket: 18 bits, position: 32).
        keys.short.clear();
        keys.short.extend(
            slot.iter()
                .enumerate()
                .map(|(i, e)| ((e.time.0 & within) << 32) | i as u64),
        );
        if keys.short.len() >= RADIX_FROM {
            radix_sort_by_time(&mut keys.short, &mut keys.spare);
        } else {
            // Positions are unique, so this is the same order.
            keys.short.sort_unstable();
        }
        for &key in keys.short.iter().rev() {
            run.push(std::mem::replace(&mut slot[key as u32 as usize], Event::filler()));
        }
    } else {
        // (time within the bucket: 18 bits, sequence: 64, position: 32): unique.
        keys.long.clear();
        keys.long.extend(
            slot.iter()
                .enumerate()
                .map(|(i, e)| (u128::from(e.time.0 & within) << 96) | (u128::from(e.seq) << 32) | i as u128),
        );
        keys.long.sort_unstable();
        for &key in keys.long.iter().rev() {
            run.push(std::mem::replace(&mut slot[key as u32 as usize], Event::filler()));
        }
    }
    slot.clear();
}

/// Scratch for [`order_by_keys`], kept for its allocations.
#[derive(Default)]
struct Keys {
    short: Vec<u64>,
    spare: Vec<u64>,
    long: Vec<u128>,
}

/// Buckets of at least this many events in sequence order are radix sorted (below, the
/// counting passes' fixed cost is more than a comparison sort's).
const RADIX_FROM: usize = 256;

/// Bits of the time within a bucket per radix pass (two passes cover `BUCKET_BITS`).
const RADIX_BITS: u32 = BUCKET_BITS.div_ceil(2);

/// Sorts `(time within the bucket << 32) | position` keys by time, stably (equal times keep
/// their order), in two counting passes.
fn radix_sort_by_time(keys: &mut Vec<u64>, spare: &mut Vec<u64>) {
    const DIGITS: usize = 1 << RADIX_BITS;
    let mask = DIGITS as u64 - 1;
    let digit = |k: u64, pass: u32| ((k >> (32 + pass * RADIX_BITS)) & mask) as usize;
    let mut counts = [[0u32; DIGITS]; 2];
    for &k in keys.iter() {
        counts[0][digit(k, 0)] += 1;
        counts[1][digit(k, 1)] += 1;
    }
    spare.clear();
    spare.resize(keys.len(), 0);
    for pass in 0..2 {
        // Each digit's first place: the counts before it.
        let mut at = 0;
        for c in counts[pass].iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &k in keys.iter() {
            let d = digit(k, pass as u32);
            spare[counts[pass][d] as usize] = k;
            counts[pass][d] += 1;
        }
        std::mem::swap(keys, spare);
    }
}

/// Sorts a small bucket's events latest first by (time, sequence): an insertion sort on the
/// packed key, which beats the library's general sort on a handful (the library's showed as 6%
/// of a 5-host pingpong run).
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

    /// The read-ahead's targets are those of the next pops: the current bucket's in pop order,
    /// then the next buckets' of this block and the next; nothing further ahead.
    #[test]
    fn upcoming_targets_are_those_of_the_next_pops() {
        let mut queue = EventQueue::<Nothing>::new();
        let bucket_ns = 1u64 << BUCKET_BITS;
        let push = |queue: &mut EventQueue<Nothing>, time: u64, seq: u64| {
            queue.push(Event {
                target: seq as u32,
                ..event(time, seq)
            });
        };
        for i in 0..40u64 {
            // Out of time order, so the run is sorted, not just kept.
            push(&mut queue, bucket_ns + (i * 7919) % 1000, i);
        }
        push(&mut queue, 3 * bucket_ns, 40);
        push(&mut queue, 70 * bucket_ns, 41); // the next block
        push(&mut queue, 200 * bucket_ns, 42); // further: an upper level
        let mut targets = Vec::new();
        queue.upcoming_targets(64, &mut targets);
        assert_eq!(
            targets,
            (0..42).collect::<Vec<u32>>(),
            "no bucket current: as filed"
        );
        queue.pop().expect("queued");
        queue.upcoming_targets(16, &mut targets);
        let popped: Vec<u32> = (0..16).map(|_| queue.pop().expect("queued").target).collect();
        assert_eq!(targets, popped);
        queue.upcoming_targets(64, &mut targets);
        assert_eq!(targets.len(), 23 + 2);
        assert_eq!(targets[23..], [40, 41]);
        queue.upcoming_targets(5, &mut targets);
        assert_eq!(targets.len(), 5);
    }

    /// A large bucket's vector, emptied when the bucket becomes current, is taken by the next
    /// slot that fills, rather than kept by its own slot until that comes round again.
    #[test]
    fn an_emptied_large_bucket_lends_its_vector_to_the_next_slot_that_fills() {
        let mut queue = EventQueue::<Nothing>::new();
        let bucket_ns = 1u64 << BUCKET_BITS;
        for i in 0..100 {
            queue.push(event(bucket_ns + i, i));
        }
        assert_eq!(queue.pop().map(|e| e.seq), Some(0));
        assert_eq!(queue.spare.len(), 1);
        let lent = queue.spare[0].as_ptr();
        assert!(queue.spare[0].is_empty() && queue.spare[0].capacity() >= 100);
        queue.push(event(5 * bucket_ns, 100));
        assert!(queue.spare.is_empty());
        assert_eq!(queue.slots[5].as_ptr(), lent);
        // The order is untouched: the bucket's other 99 events, then the new one.
        let rest: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|e| e.seq)).collect();
        assert_eq!(rest, (1..=100).collect::<Vec<u64>>());
    }

    /// Drives the wheel and a plain binary heap with the same pushes and pops, as in a run:
    /// `steps` steps of two pushes each for the first `warmup`, then zero to two (each at
    /// `now + delay(r, now)` for a pseudo-random `r` seeded by `x`), each followed by a pop;
    /// then drains both. Every pop and peek must agree. Returns the pops made while pushing and
    /// the time reached.
    fn against_one_binary_heap(
        mut x: u64,
        steps: u64,
        warmup: u64,
        mut delay: impl FnMut(u64, u64) -> u64,
    ) -> (u64, u64) {
        let mut queue = EventQueue::<Nothing>::new();
        let mut reference = BinaryHeap::new();
        let (mut now, mut seq, mut popped) = (0u64, 0u64, 0u64);
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pushes = if step < warmup { 2 } else { (x % 3) as usize };
            for k in 0..pushes {
                let t = now.saturating_add(delay(x.rotate_left(16 * k as u32), now));
                seq += 1;
                queue.push(event(t, seq));
                reference.push(Reverse((t, seq)));
            }
            assert_eq!(queue.len(), reference.len());
            let expected = reference.pop().map(|Reverse(k)| k);
            let peeked = queue.peek_time().map(|t| t.0);
            assert_eq!(peeked, expected.map(|k| k.0));
            // Both ways of popping: `pop`, and the event loop's `pop_peeked` after a peek.
            let got = if step % 2 == 0 {
                queue.pop()
            } else {
                peeked.map(|_| queue.pop_peeked())
            }
            .map(|e| (e.time.0, e.seq));
            assert_eq!(got, expected, "pop {popped}");
            if let Some((t, _)) = got {
                now = t;
                popped += 1;
            }
        }
        while let Some(Reverse(expected)) = reference.pop() {
            assert_eq!(queue.pop().map(|e| (e.time.0, e.seq)), Some(expected));
        }
        assert!(queue.pop().is_none() && queue.peek_time().is_none());
        assert_eq!(queue.len(), 0);
        (popped, now)
    }

    /// Delays from nothing to hours, many equal times, the end of time.
    #[test]
    fn pops_in_the_order_of_one_binary_heap() {
        let (popped, _) = against_one_binary_heap(0x9e37_79b9_7f4a_7c15, 300_000, 1_000, |r, now| {
            match r % 8 {
                0 => 0,
                1 => r >> 60,                                  // a few ns: same bucket, ties
                2 => (r >> 20) % 70_000,                       // around one bucket
                3 => (r >> 20) % 10_000_000,                   // up to 10 ms
                4 => (r >> 20) % 2_000_000_000,                // up to 2 s
                5 => (r >> 10) % (1 << 45),                    // up to 9 hours
                6 => 1_000_000 * ((r >> 8) % 4),               // coarse: many equal times
                _ => (u64::MAX - now).saturating_sub(r >> 62), // the end of time
            }
        });
        assert!(popped > 200_000, "{popped} pops");
    }

    /// The next block's events are split between level 0 (pushed when it was the next block)
    /// and an upper slot (pushed when it was further ahead), across a carry into level 2:
    /// entering the block must bring in both, in order.
    #[test]
    fn entering_the_next_block_merges_its_upper_slot() {
        let block = 1u64 << (BUCKET_BITS + LEVEL_BITS);
        for first in [block * 2, block * 63, block * 64 * 5 - block] {
            let mut queue = EventQueue::<Nothing>::new();
            // Filed while three blocks ahead: an upper level.
            queue.push(event(first + block + 7, 1));
            queue.push(event(first + block + 3 * block / 4, 2));
            // Move into `first`'s block.
            queue.push(event(first + 5, 3));
            assert_eq!(queue.pop().map(|e| e.seq), Some(3));
            // Now the next block: level 0, earlier, later and equal in time to the upper ones.
            queue.push(event(first + block + 1, 4));
            queue.push(event(first + block + 7, 5));
            queue.push(event(first + block + block / 2, 6));
            queue.push(event(first + 2 * block + 9, 7));
            let order: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|e| e.seq)).collect();
            assert_eq!(order, [4, 1, 5, 6, 2, 7], "first block at {first}");
            assert_eq!(queue.len(), 0);
        }
    }

    /// Buckets of hundreds of events, many at equal times. Even rounds file events far ahead
    /// (an upper level), step to the block before theirs, then push more into the same buckets
    /// (level 0's next block), so entering the block appends the older, refiled events after
    /// newer ones: out of sequence order. Odd rounds push straight into one bucket (in sequence
    /// order, radix sorted). Both must pop in the order of one binary heap.
    #[test]
    fn large_buckets_pop_in_the_order_of_one_binary_heap() {
        let mut queue = EventQueue::<Nothing>::new();
        let mut reference = BinaryHeap::new();
        let bucket_ns = 1u64 << BUCKET_BITS;
        let block_ns = bucket_ns << LEVEL_BITS;
        let mut seq = 0u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut sizes = Vec::new();
        let mut push = |queue: &mut EventQueue<Nothing>, reference: &mut BinaryHeap<_>, t: u64| {
            seq += 1;
            queue.push(event(t, seq));
            reference.push(Reverse((t, seq)));
        };
        for round in 0..40u64 {
            let target = (round + 3) * 4 * block_ns;
            let spread = if round % 2 == 0 { 3 } else { 1 };
            let mut times = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // A few distinct times per bucket, so ties are common.
                target + (x % spread) * bucket_ns + (x >> 40) % 4 * 1_000
            };
            if round % 2 == 0 {
                for _ in 0..300 {
                    let t = times();
                    push(&mut queue, &mut reference, t);
                }
                push(&mut queue, &mut reference, target - bucket_ns);
                assert_eq!(queue.pop().map(|e| e.time.0), Some(target - bucket_ns));
                reference.pop();
            }
            for _ in 0..400 {
                let t = times();
                push(&mut queue, &mut reference, t);
            }
            let mut run = 0;
            let mut last_bucket = None;
            while let Some(Reverse(expected)) = reference.pop() {
                assert_eq!(queue.peek_time().map(|t| t.0), Some(expected.0));
                let got = queue.pop().map(|e| (e.time.0, e.seq));
                assert_eq!(got, Some(expected), "round {round}");
                if last_bucket == Some(expected.0 >> BUCKET_BITS) {
                    run += 1;
                } else {
                    sizes.push(run);
                    run = 1;
                    last_bucket = Some(expected.0 >> BUCKET_BITS);
                }
            }
            sizes.push(run);
            assert!(queue.pop().is_none());
        }
        let large = sizes.iter().filter(|&&n| n > SMALL_BUCKET).count();
        let radix = sizes.iter().filter(|&&n| n >= RADIX_FROM).count();
        assert!(large > 60 && radix >= 20, "{large} large buckets of {sizes:?}");
    }

    /// Delays around the spans' edges (level 1's two spans, about 1.07 s each, and the level-2
    /// and level-3 windows above), as timers of a second and a minute set them: entering a
    /// block, a span, and a window of level 3 must each bring down the events filed higher
    /// when they were further ahead, in the order of one binary heap.
    #[test]
    fn timers_around_the_span_edges_pop_in_the_order_of_one_binary_heap() {
        let span_ns = 1u64 << (BUCKET_BITS + SPAN_SHIFT);
        let block_ns = 1u64 << (BUCKET_BITS + LEVEL_BITS);
        for seed in 1..=8u64 {
            let x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let (_, now) = against_one_binary_heap(x, 60_000, 500, |r, _| {
                let jitter = (r >> 40) % (2 * block_ns);
                match r % 7 {
                    0 => (r >> 20) % 10_000_000,                   // messages
                    1 => 500_000_000 + (r >> 50),                  // probe timeouts
                    2 => 1_000_000_000,                            // probe rounds
                    3 => span_ns - block_ns + jitter,              // one span
                    4 => 2 * span_ns - block_ns + jitter,          // two spans
                    5 => 64 * span_ns - 2 * block_ns + 2 * jitter, // a level-3 window
                    _ => 30_000_000_000 + (r >> 34),               // push-pull
                }
            });
            assert!(now > 100 * span_ns, "seed {seed} reached only {now} ns");
        }
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
