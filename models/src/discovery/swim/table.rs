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
use std::rc::Rc;

const STATUS_BITS: u32 = 3;
const NUMBER_BITS: u32 = 29;
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
        match self.0 & ((1 << STATUS_BITS) - 1) {
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

type Chunk = Rc<[Entry; CHUNK]>;

/// One member's view of the cluster, indexed by member index.
///
/// The entries live in 4 KB chunks shared copy-on-write: a fresh table is one all-unknown
/// chunk repeated, members that start joined share one all-alive chunk
/// ([`fill_except`](Table::fill_except), [`share_with`](Table::share_with)), and the engine's
/// boot image of a member shares the live member's chunks. A member copies a chunk the first
/// time it changes an entry in it, so memory, and the cache a member's lookups sweep, grow
/// with how far its view departs from the shared one, not with `n²` (a quiet cluster of
/// 10,000 joined members holds about 4 KB of entries per member instead of 80 KB). After a
/// real join (members learning each other one by one) every chunk is private, as before.
#[derive(Clone, Debug)]
pub struct Table {
    len: usize,
    chunks: Vec<Chunk>,
    /// `(member, local time it became suspect, dead or left)` for exactly the members in one
    /// of those states, sorted by member.
    changed: Vec<(u32, Instant)>,
}

impl Table {
    /// `n` unknown slots.
    pub fn new(n: usize) -> Table {
        let unknown: Chunk = Rc::new([Entry::default(); CHUNK]);
        Table {
            len: n,
            chunks: vec![unknown; n.div_ceil(CHUNK)],
            changed: Vec::new(),
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
        self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    /// Every entry, by member index.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry> + '_ {
        (0..self.len).map(|i| self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)])
    }

    /// Sets member `i`; `now` stamps a change into suspect, dead or left.
    pub fn set(&mut self, i: u32, status: Status, incarnation: Incarnation, now: Instant) {
        let entry = Entry::new(status, incarnation);
        let old = self.get(i);
        if old == entry {
            return; // nothing changes (and a shared chunk stays shared)
        }
        let at = i as usize;
        Rc::make_mut(&mut self.chunks[at >> CHUNK_BITS])[at & (CHUNK - 1)] = entry;
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

    /// Sets every slot but `except` to `entry` (untracked: alive or unknown), the chunks
    /// sharing one copy. Only for a fresh table: every slot unknown.
    pub fn fill_except(&mut self, except: u32, entry: Entry) {
        debug_assert!(!matches!(
            entry.status(),
            Status::Suspect | Status::Dead | Status::Left
        ));
        debug_assert!(self.entries().all(|e| e == Entry::default()), "not a fresh table");
        let full: Chunk = Rc::new([entry; CHUNK]);
        for chunk in &mut self.chunks {
            *chunk = Rc::clone(&full);
        }
        let own = except as usize;
        if own < self.len {
            Rc::make_mut(&mut self.chunks[own >> CHUNK_BITS])[own & (CHUNK - 1)] = Entry::default();
        }
    }

    /// Shares `other`'s copy of every chunk whose entries equal this table's (memory only:
    /// every lookup answers as before).
    pub fn share_with(&mut self, other: &Table) {
        if self.len != other.len {
            return;
        }
        for (mine, theirs) in self.chunks.iter_mut().zip(&other.chunks) {
            if !Rc::ptr_eq(mine, theirs) && **mine == **theirs {
                *mine = Rc::clone(theirs);
            }
        }
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
    }

    #[test]
    fn shared_chunks_are_copied_only_where_a_view_departs() {
        let n = 3 * CHUNK + 5;
        let alive = Entry::new(Status::Alive, Incarnation { life: 1, number: 0 });
        let mut a = Table::new(n);
        let mut b = Table::new(n);
        a.fill_except(0, alive);
        b.fill_except(n as u32 - 1, alive);
        assert_eq!(a.get(0), Entry::default());
        assert_eq!(a.get(n as u32 - 1), alive);
        assert_eq!(b.get(n as u32 - 1), Entry::default());
        b.share_with(&a);
        // Only the chunks holding each one's own entry differ.
        let shared = |x: &Table, y: &Table| x.chunks.iter().zip(&y.chunks).filter(|(p, q)| Rc::ptr_eq(p, q)).count();
        assert_eq!(shared(&a, &b), 2);
        let before = b.clone();
        let at = |s| Instant::ZERO + ruckus_sim::Duration::from_secs(s);
        b.set(CHUNK as u32 + 3, Status::Suspect, Incarnation { life: 1, number: 0 }, at(1));
        assert_eq!(shared(&a, &b), 1, "a change copies one chunk");
        assert_eq!(b.get(CHUNK as u32 + 3).status(), Status::Suspect);
        assert_eq!(a.get(CHUNK as u32 + 3), alive, "the other table is untouched");
        assert_eq!(before.get(CHUNK as u32 + 3), alive, "and so is the earlier clone");
        assert_eq!(b.changed(), &[(CHUNK as u32 + 3, at(1))]);
        // Writing what a slot already holds copies nothing.
        let mut c = before.clone();
        c.set(7, Status::Alive, Incarnation { life: 1, number: 0 }, at(2));
        assert_eq!(shared(&c, &before), c.chunks.len());
        assert_eq!(b.entries().len(), n);
        assert_eq!(b.entries().filter(|&e| e == alive).count(), n - 2);
    }
}
