//! `ruckus` with no arguments: a one-minute tour (filled in below).

use crate::cli::Io;
use crate::exit::Exit;

/// Flags of `ruckus tour`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {}

/// Runs the tour.
pub fn exec(_args: Args, _io: &mut Io<'_>) -> Result<Exit, String> {
    Ok(Exit::Held)
}
