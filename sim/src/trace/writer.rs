//! Writing a trace: the `TraceWriter` observer and `record_run`, and [`OutputDir`], which
//! moves a finished file into place without replacing anything but a regular file.

use super::*;
use crate::operation::nearest_spans;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;

/// A directory held open: files are created in it and moved into place relative to it, so a
/// path that passed the output checks and is then swapped (for a symbolic link, a device node,
/// a directory, or a parent directory swapped for a link elsewhere) is neither written through
/// nor replaced.
///
/// [`place`](OutputDir::place) swaps the new file in atomically (`renameat2` with
/// `RENAME_NOREPLACE`, else `RENAME_EXCHANGE`), looks at what it displaced, and if that is not a
/// regular file swaps it back and refuses. On a filesystem without those flags a new name is
/// placed with `linkat` (which never replaces anything); replacing an existing regular file
/// there is a check then a rename, with a window of a few system calls between the two.
#[derive(Debug)]
pub struct OutputDir {
    dir: OwnedFd,
    path: PathBuf,
}

/// What a directory entry is, in words, when it is not a regular file.
fn not_regular(file_type: FileType) -> Option<&'static str> {
    match file_type {
        FileType::RegularFile => None,
        FileType::Symlink => Some("a symbolic link"),
        FileType::Directory => Some("a directory"),
        FileType::CharacterDevice | FileType::BlockDevice => Some("a device"),
        FileType::Fifo => Some("a FIFO"),
        FileType::Socket => Some("a socket"),
        FileType::Unknown => Some("not a regular file"),
    }
}

impl OutputDir {
    /// Opens the directory `path` lands in (`.` for a bare name) and returns it with the
    /// file's name in it.
    pub fn open_parent_of(path: &Path) -> io::Result<(OutputDir, OsString)> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let dir_path = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = rustix::fs::open(
            &dir_path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok((OutputDir { dir, path: dir_path }, name.to_os_string()))
    }

    /// The directory's path as opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `name` in the directory for writing: a new file, never through a link (a stale
    /// regular file or link of that name is removed first).
    pub fn create(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o666);
        let fd = match rustix::fs::openat(&self.dir, name, flags, mode) {
            Err(Errno::EXIST) => {
                let stale = rustix::fs::statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                if let Some(what) = not_regular(FileType::from_raw_mode(stale.st_mode))
                    && what != "a symbolic link"
                {
                    return Err(io::Error::other(format!(
                        "{} is in the way: it is {what}",
                        Path::new(name).display()
                    )));
                }
                rustix::fs::unlinkat(&self.dir, name, AtFlags::empty())?;
                rustix::fs::openat(&self.dir, name, flags, mode)?
            }
            other => other?,
        };
        Ok(File::from(fd))
    }

    /// Opens `name` in the directory for reading and appending, creating it if missing: never
    /// through a symbolic link, never a FIFO (opened without waiting for a reader) or a device.
    /// What is read and written is what was checked, with no window for a swap in between.
    pub fn open_append(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlags::RDWR
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.dir, name, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Err(open_refusal("a symbolic link")),
            Err(Errno::NXIO) => return Err(open_refusal("a FIFO")),
            Err(Errno::ISDIR) => return Err(open_refusal("a directory")),
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&fd)?;
        if let Some(what) = not_regular(FileType::from_raw_mode(st.st_mode)) {
            return Err(open_refusal(what));
        }
        // Back to blocking I/O: it only mattered for opening a FIFO.
        rustix::fs::fcntl_setfl(&fd, OFlags::APPEND)?;
        Ok(File::from(fd))
    }

    /// Removes `name` from the directory (a link itself, never what it points to).
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.dir, name, AtFlags::empty())?)
    }

    /// Moves `temp` to `name`, replacing only a regular file. Anything else at `name` is left
    /// as it was (and `temp` stays) with an error saying what it is.
    pub fn place(&self, temp: &OsStr, name: &OsStr) -> io::Result<()> {
        let (dir, at) = (&self.dir, AtFlags::SYMLINK_NOFOLLOW);
        // Bounded: each turn needs the destination to appear or vanish between two calls.
        for _ in 0..100 {
            match rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(Errno::EXIST) => {}
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    return self.place_by_check(temp, name);
                }
                Err(e) => return Err(e.into()),
            }
            match rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::EXCHANGE) {
                Ok(()) => {}
                Err(Errno::NOENT) => continue,
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    return self.place_by_check(temp, name);
                }
                Err(e) => return Err(e.into()),
            }
            // `temp` now names what was at `name`.
            let displaced = rustix::fs::statat(dir, temp, at)?;
            return match not_regular(FileType::from_raw_mode(displaced.st_mode)) {
                None => Ok(rustix::fs::unlinkat(dir, temp, AtFlags::empty())?),
                Some(what) => {
                    rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::EXCHANGE)?;
                    Err(refusal(what))
                }
            };
        }
        Err(io::Error::other("the destination kept appearing and vanishing"))
    }

    /// [`place`](Self::place) where the filesystem has no atomic exchange. A free name gets a
    /// hard link, which fails rather than replace whatever appeared there meanwhile; an existing
    /// regular file is checked, then renamed over.
    fn place_by_check(&self, temp: &OsStr, name: &OsStr) -> io::Result<()> {
        let dir = &self.dir;
        // Bounded like `place`: each turn needs the destination to vanish between two calls.
        for _ in 0..100 {
            match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => {
                    if let Some(what) = not_regular(FileType::from_raw_mode(st.st_mode)) {
                        return Err(refusal(what));
                    }
                    return Ok(rustix::fs::renameat(dir, temp, dir, name)?);
                }
                Err(Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
            match rustix::fs::linkat(dir, temp, dir, name, AtFlags::empty()) {
                Ok(()) => return Ok(rustix::fs::unlinkat(dir, temp, AtFlags::empty())?),
                // Something took the name since the check: look at it again.
                Err(Errno::EXIST) => continue,
                // No hard links here either (some FUSE and network filesystems).
                Err(Errno::PERM | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    return Ok(rustix::fs::renameat(dir, temp, dir, name)?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::other("the destination kept appearing and vanishing"))
    }
}

fn open_refusal(what: &str) -> io::Error {
    io::Error::other(format!(
        "refusing to open it: it is {what} (it became one after the output checks), and ruckus only writes regular files"
    ))
}

fn refusal(what: &str) -> io::Error {
    io::Error::other(format!(
        "refusing to replace it: it is {what} (it became one after the output checks), and ruckus only replaces regular files"
    ))
}

/// Streams every event of a run into a trace file; an [`Observer`] for any process type.
///
/// Attach it through [`shared`] so you can call [`finish`](TraceWriter::finish) after the run.
/// Nothing reaches the final path until `finish` succeeds; dropping an unfinished writer removes
/// its temporary file.
pub struct TraceWriter {
    path: PathBuf,
    dir: OutputDir,
    name: OsString,
    temp: OsString,
    out: Option<BufWriter<File>>,
    block: Vec<u8>,
    block_records: u32,
    scratch: Vec<u8>,
    codec: Codec,
    records: u64,
    fingerprint: Fingerprint,
    bytes: u64,
    error: Option<io::Error>,
    operations: Vec<OperationSpan>,
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
    /// The directory is opened now and everything after happens relative to it (see
    /// [`OutputDir`]).
    pub fn create(path: impl AsRef<Path>, header: &TraceHeader) -> Result<TraceWriter, TraceError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |action, source| TraceError::Io {
            path: path.clone(),
            action,
            source,
        };
        let (dir, name) = OutputDir::open_parent_of(&path).map_err(|e| io_err("opening the directory", e))?;
        let mut temp = name.clone();
        temp.push(format!(".{}.partial", std::process::id()));
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
        let file = dir
            .create(&temp)
            .map_err(|e| io_err("cannot create the temporary file", e))?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut head = Vec::with_capacity(body.len() + 22);
        head.extend_from_slice(&MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(body.len() as u32).to_le_bytes());
        head.extend_from_slice(&checksum(&body).to_le_bytes());
        head.extend_from_slice(&body);
        if let Err(e) = out.write_all(&head) {
            let _ = dir.remove(&temp);
            return Err(io_err("write", e));
        }
        Ok(TraceWriter {
            bytes: head.len() as u64,
            path,
            dir,
            name,
            temp,
            out: Some(out),
            block: Vec::with_capacity(BLOCK_TARGET + 256),
            block_records: 0,
            scratch: Vec::with_capacity(128),
            codec: Codec::new(),
            records: 0,
            fingerprint: Fingerprint::default(),
            error: None,
            operations: Vec::new(),
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

    /// Sets the operations the footer keeps (the history's, [`Simulation::operations`]); at
    /// most [`OPERATIONS_MAX`] are written, those invoked nearest the failure.
    pub fn set_operations(&mut self, operations: Vec<OperationSpan>) {
        self.operations = operations;
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
            operations_total: self.operations.len() as u64,
            operations: {
                let around = report
                    .and_then(|r| r.failure.as_ref())
                    .map_or(Instant(0), |f| f.operation.as_ref().map_or(f.time, |o| o.invoked));
                let (mut kept, _) =
                    nearest_spans(std::mem::take(&mut self.operations), around, OPERATIONS_MAX);
                for s in &mut kept {
                    shorten(&mut s.description);
                }
                kept
            },
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
            let _ = self.dir.remove(&self.temp);
            return Err(TraceError::Io {
                path: self.path.clone(),
                action: "write",
                source: e,
            });
        }
        if let Err(e) = self.dir.place(&self.temp, &self.name) {
            let _ = self.dir.remove(&self.temp);
            return Err(TraceError::Io {
                path: self.path.clone(),
                action: "moving the finished trace into place",
                source: e,
            });
        }
        Ok(TraceSummary {
            path: self.path.clone(),
            bytes: self.bytes,
            records: self.records,
            events: footer.events,
            fingerprint: footer.fingerprint,
        })
    }
}

/// Cuts an operation's description to at most 200 characters, so one model's long `Debug`
/// text cannot bloat the footer.
fn shorten(text: &mut String) {
    const MAX: usize = 200;
    if let Some((cut, _)) = text.char_indices().nth(MAX) {
        text.truncate(cut);
        text.push('\u{2026}');
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = self.dir.remove(&self.temp);
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
    writer.set_operations(sim.operations());
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

#[cfg(test)]
mod place_tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ruckus-writer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn writer(path: &Path) -> TraceWriter {
        TraceWriter::create(path, &TraceHeader::new(1, "test", FaultPlan::none())).unwrap()
    }

    /// The trace's path turns into a link to another file while the run is recorded: the link
    /// and its target stay as they were, the trace is refused, no temporary file is left.
    #[test]
    fn a_trace_path_swapped_for_a_link_is_not_replaced() {
        let d = dir("link");
        let (path, victim) = (d.join("run.trace"), d.join("victim"));
        std::fs::write(&victim, "precious").unwrap();
        let mut w = writer(&path);
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = w.finish(None).unwrap_err().to_string();
        assert!(e.contains("it is a symbolic link"), "{e}");
        assert_eq!(std::fs::read_link(&path).unwrap(), victim);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2, "no partial file left");
        // A regular file that appeared meanwhile is replaced.
        std::fs::remove_file(&path).unwrap();
        let mut w = writer(&path);
        std::fs::write(&path, "old").unwrap();
        w.finish(None).unwrap();
        assert!(TraceReader::open(&path).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The directory is swapped for a link elsewhere after the writer opened it: the trace
    /// lands in the directory that was checked, nothing in the link's target.
    #[test]
    fn a_directory_swapped_for_a_link_does_not_redirect_the_trace() {
        let d = dir("parent");
        let (sub, moved, elsewhere) = (d.join("sub"), d.join("moved"), d.join("elsewhere"));
        std::fs::create_dir(&sub).unwrap();
        std::fs::create_dir(&elsewhere).unwrap();
        let mut w = writer(&sub.join("run.trace"));
        std::fs::rename(&sub, &moved).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &sub).unwrap();
        w.finish(None).unwrap();
        assert!(TraceReader::open(moved.join("run.trace")).is_ok());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn place_leaves_a_fifo_or_directory_alone() {
        let d = dir("kinds");
        let (out, _) = OutputDir::open_parent_of(&d.join("x")).unwrap();
        std::fs::create_dir(d.join("x")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(d.join("y"))
            .status()
            .unwrap();
        assert!(status.success());
        for (name, what) in [("x", "a directory"), ("y", "a FIFO")] {
            out.create(OsStr::new("t")).unwrap();
            let e = out.place(OsStr::new("t"), OsStr::new(name)).unwrap_err();
            assert!(e.to_string().contains(&format!("it is {what}")), "{e}");
            assert!(
                d.join("t").is_file(),
                "the new file is still at its temporary name"
            );
            out.remove(OsStr::new("t")).unwrap();
        }
        assert!(d.join("x").is_dir());
        assert!(!std::fs::symlink_metadata(d.join("y")).unwrap().is_file());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The fallback for filesystems without renameat2's flags places a new name, replaces a
    /// regular file, and refuses anything else, leaving the new file at its temporary name.
    #[test]
    fn placing_without_atomic_exchange_replaces_only_a_regular_file() {
        let d = dir("fallback");
        let (out, _) = OutputDir::open_parent_of(&d.join("x")).unwrap();
        let write_temp = |text: &str| {
            let mut f = out.create(OsStr::new("t")).unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };
        write_temp("first");
        out.place_by_check(OsStr::new("t"), OsStr::new("new")).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("new")).unwrap(), "first");
        assert!(!d.join("t").exists(), "the temporary name is gone");
        write_temp("second");
        out.place_by_check(OsStr::new("t"), OsStr::new("new")).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("new")).unwrap(), "second");
        std::fs::write(d.join("victim"), "precious").unwrap();
        std::os::unix::fs::symlink(d.join("victim"), d.join("link")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        write_temp("third");
        for (name, what) in [("link", "a symbolic link"), ("dir", "a directory")] {
            let e = out.place_by_check(OsStr::new("t"), OsStr::new(name)).unwrap_err();
            assert!(e.to_string().contains(&format!("it is {what}")), "{e}");
            assert!(d.join("t").is_file());
        }
        assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "precious");
        assert!(d.join("dir").is_dir());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Appending opens only a regular file (created if missing), never through a link, and
    /// never blocks on a FIFO.
    #[test]
    fn open_append_refuses_links_fifos_and_directories() {
        let d = dir("append");
        let (out, _) = OutputDir::open_parent_of(&d.join("x")).unwrap();
        let mut f = out.open_append(OsStr::new("results.jsonl")).unwrap();
        f.write_all(b"one\n").unwrap();
        let mut f = out.open_append(OsStr::new("results.jsonl")).unwrap();
        f.write_all(b"two\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("results.jsonl")).unwrap(),
            "one\ntwo\n"
        );
        std::fs::write(d.join("victim"), "precious").unwrap();
        std::os::unix::fs::symlink(d.join("victim"), d.join("link")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        for (name, what) in [
            ("link", "a symbolic link"),
            ("dir", "a directory"),
            ("fifo", "a FIFO"),
        ] {
            let e = out.open_append(OsStr::new(name)).unwrap_err();
            assert!(e.to_string().contains(&format!("it is {what}")), "{name}: {e}");
        }
        assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "precious");
        let _ = std::fs::remove_dir_all(&d);
    }
}
