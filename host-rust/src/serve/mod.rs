//! `agentcell serve`: the HTTP APIs (today Attuned's). The component routes and answers every
//! request (`attune-service.handle`); this module does transport and what only a
//! server can do: API keys, per-key rate limits, the 1 MB body limit, one warm instance
//! per worker thread, and graceful shutdown.
//!
//! Thread per core: each worker thread runs its own single-threaded tokio runtime and
//! its own component instance, and accepts from the shared listening socket. A request
//! never leaves the thread that read it and no instance is shared: no lock is contended
//! and no task migrates between cores (measured against tokio's work-stealing runtime
//! with a pool of instances: see BENCHMARKS.md; handing connections out in turn from
//! one acceptor measured no better than sharing the socket).

//!
//! Split by job: this module starts the listener and the workers and stops them; [`gate`]
//! checks API keys and rate limits; [`routes`] turns a request into a call of the
//! component's service handler; [`lanes`] runs writes that wait off the workers.

mod gate;
mod lanes;
mod routes;

pub use routes::BODY_LIMIT;

use crate::storage::StorageBackend;
use crate::{Error, Runtime};
use gate::Gate;
use lanes::{WriteLanes, WRITE_LANES};
use routes::App;
use std::net::SocketAddr;
use std::sync::Arc;

/// How to serve.
pub struct ServeConfig {
    pub storage: Arc<dyn StorageBackend>,
    /// Accepted `Authorization: Bearer` keys; empty means no authentication.
    pub api_keys: Vec<String>,
    /// Requests per minute per key; 0 turns rate limiting off.
    pub rate_limit_per_minute: u32,
    /// Worker threads, each with its own runtime and warm component instance.
    pub workers: usize,
}

/// Serves until `shutdown` resolves; requests in flight finish first, and every write
/// acknowledged before that is already committed by the storage backend. Blocks the
/// calling thread, which waits for `shutdown` while the workers serve.
pub fn serve(
    listener: std::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let io = |what: &str, e: std::io::Error| Error::Load(format!("{what}: {e}"));
    listener.set_nonblocking(true).map_err(|e| io("listener", e))?;
    let gate = Arc::new(Gate::new(config.api_keys, config.rate_limit_per_minute));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let lanes = match config.storage.writes_wait() {
        true => Some(Arc::new(WriteLanes::start(&config.storage, WRITE_LANES)?)),
        false => None,
    };
    let mut workers = Vec::new();
    let mut public_paths: Option<Arc<Vec<String>>> = None;
    for n in 0..config.workers.max(1) {
        // Instances are made here, so a component that fails to load fails `serve`.
        let runtime = Runtime::builder().storage(config.storage.clone()).build()?;
        let public = match &public_paths {
            Some(p) => p.clone(),
            None => public_paths.insert(Arc::new(runtime.service_public_paths()?)).clone(),
        };
        let app = Arc::new(App { gate: gate.clone(), public_paths: public, runtime, lanes: lanes.clone() });
        let listener = listener.try_clone().map_err(|e| io("listener", e))?;
        let mut stopped = stopped.clone();
        let worker = std::thread::Builder::new()
            .name(format!("agentcell-serve-{n}"))
            .spawn(move || -> Result<(), Error> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| io("tokio", e))?;
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(|e| io("listener", e))?;
                    let router = axum::Router::new().fallback(routes::handle).with_state(app);
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        })
                        .await
                        .map_err(|e| io("server failed", e))
                })
            })
            .map_err(|e| io("worker thread", e))?;
        workers.push(worker);
    }
    let waiter =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| io("tokio", e))?;
    waiter.block_on(shutdown);
    let _ = stop.send(true);
    let mut result = Ok(());
    for worker in workers {
        let outcome = worker.join().unwrap_or_else(|_| Err(Error::Load("a worker thread panicked".into())));
        result = result.and(outcome);
    }
    result
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub fn parse_addr(addr: &str) -> Result<SocketAddr, Error> {
    addr.parse().map_err(|e| Error::Call(format!("--addr {addr:?}: {e}")))
}
