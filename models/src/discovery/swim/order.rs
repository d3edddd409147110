//! The round-robin probe order: a keyed pseudo-random permutation of the member indices,
//! computed one position at a time instead of stored.
//!
//! memberlist shuffles its member list and walks it, re-shuffling after each pass. A stored
//! shuffle costs 4 bytes per member in every member (400 MB at 10,000 members) and a burst of
//! `n` random draws at the start of each pass; a permutation computed on the fly costs one
//! random draw per pass and a few multiplications per position, and still visits every index
//! exactly once per pass in an order no member can predict.
//!
//! The permutation is a four-round Feistel network over `2h` bits (the smallest even width
//! that covers `n`), keyed by one 64-bit word per pass; positions that land at or beyond `n`
//! are walked on through the same permutation until they land inside (cycle walking), which
//! keeps it a bijection of `0..n`. Fewer than four steps are needed on average.

use ruckus_sim::splitmix64;

/// A pass over `0..n` in the order of a permutation drawn from a key.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOrder {
    n: u32,
    /// Bits of each Feistel half.
    half: u32,
    key: u64,
    /// Position in the pass of the next index handed out.
    next: u32,
}

impl ProbeOrder {
    /// A pass that is already over (the first [`next`](ProbeOrder::next) needs a key).
    pub fn finished(n: u32) -> ProbeOrder {
        let bits = 32 - n.saturating_sub(1).leading_zeros();
        ProbeOrder {
            n,
            half: bits.div_ceil(2).max(1),
            key: 0,
            next: n,
        }
    }

    /// Whether every index of this pass has been handed out.
    pub fn is_over(&self) -> bool {
        self.next >= self.n
    }

    /// Starts a new pass in the order drawn from `key`.
    pub fn restart(&mut self, key: u64) {
        self.key = key;
        self.next = 0;
    }

    /// The next index of the pass, `None` once the pass is over.
    pub fn next(&mut self) -> Option<u32> {
        if self.is_over() {
            return None;
        }
        let mut x = self.next;
        self.next += 1;
        loop {
            x = self.permute(x);
            if x < self.n {
                return Some(x);
            }
        }
    }

    /// The Feistel permutation of `0..2^(2 half)`.
    fn permute(&self, x: u32) -> u32 {
        let mask = (1u32 << self.half) - 1;
        let (mut left, mut right) = (x >> self.half, x & mask);
        for round in 0..4u64 {
            let f =
                splitmix64(self.key ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(right)) as u32;
            (left, right) = (right, (left ^ f) & mask);
        }
        left << self.half | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(n: u32, key: u64) -> Vec<u32> {
        let mut order = ProbeOrder::finished(n);
        assert!(order.is_over());
        assert_eq!(order.next(), None);
        order.restart(key);
        let seen: Vec<u32> = std::iter::from_fn(|| order.next()).collect();
        assert!(order.is_over());
        seen
    }

    #[test]
    fn every_pass_visits_each_index_once() {
        for n in [1, 2, 3, 5, 8, 17, 100, 1_000, 4_097] {
            for key in [0, 1, 0xdead_beef, u64::MAX] {
                let mut seen = pass(n, key);
                assert_eq!(seen.len(), n as usize);
                seen.sort_unstable();
                assert!(seen.iter().copied().eq(0..n), "n = {n}, key = {key}");
            }
        }
    }

    #[test]
    fn keys_give_different_orders_and_positions_spread() {
        let n = 1_000;
        let a = pass(n, 1);
        let b = pass(n, 2);
        assert_ne!(a, b);
        let fixed = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(fixed < 10, "{fixed} positions agree between two keys");
        // Not the identity nor a rotation: few indices sit next to their successor.
        let runs = a.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(runs < 10, "{runs} ascending neighbours");
        // Over many keys, where index 0 lands is spread over the whole pass.
        let mut quarter = [0u32; 4];
        for key in 0..400 {
            let at = pass(n, key).iter().position(|&x| x == 0).unwrap();
            quarter[at * 4 / n as usize] += 1;
        }
        assert!(quarter.iter().all(|&q| (60..140).contains(&q)), "{quarter:?}");
    }
}
