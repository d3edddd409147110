//! The `ruckus` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    ruckus_scenarios::cli::main()
}
