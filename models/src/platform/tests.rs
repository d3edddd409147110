use super::*;
use ruckus_sim::{SimConfig, Verdict};

fn build(config: &Config, seed: u64) -> Sim<Platform> {
    let mut sim = Sim::new(SimConfig::with_seed(seed), &config.topology());
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

#[test]
fn the_healthy_platform_places_registers_and_serves() {
    let config = Config::default();
    let mut sim = build(&config, 1);
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    let m = sim.metrics();
    let s = summarize(&config, m, Instant::ZERO + Duration::from_secs(60));
    assert!(s["success_ratio"] > 0.9, "{s:?}");
}
