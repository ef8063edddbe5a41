//! The runtime: one compiled component per process, one instance per `Runtime`, the
//! host imports, and recovery after a trap (a trapped instance is replaced; storage
//! lives in the host, so nothing persisted is lost).

use crate::bindings::agentcell::core::{http_client, storage, transport};
use crate::bindings::exports::agentcell::core::diagnostics::Probe;
use crate::bindings::exports::agentcell::core::meta::BuildInfo;
use crate::bindings::Agentcell;
use crate::bus::{Bus, MemoryBus};
use crate::limits::{limit_of, start_ticker, CapLimiter, Limits, NO_DEADLINE};
use crate::storage::{MemoryStorage, SqliteStorage, StorageBackend};
use crate::{Error, HttpPolicy};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::types::Type;
use wasmtime::component::{Component, Func, Instance, Linker, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// What the component's imports see: WASI, storage and the HTTP policy.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    storage: Arc<dyn StorageBackend>,
    http: Arc<HttpPolicy>,
    bus: Arc<dyn Bus>,
    limiter: CapLimiter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl storage::Host for HostState {
    fn get(&mut self, namespace: String, key: String) -> Result<Option<String>, storage::StorageError> {
        Ok(self.storage.get_many(&namespace, &[key])?.pop().flatten())
    }
    fn set(&mut self, namespace: String, key: String, value: String) -> Result<(), storage::StorageError> {
        self.storage.set_many(&namespace, &[(key, value)])
    }
    fn delete(&mut self, namespace: String, key: String) -> Result<bool, storage::StorageError> {
        Ok(self.storage.delete_many(&namespace, &[key])? == 1)
    }
    fn exists(&mut self, namespace: String, key: String) -> Result<bool, storage::StorageError> {
        Ok(self.storage.get_many(&namespace, &[key])?[0].is_some())
    }
    fn list_keys(
        &mut self,
        namespace: String,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<storage::KeyPage, storage::StorageError> {
        self.storage.list_keys(&namespace, &prefix, cursor.as_deref(), limit)
    }
    fn get_many(
        &mut self,
        namespace: String,
        keys: Vec<String>,
    ) -> Result<Vec<Option<String>>, storage::StorageError> {
        self.storage.get_many(&namespace, &keys)
    }
    fn set_many(
        &mut self,
        namespace: String,
        entries: Vec<(String, String)>,
    ) -> Result<(), storage::StorageError> {
        self.storage.set_many(&namespace, &entries)
    }
    fn delete_many(&mut self, namespace: String, keys: Vec<String>) -> Result<u32, storage::StorageError> {
        self.storage.delete_many(&namespace, &keys)
    }
    fn compare_and_set(
        &mut self,
        namespace: String,
        key: String,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, storage::StorageError> {
        self.storage.compare_and_set(&namespace, &key, expected.as_deref(), &value)
    }
    fn commit(
        &mut self,
        namespace: String,
        guards: Vec<(String, Option<String>)>,
        writes: Vec<(String, Option<String>)>,
    ) -> Result<bool, storage::StorageError> {
        self.storage.commit(&namespace, &guards, &writes)
    }
}

impl http_client::Host for HostState {
    fn send(&mut self, req: http_client::Request) -> Result<http_client::Response, http_client::HttpError> {
        self.http.send(&req)
    }
}

impl transport::Host for HostState {
    fn publish(&mut self, topic: String, envelope: String) -> Result<(), String> {
        self.bus.publish(&topic, &envelope)
    }
}

struct Compiled {
    engine: Engine,
    component: Component,
    linker: Linker<HostState>,
}

fn compile(wasm: &[u8]) -> Result<Compiled, String> {
    let mut config = wasmtime::Config::new();
    // Calls can be given a deadline (see `limits`).
    config.epoch_interruption(true);
    // `AGENTCELL_PERFMAP=1`: name the component's compiled functions for `perf`.
    if std::env::var_os("AGENTCELL_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config).map_err(|e| e.to_string())?;
    let component = Component::new(&engine, wasm).map_err(|e| e.to_string())?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| e.to_string())?;
    Agentcell::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |s| s)
        .map_err(|e| e.to_string())?;
    Ok(Compiled { engine, component, linker })
}

/// The embedded component, compiled once per process.
fn compiled() -> Result<Arc<Compiled>, Error> {
    static COMPILED: OnceLock<Result<Arc<Compiled>, String>> = OnceLock::new();
    COMPILED.get_or_init(|| compile(crate::COMPONENT_WASM).map(Arc::new)).clone().map_err(Error::Load)
}

/// Another component file (the test build, say), compiled once per process and path.
fn compiled_file(path: &Path) -> Result<Arc<Compiled>, Error> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<Compiled>>>> = OnceLock::new();
    let mut files = FILES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = files.get(path) {
        return Ok(c.clone());
    }
    let wasm = std::fs::read(path).map_err(|e| Error::Load(format!("{}: {e}", path.display())))?;
    let c = Arc::new(compile(&wasm).map_err(|e| Error::Load(format!("{}: {e}", path.display())))?);
    files.insert(path.to_path_buf(), c.clone());
    Ok(c)
}

/// Where `make wasm` writes the test build (world `agentcell-test`: the shipped
/// exports plus the test-only `bench` and `testing`), relative to this crate's source.
pub fn test_component_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/agentcell-test.wasm")
}

pub(crate) struct Live {
    pub(crate) store: Store<HostState>,
    instance: Instance,
    pub(crate) bindings: Agentcell,
    stderr: MemoryOutputPipe,
}

/// A call refused before entering the component.
#[derive(Debug)]
struct NotCalled(String);

impl std::fmt::Display for NotCalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotCalled {}

impl Live {
    /// The exported function `interface.name`, looked up by name.
    fn export_func(&mut self, interface: &str, name: &str) -> wasmtime::Result<Func> {
        let not_called = |m: String| wasmtime::Error::new(NotCalled(m));
        let iface_name = crate::bindings::interface_name(interface);
        let iface = self
            .instance
            .get_export_index(&mut self.store, None, &iface_name)
            .ok_or_else(|| not_called(format!("the component exports no interface {iface_name}")))?;
        let index = self
            .instance
            .get_export_index(&mut self.store, Some(&iface), name)
            .ok_or_else(|| not_called(format!("the component exports no {interface}.{name}")))?;
        self.instance
            .get_func(&mut self.store, index)
            .ok_or_else(|| not_called(format!("{interface}.{name} is not a function")))
    }
}

/// Builds a [`Runtime`]: storage (SQLite file by default) and HTTP policy.
#[derive(Default)]
pub struct RuntimeBuilder {
    storage: Option<Arc<dyn StorageBackend>>,
    http: HttpPolicy,
    bus: Option<Arc<dyn Bus>>,
    component: Option<PathBuf>,
    limits: Limits,
}

impl RuntimeBuilder {
    /// Keep storage in memory.
    pub fn memory_storage(mut self) -> Self {
        self.storage = Some(Arc::new(MemoryStorage::default()));
        self
    }
    /// Keep storage in the SQLite file at `path` (created if needed).
    pub fn sqlite_storage(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.storage = Some(Arc::new(SqliteStorage::open(path)?));
        Ok(self)
    }
    /// Any backend.
    pub fn storage(mut self, backend: Arc<dyn StorageBackend>) -> Self {
        self.storage = Some(backend);
        self
    }
    /// The bus behind the `transport` import (default: in process).
    pub fn bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = Some(bus);
        self
    }
    pub fn http(mut self, policy: HttpPolicy) -> Self {
        self.http = policy;
        self
    }
    /// Run the component in the file at `path` instead of the embedded one: the test
    /// build ([`test_component_path`]) for tests and benchmarks.
    pub fn component_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.component = Some(path.into());
        self
    }
    /// The memory cap and call deadline of the instance (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    pub fn build(self) -> Result<Runtime, Error> {
        let storage = self.storage.unwrap_or_else(|| Arc::new(MemoryStorage::default()));
        let compiled = match &self.component {
            Some(path) => compiled_file(path)?,
            None => compiled()?,
        };
        let rt = Runtime {
            compiled,
            storage,
            http: Arc::new(self.http),
            bus: self.bus.unwrap_or_else(|| Arc::new(MemoryBus::default())),
            live: Mutex::new(None),
            instantiations: Mutex::new(0),
            limits: self.limits,
        };
        if rt.limits.call_timeout.is_some() {
            start_ticker(&rt.compiled.engine);
        }
        rt.with_live(|_| Ok(()))?;
        Ok(rt)
    }
}

/// One instance of the agentcell component. Calls are serialised by a lock.
pub struct Runtime {
    compiled: Arc<Compiled>,
    storage: Arc<dyn StorageBackend>,
    http: Arc<HttpPolicy>,
    bus: Arc<dyn Bus>,
    live: Mutex<Option<Live>>,
    instantiations: Mutex<u64>,
    limits: Limits,
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// How many instances this runtime has created (1, plus one after each trap).
    pub fn instantiations(&self) -> u64 {
        *self.instantiations.lock().unwrap()
    }

    fn instantiate(&self) -> Result<Live, Error> {
        let c = &self.compiled;
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            storage: self.storage.clone(),
            http: self.http.clone(),
            bus: self.bus.clone(),
            limiter: CapLimiter::new(&self.limits),
        };
        let mut store = Store::new(&c.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(NO_DEADLINE);
        let instance =
            c.linker.instantiate(&mut store, &c.component).map_err(|e| Error::Load(format!("{e:#}")))?;
        let bindings = Agentcell::new(&mut store, &instance).map_err(|e| Error::Load(format!("{e:#}")))?;
        *self.instantiations.lock().unwrap() += 1;
        Ok(Live { store, instance, bindings, stderr })
    }

    /// Runs `f` on the live instance; a trap replaces the instance and becomes `Error::Trap`.
    fn with_live<T>(&self, f: impl FnOnce(&mut Live) -> wasmtime::Result<T>) -> Result<T, Error> {
        self.call_named("(instantiate)", f)
    }

    /// The HTTP policy behind the component's `http-client` import (agent calls of the
    /// flows engine go through it too).
    pub fn http_policy(&self) -> &Arc<HttpPolicy> {
        &self.http
    }

    /// The bus behind the component's `transport` import.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    pub(crate) fn call_named<T>(
        &self,
        function: &str,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<T>,
    ) -> Result<T, Error> {
        // Poisoned: an earlier call panicked part-way (in a host import); its instance
        // may be mid-call, so it is replaced like a trapped one.
        let mut guard = self.live.lock().unwrap_or_else(|poisoned| {
            self.live.clear_poison();
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        });
        if guard.is_none() {
            *guard = Some(self.instantiate()?);
        }
        let live = guard.as_mut().expect("instantiated above");
        if let Some(ticks) = self.limits.deadline_ticks() {
            live.store.set_epoch_deadline(ticks);
        }
        // A panic in a host import fails this call, not the thread (a server worker
        // serves on): the instance is replaced and the caller gets an error.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(live)));
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic")
                    .to_string();
                *guard = None;
                return Err(Error::Call(format!("{function}: the host failed during the call: {what}")));
            }
        };
        match outcome {
            Ok(v) => Ok(v),
            // Nothing was entered (e.g. no such export): the instance is untouched.
            Err(e) if e.downcast_ref::<NotCalled>().is_some() => Err(Error::Call(format!("{e}"))),
            Err(e) => {
                let stderr = String::from_utf8_lossy(&live.stderr.contents()).into_owned();
                let limit = limit_of(&e, live.store.data().limiter.refused);
                // A failed call leaves the instance unusable ("cannot enter component
                // instance"), whether it trapped or was refused: it is replaced on the
                // next call, so a failure to instantiate then never hides this trap.
                *guard = None;
                if let Some(limit) = limit {
                    let detail = self.limits.describe(limit);
                    Err(Error::ResourceLimit { function: function.to_string(), limit, detail })
                } else if e.downcast_ref::<wasmtime::Trap>().is_some() {
                    Err(Error::Trap { function: function.to_string(), detail: trap_detail(&e, &stderr) })
                } else {
                    Err(Error::Call(format!("{function}: {e:#}")))
                }
            }
        }
    }

    pub fn version(&self) -> Result<String, Error> {
        self.call_named("meta.version", |l| l.bindings.agentcell_core_meta().call_version(&mut l.store))
    }
    pub fn rust_version(&self) -> Result<String, Error> {
        self.call_named("meta.rust-version", |l| {
            l.bindings.agentcell_core_meta().call_rust_version(&mut l.store)
        })
    }
    pub fn health_check(&self) -> Result<bool, Error> {
        self.call_named("meta.health-check", |l| {
            l.bindings.agentcell_core_meta().call_health_check(&mut l.store)
        })
    }
    pub fn describe_build(&self) -> Result<BuildInfo, Error> {
        self.call_named("meta.describe-build", |l| {
            l.bindings.agentcell_core_meta().call_describe_build(&mut l.store)
        })
    }
    pub fn counter_add(&self, name: &str, delta: i64) -> Result<i64, Error> {
        self.call_named("diagnostics.counter-add", |l| {
            l.bindings.agentcell_core_diagnostics().call_counter_add(&mut l.store, name, delta)
        })?
        .map_err(Error::from)
    }
    pub fn counter_get(&self, name: &str) -> Result<i64, Error> {
        self.call_named("diagnostics.counter-get", |l| {
            l.bindings.agentcell_core_diagnostics().call_counter_get(&mut l.store, name)
        })?
        .map_err(Error::from)
    }
    pub fn probe_url(&self, url: &str, timeout_ms: u32) -> Result<Probe, Error> {
        self.call_named("diagnostics.probe-url", |l| {
            l.bindings.agentcell_core_diagnostics().call_probe_url(&mut l.store, url, timeout_ms)
        })?
        .map_err(Error::from)
    }
    /// Test build only: traps on purpose (for tests of recovery); `Error::Trap`.
    pub fn trap(&self, message: &str) -> Result<(), Error> {
        self.call_test_export("testing", "trap", (message,))
    }
    /// Test build only: loops forever (a deadline must stop it).
    pub fn spin(&self) -> Result<u64, Error> {
        self.call_test_export::<_, (u64,)>("testing", "spin", ()).map(|(n,)| n)
    }
    /// Test build only: allocates `chunk_mib` MiB at a time without end (a memory cap
    /// must stop it).
    pub fn hog(&self, chunk_mib: u32) -> Result<u64, Error> {
        self.call_test_export::<_, (u64,)>("testing", "hog", (chunk_mib,)).map(|(n,)| n)
    }
    /// The limits this runtime's instances run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }
    /// Test build only: a call that does nothing (bench).
    pub fn noop(&self) -> Result<(), Error> {
        self.call_test_export("bench", "noop", ())
    }
    /// Test build only: `len` pattern bytes as a hex blob (bench).
    pub fn blob_out(&self, len: u32, seed: u32) -> Result<String, Error> {
        self.call_test_export::<_, (String,)>("bench", "blob-out", (len, seed)).map(|(s,)| s)
    }
    /// Test build only: length and byte sum of a hex blob (bench).
    pub fn blob_in(&self, data: &str) -> Result<(u32, u32), Error> {
        type Out = (Result<(u32, u32), crate::bindings::exports::agentcell::core::types::Error>,);
        self.call_test_export::<_, Out>("bench", "blob-in", (data,))?.0.map_err(Error::from)
    }
    /// Test build only: length of a string (bench: the cost of moving it and nothing else).
    pub fn text_len(&self, data: &str) -> Result<u32, Error> {
        self.call_test_export::<_, (u32,)>("bench", "text-len", (data,)).map(|(n,)| n)
    }

    /// Calls a test-only export (`bench`, `testing`: the test build has them, the
    /// embedded component does not) with typed parameters and results.
    fn call_test_export<P, R>(&self, interface: &str, name: &str, params: P) -> Result<R, Error>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
    {
        self.call_named(&format!("{interface}.{name}"), |l| {
            let func = l.export_func(interface, name)?;
            let typed = func
                .typed::<P, R>(&l.store)
                .map_err(|e| wasmtime::Error::new(NotCalled(format!("{interface}.{name}: {e}"))))?;
            typed.call(&mut l.store, params)
        })
    }

    /// Answers one Attuned API request (`attune-service.handle`): status and JSON body.
    pub fn service_handle(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, String), Error> {
        use crate::bindings::exports::agentcell::core::attune_service::ServiceRequest;
        let content_type = content_type.map(str::to_string);
        let req =
            ServiceRequest { method: method.into(), path: path.into(), content_type, body: body.into() };
        let r = self.call_named("attune-service.handle", |l| {
            l.bindings.agentcell_core_attune_service().call_handle(&mut l.store, &req)
        })?;
        Ok((r.status, r.body))
    }

    /// The paths the service answers without an API key (`attune-service.public-paths`).
    pub fn service_public_paths(&self) -> Result<Vec<String>, Error> {
        self.call_named("attune-service.public-paths", |l| {
            l.bindings.agentcell_core_attune_service().call_public_paths(&mut l.store)
        })
    }

    /// The user whose state a request writes, if it writes one (`attune-service.writer`).
    pub fn service_writer(&self, method: &str, path: &str, body: &str) -> Result<Option<String>, Error> {
        use crate::bindings::exports::agentcell::core::attune_service::ServiceRequest;
        let req = ServiceRequest {
            method: method.into(),
            path: path.into(),
            content_type: None,
            body: body.into(),
        };
        self.call_named("attune-service.writer", |l| {
            l.bindings.agentcell_core_attune_service().call_writer(&mut l.store, &req)
        })
    }

    /// The response for a request the host refused, in the API's error shape
    /// (`attune-service.refuse`).
    pub fn service_refuse(
        &self,
        reason: &crate::bindings::exports::agentcell::core::attune_service::Refusal,
    ) -> Result<(u16, String), Error> {
        let r = self.call_named("attune-service.refuse", |l| {
            l.bindings.agentcell_core_attune_service().call_refuse(&mut l.store, reason)
        })?;
        Ok((r.status, r.body))
    }

    /// Calls any export by name with dynamic values (used by the conformance runner).
    pub fn call_dynamic(&self, interface: &str, name: &str, args: &[Val]) -> Result<Option<Val>, Error> {
        self.call_named(&format!("{interface}.{name}"), |l| {
            let func = l.export_func(interface, name)?;
            let mut results = vec![Val::Bool(false); func.ty(&l.store).results().len()];
            func.call(&mut l.store, args, &mut results)?;
            Ok(results.pop())
        })
    }

    /// Ends a resource an export returned (a WIT `own<R>`, e.g. a `memory.store`),
    /// running the component's destructor. A resource of an instance replaced after a
    /// trap is gone with it; ending it again is an error.
    pub fn drop_resource(&self, resource: wasmtime::component::ResourceAny) -> Result<(), Error> {
        self.call_named("resource drop", |l| resource.resource_drop(&mut l.store))
    }

    /// The parameter types of an export (used to read JSON arguments).
    pub fn param_types(&self, interface: &str, name: &str) -> Result<Vec<Type>, Error> {
        self.with_live(|l| {
            let func = l.export_func(interface, name)?;
            Ok(func.ty(&l.store).params().map(|(_, t)| t).collect())
        })
    }
}

/// What a trap says: the guest's panic message when it printed one, else wasmtime's.
pub(crate) fn trap_detail(e: &wasmtime::Error, stderr: &str) -> String {
    let panic = panic_message(stderr);
    if panic.is_empty() {
        format!("{e:#}")
    } else {
        panic
    }
}

/// The guest's panic output as one line, the same in every host:
/// `thread '<unnamed>' panicked at src/x.rs:1:2:\nboom\nnote: ...` -> `boom (at src/x.rs:1:2)`.
fn panic_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .trim()
        .lines()
        .filter(|l| !l.starts_with("note:") && !l.starts_with("stack backtrace:"))
        .collect();
    match lines.split_first() {
        Some((first, rest)) if first.contains(" panicked at ") => {
            let location = first.split_once(" panicked at ").map_or("", |(_, l)| l).trim_end_matches(':');
            let message = rest.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
            let message = if message.is_empty() { "panic".to_string() } else { message };
            format!("{message} (at {location})")
        }
        _ => lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_reads_as_one_line_with_its_location() {
        let stderr = "thread '<unnamed>' (1) panicked at component/src/x.rs:25:9:\ndeliberate trap: boom\nstack backtrace:\nnote: run with RUST_BACKTRACE=1\n";
        assert_eq!(super::panic_message(stderr), "deliberate trap: boom (at component/src/x.rs:25:9)");
        assert_eq!(super::panic_message(""), "");
    }
}
