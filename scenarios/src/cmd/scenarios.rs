//! `ruckus scenarios`: the built-in scenarios, one line each, or one shown in full.

use crate::builtin;
use crate::cli::Io;
use crate::exit::Exit;
use crate::scenario::Scenario;

/// Flags of `ruckus scenarios`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print this scenario (built-in name or path) fully resolved, every default filled in.
    #[arg(long, value_name = "SCENARIO")]
    pub show: Option<String>,
    /// Overrides applied before showing (with --show).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "show")]
    pub overrides: Vec<String>,
}

/// Runs the command.
pub fn exec(args: Args, io: &mut Io<'_>) -> Result<Exit, String> {
    let w = |e: std::io::Error| format!("cannot write the list: {e}");
    if let Some(name) = &args.show {
        let s = Scenario::load(name, &args.overrides).map_err(|e| e.to_string())?;
        write!(io.out, "{}", s.to_toml()).map_err(w)?;
        return Ok(Exit::Held);
    }
    let width = builtin::names().map(str::len).max().unwrap_or(0);
    for name in builtin::names() {
        // Built-ins are checked by the test suite; a broken one is still listed, with its error.
        match Scenario::load(name, &[]) {
            Ok(s) => writeln!(io.out, "{name:<width$}  {}", s.description).map_err(w)?,
            Err(e) => writeln!(io.out, "{name:<width$}  (does not load: {e})").map_err(w)?,
        }
    }
    Ok(Exit::Held)
}
