//! One scheduler scale run (see `ruckus_benches::scheduler::scale_run`), for the size the
//! criterion bench cannot repeat ten times and for profiling:
//! `scheduler_scale [NODES [JOBS [PER_JOB]]]` (default 5,000 nodes, 1,000 jobs x 100).

use ruckus_benches::scheduler::{SchedLoad, describe, scale_run};
use ruckus_sim::Duration;
use std::process::ExitCode;

/// The crash at 120 s plus the longest heartbeat TTL at 5,000 nodes and its grace, with room.
const HORIZON: Duration = Duration::from_secs(900);

fn main() -> ExitCode {
    let defaults = [5_000, 1_000, 100];
    let mut sizes = defaults;
    for (i, arg) in std::env::args().skip(1).enumerate() {
        match arg.parse::<u32>() {
            Ok(n) if n > 0 && i < sizes.len() => sizes[i] = n,
            _ => {
                eprintln!(
                    "usage: scheduler_scale [NODES [JOBS [PER_JOB]]]  (positive whole numbers; default {} {} {})",
                    defaults[0], defaults[1], defaults[2]
                );
                return ExitCode::from(2);
            }
        }
    }
    let load = SchedLoad::new(sizes[0], sizes[1], sizes[2]);
    print!("{}", describe(&load, &scale_run(&load, 1, HORIZON)));
    ExitCode::SUCCESS
}
