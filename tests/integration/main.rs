//! ruckus's integration tests: one test binary, one module per feature.

mod determinism;
mod trace;
