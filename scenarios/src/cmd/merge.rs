//! `ruckus merge FILE...`: shard outputs into one sweep output, sorted by run index.

use crate::cli::Io;
use crate::cmd::sweep::Summary;
use crate::exit::Exit;
use crate::sweep::{self, SweepLine};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Flags of `ruckus merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep outputs (JSON Lines) to combine.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged lines to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs the command. The exit code reflects the merged verdicts, like a sweep's.
pub fn exec(args: Args, io: &mut Io<'_>) -> Result<Exit, String> {
    let mut merged: BTreeMap<u64, (SweepLine, PathBuf)> = BTreeMap::new();
    let mut config: Option<(String, PathBuf)> = None;
    let mut notes = Vec::new();
    for path in &args.files {
        if !path.exists() {
            return Err(format!("{}: no such file", path.display()));
        }
        let existing = sweep::read_output(path)?;
        let len = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if existing.valid_len < len {
            notes.push(format!(
                "{}: ignored a last line cut off mid-write",
                path.display()
            ));
        }
        for line in existing.lines {
            match &config {
                None => config = Some((line.config.clone(), path.clone())),
                Some((c, first)) if *c != line.config => {
                    return Err(format!(
                        "{} (run {}) comes from a different scenario or overrides than {} (config {} vs {c})",
                        path.display(),
                        line.index,
                        first.display(),
                        line.config
                    ));
                }
                Some(_) => {}
            }
            if let Some((other, other_path)) = merged.get(&line.index) {
                if *other != line {
                    return Err(format!(
                        "run {} differs between {} and {} (seed {} vs {}, fingerprint {} vs {})",
                        line.index,
                        other_path.display(),
                        path.display(),
                        other.run.seed,
                        line.run.seed,
                        other.run.fingerprint,
                        line.run.fingerprint
                    ));
                }
                continue;
            }
            merged.insert(line.index, (line, path.clone()));
        }
    }
    let lines: Vec<SweepLine> = merged.into_values().map(|(l, _)| l).collect();
    if let (Some(first), Some(last)) = (lines.first(), lines.last()) {
        let span = last.index - first.index + 1;
        if span != lines.len() as u64 {
            notes.push(format!(
                "indices {}..={} are not all present: {} of {span} runs (a shard missing?)",
                first.index,
                last.index,
                lines.len()
            ));
        }
    }
    let w = |e: std::io::Error| format!("cannot write the merged lines: {e}");
    let mut text = String::new();
    for l in &lines {
        text.push_str(&l.to_json());
        text.push('\n');
    }
    match &args.out {
        Some(path) => crate::output::write_file(path, |f| f.write_all(text.as_bytes()))?,
        None => io.out.write_all(text.as_bytes()).map_err(w)?,
    }
    // The merged lines do not say which model they ran: probes are those the runs reached.
    let coverage = sweep::coverage(&lines, &[], &[]);
    let summary = Summary {
        title: format!("merged {} files: {} runs", args.files.len(), lines.len()),
        lines: &lines,
        ran_now: 0,
        skipped: 0,
        events_now: 0,
        wall_s: None,
        jobs: None,
        coverage: &coverage,
    }
    .render();
    let report = if args.out.is_some() {
        &mut io.out
    } else {
        &mut io.err
    };
    for n in &notes {
        writeln!(report, "note: {n}").map_err(w)?;
    }
    write!(report, "{summary}").map_err(w)?;
    Ok(Exit::worst(lines.iter().map(SweepLine::exit)))
}
