//! The whole `ruckus` command line, with this crate's model added.

fn main() -> std::process::ExitCode {
    ruckus_scenarios::cli::main_with(primary_backup::registry())
}
