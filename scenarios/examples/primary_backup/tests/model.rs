//! Property tests of the primary-backup register, as a user of ruckus writes them.
//!
//! `cargo test` runs the healthy scenario under many seeds. Switch the planted bug on to see a
//! failure report (seed, shrunk fault plan, trace, replay command):
//!
//! ```sh
//! RUCKUS_SET=model.ack_before_replicate=true cargo test
//! ```

use proptest::prelude::*;
use ruckus_scenarios::testing;

#[test]
fn acknowledged_writes_survive_failover() {
    testing::check_scenario_in(&primary_backup::registry(), "primary_backup");
}

proptest! {
    #![proptest_config(testing::proptest_config())]
    #[test]
    fn acknowledged_writes_survive_any_fault_plan(
        case in testing::fault_plans(&testing::scenario_in(&primary_backup::registry(), "primary_backup"))
    ) {
        let scenario = testing::scenario_in(&primary_backup::registry(), "primary_backup");
        testing::run_case(&scenario, &case)?;
    }
}
