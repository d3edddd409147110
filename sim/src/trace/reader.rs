//! Reading a trace: header, footer, checksummed blocks, and every record in order.

use super::*;

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
        let footer = decode_footer(&fbody)
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

/// The footer, also in the two layouts written before it had operations: without the blamed
/// operation's conflicts and the operation list (the same fields otherwise), and before
/// failures named a blamed operation at all. Postcard has no field names and each addition
/// came at the very end, so an older footer is one that ends early for the newer layout.
fn decode_footer(body: &[u8]) -> Result<TraceFooter, postcard::Error> {
    use crate::{FailedOperation, Failure, HostId, Instant, ProcessId, Verdict};
    #[derive(serde::Deserialize)]
    struct OldOperation {
        process: ProcessId,
        description: String,
        invoked: Instant,
        completed: Option<Instant>,
    }
    #[derive(serde::Deserialize)]
    struct OldFailure<Op> {
        verdict: Verdict,
        property: Option<String>,
        message: String,
        time: Instant,
        host: Option<HostId>,
        process: Option<ProcessId>,
        event_index: u64,
        operation: Op,
    }
    #[derive(serde::Deserialize)]
    struct OldFooter<Op> {
        records: u64,
        events: u64,
        fingerprint: u64,
        end_time: Instant,
        verdict: Verdict,
        failure: Option<OldFailure<Op>>,
    }
    /// The footer before failures named an operation: nothing follows `event_index`.
    #[derive(serde::Deserialize)]
    struct Nothing;
    fn upgrade<Op>(
        old: OldFooter<Op>,
        operation: impl Fn(Op) -> Option<Box<FailedOperation>>,
    ) -> TraceFooter {
        TraceFooter {
            records: old.records,
            events: old.events,
            fingerprint: old.fingerprint,
            end_time: old.end_time,
            verdict: old.verdict,
            failure: old.failure.map(|f| Failure {
                verdict: f.verdict,
                property: f.property,
                message: f.message,
                time: f.time,
                host: f.host,
                process: f.process,
                event_index: f.event_index,
                operation: operation(f.operation),
            }),
            operations: Vec::new(),
            operations_total: 0,
        }
    }
    postcard::from_bytes::<TraceFooter>(body).or_else(|new| {
        if let Ok(old) = postcard::from_bytes::<OldFooter<Option<Box<OldOperation>>>>(body) {
            return Ok(upgrade(old, |op| {
                op.map(|o| {
                    Box::new(FailedOperation {
                        process: o.process,
                        description: o.description,
                        invoked: o.invoked,
                        completed: o.completed,
                        conflicts: Vec::new(),
                    })
                })
            }));
        }
        let oldest: OldFooter<Nothing> = postcard::from_bytes(body).map_err(|_| new)?;
        Ok(upgrade(oldest, |Nothing| None))
    })
}

#[cfg(test)]
mod footer_tests {
    use super::*;
    use crate::{FailedOperation, Failure, HostId, OperationOutcome, OperationSpan, ProcessId, Verdict};

    fn footer(operation: Option<Box<FailedOperation>>, operations: Vec<OperationSpan>) -> TraceFooter {
        TraceFooter {
            records: 9,
            events: 8,
            fingerprint: 7,
            end_time: Instant(6),
            verdict: Verdict::SafetyViolation,
            failure: Some(Failure {
                verdict: Verdict::SafetyViolation,
                property: Some("linearizable".into()),
                message: "no".into(),
                time: Instant(5),
                host: Some(HostId(1)),
                process: Some(ProcessId(2)),
                event_index: 4,
                operation,
            }),
            operations_total: operations.len() as u64,
            operations,
        }
    }

    fn span(process: u32, description: &str, invoked: u64, completed: Option<u64>) -> OperationSpan {
        OperationSpan {
            process: ProcessId(process),
            description: description.into(),
            invoked: Instant(invoked),
            completed: completed.map(Instant),
            outcome: if completed.is_some() {
                OperationOutcome::Ok
            } else {
                OperationOutcome::Unknown
            },
        }
    }

    fn blamed(conflicts: Vec<OperationSpan>) -> Box<FailedOperation> {
        Box::new(FailedOperation {
            process: ProcessId(2),
            description: "get(k0) -> 1".into(),
            invoked: Instant(3),
            completed: Some(Instant(5)),
            conflicts,
        })
    }

    /// The bytes of `footer` without its last `cut` bytes (the fields an older layout lacked).
    fn without_tail(footer: &TraceFooter, cut: usize) -> Vec<u8> {
        let mut bytes = postcard::to_allocvec(footer).unwrap();
        bytes.truncate(bytes.len() - cut);
        bytes
    }

    #[test]
    fn footers_of_every_layout_decode() {
        // Today's: conflicts and operations.
        let new = footer(
            Some(blamed(vec![span(3, "put(k0, 2)", 1, None)])),
            vec![
                span(2, "get(k0) -> 1", 3, Some(5)),
                span(3, "put(k0, 2)", 1, None),
            ],
        );
        assert_eq!(decode_footer(&postcard::to_allocvec(&new).unwrap()).unwrap(), new);

        // Before operations: no conflicts (an empty list is one 0 byte) and no operation list
        // (an empty list and a zero total, two 0 bytes), all at the end.
        let v1 = footer(Some(blamed(Vec::new())), Vec::new());
        let bytes = without_tail(&v1, 3);
        assert_eq!(postcard::to_allocvec(&v1).unwrap()[bytes.len()..], [0, 0, 0]);
        assert_eq!(decode_footer(&bytes).unwrap(), v1);
        // ... and without a blamed operation: its `None`, then the two list fields cut.
        let v1_unblamed = footer(None, Vec::new());
        assert_eq!(
            decode_footer(&without_tail(&v1_unblamed, 2)).unwrap(),
            v1_unblamed
        );

        // Before failures named an operation: the `None` tag cut as well.
        let v0 = without_tail(&v1_unblamed, 3);
        assert_eq!(decode_footer(&v0).unwrap(), v1_unblamed);
        assert!(
            decode_footer(&v0[..v0.len() - 1]).is_err(),
            "a cut footer still fails"
        );
    }
}
