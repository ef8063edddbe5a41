//! Routing: every request becomes one call of the component's service handler.

use super::gate::{Gate, Refused};
use super::lanes::WriteLanes;
use crate::bindings::exports::agentcell::core::attune_service::Refusal;
use crate::Runtime;
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request};
use axum::response::Response;
use std::sync::Arc;

/// The largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// One worker's state: the shared gate, the worker's own instance, and the write lanes
/// when writes wait (see `WriteLanes`).
pub(super) struct App {
    pub(super) gate: Arc<Gate>,
    /// The paths answered without a key, as the component names them.
    pub(super) public_paths: Arc<Vec<String>>,
    pub(super) runtime: Runtime,
    pub(super) lanes: Option<Arc<WriteLanes>>,
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

/// The component's response to a request the host refused. Should the component itself
/// fail to answer, a last-resort body of the same shape says so.
fn refused(runtime: &Runtime, refusal: Refused) -> Response {
    let (status, body) = runtime.service_refuse(&refusal.reason).unwrap_or_else(|e| {
        let message = format!("the service failed to word a refusal: {e}");
        (500, serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": message}}).to_string())
    });
    let retry = refusal.retry_after.map(|s| (header::RETRY_AFTER, HeaderValue::from(s)));
    json_response(status, body, retry)
}

pub(super) async fn handle(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let refuse = |reason: Refusal| refused(&app.runtime, Refused { reason, retry_after: None });
    if !app.public_paths.iter().any(|p| p == path) {
        if let Err(r) = app.gate.authorise(&parts.headers).and_then(|limit| app.gate.admit(limit)) {
            return refused(&app.runtime, r);
        }
    }
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return refuse(Refusal::PayloadTooLarge(BODY_LIMIT as u32)),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return refuse(Refusal::NotUtf8);
    };
    let method = if parts.method == Method::HEAD { "GET" } else { parts.method.as_str() };
    // Only a request that can write is asked about (GET and HEAD never write), so reads
    // make one component call.
    let writer = match (&app.lanes, method) {
        (Some(lanes), m) if m != "GET" => match app.runtime.service_writer(method, path, text) {
            Ok(user) => user.map(|u| (lanes, u)),
            Err(e) => return refuse(Refusal::Internal(e.to_string())),
        },
        _ => None,
    };
    let answer = match writer {
        Some((lanes, user)) => lanes.handle(&user, method, path, text).await,
        None => app.runtime.service_handle(method, path, text),
    };
    match answer {
        Ok((status, body)) => json_response(status, body, None),
        Err(e) => refuse(Refusal::Internal(e.to_string())),
    }
}
