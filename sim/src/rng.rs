//! Seeded randomness: named, independent streams and our own sampling functions.
//!
//! One root seed derives every stream a run uses. A stream is named by a label and an index
//! (`("host", 3)`, `("faults/crash", 0)`), so adding draws to one stream never shifts another.
//! Sampling is implemented here, not borrowed from a crate, so that values cannot change when a
//! dependency updates; transcendental functions come from `libm`, a pure-Rust libm that gives
//! the same bits on every platform.

use crate::time::Duration;
use rand_chacha::ChaCha8Core;
use rand_core::SeedableRng;
use rand_core::block::Generator;
use serde::{Deserialize, Serialize};
use std::fmt;

/// SplitMix64's finaliser: a cheap bijective mix used for seed derivation and hashing.
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step on `z`: the golden-ratio increment, then [`mix64`]. Models use it to
/// hash and to derive keys (every input bit reaches every output bit); fixed, like `mix64`.
pub const fn splitmix64(z: u64) -> u64 {
    mix64(z.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// Derives the 64-bit key of stream `(label, index)` under `root_seed`.
///
/// FNV-1a over the label's bytes, then the root seed and index are folded in with `mix64`.
/// Documented and fixed: changing it would change every recorded run.
pub fn derive_stream_key(root_seed: u64, label: &str, index: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(mix64(h ^ mix64(root_seed)) ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The ChaCha8 key of stream `(label, index)`: its derived key spread over 32 bytes by
/// SplitMix64 steps. Fixed, like [`derive_stream_key`].
fn stream_seed(root_seed: u64, label: &str, index: u64) -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut state = derive_stream_key(root_seed, label, index);
    for chunk in seed.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&mix64(state).to_le_bytes());
    }
    seed
}

/// Words in ChaCha8's buffer: four 16-word blocks, generated together (SIMD).
const BUFFER_WORDS: usize = 64;

/// A deterministic random stream (ChaCha8) with the sampling functions models need.
///
/// It yields exactly the words of `rand_chacha`'s `ChaCha8Rng` in the same order (a test holds
/// it to that), but keeps the buffer itself so that the engine can prefetch the line the
/// next draw reads: at thousands of processes a stream's first touch is a cache miss, and the
/// engine prefetches the next events' streams ahead of their handlers. Aligned to a cache
/// line so the 16 words of each block share one.
#[derive(Clone)]
#[repr(C, align(64))]
pub struct Random {
    /// The generated words; `results[0]`, once consumed, holds the index of the next word
    /// (`BUFFER_WORDS` when the buffer is used up), as `rand_core`'s `BlockRng` keeps it.
    results: [u32; BUFFER_WORDS],
    core: ChaCha8Core,
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Random").finish_non_exhaustive()
    }
}

impl Random {
    /// The stream `(label, index)` derived from `root_seed`.
    pub fn stream(root_seed: u64, label: &str, index: u64) -> Random {
        let mut results = [0u32; BUFFER_WORDS];
        results[0] = BUFFER_WORDS as u32;
        Random {
            results,
            core: ChaCha8Core::from_seed(stream_seed(root_seed, label, index)),
        }
    }

    /// The word the next draw starts from (for the engine's read-ahead to prefetch its line).
    #[inline]
    pub(crate) fn next_draw_word(&self) -> &u32 {
        let index = self.results[0] as usize;
        &self.results[index.min(BUFFER_WORDS - 1)]
    }

    /// 64 uniformly random bits: the next two words, low first (a draw straddling the
    /// buffer's end takes its last word and the first of the next buffer).
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let index = self.results[0] as usize;
        let (lo, hi, next);
        if index < BUFFER_WORDS - 1 {
            lo = self.results[index];
            hi = self.results[index + 1];
            next = index + 2;
        } else {
            (lo, hi, next) = self.refill_for_draw(index);
        }
        self.results[0] = next as u32;
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// The draw that empties the buffer: generates the next four blocks.
    #[cold]
    #[inline(never)]
    fn refill_for_draw(&mut self, index: usize) -> (u32, u32, usize) {
        let last = self.results[BUFFER_WORDS - 1];
        self.core.generate(&mut self.results);
        if index >= BUFFER_WORDS {
            (self.results[0], self.results[1], 2)
        } else {
            (last, self.results[0], 1)
        }
    }

    /// A uniform integer in `0..n` (Lemire's multiply-and-reject; unbiased). `n` must be > 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Random::below(0)");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// A uniform integer in the inclusive range `lo..=hi`.
    #[inline]
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "empty range {lo}..={hi}");
        if lo == 0 && hi == u64::MAX {
            return self.next_u64();
        }
        lo + self.below(hi - lo + 1)
    }

    /// A uniform index into a collection of `len` items (`len > 0`).
    #[inline]
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A uniform float in `[0, 1)`, built from the top 53 bits of one draw.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (Bernoulli). `p <= 0` never, `p >= 1` always; both still draw,
    /// so the stream advances the same amount whatever `p` is.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean, by inversion: `-mean * ln(1 - u)`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(1.0 - self.unit())
    }

    /// Standard normal by the Box–Muller transform (two uniform draws, one value returned).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // in (0, 1], so ln is finite
        let u2 = self.unit();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// Normal with the given mean and standard deviation.
    pub fn normal(&mut self, mean: f64, std_dev: f64) -> f64 {
        mean + std_dev * self.standard_normal()
    }

    /// Log-normal: `exp(mu + sigma * Z)`; `exp(mu)` is the median.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        libm::exp(mu + sigma * self.standard_normal())
    }

    /// Shuffles `items` in place (Fisher–Yates from the back).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A distribution of durations, used for link latency, service times and fault lengths.
///
/// Every variant documents how it is sampled; samples are whole nanoseconds, never negative.
///
/// In scenario files (TOML, JSON) a distribution is a table with one key naming the kind:
/// `{ uniform = { min = "1ms", max = "5ms" } }`, `{ normal = { mean = "5ms", std_dev = "1ms" } }`,
/// `{ log_normal = { median = "2ms", sigma = 0.5 } }`. One-parameter kinds also take the bare
/// value: `{ constant = "1ms" }` (or `{ constant = { value = "1ms" } }`), `{ exponential = "5ms" }`
/// (or `{ mean = "5ms" }`), and a bare duration `"1ms"` is a constant. A wrong or missing key
/// is an error that names the keys the kind expects. Binary formats keep serde's plain enum
/// encoding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Always the same value (no draw).
    Constant {
        /// The value.
        value: Duration,
    },
    /// Uniform over the inclusive range `[min, max]` (one draw, `Random::range_inclusive`).
    Uniform {
        /// Smallest value.
        min: Duration,
        /// Largest value.
        max: Duration,
    },
    /// `|N(mean, std_dev)|`: a normal folded at zero, as in Brooker's backoff experiments.
    Normal {
        /// Mean of the underlying normal.
        mean: Duration,
        /// Standard deviation of the underlying normal.
        std_dev: Duration,
    },
    /// Log-normal with the given median and shape `sigma` (a long right tail).
    LogNormal {
        /// Median of the distribution (`exp(mu)`).
        median: Duration,
        /// Shape: the standard deviation of the underlying normal.
        sigma: f64,
    },
    /// Exponential with the given mean (memoryless; Poisson inter-arrival times).
    Exponential {
        /// Mean of the distribution.
        mean: Duration,
    },
}

impl Distribution {
    /// A constant distribution.
    pub const fn constant(value: Duration) -> Distribution {
        Distribution::Constant { value }
    }
    /// A uniform distribution over `[min, max]`.
    pub const fn uniform(min: Duration, max: Duration) -> Distribution {
        Distribution::Uniform { min, max }
    }

    /// Draws one value.
    #[inline]
    pub fn sample(&self, rng: &mut Random) -> Duration {
        match *self {
            Distribution::Constant { value } => value,
            Distribution::Uniform { min, max } => Duration(rng.range_inclusive(min.0, max.0)),
            Distribution::Normal { mean, std_dev } => {
                Duration(to_nanos(rng.normal(mean.0 as f64, std_dev.0 as f64).abs()))
            }
            Distribution::LogNormal { median, sigma } => {
                let mu = libm::log(median.0.max(1) as f64);
                Duration(to_nanos(rng.lognormal(mu, sigma)))
            }
            Distribution::Exponential { mean } => Duration(to_nanos(rng.exponential(mean.0 as f64))),
        }
    }

    /// The mean of the distribution, used to choose shortest network paths.
    pub fn mean(&self) -> Duration {
        let nanos = match *self {
            Distribution::Constant { value } => value.0 as f64,
            Distribution::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
            Distribution::Normal { mean, .. } => mean.0 as f64,
            Distribution::LogNormal { median, sigma } => median.0 as f64 * libm::exp(sigma * sigma / 2.0),
            Distribution::Exponential { mean } => mean.0 as f64,
        };
        Duration(to_nanos(nanos))
    }

    /// True when sampling never draws (so paths of constants can be folded together).
    pub fn is_constant(&self) -> bool {
        matches!(self, Distribution::Constant { .. })
    }

    /// Checks the parameters, returning a message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Distribution::Uniform { min, max } if min > max => {
                Err(format!("uniform distribution has min {min} > max {max}"))
            }
            Distribution::LogNormal { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(format!("log-normal sigma must be finite and >= 0, got {sigma}"))
            }
            _ => Ok(()),
        }
    }
}

/// The derived encoding, for binary formats (postcard traces), where field names are absent.
#[derive(Deserialize)]
#[serde(rename = "Distribution", rename_all = "snake_case")]
enum BinaryDistribution {
    Constant { value: Duration },
    Uniform { min: Duration, max: Duration },
    Normal { mean: Duration, std_dev: Duration },
    LogNormal { median: Duration, sigma: f64 },
    Exponential { mean: Duration },
}

impl From<BinaryDistribution> for Distribution {
    fn from(b: BinaryDistribution) -> Distribution {
        match b {
            BinaryDistribution::Constant { value } => Distribution::Constant { value },
            BinaryDistribution::Uniform { min, max } => Distribution::Uniform { min, max },
            BinaryDistribution::Normal { mean, std_dev } => Distribution::Normal { mean, std_dev },
            BinaryDistribution::LogNormal { median, sigma } => Distribution::LogNormal { median, sigma },
            BinaryDistribution::Exponential { mean } => Distribution::Exponential { mean },
        }
    }
}

/// The kinds a scenario file may name, with how each is written (quoted in errors).
const KINDS: [(&str, &str); 5] = [
    ("constant", r#"as a duration such as "1ms", or { value = "1ms" }"#),
    ("uniform", r#"as { min = "1ms", max = "5ms" }"#),
    ("normal", r#"as { mean = "5ms", std_dev = "1ms" }"#),
    ("log_normal", r#"as { median = "2ms", sigma = 0.5 }"#),
    (
        "exponential",
        r#"as a duration such as "5ms", or { mean = "5ms" }"#,
    ),
];

/// The names alone, for serde's "unknown variant" error.
const KIND_NAMES: &[&str] = &["constant", "uniform", "normal", "log_normal", "exponential"];

fn kind_list() -> String {
    KINDS
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The outer table `{ kind = ... }`, or a bare duration (a constant).
struct DistributionVisitor;

impl<'de> serde::de::Visitor<'de> for DistributionVisitor {
    type Value = Distribution;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            r#"a distribution: a table with one of the keys {} (e.g. {{ uniform = {{ min = "1ms", max = "5ms" }} }}), or a duration"#,
            kind_list()
        )
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Distribution, E> {
        let nanos = crate::time::parse_nanos(v).map_err(E::custom)?;
        Ok(Distribution::constant(Duration(nanos)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Distribution, E> {
        Ok(Distribution::constant(Duration(v)))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Distribution, E> {
        let nanos =
            u64::try_from(v).map_err(|_| E::custom(format!("a duration cannot be negative, got {v}")))?;
        self.visit_u64(nanos)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
        use serde::de::Error;
        let Some(kind) = map.next_key::<String>()? else {
            return Err(A::Error::custom(format!(
                "a distribution needs one of the keys {}",
                kind_list()
            )));
        };
        let Some(&(kind, form)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            // serde's own wording, which scenario errors turn into a "did you mean".
            return Err(A::Error::unknown_variant(&kind, KIND_NAMES));
        };
        let distribution = map.next_value_seed(KindSeed { kind, form })?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "a distribution has exactly one kind, but `{kind}` and `{extra}` are both given"
            )));
        }
        Ok(distribution)
    }
}

/// The value under a kind's key.
#[derive(Clone, Copy)]
struct KindSeed {
    kind: &'static str,
    form: &'static str,
}

impl<'de> serde::de::DeserializeSeed<'de> for KindSeed {
    type Value = Distribution;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Distribution, D::Error> {
        d.deserialize_any(self)
    }
}

impl KindSeed {
    /// The bare-value shorthand of one-parameter kinds.
    fn bare<E: serde::de::Error>(self, nanos: u64) -> Result<Distribution, E> {
        match self.kind {
            "constant" => Ok(Distribution::Constant {
                value: Duration(nanos),
            }),
            "exponential" => Ok(Distribution::Exponential {
                mean: Duration(nanos),
            }),
            _ => Err(E::custom(format!("`{}` is written {}", self.kind, self.form))),
        }
    }
}

impl<'de> serde::de::Visitor<'de> for KindSeed {
    type Value = Distribution;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.kind, self.form)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Distribution, E> {
        let nanos = crate::time::parse_nanos(v).map_err(|e| E::custom(format!("`{}`: {e}", self.kind)))?;
        self.bare(nanos)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Distribution, E> {
        self.bare(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Distribution, E> {
        let nanos = u64::try_from(v)
            .map_err(|_| E::custom(format!("`{}`: a duration cannot be negative, got {v}", self.kind)))?;
        self.bare(nanos)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
        use serde::de::Error;
        let fields: &[&str] = match self.kind {
            "constant" => &["value"],
            "uniform" => &["min", "max"],
            "normal" => &["mean", "std_dev"],
            "log_normal" => &["median", "sigma"],
            _ => &["mean"],
        };
        let mut durations: [Option<Duration>; 2] = [None, None];
        let mut sigma: Option<f64> = None;
        while let Some(key) = map.next_key::<String>()? {
            let Some(slot) = fields.iter().position(|f| *f == key) else {
                // serde's wording first (scenario errors suggest a name from it), then the form.
                let expected: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
                return Err(A::Error::custom(format!(
                    "unknown field `{key}`, expected {}: {} is written {}",
                    expected.join(" or "),
                    self.kind,
                    self.form
                )));
            };
            let duplicate = if fields[slot] == "sigma" {
                sigma.replace(map.next_value()?).is_some()
            } else {
                durations[slot].replace(map.next_value()?).is_some()
            };
            if duplicate {
                return Err(A::Error::custom(format!("`{}` gives `{key}` twice", self.kind)));
            }
        }
        let missing = |name: &str| {
            A::Error::custom(format!(
                "`{}` is missing `{name}`: it is written {}",
                self.kind, self.form
            ))
        };
        let get = |slot: usize| durations[slot].ok_or_else(|| missing(fields[slot]));
        Ok(match self.kind {
            "constant" => Distribution::Constant { value: get(0)? },
            "uniform" => Distribution::Uniform {
                min: get(0)?,
                max: get(1)?,
            },
            "normal" => Distribution::Normal {
                mean: get(0)?,
                std_dev: get(1)?,
            },
            "log_normal" => Distribution::LogNormal {
                median: get(0)?,
                sigma: sigma.ok_or_else(|| missing("sigma"))?,
            },
            _ => Distribution::Exponential { mean: get(0)? },
        })
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(DistributionVisitor)
        } else {
            BinaryDistribution::deserialize(d).map(Distribution::from)
        }
    }
}

fn to_nanos(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        // Saturating float-to-int conversion is defined in Rust; the round is deterministic.
        x.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_those_of_rand_chachas_chacha8rng() {
        use rand_core::Rng;
        // The seed of `Random::stream`, fed to the crate's own generator.
        for (seed, label, index) in [(1, "process", 0), (7, "network", 3), (u64::MAX, "x", 1 << 32)] {
            let mut theirs = rand_chacha::ChaCha8Rng::from_seed(stream_seed(seed, label, index));
            let mut ours = Random::stream(seed, label, index);
            // Across several refills of the four-block buffer.
            for i in 0..300 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "draw {i}");
            }
        }
    }

    #[test]
    fn next_draw_word_is_where_the_next_draw_starts() {
        let mut stream = Random::stream(3, "p", 0);
        let mut checked = 0;
        // Across refills: a used-up buffer points at its last word (the next draw refills).
        for _ in 0..200 {
            let word = *stream.next_draw_word();
            let before_refill = (stream.results[0] as usize) < BUFFER_WORDS;
            let draw = stream.next_u64();
            if before_refill {
                assert_eq!(word, draw as u32, "the low word of a draw comes first");
                checked += 1;
            }
        }
        assert!(checked > 150);
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: Vec<u64> = (0..4)
            .map({
                let mut r = Random::stream(7, "host", 1);
                move |_| r.next_u64()
            })
            .collect();
        let mut again = Random::stream(7, "host", 1);
        let a2: Vec<u64> = (0..4).map(|_| again.next_u64()).collect();
        assert_eq!(a1, a2);
        let mut other = Random::stream(7, "host", 2);
        assert_ne!(a1[0], other.next_u64());
        let mut other_seed = Random::stream(8, "host", 1);
        assert_ne!(a1[0], other_seed.next_u64());
    }

    // What seed 42, stream "pin", index 0 gives; see `stream_values_are_pinned`.
    const PINNED_KEY: u64 = 0x158b_af17_d068_ddad;
    const PINNED_RAW: [u64; 2] = [0x2405_4af4_e612_469a, 0x6e99_e640_2f85_eea6];
    const PINNED_INTS: [u64; 3] = [760, 9, 3];
    const PINNED_FLOATS: [f64; 4] = [
        0.08040968254199954,
        0.8501906661842241,
        12.934869286829981,
        0.33944078492711793,
    ];
    const PINNED_DECK: [u8; 6] = [4, 3, 1, 0, 2, 5];
    const PINNED_SAMPLED_NS: [u64; 2] = [3_957_432, 1_625_281];

    #[test]
    fn stream_values_are_pinned() {
        // Literal values: a change to key derivation or to any sampling function changes every
        // trace and fingerprint, so it must be deliberate.
        const WHY: &str = "random stream changed (so event order changed): if intended, update the literals";
        let mut r = Random::stream(42, "pin", 0);
        let raw = [r.next_u64(), r.next_u64()];
        let ints = [r.below(1000), r.range_inclusive(5, 9), r.index(7) as u64];
        let floats = [
            r.unit(),
            r.exponential(2.0),
            r.normal(10.0, 3.0),
            r.lognormal(0.0, 1.0),
        ];
        let mut deck = [0u8, 1, 2, 3, 4, 5];
        r.shuffle(&mut deck);
        let sampled = [
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(10)).sample(&mut r),
            Distribution::Exponential {
                mean: Duration::from_millis(5),
            }
            .sample(&mut r),
        ];
        assert_eq!(derive_stream_key(42, "pin", 0), PINNED_KEY, "{WHY}");
        assert_eq!(raw, PINNED_RAW, "{WHY}");
        assert_eq!(ints, PINNED_INTS, "{WHY}");
        assert_eq!(
            floats.map(f64::to_bits),
            PINNED_FLOATS.map(f64::to_bits),
            "{WHY}: {floats:?}"
        );
        assert_eq!(deck, PINNED_DECK, "{WHY}");
        assert_eq!(sampled.map(Duration::as_nanos), PINNED_SAMPLED_NS, "{WHY}");
    }

    fn parse(text: &str) -> Result<Distribution, String> {
        #[derive(Debug, Deserialize)]
        struct Link {
            #[allow(dead_code)] // read through Debug only
            latency: Distribution,
        }
        toml::from_str::<Link>(text)
            .map(|l| l.latency)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn distributions_parse_in_full_and_in_shorthand() {
        let c = Distribution::constant(Duration::from_millis(1));
        assert_eq!(parse(r#"latency = { constant = "1ms" }"#), Ok(c));
        assert_eq!(parse(r#"latency = { constant = { value = "1ms" } }"#), Ok(c));
        assert_eq!(parse(r#"latency = "1ms""#), Ok(c));
        assert_eq!(parse("latency = { constant = 1000000 }"), Ok(c));
        let e = Distribution::Exponential {
            mean: Duration::from_millis(5),
        };
        assert_eq!(parse(r#"latency = { exponential = "5ms" }"#), Ok(e));
        assert_eq!(parse(r#"latency = { exponential = { mean = "5ms" } }"#), Ok(e));
        assert_eq!(
            parse(r#"latency = { uniform = { min = "1ms", max = "5ms" } }"#),
            Ok(Distribution::uniform(
                Duration::from_millis(1),
                Duration::from_millis(5)
            ))
        );
        assert_eq!(
            parse(r#"latency = { log_normal = { median = "2ms", sigma = 1 } }"#),
            Ok(Distribution::LogNormal {
                median: Duration::from_millis(2),
                sigma: 1.0
            })
        );
        assert_eq!(
            parse(r#"latency = { normal = { mean = "5ms", std_dev = "1ms" } }"#),
            Ok(Distribution::Normal {
                mean: Duration::from_millis(5),
                std_dev: Duration::from_millis(1)
            })
        );
    }

    #[test]
    fn distribution_errors_name_the_expected_keys() {
        assert_eq!(KINDS.map(|(k, _)| k), KIND_NAMES);
        let err = |text: &str| parse(text).unwrap_err();
        assert_eq!(
            err(r#"latency = { constant = { val = "1ms" } }"#),
            r#"unknown field `val`, expected `value`: constant is written as a duration such as "1ms", or { value = "1ms" }"#
        );
        assert_eq!(
            err(r#"latency = { uniform = { min = "1ms", maximum = "2ms" } }"#),
            r#"unknown field `maximum`, expected `min` or `max`: uniform is written as { min = "1ms", max = "5ms" }"#
        );
        assert_eq!(
            err(r#"latency = { uniform = { min = "1ms" } }"#),
            r#"`uniform` is missing `max`: it is written as { min = "1ms", max = "5ms" }"#
        );
        assert_eq!(
            err(r#"latency = { uniform = "1ms" }"#),
            r#"`uniform` is written as { min = "1ms", max = "5ms" }"#
        );
        assert!(
            err(r#"latency = { normal = true }"#)
                .contains(r#"`normal` as { mean = "5ms", std_dev = "1ms" }"#),
            "{}",
            err(r#"latency = { normal = true }"#)
        );
        assert_eq!(
            err(r#"latency = { constnt = "1ms" }"#),
            "unknown variant `constnt`, expected one of `constant`, `uniform`, `normal`, `log_normal`, `exponential`"
        );
        assert!(err("latency = {}").contains("needs one of the keys `constant`"));
        assert!(
            err(r#"latency = { constant = "1ms", uniform = { min = "1ms", max = "2ms" } }"#)
                .contains("exactly one kind")
        );
        assert!(err(r#"latency = { constant = "1 parsec" }"#).contains("unknown unit"));
    }

    #[test]
    fn the_binary_encoding_is_unchanged() {
        for d in [
            Distribution::constant(Duration(7)),
            Distribution::uniform(Duration(1), Duration(9)),
            Distribution::LogNormal {
                median: Duration(5),
                sigma: 0.25,
            },
        ] {
            let bytes = postcard::to_allocvec(&d).unwrap();
            assert_eq!(postcard::from_bytes::<Distribution>(&bytes).unwrap(), d);
        }
        // Variant index 1 (uniform), then two varints: the derived encoding.
        assert_eq!(
            postcard::to_allocvec(&Distribution::uniform(Duration(1), Duration(9))).unwrap(),
            [1, 1, 9]
        );
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Random::stream(1, "t", 0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[r.below(10) as usize] += 1;
        }
        for &c in &seen {
            assert!((800..1200).contains(&c), "{seen:?}");
        }
    }

    #[test]
    fn distributions_have_the_right_mean() {
        let mut r = Random::stream(3, "t", 0);
        let n = 200_000u64;
        let check = |d: Distribution, r: &mut Random, want: f64| {
            let total: u64 = (0..n).map(|_| d.sample(r).0).sum();
            let mean = total as f64 / n as f64;
            assert!(
                (mean - want).abs() / want < 0.02,
                "{d:?}: mean {mean} want {want}"
            );
        };
        let ms = Duration::from_millis;
        check(Distribution::uniform(ms(1), ms(10)), &mut r, 5.5e6);
        check(Distribution::Exponential { mean: ms(4) }, &mut r, 4e6);
        check(
            Distribution::Normal {
                mean: ms(10),
                std_dev: ms(2),
            },
            &mut r,
            10e6,
        );
        let ln = Distribution::LogNormal {
            median: ms(2),
            sigma: 0.5,
        };
        check(ln, &mut r, ln.mean().0 as f64);
    }

    #[test]
    fn uniform_bounds_are_inclusive_and_respected() {
        let mut r = Random::stream(9, "t", 0);
        let d = Distribution::uniform(Duration(3), Duration(5));
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let v = d.sample(&mut r).0;
            assert!((3..=5).contains(&v));
            seen[(v - 3) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert!(
            Distribution::uniform(Duration(5), Duration(3))
                .validate()
                .is_err()
        );
    }
}
