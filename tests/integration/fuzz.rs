//! Fuzzing on a stable toolchain: proptest throws random and mutated input at the three parsers
//! that take outside input, and each must answer with a clean error value, never a panic:
//!
//! - the trace decoder (`TraceReader::from_bytes`, then every record): random bytes, random
//!   bytes behind a valid signature, mutated and truncated real traces, and real traces whose
//!   header, record blocks or footer are mutated *and resealed* with correct lengths and
//!   checksums, so the postcard and record decoders behind the checksums are reached too;
//!   resealed traces also go through `ruckus replay` (the stored scenario and plan);
//! - the scenario parser (`Scenario::from_text` with the built-in registry): mutated built-in
//!   scenario files (bytes, lines, values) and random TOML-like text, then the fault-plan
//!   expansion of what it accepts;
//! - `--set` strings, through `ruckus run` in-process.
//!
//! Cases per test: `RUCKUS_FUZZ_CASES` (default 256, so `cargo test` stays fast), four times
//! that for the cheap trace-decoder targets and a tenth for whole replays; `.ci/run` runs them
//! again with 100,000. The inputs are the same on every run (a fixed seed, so CI never fails
//! by chance); `PROPTEST_RNG_SEED=N` explores other inputs, and reproduces what it finds.

use crate::support::{TempDir, ruckus};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_sim::record::DigestHasher;
use ruckus_sim::trace::{END_MAGIC, FORMAT_VERSION, MAGIC, TraceReader};
use std::hash::Hasher;
use std::sync::OnceLock;

/// Cases per fuzz test, from `RUCKUS_FUZZ_CASES`.
fn cases() -> u32 {
    match std::env::var("RUCKUS_FUZZ_CASES") {
        Ok(v) => v.trim().parse().expect("RUCKUS_FUZZ_CASES is a positive integer"),
        Err(_) => 256,
    }
}

fn config() -> ProptestConfig {
    config_times(1)
}

/// `factor` times the cases: for targets whose cases cost a hundredth of the others'.
fn config_times(factor: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: cases().saturating_mul(factor),
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(FUZZ_SEED),
            chosen => chosen,
        },
        // Inputs are printed on failure; no regression files written into the source tree.
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..defaults
    }
}

/// The inputs' seed unless `PROPTEST_RNG_SEED` names another.
const FUZZ_SEED: u64 = 20_261_201;

// ---------------------------------------------------------------------------------------------
// Byte mutations

/// One edit of a byte string; positions are fractions of its current length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Truncate(Index),
    Duplicate(Index, usize),
    /// Overwrites four bytes with a boundary value (lengths and counts are u32 LE).
    Word(Index, u32),
    /// Inserts a LEB128 varint (record lengths, deltas).
    Varint(Index, u64),
}

fn boundary_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        prop::sample::select(vec![
            0,
            1,
            0x7f,
            0x80,
            0xff,
            0xffff,
            0x1_0000,
            16 << 20,
            (16 << 20) + 1,
            0x7fff_ffff,
            0xffff_ffff
        ]),
        any::<u32>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        2 => (any::<Index>(), boundary_u32()).prop_map(|(i, w)| Mutation::Word(i, w)),
        1 => (any::<Index>(), any::<u64>()).prop_map(|(i, v)| Mutation::Varint(i, v)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..6)
}

fn apply(bytes: &mut Vec<u8>, edits: &[Mutation]) {
    for edit in edits {
        // An index into 0..=len: inserting at the end is allowed.
        let at = |i: &Index, len: usize| i.index(len + 1);
        match edit {
            Mutation::FlipBit(i, bit) if !bytes.is_empty() => {
                let p = i.index(bytes.len());
                bytes[p] ^= 1 << bit;
            }
            Mutation::SetByte(i, b) if !bytes.is_empty() => {
                let p = i.index(bytes.len());
                bytes[p] = *b;
            }
            Mutation::Insert(i, v) => {
                let p = at(i, bytes.len());
                bytes.splice(p..p, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let p = at(i, bytes.len());
                let end = (p + n).min(bytes.len());
                bytes.drain(p..end);
            }
            Mutation::Truncate(i) => {
                let p = at(i, bytes.len());
                bytes.truncate(p);
            }
            Mutation::Duplicate(i, n) => {
                let p = at(i, bytes.len());
                let end = (p + n).min(bytes.len());
                let copy = bytes[p..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Word(i, w) if bytes.len() >= 4 => {
                let p = i.index(bytes.len() - 3);
                bytes[p..p + 4].copy_from_slice(&w.to_le_bytes());
            }
            Mutation::Varint(i, v) => {
                let p = at(i, bytes.len());
                let mut enc = Vec::new();
                let mut v = *v;
                while v >= 0x80 {
                    enc.push((v as u8) | 0x80);
                    v >>= 7;
                }
                enc.push(v as u8);
                bytes.splice(p..p, enc);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The trace decoder

/// A real trace: lease_lock with every fault kind, so its header holds a scenario and a plan.
fn real_trace() -> &'static [u8] {
    static TRACE: OnceLock<Vec<u8>> = OnceLock::new();
    TRACE.get_or_init(|| {
        let dir = TempDir::new("fuzz-trace");
        let path = dir.file("seed.trace");
        let r = ruckus(&[
            "run",
            "lease_lock",
            "--set",
            "limits.horizon=2s",
            "--trace",
            path.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        std::fs::read(&path).unwrap()
    })
}

/// The trace container's checksum, written here from the format's description.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h = DigestHasher::default();
    h.write(bytes);
    h.write_u64(bytes.len() as u64);
    h.finish()
}

/// A trace split into its checksummed sections.
#[derive(Clone, Debug)]
struct Sections {
    header: Vec<u8>,
    /// (record count, payload) per block.
    blocks: Vec<(u32, Vec<u8>)>,
    footer: Vec<u8>,
}

fn u32_at(b: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(b[p..p + 4].try_into().unwrap())
}

fn split(trace: &[u8]) -> Sections {
    let header_len = u32_at(trace, 10) as usize;
    let header = trace[22..22 + header_len].to_vec();
    let footer_offset =
        u64::from_le_bytes(trace[trace.len() - 16..trace.len() - 8].try_into().unwrap()) as usize;
    let mut blocks = Vec::new();
    let mut p = 22 + header_len;
    while p < footer_offset {
        assert_eq!(trace[p], 0x01, "a block tag");
        let len = u32_at(trace, p + 1) as usize;
        let count = u32_at(trace, p + 5);
        blocks.push((count, trace[p + 17..p + 17 + len].to_vec()));
        p += 17 + len;
    }
    assert_eq!(trace[footer_offset], 0x02, "the footer tag");
    let footer_len = u32_at(trace, footer_offset + 1) as usize;
    let footer = trace[footer_offset + 13..footer_offset + 13 + footer_len].to_vec();
    Sections {
        header,
        blocks,
        footer,
    }
}

/// Writes sections back with correct lengths, checksums and footer offset.
fn seal(s: &Sections) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(s.header.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&s.header).to_le_bytes());
    out.extend_from_slice(&s.header);
    for (count, body) in &s.blocks {
        out.push(0x01);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&checksum(body).to_le_bytes());
        out.extend_from_slice(body);
    }
    let footer_offset = out.len() as u64;
    out.push(0x02);
    out.extend_from_slice(&(s.footer.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&s.footer).to_le_bytes());
    out.extend_from_slice(&s.footer);
    out.extend_from_slice(&footer_offset.to_le_bytes());
    out.extend_from_slice(&END_MAGIC);
    out
}

/// Decodes `bytes` to the end; a panic fails the test, an error must be one clean line.
/// Returns the records read when the whole trace was accepted.
fn decode(bytes: Vec<u8>) -> Option<u64> {
    let len = bytes.len() as u64;
    let clean = |e: &dyn std::fmt::Display| {
        let text = e.to_string();
        assert!(
            !text.trim().is_empty() && !text.contains('\n'),
            "unclean error: {text:?}"
        );
    };
    let mut reader = match TraceReader::from_bytes("fuzz.trace", bytes) {
        Ok(r) => r,
        Err(e) => {
            clean(&e);
            return None;
        }
    };
    let _ = (reader.header().seed, reader.footer().records);
    let mut records = 0u64;
    loop {
        match reader.next_event() {
            Ok(Some(_)) => {
                records += 1;
                // Every record takes at least one byte of the file: no endless stream.
                assert!(records <= len, "more records than bytes");
            }
            Ok(None) => return Some(records),
            Err(e) => {
                clean(&e);
                return None;
            }
        }
    }
}

#[test]
fn the_section_splitter_reseals_a_real_trace_byte_for_byte() {
    let trace = real_trace();
    let sections = split(trace);
    assert!(!sections.blocks.is_empty());
    assert_eq!(
        seal(&sections),
        trace,
        "the checksum and layout used by the fuzzer are the format's"
    );
    let records = decode(trace.to_vec()).expect("the real trace decodes");
    assert!(records > 100, "{records} records");
    // A resealed change is caught by what lies behind the checksums, not by the checksums.
    let mut changed = sections.clone();
    changed.footer[0] ^= 1;
    assert!(decode(seal(&changed)).is_none());
}

proptest! {
    #![proptest_config(config_times(4))]

    #[test]
    fn fuzz_trace_decoder_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decode(bytes.clone());
        let mut signed = MAGIC.to_vec();
        signed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        signed.extend_from_slice(&bytes);
        decode(signed);
    }

    #[test]
    fn fuzz_trace_decoder_mutated_real_traces(edits in mutations()) {
        let mut bytes = real_trace().to_vec();
        apply(&mut bytes, &edits);
        decode(bytes);
    }

    #[test]
    fn fuzz_trace_decoder_resealed_sections(
        section in 0usize..4,
        block in any::<Index>(),
        count in boundary_u32(),
        edits in mutations(),
    ) {
        let mut s = split(real_trace());
        match section {
            0 => apply(&mut s.header, &edits),
            1 => apply(&mut s.footer, &edits),
            2 => {
                let b = block.index(s.blocks.len());
                apply(&mut s.blocks[b].1, &edits);
            }
            _ => {
                let b = block.index(s.blocks.len());
                s.blocks[b].0 = count;
                apply(&mut s.blocks[b].1, &edits);
            }
        }
        decode(seal(&s));
    }
}

/// `1/divisor` of the cases: for targets that run a whole simulation per case.
fn config_over(divisor: u32) -> ProptestConfig {
    ProptestConfig {
        cases: (cases() / divisor).max(1),
        ..config()
    }
}

proptest! {
    #![proptest_config(config_over(10))]

    /// Behind valid checksums a flipped byte of the header mostly changes the stored scenario
    /// text or fault plan: `ruckus replay` must rebuild the run from it or refuse it cleanly.
    #[test]
    fn fuzz_replay_of_resealed_traces(
        header in any::<bool>(),
        block in any::<Index>(),
        edits in mutations(),
    ) {
        let mut s = split(real_trace());
        if header {
            apply(&mut s.header, &edits);
        } else {
            let b = block.index(s.blocks.len());
            apply(&mut s.blocks[b].1, &edits);
        }
        let dir = TempDir::new("fuzz-replay");
        let path = dir.file("mutated.trace");
        std::fs::write(&path, seal(&s)).unwrap();
        let r = ruckus(&["replay", path.to_str().unwrap()]);
        prop_assert!(r.code <= 4, "exit {}: {}", r.code, r.err);
        prop_assert!(
            !r.out.contains("model_panic") && !r.err.contains("model_panic"),
            "the model panicked replaying {edits:?}: {}{}",
            r.out,
            r.err
        );
        // Exit 2: a bad file (on stderr) or a divergence from the records (on stdout).
        if r.code == 2 {
            prop_assert!(
                !r.err.trim().is_empty() || r.out.contains("diverge"),
                "exit 2 without a reason: {}",
                r.out
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario parser

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

fn builtin_texts() -> Vec<(String, String)> {
    let r = registry();
    r.scenario_names()
        .map(|n| (n.to_owned(), r.scenario_text(n).unwrap().to_owned()))
        .collect()
}

/// Values that sit on the edges of what the fields accept.
fn odd_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-1",
            "1.5",
            "-0.0",
            "nan",
            "inf",
            "9223372036854775807",
            "18446744073709551615",
            "99999999999999999999999",
            "1e400",
            "0x10",
            "\"0xffffffffffffffff\"",
            "\"\"",
            "\"1ns\"",
            "\"0s\"",
            "\"100000h\"",
            "\"18446744073709551615ns\"",
            "\"-5ms\"",
            "\"1.5.3s\"",
            "\"10 parsecs\"",
            "true",
            "[]",
            "[1, 2]",
            "{}",
            "{ uniform = { min = \"5ms\", max = \"1ms\" } }",
            "\"zoned\"",
            "70000",
            "4294967296",
            "1979-05-27T07:32:00Z",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|v| v.to_string()),
        "[a-z0-9_.\"\\[\\]{}=, -]{0,24}",
    ]
}

/// A line-level edit of a scenario file.
#[derive(Clone, Debug)]
enum LineEdit {
    Delete(Index),
    Repeat(Index),
    Swap(Index, Index),
    /// Replaces what follows the first `=` of a line.
    Value(Index, String),
    /// Adds `key = value` under a random line.
    Add(Index, String, String),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "hosts",
            "seed",
            "name",
            "clients",
            "enabled",
            "horizon",
            "max_events",
            "max_queue",
            "mean_interval",
            "duration_min",
            "layout",
            "zones",
            "latency",
            "skip",
            "plan",
            "profile",
            "in_flight",
            "deliveries",
            "[faults.plan]",
            "[[faults.plan.actions]]",
            "[limits]",
        ])
        .prop_map(str::to_owned),
        "[a-z_.]{1,12}",
    ];
    prop_oneof![
        1 => any::<Index>().prop_map(LineEdit::Delete),
        1 => any::<Index>().prop_map(LineEdit::Repeat),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| LineEdit::Value(i, v)),
        2 => (any::<Index>(), key, odd_value()).prop_map(|(i, k, v)| LineEdit::Add(i, k, v)),
    ]
}

fn edit_lines(text: &str, edits: &[LineEdit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for edit in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match edit {
            LineEdit::Delete(i) => {
                lines.remove(i.index(n));
            }
            LineEdit::Repeat(i) => {
                let p = i.index(n);
                lines.insert(p, lines[p].clone());
            }
            LineEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            LineEdit::Value(i, v) => {
                let p = i.index(n);
                if let Some(eq) = lines[p].find('=') {
                    lines[p] = format!("{}= {v}", &lines[p][..eq]);
                }
            }
            LineEdit::Add(i, k, v) => {
                let line = if k.starts_with('[') {
                    k.clone()
                } else {
                    format!("{k} = {v}")
                };
                lines.insert(i.index(n + 1), line);
            }
        }
    }
    lines.join("\n")
}

/// Parses `text` as a scenario; an accepted one has its fault plan expanded for a seed.
fn parse_scenario(name: &str, text: &str, overrides: &[String]) {
    match Scenario::from_text(registry(), name, name, "fuzz.toml", text, overrides) {
        Ok(s) => {
            let _ = s.config_hash();
            let _ = runner::fault_plan(&s, 1);
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.trim().is_empty(), "an empty error");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_scenario_parser_mutated_bytes(which in any::<Index>(), edits in mutations()) {
        let texts = builtin_texts();
        let (name, text) = &texts[which.index(texts.len())];
        let mut bytes = text.clone().into_bytes();
        apply(&mut bytes, &edits);
        parse_scenario(name, &String::from_utf8_lossy(&bytes), &[]);
    }

    #[test]
    fn fuzz_scenario_parser_edited_lines(
        which in any::<Index>(),
        edits in prop::collection::vec(line_edit(), 1..5),
    ) {
        let texts = builtin_texts();
        let (name, text) = &texts[which.index(texts.len())];
        parse_scenario(name, &edit_lines(text, &edits), &[]);
    }

    #[test]
    fn fuzz_scenario_parser_random_text(text in "[a-z_.=\\[\\]{}\"0-9 #,\n-]{0,300}") {
        parse_scenario("fuzz", &text, &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// `--set` through the CLI

/// Dotted paths that exist in the built-in scenarios, and some that nearly do.
fn set_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "seed", "description", "model", "model.name", "model.bug_no_fencing", "topology",
            "topology.hosts", "topology.layout", "topology.zones", "topology.latency",
            "topology.latency.uniform.min", "topology.inter_zone", "workload", "workload.clients",
            "workload.lease", "workload.work", "workload.writes_per_lease",
            "workload.think_max", "faults", "faults.enabled", "faults.profile",
            "faults.profile.max_hosts_down", "faults.profile.quiet_period",
            "faults.profile.crash.mean_interval", "faults.profile.partition",
            "faults.profile.chaos.loss", "faults.profile.network_chaos.duration_max", "faults.plan",
            "limits", "limits.horizon", "limits.max_queue", "invariants.skip", "invariants",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{0,8}(\\.[a-z_]{0,8}){0,4}",
        1 => "[ -~]{0,20}",
    ]
}

/// Values a field could well take, so that many fuzzed runs get past the checks.
fn plausible_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|n| n.to_string()),
        (
            0u64..3000,
            prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h"])
        )
            .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
        any::<bool>().prop_map(|b| b.to_string()),
        (0u32..=100).prop_map(|p| format!("{}", f64::from(p) / 100.0)),
        prop::sample::select(vec![
            "{ mean_interval = \"100ms\", duration_min = \"1ms\", duration_max = \"5ms\" }",
            "{ constant = \"1ms\" }",
            "[\"no_double_grant\"]",
            "\"single_switch\"",
        ])
        .prop_map(str::to_owned),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_set_strings_through_ruckus_run(
        key in set_key(),
        value in prop_oneof![odd_value(), plausible_value()],
        separator in prop::sample::select(vec!["=", "=", "=", "=", "=", "==", " = ", ""]),
    ) {
        let set = format!("{key}{separator}{value}");
        // The fixed --set after the fuzzed one keeps every accepted run short.
        let r = ruckus(&["run", "lease_lock", "--set", &set, "--set", "limits.max_events=3000"]);
        prop_assert!(
            r.code <= 4,
            "exit {} for --set {set:?}: {}",
            r.code,
            r.err
        );
        prop_assert!(
            !r.out.contains("model_panic") && !r.err.contains("model_panic"),
            "the model panicked for --set {set:?}: {}{}",
            r.out,
            r.err
        );
        if r.code == 2 {
            prop_assert!(!r.err.trim().is_empty(), "exit 2 without a message for --set {set:?}");
        }
    }
}
