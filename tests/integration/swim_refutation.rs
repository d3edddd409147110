//! SWIM's `repeat_refutation`: a seed of `swim_no_suspicion` where memberlist's behaviour (a
//! stale accusation ignored) loses a refutation and a live member is declared dead, and the
//! same run with the option on, where the accuser hears the newer alive in time.

use crate::support::run_json;

const SEED: &str = "1707298093520602497";

fn verdict(repeat: bool) -> (String, String) {
    let repeat = format!("model.swim.repeat_refutation={repeat}");
    let json = run_json(
        "swim_no_suspicion",
        SEED,
        &["--set", "model.bugs.no_suspicion=false", "--set", &repeat],
    );
    (
        json["verdict"].as_str().unwrap_or("?").to_string(),
        json["property"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn a_lost_refutation_is_repeated_when_the_stale_accusation_comes_back() {
    assert_eq!(
        verdict(false),
        ("safety_violation".to_string(), "accuracy".to_string()),
        "memberlist's behaviour should lose the refutation on this seed"
    );
    assert_eq!(verdict(true).0, "held");
}
