//! Routing: every request becomes one call of the component's service handler, once the
//! host's own checks (target length, key, rate limit, body size and arrival) pass.

use super::gate::{client_address, Gate, Refused};
use super::lanes::WriteLanes;
use super::Limits;
use crate::bindings::exports::agentcell::core::attune_service::Refusal;
use crate::Runtime;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// The largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// The longest request target (path and query) accepted (414 past it).
pub const URI_LIMIT: usize = 8 * 1024;
/// The largest request head (request line and headers) accepted (431 past it; 414 when
/// the request line alone is past it).
pub const HEAD_LIMIT: usize = 32 * 1024;

/// One worker's state: the shared gate, the worker's own instance, and the write lanes
/// when writes wait (see `WriteLanes`).
pub(super) struct App {
    pub(super) gate: Arc<Gate>,
    /// The paths answered without a key, as the component names them.
    pub(super) public_paths: Arc<Vec<String>>,
    pub(super) runtime: Runtime,
    pub(super) lanes: Option<Arc<WriteLanes>>,
    pub(super) limits: Limits,
    /// The path prefixes of the AI Spine API, as the component names them.
    pub(super) flows_routes: Arc<Vec<String>>,
    /// Turns true when the server begins to stop.
    pub(super) stopping: watch::Receiver<bool>,
    /// The server's agent on the mesh, when it serves the mesh routes.
    pub(super) mesh: Option<Arc<super::mesh::MeshNode>>,
    /// The plugins `local://<name>` agents run as.
    pub(super) plugins: Option<Arc<crate::plugins::PluginSet>>,
}

pub(super) type Answer = Response<Full<Bytes>>;

/// Sent with every answer, as upstream's server does: the body is JSON for an API
/// client, never a page to sniff, frame, cache or follow a referrer from.
pub(super) const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
];

fn json_response(status: u16, body: String, extra: &[(HeaderName, HeaderValue)]) -> Answer {
    let has_body = !body.is_empty();
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = answer.headers_mut();
    headers.reserve(SECURITY_HEADERS.len() + 1 + extra.len());
    if has_body {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in SECURITY_HEADERS.into_iter().chain(extra.iter().cloned()) {
        headers.insert(name, value);
    }
    answer
}

/// Which of the served APIs a request is for: each words its refusals in its own shape.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Attuned,
    AiSpine,
}

impl App {
    fn api_of(&self, path: &str) -> Api {
        match super::flows::is_flows_path(&self.flows_routes, path) {
            true => Api::AiSpine,
            false => Api::Attuned,
        }
    }
}

/// The component's wording of a refusal, as `(status, body)`. Should the component itself
/// fail to answer, a last-resort body of the same shape says so.
pub(super) fn word_refusal(runtime: &Runtime, reason: &Refusal) -> (u16, String) {
    word_refusal_for(runtime, Api::Attuned, reason)
}

fn word_refusal_for(runtime: &Runtime, api: Api, reason: &Refusal) -> (u16, String) {
    let worded = match api {
        Api::Attuned => runtime.service_refuse(reason),
        Api::AiSpine => runtime.flows_refuse(reason),
    };
    worded.unwrap_or_else(|e| {
        let message = format!("the service failed to word a refusal: {e}");
        (500, serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": message}}).to_string())
    })
}

fn refused(runtime: &Runtime, api: Api, refusal: Refused) -> Answer {
    let unauthorised = matches!(refusal.reason, Refusal::MissingKey | Refusal::UnknownKey);
    let (status, body) = word_refusal_for(runtime, api, &refusal.reason);
    let mut extra = Vec::new();
    if let Some(s) = refusal.retry_after {
        extra.push((header::RETRY_AFTER, HeaderValue::from(s)));
    }
    if unauthorised && api == Api::AiSpine {
        extra.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    json_response(status, body, &extra)
}

/// A refusal after which the connection is closed: its body was not read, so nothing
/// else on it can be.
fn refused_and_closed(runtime: &Runtime, api: Api, reason: Refusal) -> Answer {
    let (status, body) = word_refusal_for(runtime, api, &reason);
    json_response(status, body, &[(header::CONNECTION, HeaderValue::from_static("close"))])
}

/// The length of the request target as the client sent it.
fn target_len(uri: &hyper::Uri) -> usize {
    let path = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    path + authority + uri.scheme_str().map_or(0, |s| s.len() + 3)
}

/// The body, within the size and time limits.
async fn read_body(app: &App, body: Incoming) -> Result<Bytes, Refusal> {
    use hyper::body::Body as _;
    if body.is_end_stream() {
        return Ok(Bytes::new()); // no body (a GET): no timer to set
    }
    let mut stopping = app.stopping.clone();
    let collect = Limited::new(body, BODY_LIMIT).collect();
    tokio::select! {
        collected = tokio::time::timeout(app.limits.body_timeout, collect) => match collected {
            Ok(Ok(c)) => Ok(c.to_bytes()),
            Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Refusal::PayloadTooLarge(BODY_LIMIT as u32)),
            Ok(Err(e)) => Err(Refusal::MalformedRequest(format!("the body could not be read: {e}"))),
            Err(_) => Err(Refusal::RequestTimeout(app.limits.body_timeout.as_secs().max(1) as u32)),
        },
        _ = stopping.wait_for(|s| *s) => Err(Refusal::ShuttingDown),
    }
}

pub(super) async fn handle(app: &Arc<App>, peer: IpAddr, request: Request<Incoming>) -> Answer {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let api = app.api_of(path);
    if target_len(&parts.uri) > URI_LIMIT {
        return refused_and_closed(&app.runtime, api, Refusal::UriTooLong(URI_LIMIT as u32));
    }
    if !app.public_paths.iter().any(|p| p == path) {
        let client = client_address(peer, &parts.headers, app.limits.trust_forwarded_for);
        if let Err(r) = app.gate.authorise(client, &parts.headers).and_then(|limit| app.gate.admit(limit)) {
            return refused(&app.runtime, api, r);
        }
    }
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return refused_and_closed(&app.runtime, api, Refusal::PayloadTooLarge(BODY_LIMIT as u32));
    }
    let bytes = match read_body(app, body).await {
        Ok(b) => b,
        Err(reason) => return refused_and_closed(&app.runtime, api, reason),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return refused(&app.runtime, api, Refused { reason: Refusal::NotUtf8, retry_after: None });
    };
    let method = if parts.method == Method::HEAD { "GET" } else { parts.method.as_str() };
    if super::tasks::is_tasks_path(path) {
        return match super::tasks::handle(&app.runtime, method, path, parts.uri.query(), text) {
            Ok((status, body)) => json_response(status, body, &[]),
            Err(e) => refused(
                &app.runtime,
                api,
                Refused { reason: Refusal::Internal(e.to_string()), retry_after: None },
            ),
        };
    }
    if let Some(node) = app.mesh.as_ref().filter(|_| super::mesh::is_mesh_path(path)) {
        let (status, body) = super::mesh::handle(&app.runtime, node, method, path, text);
        return json_response(status, body, &[]);
    }
    let internal = |e: crate::Error| {
        refused(&app.runtime, api, Refused { reason: Refusal::Internal(e.to_string()), retry_after: None })
    };
    if api == Api::AiSpine {
        let target = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
        return match super::flows::handle(app, method, target, text).await {
            Ok((status, body)) => json_response(status, body, &[]),
            Err(e) => internal(e),
        };
    }
    // Only a request that can write is asked about (GET and HEAD never write), so reads
    // make one component call.
    let writer = match (&app.lanes, method) {
        (Some(lanes), m) if m != "GET" => match app.runtime.service_writer(method, path, text) {
            Ok(user) => user.map(|u| (lanes, u)),
            Err(e) => return internal(e),
        },
        _ => None,
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let answer = match writer {
        Some((lanes, user)) => lanes.handle(&user, method, path, content_type, text).await,
        None => app.runtime.service_handle(method, path, content_type, text),
    };
    match answer {
        Ok((status, body)) => json_response(status, body, &[]),
        Err(e) => internal(e),
    }
}

/// An answer whose body is a server-sent event stream.
pub(super) type Streamed = Response<http_body_util::Either<Full<Bytes>, EventBody>>;

/// True for `GET /events` on a server with the mesh routes.
pub(super) fn is_event_stream(app: &App, request: &Request<Incoming>) -> bool {
    app.mesh.is_some() && request.method() == Method::GET && request.uri().path() == "/events"
}

/// The body of `GET /events`: chunks from the task that reads the bus; the connection
/// stays busy (no idle limit) while it lives.
pub(super) struct EventBody {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    _busy: super::Busy,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.chunks.poll_recv(cx).map(|c| c.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// How often the event stream looks at the bus, and sends a comment when idle.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_millis(20);
const EVENT_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /events`: the key is checked as for every route, then messages on every
/// subscription stream as `event: message` until the client goes or the server stops.
pub(super) async fn event_stream(
    app: &Arc<App>,
    peer: IpAddr,
    request: Request<Incoming>,
    busy: super::Busy,
) -> Streamed {
    let (parts, _) = request.into_parts();
    let client = client_address(peer, &parts.headers, app.limits.trust_forwarded_for);
    if let Err(r) = app.gate.authorise(client, &parts.headers).and_then(|limit| app.gate.admit(limit)) {
        return refused(&app.runtime, Api::Attuned, r).map(http_body_util::Either::Left);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let app = app.clone();
    tokio::spawn(async move {
        let node = app.mesh.clone().expect("checked by is_event_stream");
        let mut at = std::collections::BTreeMap::new();
        let mut stopping = app.stopping.clone();
        let mut quiet = std::time::Duration::ZERO;
        let _ = tx.send(Bytes::from_static(b": connected\n\n")).await;
        loop {
            let chunk = match super::mesh::events(&app.runtime, &node, &mut at) {
                Ok(c) => c,
                Err(e) => format!(
                    "event: error\ndata: {}\n\n",
                    serde_json::json!({"type": "error", "data": {"message": e.to_string()}})
                ),
            };
            if !chunk.is_empty() {
                quiet = std::time::Duration::ZERO;
                if tx.send(Bytes::from(chunk)).await.is_err() {
                    return;
                }
            } else if quiet >= EVENT_KEEPALIVE {
                quiet = std::time::Duration::ZERO;
                if tx.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVENT_POLL) => quiet += EVENT_POLL,
                _ = stopping.wait_for(|s| *s) => return,
                _ = tx.closed() => return,
            }
        }
    });
    let mut answer = Response::new(http_body_util::Either::Right(EventBody { chunks: rx, _busy: busy }));
    let headers = answer.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_length_counts_what_the_client_sent() {
        assert_eq!(target_len(&"/v1/state/u?x=1".parse().unwrap()), 15);
        assert_eq!(target_len(&"http://h:1/a".parse().unwrap()), 12);
    }
}
