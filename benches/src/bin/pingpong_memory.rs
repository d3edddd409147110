//! A long pingpong run for measuring peak memory: the engine must not grow with the number of
//! events (only the flight recorder's last K events are kept).
//!
//! `/usr/bin/time -v target/release/pingpong_memory 100000000` and read "Maximum resident set
//! size". The first argument is the number of deliveries (default 100,000,000); optional second
//! and third arguments set hosts and messages in flight (default the standard 5 and 50), which
//! makes this binary handy for profiling too; a fourth, `untracked`, turns off the model's
//! duplicate table (hosts x messages words, 8 GB at 10,000 and 100,000), as `vs_bare` does.

use ruckus_benches::{build_pingpong_untracked, run_pingpong};
use ruckus_models::pingpong::PingPongConfig;
use ruckus_sim::Verdict;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let standard = PingPongConfig::default();
    let arg = |i: usize, default: u64| -> Option<u64> {
        match args.get(i).map(|a| a.parse::<u64>()) {
            None => Some(default),
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => None,
        }
    };
    let (Some(deliveries), Some(hosts), Some(in_flight)) = (
        arg(0, 100_000_000),
        arg(1, u64::from(standard.hosts)),
        arg(2, u64::from(standard.in_flight)),
    ) else {
        eprintln!(
            "usage: pingpong_memory [DELIVERIES [HOSTS [IN_FLIGHT [untracked]]]]  (positive whole numbers)"
        );
        return ExitCode::from(2);
    };
    let (Ok(hosts), Ok(in_flight)) = (u32::try_from(hosts), u32::try_from(in_flight)) else {
        eprintln!("HOSTS and IN_FLIGHT must fit in 32 bits");
        return ExitCode::from(2);
    };
    let untracked = match args.get(3).map(String::as_str) {
        None => false,
        Some("untracked") => true,
        Some(_) => {
            eprintln!("the fourth argument can only be `untracked`");
            return ExitCode::from(2);
        }
    };
    if args.len() > 4 || hosts < 2 {
        eprintln!("usage: pingpong_memory [DELIVERIES [HOSTS [IN_FLIGHT [untracked]]]]  (HOSTS at least 2)");
        return ExitCode::from(2);
    }
    let config = PingPongConfig {
        hosts,
        in_flight,
        deliveries,
    };
    let report = if untracked {
        build_pingpong_untracked(&config, 1).run()
    } else {
        run_pingpong(&config, 1)
    };
    print!("{report}");
    if report.verdict == Verdict::Held && report.deliveries == deliveries {
        ExitCode::SUCCESS
    } else {
        eprintln!("expected {deliveries} deliveries and a held verdict");
        ExitCode::FAILURE
    }
}
