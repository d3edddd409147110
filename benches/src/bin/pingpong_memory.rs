//! A long pingpong run for measuring peak memory: the engine must not grow with the number of
//! events (only the flight recorder's last K events are kept).
//!
//! `/usr/bin/time -v target/release/pingpong_memory 100000000` and read "Maximum resident set
//! size". The argument is the number of deliveries (default 100,000,000); hosts and in-flight
//! messages are the standard 5 and 50.

use ruckus_benches::run_pingpong;
use ruckus_models::pingpong::PingPongConfig;
use ruckus_sim::Verdict;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let deliveries = match arg.as_deref().map(str::parse::<u64>) {
        None => 100_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: pingpong_memory [DELIVERIES]  (a positive whole number, default 100000000)");
            return ExitCode::from(2);
        }
    };
    let config = PingPongConfig {
        deliveries,
        ..PingPongConfig::default()
    };
    let report = run_pingpong(&config, 1);
    print!("{report}");
    if report.verdict == Verdict::Held && report.deliveries == deliveries {
        ExitCode::SUCCESS
    } else {
        eprintln!("expected {deliveries} deliveries and a held verdict");
        ExitCode::FAILURE
    }
}
