//! ruckus's integration tests: one test binary, one module per feature.

mod check;
mod check_trace;
mod cli;
mod clock_steps;
mod costs;
mod coverage;
mod determinism;
mod explore;
mod explore_counters;
mod first_hour;
mod fuzz;
mod golden;
mod guided;
mod hardening;
mod one_shrinker;
mod operation_lanes;
mod own_model;
mod proptest_plans;
mod raft_cli;
mod role_faults;
mod services_schedule;
mod set_paths;
mod shrink_workload;
mod support;
mod trace;
