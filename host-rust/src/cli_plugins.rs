//! `agentcell plugin`: call a plugin from the command line, loaded from a file with
//! limits and grants given as flags, or by name from a plugin config.

use agentcell_host::plugins::{Grants, Plugin, PluginSet, PLUGIN_LIMITS};
use agentcell_host::{HttpPolicy, Limits};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub(crate) struct PluginArgs {
    /// The plugin: a `.wasm` file, or a name in --config
    plugin: String,
    /// The input, as JSON text
    #[arg(long)]
    input: String,
    /// A plugin config (JSON, read by every host): PLUGIN is a name in it
    #[arg(long)]
    config: Option<PathBuf>,
    /// The plugin's memory cap in MiB (default 128)
    #[arg(long)]
    memory_mb: Option<usize>,
    /// The deadline of one call in milliseconds (default 5000)
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Grant a key-value namespace in this SQLite file
    #[arg(long)]
    kv: Option<PathBuf>,
    /// Grant HTTP to this destination (host, host:port or *); repeatable
    #[arg(long)]
    allow: Vec<String>,
}

pub(crate) fn run(args: PluginArgs) -> ExitCode {
    let kv = match args.kv.as_ref().map(agentcell_host::SqliteStorage::open).transpose() {
        Ok(kv) => kv.map(|s| Arc::new(s) as Arc<dyn agentcell_host::StorageBackend>),
        Err(e) => return fail(&e),
    };
    let set;
    let loaded;
    let plugin: &Plugin = if let Some(config) = &args.config {
        set = match PluginSet::from_file(config, kv) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match set.get(&args.plugin) {
            Ok(p) => p,
            Err(e) => return fail(&e),
        }
    } else {
        let limits = Limits {
            memory_bytes: args.memory_mb.map(|mb| mb << 20).or(PLUGIN_LIMITS.memory_bytes),
            call_timeout: args.timeout_ms.map(Duration::from_millis).or(PLUGIN_LIMITS.call_timeout),
        };
        let http =
            (!args.allow.is_empty()).then(|| HttpPolicy::new(args.allow.clone(), Duration::from_secs(10)));
        let grants = Grants { storage: kv, http, log: true };
        loaded = match Plugin::load(&args.plugin, None, grants, limits) {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        &loaded
    };
    match plugin.call_json(&args.input) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Prints the error as one JSON line on stderr (`{"code", "kind", "message"}`).
fn fail(e: &agentcell_host::Error) -> ExitCode {
    let kind = match e {
        agentcell_host::Error::Plugin { kind, .. } => kind.clone(),
        agentcell_host::Error::ResourceLimit { limit, .. } => limit.to_string(),
        _ => e.code(),
    };
    eprintln!("{}", serde_json::json!({"code": e.code(), "kind": kind, "message": e.to_string()}));
    ExitCode::FAILURE
}
