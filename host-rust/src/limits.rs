//! Limits on a component instance: a cap on its linear memory (a store limiter that
//! refuses `memory.grow` past it and remembers that it did) and a deadline on each call
//! (epoch interruption: one ticker thread per engine advances the epoch every
//! [`TICK`] once some runtime has a deadline). A call past either fails with
//! [`Error::ResourceLimit`](crate::Error::ResourceLimit) and the instance is replaced.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use wasmtime::{Engine, ResourceLimiter};

/// How often the epoch advances while a deadline is in force (the deadline's grain).
pub const TICK: Duration = Duration::from_millis(5);
/// The epoch deadline of a store with no time limit: centuries at [`TICK`].
pub const NO_DEADLINE: u64 = 1 << 40;

/// What one component instance may use; a call past a limit fails with
/// `Error::ResourceLimit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory, in bytes (None: wasm's own 4 GiB).
    pub memory_bytes: Option<usize>,
    /// The longest one call may run (None: no deadline).
    pub call_timeout: Option<Duration>,
}

impl Default for Limits {
    /// The core's defaults: 1 GiB of memory, no deadline (a call may wait on the
    /// network through a host import).
    fn default() -> Self {
        Limits { memory_bytes: Some(1 << 30), call_timeout: None }
    }
}

impl Limits {
    /// The limit as the error message says it: `200ms`, `64 MiB`.
    pub fn describe(&self, limit: Limit) -> String {
        match limit {
            Limit::Time => format!("{:?}", self.call_timeout.unwrap_or_default()),
            Limit::Memory => match self.memory_bytes {
                Some(cap) => format!("{} MiB", cap >> 20),
                None => "wasm's own 4 GiB".to_string(),
            },
        }
    }

    /// Epoch ticks for the call deadline: at least the timeout, at most one tick more.
    pub fn deadline_ticks(&self) -> Option<u64> {
        self.call_timeout.map(|t| t.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1)
    }
}

/// Which limit, if any, a failed call ran into: the epoch deadline (an interrupt
/// trap), or the memory cap (any trap after the limiter refused a growth: the guest's
/// allocator aborts when `memory.grow` fails).
pub fn limit_of(e: &wasmtime::Error, memory_refused: bool) -> Option<Limit> {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => Some(Limit::Time),
        Some(_) if memory_refused => Some(Limit::Memory),
        _ => None,
    }
}

/// Which limit stopped a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Time,
    Memory,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Time => "time",
            Limit::Memory => "memory",
        })
    }
}

/// The store's limiter: the memory cap, and whether it refused a growth.
#[derive(Debug, Default)]
pub struct CapLimiter {
    memory_bytes: Option<usize>,
    pub(crate) refused: bool,
}

impl CapLimiter {
    pub fn new(limits: &Limits) -> Self {
        CapLimiter { memory_bytes: limits.memory_bytes, refused: false }
    }
}

impl ResourceLimiter for CapLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.memory_bytes.is_none_or(|cap| desired <= cap);
        self.refused |= !allowed;
        Ok(allowed)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Starts `engine`'s epoch ticker (a thread for the life of the process) unless it
/// runs already.
pub fn start_ticker(engine: &Engine) {
    static TICKING: OnceLock<Mutex<Vec<Engine>>> = OnceLock::new();
    let mut ticking = TICKING.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if ticking.iter().any(|e| Engine::same(e, engine)) {
        return;
    }
    ticking.push(engine.clone());
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("agentcell-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            engine.increment_epoch();
        })
        .expect("spawn the epoch ticker");
}
