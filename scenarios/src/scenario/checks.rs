//! The checks a scenario passes before its model is built: topology, faults, plan size,
//! coverage, degrade modes and the sizes in the model's parameters.

use super::*;

pub(super) fn check_topology(cx: &Context<'_>, t: &TopologySpec) -> Result<(), ScenarioError> {
    let at = |field: &str| vec![Step::Key("topology".into()), Step::Key(field.into())];
    if t.hosts == 0 {
        return Err(cx.error(&at("hosts"), "a topology needs at least one host".into()));
    }
    if t.hosts > limits::MAX_HOSTS {
        return Err(cx.error(
            &at("hosts"),
            format!("{} hosts is over the bound of {}", t.hosts, limits::MAX_HOSTS),
        ));
    }
    if let Some(z) = t.zones.filter(|z| *z > limits::MAX_ZONES) {
        return Err(cx.error(
            &at("zones"),
            format!("{z} zones is over the bound of {}", limits::MAX_ZONES),
        ));
    }
    if let Err(m) = t.latency.validate() {
        return Err(cx.error(&at("latency"), m));
    }
    match t.layout {
        Layout::SingleSwitch => {
            for field in ["zones", "inter_zone"] {
                let given = if field == "zones" {
                    t.zones.is_some()
                } else {
                    t.inter_zone.is_some()
                };
                if given {
                    return Err(cx.error(
                        &at(field),
                        format!("`{field}` only applies to layout = \"zoned\""),
                    ));
                }
            }
        }
        Layout::Zoned => {
            match t.zones {
                None | Some(0) => {
                    return Err(cx.error(&at("zones"), "layout = \"zoned\" needs zones >= 1".into()));
                }
                Some(_) => {}
            }
            match &t.inter_zone {
                None => {
                    return Err(cx.error(
                        &at("inter_zone"),
                        "layout = \"zoned\" needs an inter_zone latency".into(),
                    ));
                }
                Some(d) => d.validate().map_err(|m| cx.error(&at("inter_zone"), m))?,
            }
        }
    }
    t.costs.validate().map_err(|m| cx.error(&at("costs"), m))?;
    host_costs::check(cx, &t.host_costs, &runner::topology(t))?;
    t.clock_spread
        .validate()
        .map_err(|m| cx.error(&at("clock_spread"), m))?;
    for (i, c) in t.clocks.iter().enumerate() {
        if c.host >= t.hosts {
            let path = vec![
                Step::Key("topology".into()),
                Step::Key("clocks".into()),
                Step::Index(i),
                Step::Key("host".into()),
            ];
            return Err(cx.error(
                &path,
                format!(
                    "host {} does not exist (the topology has {} hosts)",
                    c.host, t.hosts
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_faults(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
    let faults = |field: &str| vec![Step::Key("faults".into()), Step::Key(field.into())];
    file.faults.profile.validate().map_err(|m| {
        // The message starts with the field at fault (`chaos.loss must be ...`): point there.
        let mut path = faults("profile");
        let first = m.split_whitespace().next().unwrap_or_default();
        if first
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        {
            path.extend(first.split('.').map(|k| Step::Key(k.to_owned())));
        }
        cx.error(&path, m)
    })?;
    if !file.faults.profile.is_empty() {
        let topology = runner::topology(&file.topology);
        file.faults
            .profile
            .validate_zones(topology.hosts())
            .map_err(|m| {
                let mut path = faults("profile");
                path.push(Step::Key(
                    m.split(['.', ' ']).next().unwrap_or_default().to_owned(),
                ));
                cx.error(&path, m)
            })?;
    }
    if let Some(plan) = &file.faults.plan {
        if !file.faults.profile.is_empty() {
            return Err(cx.error(
                &faults("plan"),
                "give either a fault profile or an explicit plan, not both".into(),
            ));
        }
        if plan.actions.len() > limits::MAX_PLAN_ACTIONS {
            return Err(cx.error(
                &faults("plan"),
                format!(
                    "{} fault actions is over the bound of {}",
                    plan.actions.len(),
                    limits::MAX_PLAN_ACTIONS
                ),
            ));
        }
        let topology = runner::topology(&file.topology);
        plan.validate(topology.hosts())
            .map_err(|m| cx.error(&faults("plan"), m))?;
    } else if file.faults.enabled {
        check_plan_size(cx, file)?;
    }
    Ok(())
}

/// A profile whose expansion over the horizon would exceed the plan bounds is refused before
/// any plan is expanded: the expected number of actions (and of host ids partitions name)
/// is computed from the rates.
fn check_plan_size(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
    let profile = &file.faults.profile;
    let expected = profile.expected_actions(file.limits.horizon);
    let total: f64 = expected.iter().map(|(_, n)| n).sum();
    let at = [Step::Key("faults".into()), Step::Key("profile".into())];
    if total > limits::MAX_PLAN_ACTIONS as f64 {
        let parts: Vec<String> = expected
            .iter()
            .filter(|(_, n)| *n >= 1.0)
            .map(|(k, n)| format!("{}: {n:.0}", k.name()))
            .collect();
        return Err(cx.error(
            &at,
            format!(
                "over the horizon of {} this profile expands to about {total:.0} fault actions ({}), over the bound of {}: raise a mean_interval or shorten limits.horizon",
                file.limits.horizon,
                parts.join(", "),
                limits::MAX_PLAN_ACTIONS
            ),
        ));
    }
    let partitions = expected
        .iter()
        .find(|(k, _)| *k == ruckus_sim::FaultKind::Partition)
        .map_or(0.0, |(_, n)| *n);
    let ids = partitions * f64::from(file.topology.hosts);
    if ids > limits::MAX_PLAN_HOST_IDS as f64 {
        return Err(cx.error(
            &at,
            format!(
                "about {partitions:.0} partitions of up to {} hosts each would name {ids:.0} host ids, over the bound of {}: raise partition.mean_interval or shorten limits.horizon",
                file.topology.hosts,
                limits::MAX_PLAN_HOST_IDS
            ),
        ));
    }
    Ok(())
}

/// Every required probe must be one the model declares, and buggify's probability a
/// probability.
pub(super) fn check_coverage<M: Model>(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
    let declared = M::probes();
    for (i, name) in file.coverage.require.iter().enumerate() {
        if !declared.contains(&name.as_str()) {
            let path = [
                Step::Key("coverage".into()),
                Step::Key("require".into()),
                Step::Index(i),
            ];
            let has = if declared.is_empty() {
                "it declares none: a model lists its probes in `Model::probes`".to_owned()
            } else {
                format!("it declares: {}", declared.join(", "))
            };
            return Err(cx
                .error(
                    &path,
                    format!("model `{}` has no probe `{name}` ({has})", M::NAME),
                )
                .suggest(name, declared.iter().copied()));
        }
    }
    file.buggify
        .validate()
        .map_err(|m| cx.error(&[Step::Key("buggify".into()), Step::Key("probability".into())], m))
}

/// Every degradation mode the faults name must mean something to the model.
pub(super) fn check_degrade_modes<M: Model>(
    cx: &Context<'_>,
    file: &FileFormat,
) -> Result<(), ScenarioError> {
    let bad = |path: Vec<Step>, mode: &str, m: String| {
        cx.error(
            &path,
            format!("degradation mode {mode:?} for model `{}`: {m}", M::NAME),
        )
    };
    for (i, mode) in file.faults.profile.degrade_modes.iter().enumerate() {
        M::check_degrade_mode(mode).map_err(|m| {
            let path = vec![
                Step::Key("faults".into()),
                Step::Key("profile".into()),
                Step::Key("degrade_modes".into()),
                Step::Index(i),
            ];
            bad(path, mode, m)
        })?;
    }
    let profile = &file.faults.profile;
    let chaos_modes = profile
        .latency_monkey
        .iter()
        .map(|l| {
            (
                vec![Step::Key("latency_monkey".into()), Step::Key("mode".into())],
                &l.mode,
            )
        })
        .chain(profile.role_faults.iter().enumerate().filter_map(|(i, r)| {
            let path = vec![
                Step::Key("role_faults".into()),
                Step::Index(i),
                Step::Key("mode".into()),
            ];
            r.mode.as_ref().map(|m| (path, m))
        }));
    for (rest, mode) in chaos_modes {
        M::check_degrade_mode(mode).map_err(|m| {
            let mut path = vec![Step::Key("faults".into()), Step::Key("profile".into())];
            path.extend(rest);
            bad(path, mode, m)
        })?;
    }
    for (i, action) in file.faults.plan.iter().flat_map(|p| p.actions.iter()).enumerate() {
        if let Fault::Degrade { mode, .. } | Fault::DegradeRole { mode, .. } = &action.fault {
            M::check_degrade_mode(mode).map_err(|m| {
                let path = vec![
                    Step::Key("faults".into()),
                    Step::Key("plan".into()),
                    Step::Key("actions".into()),
                    Step::Index(i),
                ];
                bad(path, mode, m)
            })?;
        }
    }
    Ok(())
}

/// Key names that count processes (or hosts): each such integer in a model's parameters is
/// bounded by [`limits::MAX_PROCESS_KNOB`] (times the hosts for a `*_per_host` key) before the
/// model's setup runs, whatever the model.
const PROCESS_COUNT_KEYS: [&str; 13] = [
    "clients",
    "writers",
    "readers",
    "members",
    "instances",
    "callers",
    "workers",
    "nodes",
    "servers",
    "hosts",
    "replicas",
    "peers",
    "agents",
];

/// Bounds the sizes in the model's parameters before its setup allocates for them: declared
/// workload knobs by [`limits::MAX_WORKLOAD_KNOB`], counts of processes by
/// [`limits::MAX_PROCESS_KNOB`] (a `*_per_host` count times the hosts by
/// [`limits::MAX_PROCESSES`]).
pub(super) fn check_sizes<M: Model>(
    cx: &Context<'_>,
    params: &toml::Table,
    from_workload: &[String],
    hosts: u32,
) -> Result<(), ScenarioError> {
    let located = |path: &str| {
        let mut steps: Vec<Step> = path.split('.').map(|k| Step::Key(k.to_owned())).collect();
        let first = path.split('.').next().unwrap_or_default();
        let section = if from_workload.iter().any(|k| k == first) {
            "workload"
        } else {
            "model"
        };
        steps.insert(0, Step::Key(section.into()));
        steps
    };
    let mut ints = Vec::new();
    integers(params, "", &mut ints);
    for (path, value) in ints {
        let key = path.rsplit('.').next().unwrap_or_default();
        let per_host = key.strip_suffix("_per_host");
        let counts = PROCESS_COUNT_KEYS.contains(&per_host.unwrap_or(key));
        let declared = M::WORKLOAD_KNOBS.iter().any(|(k, _)| *k == path);
        let (bound, what) = match (counts, per_host) {
            (true, Some(_)) => (
                limits::MAX_PROCESSES as u64 / u64::from(hosts.max(1)),
                format!(
                    "{value} per host on {hosts} hosts is over the bound of {} processes",
                    limits::MAX_PROCESSES
                ),
            ),
            (true, None) => (
                limits::MAX_PROCESS_KNOB,
                format!("{value} is over the bound of {}", limits::MAX_PROCESS_KNOB),
            ),
            (false, _) if declared => (
                limits::MAX_WORKLOAD_KNOB,
                format!("{value} is over the bound of {}", limits::MAX_WORKLOAD_KNOB),
            ),
            (false, _) => continue,
        };
        if value > bound {
            return Err(cx.error(&located(&path), format!("{what} (model `{}`)", M::NAME)));
        }
    }
    Ok(())
}

/// Whether the dotted `path` names a value in `table`.
pub(super) fn param_exists(table: &toml::Table, path: &str) -> bool {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else { return false };
    let mut value = table.get(first);
    for p in parts {
        value = value.and_then(|v| v.as_table()).and_then(|t| t.get(p));
    }
    value.is_some()
}

/// Every non-negative integer in `table`, by dotted path.
fn integers(table: &toml::Table, prefix: &str, out: &mut Vec<(String, u64)>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Integer(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    out.push((path, u));
                }
            }
            toml::Value::Table(t) => integers(t, &path, out),
            _ => {}
        }
    }
}
