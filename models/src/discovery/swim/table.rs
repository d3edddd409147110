//! The membership table: one packed 8-byte entry per roster slot, in chunks shared
//! copy-on-write, and the change times of the few members that are not alive.
//!
//! Every member holds an entry for every other, so a cluster of `n` holds `n²` entries: 10^8 at
//! 10,000 members. Packing status and incarnation into one `u64` keeps that at 800 MB with no
//! allocation per entry, and chunks that hold the same entries in many members are stored
//! once ([`Table`]); the time of a status change is only needed for members that are suspect,
//! dead or left (gossip to the recently dead), so it lives in a short side list.

use super::{Incarnation, Status};
use ruckus_sim::Instant;
use ruckus_sim::record::DigestHasher;
use std::cell::OnceCell;
use std::fmt;
use std::hash::Hasher;
use std::rc::Rc;

const STATUS_BITS: u32 = 3;
const NUMBER_BITS: u32 = 29;
const STATUS_MASK: u64 = (1 << STATUS_BITS) - 1;
/// Largest refutation count an entry holds (a member refuting once a second would need 17
/// years of virtual time to reach it).
pub const NUMBER_MAX: u32 = (1 << NUMBER_BITS) - 1;

/// Status and incarnation in one word: `life` in the top 32 bits, `number` in the next 29,
/// the status in the low 3. The word without its status orders like the incarnation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry(u64);

impl Entry {
    /// Packs `status` at `incarnation`. Panics if the refutation count exceeds [`NUMBER_MAX`].
    pub fn new(status: Status, incarnation: Incarnation) -> Entry {
        assert!(
            incarnation.number <= NUMBER_MAX,
            "incarnation number {} beyond the table's {NUMBER_MAX}",
            incarnation.number
        );
        let code = match status {
            Status::Unknown => 0,
            Status::Alive => 1,
            Status::Suspect => 2,
            Status::Dead => 3,
            Status::Left => 4,
        };
        Entry(
            u64::from(incarnation.life) << (NUMBER_BITS + STATUS_BITS)
                | u64::from(incarnation.number) << STATUS_BITS
                | code,
        )
    }

    /// The status.
    pub fn status(self) -> Status {
        match self.0 & STATUS_MASK {
            0 => Status::Unknown,
            1 => Status::Alive,
            2 => Status::Suspect,
            3 => Status::Dead,
            4 => Status::Left,
            code => unreachable!("status code {code} is never packed"),
        }
    }

    /// The incarnation the status refers to.
    pub fn incarnation(self) -> Incarnation {
        Incarnation {
            life: (self.0 >> (NUMBER_BITS + STATUS_BITS)) as u32,
            number: ((self.0 >> STATUS_BITS) & u64::from(NUMBER_MAX)) as u32,
        }
    }
}

/// Entries per chunk: 4 KB, the unit a member copies when its view first departs from the
/// table it shares.
const CHUNK_BITS: u32 = 9;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A chunk's entries and, once something asked, their digest (a push-pull's hash writes the
/// digest of each chunk instead of hashing every entry again: a chunk shared by many tables, or
/// unchanged since the last exchange, is hashed once).
struct ChunkData {
    entries: [Entry; CHUNK],
    /// The digest of `entries`: a pure function of them, so whoever computes it first gets the
    /// same value; cleared whenever an entry is written.
    digest: OnceCell<u64>,
}

impl ChunkData {
    fn new(entry: Entry) -> ChunkData {
        ChunkData {
            entries: [entry; CHUNK],
            digest: OnceCell::new(),
        }
    }

    /// The digest of every entry word, from the engine's digest's fixed start.
    fn digest(&self) -> u64 {
        *self.digest.get_or_init(|| {
            let mut h = DigestHasher::default();
            for e in &self.entries {
                h.write_u64(e.0);
            }
            h.finish()
        })
    }
}

/// A copy is about to be written to: it starts without a digest.
impl Clone for ChunkData {
    fn clone(&self) -> ChunkData {
        ChunkData {
            entries: self.entries,
            digest: OnceCell::new(),
        }
    }
}

impl fmt::Debug for ChunkData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries).finish()
    }
}

type Chunk = Rc<ChunkData>;

/// The entries of `chunk` to write, copied first if shared; its digest is cleared.
fn entries_mut(chunk: &mut Chunk) -> &mut [Entry; CHUNK] {
    let data = Rc::make_mut(chunk);
    data.digest.take();
    &mut data.entries
}

/// One member's view of the cluster, indexed by member index.
///
/// The entries live in 4 KB chunks shared copy-on-write, and so does the list of chunks: a
/// fresh table is one all-unknown chunk repeated, members that start joined share one table
/// of one all-alive chunk ([`fill`](Table::fill), [`share_with`](Table::share_with)), and the
/// engine's boot image of a member shares the live member's. A member copies the list and a
/// chunk the first time it changes an entry in that chunk, so memory, and the cache a
/// member's lookups sweep, grow with how far its view departs from the shared one, not with
/// `n²` (a quiet cluster of 10,000 joined members holds one 80 KB table in all instead of
/// 80 KB per member). After a real join (members learning each other one by one) every chunk
/// is private, as before.
///
/// In order (`repr(C)`): a lookup reads the first two fields only.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Table {
    len: usize,
    /// The chunks, themselves shared while no chunk differs from the table they came from.
    chunks: Rc<Vec<Chunk>>,
    /// Entries not unknown (kept as entries change: a push-pull needs it per message).
    known: usize,
    /// `(member, local time it became suspect, dead or left)` for exactly the members in one
    /// of those states, sorted by member.
    changed: Vec<(u32, Instant)>,
}

impl Table {
    /// `n` unknown slots.
    pub fn new(n: usize) -> Table {
        let unknown: Chunk = Rc::new(ChunkData::new(Entry::default()));
        Table {
            len: n,
            chunks: Rc::new(vec![unknown; n.div_ceil(CHUNK)]),
            changed: Vec::new(),
            known: 0,
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The entry of member `i`.
    pub fn get(&self, i: u32) -> Entry {
        let i = i as usize;
        assert!(i < self.len, "member {i} outside a table of {}", self.len);
        self.chunks[i >> CHUNK_BITS].entries[i & (CHUNK - 1)]
    }

    /// Every entry, by member index.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry> + '_ {
        (0..self.len).map(|i| self.chunks[i >> CHUNK_BITS].entries[i & (CHUNK - 1)])
    }

    /// Sets member `i`; `now` stamps a change into suspect, dead or left.
    pub fn set(&mut self, i: u32, status: Status, incarnation: Incarnation, now: Instant) {
        let entry = Entry::new(status, incarnation);
        let old = self.get(i);
        if old == entry {
            return; // nothing changes (and a shared chunk stays shared)
        }
        self.known = self.known + usize::from(status != Status::Unknown)
            - usize::from(old.status() != Status::Unknown);
        let at = i as usize;
        let chunks = Rc::make_mut(&mut self.chunks);
        entries_mut(&mut chunks[at >> CHUNK_BITS])[at & (CHUNK - 1)] = entry;
        if old.status() == status {
            return;
        }
        let tracked = |s: Status| matches!(s, Status::Suspect | Status::Dead | Status::Left);
        let at = self.changed.binary_search_by_key(&i, |&(m, _)| m);
        match (at, tracked(status)) {
            (Ok(k), true) => self.changed[k].1 = now,
            (Ok(k), false) => {
                self.changed.remove(k);
            }
            (Err(k), true) => self.changed.insert(k, (i, now)),
            (Err(_), false) => {}
        }
    }

    /// Sets every slot to `entry` (untracked: alive or unknown), all sharing one chunk.
    /// Only for a fresh table: every slot unknown.
    pub fn fill(&mut self, entry: Entry) {
        debug_assert!(!matches!(
            entry.status(),
            Status::Suspect | Status::Dead | Status::Left
        ));
        debug_assert!(self.entries().all(|e| e == Entry::default()), "not a fresh table");
        let full: Chunk = Rc::new(ChunkData::new(entry));
        let mut chunks = vec![full; self.len.div_ceil(CHUNK)];
        // Slots past the end stay unknown, so a chunk's digest is that of the members it holds.
        if let Some(last) = chunks.last_mut().filter(|_| self.len % CHUNK != 0) {
            entries_mut(last)[self.len % CHUNK..].fill(Entry::default());
        }
        self.chunks = Rc::new(chunks);
        self.known = if entry.status() == Status::Unknown {
            0
        } else {
            self.len
        };
    }

    /// Shares `other`'s copy of every chunk whose entries equal this table's, and of the
    /// whole chunk list if every chunk does (memory only: every lookup answers as before).
    pub fn share_with(&mut self, other: &Table) {
        if self.len != other.len || Rc::ptr_eq(&self.chunks, &other.chunks) {
            return;
        }
        let chunks = Rc::make_mut(&mut self.chunks);
        for (mine, theirs) in chunks.iter_mut().zip(other.chunks.iter()) {
            if !Rc::ptr_eq(mine, theirs) && mine.entries == theirs.entries {
                *mine = Rc::clone(theirs);
            }
        }
        if chunks
            .iter()
            .zip(other.chunks.iter())
            .all(|(a, b)| Rc::ptr_eq(a, b))
        {
            self.chunks = Rc::clone(&other.chunks);
        }
    }

    /// Entries that are not unknown.
    pub fn known(&self) -> usize {
        self.known
    }

    /// For each chunk: whether this table and `other` hold the same copy of it and no member
    /// in it is suspect, dead or left here. There every entry of the two tables agrees and is
    /// alive or unknown, so merging this table's entries into `other` changes nothing.
    pub fn agreeing_chunks(&self, other: &Table) -> Vec<bool> {
        if self.len != other.len {
            return Vec::new();
        }
        let mut agree: Vec<bool> = self
            .chunks
            .iter()
            .zip(other.chunks.iter())
            .map(|(a, b)| Rc::ptr_eq(a, b))
            .collect();
        for &(m, _) in &self.changed {
            agree[m as usize >> CHUNK_BITS] = false;
        }
        agree
    }

    /// Calls `f(member, entry)` for every entry not unknown, in member order, except in the
    /// chunks `skip` marks true (a short or empty `skip` skips nothing beyond its end).
    pub fn for_each_known(&self, skip: &[bool], mut f: impl FnMut(u32, Entry)) {
        for (k, chunk) in self.chunks.iter().enumerate() {
            if skip.get(k).copied().unwrap_or(false) {
                continue;
            }
            let base = k << CHUNK_BITS;
            let n = CHUNK.min(self.len - base);
            for (j, &e) in chunk.entries[..n].iter().enumerate() {
                if e.0 & STATUS_MASK != 0 {
                    f((base + j) as u32, e);
                }
            }
        }
    }

    /// The digest of each chunk's entries, in order (each computed once per chunk version and
    /// kept with it). Equal entries give equal digests however the table was built.
    pub fn chunk_digests(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.iter().map(|c| c.digest())
    }

    /// When member `i` became suspect, dead or left (`None` while alive or unknown).
    pub fn changed_at(&self, i: u32) -> Option<Instant> {
        self.changed
            .binary_search_by_key(&i, |&(m, _)| m)
            .ok()
            .map(|k| self.changed[k].1)
    }

    /// The suspect, dead and left members in index order, with their change times.
    pub fn changed(&self) -> &[(u32, Instant)] {
        &self.changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_order_like_incarnations() {
        let statuses = [
            Status::Unknown,
            Status::Alive,
            Status::Suspect,
            Status::Dead,
            Status::Left,
        ];
        let incs = [
            Incarnation { life: 0, number: 0 },
            Incarnation { life: 1, number: 7 },
            Incarnation {
                life: u32::MAX,
                number: NUMBER_MAX,
            },
        ];
        for s in statuses {
            for inc in incs {
                let e = Entry::new(s, inc);
                assert_eq!((e.status(), e.incarnation()), (s, inc));
            }
        }
        let a = Entry::new(Status::Dead, Incarnation { life: 1, number: 9 });
        let b = Entry::new(Status::Alive, Incarnation { life: 2, number: 0 });
        assert!(a.0 >> STATUS_BITS < b.0 >> STATUS_BITS);
        assert_eq!(std::mem::size_of::<Entry>(), 8);
    }

    #[test]
    fn change_times_are_kept_only_while_not_alive() {
        let mut t = Table::new(5);
        let inc = Incarnation { life: 1, number: 0 };
        let at = |s| Instant::ZERO + ruckus_sim::Duration::from_secs(s);
        t.set(3, Status::Alive, inc, at(1));
        t.set(1, Status::Alive, inc, at(1));
        assert_eq!(t.changed_at(3), None);
        t.set(3, Status::Suspect, inc, at(2));
        t.set(1, Status::Dead, inc, at(3));
        t.set(3, Status::Dead, inc, at(4));
        assert_eq!(t.changed(), &[(1, at(3)), (3, at(4))]);
        t.set(1, Status::Alive, Incarnation { life: 2, number: 0 }, at(5));
        assert_eq!(t.changed(), &[(3, at(4))]);
        assert_eq!(t.get(1).status(), Status::Alive);
        assert_eq!(t.known(), 2, "members 1 and 3 are known, 0, 2 and 4 not");
        let mut listed = Vec::new();
        t.for_each_known(&[], |m, e| listed.push((m, e.status())));
        assert_eq!(listed, [(1, Status::Alive), (3, Status::Dead)]);
    }

    #[test]
    fn shared_chunks_are_copied_only_where_a_view_departs() {
        let n = 3 * CHUNK + 5;
        let first = Incarnation { life: 1, number: 0 };
        let alive = Entry::new(Status::Alive, first);
        let at = |s| Instant::ZERO + ruckus_sim::Duration::from_secs(s);
        let mut a = Table::new(n);
        let mut b = Table::new(n);
        a.fill(alive);
        b.fill(alive);
        assert!(b.entries().all(|e| e == alive));
        b.share_with(&a);
        assert!(
            Rc::ptr_eq(&a.chunks, &b.chunks),
            "equal tables share their chunk list"
        );
        let shared = |x: &Table, y: &Table| {
            x.chunks
                .iter()
                .zip(y.chunks.iter())
                .filter(|(p, q)| Rc::ptr_eq(p, q))
                .count()
        };
        // Writing what a slot already holds copies nothing.
        b.set(7, Status::Alive, first, at(1));
        assert!(Rc::ptr_eq(&a.chunks, &b.chunks));
        let before = b.clone();
        let m = CHUNK as u32 + 3;
        b.set(m, Status::Suspect, first, at(2));
        assert_eq!(shared(&a, &b), 3, "a change copies one chunk of four");
        assert_eq!(b.get(m).status(), Status::Suspect);
        assert_eq!(a.get(m), alive, "the other table is untouched");
        assert_eq!(before.get(m), alive, "and so is the earlier clone");
        assert_eq!(b.changed(), &[(m, at(2))]);
        assert_eq!(b.entries().len(), n);
        assert_eq!(b.entries().filter(|&e| e == alive).count(), n - 1);
        assert_eq!(b.known(), n);
        let mut listed = 0;
        b.for_each_known(&[], |_, _| listed += 1);
        assert_eq!(listed, n);
        // Equal again: sharing restores one copy.
        b.set(m, Status::Alive, Incarnation { life: 1, number: 1 }, at(3));
        a.set(m, Status::Alive, Incarnation { life: 1, number: 1 }, at(3));
        assert_eq!(shared(&a, &b), 3, "each copied the one chunk it changed");
        b.share_with(&a);
        assert!(Rc::ptr_eq(&a.chunks, &b.chunks));
    }
}
