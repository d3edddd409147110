//! Runs the timer-heavy workload once (for profiling): `timer_storm [FIRES_PER_PROCESS]`.

use ruckus_benches::{TimerStormConfig, build_timer_storm};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut config = TimerStormConfig::default();
    match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => {}
        Some(Ok(n)) if n > 0 => config.fires_per_process = n,
        Some(_) => {
            eprintln!("usage: timer_storm [FIRES_PER_PROCESS]  (a positive whole number)");
            return ExitCode::from(2);
        }
    }
    let report = build_timer_storm(&config, 1).run();
    print!("{report}");
    ExitCode::SUCCESS
}
