//! A parsed file waiting for its model's type: checking the model's parameters and
//! properties completes it into a [`Scenario`].

use super::checks::{check_coverage, check_degrade_modes, check_sizes, param_exists};
use super::*;

/// A parsed file waiting for its model's type.
pub(crate) struct Partial<'a> {
    pub(super) cx: &'a Context<'a>,
    pub(super) file: &'a FileFormat,
    pub(super) name: &'a str,
    pub(super) reference: &'a str,
    pub(super) overrides: &'a [String],
}

impl Partial<'_> {
    /// Checks the model's parameters and properties and completes the scenario.
    pub(crate) fn resolve<M: Model>(self, model: &ModelRef) -> Result<Scenario, ScenarioError> {
        let Partial { cx, file, .. } = self;
        // The model's Config takes `[model]` (less its name) and `[workload]` together.
        let mut params = file.model.params.clone();
        let mut from_workload = Vec::new();
        for (k, v) in &file.workload {
            if params.contains_key(k) {
                return Err(cx.error(
                    &[Step::Key("workload".into()), Step::Key(k.clone())],
                    format!("`{k}` is set in both [model] and [workload]; keep one"),
                ));
            }
            params.insert(k.clone(), v.clone());
            from_workload.push(k.clone());
        }
        if let Some(key) = M::HOSTS_KEY {
            match params.get(key) {
                None => {
                    params.insert(key.into(), toml::Value::Integer(i64::from(file.topology.hosts)));
                }
                Some(v) if v.as_integer() != Some(i64::from(file.topology.hosts)) => {
                    let section = if from_workload.iter().any(|k| k == key) {
                        "workload"
                    } else {
                        "model"
                    };
                    return Err(cx.error(
                        &[Step::Key(section.into()), Step::Key(key.into())],
                        format!(
                            "{} says {key} = {v}, but the topology has {} hosts (leave it out to follow the topology)",
                            M::NAME,
                            file.topology.hosts
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let config: M::Config =
            serde_path_to_error::deserialize(toml::Value::Table(params)).map_err(|e| {
                let mut path = Vec::new();
                for segment in e.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => path.push(Step::Index(*index)),
                        serde_path_to_error::Segment::Map { key } => path.push(Step::Key(key.clone())),
                        serde_path_to_error::Segment::Enum { variant } => {
                            path.push(Step::Key(variant.clone()))
                        }
                        serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let message = e.inner().message().trim().to_owned();
                // Unknown fields come back with the key in the message only; find its section.
                let first = path.first().cloned().or_else(|| {
                    message
                        .strip_prefix("unknown field `")
                        .and_then(|r| r.split_once('`'))
                        .map(|(n, _)| Step::Key(n.to_owned()))
                });
                let section = match &first {
                    Some(Step::Key(k)) if from_workload.contains(k) => "workload",
                    _ => "model",
                };
                path.insert(0, Step::Key(section.into()));
                cx.explain(path, format!("{message} (model `{}`)", M::NAME))
            })?;
        let model_params = match toml::Value::try_from(&config) {
            Ok(toml::Value::Table(t)) => t,
            _ => file.model.params.clone(),
        };
        // Build once: the model may reject its parameters (a setup assertion), and that is a
        // problem with the input, reported here rather than as a failure of every run.
        let limits = file.limits;
        if limits.horizon.as_nanos() == 0 {
            return Err(cx.error(
                &[Step::Key("limits".into()), Step::Key("horizon".into())],
                "the horizon must be positive".into(),
            ));
        }
        if limits.max_queue > limits::MAX_QUEUE {
            return Err(cx.error(
                &[Step::Key("limits".into()), Step::Key("max_queue".into())],
                format!("{} is over the bound of {}", limits.max_queue, limits::MAX_QUEUE),
            ));
        }
        check_sizes::<M>(cx, &model_params, &from_workload, file.topology.hosts)?;
        M::check(&config, file.topology.hosts).map_err(|m| {
            // Point at the first parameter the message names, else at the model.
            let named = m
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .find(|w| !w.is_empty() && param_exists(&model_params, w));
            let path = match named {
                Some(key) => {
                    let first = key.split('.').next().unwrap_or_default();
                    let section = if from_workload.iter().any(|k| k == first) {
                        "workload"
                    } else {
                        "model"
                    };
                    let mut p = vec![Step::Key(section.into())];
                    p.extend(key.split('.').map(|k| Step::Key(k.to_owned())));
                    p
                }
                None => vec![Step::Key("model".into())],
            };
            cx.error(&path, format!("model `{}`: {m}", M::NAME))
        })?;
        check_degrade_modes::<M>(cx, file)?;
        // Building is the check: the runner bounds spawns by `limits::MAX_PROCESSES`, so a
        // setup over it is refused here with the bound named.
        runner::build::<M>(&file.topology, &config, &FaultPlan::none(), limits, 0, None).map_err(|m| {
            cx.error(
                &[Step::Key("model".into())],
                format!("model `{}` rejected its parameters: {m}", M::NAME),
            )
        })?;
        let offered: Vec<String> = M::properties(&config).into_iter().map(|p| p.name).collect();
        let lists = [
            ("check", file.invariants.check.clone().unwrap_or_default()),
            ("skip", file.invariants.skip.clone()),
        ];
        for (list, names) in lists {
            for (i, n) in names.iter().enumerate() {
                if !offered.contains(n) {
                    let path = [
                        Step::Key("invariants".into()),
                        Step::Key(list.into()),
                        Step::Index(i),
                    ];
                    return Err(cx
                        .error(
                            &path,
                            format!(
                                "model `{}` has no property `{n}` (it has: {})",
                                M::NAME,
                                offered.join(", ")
                            ),
                        )
                        .suggest(n, offered.iter().map(String::as_str)));
                }
            }
        }
        let properties = offered.into_iter().filter(|n| file.invariants.wants(n)).collect();
        check_coverage::<M>(cx, file)?;
        Ok(Scenario {
            name: self.name.to_owned(),
            reference: self.reference.to_owned(),
            description: file.description.clone(),
            seed: file.seed.unwrap_or(1),
            model: model.clone(),
            model_params,
            topology: file.topology.clone(),
            faults: file.faults.clone(),
            invariants: file.invariants.clone(),
            limits,
            overrides: self.overrides.to_vec(),
            program: String::new(),
            properties,
            coverage: file.coverage.clone(),
            buggify: file.buggify,
        })
    }
}
