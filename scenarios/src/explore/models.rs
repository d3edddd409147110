//! The services models as scenarios see them, and the summary figures each model reports.

use crate::registry::Model;
use ruckus_models::services::{self, contention};
use ruckus_sim::{Instant, Metrics, Property, Sim};
use std::collections::BTreeMap;

/// Services with high-availability patterns (tiers, retries, budgets, breakers, hedging).
#[derive(Debug)]
pub struct Services;

impl Model for Services {
    const NAME: &'static str = "services";
    const ABOUT: &'static str =
        "client/server tiers with queues, retries, budgets, breakers, hedging and balancers";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1)];
    type Config = services::Config;
    type Process = services::Node;
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config) {
        services::setup(sim, config);
    }
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>> {
        services::properties(config)
    }
    fn check(config: &Self::Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        need_hosts(config.hosts(), hosts)
    }
    fn check_degrade_mode(mode: &str) -> Result<(), String> {
        services::DegradeMode::parse(mode).map(|_| ())
    }
}

/// Writers contending on an optimistic-concurrency row (the backoff-and-jitter experiment).
#[derive(Debug)]
pub struct BackoffContention;

impl Model for BackoffContention {
    const NAME: &'static str = "backoff_contention";
    const ABOUT: &'static str =
        "writers contending on one optimistic-concurrency row, with backoff and jitter";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1)];
    type Config = contention::Config;
    type Process = contention::Node;
    fn setup(sim: &mut Sim<Self::Process>, config: &Self::Config) {
        contention::setup(sim, config);
    }
    fn properties(config: &Self::Config) -> Vec<Property<Self::Process>> {
        contention::properties(config)
    }
    fn check(config: &Self::Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        need_hosts(config.hosts(), hosts)
    }
}

fn need_hosts(needed: u32, hosts: u32) -> Result<(), String> {
    if hosts < needed {
        return Err(format!(
            "the model needs {needed} hosts (one per process), the topology has {hosts}"
        ));
    }
    Ok(())
}

/// Every figure of one run an experiment can name: the model's own summary where it has one,
/// then for every counter its value, and for every distribution `NAME.mean`, `.p50`, `.p99`,
/// `.p999`, `.max` and `.count`, plus `end_time_s`.
pub fn figures(model: &str, params: &toml::Table, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, v) in metrics.counters() {
        out.insert(name.clone(), *v as f64);
    }
    for (name, samples) in metrics.distributions() {
        if samples.is_empty() {
            continue;
        }
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / samples.len() as f64;
        out.insert(format!("{name}.mean"), mean);
        out.insert(format!("{name}.count"), samples.len() as f64);
        for (suffix, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)] {
            out.insert(
                format!("{name}.{suffix}"),
                metrics.quantile(name, q).unwrap_or(0) as f64,
            );
        }
    }
    out.insert("end_time_s".into(), end.as_nanos() as f64 / 1e9);
    let value = toml::Value::Table(params.clone());
    match model {
        Services::NAME => {
            if let Ok(config) = value.try_into::<services::Config>() {
                out.extend(services::summarize(&config, metrics, end));
            }
        }
        BackoffContention::NAME => {
            if let Ok(config) = value.try_into::<contention::Config>() {
                out.extend(contention::summarize(&config, metrics));
            }
        }
        _ => {}
    }
    out
}
