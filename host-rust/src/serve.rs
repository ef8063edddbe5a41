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
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

/// One API key and its rate limit, kept as GCRA (the generic cell rate algorithm: a
/// token bucket held as one number, so admitting a request is one compare-and-swap and
/// the workers never wait on a lock). `tat` is the theoretical arrival time of the next
/// request, in ticks (1/16 ns) since the gate opened, were requests to come at exactly
/// the allowed rate; a request is admitted while `tat` is at most one bucket ahead of
/// now. Ticks keep the interval's rounding under 0.5% at any `u32` limit per minute
/// (whole nanoseconds would over-admit 7% at 4e9/min), and a u64 of them lasts 36 years.
#[derive(Debug)]
struct KeyLimit {
    key: String,
    tat: AtomicU64,
}

/// What every worker shares: the keys and their rate limits.
struct Gate {
    keys: Vec<KeyLimit>,
    /// The one limit all requests share when no keys are configured.
    anonymous: KeyLimit,
    /// The configured limit, requests per minute; 0: off.
    per_minute: u32,
    /// Ticks between two requests at the allowed rate; 0 turns limiting off.
    interval: u64,
    /// How far ahead of now `tat` may run: a full bucket of `rate_limit - 1` requests.
    burst: u64,
    opened: Instant,
}

const TICKS_PER_SECOND: u64 = 16_000_000_000;

/// One worker's state: the shared gate, the worker's own instance, and the write lanes
/// when writes wait (see `WriteLanes`).
struct App {
    gate: Arc<Gate>,
    runtime: Runtime,
    lanes: Option<Arc<WriteLanes>>,
}

/// Writes of users' state, answered on threads of their own, one instance each, a user
/// always on the same lane. A write to a SQLite file waits for its fsync (Redis: a
/// round trip): on a worker thread it would stall that worker's other connections, and
/// with one write per worker in flight a group commit would rarely hold more than one.
/// Lanes keep many writes in flight, and one user's writes in order, so they do not
/// race each other's compare-and-set (measured: a shared pool of instances instead let
/// 32 writers of one user mostly retry, 0.6-0.9k/s).
struct WriteLanes {
    lanes: Vec<std::sync::mpsc::Sender<WriteJob>>,
}

struct WriteJob {
    method: String,
    path: String,
    body: String,
    reply: tokio::sync::oneshot::Sender<Result<(u16, String), Error>>,
}

/// Write lanes of a server whose writes wait.
const WRITE_LANES: usize = 16;

impl WriteLanes {
    fn start(storage: &Arc<dyn StorageBackend>, count: usize) -> Result<Self, Error> {
        let mut lanes = Vec::with_capacity(count);
        for n in 0..count {
            let runtime = Runtime::builder().storage(storage.clone()).build()?;
            let (send, jobs) = std::sync::mpsc::channel::<WriteJob>();
            std::thread::Builder::new()
                .name(format!("agentcell-write-{n}"))
                .spawn(move || {
                    for job in jobs {
                        let _ = job.reply.send(runtime.service_handle(&job.method, &job.path, &job.body));
                    }
                })
                .map_err(|e| Error::Load(format!("write lane thread: {e}")))?;
            lanes.push(send);
        }
        Ok(WriteLanes { lanes })
    }

    /// The user a request writes the state of: `POST /v1/state` names it in its body,
    /// `DELETE /v1/state/{id}` in its path. `None` for every other request.
    fn writer_of<'a>(method: &str, path: &'a str, body: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        #[derive(serde::Deserialize)]
        struct Target<'a> {
            #[serde(borrow)]
            user_id: Option<std::borrow::Cow<'a, str>>,
        }
        match method {
            "POST" if path.trim_end_matches('/') == "/v1/state" => {
                Some(serde_json::from_str::<Target>(body).ok().and_then(|t| t.user_id).unwrap_or_default())
            }
            "DELETE" => path.strip_prefix("/v1/state/").map(std::borrow::Cow::Borrowed),
            _ => None,
        }
    }

    async fn handle(&self, user: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), Error> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let lane = BuildHasherDefault::<DefaultHasher>::default().hash_one(user) as usize % self.lanes.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = WriteJob { method: method.into(), path: path.into(), body: body.into(), reply };
        let stopped = || Error::Call("the write lane stopped".into());
        self.lanes[lane].send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn json_response(status: u16, body: String, extra: Option<(header::HeaderName, HeaderValue)>) -> Response {
    let mut builder = Response::builder().status(status);
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
    fn new(api_keys: Vec<String>, rate_limit_per_minute: u32) -> Self {
        let interval = match rate_limit_per_minute {
            0 => 0,
            n => 60 * TICKS_PER_SECOND / u64::from(n),
        };
        Gate {
            keys: api_keys.into_iter().map(|key| KeyLimit { key, tat: AtomicU64::new(0) }).collect(),
            anonymous: KeyLimit { key: String::new(), tat: AtomicU64::new(0) },
            per_minute: rate_limit_per_minute,
            interval,
            burst: interval * u64::from(rate_limit_per_minute.saturating_sub(1)),
            opened: Instant::now(),
        }
    }

    /// The limit of an authorised request's key (the shared anonymous one when no keys
    /// are configured), `Err` with the response to send otherwise.
    fn authorise(&self, headers: &HeaderMap) -> Result<&KeyLimit, Box<Response>> {
        if self.keys.is_empty() {
            return Ok(&self.anonymous);
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(key) => match self.keys.iter().find(|k| k.key == key) {
                Some(limit) => Ok(limit),
                None => Err(Box::new(error(401, "UNAUTHORIZED", "unknown API key"))),
            },
            None => Err(Box::new(error(401, "UNAUTHORIZED", "missing Authorization: Bearer <API key>"))),
        }
    }

    /// Admits a request of `limit`'s key, or answers 429 with `Retry-After` (seconds
    /// until the next request would be admitted, at least 1).
    fn admit(&self, limit: &KeyLimit) -> Result<(), Box<Response>> {
        if self.interval == 0 {
            return Ok(());
        }
        self.admit_at(limit, self.opened.elapsed().as_nanos() as u64 * (TICKS_PER_SECOND / 1_000_000_000))
    }

    /// `admit` at `now` ticks after the gate opened.
    fn admit_at(&self, limit: &KeyLimit, now: u64) -> Result<(), Box<Response>> {
        let mut tat = limit.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > self.burst {
                let wait = (start - now - self.burst).div_ceil(TICKS_PER_SECOND).max(1);
                let message = format!("more than {} requests per minute", self.per_minute);
                let mut r = error(429, "RATE_LIMITED", &message);
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
                return Err(Box::new(r));
            }
            match limit.tat.compare_exchange_weak(
                tat,
                start + self.interval,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

async fn handle(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if !PUBLIC_PATHS.contains(&path) {
        if let Err(r) = app.gate.authorise(&parts.headers).and_then(|limit| app.gate.admit(limit)) {
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
    let writer =
        app.lanes.as_ref().and_then(|lanes| Some((lanes, WriteLanes::writer_of(method, path, text)?)));
    let answer = match writer {
        Some((lanes, user)) => lanes.handle(&user, method, path, text).await,
        None => app.runtime.service_handle(method, path, text),
    };
    match answer {
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
    let gate = Arc::new(Gate::new(config.api_keys, config.rate_limit_per_minute));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let lanes = match config.storage.writes_wait() {
        true => Some(Arc::new(WriteLanes::start(&config.storage, WRITE_LANES)?)),
        false => None,
    };
    let mut workers = Vec::new();
    for n in 0..config.workers.max(1) {
        // Instances are made here, so a component that fails to load fails `serve`.
        let runtime = Runtime::builder().storage(config.storage.clone()).build()?;
        let app = Arc::new(App { gate: gate.clone(), runtime, lanes: lanes.clone() });
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = TICKS_PER_SECOND;

    fn retry_after(r: &Response) -> u64 {
        r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap()
    }

    #[test]
    fn a_full_bucket_admits_the_limit_then_refills_evenly() {
        let gate = Gate::new(vec!["a".into(), "b".into()], 3);
        let (a, b) = (&gate.keys[0], &gate.keys[1]);
        for _ in 0..3 {
            assert!(gate.admit_at(a, 0).is_ok());
        }
        let refused = gate.admit_at(a, 0).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(retry_after(&refused), 20, "one request per 20 s at 3 a minute");
        assert!(gate.admit_at(b, 0).is_ok(), "each key has its own bucket");
        assert!(gate.admit_at(a, 19 * SECOND).is_err());
        assert!(gate.admit_at(a, 20 * SECOND).is_ok());
        assert!(gate.admit_at(a, 20 * SECOND).is_err());
        // Idle for longer than a minute: the bucket is full again, and no fuller.
        for _ in 0..3 {
            assert!(gate.admit_at(a, 300 * SECOND).is_ok());
        }
        assert!(gate.admit_at(a, 300 * SECOND).is_err());
    }

    #[test]
    fn high_limits_are_kept_to_and_named_exactly() {
        // 7,000,000 a minute: 8571.43 ns apart, so whole nanoseconds would round.
        let gate = Gate::new(vec!["a".into()], 7_000_000);
        let a = &gate.keys[0];
        let full: usize = (0..7_000_001).filter(|_| gate.admit_at(a, 0).is_ok()).count();
        assert_eq!(full, 7_000_000);
        let refused = gate.admit_at(a, 0).unwrap_err();
        let body = body_text(*refused);
        assert!(body.contains("more than 7000000 requests per minute"), "{body}");
        // One second later: 116,666.7 more.
        let refill = (0..200_000).filter(|_| gate.admit_at(a, SECOND).is_ok()).count();
        assert!((116_666..=116_667).contains(&refill), "{refill}");
    }

    fn body_text(r: Response) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(to_bytes(r.into_body(), BODY_LIMIT))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn writes_are_laned_by_the_user_they_write() {
        let of = |m: &str, p: &str, b: &str| WriteLanes::writer_of(m, p, b).map(|u| u.into_owned());
        assert_eq!(of("POST", "/v1/state", r#"{"axes":{},"user_id":"ana"}"#).as_deref(), Some("ana"));
        assert_eq!(of("POST", "/v1/state/", r#"{"user_id":"ana"}"#).as_deref(), Some("ana"));
        // Not JSON, or no user: still a write (the component answers 400), on one lane.
        assert_eq!(of("POST", "/v1/state", "{").as_deref(), Some(""));
        assert_eq!(of("DELETE", "/v1/state/bob", "").as_deref(), Some("bob"));
        assert_eq!(of("GET", "/v1/state/bob", ""), None);
        assert_eq!(of("POST", "/v1/translate", r#"{"user_id":"ana"}"#), None);
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let gate = Gate::new(vec!["a".into()], 6000);
        let a = &gate.keys[0];
        while gate.admit_at(a, 0).is_ok() {}
        assert_eq!(retry_after(&gate.admit_at(a, 0).unwrap_err()), 1);
    }

    #[test]
    fn two_threads_share_one_key_without_admitting_more_than_the_limit() {
        let gate = Arc::new(Gate::new(vec!["a".into()], 10_000));
        let admitted: usize = (0..2)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    (0..20_000).filter(|_| gate.admit_at(&gate.keys[0], 0).is_ok()).count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(admitted, 10_000);
    }

    #[test]
    fn keys_are_checked_and_no_keys_means_one_shared_limit() {
        let gate = Gate::new(vec!["k1".into()], 0);
        let mut headers = HeaderMap::new();
        assert_eq!(gate.authorise(&headers).unwrap_err().status(), 401);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        assert_eq!(gate.authorise(&headers).unwrap_err().status(), 401);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k1"));
        assert_eq!(gate.authorise(&headers).unwrap().key, "k1");
        let open = Gate::new(vec![], 1);
        let limit = open.authorise(&HeaderMap::new()).unwrap();
        assert!(open.admit_at(limit, 0).is_ok());
        assert!(open.admit_at(limit, 0).is_err());
    }
}
