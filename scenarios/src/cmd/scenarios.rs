//! `ruckus scenarios`: the registry's scenarios, one line each, or one shown in full.

use crate::cli::Io;
use crate::exit::Exit;
use crate::registry::Registry;

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
pub fn exec(args: Args, io: &mut Io<'_>, registry: &Registry) -> Result<Exit, String> {
    let w = |e: std::io::Error| format!("cannot write the list: {e}");
    if let Some(name) = &args.show {
        let s = registry
            .scenario(name, &args.overrides)
            .map_err(|e| e.to_string())?;
        write!(io.out, "{}", s.to_toml()).map_err(w)?;
        return Ok(Exit::Held);
    }
    let width = registry.scenario_names().map(str::len).max().unwrap_or(0);
    for name in registry.scenario_names() {
        // Built-ins are checked by the test suite; a broken one is still listed, with its error.
        match registry.scenario(name, &[]) {
            Ok(s) => writeln!(io.out, "{name:<width$}  {}", s.description).map_err(w)?,
            Err(e) => writeln!(io.out, "{name:<width$}  (does not load: {e})").map_err(w)?,
        }
    }
    Ok(Exit::Held)
}
