//! Files ruckus writes and reads: nothing but regular files, and no directories made behind
//! the user's back.
//!
//! Every output (`run --trace`, `shrink -o`, sweep traces and `--out`, exports, reports) goes
//! through [`check_target`] first: a symbolic link, a directory, a device node, a FIFO or a
//! socket at the path is refused rather than replaced, and a missing parent directory is an
//! error rather than created. Whole files ([`write_file`]) and traces are then written under a
//! temporary name in the directory opened at the start and moved into place relative to it
//! ([`OutputDir`]), so a path swapped for something else after the check is left alone too; a
//! sweep's `--out` is opened once, without following links ([`open_for_append`]). The only
//! directories ruckus creates are the ones a command
//! names as its output directory ([`ensure_dir`]). Inputs go through [`check_input`] (a
//! regular file) and [`read_bounded`] (at most a given number of bytes), so `/dev/zero` or a
//! FIFO is bad input, not a hang. Every failure is a one-line message: exit code 2.

use ruckus_sim::trace::OutputDir;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What sits at a path, in words, when it is not a regular file.
fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        None
    } else if file_type.is_symlink() {
        Some("a symbolic link")
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_char_device() || file_type.is_block_device() {
        Some("a device")
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// The directory a file at `path` lands in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that ruckus may write a file at `path`: nothing is there or a regular file is (it
/// will be replaced), and the directory it goes in exists.
pub fn check_target(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if let Some(what) = not_regular(meta.file_type()) {
                return Err(format!(
                    "{}: refusing to write there: it is {what}, and ruckus only replaces regular files",
                    path.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let dir = parent_of(path);
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "{}: cannot write there: {} is not a directory",
            path.display(),
            dir.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{}: the directory {} does not exist (ruckus creates no directories you did not name as an output directory)",
            path.display(),
            dir.display()
        )),
        Err(e) => Err(format!("{}: {}: {e}", path.display(), dir.display())),
    }
}

/// Makes sure `dir` is a directory ruckus can write files in. A missing `dir` is created
/// (with its parents only when `create_parents`: the built-in default `ruckus-out/...`
/// directories; a directory the user named gets no new parents). A probe file is created and
/// removed, so an unwritable directory is an error now rather than a missing trace later.
pub fn ensure_dir(dir: &Path, create_parents: bool) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let made = if create_parents {
                std::fs::create_dir_all(dir)
            } else {
                std::fs::create_dir(dir)
            };
            made.map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{}: cannot create the directory: its parent {} does not exist",
                        dir.display(),
                        parent_of(dir).display()
                    )
                } else {
                    format!("{}: cannot create the directory: {e}", dir.display())
                }
            })?;
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let probe = dir.join(format!(".ruckus-write-probe.{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("{}: cannot write files in this directory: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes a whole file at `path` (checked with [`check_target`]) through `fill`, under a
/// temporary name in the directory opened now, then moved into place replacing only a regular
/// file ([`OutputDir::place`]). A failed write (a full disk) is an error naming the file, and no
/// half-written file is left.
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    check_target(path)?;
    let (dir, name) = OutputDir::open_parent_of(path)
        .map_err(|e| format!("{}: cannot open its directory: {e}", path.display()))?;
    let mut temp = name.clone();
    temp.push(format!(".{}.partial", std::process::id()));
    let file = dir
        .create(&temp)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let written = fill(&mut out)
        .and_then(|()| out.flush())
        .and_then(|()| out.get_ref().sync_all());
    drop(out);
    let placed = written
        .map_err(|e| format!("{}: write failed: {e}", path.display()))
        .and_then(|()| {
            dir.place(&temp, &name)
                .map_err(|e| format!("{}: {e}", path.display()))
        });
    if placed.is_err() {
        let _ = dir.remove(&temp);
    }
    placed
}

/// Opens the file at `path` (checked with [`check_target`]) for reading and appending, creating
/// it if missing, relative to its directory opened now and never through a link
/// ([`OutputDir::open_append`]): a sweep's `--out` is read, cut and appended to through this one
/// handle, so what it appends to is what it checked.
pub fn open_for_append(path: &Path) -> Result<std::fs::File, String> {
    check_target(path)?;
    let (dir, name) = OutputDir::open_parent_of(path)
        .map_err(|e| format!("{}: cannot open its directory: {e}", path.display()))?;
    dir.open_append(&name)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks that `path` is a regular file to read (a symbolic link to one is fine).
pub fn check_input(path: &Path) -> Result<std::fs::Metadata, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    match not_regular(meta.file_type()) {
        None => Ok(meta),
        Some(what) => Err(format!(
            "{}: cannot read it: it is {what}, not a regular file",
            path.display()
        )),
    }
}

/// Reads the regular file at `path` as text, refusing files over `max_bytes` before reading
/// them (and stopping at the bound if the file grows meanwhile).
pub fn read_bounded(path: &Path, max_bytes: u64, what: &str) -> Result<String, String> {
    let meta = check_input(path)?;
    let too_big = || {
        format!(
            "{}: the {what} is over the bound of {max_bytes} bytes",
            path.display()
        )
    };
    if meta.len() > max_bytes {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ruckus-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_regular_files_in_existing_directories_are_targets() {
        let d = dir("targets");
        assert!(check_target(&d.join("new.trace")).is_ok());
        std::fs::write(d.join("old.trace"), "x").unwrap();
        assert!(check_target(&d.join("old.trace")).is_ok());
        let e = check_target(&d).unwrap_err();
        assert!(e.contains("a directory"), "{e}");
        std::os::unix::fs::symlink(d.join("old.trace"), d.join("link")).unwrap();
        let e = check_target(&d.join("link")).unwrap_err();
        assert!(e.contains("a symbolic link"), "{e}");
        let e = check_target(&d.join("missing/x.trace")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(!d.join("missing").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn named_directories_get_no_new_parents() {
        let d = dir("dirs");
        let deep = d.join("a/b");
        let e = ensure_dir(&deep, false).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(!d.join("a").exists());
        ensure_dir(&deep, true).unwrap();
        assert!(deep.is_dir());
        ensure_dir(&d.join("c"), false).unwrap();
        std::fs::write(d.join("f"), "").unwrap();
        assert!(
            ensure_dir(&d.join("f"), false)
                .unwrap_err()
                .contains("not a directory")
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_is_an_error_and_leaves_no_file() {
        let d = dir("writes");
        let path = d.join("report.html");
        let e = write_file(&path, |_| {
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        })
        .unwrap_err();
        assert!(e.contains("write failed"), "{e}");
        assert!(!path.exists());
        write_file(&path, |f| f.write_all(b"ok")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ok");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A target that passes the check and is then swapped for a link, a FIFO or a directory
    /// before the file is placed: left as it was, nothing written through it, no file left
    /// behind. A regular file swapped in is replaced as usual.
    #[test]
    fn a_target_swapped_after_the_check_is_not_replaced() {
        let d = dir("swapped");
        let path = d.join("out.html");
        std::fs::write(d.join("victim"), "precious").unwrap();
        let mut made = 0;
        type Swap<'a> = &'a dyn Fn(&Path);
        let swaps: [(&str, Swap<'_>); 3] = [
            ("a symbolic link", &|p| {
                std::os::unix::fs::symlink(d.join("victim"), p).unwrap()
            }),
            ("a FIFO", &|p| {
                let status = std::process::Command::new("mkfifo").arg(p).status().unwrap();
                assert!(status.success());
            }),
            ("a directory", &|p| std::fs::create_dir(p).unwrap()),
        ];
        for (what, swap) in swaps {
            let e = write_file(&path, |f| {
                swap(&path);
                made += 1;
                f.write_all(b"new")
            })
            .unwrap_err();
            assert!(e.contains(&format!("it is {what}")), "{e}");
            let meta = std::fs::symlink_metadata(&path).unwrap();
            assert!(!meta.is_file(), "{what} left in place");
            assert_eq!(std::fs::read(d.join("victim")).unwrap(), b"precious");
            let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir(&path));
        }
        assert_eq!(made, 3);
        write_file(&path, |f| {
            std::fs::write(&path, "old").unwrap();
            f.write_all(b"new")
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "only out.html and victim: {names:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn reads_stop_at_the_bound() {
        let d = dir("reads");
        std::fs::write(d.join("small"), "abc").unwrap();
        assert_eq!(read_bounded(&d.join("small"), 3, "file").unwrap(), "abc");
        let e = read_bounded(&d.join("small"), 2, "scenario file").unwrap_err();
        assert!(e.contains("over the bound of 2 bytes"), "{e}");
        let e = read_bounded(&d, 10, "file").unwrap_err();
        assert!(e.contains("a directory"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
