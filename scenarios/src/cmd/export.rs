//! `ruckus export FILE -o OUT`: a recorded run as JSON Lines, Chrome trace JSON (Perfetto) or a
//! self-contained HTML timeline.
//!
//! The trace keeps payload digests, not payloads, so by default the run is re-executed from its
//! header to collect each message's and timer's `Debug` text (and checked against the
//! recording on the way); `--no-payloads` skips that and exports from the file alone.

use super::replay::{ReplayEnd, ReplayVisit, open, write_export};
use crate::cli::Io;
use crate::exit::Exit;
use crate::export::Format;
use crate::registry::Registry;
use ruckus_sim::trace::{ReplayOutcome, TraceReader};
use std::path::{Path, PathBuf};

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

/// The format to write: `--format`, else the output's extension, else HTML. An extension that
/// names no format, or another format than `--format`, is refused rather than written wrongly.
fn choose_format(flag: Option<Format>, out: Option<&std::path::Path>) -> Result<Format, String> {
    let Some(path) = out else {
        return Ok(flag.unwrap_or(Format::Html));
    };
    let Some(extension) = path.extension().map(|e| e.to_string_lossy().into_owned()) else {
        return Ok(flag.unwrap_or(Format::Html));
    };
    match (Format::from_path(path), flag) {
        (Some(implied), None) => Ok(implied),
        (Some(implied), Some(asked)) if implied == asked => Ok(asked),
        (Some(implied), Some(asked)) => Err(format!(
            "{}: --format {} but the extension .{extension} means {}; change one of them",
            path.display(),
            asked.name(),
            implied.name()
        )),
        (None, _) => Err(format!(
            "{}: ruckus cannot export .{extension}; use .html (timeline), .json (Chrome trace for Perfetto) or .jsonl (one event per line)",
            path.display()
        )),
    }
}

/// Exports `trace` to `out` with every message's and timer's `Debug` text, collected by
/// re-executing the run from its header (checked against the recording on the way). If the
/// re-execution diverges, says so on `warnings` and exports without the text.
pub(crate) fn export_with_payloads(
    registry: &Registry,
    trace: &Path,
    out: &Path,
    format: Format,
    warnings: &mut dyn std::io::Write,
) -> Result<(), String> {
    let opened = open(registry, trace)?;
    let scenario = opened.scenario;
    let visit = ReplayVisit {
        reader: opened.reader,
        stop_at: None,
        dump: Vec::new(),
        context: 3,
        collect: true,
    };
    let result = visit.run(&scenario)?;
    let texts = match result.end {
        ReplayEnd::Done(ReplayOutcome::Matches { .. }) | ReplayEnd::Stopped(_) => result.texts,
        ReplayEnd::Done(ReplayOutcome::Diverged(d)) => {
            writeln!(
                warnings,
                "warning: the re-execution diverges from the recording at record #{} ({}); exporting without payload text",
                d.position, d.reason
            )
            .map_err(|e| e.to_string())?;
            Vec::new()
        }
    };
    write_export(trace, out, format, &texts)
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let format = choose_format(args.format, args.out.as_deref())?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.trace.with_extension(format.extension()));
    crate::output::check_target(&out)?;
    let w = |e: std::io::Error| format!("cannot write the report: {e}");
    if args.no_payloads {
        // From the file alone: no registry needed, so traces of any model export.
        crate::output::check_input(&args.trace)?;
        TraceReader::open(&args.trace).map_err(|e| e.to_string())?;
        write_export(&args.trace, &out, format, &[])?;
    } else {
        export_with_payloads(registry, &args.trace, &out, format, io.err)?;
    }
    writeln!(io.out, "wrote {} ({})", out.display(), format.name()).map_err(w)?;
    Ok(Exit::Held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_format_follows_the_extension_or_refuses_it() {
        assert_eq!(choose_format(None, None), Ok(Format::Html));
        assert_eq!(
            choose_format(None, Some(Path::new("a.jsonl"))),
            Ok(Format::JsonLines)
        );
        assert_eq!(choose_format(None, Some(Path::new("a.json"))), Ok(Format::Chrome));
        assert_eq!(
            choose_format(Some(Format::Chrome), Some(Path::new("a"))),
            Ok(Format::Chrome)
        );
        let svg = choose_format(None, Some(Path::new("out.svg"))).unwrap_err();
        assert!(
            svg.contains("cannot export .svg") && svg.contains(".html"),
            "{svg}"
        );
        let clash = choose_format(Some(Format::JsonLines), Some(Path::new("out.html"))).unwrap_err();
        assert!(
            clash.contains("--format jsonl") && clash.contains("means html"),
            "{clash}"
        );
    }
}
