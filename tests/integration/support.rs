//! What several test modules share: running the CLI in-process and scratch directories.

use ruckus_scenarios::cli::{Io, main_with_args};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// What one `ruckus` invocation returned.
#[derive(Debug)]
pub struct Ran {
    pub code: u8,
    pub out: String,
    pub err: String,
}

/// Runs `ruckus ARGS` in-process.
pub fn ruckus(args: &[&str]) -> Ran {
    let mut out: Vec<u8> = Vec::new();
    let mut err: Vec<u8> = Vec::new();
    let code = {
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            terminal: false,
        };
        let argv = std::iter::once("ruckus").chain(args.iter().copied());
        main_with_args(argv, &mut io).code()
    };
    Ran {
        code,
        out: String::from_utf8(out).expect("utf-8 output"),
        err: String::from_utf8(err).expect("utf-8 errors"),
    }
}

/// `ruckus run SCENARIO --seed SEED --json EXTRA...`: the run's JSON report (a scenario is a
/// built-in name or a file path).
#[allow(dead_code)] // not every test module runs scenarios for their report
pub fn run_json(scenario: &str, seed: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", scenario, "--seed", seed, "--json"];
    args.extend_from_slice(extra);
    let ran = ruckus(&args);
    serde_json::from_str(&ran.out).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", ran.out, ran.err))
}

/// The path of a scenario file under scenarios/data/.
#[allow(dead_code)]
pub fn scenario_file(name: &str) -> String {
    format!("{}/../scenarios/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fresh_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ruckus-it-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh empty directory for one test, left behind for inspection.
pub fn scratch(name: &str) -> PathBuf {
    fresh_dir(name)
}

/// A fresh directory for one test's files, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir(fresh_dir(name))
    }
    #[allow(dead_code)] // not every module names files inside it
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    #[allow(dead_code)]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
