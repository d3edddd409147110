//! Round trips, corruption and replay of trace files.
use super::format::put_varint;
use super::*;
use crate::fault::{Fault, FaultAction};
use crate::network::HostId;

#[allow(clippy::too_many_arguments)] // one positional record per line reads best as a table
fn rec(
    index: u64,
    time: u64,
    kind: RecordKind,
    process: u32,
    host: u32,
    peer: u32,
    aux: u64,
    digest: u64,
) -> EventRecord {
    EventRecord {
        index,
        time: Instant(time),
        kind,
        process,
        host,
        peer,
        aux,
        digest,
    }
}

fn sample() -> Vec<(EventRecord, Option<String>)> {
    vec![
        (rec(0, 0, RecordKind::Start, 0, 0, NONE, 0, 0), None),
        (
            rec(1, 5, RecordKind::Deliver, 1, 2, 0, 1, 0xdead_beef_0000_0001),
            None,
        ),
        (
            rec(1, 5, RecordKind::Note, 1, 2, NONE, 0, 7),
            Some("héllo".into()),
        ),
        (rec(2, 5, RecordKind::FaultBegin, NONE, NONE, 3, 0, 9), None),
        // Times going backwards, huge values and NONE everywhere still round-trip.
        (
            rec(9, 2, RecordKind::Timer, 70_000, 4, NONE, u64::MAX, u64::MAX),
            None,
        ),
        (
            rec(10, u64::MAX, RecordKind::Deliver, 1, 3, u32::MAX - 1, u64::MAX, 1),
            None,
        ),
        (rec(11, 0, RecordKind::Heal, NONE, NONE, NONE, 0, 0), None),
        (rec(12, 1, RecordKind::Note, 1, 3, NONE, 0, 0), None),
    ]
}

fn plan() -> FaultPlan {
    FaultPlan {
        actions: vec![FaultAction {
            at: Instant(5),
            fault: Fault::CrashHost {
                host: HostId(1),
                down_for: Duration(10),
            },
        }],
        heal_at: Some(Instant(100)),
    }
}

fn write_sample(path: &Path) -> TraceSummary {
    let mut header = TraceHeader::new(42, "model = \"x\"", plan());
    header.labels.push(("model".into(), "x".into()));
    header.horizon = Some(Duration(77));
    let mut w = TraceWriter::create(path, &header).unwrap();
    for (r, note) in sample() {
        w.push(&r, note.as_deref());
    }
    w.finish(None).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ruckus-trace-unit-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn varints_round_trip_and_reject_overlong() {
    for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        let mut pos = 0;
        assert_eq!(get_varint(&buf, &mut pos), Some(v));
        assert_eq!(pos, buf.len());
    }
    let mut pos = 0;
    assert_eq!(get_varint(&[0xff; 11], &mut pos), None);
    let mut pos = 0;
    assert_eq!(get_varint(&[0x80], &mut pos), None);
}

#[test]
fn records_round_trip_through_a_file() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("a.trace");
    let summary = write_sample(&path);
    assert_eq!(summary.records, 8);
    let mut reader = TraceReader::open(&path).unwrap();
    assert_eq!(reader.header().seed, 42);
    assert_eq!(reader.header().plan, plan());
    assert_eq!(reader.header().label("model"), Some("x"));
    assert_eq!(reader.header().horizon, Some(Duration(77)));
    assert_eq!(reader.footer().records, 8);
    let events = reader.read_all().unwrap();
    let expected: Vec<TraceEvent> = sample()
        .into_iter()
        .map(|(record, note)| TraceEvent {
            record,
            note: if record.kind == RecordKind::Note {
                Some(note.unwrap_or_default())
            } else {
                None
            },
        })
        .collect();
    assert_eq!(events, expected);
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unfinished_writer_leaves_nothing_behind() {
    let dir = temp_dir("unfinished");
    let path = dir.join("b.trace");
    {
        let mut w = TraceWriter::create(&path, &TraceHeader::new(1, "", FaultPlan::none())).unwrap();
        w.push(&sample()[0].0, None);
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

fn sample_bytes() -> Vec<u8> {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES
        .get_or_init(|| {
            let dir = temp_dir("bytes");
            let path = dir.join("c.trace");
            write_sample(&path);
            let bytes = std::fs::read(&path).unwrap();
            std::fs::remove_dir_all(dir).unwrap();
            bytes
        })
        .clone()
}

fn read(bytes: Vec<u8>) -> Result<Vec<TraceEvent>, TraceError> {
    TraceReader::from_bytes("t.trace", bytes)?.read_all()
}

#[test]
fn every_bad_input_gets_its_own_one_line_error() {
    let good = sample_bytes();
    let one_line = |e: &TraceError| {
        let m = e.to_string();
        assert!(!m.contains('\n') && m.starts_with("t.trace: "), "{m}");
        m
    };
    let e = read(Vec::new()).unwrap_err();
    assert!(matches!(e, TraceError::Empty { .. }), "{e}");
    one_line(&e);
    let e = read(b"{\"json\": true}".to_vec()).unwrap_err();
    assert!(matches!(e, TraceError::WrongMagic { .. }), "{e}");
    assert!(one_line(&e).contains("{\\\"json"));
    let mut future = good.clone();
    future[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = read(future).unwrap_err();
    assert!(matches!(e, TraceError::FutureVersion { found: 3, .. }), "{e}");
    assert!(one_line(&e).contains("upgrade"));
    // Every truncation point is caught, none panics.
    for cut in 1..good.len() {
        let e = read(good[..cut].to_vec()).unwrap_err();
        assert!(matches!(e, TraceError::Truncated { .. }), "cut at {cut}: {e}");
        one_line(&e);
    }
    // Every single-byte corruption is caught (the trailing magic reads as truncation).
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x55;
        let e = read(bad).expect_err(&format!("flip at {i} went unnoticed"));
        one_line(&e);
        if (10..good.len() - 8).contains(&i) {
            assert!(
                matches!(e, TraceError::Corrupted { .. } | TraceError::Truncated { .. }),
                "flip at {i}: {e}"
            );
        }
    }
}

#[test]
fn version_1_files_still_read_and_sync_completions_round_trip() {
    // Version 2 only added a record kind: a version 1 file's bytes are a version 2 file's.
    let mut v1 = sample_bytes();
    v1[8..10].copy_from_slice(&1u16.to_le_bytes());
    let expected = read(sample_bytes()).unwrap();
    assert_eq!(read(v1).unwrap(), expected);

    let dir = temp_dir("sync");
    let path = dir.join("s.trace");
    let header = TraceHeader::new(1, "model = \"x\"", FaultPlan::none());
    let mut w = TraceWriter::create(&path, &header).unwrap();
    let done = rec(0, 5_000_000, RecordKind::SyncDone, 2, 1, NONE, 3_000_000, 11);
    w.push(&done, None);
    w.finish(None).unwrap();
    let events = TraceReader::open(&path).unwrap().read_all().unwrap();
    assert_eq!(
        events,
        vec![TraceEvent {
            record: done,
            note: None
        }]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_files_name_the_file() {
    let e = TraceReader::open("/nonexistent/ruckus/x.trace").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ruckus/x.trace: cannot open"),
        "{e}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// The decoder never panics, whatever it is fed.
    #[test]
    fn decoder_survives_garbage(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let _ = read(bytes.clone());
        let mut prefixed = MAGIC.to_vec();
        prefixed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        prefixed.extend_from_slice(&bytes);
        let _ = read(prefixed);
    }

    /// Nor does it panic on a real trace with a few bytes overwritten.
    #[test]
    fn decoder_survives_mutations(edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..6)) {
        let mut bytes = sample_bytes();
        let n = bytes.len();
        for (at, b) in edits {
            bytes[at % n] = b;
        }
        let _ = read(bytes);
    }
}

/// Rewrites a finished trace's footer section with `body` (fixing its length, checksum and
/// the trailer), as a writer of an older layout would have written it.
fn replace_footer(path: &Path, body: &[u8]) {
    let bytes = std::fs::read(path).unwrap();
    let offset = u64::from_le_bytes(bytes[bytes.len() - 16..bytes.len() - 8].try_into().unwrap()) as usize;
    let mut out = bytes[..offset].to_vec();
    out.push(TAG_FOOTER);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&format::checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&(offset as u64).to_le_bytes());
    out.extend_from_slice(&END_MAGIC);
    std::fs::write(path, out).unwrap();
}

#[test]
fn traces_written_before_the_footer_had_operations_still_read() {
    use crate::{FailedOperation, OperationOutcome, OperationSpan, ProcessId};
    let dir = temp_dir("old-footer");
    let path = dir.join("old.trace");
    write_sample(&path);
    let today = TraceReader::open(&path).unwrap().footer().clone();
    assert!(today.operations.is_empty(), "finish(None) has no operations");

    // The layout of the last release: a failure with a blamed operation (four fields), no
    // conflicts, no operation list.
    #[derive(Serialize)]
    struct V1Operation {
        process: ProcessId,
        description: String,
        invoked: Instant,
        completed: Option<Instant>,
    }
    #[derive(Serialize)]
    struct V1Failure {
        verdict: Verdict,
        property: Option<String>,
        message: String,
        time: Instant,
        host: Option<HostId>,
        process: Option<ProcessId>,
        event_index: u64,
        operation: Option<V1Operation>,
    }
    #[derive(Serialize)]
    struct V1Footer {
        records: u64,
        events: u64,
        fingerprint: u64,
        end_time: Instant,
        verdict: Verdict,
        failure: Option<V1Failure>,
    }
    let v1 = V1Footer {
        records: today.records,
        events: today.events,
        fingerprint: today.fingerprint,
        end_time: today.end_time,
        verdict: Verdict::SafetyViolation,
        failure: Some(V1Failure {
            verdict: Verdict::SafetyViolation,
            property: Some("linearizable".into()),
            message: "client history".into(),
            time: Instant(5),
            host: Some(HostId(2)),
            process: Some(ProcessId(1)),
            event_index: 1,
            operation: Some(V1Operation {
                process: ProcessId(1),
                description: "get(k0) -> 7".into(),
                invoked: Instant(2),
                completed: Some(Instant(5)),
            }),
        }),
    };
    replace_footer(&path, &postcard::to_allocvec(&v1).unwrap());
    let mut reader = TraceReader::open(&path).unwrap();
    assert_eq!(
        reader.read_all().unwrap().len(),
        sample().len(),
        "the records still verify"
    );
    let footer = reader.footer();
    assert!(footer.operations.is_empty() && footer.operations_total == 0);
    let op = footer.failure.as_ref().unwrap().operation.as_deref().unwrap();
    assert_eq!(
        op,
        &FailedOperation {
            process: ProcessId(1),
            description: "get(k0) -> 7".into(),
            invoked: Instant(2),
            completed: Some(Instant(5)),
            conflicts: Vec::new(),
        }
    );

    // And today's layout keeps what it was given.
    let span = OperationSpan {
        process: ProcessId(1),
        description: "put(k0, 7) -> ok".into(),
        invoked: Instant(1),
        completed: Some(Instant(3)),
        outcome: OperationOutcome::Ok,
    };
    let mut new = today.clone();
    new.operations = vec![span.clone()];
    new.operations_total = 9;
    replace_footer(&path, &postcard::to_allocvec(&new).unwrap());
    let reader = TraceReader::open(&path).unwrap();
    assert_eq!(reader.footer().operations, vec![span]);
    assert_eq!(reader.footer().operations_total, 9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recorded_run_keeps_the_operations_nearest_its_failure() {
    use crate::{Context, OperationOutcome, OperationSpan, Process, ProcessId, Sim, SimConfig, Topology};
    /// Records one operation per millisecond (its number), each lasting half a millisecond.
    #[derive(Clone, Debug)]
    struct Worker;
    impl Process for Worker {
        type Message = ();
        type Timer = u32;
        type Operation = u32;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            ctx.set_timer(Duration::from_millis(1), 0);
        }
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, n: u32) {
            ctx.record(n);
            if n < 2 * OPERATIONS_MAX as u32 {
                ctx.set_timer(Duration::from_millis(1), n + 1);
            }
        }
        fn operations(history: &[crate::HistoryEntry<u32>]) -> Vec<OperationSpan> {
            history
                .iter()
                .map(|e| OperationSpan {
                    process: e.process,
                    description: format!("op {}", e.operation),
                    invoked: e.time,
                    completed: Some(e.time + Duration::from_micros(500)),
                    outcome: OperationOutcome::Ok,
                })
                .collect()
        }
    }
    let topology = Topology::single_switch(1, crate::Distribution::constant(Duration::from_millis(1)));
    let mut sim = Sim::new(SimConfig::with_seed(3), &topology);
    sim.spawn(HostId(0), Worker);
    // Fails at the end, blaming operation 7000.
    sim.add_property(crate::Property::at_end(
        "no_7000",
        |v: &crate::View<'_, Worker>| {
            let at = v.history().iter().position(|e| e.operation == 7000).unwrap();
            v.blame(at, None, "op 7000");
            Err("7000 happened".into())
        },
    ));
    let dir = temp_dir("nearest");
    let path = dir.join("run.trace");
    let header = TraceHeader::new(3, "", FaultPlan::default());
    let (report, _) = record_run(&mut sim, &path, &header, None).unwrap();
    assert!(report.failure.is_some());
    let footer = TraceReader::open(&path).unwrap().footer().clone();
    let total = 2 * OPERATIONS_MAX as u64 + 1;
    assert_eq!(footer.operations_total, total);
    assert_eq!(footer.operations.len(), OPERATIONS_MAX);
    // Centred on the blamed operation, in invocation order.
    let first: u32 = footer.operations[0].description[3..].parse().unwrap();
    let last: u32 = footer.operations[OPERATIONS_MAX - 1].description[3..]
        .parse()
        .unwrap();
    assert_eq!((first, last), (7000 - 2500, 7000 + 2499));
    let _ = std::fs::remove_dir_all(&dir);
}
