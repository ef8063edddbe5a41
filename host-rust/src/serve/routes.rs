//! Routing: every request becomes one call of the component's service handler.

use super::gate::Gate;
use super::lanes::WriteLanes;
use crate::Runtime;
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request};
use axum::response::Response;
use std::sync::Arc;

/// The largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Paths answered without an API key.
const PUBLIC_PATHS: [&str; 3] = ["/health", "/ready", "/openapi.json"];

/// One worker's state: the shared gate, the worker's own instance, and the write lanes
/// when writes wait (see `WriteLanes`).
pub(super) struct App {
    pub(super) gate: Arc<Gate>,
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

pub(super) fn error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    json_response(status, body, None)
}

pub(super) async fn handle(State(app): State<Arc<App>>, request: Request<Body>) -> Response {
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
