//! Scenario files: a run described as data, composed from named parts.
//!
//! In the manner of FoundationDB's test files, a scenario composes parts, each a TOML table:
//!
//! ```toml
//! description = "one line for `ruckus scenarios`"
//! seed = 1                      # default seed for `ruckus run`
//!
//! [model]                       # which model, and its parameters (the model's Config)
//! name = "pingpong"
//!
//! [topology]                    # hosts and the network between them
//! hosts = 5
//! layout = "single_switch"      # or "zoned" (with `zones` and `inter_zone`)
//! latency = { uniform = { min = "1ms", max = "10ms" } }
//! # optional: what work costs on every host (none by default; see ruckus_sim::costs)
//! costs = { handler = { exponential = { mean = "50us" } }, disk_sync = "2ms" }
//! # optional: other costs for some hosts, by `host`, `hosts` or `zone` (HostCostsEntry)
//! host_costs = [{ host = 2, handler = "5ms" }]
//! # clocks that start apart, drawn per seed and host (by default offsets within ±1 ms and
//! # drift within ±20 ppm; all zero for clocks that agree exactly)
//! clock_spread = { offset_max = "100ms", drift_max_ppm = 50, start_jitter_max = "150ms" }
//! # optional: "per_source" gives each sending host its own message-delay stream and each role
//! # fault its own pick stream, so shrinking keeps fewer faults of a churn failure; slower
//! # with thousands of hosts (default "shared": one stream for each)
//! streams = "per_source"
//!
//! [workload]                    # the model's workload parameters (merged into its Config)
//! in_flight = 50
//! deliveries = 1_000_000
//!
//! [faults]                      # a fault profile expanded per seed, or an explicit plan
//! enabled = false
//! [faults.profile]
//! crash = { mean_interval = "5s", duration_min = "100ms", duration_max = "1s" }
//! # the chaos family (each optional; see ruckus_sim::fault and below)
//! instance_killer = { roles = ["tier1"], every = "10s", from = "30s", down_for = "5s" }
//!
//! [invariants]                  # which of the model's properties to check (all by default)
//! skip = []
//!
//! [limits]                      # horizon, event budget, queue bound
//! horizon = "300s"
//!
//! [coverage]                    # probes (the model's `Model::probes`) a sweep must reach
//! require = ["raft.leader_change_during_partition"]
//!
//! [buggify]                     # code-level fault sites in the model (off by default)
//! enabled = true
//! probability = 0.25            # how often an enabled site fires
//! ```
//!
//! ## Faults
//!
//! `[faults.profile]` takes, per kind of fault, a rate (`crash`, `pause`, `kill_process`,
//! `partition`, `clog`, `slow_link`, `clock_jump`, `clock_drift`, `network_chaos`, `degrade`,
//! `slow_disk`:
//! each `{ mean_interval, duration_min, duration_max }`), the bounds `max_hosts_down`,
//! `quiet_period`, `swarm`, `clock_jump_max`, `clock_drift_max_ppm`, `slow_factor_max`,
//! `chaos` and `degrade_modes`, and the chaos family, each part optional and combinable
//! (times are offsets from the start; every fault ends by `horizon - quiet_period`; these
//! parts ignore `max_hosts_down`):
//!
//! ```toml
//! [faults.profile]
//! # Chaos Monkey: every 10 s from 30 s (until when faults stop, or `until`), kill a random
//! # process of a random one of the roles; it restarts after `down_for`.
//! instance_killer = { roles = ["tier1", "tier2"], every = "10s", from = "30s", down_for = "5s" }
//! # Latency Monkey: a degradation (the model's mode) on 30% of a role's processes' hosts.
//! latency_monkey = { role = "tier1", percent = 30, mode = "slow:4", at = "40s", duration = "20s" }
//! # Chaos Gorilla: every host of a zone down together (`zone` omitted: drawn per seed).
//! zone_outage = { zone = "z1", at = "60s", down_for = "30s" }
//! # One zone cut off from the others (`zone` omitted: drawn per seed).
//! zone_partition = { at = "100s", duration = "10s" }
//! # 20% of the hosts (drawn per seed) drift by ±500 ppm, and step by ±50 ms at the start.
//! clock_skew = { percent = 20, drift_ppm = 500, jump = "50ms", at = "20s", duration = "60s" }
//! # Crash "the leader" (or any role target) halfway to when faults stop (or at `at`).
//! leader_crash = { target = "the leader", down_for = "5s" }
//! # Role-targeted faults at random times within a window: action = crash | pause | kill |
//! # isolate | degrade (with `mode`); `from`, `until`, `duration_min`, `duration_max` optional.
//! [[faults.profile.role_faults]]
//! action = "pause"
//! target = "a random follower"
//! mean_interval = "5s"
//! from = "10s"
//! until = "40s"
//! ```
//!
//! An explicit plan lists actions by hand; a fault may name a role instead of a host,
//! resolved when it begins among the live processes that play the role (the model documents
//! its role names, e.g. raft's `leader`, `follower`, `candidate`; services' `tierN`):
//!
//! ```toml
//! [faults.plan]
//! heal_at = "20s"
//! [[faults.plan.actions]]
//! at = "3s"
//! fault = { crash_host = { host = 2, down_for = "1s" } }
//! [[faults.plan.actions]]
//! at = "5s"
//! fault = { crash_role = { target = "the leader", down_for = "2s" } }
//! # also pause_role { target, paused_for }, kill_role { target, down_for },
//! # isolate_role { target, duration }, degrade_role { target, mode, duration }
//! ```
//!
//! A target is `"the <role>"`, `"a random <role>"`, `"<n>% of <role>"` or `"all <role>"`;
//! with nobody playing the role the fault is skipped, and the trace says so.
//!
//! Times are nanoseconds or strings with a unit (`"10ms"`). `--set key=value` overrides any
//! value by its dotted path before the file is checked (`--set faults.enabled=true`); a number
//! in the path picks an element of an array (`--set model.tiers.0.concurrency=3`), and inline
//! tables are set like any other. The value is parsed as TOML, and as a plain string when it
//! is not valid TOML.
//!
//! Every problem becomes a [`ScenarioError`] naming the file, line, column and field path,
//! with the closest valid name for unknown names.

use crate::error::ScenarioError;
use crate::limits;
use crate::registry::{ModelRef, Registry};
use crate::runner;
use ruckus_sim::{
    BuggifyConfig, ClockSpread, Distribution, Fault, FaultPlan, FaultProfile, HostCosts, Limits, Model,
    StreamLayout,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use toml::de::{DeTable, DeValue};

mod checks;
mod host_costs;
mod location;
mod overrides;
mod partial;
use checks::{check_faults, check_topology};
pub use host_costs::HostCostsEntry;
pub(crate) use host_costs::apply as apply_host_costs;
use location::{Context, Step, path_at, render_path};
use overrides::{Override, apply_override, parse_override};
pub(crate) use partial::Partial;

/// How hosts are connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Every pair of hosts sees `latency`.
    #[default]
    SingleSwitch,
    /// Hosts spread round-robin over `zones`; `latency` within a zone, plus `inter_zone` across.
    Zoned,
}

/// A host whose clock starts off true time or runs fast or slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostClock {
    /// The host's index.
    pub host: u32,
    /// Local reading minus true time at the start, in nanoseconds.
    #[serde(default)]
    pub offset_ns: i64,
    /// Drift in parts per million.
    #[serde(default)]
    pub drift_ppm: i64,
}

/// The `[topology]` part: how many hosts, and the network and clocks between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Number of hosts.
    pub hosts: u32,
    /// How they are connected.
    #[serde(default)]
    pub layout: Layout,
    /// Latency between two hosts (within one zone, for `zoned`).
    pub latency: Distribution,
    /// Number of zones (`zoned` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<u32>,
    /// Latency between zone switches (`zoned` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_zone: Option<Distribution>,
    /// Hosts with skewed or drifting clocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<HostClock>,
    /// What work costs on every host: CPU time per handled event, disk sync latency
    /// (`[topology.costs]`; none by default, see `ruckus_sim::costs`).
    #[serde(default, skip_serializing_if = "is_free")]
    pub costs: HostCosts,
    /// Costs for some hosts (by index or zone) over `costs`, field by field, later entries
    /// winning (`[[topology.host_costs]]`; see [`HostCostsEntry`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_costs: Vec<HostCostsEntry>,
    /// Per-host clock offsets, drift and boot times drawn from the seed
    /// (`[topology.clock_spread]`; [`ClockSpread::typical`] by default, so no two hosts fire
    /// at the same instant unless the file sets it to zero). Always written out, so a trace's
    /// stored scenario says which spread it ran with.
    #[serde(default = "ClockSpread::typical")]
    pub clock_spread: ClockSpread,
    /// How message delays and role-fault picks split into random streams
    /// (`streams = "shared"`, the default, or `"per_source"`, which shrinks churn failures
    /// further at a CPU cost on many hosts; see `ruckus_sim::StreamLayout`). Always written
    /// out, so a trace's stored scenario says which layout it ran with; a stored scenario
    /// written before the key existed ran with the shared layout, the default.
    #[serde(default)]
    pub streams: StreamLayout,
}

fn is_free(c: &HostCosts) -> bool {
    *c == HostCosts::default()
}

/// The `[faults]` part: a profile expanded per seed, or an explicit plan, and a switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    /// Whether faults are injected at all (`--set faults.enabled=true` switches them on).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Fault kinds and rates, expanded into a plan from each run's seed.
    #[serde(default)]
    pub profile: FaultProfile,
    /// An explicit plan, used as is for every seed (instead of a profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<FaultPlan>,
}

fn enabled_by_default() -> bool {
    true
}

impl Default for FaultsSpec {
    fn default() -> Self {
        FaultsSpec {
            enabled: true,
            profile: FaultProfile::none(),
            plan: None,
        }
    }
}

/// The `[invariants]` part: which of the model's properties to check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantsSpec {
    /// Only these properties (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Vec<String>>,
    /// Properties not to check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

impl InvariantsSpec {
    /// Whether the property called `name` is checked.
    pub fn wants(&self, name: &str) -> bool {
        self.check.as_ref().is_none_or(|c| c.iter().any(|n| n == name))
            && !self.skip.iter().any(|n| n == name)
    }
}

/// The `[coverage]` part: coverage probes the sweep must reach.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSpec {
    /// Probes (declared by the model) that at least one run of a sweep must reach; a sweep
    /// where none does fails with its own exit code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
}

impl CoverageSpec {
    fn is_empty(&self) -> bool {
        self.require.is_empty()
    }
}

fn buggify_is_default(b: &BuggifyConfig) -> bool {
    *b == BuggifyConfig::default()
}

/// The `[model]` part as written: a name, and parameters checked against the model's Config.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ModelSection {
    name: String,
    #[serde(flatten)]
    params: toml::Table,
}

/// A scenario file as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "seed_text")]
    seed: Option<u64>,
    model: ModelSection,
    topology: TopologySpec,
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    workload: toml::Table,
    #[serde(default)]
    faults: FaultsSpec,
    #[serde(default)]
    invariants: InvariantsSpec,
    #[serde(default)]
    limits: Limits,
    #[serde(default, skip_serializing_if = "CoverageSpec::is_empty")]
    coverage: CoverageSpec,
    #[serde(default, skip_serializing_if = "buggify_is_default")]
    buggify: BuggifyConfig,
}

/// Seeds in files: TOML integers are signed 64-bit, so a seed of 2^63 or more (half of those a
/// sweep prints) is written as a string, decimal or `0x` hex: `seed = "18446744073709551615"`.
/// Smaller seeds may be either; a scenario is written back with an integer when one fits.
mod seed_text {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses a seed written as text: decimal or `0x`-prefixed hex, `_` separators allowed.
    pub fn parse(text: &str) -> Result<u64, String> {
        let t = text.trim().replace('_', "");
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => t.parse::<u64>(),
        };
        parsed.map_err(|_| {
            format!(
                "seed {:?} is not a number from 0 to 18446744073709551615 (decimal or 0x hex)",
                crate::error::clip(text, crate::limits::MAX_ECHO_CHARS)
            )
        })
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Integer(i64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Written>::deserialize(d)? {
            None => Ok(None),
            Some(Written::Integer(i)) => u64::try_from(i)
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("seed {i} is negative"))),
            Some(Written::Text(t)) => parse(&t).map(Some).map_err(serde::de::Error::custom),
        }
    }

    pub fn serialize<S: Serializer>(seed: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match seed {
            None => s.serialize_none(),
            Some(v) => match i64::try_from(*v) {
                Ok(i) => s.serialize_i64(i),
                Err(_) => s.serialize_str(&v.to_string()),
            },
        }
    }
}

/// A checked scenario, ready to run under any seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Its name: a built-in's name, or the file's stem.
    pub name: String,
    /// How the user referred to it (a built-in name or a path), for replay commands.
    pub reference: String,
    /// One line saying what it exercises.
    pub description: String,
    /// The seed `ruckus run` uses when none is given.
    pub seed: u64,
    /// The model (from the registry the scenario was loaded with).
    pub model: ModelRef,
    /// The model's full parameters (`[model]` and `[workload]` merged, defaults filled in).
    pub model_params: toml::Table,
    /// Hosts and network.
    pub topology: TopologySpec,
    /// Faults.
    pub faults: FaultsSpec,
    /// Which properties to check.
    pub invariants: InvariantsSpec,
    /// Horizon, event budget, queue bound.
    pub limits: Limits,
    /// The `--set` overrides applied, as given (for replay commands).
    pub overrides: Vec<String>,
    /// The command that runs the registry this scenario came from (for replay commands).
    pub program: String,
    /// The names of the properties that will be checked.
    pub properties: Vec<String>,
    /// Coverage probes a sweep must reach.
    pub coverage: CoverageSpec,
    /// Buggify sites: off, or on with a firing probability.
    pub buggify: BuggifyConfig,
}

impl Scenario {
    /// Loads a scenario of `registry` by name, or a file by path, and applies `overrides`.
    pub fn load(
        registry: &Registry,
        reference: &str,
        overrides: &[String],
    ) -> Result<Scenario, ScenarioError> {
        let looks_like_path = reference.contains('/') || reference.ends_with(".toml");
        if let Some(text) = registry.scenario_text(reference).filter(|_| !looks_like_path) {
            let origin = format!("built-in scenario `{reference}` (scenarios/data/{reference}.toml)");
            return Scenario::from_text(registry, reference, reference, &origin, text, overrides);
        }
        let path = std::path::Path::new(reference);
        if path.exists() || looks_like_path {
            let text = crate::output::read_bounded(path, crate::limits::MAX_SCENARIO_BYTES, "scenario file")
                .map_err(|m| {
                    ScenarioError::new(
                        reference,
                        m.trim_start_matches(&format!("{reference}: ")).to_owned(),
                    )
                })?;
            let name = path
                .file_stem()
                .map_or_else(|| reference.to_owned(), |s| s.to_string_lossy().into_owned());
            return Scenario::from_text(registry, &name, reference, reference, &text, overrides);
        }
        match std::fs::read_to_string(reference) {
            Ok(text) => {
                let name = std::path::Path::new(reference)
                    .file_stem()
                    .map_or_else(|| reference.to_owned(), |s| s.to_string_lossy().into_owned());
                Scenario::from_text(registry, &name, reference, reference, &text, overrides)
            }
            Err(e) if looks_like_path || e.kind() != std::io::ErrorKind::NotFound => {
                Err(ScenarioError::new(reference, format!("cannot read the scenario file: {e}")))
            }
            Err(_) => Err(ScenarioError::new(
                reference,
                format!(
                    "no built-in scenario or file of that name (built-ins: {}; `ruckus scenarios` lists them)",
                    registry.scenario_names().collect::<Vec<_>>().join(", ")
                ),
            )
            .suggest(reference, registry.scenario_names())),
        }
    }

    /// Checks the scenario `text` (which came from `origin`) with `overrides` applied.
    pub fn from_text(
        registry: &Registry,
        name: &str,
        reference: &str,
        origin: &str,
        text: &str,
        overrides: &[String],
    ) -> Result<Scenario, ScenarioError> {
        let root = DeTable::parse(text).map_err(|e| {
            let mut message = e.message().trim().to_owned();
            if let Some(span) = e.span() {
                // Name the key: "duplicate key" alone does not say which.
                if message.starts_with("duplicate key")
                    && let Some(key) = text.get(span.clone()).map(str::trim).filter(|k| !k.is_empty())
                {
                    message = format!("duplicate key `{key}`");
                }
            }
            let mut err = ScenarioError::new(origin, message);
            if let Some(span) = e.span() {
                err = err.at_offset(text, span.start);
            }
            err
        })?;
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let mut message = e.message().trim().to_owned();
            let path = e.span().map(|s| path_at(root.get_ref(), s.start)).unwrap_or_default();
            if message.contains("too large") {
                message = "the integer is out of range: TOML integers are signed 64-bit (at most 9223372036854775807)".into();
                if path == [Step::Key("seed".into())] {
                    message.push_str(
                        "; write a larger seed as a string, e.g. seed = \"18446744073709551615\" or \"0xffffffffffffffff\"",
                    );
                }
            }
            let mut err = ScenarioError::new(origin, message).at_field(render_path(&path));
            if let Some(span) = e.span() {
                err = err.at_offset(text, span.start);
            }
            err
        })?;
        let mut parsed = Vec::new();
        for raw in overrides {
            let (o, value) = parse_override(raw)?;
            apply_override(&mut table, &o, value)?;
            parsed.push(o);
        }
        let cx = Context {
            origin: origin.to_owned(),
            text,
            root: Some(root),
            overrides: parsed,
        };
        let file: FileFormat = cx.typed(toml::Value::Table(table), &[])?;
        check_topology(&cx, &file.topology)?;
        check_faults(&cx, &file)?;
        let model_name = file.model.name.clone();
        let partial = Partial {
            cx: &cx,
            file: &file,
            name,
            reference,
            overrides,
        };
        match registry.model(&model_name) {
            Some(model) => {
                let mut scenario = model.entry().resolve(model, partial)?;
                registry.program_name().clone_into(&mut scenario.program);
                Ok(scenario)
            }
            None => Err(cx
                .error(
                    &[Step::Key("model".into()), Step::Key("name".into())],
                    format!(
                        "unknown model `{model_name}`: {}",
                        registry.unknown_model_help(&model_name)
                    ),
                )
                .suggest(&model_name, registry.model_names())),
        }
    }

    /// The scenario as one self-contained TOML document, every default filled in: what a trace
    /// header stores so a replay rebuilds exactly this run without the original file or flags.
    pub fn to_toml(&self) -> String {
        let mut model = self.model_params.clone();
        model.insert("name".into(), toml::Value::String(self.model.name().to_owned()));
        let file = FileFormat {
            description: self.description.clone(),
            seed: Some(self.seed),
            model: ModelSection {
                name: self.model.name().to_owned(),
                params: self.model_params.clone(),
            },
            topology: self.topology.clone(),
            workload: toml::Table::new(),
            faults: self.faults.clone(),
            invariants: self.invariants.clone(),
            limits: self.limits,
            coverage: self.coverage.clone(),
            buggify: self.buggify,
        };
        toml::to_string(&file).expect("a checked scenario always serializes")
    }

    /// A shell command that runs this scenario under `seed` again.
    pub fn replay_command(&self, seed: u64) -> String {
        let mut cmd = format!(
            "{} run {} --seed {seed}",
            self.program,
            shell_quote(&self.reference)
        );
        for o in &self.overrides {
            cmd.push_str(" --set ");
            cmd.push_str(&shell_quote(o));
        }
        cmd
    }

    /// A shell command that replays the trace file at `path`.
    pub fn replay_trace_command(&self, path: &std::path::Path) -> String {
        format!(
            "{} replay {}",
            self.program,
            shell_quote(&path.display().to_string())
        )
    }

    /// A short stable hash of the resolved scenario, so sweep outputs from different scenarios
    /// or overrides are never merged or resumed into each other.
    pub fn config_hash(&self) -> String {
        format!("{:016x}", ruckus_sim::record::digest(self.to_toml().as_str()))
    }
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Scenario {
    /// The model's Config, as checked when the scenario was loaded.
    pub fn model_config<M: Model>(&self) -> Result<M::Config, String> {
        toml::Value::Table(self.model_params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())
    }
}
