//! ChaCha with 8 rounds, one 64-byte block at a time, in a state of two cache lines.
//!
//! The block function is the one RFC 8439 describes (section 2.3), with 4 double rounds instead
//! of 10, and the original layout of the last four input words: a 64-bit block counter (words 12
//! and 13, low first) and a 64-bit stream number, here always 0 (words 14 and 15). With the key
//! as the seed's eight little-endian words, block n is block n of `rand_chacha::ChaCha8Rng`
//! seeded with the same 32 bytes, and a 64-bit draw is two consecutive output words, low first:
//! the same values in the same order (the tests check it against that crate).
//!
//! Why not the crate: it buffers four blocks (256 bytes) per stream, so a run of 10,000 hosts
//! keeps megabytes of buffers and a draw among them misses the cache. Here the words not yet
//! handed out sit in one aligned 64-byte line with their index; the key and the counter, read
//! once per block, in the next.

/// "expand 32-byte k" as four little-endian words (RFC 8439, 2.3).
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A ChaCha8 stream handing out 64-bit words.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(crate) struct ChaCha8 {
    /// Words 1..8 of the current block (word 0 was returned when it was made).
    rest: [u64; 7],
    /// How many of `rest` have been handed out; 7 when a new block is due.
    taken: u64,
    /// The key: the seed's bytes as little-endian words.
    key: [u32; 8],
    /// The number of the next block to make.
    counter: u64,
}

impl ChaCha8 {
    /// The stream keyed by `seed`, at block 0.
    pub(crate) fn from_seed(seed: [u8; 32]) -> ChaCha8 {
        let mut key = [0u32; 8];
        for (word, bytes) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        ChaCha8 {
            rest: [0; 7],
            taken: 7,
            key,
            counter: 0,
        }
    }

    /// The next 64 bits of the stream.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let i = self.taken as usize;
        if i < 7 {
            self.taken += 1;
            return self.rest[i];
        }
        self.next_block()
    }

    /// Makes the next block, keeps words 1..8 and returns word 0.
    #[inline(never)]
    fn next_block(&mut self) -> u64 {
        let out = block(&self.key, self.counter);
        self.counter = self.counter.wrapping_add(1);
        self.rest.copy_from_slice(&out[1..]);
        self.taken = 0;
        out[0]
    }
}

/// `rand_chacha::ChaCha8Rng` (which makes four blocks at a time with SIMD) behind one cache
/// line holding the next seven draws and their index, so a draw reads one line, not the
/// crate's index and a word of its 256-byte buffer: two lines apart for most draws.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct AheadChaCha8 {
    /// The next seven draws, taken in order.
    ahead: [u64; 7],
    /// How many of `ahead` have been handed out; 7 when it must be refilled.
    taken: u64,
    rng: rand_chacha::ChaCha8Rng,
}

impl AheadChaCha8 {
    /// The stream keyed by `seed`, at its start.
    pub(crate) fn from_seed(seed: [u8; 32]) -> AheadChaCha8 {
        use rand_core::SeedableRng;
        AheadChaCha8 {
            ahead: [0; 7],
            taken: 7,
            rng: rand_chacha::ChaCha8Rng::from_seed(seed),
        }
    }

    /// The next 64 bits of the stream.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let i = self.taken as usize;
        if i < 7 {
            self.taken += 1;
            return self.ahead[i];
        }
        self.refill()
    }

    #[inline(never)]
    fn refill(&mut self) -> u64 {
        use rand_core::Rng;
        let first = self.rng.next_u64();
        for word in &mut self.ahead {
            *word = self.rng.next_u64();
        }
        self.taken = 0;
        first
    }
}

/// Four words, one row of the 4x4 state; the rounds work on whole rows so the compiler can
/// keep each in one vector register.
type Row = [u32; 4];

#[inline(always)]
fn add(a: Row, b: Row) -> Row {
    [
        a[0].wrapping_add(b[0]),
        a[1].wrapping_add(b[1]),
        a[2].wrapping_add(b[2]),
        a[3].wrapping_add(b[3]),
    ]
}

#[inline(always)]
fn xor_rotate(a: Row, b: Row, bits: u32) -> Row {
    [
        (a[0] ^ b[0]).rotate_left(bits),
        (a[1] ^ b[1]).rotate_left(bits),
        (a[2] ^ b[2]).rotate_left(bits),
        (a[3] ^ b[3]).rotate_left(bits),
    ]
}

/// Row `r` with its words moved `by` places towards the front.
#[inline(always)]
fn shift(r: Row, by: usize) -> Row {
    [r[by % 4], r[(by + 1) % 4], r[(by + 2) % 4], r[(by + 3) % 4]]
}

/// The quarter round (RFC 8439, 2.1) on the four columns at once.
#[inline(always)]
fn quarter_rounds(a: &mut Row, b: &mut Row, c: &mut Row, d: &mut Row) {
    *a = add(*a, *b);
    *d = xor_rotate(*d, *a, 16);
    *c = add(*c, *d);
    *b = xor_rotate(*b, *c, 12);
    *a = add(*a, *b);
    *d = xor_rotate(*d, *a, 8);
    *c = add(*c, *d);
    *b = xor_rotate(*b, *c, 7);
}

/// Block `counter` under `key`, as eight 64-bit words (output words 2i and 2i + 1, low first).
#[inline(always)]
fn block(key: &[u32; 8], counter: u64) -> [u64; 8] {
    let a0 = CONSTANTS;
    let b0 = [key[0], key[1], key[2], key[3]];
    let c0 = [key[4], key[5], key[6], key[7]];
    let d0 = [counter as u32, (counter >> 32) as u32, 0, 0];
    let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
    for _ in 0..4 {
        // Column round, then the diagonal round: rotating rows b, c, d by 1, 2, 3 places
        // lines each diagonal up as a column.
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b = shift(b, 1);
        c = shift(c, 2);
        d = shift(d, 3);
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b = shift(b, 3);
        c = shift(c, 2);
        d = shift(d, 1);
    }
    let rows = [add(a, a0), add(b, b0), add(c, c0), add(d, d0)];
    let mut out = [0u64; 8];
    for (i, row) in rows.iter().enumerate() {
        out[2 * i] = u64::from(row[0]) | (u64::from(row[1]) << 32);
        out[2 * i + 1] = u64::from(row[2]) | (u64::from(row[3]) << 32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{Rng, SeedableRng};

    fn seed_of(n: u64) -> [u8; 32] {
        let mut seed = [0u8; 32];
        let mut z = n;
        for chunk in seed.chunks_mut(8) {
            z = crate::rng::splitmix64(z);
            chunk.copy_from_slice(&z.to_le_bytes());
        }
        seed
    }

    #[test]
    fn the_state_is_two_cache_lines_with_the_unread_words_in_the_first() {
        assert_eq!(std::mem::size_of::<ChaCha8>(), 128);
        assert_eq!(std::mem::align_of::<ChaCha8>(), 64);
        assert_eq!(std::mem::offset_of!(ChaCha8, taken), 56);
        assert_eq!(std::mem::offset_of!(ChaCha8, key), 64);
    }

    #[test]
    fn the_block_function_matches_the_chacha_quarter_round_test_vector() {
        // RFC 8439, 2.1.1: the quarter round on these words.
        let (mut a, mut b, mut c, mut d) = (
            [0x1111_1111u32; 4],
            [0x0102_0304u32; 4],
            [0x9b8d_6f43u32; 4],
            [0x0123_4567u32; 4],
        );
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        assert_eq!(a, [0xea2a_92f4; 4]);
        assert_eq!(b, [0xcb1c_f8ce; 4]);
        assert_eq!(c, [0x4581_472e; 4]);
        assert_eq!(d, [0x5881_c4bb; 4]);
    }

    #[test]
    fn every_draw_equals_rand_chacha_across_blocks_and_buffers() {
        // 200 seeds (including all-zero and all-ones keys) x 1,000 draws cross many blocks and
        // rand_chacha's four-block buffers; one long stream goes past 100,000 draws.
        let mut seeds: Vec<[u8; 32]> = (0..198).map(seed_of).collect();
        seeds.push([0; 32]);
        seeds.push([0xff; 32]);
        for seed in &seeds {
            let mut ours = ChaCha8::from_seed(*seed);
            let mut theirs = rand_chacha::ChaCha8Rng::from_seed(*seed);
            for draw in 0..1_000 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {seed:?}, draw {draw}");
            }
        }
        let mut ours = ChaCha8::from_seed(seed_of(7));
        let mut theirs = rand_chacha::ChaCha8Rng::from_seed(seed_of(7));
        for draw in 0..300_000 {
            assert_eq!(ours.next_u64(), theirs.next_u64(), "draw {draw}");
        }
    }

    #[test]
    fn a_clone_continues_the_same_stream() {
        let mut a = ChaCha8::from_seed(seed_of(3));
        for _ in 0..13 {
            a.next_u64();
        }
        let mut b = a.clone();
        let xs: Vec<u64> = (0..20).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..20).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
    }
}
