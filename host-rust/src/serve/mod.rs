//! `agentcell serve`: the HTTP APIs (today Attuned's). The component routes and answers every
//! request (`attune-service.handle`); this module does transport and what only a
//! server can do: API keys, per-key rate limits, failed-auth throttling, the size and
//! time limits on what clients send, a cap on connections, one warm instance per worker
//! thread, and graceful shutdown with a deadline.
//!
//! Thread per core: each worker thread runs its own single-threaded tokio runtime and
//! its own component instance, and accepts from the shared listening socket. A request
//! never leaves the thread that read it and no instance is shared: no lock is contended
//! and no task migrates between cores (measured against tokio's work-stealing runtime
//! with a pool of instances: see BENCHMARKS.md; handing connections out in turn from
//! one acceptor measured no better than sharing the socket).

//!
//! Split by job: this module starts the listener and the workers, accepts, and stops
//! them; [`conn`] holds a connection to its time limits and puts the HTTP parser's own
//! error answers in the API's shape; [`gate`] checks API keys and rate limits and
//! [`throttle`] failed keys per address; [`routes`] turns a request into a call of the
//! component's service handler; [`lanes`] runs writes that wait off the workers.

mod conn;
mod flows;
mod gate;
mod lanes;
pub mod mesh;
mod routes;
mod tasks;
mod throttle;

pub use routes::{BODY_LIMIT, HEAD_LIMIT, URI_LIMIT};

use crate::bindings::exports::agentcell::core::attune_service::Refusal;
use crate::storage::StorageBackend;
use crate::{Error, HttpPolicy, Runtime};
use conn::{closing_response, Activity, Guarded, ProtocolAnswers, Timeouts};
use gate::Gate;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lanes::{WriteLanes, WRITE_LANES};
use routes::App;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How to serve.
pub struct ServeConfig {
    pub storage: Arc<dyn StorageBackend>,
    /// Accepted `Authorization: Bearer` keys; empty means no authentication.
    pub api_keys: Vec<String>,
    /// Requests per minute per key; 0 turns rate limiting off.
    pub rate_limit_per_minute: u32,
    /// Worker threads, each with its own runtime and warm component instance.
    pub workers: usize,
    pub limits: Limits,
    /// Where the AI Spine engine's agent calls may go (allow-list, timeout); by
    /// default nowhere, so a registered agent cannot point the server at the network
    /// behind it.
    pub http: HttpPolicy,
    /// Called once every worker's instance is loaded and requests are being accepted
    /// (e.g. to say so on stdout: a supervisor may send requests from then on).
    pub on_ready: Option<Box<dyn FnOnce()>>,
    /// The server's agent on the mesh (x0x's daemon routes); `None`: no mesh routes.
    pub mesh: Option<Arc<mesh::MeshNode>>,
    /// Plugins that AI Spine agents registered with endpoint `local://<plugin name>`
    /// run as (see `flows::dispatch`); `None`: such agents fail their nodes.
    pub plugins: Option<Arc<crate::plugins::PluginSet>>,
}

/// What the server puts up with from its clients.
#[derive(Clone, Debug)]
pub struct Limits {
    /// From the first byte of a request's head to its end (`408` past it).
    pub header_timeout: Duration,
    /// From the end of a request's head to the end of its body (`408` past it).
    pub body_timeout: Duration,
    /// A connection with no request under way is closed after this.
    pub idle_timeout: Duration,
    /// After the signal to stop: in-flight requests get this long to finish.
    pub shutdown_timeout: Duration,
    /// Open connections at most, over all workers; past it a new one is answered `503`
    /// and closed.
    pub max_connections: usize,
    /// Requests with a wrong API key accepted per minute from one client address before
    /// it is throttled (`429`); 0 turns throttling off.
    pub auth_failures_per_minute: u32,
    /// Count clients by the last `X-Forwarded-For` address (behind a proxy that appends
    /// it), not by the peer's address.
    pub trust_forwarded_for: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 1024,
            auth_failures_per_minute: 20,
            trust_forwarded_for: false,
        }
    }
}

/// What every worker shares.
struct Shared {
    gate: Arc<Gate>,
    limits: Limits,
    /// Connections open now, over all workers.
    open: AtomicUsize,
}

/// One open connection, counted in `Shared::open` while it lives.
struct Counted(Arc<Shared>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves until `shutdown` resolves. Then no connection is accepted; idle connections
/// and ones still sending a head are closed at once; requests in flight get
/// `shutdown_timeout` to finish (a body still arriving is answered `503`), and what is
/// left is then dropped. Every write acknowledged before that is already committed by
/// the storage backend. Blocks the calling thread, which waits for `shutdown` while the
/// workers serve.
pub fn serve(
    listener: std::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let io = |what: &str, e: std::io::Error| Error::Load(format!("{what}: {e}"));
    listener.set_nonblocking(true).map_err(|e| io("listener", e))?;
    let gate =
        Gate::new(config.api_keys, config.rate_limit_per_minute, config.limits.auth_failures_per_minute);
    let shared = Arc::new(Shared { gate: Arc::new(gate), limits: config.limits, open: AtomicUsize::new(0) });
    let (stop, stopped) = watch::channel(false);
    let lanes = match config.storage.writes_wait() {
        true => Some(Arc::new(WriteLanes::start(&config.storage, &config.http, WRITE_LANES)?)),
        false => None,
    };
    let mut workers = Vec::new();
    let mut public_paths: Option<Arc<Vec<String>>> = None;
    let mut flows_routes: Option<Arc<Vec<String>>> = None;
    for n in 0..config.workers.max(1) {
        // Instances are made here, so a component that fails to load fails `serve`.
        let mut builder = Runtime::builder().storage(config.storage.clone()).http(config.http.clone());
        if let Some(node) = &config.mesh {
            builder = builder.bus(node.bus.clone());
        }
        let runtime = builder.build()?;
        if n == 0 {
            recover_executions(&runtime, &config.storage)?;
        }
        let public = match &public_paths {
            Some(p) => p.clone(),
            None => {
                let mut paths = runtime.service_public_paths()?;
                paths.extend(runtime.flows_public_paths()?);
                public_paths.insert(Arc::new(paths)).clone()
            }
        };
        let routes = match &flows_routes {
            Some(r) => r.clone(),
            None => flows_routes.insert(Arc::new(runtime.flows_routes()?)).clone(),
        };
        let answers = Arc::new(protocol_answers(&runtime, &shared.limits));
        let overloaded = overloaded_answer(&runtime, shared.limits.max_connections);
        let app = Arc::new(App {
            gate: shared.gate.clone(),
            public_paths: public,
            runtime,
            lanes: lanes.clone(),
            limits: shared.limits.clone(),
            flows_routes: routes,
            stopping: stopped.clone(),
            mesh: config.mesh.clone(),
            plugins: config.plugins.clone(),
        });
        let listener = listener.try_clone().map_err(|e| io("listener", e))?;
        let worker = Worker { app, shared: shared.clone(), answers, overloaded, stopped: stopped.clone() };
        let thread = std::thread::Builder::new()
            .name(format!("agentcell-serve-{n}"))
            .spawn(move || -> Result<(), Error> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| io("tokio", e))?;
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(|e| io("listener", e))?;
                    worker.run(listener).await;
                    Ok(())
                })
            })
            .map_err(|e| io("worker thread", e))?;
        workers.push(thread);
    }
    let waiter =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| io("tokio", e))?;
    if let Some(ready) = config.on_ready {
        ready();
    }
    waiter.block_on(shutdown);
    let _ = stop.send(true);
    let mut result = Ok(());
    for worker in workers {
        let outcome = worker.join().unwrap_or_else(|_| Err(Error::Load("a worker thread panicked".into())));
        result = result.and(outcome);
    }
    result
}

/// Ends the AI Spine executions a stopped server left running. Alone on its storage, the
/// server ends them all at once; sharing it (Redis), only those no server has touched
/// for longer than an agent call may take (each answer changes its execution), and it
/// looks again every half minute, should another server have died.
fn recover_executions(runtime: &Runtime, storage: &Arc<dyn StorageBackend>) -> Result<(), Error> {
    const SHARED_IDLE_MS: u64 = 65_000;
    if !storage.shared() {
        let ended = runtime.flows_recover(0)?;
        if ended > 0 {
            eprintln!("agentcell serve: {ended} execution(s) left running by a stopped server marked failed");
        }
        return Ok(());
    }
    runtime.flows_recover(SHARED_IDLE_MS)?;
    let checker = Runtime::builder().storage(storage.clone()).build()?;
    std::thread::Builder::new()
        .name("agentcell-recover".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(30));
            let _ = checker.flows_recover(SHARED_IDLE_MS);
        })
        .map_err(|e| Error::Load(format!("recovery thread: {e}")))?;
    Ok(())
}

/// The answers a connection sends in place of the parser's bodyless ones.
fn protocol_answers(runtime: &Runtime, limits: &Limits) -> ProtocolAnswers {
    let answer = |reason: Refusal| {
        let (status, body) = routes::word_refusal(runtime, &reason);
        let phrase =
            hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        closing_response(status, phrase, "", &body)
    };
    ProtocolAnswers {
        malformed: answer(Refusal::MalformedRequest("the request is not well-formed HTTP/1.1".into())),
        uri_too_long: answer(Refusal::UriTooLong(URI_LIMIT as u32)),
        headers_too_large: answer(Refusal::HeadersTooLarge(HEAD_LIMIT as u32)),
        head_timeout: answer(Refusal::RequestTimeout(limits.header_timeout.as_secs().max(1) as u32)),
    }
}

fn overloaded_answer(runtime: &Runtime, cap: usize) -> Arc<Vec<u8>> {
    let (status, body) = routes::word_refusal(runtime, &Refusal::TooManyConnections(cap as u32));
    Arc::new(closing_response(status, "Service Unavailable", "retry-after: 1\r\n", &body))
}

/// One worker thread's accept loop and its connections.
struct Worker {
    app: Arc<App>,
    shared: Arc<Shared>,
    answers: Arc<ProtocolAnswers>,
    overloaded: Arc<Vec<u8>>,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(self, listener: tokio::net::TcpListener) {
        let mut connections = JoinSet::new();
        let mut stopped = self.stopped.clone();
        loop {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => self.admit(&mut connections, stream, peer.ip()),
                    // Out of file descriptors, or a connection reset before it was taken:
                    // keep serving the connections there are.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
            }
        }
        drop(listener);
        let finish = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(self.shared.limits.shutdown_timeout, finish).await.is_err() {
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }

    fn admit(&self, connections: &mut JoinSet<()>, stream: tokio::net::TcpStream, peer: IpAddr) {
        let open = self.shared.open.fetch_add(1, Ordering::Relaxed);
        let counted = Counted(self.shared.clone());
        if open >= self.shared.limits.max_connections {
            connections.spawn(refuse_connection(stream, self.overloaded.clone(), counted));
            return;
        }
        let _ = stream.set_nodelay(true);
        let timeouts =
            Timeouts { idle: self.shared.limits.idle_timeout, head: self.shared.limits.header_timeout };
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Guarded::new(stream, activity.clone(), self.answers.clone(), timeouts));
        let app = self.app.clone();
        let on_request = activity.clone();
        let service = hyper::service::service_fn(move |request| {
            let (app, activity) = (app.clone(), on_request.clone());
            async move {
                let busy = Busy::begin(activity.clone());
                let answer = match routes::is_event_stream(&app, &request) {
                    // The stream holds the connection busy for as long as it runs.
                    true => routes::event_stream(&app, peer, request, busy).await,
                    false => routes::handle(&app, peer, request).await.map(http_body_util::Either::Left),
                };
                if answer.headers().get(hyper::header::CONNECTION).is_some_and(|v| v == "close") {
                    activity.linger();
                }
                Ok::<_, Infallible>(answer)
            }
        });
        let mut stopped = self.stopped.clone();
        connections.spawn(async move {
            let _counted = counted;
            let connection = http1::Builder::new()
                .max_buf_size(HEAD_LIMIT)
                .max_header_size(HEAD_LIMIT)
                .header_read_timeout(None)
                .serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopped.wait_for(|s| *s) => {}
            }
            activity.stop();
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
}

/// A request in flight on a connection, for the connection's time limits.
pub(super) struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.begin();
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Answers a connection past the cap with `503` and closes it, reading what the client
/// sends for a moment first, so that closing does not reset the connection before the
/// client has read the answer.
async fn refuse_connection(mut stream: tokio::net::TcpStream, answer: Arc<Vec<u8>>, _counted: Counted) {
    let linger = async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
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
