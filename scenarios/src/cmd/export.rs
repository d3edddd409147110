//! `ruckus export FILE -o OUT`: a recorded run as JSON Lines, Chrome trace JSON (Perfetto) or a
//! self-contained HTML timeline.
//!
//! The trace keeps payload digests, not payloads, so by default the run is re-executed from its
//! header to collect each message's and timer's `Debug` text (and checked against the
//! recording on the way); `--no-payloads` skips that and exports from the file alone.

use super::replay::{ReplayVisit, open, write_export};
use crate::cli::Io;
use crate::exit::Exit;
use crate::export::Format;
use crate::registry::Registry;
use ruckus_sim::trace::{ReplayOutcome, TraceReader};
use std::path::PathBuf;

/// Flags of `ruckus export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file.
    pub trace: PathBuf,
    /// Where to write (default: the trace's name with the format's extension).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// jsonl, chrome or html (default: from the output's extension, else html).
    #[arg(long)]
    pub format: Option<Format>,
    /// Export from the file alone, without re-executing the run to collect payload text.
    #[arg(long)]
    pub no_payloads: bool,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let format = args
        .format
        .or_else(|| args.out.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Html);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.trace.with_extension(format.extension()));
    crate::output::check_target(&out)?;
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    let texts = if args.no_payloads {
        // From the file alone: no registry needed, so traces of any model export.
        crate::output::check_input(&args.trace)?;
        TraceReader::open(&args.trace).map_err(|e| e.to_string())?;
        Vec::new()
    } else {
        let opened = open(registry, &args.trace)?;
        let scenario = opened.scenario;
        let visit = ReplayVisit {
            reader: opened.reader,
            stop_at: None,
            dump: Vec::new(),
            context: 3,
            collect: true,
        };
        let result = visit.run(&scenario)?;
        match result.outcome {
            ReplayOutcome::Matches { .. } => result.texts,
            ReplayOutcome::Diverged(d) => {
                writeln!(
                    io.err,
                    "warning: the re-execution diverges from the recording at record #{} ({}); exporting without payload text",
                    d.position, d.reason
                )
                .map_err(w)?;
                Vec::new()
            }
        }
    };
    write_export(&args.trace, &out, format, &texts)?;
    writeln!(io.out, "wrote {} ({})", out.display(), format.name()).map_err(w)?;
    Ok(Exit::Held)
}
