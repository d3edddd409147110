//! The `ruckus` command line, as a library function so tests can run it in-process.
//!
//! [`main_with_args`] parses arguments, runs one subcommand and returns the [`Exit`]; all
//! output goes through an [`Io`], so a test can capture it. The binary (`src/main.rs`) is a
//! three-line wrapper. Each subcommand lives in its own file under `cmd/` and exposes an
//! `Args` struct (clap) and `exec(args, io, registry) -> Result<Exit, String>`, where `Err` is a bad-input
//! message (exit code 2).

use crate::cmd;
use crate::exit::{EXIT_CODES_HELP, Exit};
use crate::registry::Registry;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;

/// Where a command writes: standard output, standard error, and whether stderr is a terminal
/// (progress bars appear only then).
pub struct Io<'a> {
    /// Results (run reports, JSON, sweep lines without `--out`).
    pub out: &'a mut (dyn Write + Send),
    /// Diagnostics and errors.
    pub err: &'a mut (dyn Write + Send),
    /// Whether a human is watching stderr.
    pub terminal: bool,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io").field("terminal", &self.terminal).finish()
    }
}

const ABOUT: &str = "ruckus: a deterministic simulator for distributed systems";

const LONG_ABOUT: &str = "\
ruckus: a deterministic simulator for distributed systems.

One seed, one exact run. Run a scenario, sweep many seeds to find failures, and replay,
shrink or export any failure. With no arguments, ruckus runs a one-minute tour.

  ruckus run pingpong                 one run of a built-in scenario
  ruckus sweep lease_lock_no_fencing --seeds 200 --out results.jsonl
  ruckus hunt raft_lease_without_drift_margin   guided search for a rare failure
  ruckus scenarios                    the built-in scenarios";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "ruckus", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The subcommand (the tour when absent).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one scenario under one seed and report the verdict.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(cmd::run::Args),
    /// Run many seeds in parallel; one JSON line per seed.
    #[command(after_help = EXIT_CODES_HELP)]
    Sweep(cmd::sweep::Args),
    /// Search for a failure: coverage-guided mutation of fault plans (or plain seeds); trace the first.
    #[command(after_help = EXIT_CODES_HELP)]
    Hunt(cmd::hunt::Args),
    /// Combine sweep outputs (for example from shards) into one, sorted by run index.
    #[command(after_help = EXIT_CODES_HELP)]
    Merge(cmd::merge::Args),
    /// Compare design variants on the same seeds: means, intervals, paired differences, HTML report.
    Explore(cmd::explore::Args),
    /// Re-execute a trace file and check it event by event; stop at an event, dump state.
    #[command(after_help = EXIT_CODES_HELP)]
    Replay(cmd::replay::Args),
    /// Shrink a failing trace to fewer, shorter faults and a shorter horizon.
    #[command(after_help = EXIT_CODES_HELP)]
    Shrink(cmd::shrink::Args),
    /// Export a trace as JSON Lines, Chrome trace JSON (Perfetto) or an HTML timeline.
    #[command(after_help = EXIT_CODES_HELP)]
    Export(cmd::export::Args),
    /// List the built-in scenarios, or show one fully resolved.
    Scenarios(cmd::scenarios::Args),
    /// The built-in tour (also what `ruckus` with no arguments runs).
    Tour(cmd::tour::Args),
    /// Check a recorded history (Jepsen EDN or JSON Lines) for linearizability.
    #[command(after_help = cmd::check::CHECK_EXIT_CODES)]
    Check(cmd::check::Args),
}

/// Runs the command line `args` (the first item is the program name) with the built-in models
/// and returns the exit.
pub fn main_with_args<I, T>(args: I, io: &mut Io<'_>) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_in(&Registry::builtin(), args, io)
}

/// Runs the command line `args` with the models and scenarios of `registry`.
pub fn run_in<I, T>(registry: &Registry, args: I, io: &mut Io<'_>) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Colour only for a person at a terminal who has not asked for none (NO_COLOR).
            let colour = io.terminal && {
                use std::io::IsTerminal;
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            };
            let text = if colour {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    let _ = write!(io.out, "{text}");
                    Exit::Held
                }
                _ => {
                    let _ = write!(io.err, "{}", e.render());
                    Exit::BadInput
                }
            };
        }
    };
    let result = match cli.command {
        None => cmd::tour::exec(cmd::tour::Args::default(), io, registry),
        Some(Command::Run(a)) => cmd::run::exec(a, io, registry),
        Some(Command::Sweep(a)) => cmd::sweep::exec(a, io, registry),
        Some(Command::Hunt(a)) => cmd::hunt::exec(a, io, registry),
        Some(Command::Merge(a)) => cmd::merge::exec(a, io),
        Some(Command::Explore(a)) => cmd::explore::exec(a, io, registry),
        Some(Command::Replay(a)) => cmd::replay::exec(a, io, registry),
        Some(Command::Shrink(a)) => cmd::shrink::exec(a, io, registry),
        Some(Command::Export(a)) => cmd::export::exec(a, io, registry),
        Some(Command::Scenarios(a)) => cmd::scenarios::exec(a, io, registry),
        Some(Command::Tour(a)) => cmd::tour::exec(a, io, registry),
        Some(Command::Check(a)) => cmd::check::exec(a, io, registry),
    };
    match result {
        Ok(exit) => exit,
        Err(message) => {
            let _ = writeln!(io.err, "error: {message}");
            Exit::BadInput
        }
    }
}

/// `None` when `name` on PATH is this very binary (commands can say `name`); otherwise the
/// path this process was started by, as typed when it has a slash, else the binary's own path.
fn invoked_as(name: &str) -> Option<String> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if on_path.and_then(|p| p.canonicalize().ok()).as_ref() == Some(&me) {
        return None;
    }
    let typed = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned());
    Some(match typed {
        Some(t) if t.contains('/') => t,
        _ => me.display().to_string(),
    })
}

/// The binary's entry point: real arguments, stdout, stderr, the built-in models.
pub fn main() -> std::process::ExitCode {
    main_with(Registry::builtin())
}

/// The entry point of a binary of your own: the whole `ruckus` command line for the models and
/// scenarios of `registry` (for example `Registry::builtin().with::<MyModel>()`).
pub fn main_with(registry: Registry) -> std::process::ExitCode {
    use std::io::IsTerminal;
    // Printed commands (replay lines, the tour) must work as printed: when the program's name
    // does not lead back to this binary through PATH, they use the path it was started by.
    let registry = match invoked_as(registry.program_name()) {
        Some(path) => registry.program(&path),
        None => registry,
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let terminal = err.is_terminal();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        terminal,
    };
    let exit = run_in(&registry, std::env::args_os(), &mut io);
    let _ = io.out.flush();
    std::process::ExitCode::from(exit.code())
}
