//! Writing a trace: the `TraceWriter` observer and `record_run`.

use super::*;

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
