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
//! # File layout (format version 2)
//!
//! ```text
//! magic    8 bytes  "RUCKTRC\x01"
//! version  u16 LE   FORMAT_VERSION
//! header   u32 LE length, u64 LE checksum, postcard(WireHeader)   -- seed, scenario text, plan, labels
//! blocks   repeated: 0x01, u32 LE payload length, u32 LE record count, u64 LE checksum, payload
//! footer   0x02, u32 LE length, u64 LE checksum, postcard(TraceFooter)  -- counts, fingerprint, verdict, operations
//! trailer  u64 LE offset of the footer, "RUCKEND\n"
//! ```
//!
//! A block's payload is a run of length-delimited records: a varint length (LEB128, the varint
//! postcard uses) then the record body. The body starts with a tag byte — bits 0-3 the
//! [`RecordKind`], bit 4 "index delta follows" (otherwise the index is the previous one plus 1),
//! bit 5 "host follows" (otherwise the host the process was last seen on), bit 6 "digest
//! follows" (otherwise 0), bit 7 "aux follows" (otherwise 0) — then varints: \[index delta\],
//! time delta from the previous record, process+1, \[host+1\], peer+1, \[aux\], then \[digest as 8
//! LE bytes\], and for notes a varint length and the UTF-8 text. A delivery stores its latency
//! (time − send time) instead of the send time, and a sync completion its disk time (time − issue
//! time) instead of the issue time. All arithmetic wraps, so any record round-trips.
//! On pingpong this is about 19 bytes per event.
//!
//! The checksums are the engine's fixed word hash over the bytes; the footer also carries the
//! run's fingerprint, which the reader recomputes from the records. The file is written under a
//! temporary name and renamed into place when complete, so a half-written trace never carries
//! the final name.

mod format;
mod observers;
mod reader;
mod replay;
#[cfg(test)]
mod tests;
mod writer;

pub use observers::{DetailText, Observers, SharedObserver, shared};
pub use reader::TraceReader;
pub use replay::{Replay, ReplayOutcome, ReplayStatus};
pub use writer::{OutputDir, TraceWriter, record_run};

use format::{Codec, checksum, get_varint};

use crate::fault::FaultPlan;
use crate::model::Simulation;
use crate::operation::OperationSpan;
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
/// The format this build writes and the newest it reads. Version 2 added the
/// [`RecordKind::SyncDone`] record (kind 9) and changed nothing else, so version 1 files read
/// as before, and a version 1 reader refuses a newer file by its version instead of calling a
/// record it does not know corrupted.
pub const FORMAT_VERSION: u16 = 2;

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
    /// The history's operations as the model pairs them ([`Process::operations`]), at most
    /// [`OPERATIONS_MAX`]: those invoked nearest the failure (or the first) when there were
    /// more. Empty for traces written before the footer had them.
    ///
    /// [`Process::operations`]: crate::Process::operations
    pub operations: Vec<OperationSpan>,
    /// How many operations the history had (more than `operations.len()` when capped).
    pub operations_total: u64,
}

/// The most operations a trace's footer keeps (about 100 bytes each).
pub const OPERATIONS_MAX: usize = 5_000;

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
