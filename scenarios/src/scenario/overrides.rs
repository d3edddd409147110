//! `--set key=value` overrides: parsed, then applied to the file's table before it is checked.

use super::*;

/// One `--set key=value`, parsed.
#[derive(Clone, Debug)]
pub(super) struct Override {
    pub(super) raw: String,
    pub(super) path: Vec<String>,
}

pub(super) fn parse_override(raw: &str) -> Result<(Override, toml::Value), ScenarioError> {
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

pub(super) fn apply_override(
    table: &mut toml::Table,
    o: &Override,
    value: toml::Value,
) -> Result<(), ScenarioError> {
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_path(&mut root, o, value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

/// Sets the value at `o.path` below `node`: keys step into tables (inline or not, created when
/// missing), numbers step into arrays (which must already hold that element).
pub(super) fn set_path(
    mut node: &mut toml::Value,
    o: &Override,
    value: toml::Value,
) -> Result<(), ScenarioError> {
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
pub(super) fn array_index(path: &str, len: usize, key: &str) -> Result<usize, String> {
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
