//! Full trace files: every event of a run on disk, streamed, so a failure can be replayed bit
//! for bit, checked against a re-execution, shrunk and exported.
//!
//! A fast run keeps only the flight recorder. When a seed fails, re-run it with a
//! [`TraceWriter`] attached (through [`shared`]) and the run leaves a file behind; because runs
//! are deterministic the re-run's fingerprint equals the fast run's, which [`record_run`]
//! checks for you when you pass the expected value.
//!
//! # API in five lines (for the CLI and for tests)
//!
//! - record: [`record_run`]`(&mut sim, path, header, expected_fingerprint)` → `(RunReport, TraceSummary)`
//!   (or by hand: `let (obs, w) = shared(TraceWriter::create(path, header)?); sim.set_observer(Box::new(obs));
//!   let r = sim.run(); w.borrow_mut().finish(Some(&r))?`).
//! - read: [`TraceReader::open`]`(path)?` → `.header()`, `.footer()`, then iterate `TraceEvent`s
//!   (each a `Result`), or `.read_all()?`.
//! - verify: rebuild the `Sim` from `header.scenario`/`header.plan`/`header.seed`, then
//!   [`Replay::attach`]`(&mut sim, reader, context, extra_observer)` and `.run_to_end(&mut sim)?` → [`ReplayOutcome`]
//!   (`Matches { events, .. }` or `Diverged(..)`); `.run_until(&mut sim, n)?` pauses at event `n`
//!   so the caller can print `sim.process(pid)`.
//! - payload text for exports: attach a [`DetailText`] (via [`shared`]) as the extra observer.
//! - every error is a [`TraceError`] whose `Display` is one line naming the file, the problem and
//!   what to do.
//!
//! # File layout (format version 1)
//!
//! ```text
//! magic    8 bytes  "RUCKTRC\x01"
//! version  u16 LE   FORMAT_VERSION
//! header   u32 LE length, u64 LE checksum, postcard(WireHeader)   -- seed, scenario text, plan, labels
//! blocks   repeated: 0x01, u32 LE payload length, u32 LE record count, u64 LE checksum, payload
//! footer   0x02, u32 LE length, u64 LE checksum, postcard(TraceFooter)  -- counts, fingerprint, verdict
//! trailer  u64 LE offset of the footer, "RUCKEND\n"
//! ```
//!
//! A block's payload is a run of length-delimited records: a varint length (LEB128, the varint
//! postcard uses) then the record body. The body starts with a tag byte — bits 0-3 the
//! [`RecordKind`], bit 4 "index delta follows" (otherwise the index is the previous one plus 1),
//! bit 5 "host follows" (otherwise the host the process was last seen on), bit 6 "digest
//! follows" (otherwise 0), bit 7 "aux follows" (otherwise 0) — then varints: [index delta],
//! time delta from the previous record, process+1, [host+1], peer+1, [aux], then [digest as 8
//! LE bytes], and for notes a varint length and the UTF-8 text. A delivery stores its latency
//! (time − send time) instead of the send time. All arithmetic wraps, so any record round-trips.
//! On pingpong this is about 19 bytes per event.
//!
//! The checksums are the engine's fixed word hash over the bytes; the footer also carries the
//! run's fingerprint, which the reader recomputes from the records. The file is written under a
//! temporary name and renamed into place when complete, so a half-written trace never carries
//! the final name.

use crate::fault::FaultPlan;
use crate::model::Simulation;
use crate::record::{DigestHasher, EventDetail, EventRecord, Fingerprint, NONE, Observer, RecordKind};
use crate::sim::{Failure, Progress, RunReport, Verdict};
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The first eight bytes of every trace file.
pub const MAGIC: [u8; 8] = *b"RUCKTRC\x01";
/// The last eight bytes of every complete trace file.
pub const END_MAGIC: [u8; 8] = *b"RUCKEND\n";
/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;

const TAG_BLOCK: u8 = 0x01;
const TAG_FOOTER: u8 = 0x02;
/// Blocks are flushed once their payload reaches this size.
const BLOCK_TARGET: usize = 64 * 1024;
/// The largest block or header a reader accepts (a bound against hostile lengths).
const SECTION_MAX: u32 = 16 << 20;
/// Processes below this id have their host remembered, so records need not repeat it.
const HOST_TABLE_MAX: u32 = 1 << 16;
const FLAG_INDEX: u8 = 0x10;
const FLAG_HOST: u8 = 0x20;
const FLAG_DIGEST: u8 = 0x40;
const FLAG_AUX: u8 = 0x80;

/// Why a trace could not be written or read. Each message is one line: the file, the problem,
/// and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The operating system refused (missing file, permissions, disk full).
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("cannot open", "write").
        action: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The file has no bytes at all.
    #[error("{path}: the file is empty, not a ruckus trace (the recording never started; record it again)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the trace magic bytes.
    #[error(
        "{path}: not a ruckus trace file (it starts with {found} instead of the trace magic); pass a file written by `ruckus run --trace`"
    )]
    WrongMagic {
        /// The file.
        path: PathBuf,
        /// The first bytes found, escaped.
        found: String,
    },
    /// Written by a newer ruckus.
    #[error(
        "{path}: trace format version {found} is newer than this ruckus reads (up to {supported}); upgrade ruckus to replay it"
    )]
    FutureVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// The file ends too early.
    #[error(
        "{path}: truncated: {what}; the recording was interrupted or the file was cut short, so record it again"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was missing.
        what: String,
    },
    /// The bytes do not make sense.
    #[error(
        "{path}: corrupted at byte {offset}: {what}; the file was damaged after it was written, so record it again"
    )]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// Where the problem was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// The writer saw a run that does not match the report it was finished with.
    #[error("{path}: not written: {what}")]
    NotRecorded {
        /// The file that was to be written.
        path: PathBuf,
        /// Why.
        what: String,
    },
}

/// What a trace says about the run before its events: enough to rebuild and re-execute it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceHeader {
    /// The ruckus version that wrote the file.
    pub ruckus_version: String,
    /// The root seed.
    pub seed: u64,
    /// The scenario, as opaque text supplied by the caller (typically the TOML file's content).
    pub scenario: String,
    /// The fault plan the run suffered.
    pub plan: FaultPlan,
    /// A horizon overriding the scenario's (set by shrinking), if any.
    pub horizon: Option<Duration>,
    /// Free-form key/value pairs for callers (model name, variant, command line).
    pub labels: Vec<(String, String)>,
}

impl TraceHeader {
    /// A header for this build of ruckus with no horizon override and no labels.
    pub fn new(seed: u64, scenario: impl Into<String>, plan: FaultPlan) -> TraceHeader {
        TraceHeader {
            ruckus_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
            scenario: scenario.into(),
            plan,
            horizon: None,
            labels: Vec::new(),
        }
    }

    /// The value of a label, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The header as stored (postcard).
#[derive(Serialize, Deserialize)]
struct WireHeader {
    ruckus_version: String,
    seed: u64,
    scenario: String,
    plan: FaultPlan,
    horizon_ns: Option<u64>,
    labels: Vec<(String, String)>,
}

/// What a trace says about the run after its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFooter {
    /// Records in the file (events plus notes).
    pub records: u64,
    /// Events the run processed.
    pub events: u64,
    /// The run's fingerprint.
    pub fingerprint: u64,
    /// True time the run reached.
    pub end_time: Instant,
    /// How the run ended.
    pub verdict: Verdict,
    /// The failure, unless it held.
    pub failure: Option<Failure>,
}

/// One record read back, with the note text when it is a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// The record.
    pub record: EventRecord,
    /// A note's text (notes only).
    pub note: Option<String>,
}

/// What a finished recording produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    /// Where the file now is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Records written.
    pub records: u64,
    /// Events of the run.
    pub events: u64,
    /// The run's fingerprint.
    pub fingerprint: u64,
}

impl TraceSummary {
    /// Average file bytes per record, the figure the format is tuned for.
    pub fn bytes_per_event(&self) -> f64 {
        self.bytes as f64 / self.records.max(1) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 varint; `None` when the bytes run out or it overflows 64 bits.
#[inline]
fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = DigestHasher::default();
    h.write(bytes);
    h.write_u64(bytes.len() as u64);
    h.finish()
}

fn kind_from(n: u8) -> Option<RecordKind> {
    Some(match n {
        0 => RecordKind::Start,
        1 => RecordKind::Deliver,
        2 => RecordKind::Timer,
        3 => RecordKind::Dropped,
        4 => RecordKind::Deferred,
        5 => RecordKind::FaultBegin,
        6 => RecordKind::FaultEnd,
        7 => RecordKind::Heal,
        8 => RecordKind::Note,
        _ => return None,
    })
}

/// The state both ends of the record stream keep so records can be delta-encoded.
#[derive(Clone, Debug)]
struct Codec {
    prev_index: u64,
    prev_time: u64,
    host_of: Vec<u32>,
}

impl Codec {
    fn new() -> Codec {
        Codec {
            prev_index: u64::MAX,
            prev_time: 0,
            host_of: Vec::new(),
        }
    }

    #[inline]
    fn expected_host(&self, process: u32) -> u32 {
        if process < HOST_TABLE_MAX {
            self.host_of.get(process as usize).copied().unwrap_or(NONE)
        } else {
            NONE
        }
    }

    #[inline]
    fn remember_host(&mut self, process: u32, host: u32) {
        if process < HOST_TABLE_MAX {
            let i = process as usize;
            if i >= self.host_of.len() {
                self.host_of.resize(i + 1, NONE);
            }
            self.host_of[i] = host;
        }
    }

    /// Appends one length-delimited record to `out`, using `scratch` for the body.
    fn encode(&mut self, r: &EventRecord, note: Option<&str>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        scratch.clear();
        let index_delta = r.index.wrapping_sub(self.prev_index);
        let host_explicit = r.host != self.expected_host(r.process);
        let aux = if r.kind == RecordKind::Deliver {
            r.time.0.wrapping_sub(r.aux)
        } else {
            r.aux
        };
        let mut tag = r.kind as u8;
        if index_delta != 1 {
            tag |= FLAG_INDEX;
        }
        if host_explicit {
            tag |= FLAG_HOST;
        }
        if r.digest != 0 {
            tag |= FLAG_DIGEST;
        }
        if aux != 0 {
            tag |= FLAG_AUX;
        }
        scratch.push(tag);
        if index_delta != 1 {
            put_varint(scratch, index_delta);
        }
        put_varint(scratch, r.time.0.wrapping_sub(self.prev_time));
        put_varint(scratch, u64::from(r.process.wrapping_add(1)));
        if host_explicit {
            put_varint(scratch, u64::from(r.host.wrapping_add(1)));
        }
        put_varint(scratch, u64::from(r.peer.wrapping_add(1)));
        if aux != 0 {
            put_varint(scratch, aux);
        }
        if r.digest != 0 {
            scratch.extend_from_slice(&r.digest.to_le_bytes());
        }
        if r.kind == RecordKind::Note {
            let text = note.unwrap_or("");
            put_varint(scratch, text.len() as u64);
            scratch.extend_from_slice(text.as_bytes());
        }
        if r.process != NONE {
            self.remember_host(r.process, r.host);
        }
        self.prev_index = r.index;
        self.prev_time = r.time.0;
        put_varint(out, scratch.len() as u64);
        out.extend_from_slice(scratch);
    }

    /// Decodes one record body (without its length prefix); `Err` names what is wrong.
    fn decode(&mut self, body: &[u8]) -> Result<TraceEvent, String> {
        let mut pos = 0usize;
        let field = |pos: &mut usize, name: &str| {
            get_varint(body, pos).ok_or_else(|| format!("record field `{name}` is cut off or overlong"))
        };
        let tag = *body.first().ok_or("empty record")?;
        pos += 1;
        let kind = kind_from(tag & 0x0f).ok_or_else(|| format!("unknown record kind {}", tag & 0x0f))?;
        let index_delta = if tag & FLAG_INDEX != 0 {
            field(&mut pos, "index")?
        } else {
            1
        };
        let time = self.prev_time.wrapping_add(field(&mut pos, "time")?);
        let process = narrow(field(&mut pos, "process")?, "process")?.wrapping_sub(1);
        let host = if tag & FLAG_HOST != 0 {
            narrow(field(&mut pos, "host")?, "host")?.wrapping_sub(1)
        } else {
            self.expected_host(process)
        };
        let peer = narrow(field(&mut pos, "peer")?, "peer")?.wrapping_sub(1);
        let stored_aux = if tag & FLAG_AUX != 0 {
            field(&mut pos, "aux")?
        } else {
            0
        };
        let digest = if tag & FLAG_DIGEST != 0 {
            let bytes: [u8; 8] = body
                .get(pos..pos + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or("record digest is cut off")?;
            pos += 8;
            u64::from_le_bytes(bytes)
        } else {
            0
        };
        let note = if kind == RecordKind::Note {
            let len = field(&mut pos, "note length")?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| pos.checked_add(l))
                .filter(|&e| e <= body.len())
                .ok_or("note text is cut off")?;
            let text = std::str::from_utf8(&body[pos..end]).map_err(|_| "note text is not UTF-8")?;
            pos = end;
            Some(text.to_string())
        } else {
            None
        };
        if pos != body.len() {
            return Err(format!(
                "record has {} unexpected trailing bytes",
                body.len() - pos
            ));
        }
        let index = self.prev_index.wrapping_add(index_delta);
        let aux = if kind == RecordKind::Deliver {
            time.wrapping_sub(stored_aux)
        } else {
            stored_aux
        };
        if process != NONE {
            self.remember_host(process, host);
        }
        self.prev_index = index;
        self.prev_time = time;
        Ok(TraceEvent {
            record: EventRecord {
                index,
                time: Instant(time),
                kind,
                process,
                host,
                peer,
                aux,
                digest,
            },
            note,
        })
    }
}

fn narrow(v: u64, name: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("record field `{name}` is out of range ({v})"))
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Streams every event of a run into a trace file; an [`Observer`] for any process type.
///
/// Attach it through [`shared`] so you can call [`finish`](TraceWriter::finish) after the run.
/// Nothing reaches the final path until `finish` succeeds; dropping an unfinished writer removes
/// its temporary file.
pub struct TraceWriter {
    path: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
    block: Vec<u8>,
    block_records: u32,
    scratch: Vec<u8>,
    codec: Codec,
    records: u64,
    fingerprint: Fingerprint,
    bytes: u64,
    error: Option<io::Error>,
}

impl fmt::Debug for TraceWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceWriter")
            .field("path", &self.path)
            .field("records", &self.records)
            .finish()
    }
}

impl TraceWriter {
    /// Starts a trace at `path` (written under a temporary name next to it until `finish`).
    pub fn create(path: impl AsRef<Path>, header: &TraceHeader) -> Result<TraceWriter, TraceError> {
        let path = path.as_ref().to_path_buf();
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".{}.partial", std::process::id()));
        let temp = path.with_file_name(name);
        let io_err = |action, source| TraceError::Io {
            path: path.clone(),
            action,
            source,
        };
        let wire = WireHeader {
            ruckus_version: header.ruckus_version.clone(),
            seed: header.seed,
            scenario: header.scenario.clone(),
            plan: header.plan.clone(),
            horizon_ns: header.horizon.map(|d| d.0),
            labels: header.labels.clone(),
        };
        let body = postcard::to_allocvec(&wire).map_err(|e| TraceError::NotRecorded {
            path: path.clone(),
            what: format!("the header cannot be encoded: {e}"),
        })?;
        if body.len() > SECTION_MAX as usize {
            return Err(TraceError::NotRecorded {
                path,
                what: format!(
                    "the header is {} bytes, over the limit of {SECTION_MAX}",
                    body.len()
                ),
            });
        }
        let file = File::create(&temp).map_err(|e| io_err("cannot create the temporary file", e))?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut head = Vec::with_capacity(body.len() + 22);
        head.extend_from_slice(&MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(body.len() as u32).to_le_bytes());
        head.extend_from_slice(&checksum(&body).to_le_bytes());
        head.extend_from_slice(&body);
        if let Err(e) = out.write_all(&head) {
            let _ = std::fs::remove_file(&temp);
            return Err(io_err("write", e));
        }
        Ok(TraceWriter {
            bytes: head.len() as u64,
            path,
            temp,
            out: Some(out),
            block: Vec::with_capacity(BLOCK_TARGET + 256),
            block_records: 0,
            scratch: Vec::with_capacity(128),
            codec: Codec::new(),
            records: 0,
            fingerprint: Fingerprint::default(),
            error: None,
        })
    }

    /// The path the finished trace will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends one record (what the observer hook calls).
    #[inline]
    pub fn push(&mut self, record: &EventRecord, note: Option<&str>) {
        self.codec
            .encode(record, note, &mut self.scratch, &mut self.block);
        self.fingerprint.add(record);
        self.records += 1;
        self.block_records += 1;
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block();
        }
    }

    fn flush_block(&mut self) {
        if self.block_records == 0 {
            return;
        }
        let mut head = [0u8; 17];
        head[0] = TAG_BLOCK;
        head[1..5].copy_from_slice(&(self.block.len() as u32).to_le_bytes());
        head[5..9].copy_from_slice(&self.block_records.to_le_bytes());
        head[9..17].copy_from_slice(&checksum(&self.block).to_le_bytes());
        if self.error.is_none()
            && let Some(out) = self.out.as_mut()
            && let Err(e) = out.write_all(&head).and_then(|()| out.write_all(&self.block))
        {
            self.error = Some(e);
        }
        self.bytes += (head.len() + self.block.len()) as u64;
        self.block.clear();
        self.block_records = 0;
    }

    /// Writes the footer and moves the file into place. Pass the run's report so the footer
    /// carries its verdict and failure; the report's fingerprint must match what was recorded
    /// (it does not if the writer was attached after the run started).
    pub fn finish(&mut self, report: Option<&RunReport>) -> Result<TraceSummary, TraceError> {
        let path = self.path.clone();
        let not_recorded = |what: String| TraceError::NotRecorded {
            path: path.clone(),
            what,
        };
        if self.out.is_none() {
            return Err(not_recorded("the trace was already finished".into()));
        }
        if let Some(r) = report
            && r.fingerprint != self.fingerprint.value()
        {
            return Err(not_recorded(format!(
                "the run's fingerprint {:016x} differs from the recorded events' {:016x} (was the writer attached after the run started?)",
                r.fingerprint,
                self.fingerprint.value()
            )));
        }
        self.flush_block();
        let footer = TraceFooter {
            records: self.records,
            events: report.map_or(self.codec.prev_index.wrapping_add(1), |r| r.events),
            fingerprint: self.fingerprint.value(),
            end_time: report.map_or(Instant(self.codec.prev_time), |r| r.end_time),
            verdict: report.map_or(Verdict::Held, |r| r.verdict),
            failure: report.and_then(|r| r.failure.clone()),
        };
        let body = postcard::to_allocvec(&footer).map_err(|e| not_recorded(format!("footer: {e}")))?;
        let footer_offset = self.bytes;
        let mut tail = Vec::with_capacity(body.len() + 29);
        tail.push(TAG_FOOTER);
        tail.extend_from_slice(&(body.len() as u32).to_le_bytes());
        tail.extend_from_slice(&checksum(&body).to_le_bytes());
        tail.extend_from_slice(&body);
        tail.extend_from_slice(&footer_offset.to_le_bytes());
        tail.extend_from_slice(&END_MAGIC);
        self.bytes += tail.len() as u64;
        let mut out = self.out.take().expect("checked above");
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => out
                .write_all(&tail)
                .and_then(|()| out.flush())
                .and_then(|()| out.get_ref().sync_all()),
        };
        drop(out);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.temp);
            return Err(TraceError::Io {
                path: self.path.clone(),
                action: "write",
                source: e,
            });
        }
        std::fs::rename(&self.temp, &self.path).map_err(|e| TraceError::Io {
            path: self.path.clone(),
            action: "moving the finished trace into place",
            source: e,
        })?;
        Ok(TraceSummary {
            path: self.path.clone(),
            bytes: self.bytes,
            records: self.records,
            events: footer.events,
            fingerprint: footer.fingerprint,
        })
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Observer for TraceWriter {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        let note = match detail {
            EventDetail::Note(text) => Some(text),
            _ => None,
        };
        self.push(record, note);
    }
}

/// Runs `sim` to the end with a trace written to `path`. With `expected_fingerprint` (from the
/// fast run that found the failure) it also checks that the traced re-run is the same run.
pub fn record_run(
    sim: &mut dyn Simulation,
    path: impl AsRef<Path>,
    header: &TraceHeader,
    expected_fingerprint: Option<u64>,
) -> Result<(RunReport, TraceSummary), TraceError> {
    let (observer, writer) = shared(TraceWriter::create(path, header)?);
    sim.set_observer(Box::new(observer));
    let report = sim.run();
    drop(sim.take_observer());
    let mut writer = writer.borrow_mut();
    if let Some(expected) = expected_fingerprint
        && expected != report.fingerprint
    {
        return Err(TraceError::NotRecorded {
            path: writer.path().to_path_buf(),
            what: format!(
                "the traced re-run has fingerprint {:016x} but the original run had {expected:016x}: the run is not deterministic (try check_determinism)",
                report.fingerprint
            ),
        });
    }
    let summary = writer.finish(Some(&report))?;
    Ok((report, summary))
}

// ---------------------------------------------------------------------------------------------
// Reading

trait Source: Read + Seek {}
impl<T: Read + Seek> Source for T {}

/// Streams a trace file back: header and footer up front, then the records in order.
///
/// Iterating yields `Result<TraceEvent, TraceError>`; after the last record the reader checks
/// the record count and recomputes the fingerprint against the footer, so a damaged file is
/// reported even when every block looked fine.
pub struct TraceReader {
    path: PathBuf,
    src: Box<dyn Source>,
    header: TraceHeader,
    footer: TraceFooter,
    /// Offset of the footer block (where records end).
    footer_offset: u64,
    /// Offset of the next unread byte.
    pos: u64,
    block: Vec<u8>,
    block_pos: usize,
    block_left: u32,
    block_offset: u64,
    codec: Codec,
    records: u64,
    fingerprint: Fingerprint,
    done: bool,
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.path)
            .field("records_read", &self.records)
            .finish()
    }
}

impl TraceReader {
    /// Opens a trace file and checks its header, footer and end marker.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceReader, TraceError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| TraceError::Io {
            path: path.clone(),
            action: "cannot open",
            source: e,
        })?;
        TraceReader::from_source(path, Box::new(BufReader::with_capacity(256 * 1024, file)))
    }

    /// Reads a trace held in memory; `name` stands for the file in messages (fuzzing, tests).
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<TraceReader, TraceError> {
        TraceReader::from_source(name.into(), Box::new(io::Cursor::new(bytes)))
    }

    fn from_source(path: PathBuf, mut src: Box<dyn Source>) -> Result<TraceReader, TraceError> {
        let io_err = |e| TraceError::Io {
            path: path.clone(),
            action: "read",
            source: e,
        };
        let truncated = |what: &str| TraceError::Truncated {
            path: path.clone(),
            what: what.to_string(),
        };
        let corrupted = |offset: u64, what: String| TraceError::Corrupted {
            path: path.clone(),
            offset,
            what,
        };
        let len = src.seek(SeekFrom::End(0)).map_err(io_err)?;
        src.seek(SeekFrom::Start(0)).map_err(io_err)?;
        if len == 0 {
            return Err(TraceError::Empty { path });
        }
        let mut magic = [0u8; 8];
        let n = (len as usize).min(8);
        src.read_exact(&mut magic[..n]).map_err(io_err)?;
        if magic[..n] != MAGIC[..n] {
            return Err(TraceError::WrongMagic {
                found: escape(&magic[..n]),
                path,
            });
        }
        if len < 10 {
            return Err(truncated("it ends inside the file signature"));
        }
        let mut version = [0u8; 2];
        src.read_exact(&mut version).map_err(io_err)?;
        let version = u16::from_le_bytes(version);
        if version > FORMAT_VERSION {
            return Err(TraceError::FutureVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version == 0 {
            return Err(corrupted(8, "format version 0 does not exist".into()));
        }
        // Header section.
        if len < 22 {
            return Err(truncated("it ends inside the header"));
        }
        let mut head = [0u8; 12];
        src.read_exact(&mut head).map_err(io_err)?;
        let header_len = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
        let header_sum = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
        if header_len > SECTION_MAX {
            return Err(corrupted(
                10,
                format!("header length {header_len} is implausible"),
            ));
        }
        let records_start = 22 + u64::from(header_len);
        if records_start > len {
            return Err(truncated("it ends inside the header"));
        }
        let mut body = vec![0u8; header_len as usize];
        src.read_exact(&mut body).map_err(io_err)?;
        if checksum(&body) != header_sum {
            return Err(corrupted(22, "the header's checksum does not match".into()));
        }
        let wire: WireHeader = postcard::from_bytes(&body)
            .map_err(|e| corrupted(22, format!("the header does not decode ({e})")))?;
        let header = TraceHeader {
            ruckus_version: wire.ruckus_version,
            seed: wire.seed,
            scenario: wire.scenario,
            plan: wire.plan,
            horizon: wire.horizon_ns.map(Duration),
            labels: wire.labels,
        };
        // Trailer and footer.
        if len < records_start + 16 + 13 {
            return Err(truncated("the footer is missing"));
        }
        src.seek(SeekFrom::Start(len - 16)).map_err(io_err)?;
        let mut trailer = [0u8; 16];
        src.read_exact(&mut trailer).map_err(io_err)?;
        if trailer[8..] != END_MAGIC {
            return Err(truncated("the end marker is missing"));
        }
        let footer_offset = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes"));
        if footer_offset < records_start || footer_offset > len - 16 - 13 {
            return Err(corrupted(
                len - 16,
                format!("footer offset {footer_offset} is out of range"),
            ));
        }
        src.seek(SeekFrom::Start(footer_offset)).map_err(io_err)?;
        let mut fhead = [0u8; 13];
        src.read_exact(&mut fhead).map_err(io_err)?;
        let footer_len = u32::from_le_bytes(fhead[1..5].try_into().expect("4 bytes"));
        if fhead[0] != TAG_FOOTER || footer_offset + 13 + u64::from(footer_len) != len - 16 {
            return Err(corrupted(footer_offset, "the footer is malformed".into()));
        }
        let mut fbody = vec![0u8; footer_len as usize];
        src.read_exact(&mut fbody).map_err(io_err)?;
        if checksum(&fbody) != u64::from_le_bytes(fhead[5..13].try_into().expect("8 bytes")) {
            return Err(corrupted(
                footer_offset,
                "the footer's checksum does not match".into(),
            ));
        }
        let footer: TraceFooter = postcard::from_bytes(&fbody)
            .map_err(|e| corrupted(footer_offset, format!("the footer does not decode ({e})")))?;
        src.seek(SeekFrom::Start(records_start)).map_err(io_err)?;
        Ok(TraceReader {
            path,
            src,
            header,
            footer,
            footer_offset,
            pos: records_start,
            block: Vec::new(),
            block_pos: 0,
            block_left: 0,
            block_offset: records_start,
            codec: Codec::new(),
            records: 0,
            fingerprint: Fingerprint::default(),
            done: false,
        })
    }

    /// The file this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's seed, scenario and plan.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The run's counts, fingerprint and verdict.
    pub fn footer(&self) -> &TraceFooter {
        &self.footer
    }

    fn corrupted(&self, offset: u64, what: impl Into<String>) -> TraceError {
        TraceError::Corrupted {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    fn load_block(&mut self) -> Result<(), TraceError> {
        let start = self.pos;
        let mut head = [0u8; 17];
        self.src.read_exact(&mut head).map_err(|e| self.read_error(e))?;
        if head[0] != TAG_BLOCK {
            return Err(self.corrupted(
                start,
                format!("expected a record block, found tag {:#04x}", head[0]),
            ));
        }
        let len = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes"));
        let count = u32::from_le_bytes(head[5..9].try_into().expect("4 bytes"));
        let sum = u64::from_le_bytes(head[9..17].try_into().expect("8 bytes"));
        if len > SECTION_MAX || start + 17 + u64::from(len) > self.footer_offset || count == 0 {
            return Err(self.corrupted(
                start,
                format!("record block header is implausible (length {len}, {count} records)"),
            ));
        }
        self.block.resize(len as usize, 0);
        let mut block = std::mem::take(&mut self.block);
        let read = self.src.read_exact(&mut block);
        self.block = block;
        read.map_err(|e| self.read_error(e))?;
        if checksum(&self.block) != sum {
            return Err(self.corrupted(start, "a record block's checksum does not match"));
        }
        self.pos = start + 17 + u64::from(len);
        self.block_offset = start + 17;
        self.block_pos = 0;
        self.block_left = count;
        Ok(())
    }

    fn read_error(&self, e: io::Error) -> TraceError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            TraceError::Truncated {
                path: self.path.clone(),
                what: "the file shrank while it was read".into(),
            }
        } else {
            TraceError::Io {
                path: self.path.clone(),
                action: "read",
                source: e,
            }
        }
    }

    /// The next record, `Ok(None)` after the last (once the footer has been checked).
    pub fn next_event(&mut self) -> Result<Option<TraceEvent>, TraceError> {
        if self.done {
            return Ok(None);
        }
        if self.block_left == 0 {
            if self.block_pos != self.block.len() {
                let at = self.block_offset + self.block_pos as u64;
                self.done = true;
                return Err(self.corrupted(at, "a record block has bytes after its last record"));
            }
            if self.pos == self.footer_offset {
                self.done = true;
                return self.check_end().map(|()| None);
            }
            if let Err(e) = self.load_block() {
                self.done = true;
                return Err(e);
            }
        }
        let at = self.block_offset + self.block_pos as u64;
        let decoded = (|| {
            let len = get_varint(&self.block, &mut self.block_pos).ok_or("a record length is cut off")?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| self.block_pos.checked_add(l))
                .filter(|&e| e <= self.block.len())
                .ok_or("a record runs past the end of its block")?;
            let body = &self.block[self.block_pos..end];
            self.block_pos = end;
            self.codec.decode(body)
        })();
        match decoded {
            Ok(event) => {
                self.block_left -= 1;
                self.records += 1;
                self.fingerprint.add(&event.record);
                Ok(Some(event))
            }
            Err(what) => {
                self.done = true;
                Err(self.corrupted(at, what))
            }
        }
    }

    fn check_end(&self) -> Result<(), TraceError> {
        if self.records != self.footer.records {
            return Err(self.corrupted(
                self.footer_offset,
                format!(
                    "the footer promises {} records but the file holds {}",
                    self.footer.records, self.records
                ),
            ));
        }
        if self.fingerprint.value() != self.footer.fingerprint {
            return Err(self.corrupted(
                self.footer_offset,
                format!(
                    "the records hash to {:016x} but the footer's fingerprint is {:016x}",
                    self.fingerprint.value(),
                    self.footer.fingerprint
                ),
            ));
        }
        Ok(())
    }

    /// Reads every remaining record into memory (for exports and tests).
    pub fn read_all(&mut self) -> Result<Vec<TraceEvent>, TraceError> {
        let mut out = Vec::with_capacity(self.footer.records.min(1 << 24) as usize);
        while let Some(e) = self.next_event()? {
            out.push(e);
        }
        Ok(out)
    }
}

impl Iterator for TraceReader {
    type Item = Result<TraceEvent, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

fn escape(bytes: &[u8]) -> String {
    let s: String = bytes
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    format!("\"{s}\"")
}

// ---------------------------------------------------------------------------------------------
// Observer plumbing

/// An observer shared with its creator, so its results can be read after the run (the engine
/// owns the boxed observer while it runs). Single-threaded, like the run.
#[derive(Debug)]
pub struct SharedObserver<O>(Rc<RefCell<O>>);

/// Wraps `observer` for `Sim::set_observer` and returns a handle to it for after the run.
pub fn shared<O>(observer: O) -> (SharedObserver<O>, Rc<RefCell<O>>) {
    let cell = Rc::new(RefCell::new(observer));
    (SharedObserver(cell.clone()), cell)
}

impl<O: Observer> Observer for SharedObserver<O> {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        self.0.borrow_mut().on_event(record, detail);
    }
}

/// Several observers in one, called in order (the engine takes a single observer).
pub struct Observers(pub Vec<Box<dyn Observer>>);

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Observers({})", self.0.len())
    }
}

impl Observer for Observers {
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        for o in &mut self.0 {
            o.on_event(record, detail);
        }
    }
}

/// Collects the `Debug` text of every event's payload, aligned with the records, for exports
/// (the compact trace stores only payload digests). Texts longer than `max_len` are cut.
#[derive(Clone, Debug)]
pub struct DetailText {
    /// One entry per record seen, empty when the event has no payload.
    pub texts: Vec<String>,
    /// Longest text kept, in bytes.
    pub max_len: usize,
}

impl DetailText {
    /// A collector keeping at most `max_len` bytes per payload.
    pub fn new(max_len: usize) -> DetailText {
        DetailText {
            texts: Vec::new(),
            max_len,
        }
    }
}

impl Observer for DetailText {
    fn on_event(&mut self, _record: &EventRecord, detail: EventDetail<'_>) {
        let mut text = match detail {
            EventDetail::None => String::new(),
            EventDetail::Message(m) => format!("{m:?}"),
            EventDetail::Timer(t) => format!("{t:?}"),
            EventDetail::Fault(f) => f.to_string(),
            EventDetail::Note(n) => n.to_string(),
        };
        if text.len() > self.max_len {
            let mut cut = self.max_len;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        self.texts.push(text);
    }
}

// ---------------------------------------------------------------------------------------------
// Replay verification

/// Where a re-execution first differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayDivergence {
    /// Position of the first differing record in the file (0-based).
    pub position: u64,
    /// What the recording has there (`None`: the recording ended earlier).
    pub recorded: Option<EventRecord>,
    /// What the re-execution did there (`None`: the re-execution ended earlier).
    pub replayed: Option<EventRecord>,
    /// Up to `context` records both agreed on just before.
    pub before: Vec<EventRecord>,
    /// A short explanation.
    pub reason: String,
}

impl fmt::Display for ReplayDivergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replay diverges at record #{}: {}", self.position, self.reason)?;
        for r in &self.before {
            writeln!(f, "    both:     {r:?}")?;
        }
        match &self.recorded {
            Some(r) => writeln!(f, "    recorded: {r:?}")?,
            None => writeln!(f, "    recorded: (the recording ends here)")?,
        }
        match &self.replayed {
            Some(r) => write!(f, "    replayed: {r:?}"),
            None => write!(f, "    replayed: (the re-execution ends here)"),
        }
    }
}

/// The observer behind [`Replay`]: compares each event with the next recorded one.
struct ReplayChecker {
    reader: TraceReader,
    context: usize,
    recent: std::collections::VecDeque<EventRecord>,
    position: u64,
    divergence: Option<ReplayDivergence>,
    error: Option<TraceError>,
}

impl ReplayChecker {
    fn check(&mut self, replayed: &EventRecord) {
        if self.divergence.is_some() || self.error.is_some() {
            return;
        }
        match self.reader.next_event() {
            Err(e) => self.error = Some(e),
            Ok(recorded) => {
                let recorded = recorded.map(|e| e.record);
                if recorded.as_ref() == Some(replayed) {
                    if self.recent.len() == self.context {
                        self.recent.pop_front();
                    }
                    if self.context > 0 {
                        self.recent.push_back(*replayed);
                    }
                    self.position += 1;
                } else {
                    let reason = match &recorded {
                        None => "the re-execution goes on after the recording ended".to_string(),
                        Some(r) => describe_difference(r, replayed),
                    };
                    self.divergence = Some(ReplayDivergence {
                        position: self.position,
                        recorded,
                        replayed: Some(*replayed),
                        before: self.recent.iter().copied().collect(),
                        reason,
                    });
                }
            }
        }
    }
}

fn describe_difference(a: &EventRecord, b: &EventRecord) -> String {
    let mut fields = Vec::new();
    if a.index != b.index {
        fields.push("index");
    }
    if a.time != b.time {
        fields.push("time");
    }
    if a.kind != b.kind {
        fields.push("kind");
    }
    if a.process != b.process {
        fields.push("process");
    }
    if a.host != b.host {
        fields.push("host");
    }
    if a.peer != b.peer {
        fields.push("peer");
    }
    if a.aux != b.aux {
        fields.push("aux");
    }
    if a.digest != b.digest {
        fields.push("payload digest");
    }
    format!(
        "{} differ (has the model or the engine changed since the recording?)",
        fields.join(", ")
    )
}

impl Observer for ReplayChecker {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.check(record);
    }
}

/// How a verified replay ended.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayOutcome {
    /// Every event matched the recording, and the fingerprint and verdict agree.
    Matches {
        /// Events the run processed.
        events: u64,
        /// Records compared.
        records: u64,
        /// The common fingerprint.
        fingerprint: u64,
        /// The re-execution's report.
        report: RunReport,
    },
    /// The re-execution differs; it was stopped at the first difference.
    Diverged(Box<ReplayDivergence>),
}

impl fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayOutcome::Matches {
                events, fingerprint, ..
            } => write!(f, "matches, {events} events (fingerprint {fingerprint:016x})"),
            ReplayOutcome::Diverged(d) => write!(f, "{d}"),
        }
    }
}

/// Where a stepped replay stands.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayStatus {
    /// Paused after `events` events, all matching so far; inspect the `Sim`, then continue.
    Paused {
        /// Events processed.
        events: u64,
    },
    /// The replay is over.
    Done(ReplayOutcome),
}

/// Re-executes a recorded run and checks every event against the recording.
///
/// Build the `Sim` from the header (same scenario, seed and plan), attach, then run to the end
/// or step with [`run_until`](Replay::run_until) to inspect process state at an event.
pub struct Replay {
    checker: Rc<RefCell<ReplayChecker>>,
    footer: TraceFooter,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay").field("footer", &self.footer).finish()
    }
}

/// Events run between divergence checks; a divergence stops the run within this many events.
const REPLAY_STEP: u64 = 4096;

impl Replay {
    /// Attaches the checker (and `also`, e.g. a [`DetailText`], if given) as the sim's observer.
    /// `context` is how many agreeing records to show before a divergence.
    pub fn attach(
        sim: &mut dyn Simulation,
        reader: TraceReader,
        context: usize,
        also: Option<Box<dyn Observer>>,
    ) -> Replay {
        let footer = reader.footer().clone();
        let (observer, checker) = shared(ReplayChecker {
            reader,
            context,
            recent: std::collections::VecDeque::with_capacity(context),
            position: 0,
            divergence: None,
            error: None,
        });
        match also {
            None => sim.set_observer(Box::new(observer)),
            Some(extra) => sim.set_observer(Box::new(Observers(vec![Box::new(observer), extra]))),
        }
        Replay { checker, footer }
    }

    /// Runs until `events` events have been processed (then pauses), a divergence, or the end.
    pub fn run_until(&self, sim: &mut dyn Simulation, events: u64) -> Result<ReplayStatus, TraceError> {
        loop {
            let target = events.min(sim.events().saturating_add(REPLAY_STEP));
            let progress = sim.run_until_event(target);
            let mut checker = self.checker.borrow_mut();
            if let Some(e) = checker.error.take() {
                return Err(e);
            }
            if let Some(d) = checker.divergence.take() {
                return Ok(ReplayStatus::Done(ReplayOutcome::Diverged(Box::new(d))));
            }
            match progress {
                Progress::Paused if target >= events => {
                    return Ok(ReplayStatus::Paused { events: sim.events() });
                }
                Progress::Paused => {}
                Progress::Finished(report) => {
                    return self.finish(&mut checker, report).map(ReplayStatus::Done);
                }
            }
        }
    }

    /// Runs to the end and reports "matches" or the first divergence.
    pub fn run_to_end(&self, sim: &mut dyn Simulation) -> Result<ReplayOutcome, TraceError> {
        match self.run_until(sim, u64::MAX)? {
            ReplayStatus::Done(outcome) => Ok(outcome),
            ReplayStatus::Paused { .. } => unreachable!("run_until(MAX) only pauses at the end"),
        }
    }

    fn finish(&self, checker: &mut ReplayChecker, report: RunReport) -> Result<ReplayOutcome, TraceError> {
        let diverged = |checker: &mut ReplayChecker, recorded: Option<EventRecord>, reason: String| {
            ReplayOutcome::Diverged(Box::new(ReplayDivergence {
                position: checker.position,
                recorded,
                replayed: None,
                before: checker.recent.iter().copied().collect(),
                reason,
            }))
        };
        // The re-execution is over: the recording must be too.
        if let Some(rest) = checker.reader.next_event()? {
            return Ok(diverged(
                checker,
                Some(rest.record),
                "the re-execution ended but the recording goes on".into(),
            ));
        }
        if report.fingerprint != self.footer.fingerprint || report.events != self.footer.events {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every record matched but the run ended differently ({} events, fingerprint {:016x}; recorded {} events, {:016x})",
                    report.events, report.fingerprint, self.footer.events, self.footer.fingerprint
                ),
            ));
        }
        if report.verdict != self.footer.verdict || report.failure != self.footer.failure {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every event matched but the verdict differs: now {}, recorded {} (have the properties changed?)",
                    report.verdict.name(),
                    self.footer.verdict.name()
                ),
            ));
        }
        Ok(ReplayOutcome::Matches {
            events: report.events,
            records: checker.position,
            fingerprint: report.fingerprint,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(e, TraceError::FutureVersion { found: 2, .. }), "{e}");
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
}
