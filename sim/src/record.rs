//! What a run leaves behind: event records, the rolling fingerprint, the flight recorder and
//! the observer hook that full traces attach to.

use crate::fault::Fault;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Debug};
use std::hash::{Hash, Hasher};

/// What kind of event a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum RecordKind {
    /// A process (re)started: `on_start` ran.
    Start = 0,
    /// A message was delivered: `on_message` ran. `peer` is the sender, `aux` the send time.
    Deliver = 1,
    /// A timer fired: `on_timer` ran. `aux` is the timer id.
    Timer = 2,
    /// A message or timer reached a dead process or an old incarnation and was discarded.
    Dropped = 3,
    /// An event reached a paused host and was held until it resumes.
    Deferred = 4,
    /// A fault began. `peer` is its index in the plan.
    FaultBegin = 5,
    /// A fault ended. `peer` is its index in the plan.
    FaultEnd = 6,
    /// Every fault was undone; the liveness phase starts.
    Heal = 7,
    /// A process logged a note into the trace (`digest` hashes the text).
    Note = 8,
    /// An asynchronous storage sync completed (`Context::sync_async`): `on_timer` ran with its
    /// value. `aux` is the time the sync was issued.
    SyncDone = 9,
}

impl RecordKind {
    /// A short lower-case name for exports.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Start => "start",
            RecordKind::Deliver => "deliver",
            RecordKind::Timer => "timer",
            RecordKind::Dropped => "dropped",
            RecordKind::Deferred => "deferred",
            RecordKind::FaultBegin => "fault_begin",
            RecordKind::FaultEnd => "fault_end",
            RecordKind::Heal => "heal",
            RecordKind::Note => "note",
            RecordKind::SyncDone => "sync_done",
        }
    }
}

/// "No process" / "no host" in a record.
pub const NONE: u32 = u32::MAX;

/// One event as the fingerprint, the flight recorder and traces see it: fixed size, no heap.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's position in the run (0-based; notes share their handler's index).
    pub index: u64,
    /// True time of the event.
    pub time: Instant,
    /// What happened.
    pub kind: RecordKind,
    /// The process it happened to, or `NONE`.
    pub process: u32,
    /// The host it happened on, or `NONE`.
    pub host: u32,
    /// The sender (deliveries), fault index (faults), or `NONE`.
    pub peer: u32,
    /// Send time (deliveries), timer id (timers), or 0.
    pub aux: u64,
    /// A hash of the payload (message, timer value, fault or note text).
    pub digest: u64,
}

impl EventRecord {
    /// The 64-bit summary folded into the fingerprint.
    #[inline]
    pub fn summary(&self) -> u64 {
        // Three independent multiplies (they run in parallel) instead of a chain of mixes: the
        // fingerprint only has to notice a difference, and each field still moves every bit.
        let a = (self.time.0 ^ (u64::from(self.kind as u8) << 56)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let b = ((u64::from(self.process) << 32) | u64::from(self.peer)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let c = (self.aux ^ self.digest.rotate_left(17)).wrapping_mul(0x94d0_49bb_1331_11eb);
        a ^ b.rotate_left(21) ^ c.rotate_left(42)
    }
}

impl fmt::Debug for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} {}", self.index, self.time, self.kind.name())?;
        if self.process != NONE {
            write!(f, " p{}", self.process)?;
        }
        if self.host != NONE {
            write!(f, "@h{}", self.host)?;
        }
        match self.kind {
            RecordKind::Deliver => write!(f, " from p{} sent {}", self.peer, Instant(self.aux))?,
            RecordKind::Timer => write!(f, " timer {}", self.aux)?,
            RecordKind::SyncDone => write!(f, " sync issued {}", Instant(self.aux))?,
            RecordKind::FaultBegin | RecordKind::FaultEnd => write!(f, " fault #{}", self.peer)?,
            _ => {}
        }
        write!(f, " [{:016x}]", self.digest)
    }
}

/// A fast, fixed, platform-independent hasher for payload digests (not for hash tables).
#[derive(Clone, Copy, Debug, Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The digest of any hashable value, identical on every platform of the same pointer width.
#[inline]
pub fn digest<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = DigestHasher::default();
    value.hash(&mut h);
    h.finish()
}

/// A rolling hash over every event of a run: equal seeds must give equal fingerprints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// Folds one event in; order matters.
    #[inline]
    pub fn add(&mut self, record: &EventRecord) {
        self.0 = (self.0.rotate_left(23) ^ record.summary()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    /// The current value.
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// The last K events, kept in a ring so a failure report can show what led up to it.
#[derive(Clone, Debug)]
pub struct FlightRecorder {
    /// K slots from the start (blank until written), so a push is one bounded store.
    ring: Vec<EventRecord>,
    /// The slot the next event goes to.
    next: usize,
    /// Whether every slot has been written (the oldest event is then at `next`).
    wrapped: bool,
}

impl FlightRecorder {
    /// A recorder keeping the last `capacity` events (0 keeps none).
    pub fn new(capacity: usize) -> FlightRecorder {
        let blank = EventRecord {
            index: 0,
            time: Instant::ZERO,
            kind: RecordKind::Note,
            process: NONE,
            host: NONE,
            peer: NONE,
            aux: 0,
            digest: 0,
        };
        FlightRecorder {
            ring: vec![blank; capacity],
            next: 0,
            wrapped: false,
        }
    }

    /// Remembers one event, forgetting the oldest when full.
    #[inline]
    pub fn push(&mut self, record: EventRecord) {
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = record;
            // A compare instead of `%`: no division on every event.
            self.next += 1;
            if self.next == self.ring.len() {
                self.next = 0;
                self.wrapped = true;
            }
        }
    }

    /// The remembered events, oldest first.
    pub fn events(&self) -> Vec<EventRecord> {
        if !self.wrapped {
            return self.ring[..self.next].to_vec();
        }
        let mut out = Vec::with_capacity(self.ring.len());
        out.extend_from_slice(&self.ring[self.next..]);
        out.extend_from_slice(&self.ring[..self.next]);
        out
    }
}

/// The payload behind a record, for observers that keep more than the record.
///
/// Payloads are seen through `Debug`, so one observer serves every model: trace writers,
/// replay checkers and exports never need the model's types.
#[derive(Clone, Copy, Debug)]
pub enum EventDetail<'a> {
    /// No payload (start, drop, deferral, heal).
    None,
    /// The message delivered.
    Message(&'a dyn Debug),
    /// The timer value that fired.
    Timer(&'a dyn Debug),
    /// The fault that began or ended.
    Fault(&'a Fault),
    /// A note's text.
    Note(&'a str),
}

/// Receives every event of a run as it happens: the hook full trace files attach to.
pub trait Observer {
    /// Called once per event (and per note), in order.
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>);
}

/// An observer that keeps every record in memory (for tests and determinism checks).
#[derive(Clone, Debug, Default)]
pub struct RecordingObserver {
    /// Every record seen, in order.
    pub records: Vec<EventRecord>,
}

impl Observer for RecordingObserver {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.records.push(*record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> EventRecord {
        EventRecord {
            index: i,
            time: Instant(i * 10),
            kind: RecordKind::Deliver,
            process: 1,
            host: 0,
            peer: 2,
            aux: 0,
            digest: 0,
        }
    }

    #[test]
    fn flight_recorder_keeps_the_last_k_in_order() {
        let mut fr = FlightRecorder::new(3);
        for i in 0..7 {
            fr.push(rec(i));
        }
        let idx: Vec<u64> = fr.events().iter().map(|r| r.index).collect();
        assert_eq!(idx, vec![4, 5, 6]);
        // Not yet full: only what was pushed, and exactly full: all of it in order.
        let mut part = FlightRecorder::new(3);
        part.push(rec(0));
        part.push(rec(1));
        let idx: Vec<u64> = part.events().iter().map(|r| r.index).collect();
        assert_eq!(idx, vec![0, 1]);
        part.push(rec(2));
        let idx: Vec<u64> = part.events().iter().map(|r| r.index).collect();
        assert_eq!(idx, vec![0, 1, 2]);
        let mut none = FlightRecorder::new(0);
        none.push(rec(1));
        assert!(none.events().is_empty());
    }

    #[test]
    fn fingerprint_depends_on_order_and_content() {
        let (mut a, mut b, mut c) = (
            Fingerprint::default(),
            Fingerprint::default(),
            Fingerprint::default(),
        );
        a.add(&rec(1));
        a.add(&rec(2));
        b.add(&rec(2));
        b.add(&rec(1));
        c.add(&rec(1));
        c.add(&EventRecord { digest: 1, ..rec(2) });
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn digests_are_pinned() {
        // A change here changes every fingerprint and invalidates recorded traces.
        assert_eq!(digest(&0u64), 0);
        assert_eq!(digest(&1u64), 0x517c_c1b7_2722_0a95);
        assert_ne!(digest("ab"), digest("ba"));
    }
}
