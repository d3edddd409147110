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

mod host_costs;
pub use host_costs::HostCostsEntry;
pub(crate) use host_costs::apply as apply_host_costs;

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

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The dotted path of the deepest key whose value spans byte `offset` of the text.
fn path_at(table: &DeTable<'_>, offset: usize) -> Vec<Step> {
    let mut path = Vec::new();
    let mut table = Some(table);
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    loop {
        let found = if let Some(t) = table {
            // A `[table]`'s own span covers only its header: take the last key before `offset`.
            t.iter()
                .filter(|(k, _)| k.span().start <= offset)
                .max_by_key(|(k, _)| k.span().start)
                .map(|(k, v)| (Step::Key(k.get_ref().to_string()), v))
        } else if let Some(a) = array {
            a.iter()
                .enumerate()
                .find(|(_, v)| v.span().contains(&offset))
                .map(|(i, v)| (Step::Index(i), v))
        } else {
            None
        };
        let Some((step, value)) = found else { return path };
        path.push(step);
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a),
            _ => return path,
        }
    }
}

/// One `--set key=value`, parsed.
#[derive(Clone, Debug)]
struct Override {
    raw: String,
    path: Vec<String>,
}

/// What errors are reported against: the text, its origin, and the overrides applied to it.
struct Context<'a> {
    origin: String,
    text: &'a str,
    root: Option<toml::Spanned<DeTable<'a>>>,
    overrides: Vec<Override>,
}

impl Context<'_> {
    /// An error about `path`: blamed on a `--set` when one touches it, else located in the text.
    fn error(&self, path: &[Step], message: String) -> ScenarioError {
        // An override's path names array elements by number, so compare indexes as text.
        let keys: Vec<String> = path
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => i.to_string(),
            })
            .collect();
        for o in &self.overrides {
            let n = o.path.len().min(keys.len());
            if n > 0 && o.path[..n] == keys[..n] {
                return ScenarioError::new(format!("--set {}", o.raw), message).at_field(render_path(path));
            }
        }
        let mut e = ScenarioError::new(self.origin.clone(), message).at_field(render_path(path));
        if let Some(span) = self.locate(path) {
            e = e.at_offset(self.text, span.start);
        }
        e
    }

    /// The span of the deepest part of `path` present in the text.
    fn locate(&self, path: &[Step]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut span = root.span();
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
        for step in path {
            let value = match step {
                Step::Key(k) => {
                    let (key, value) = table?
                        .iter()
                        .find(|(key, _)| key.get_ref().as_ref() == k.as_str())?;
                    // Point at the key itself when it is the last step (unknown fields, bad values
                    // in inline tables both read best there).
                    span = key.span();
                    value
                }
                Step::Index(i) => {
                    let value = array?.get(*i)?;
                    span = value.span();
                    value
                }
            };
            table = None;
            array = None;
            match value.get_ref() {
                DeValue::Table(t) => table = Some(t),
                DeValue::Array(a) => array = Some(a),
                _ => {}
            }
        }
        Some(span)
    }

    /// Deserializes `value` into `T`, turning a failure into an error located at its field.
    fn typed<T: DeserializeOwned>(&self, value: toml::Value, prefix: &[Step]) -> Result<T, ScenarioError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut path = prefix.to_vec();
            for segment in e.path().iter() {
                match segment {
                    serde_path_to_error::Segment::Seq { index } => path.push(Step::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => path.push(Step::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => path.push(Step::Key(variant.clone())),
                    serde_path_to_error::Segment::Unknown => {}
                }
            }
            let message = e.inner().message().trim().to_owned();
            self.explain(path, message)
        })
    }

    /// Adds the unknown name to the path and a suggestion, for serde's "unknown ..." messages.
    fn explain(&self, mut path: Vec<Step>, message: String) -> ScenarioError {
        let unknown = ["unknown field `", "unknown variant `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, rest)| (name.to_owned(), expected_names(rest)));
        match unknown {
            Some((name, expected)) => {
                if message.starts_with("unknown field") && path.last() != Some(&Step::Key(name.clone())) {
                    path.push(Step::Key(name.clone()));
                }
                self.error(&path, message)
                    .suggest(&name, expected.iter().map(String::as_str))
            }
            None => self.error(&path, message),
        }
    }
}

/// The names in serde's "expected one of `a`, `b`" / "expected `a`" tail.
fn expected_names(rest: &str) -> Vec<String> {
    rest.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn parse_override(raw: &str) -> Result<(Override, toml::Value), ScenarioError> {
    let origin = format!("--set {raw}");
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| ScenarioError::new(origin.clone(), "expected key=value, e.g. faults.enabled=true"))?;
    let path: Vec<String> = key.trim().split('.').map(|s| s.trim().to_owned()).collect();
    if path.iter().any(String::is_empty) {
        return Err(ScenarioError::new(
            origin,
            format!("`{key}` is not a dotted path such as limits.horizon"),
        ));
    }
    let value = value.trim();
    // A TOML value if it parses as one, otherwise the text itself (so `--set model.name=raft` works).
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    Ok((
        Override {
            raw: raw.to_owned(),
            path,
        },
        parsed,
    ))
}

fn apply_override(table: &mut toml::Table, o: &Override, value: toml::Value) -> Result<(), ScenarioError> {
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_path(&mut root, o, value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

/// Sets the value at `o.path` below `node`: keys step into tables (inline or not, created when
/// missing), numbers step into arrays (which must already hold that element).
fn set_path(mut node: &mut toml::Value, o: &Override, value: toml::Value) -> Result<(), ScenarioError> {
    let fail = |message: String| ScenarioError::new(format!("--set {}", o.raw), message);
    let (last, parents) = o.path.split_last().expect("paths are not empty");
    for (depth, key) in parents.iter().enumerate() {
        let here = || o.path[..depth].join(".");
        node = match node {
            toml::Value::Table(t) => t
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(a) => {
                let i = array_index(&here(), a.len(), key).map_err(fail)?;
                &mut a[i]
            }
            _ => return Err(fail(format!("`{}` is a value, not a table or an array", here()))),
        };
    }
    let here = o.path[..parents.len()].join(".");
    match node {
        toml::Value::Table(t) => {
            t.insert(last.clone(), value);
        }
        toml::Value::Array(a) => {
            let i = array_index(&here, a.len(), last).map_err(fail)?;
            a[i] = value;
        }
        _ => return Err(fail(format!("`{here}` is a value, not a table or an array"))),
    }
    Ok(())
}

/// `key` as an index into the array at `path` of `len` elements.
fn array_index(path: &str, len: usize, key: &str) -> Result<usize, String> {
    let range = match len {
        0 => "it is empty".to_owned(),
        1 => "the only index is 0".to_owned(),
        n => format!("indexes are 0 to {}", n - 1),
    };
    match key.parse::<usize>() {
        Ok(i) if i < len => Ok(i),
        Ok(i) => Err(format!(
            "`{path}` is an array of {len} element{}: index {i} is out of range ({range})",
            if len == 1 { "" } else { "s" }
        )),
        Err(_) => Err(format!(
            "`{path}` is an array of {len} element{}: `{key}` is not an index ({range})",
            if len == 1 { "" } else { "s" }
        )),
    }
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

fn check_topology(cx: &Context<'_>, t: &TopologySpec) -> Result<(), ScenarioError> {
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

fn check_faults(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
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
fn check_coverage<M: Model>(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
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
fn check_degrade_modes<M: Model>(cx: &Context<'_>, file: &FileFormat) -> Result<(), ScenarioError> {
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
fn check_sizes<M: Model>(
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
fn param_exists(table: &toml::Table, path: &str) -> bool {
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

/// A parsed file waiting for its model's type.
pub(crate) struct Partial<'a> {
    cx: &'a Context<'a>,
    file: &'a FileFormat,
    name: &'a str,
    reference: &'a str,
    overrides: &'a [String],
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

impl Scenario {
    /// The model's Config, as checked when the scenario was loaded.
    pub fn model_config<M: Model>(&self) -> Result<M::Config, String> {
        toml::Value::Table(self.model_params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())
    }
}
