//! One file per subcommand. Each exposes `Args` (clap) and `exec(args, io) -> Result<Exit, String>`;
//! `Err` is a bad-input message, reported with exit code 2.

pub mod check;
pub mod explore;
pub mod export;
pub mod hunt;
pub mod merge;
pub mod replay;
pub mod run;
pub mod scenarios;
pub mod shrink;
pub mod sweep;
pub mod tour;
