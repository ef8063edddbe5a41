//! `agentcell serve`: the Attuned HTTP API. The component routes and answers every
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

use crate::storage::StorageBackend;
use crate::{Error, Runtime};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request};
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const BODY_LIMIT: usize = 1024 * 1024;
const PUBLIC_PATHS: [&str; 3] = ["/health", "/ready", "/openapi.json"];

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

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// What every worker shares: the keys and the rate limiter's buckets.
struct Gate {
    api_keys: Vec<String>,
    rate_limit: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// One worker's state: the shared gate and the worker's own instance.
struct App {
    gate: Arc<Gate>,
    runtime: Runtime,
}

fn json_response(status: u16, body: String, extra: Option<(header::HeaderName, HeaderValue)>) -> Response {
    let mut builder = Response::builder().status(status);
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some((k, v)) = extra {
        builder = builder.header(k, v);
    }
    builder.body(Body::from(body)).expect("valid response")
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    json_response(status, body, None)
}

impl Gate {
    /// The key of an authorised request, `Err` with the response to send otherwise.
    fn authorise(&self, headers: &HeaderMap) -> Result<String, Box<Response>> {
        if self.api_keys.is_empty() {
            return Ok(String::new());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(key) if self.api_keys.iter().any(|k| k == key) => Ok(key.to_string()),
            Some(_) => Err(Box::new(error(401, "UNAUTHORIZED", "unknown API key"))),
            None => Err(Box::new(error(401, "UNAUTHORIZED", "missing Authorization: Bearer <API key>"))),
        }
    }

    /// Token bucket per key: `rate_limit` tokens, refilled evenly over a minute.
    fn admit(&self, key: &str) -> Result<(), Box<Response>> {
        if self.rate_limit == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.rate_limit);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap();
        let now = Instant::now();
        if !buckets.contains_key(key) {
            buckets.insert(key.to_string(), Bucket { tokens: capacity, refilled: now });
        }
        let b = buckets.get_mut(key).expect("inserted above");
        b.tokens = (b.tokens + now.duration_since(b.refilled).as_secs_f64() * per_second).min(capacity);
        b.refilled = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64;
        let mut r = error(429, "RATE_LIMITED", &format!("more than {} requests per minute", self.rate_limit));
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        Err(Box::new(r))
    }
}

async fn handle(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if !PUBLIC_PATHS.contains(&path.as_str()) {
        let key = match app.gate.authorise(&parts.headers) {
            Ok(key) => key,
            Err(r) => return *r,
        };
        if let Err(r) = app.gate.admit(&key) {
            return *r;
        }
    }
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return error(413, "PAYLOAD_TOO_LARGE", &format!("bodies are limited to {BODY_LIMIT} bytes"))
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return error(400, "VALIDATION_ERROR", "body: must be UTF-8 JSON");
    };
    let method = if parts.method == Method::HEAD { "GET" } else { parts.method.as_str() };
    match app.runtime.service_handle(method, &path, text) {
        Ok((status, body)) => json_response(status, body, None),
        Err(e) => error(500, "INTERNAL_ERROR", &e.to_string()),
    }
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
    let gate = Arc::new(Gate {
        api_keys: config.api_keys,
        rate_limit: config.rate_limit_per_minute,
        buckets: Mutex::new(HashMap::new()),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for n in 0..config.workers.max(1) {
        // Instances are made here, so a component that fails to load fails `serve`.
        let runtime = Runtime::builder().storage(config.storage.clone()).build()?;
        let app = Arc::new(App { gate: gate.clone(), runtime });
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
                    let router = axum::Router::new().fallback(handle).with_state(app);
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
