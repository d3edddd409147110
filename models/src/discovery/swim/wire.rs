//! What SWIM members send each other, the timers they set, and the queue of updates waiting
//! to be piggybacked.
//!
//! Messages stay small (a few words): piggybacked updates ride in a vector that is only
//! allocated when there is something to carry ([`Piggyback`]), and the full state of a
//! push-pull exchange (every known member) is a vector that goes out once per push-pull
//! interval.

use super::table::{Entry, Table};
use ruckus_sim::ProcessId;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A member's incarnation: `life` counts its boots (kept on its disk), `number` its
/// refutations within one life. Ordered by life first, so a restarted member's fresh alive
/// outranks anything said about its earlier life, and "declared dead, then alive in the same
/// life" is a false positive that a member can recognise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incarnation {
    /// Boot count of the member (1 for its first life).
    pub life: u32,
    /// Refutations within this life.
    pub number: u32,
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.life, self.number)
    }
}

/// What one member believes about another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Never heard of (the roster slot exists, the member is not known yet).
    #[default]
    Unknown,
    /// Answering probes.
    Alive,
    /// Missed a probe round; declared dead unless it refutes in time.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left gracefully (said so itself).
    Left,
}

impl Status {
    /// Alive or suspect: still a member that gets probed and gossiped to.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Alive | Status::Suspect)
    }
}

/// The kind of a disseminated update (memberlist's alive, suspect and dead messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpdateKind {
    /// The member is alive at this incarnation (joins and refutations).
    Alive,
    /// `from` suspects the member at this incarnation.
    Suspect,
    /// `from` declares the member dead; `from == member` is a graceful leave.
    Dead,
}

/// One membership update, as piggybacked or gossiped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Update {
    /// What is said.
    pub kind: UpdateKind,
    /// About whom (member index).
    pub member: u32,
    /// At which incarnation.
    pub incarnation: Incarnation,
    /// Who says so (member index): the accuser of a suspicion, or the member itself.
    pub from: u32,
}

impl Update {
    /// Estimated encoded size: memberlist's msgpack messages carry the node name (and, for
    /// alive, address, port, metadata and protocol versions) besides the numbers.
    pub fn bytes(&self) -> u32 {
        match self.kind {
            UpdateKind::Alive => 60,
            UpdateKind::Suspect | UpdateKind::Dead => 40,
        }
    }
}

/// Most updates one message carries (also limited by the byte budget).
pub const PIGGYBACK_MAX: usize = 10;

/// Updates carried by one message: none (no allocation, the common case once the cluster is
/// quiet) or up to [`PIGGYBACK_MAX`] in one small vector. Keeping the message itself small
/// matters more than the allocation: the engine keeps every pending message and timer in one
/// event queue by value, so each event costs moves the size of the largest message (an inline
/// array of ten updates made every event 200 bytes wider).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Piggyback {
    items: Vec<Update>,
}

impl Piggyback {
    /// Adds an update; false when full.
    pub fn push(&mut self, update: Update) -> bool {
        if self.items.len() == PIGGYBACK_MAX {
            return false;
        }
        if self.items.capacity() == 0 {
            self.items.reserve_exact(PIGGYBACK_MAX);
        }
        self.items.push(update);
        true
    }
    /// The updates carried.
    pub fn updates(&self) -> &[Update] {
        &self.items
    }
    /// No updates carried.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Estimated bytes of the updates, with the compound-message framing memberlist adds
    /// (one byte of type, one of count, two of length per part).
    pub fn bytes(&self) -> u32 {
        if self.is_empty() {
            0
        } else {
            2 + self.updates().iter().map(|u| 2 + u.bytes()).sum::<u32>()
        }
    }
}

/// Hashes as the earlier inline form did (a count byte, then a fixed array of
/// [`PIGGYBACK_MAX`] updates padded with blanks), so run fingerprints stay comparable.
impl Hash for Piggyback {
    fn hash<H: Hasher>(&self, state: &mut H) {
        const BLANK: Update = Update {
            kind: UpdateKind::Alive,
            member: 0,
            incarnation: Incarnation { life: 0, number: 0 },
            from: 0,
        };
        let mut padded = [BLANK; PIGGYBACK_MAX];
        padded[..self.items.len()].copy_from_slice(&self.items);
        (self.items.len() as u8).hash(state);
        padded.hash(state);
    }
}

impl fmt::Debug for Piggyback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.updates()).finish()
    }
}

/// One member's entry in a push-pull state exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// Member index.
    pub member: u32,
    /// Incarnation known.
    pub incarnation: Incarnation,
    /// Status known (never `Unknown`).
    pub status: Status,
}

/// Two words per entry: a push-pull message carries every member the sender knows (10,000
/// entries at 10,000 members), and the engine hashes each message it delivers.
impl Hash for StateEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.member) << 8 | self.status as u64);
        state.write_u64(u64::from(self.incarnation.life) << 32 | u64::from(self.incarnation.number));
    }
}

/// The state a push-pull carries: the sender's whole table at the moment it sent, shared
/// copy-on-write instead of copied entry by entry (at 10,000 members the copy, its allocation
/// and the receiver's walk through it were a third of a member's cost). It reads, compares and
/// prints as the list of [`StateEntry`] of every member the sender knew, in member order. Its
/// hash is the list's length and the digest of each 4 KB chunk of the table, each computed once
/// per chunk version (hashing the whole list word by word on every exchange was a sixth of a
/// member's cost at 10,000 members).
#[derive(Clone)]
pub struct PushPullState {
    table: Table,
    /// Entries not unknown (the list's length).
    known: u32,
}

impl PushPullState {
    /// A snapshot of `table` (no entry is copied).
    pub(crate) fn of(table: &Table) -> PushPullState {
        PushPullState {
            table: table.clone(),
            known: table.known() as u32,
        }
    }

    /// Members listed (every member the sender knew).
    pub fn len(&self) -> usize {
        self.known as usize
    }

    /// Nothing listed.
    pub fn is_empty(&self) -> bool {
        self.known == 0
    }

    /// The listed entries, in member order.
    pub fn entries(&self) -> Vec<StateEntry> {
        let mut out = Vec::with_capacity(self.len());
        self.table.for_each_known(&[], |member, e| {
            out.push(StateEntry {
                member,
                incarnation: e.incarnation(),
                status: e.status(),
            })
        });
        out
    }

    /// Which parts of the list `receiver`'s table already holds as they are (shared chunks
    /// with every member alive or unknown): merging them changes nothing.
    pub(crate) fn held_by(&self, receiver: &Table) -> Vec<bool> {
        self.table.agreeing_chunks(receiver)
    }

    /// Calls `f(member, entry)` for each listed entry outside the parts `skip` marks.
    pub(crate) fn for_each(&self, skip: &[bool], f: impl FnMut(u32, Entry)) {
        self.table.for_each_known(skip, f);
    }
}

impl PartialEq for PushPullState {
    fn eq(&self, other: &PushPullState) -> bool {
        self.known == other.known && self.entries() == other.entries()
    }
}

impl Eq for PushPullState {}

/// The number of entries, then each chunk's digest: changes with any entry, equal for equal
/// entries however the tables were built.
impl Hash for PushPullState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for d in self.table.chunk_digests() {
            state.write_u64(d);
        }
    }
}

impl fmt::Debug for PushPullState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

/// What SWIM members send each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SwimMsg {
    /// Are you there? (direct probe, or a relay's probe on someone's behalf).
    Ping {
        /// Sequence number the ack echoes.
        seq: u32,
        /// Member index the sender means to reach (a misdirected ping is ignored).
        target: u32,
        /// Piggybacked updates.
        piggyback: Piggyback,
    },
    /// Please ping `target` for me and relay its ack (indirect probe).
    PingReq {
        /// The requester's sequence number, echoed in the relayed ack or nack.
        seq: u32,
        /// Member index to probe.
        target: u32,
        /// Lifeguard: answer with a nack if the target stays silent.
        nack: bool,
        /// Piggybacked updates.
        piggyback: Piggyback,
    },
    /// Yes, here (or, relayed, the target answered).
    Ack {
        /// The ping's sequence number.
        seq: u32,
        /// Piggybacked updates.
        piggyback: Piggyback,
    },
    /// Lifeguard: I am a relay and the target did not answer me either (so the requester's
    /// own network is fine).
    Nack {
        /// The requester's sequence number.
        seq: u32,
        /// Piggybacked updates.
        piggyback: Piggyback,
    },
    /// A gossip round's updates.
    Gossip {
        /// The updates.
        piggyback: Piggyback,
    },
    /// Full state exchange (join, anti-entropy, reconnect).
    PushPull {
        /// The receiver should answer with its own state.
        reply: bool,
        /// Every member the sender knows (boxed: the rarest message should not widen every
        /// pending event in the queue, which holds messages by value).
        state: Box<PushPullState>,
    },
}

impl SwimMsg {
    /// Estimated encoded size in bytes (memberlist's msgpack encoding with node names and
    /// addresses; a UDP/IP header is not counted).
    pub fn bytes(&self) -> u32 {
        match self {
            SwimMsg::Ping { piggyback, .. } => 50 + piggyback.bytes(),
            SwimMsg::PingReq { piggyback, .. } => 70 + piggyback.bytes(),
            SwimMsg::Ack { piggyback, .. } => 20 + piggyback.bytes(),
            SwimMsg::Nack { piggyback, .. } => 12 + piggyback.bytes(),
            SwimMsg::Gossip { piggyback } => piggyback.bytes(),
            SwimMsg::PushPull { state, .. } => 30 + 60 * state.len() as u32,
        }
    }

    /// A short name for per-kind counters.
    pub fn kind(&self) -> &'static str {
        match self {
            SwimMsg::Ping { .. } => "ping",
            SwimMsg::PingReq { .. } => "ping_req",
            SwimMsg::Ack { .. } => "ack",
            SwimMsg::Nack { .. } => "nack",
            SwimMsg::Gossip { .. } => "gossip",
            SwimMsg::PushPull { .. } => "push_pull",
        }
    }
}

/// The component's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwimTimer {
    /// Decide the last probe round (no ack means suspicion) and start the next.
    Probe,
    /// The direct ping of probe `seq` is overdue: go indirect.
    ProbeTimeout {
        /// The probe.
        seq: u32,
    },
    /// A relayed ping `seq` got no ack: send the requester a nack.
    RelayTimeout {
        /// The relay's own ping sequence number.
        seq: u32,
    },
    /// A suspicion of `member` may have run out.
    Suspicion {
        /// The suspect.
        member: u32,
    },
    /// Time for a gossip round.
    Gossip,
    /// Time for a push-pull with a random live member.
    PushPull,
    /// Time for a push-pull with a random dead member.
    Reconnect,
    /// Still alone: ask the seeds again.
    JoinRetry,
    /// A slow member finished handling the message at the head of its inbox.
    InboxDone,
}

/// Where a queued update sorts: fewest transmissions first, then newest first.
type QueueKey = (u32, Reverse<u64>);

/// memberlist's transmit-limited queue: updates go out fewest-sent first (newest first among
/// equals) until each has been sent `limit` times; a new update about a member replaces any
/// queued one about the same member. Both maps hold only queued updates (at most one per
/// member), so a push or a fill costs O(log q) per update touched, however long the queue
/// grows (after a join it holds an alive update for every member learned).
///
/// In order (`repr(C)`): the emptiness check every message makes reads `order` only.
#[derive(Clone, Debug, Default)]
#[repr(C)]
pub struct BroadcastQueue {
    order: BTreeMap<QueueKey, Update>,
    by_member: BTreeMap<u32, QueueKey>,
    next_id: u64,
}

impl BroadcastQueue {
    /// Queues `update`, replacing whatever was queued about the same member.
    pub fn push(&mut self, update: Update) {
        let key = (0, Reverse(self.next_id));
        self.next_id += 1;
        if let Some(old) = self.by_member.insert(update.member, key) {
            self.order.remove(&old);
        }
        self.order.insert(key, update);
    }

    /// Updates waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Fills `out` with the least-sent updates that fit in `bytes_max`, counts a transmission
    /// for each, and drops those sent `limit` times.
    pub fn fill(&mut self, out: &mut Piggyback, bytes_max: u32, limit: u32) {
        if self.order.is_empty() {
            return;
        }
        let mut used = out.bytes().max(2);
        let mut taken = [(0, Reverse(0)); PIGGYBACK_MAX];
        let mut count = 0;
        for (key, update) in &self.order {
            let cost = 2 + update.bytes();
            if used + cost > bytes_max {
                continue;
            }
            if !out.push(*update) {
                break;
            }
            used += cost;
            taken[count] = *key;
            count += 1;
        }
        for key in &taken[..count] {
            let update = self.order.remove(key).expect("a taken update is queued");
            let sent = (key.0 + 1, key.1);
            self.order.insert(sent, update);
            self.by_member.insert(update.member, sent);
        }
        // The limit falls when the cluster shrinks: drop everything sent enough, sent now or not.
        while let Some(entry) = self.order.last_entry() {
            if entry.key().0 < limit {
                break;
            }
            let update = entry.remove();
            self.by_member.remove(&update.member);
        }
    }
}

/// The member index of each process and the process of each member index, shared by every
/// member of one cluster (the address book; knowing a slot is not knowing the member).
#[derive(Clone, Debug)]
pub struct Roster {
    processes: Vec<ProcessId>,
    index_of: Vec<u32>,
}

impl Roster {
    /// Member `i` is `processes[i]`.
    pub fn new(processes: Vec<ProcessId>) -> Roster {
        assert!(!processes.is_empty(), "a cluster needs a member");
        let top = processes.iter().map(|p| p.index()).max().unwrap_or(0);
        let mut index_of = vec![u32::MAX; top + 1];
        for (i, p) in processes.iter().enumerate() {
            assert_eq!(index_of[p.index()], u32::MAX, "{p} listed twice");
            index_of[p.index()] = i as u32;
        }
        Roster { processes, index_of }
    }
    /// Number of member slots.
    pub fn len(&self) -> u32 {
        self.processes.len() as u32
    }
    /// Never true (a roster has at least one member).
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }
    /// The process of member `i`.
    pub fn process(&self, i: u32) -> ProcessId {
        self.processes[i as usize]
    }
    /// The member index of a process, if it is a member.
    pub fn member(&self, p: ProcessId) -> Option<u32> {
        self.index_of.get(p.index()).copied().filter(|&i| i != u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::Instant;

    use ruckus_sim::record::digest;

    #[test]
    fn a_message_is_no_wider_than_a_ping() {
        // Every pending message sits in the event queue by value: a wide variant widens them all.
        // A ping: its sequence number, its target, its piggyback, and the variant's tag.
        let ping = 2 * size_of::<u32>() + size_of::<Piggyback>() + size_of::<u64>();
        assert!(size_of::<SwimMsg>() <= ping, "{} bytes", size_of::<SwimMsg>());
    }

    #[test]
    fn push_pull_state_reads_as_the_entry_list() {
        // Two chunks and a bit, some members unknown, every status present.
        let n = 1_100;
        let mut t = Table::new(n);
        let at = Instant::ZERO;
        let mut list = Vec::new();
        for m in 0..n as u32 {
            let status = match m % 7 {
                0 => continue,
                1 => Status::Suspect,
                2 => Status::Dead,
                3 if m % 2 == 1 => Status::Left,
                _ => Status::Alive,
            };
            let incarnation = Incarnation {
                life: m % 3 + 1,
                number: m / 5,
            };
            t.set(m, status, incarnation, at);
            list.push(StateEntry {
                member: m,
                incarnation,
                status,
            });
        }
        let state = PushPullState::of(&t);
        assert_eq!(state.len(), list.len());
        assert_eq!(state.entries(), list);
        assert_eq!(format!("{state:?}"), format!("{list:?}"));
        // Later changes to the sender's table do not reach what it sent.
        t.set(0, Status::Alive, Incarnation { life: 9, number: 0 }, at);
        assert_eq!(state.entries(), list);
        let msg = |state| SwimMsg::PushPull {
            reply: true,
            state: Box::new(state),
        };
        assert_ne!(msg(state.clone()), msg(PushPullState::of(&t)));
    }

    #[test]
    fn push_pull_digest_follows_every_field_of_every_entry_and_only_the_entries() {
        let n = 1_100; // three chunks, the last one partial
        let first = Incarnation { life: 1, number: 0 };
        let at = Instant::ZERO;
        let of = |t: &Table| digest(&PushPullState::of(t));
        // The same entries built two ways: one shared all-alive chunk, and member by member.
        let mut filled = Table::new(n);
        filled.fill(Entry::new(Status::Alive, first));
        let mut one_by_one = Table::new(n);
        for m in 0..n as u32 {
            one_by_one.set(m, Status::Alive, first, at);
        }
        let base = of(&filled);
        assert_eq!(of(&one_by_one), base);
        // One field of one entry, in each chunk (the partial last one too), moves the digest;
        // the table written to is the only holder of its chunk, and its cached digest is
        // computed before the write, so this also checks that a write clears it.
        let changes = [
            (3, Status::Suspect, first),
            (600, Status::Alive, Incarnation { life: 2, number: 0 }),
            (1_099, Status::Alive, Incarnation { life: 1, number: 1 }),
            (1_099, Status::Left, first),
        ];
        let mut seen = vec![base];
        for (m, status, incarnation) in changes {
            let mut t = one_by_one.clone();
            t.set(m, Status::Dead, first, at); // t's own copy of the chunk
            let before = of(&t);
            t.set(m, status, incarnation, at);
            let after = of(&t);
            assert_ne!(after, before, "member {m} to {status:?} {incarnation}");
            assert!(!seen.contains(&after), "member {m} to {status:?} {incarnation}");
            seen.push(after);
            t.set(m, Status::Alive, first, at);
            assert_eq!(of(&t), base, "member {m} back as it was");
        }
        // A member becoming known changes the count and the digest.
        let mut partial = Table::new(n);
        partial.set(7, Status::Alive, first, at);
        let one = of(&partial);
        partial.set(8, Status::Alive, first, at);
        assert_ne!(of(&partial), one);
    }

    #[test]
    fn a_receiver_skips_only_shared_all_alive_parts() {
        let n = 1_100; // three chunks
        let first = Incarnation { life: 1, number: 0 };
        let at = Instant::ZERO;
        let mut a = Table::new(n);
        a.fill(Entry::new(Status::Alive, first));
        let mut b = a.clone();
        assert_eq!(PushPullState::of(&a).held_by(&b), [true, true, true]);
        // b's view departs in the second chunk: a's entries there are news to b.
        b.set(600, Status::Alive, Incarnation { life: 1, number: 1 }, at);
        assert_eq!(PushPullState::of(&a).held_by(&b), [true, false, true]);
        // A suspect is news even in a chunk both share (it may confirm a suspicion).
        a.set(5, Status::Suspect, first, at);
        let c = a.clone();
        let state = PushPullState::of(&a);
        let held = state.held_by(&c);
        assert_eq!(held, [false, true, true]);
        let mut seen = Vec::new();
        state.for_each(&held, |m, _| seen.push(m));
        assert_eq!(seen, (0..512).collect::<Vec<u32>>());
    }

    fn alive(member: u32) -> Update {
        Update {
            kind: UpdateKind::Alive,
            member,
            incarnation: Incarnation { life: 1, number: 0 },
            from: member,
        }
    }

    #[test]
    fn queue_sends_each_update_limit_times_then_forgets_it() {
        let mut q = BroadcastQueue::default();
        q.push(alive(1));
        for _ in 0..3 {
            let mut p = Piggyback::default();
            q.fill(&mut p, 1_400, 3);
            assert_eq!(p.updates(), &[alive(1)]);
        }
        assert!(q.is_empty());
    }

    #[test]
    fn queue_replaces_an_update_about_the_same_member() {
        let mut q = BroadcastQueue::default();
        q.push(alive(1));
        let suspect = Update {
            kind: UpdateKind::Suspect,
            from: 2,
            ..alive(1)
        };
        q.push(suspect);
        assert_eq!(q.len(), 1);
        let mut p = Piggyback::default();
        q.fill(&mut p, 1_400, 3);
        assert_eq!(p.updates(), &[suspect]);
    }

    #[test]
    fn queue_prefers_least_sent_then_newest_and_respects_the_byte_budget() {
        let mut q = BroadcastQueue::default();
        q.push(alive(1));
        let mut p = Piggyback::default();
        q.fill(&mut p, 1_400, 5); // alive(1) sent once
        q.push(alive(2));
        q.push(alive(3));
        let mut p = Piggyback::default();
        // Room for two alive updates (2 + 2 * 62 = 126 bytes).
        q.fill(&mut p, 126, 5);
        assert_eq!(p.updates(), &[alive(3), alive(2)]);
        let mut p = Piggyback::default();
        q.fill(&mut p, 1_400, 5);
        assert_eq!(
            p.updates(),
            &[alive(3), alive(2), alive(1)],
            "now all sent once: newest first"
        );
    }

    #[test]
    fn piggyback_holds_at_most_its_capacity() {
        let mut q = BroadcastQueue::default();
        for m in 0..20 {
            q.push(alive(m));
        }
        let mut p = Piggyback::default();
        q.fill(&mut p, u32::MAX, 5);
        assert_eq!(p.updates().len(), PIGGYBACK_MAX);
        assert_eq!(q.len(), 20);
    }

    #[test]
    fn roster_maps_both_ways() {
        let r = Roster::new(vec![ProcessId(4), ProcessId(2)]);
        assert_eq!(r.member(ProcessId(2)), Some(1));
        assert_eq!(r.member(ProcessId(3)), None);
        assert_eq!(r.member(ProcessId(9)), None);
        assert_eq!(r.process(0), ProcessId(4));
    }
}
