//! Plugins: users' own components of the world `agentcell:plugin`
//! (`plugins/wit/plugin.wit`), each loaded with its limits (memory cap, call deadline)
//! and its grants (a log, a key-value namespace of its own, allow-listed HTTP), called
//! with JSON. A WASI context that grants nothing: no preopened directory, no
//! environment, no sockets.

mod config;
mod host;

pub use config::PluginSet;

use crate::limits::{limit_of, start_ticker, CapLimiter, Limits, NO_DEADLINE};
use crate::{Error, HttpPolicy, StorageBackend};
use bindings::exports::agentcell::plugin::plugin::ErrorKind;
use bindings::AgentcellPlugin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub mod bindings {
    //! Bindings of the plugin world.
    wasmtime::component::bindgen!({ world: "agentcell-plugin", path: "../plugins/wit" });
}

/// A plugin's limits unless its configuration says otherwise: far below the core's.
pub const PLUGIN_LIMITS: Limits =
    Limits { memory_bytes: Some(128 << 20), call_timeout: Some(Duration::from_secs(5)) };

/// What a plugin may use beyond computing. A plugin never gets a filesystem, sockets
/// or the environment.
#[derive(Clone)]
pub struct Grants {
    /// The backend holding its key-value namespace `plugin/<name>` (None: no key-value).
    pub storage: Option<Arc<dyn StorageBackend>>,
    /// The allow-list its requests go through (None: no HTTP).
    pub http: Option<HttpPolicy>,
    /// Whether its log lines are written (to stderr).
    pub log: bool,
}

impl Default for Grants {
    fn default() -> Self {
        Grants { storage: None, http: None, log: true }
    }
}

/// What a plugin says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
}

pub(crate) struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CapLimiter,
    name: String,
    grants: Grants,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct Compiled {
    component: Component,
    linker: Linker<PluginState>,
}

/// The engine every plugin runs on (epoch interruption on, as for the core).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        Engine::new(&config).expect("a plugin engine")
    })
}

/// `path` compiled, once per process and file.
fn compiled(path: &Path) -> Result<Arc<Compiled>, Error> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<Compiled>>>> = OnceLock::new();
    let mut files = FILES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = files.get(path) {
        return Ok(c.clone());
    }
    let load = |m: String| Error::Load(format!("plugin {}: {m}", path.display()));
    let wasm = std::fs::read(path).map_err(|e| load(e.to_string()))?;
    let component = Component::new(engine(), &wasm).map_err(|e| load(format!("{e:#}")))?;
    let mut linker = Linker::new(engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| load(e.to_string()))?;
    AgentcellPlugin::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
        &mut linker,
        |s| s,
    )
    .map_err(|e| load(e.to_string()))?;
    let c = Arc::new(Compiled { component, linker });
    files.insert(path.to_path_buf(), c.clone());
    Ok(c)
}

struct Live {
    store: Store<PluginState>,
    bindings: AgentcellPlugin,
    stderr: MemoryOutputPipe,
}

/// One plugin instance with its limits and grants. Calls are serialised by a lock;
/// after a trap or a limit the instance is replaced on the next call.
pub struct Plugin {
    name: String,
    info: PluginInfo,
    path: PathBuf,
    compiled: Arc<Compiled>,
    grants: Grants,
    limits: Limits,
    live: Mutex<Option<Live>>,
    instantiations: Mutex<u64>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A plugin name: `[a-z0-9][a-z0-9-]*`, at most 64.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The name of a plugin loaded without one: the file's stem, lower case, with `-`
/// for anything outside `[a-z0-9-]` (the same in every host).
pub fn name_from_path(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name: String =
        stem.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' }).collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "plugin".into()
    } else {
        name.chars().take(64).collect()
    }
}

impl Plugin {
    /// Loads the plugin at `path` as `name` (default: [`name_from_path`]; the name
    /// decides its key-value namespace, so it is the host's, never the plugin's).
    pub fn load(
        path: impl AsRef<Path>,
        name: Option<&str>,
        grants: Grants,
        limits: Limits,
    ) -> Result<Plugin, Error> {
        let path = path.as_ref();
        let name = match name {
            Some(n) if !valid_name(n) => {
                return Err(Error::Call(format!(
                    "{n:?} is not a plugin name ([a-z0-9][a-z0-9-]*, at most 64)"
                )))
            }
            Some(n) => n.to_string(),
            None => name_from_path(path),
        };
        let compiled = compiled(path)?;
        if limits.call_timeout.is_some() {
            start_ticker(engine());
        }
        let mut plugin = Plugin {
            name,
            info: PluginInfo { name: String::new(), version: String::new(), description: String::new() },
            path: path.to_path_buf(),
            compiled,
            grants,
            limits,
            live: Mutex::new(None),
            instantiations: Mutex::new(0),
        };
        let info = plugin
            .with_live("describe", |l| l.bindings.agentcell_plugin_plugin().call_describe(&mut l.store))?;
        plugin.info = PluginInfo { name: info.name, version: info.version, description: info.description };
        Ok(plugin)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn limits(&self) -> Limits {
        self.limits
    }
    /// How many instances it has had (1, plus one after each trap or limit).
    pub fn instantiations(&self) -> u64 {
        *self.instantiations.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn instantiate(&self) -> Result<Live, Error> {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let state = PluginState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
            limiter: CapLimiter::new(&self.limits),
            name: self.name.clone(),
            grants: self.grants.clone(),
        };
        let mut store = Store::new(engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(NO_DEADLINE);
        let load = |e: wasmtime::Error| Error::Load(format!("plugin {}: {e:#}", self.path.display()));
        let bindings =
            AgentcellPlugin::instantiate(&mut store, &self.compiled.component, &self.compiled.linker)
                .map_err(load)?;
        *self.instantiations.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(Live { store, bindings, stderr })
    }

    fn with_live<T>(
        &self,
        function: &str,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<T>,
    ) -> Result<T, Error> {
        let mut guard = self.live.lock().unwrap_or_else(|p| {
            self.live.clear_poison();
            let mut g = p.into_inner();
            *g = None;
            g
        });
        if guard.is_none() {
            *guard = Some(self.instantiate()?);
        }
        let live = guard.as_mut().expect("instantiated above");
        if let Some(ticks) = self.limits.deadline_ticks() {
            live.store.set_epoch_deadline(ticks);
        }
        let function = format!("plugin {}: {function}", self.name);
        match f(live) {
            Ok(v) => Ok(v),
            Err(e) => {
                let refused = live.store.data().limiter.refused;
                let stderr = String::from_utf8_lossy(&live.stderr.contents()).into_owned();
                *guard = None; // a failed instance is not entered again
                Err(match limit_of(&e, refused) {
                    Some(limit) => {
                        Error::ResourceLimit { function, limit, detail: self.limits.describe(limit) }
                    }
                    None => Error::Trap { function, detail: crate::runtime::trap_detail(&e, &stderr) },
                })
            }
        }
    }

    /// Sends JSON text; the plugin's JSON answer, or `Error::Plugin` with the kind it
    /// reported, `Error::ResourceLimit` past a limit, `Error::Trap` after a trap.
    pub fn call_json(&self, input: &str) -> Result<String, Error> {
        let out =
            self.with_live("call", |l| l.bindings.agentcell_plugin_plugin().call_call(&mut l.store, input))?;
        out.map_err(|e| Error::Plugin {
            plugin: self.name.clone(),
            kind: match e.kind {
                ErrorKind::InvalidInput => "invalid-input",
                ErrorKind::Permanent => "permanent",
                ErrorKind::Retryable => "retryable",
            }
            .into(),
            message: e.message,
        })
    }

    /// `call_json` on a JSON value.
    pub fn call(&self, input: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let out = self.call_json(&input.to_string())?;
        serde_json::from_str(&out).map_err(|e| Error::Plugin {
            plugin: self.name.clone(),
            kind: "permanent".into(),
            message: format!("the plugin answered with invalid JSON: {e}"),
        })
    }
}
