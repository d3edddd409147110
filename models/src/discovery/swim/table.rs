//! The membership table: one packed 8-byte entry per roster slot, and the change times of the
//! few members that are not alive.
//!
//! Every member holds an entry for every other, so a cluster of `n` holds `n²` entries: 10^8 at
//! 10,000 members. Packing status and incarnation into one `u64` keeps that at 800 MB with no
//! allocation per entry; the time of a status change is only needed for members that are
//! suspect, dead or left (gossip to the recently dead), so it lives in a short side list.

use super::{Incarnation, Status};
use ruckus_sim::Instant;

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

/// One member's view of the cluster, indexed by member index.
#[derive(Clone, Debug)]
pub struct Table {
    entries: Vec<Entry>,
    /// `(member, local time it became suspect, dead or left)` for exactly the members in one
    /// of those states, sorted by member.
    changed: Vec<(u32, Instant)>,
}

impl Table {
    /// `n` unknown slots.
    pub fn new(n: usize) -> Table {
        Table {
            entries: vec![Entry::default(); n],
            changed: Vec::new(),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry of member `i`.
    pub fn get(&self, i: u32) -> Entry {
        self.entries[i as usize]
    }

    /// Every entry, by member index.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Sets member `i`; `now` stamps a change into suspect, dead or left.
    pub fn set(&mut self, i: u32, status: Status, incarnation: Incarnation, now: Instant) {
        let old = self.entries[i as usize].status();
        self.entries[i as usize] = Entry::new(status, incarnation);
        if old == status {
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
}
