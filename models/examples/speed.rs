#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
use ruckus_models::pingpong::*;
use ruckus_sim::*;
fn main() {
    let config = PingPongConfig::default();
    let t = std::time::Instant::now();
    let mut sim = Sim::new(SimConfig::with_seed(1), &config.topology());
    setup(&mut sim, &config);
    let r = sim.run();
    let el = t.elapsed().as_secs_f64();
    println!("{} deliveries in {el:.3}s = {:.2} M/s", r.deliveries, r.deliveries as f64 / el / 1e6);
}
