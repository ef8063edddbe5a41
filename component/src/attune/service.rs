//! The Attuned HTTP API: routing, request parsing, responses and error bodies in
//! upstream's shape. Hosts carry bytes, authenticate and rate-limit; all the rest is here.

use super::snapshot::{Snapshot, Source};
use super::translator::{translate, PromptContext, Thresholds, Verbosity};
use super::{context_cache, store};
use crate::error::{Error, ErrorCode};
use crate::ports::Storage;
use serde::Deserialize;
use serde_json::json;
#[cfg(test)]
use serde_json::Value;
use std::collections::BTreeMap;

/// Status and JSON body (empty for 204).
pub type Response = (u16, String);

fn error_body(status: u16, code: &str, message: &str) -> Response {
    (status, json!({"error": {"code": code, "message": message}}).to_string())
}

fn from_error(e: Error, user_id: Option<&str>) -> Response {
    match e.code {
        ErrorCode::InvalidArgument => error_body(400, "VALIDATION_ERROR", &e.message),
        ErrorCode::NotFound => {
            let message = user_id.map(|u| format!("no state for user {u:?}")).unwrap_or(e.message);
            error_body(404, "USER_NOT_FOUND", &message)
        }
        _ => error_body(500, "STORE_ERROR", &e.message),
    }
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::SelfReport => "self_report",
        Source::Inferred => "inferred",
        Source::Mixed => "mixed",
    }
}

fn snapshot_json(s: &Snapshot) -> String {
    let axes: BTreeMap<&str, f32> = s.axes.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    json!({
        "user_id": s.user_id,
        "updated_at_unix_ms": s.updated_at_unix_ms,
        "source": source_name(s.source),
        "confidence": s.confidence,
        "axes": axes,
    })
    .to_string()
}

fn context_json(c: &PromptContext) -> String {
    let verbosity = match c.verbosity {
        Verbosity::Low => "low",
        Verbosity::Medium => "medium",
        Verbosity::High => "high",
    };
    json!({"guidelines": c.guidelines, "tone": c.tone, "verbosity": verbosity, "flags": c.flags}).to_string()
}

/// The body of `POST /v1/state` and `POST /v1/translate` (user_id optional there).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default = "Snapshot::default_source")]
    source: Source,
    #[serde(default = "Snapshot::default_confidence")]
    confidence: f32,
    #[serde(default)]
    axes: BTreeMap<String, f32>,
    /// Free text from the user; accepted for upstream compatibility, not stored.
    #[serde(default)]
    #[allow(dead_code)]
    message: Option<String>,
}

fn parse_body(body: &str, user_required: bool, now_ms: i64) -> Result<Snapshot, Error> {
    let b: StateBody = serde_json::from_str(body)
        .map_err(|e| Error::invalid("body", format_args!("must be a JSON state object ({e})")))?;
    let user_id = match b.user_id {
        Some(u) => u,
        None if user_required => return Err(Error::invalid("user_id", "is required")),
        None => "anonymous".to_string(),
    };
    Snapshot {
        user_id,
        updated_at_unix_ms: 0,
        source: b.source,
        confidence: b.confidence,
        axes: b.axes.into_iter().collect(),
    }
    .validated(now_ms)
}

/// Decodes `%XX` escapes of a path segment.
fn percent_decode(segment: &str) -> Result<String, Error> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| Error::invalid("user_id", "has a malformed %-escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::invalid("user_id", "is not UTF-8 once decoded"))
}

pub const OPENAPI: &str = include_str!("openapi.json");

/// Answers one request. `now_ms` is read only by requests that stamp a snapshot, so a
/// read pays no clock call.
pub fn handle(
    storage: &dyn Storage,
    method: &str,
    path: &str,
    body: &str,
    now_ms: impl Fn() -> i64,
) -> Response {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let user = |raw: &str| percent_decode(raw);
    let result: Result<Response, (Error, Option<String>)> = (|| match (method, segments.as_slice()) {
        ("GET", ["health"]) => {
            Ok((200, json!({"status": "ok", "version": crate::meta::VERSION}).to_string()))
        }
        ("GET", ["ready"]) => match storage.get(store::NAMESPACE, "ready-probe") {
            Ok(_) => Ok((200, json!({"status": "ready"}).to_string())),
            Err(e) => Ok(error_body(503, "STORE_ERROR", &Error::from(e).message)),
        },
        ("GET", ["openapi.json"]) => Ok((200, OPENAPI.to_string())),
        ("POST", ["v1", "state"]) => {
            let snapshot = parse_body(body, true, now_ms()).map_err(|e| (e, None))?;
            store::upsert(storage, snapshot).map_err(|e| (e, None))?;
            Ok((204, String::new()))
        }
        ("GET", ["v1", "state", id]) => {
            let id = user(id).map_err(|e| (e, None))?;
            let s = store::get(storage, &id).map_err(|e| (e, Some(id.clone())))?;
            Ok((200, snapshot_json(&s)))
        }
        ("DELETE", ["v1", "state", id]) => {
            let id = user(id).map_err(|e| (e, None))?;
            match store::delete(storage, &id).map_err(|e| (e, None))? {
                true => Ok((204, String::new())),
                false => Err((Error::new(ErrorCode::NotFound, "no state"), Some(id))),
            }
        }
        ("GET", ["v1", "context", id]) => {
            let id = user(id).map_err(|e| (e, None))?;
            let stored = store::get_stored(storage, &id).map_err(|e| (e, Some(id.clone())))?;
            let body = context_cache::context_json(&id, &stored, || {
                Ok(context_json(&translate(&store::snapshot_of(&id, &stored)?, Thresholds::default())))
            })
            .map_err(|e| (e, Some(id.clone())))?;
            Ok((200, body))
        }
        ("POST", ["v1", "translate"]) => {
            let snapshot = parse_body(body, false, now_ms()).map_err(|e| (e, None))?;
            Ok((200, context_json(&translate(&snapshot, Thresholds::default()))))
        }
        (_, ["health" | "ready" | "openapi.json"] | ["v1", "state"] | ["v1", "translate"])
        | (_, ["v1", "state" | "context", _]) => {
            Ok(error_body(405, "METHOD_NOT_ALLOWED", &format!("{method} is not allowed on {path}")))
        }
        _ => Ok(error_body(404, "NOT_FOUND", &format!("no route for {method} {path}"))),
    })();
    result.unwrap_or_else(|(e, user)| from_error(e, user.as_deref()))
}

/// The paths answered without an API key.
pub const PUBLIC_PATHS: [&str; 3] = ["/health", "/ready", "/openapi.json"];

/// The user whose stored state a request writes, `None` when it writes none. A write
/// whose user cannot be read is keyed by the empty string (it is refused by `handle`).
pub fn writer(method: &str, path: &str, body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Target {
        user_id: Option<String>,
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, segments.as_slice()) {
        ("POST", ["v1", "state"]) => {
            Some(serde_json::from_str::<Target>(body).ok().and_then(|t| t.user_id).unwrap_or_default())
        }
        ("DELETE", ["v1", "state", id]) => Some(percent_decode(id).unwrap_or_default()),
        _ => None,
    }
}

/// Why a host refused a request before [`handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    MissingKey,
    UnknownKey,
    /// The limit per minute.
    RateLimited(u32),
    /// The body limit in bytes.
    PayloadTooLarge(u32),
    NotUtf8,
    /// The failed authentications allowed per minute per client address.
    AuthThrottled(u32),
    /// The time limit in seconds.
    RequestTimeout(u32),
    /// The limit in bytes.
    UriTooLong(u32),
    /// The limit in bytes.
    HeadersTooLarge(u32),
    MalformedRequest(String),
    /// The connection cap.
    TooManyConnections(u32),
    ShuttingDown,
    Internal(String),
}

/// The response for a refused request, in this API's error shape.
pub fn refuse(reason: &Refusal) -> Response {
    match reason {
        Refusal::MissingKey => error_body(401, "UNAUTHORIZED", "missing Authorization: Bearer <API key>"),
        Refusal::UnknownKey => error_body(401, "UNAUTHORIZED", "unknown API key"),
        Refusal::RateLimited(n) => {
            error_body(429, "RATE_LIMITED", &format!("more than {n} requests per minute"))
        }
        Refusal::PayloadTooLarge(n) => {
            error_body(413, "PAYLOAD_TOO_LARGE", &format!("bodies are limited to {n} bytes"))
        }
        Refusal::NotUtf8 => error_body(400, "VALIDATION_ERROR", "body: must be UTF-8 JSON"),
        Refusal::AuthThrottled(n) => error_body(
            429,
            "AUTH_THROTTLED",
            &format!("more than {n} requests with a wrong API key per minute from this address"),
        ),
        Refusal::RequestTimeout(s) => {
            error_body(408, "REQUEST_TIMEOUT", &format!("the request did not arrive within {s} s"))
        }
        Refusal::UriTooLong(n) => {
            error_body(414, "URI_TOO_LONG", &format!("request targets are limited to {n} bytes"))
        }
        Refusal::HeadersTooLarge(n) => {
            error_body(431, "HEADERS_TOO_LARGE", &format!("request headers are limited to {n} bytes"))
        }
        Refusal::MalformedRequest(m) => error_body(400, "MALFORMED_REQUEST", m),
        Refusal::TooManyConnections(n) => error_body(
            503,
            "OVERLOADED",
            &format!("the server holds its limit of {n} connections; retry shortly"),
        ),
        Refusal::ShuttingDown => error_body(503, "SHUTTING_DOWN", "the server is stopping; retry on another"),
        Refusal::Internal(m) => error_body(500, "INTERNAL_ERROR", m),
    }
}

/// The body of a response as JSON, for tests.
#[cfg(test)]
fn body(r: &Response) -> Value {
    serde_json::from_str(&r.1).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryStorage;

    fn call(s: &MemoryStorage, method: &str, path: &str, b: &str) -> Response {
        handle(s, method, path, b, || 1_700_000_000_000)
    }

    #[test]
    fn reads_never_read_the_clock() {
        let s = MemoryStorage::default();
        assert_eq!(call(&s, "POST", "/v1/state", r#"{"user_id":"u","axes":{"warmth":0.9}}"#).0, 204);
        let no_clock = || -> i64 { panic!("a read asked for the time") };
        for path in ["/v1/context/u", "/v1/state/u", "/v1/context/nobody", "/health"] {
            assert_ne!(handle(&s, "GET", path, "", no_clock).0, 500, "{path}");
        }
    }

    #[test]
    fn state_round_trip_and_context() {
        let s = MemoryStorage::default();
        let r = call(
            &s,
            "POST",
            "/v1/state",
            r#"{"user_id":"u 1","source":"self_report","axes":{"warmth":0.9,"cognitive_load":0.9}}"#,
        );
        assert_eq!(r, (204, String::new()));
        let r = call(&s, "GET", "/v1/state/u%201", "");
        assert_eq!(r.0, 200);
        assert_eq!(body(&r)["source"], "self_report");
        assert_eq!(body(&r)["user_id"], "u 1");
        let r = call(&s, "GET", "/v1/context/u%201", "");
        assert_eq!((r.0, body(&r)["tone"].as_str()), (200, Some("warm-casual")));
        assert_eq!(call(&s, "DELETE", "/v1/state/u%201", "").0, 204);
        let r = call(&s, "GET", "/v1/context/u%201", "");
        assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (404, Some("USER_NOT_FOUND")));
        assert_eq!(call(&s, "DELETE", "/v1/state/u%201", "").0, 404);
    }

    #[test]
    fn context_follows_every_write_even_by_another_writer() {
        let s = MemoryStorage::default();
        let post = |axes: &str| {
            let body = format!(r#"{{"user_id":"c","source":"self_report","axes":{axes}}}"#);
            assert_eq!(call(&s, "POST", "/v1/state", &body).0, 204);
        };
        let verbosity = || body(&call(&s, "GET", "/v1/context/c", ""))["verbosity"].clone();
        post(r#"{"verbosity_preference":0.1}"#);
        assert_eq!(verbosity(), "low");
        assert_eq!(verbosity(), "low");
        post(r#"{"verbosity_preference":0.9}"#);
        assert_eq!(verbosity(), "high");
        // A write that bypasses this instance (another process sharing the store).
        let stored = s.get(store::NAMESPACE, "state/c").unwrap().unwrap();
        s.set(store::NAMESPACE, "state/c", &stored.replace("0.9", "0.1")).unwrap();
        assert_eq!(verbosity(), "low");
        assert!(s.delete(store::NAMESPACE, "state/c").unwrap());
        assert_eq!(call(&s, "GET", "/v1/context/c", "").0, 404);
    }

    #[test]
    fn errors_have_upstream_shape() {
        let s = MemoryStorage::default();
        let r = call(&s, "POST", "/v1/state", r#"{"user_id":"u","axes":{"mood":0.5}}"#);
        assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")));
        assert!(body(&r)["error"]["message"].as_str().unwrap().contains("axes.mood"));
        assert_eq!(call(&s, "POST", "/v1/state", "not json").0, 400);
        assert_eq!(call(&s, "POST", "/v1/state", r#"{"axes":{}}"#).0, 400);
        assert_eq!(call(&s, "GET", "/v2/nothing", "").0, 404);
        assert_eq!(call(&s, "PUT", "/v1/state", "").0, 405);
        assert_eq!(call(&s, "GET", "/v1/state/bad%zz", "").0, 400);
    }

    #[test]
    fn translate_health_ready_openapi() {
        let s = MemoryStorage::default();
        let r = call(&s, "POST", "/v1/translate", r#"{"axes":{"verbosity_preference":0.1}}"#);
        assert_eq!((r.0, body(&r)["verbosity"].as_str()), (200, Some("low")));
        assert_eq!(body(&call(&s, "GET", "/health", ""))["status"], "ok");
        assert_eq!(call(&s, "GET", "/ready", "").0, 200);
        let spec = body(&call(&s, "GET", "/openapi.json", ""));
        assert!(spec["paths"]["/v1/context/{user_id}"].is_object());
    }

    #[test]
    fn writes_are_keyed_by_the_user_they_write() {
        assert_eq!(writer("POST", "/v1/state", r#"{"axes":{},"user_id":"ana"}"#).as_deref(), Some("ana"));
        assert_eq!(writer("POST", "/v1/state/", r#"{"user_id":"ana"}"#).as_deref(), Some("ana"));
        assert_eq!(writer("POST", "/v1/state", "{").as_deref(), Some(""));
        assert_eq!(writer("DELETE", "/v1/state/bob", "").as_deref(), Some("bob"));
        assert_eq!(writer("DELETE", "/v1/state/a%20b", "").as_deref(), Some("a b"));
        assert_eq!(writer("GET", "/v1/state/bob", ""), None);
        assert_eq!(writer("POST", "/v1/translate", r#"{"user_id":"ana"}"#), None);
    }

    #[test]
    fn refusals_have_the_api_error_shape() {
        let r = refuse(&Refusal::RateLimited(60));
        assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (429, Some("RATE_LIMITED")));
        assert!(body(&r)["error"]["message"].as_str().unwrap().contains("60 requests per minute"));
        assert_eq!(refuse(&Refusal::PayloadTooLarge(1024)).0, 413);
        assert_eq!(refuse(&Refusal::UnknownKey).0, 401);
        assert_eq!(refuse(&Refusal::NotUtf8).0, 400);
        let statuses = [
            (Refusal::AuthThrottled(20), 429, "AUTH_THROTTLED", "20 requests"),
            (Refusal::RequestTimeout(10), 408, "REQUEST_TIMEOUT", "10 s"),
            (Refusal::UriTooLong(8192), 414, "URI_TOO_LONG", "8192 bytes"),
            (Refusal::HeadersTooLarge(16384), 431, "HEADERS_TOO_LARGE", "16384 bytes"),
            (Refusal::MalformedRequest("invalid method".into()), 400, "MALFORMED_REQUEST", "invalid method"),
            (Refusal::TooManyConnections(64), 503, "OVERLOADED", "64 connections"),
            (Refusal::ShuttingDown, 503, "SHUTTING_DOWN", "stopping"),
        ];
        for (reason, status, code, names) in statuses {
            let r = refuse(&reason);
            assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (status, Some(code)), "{reason:?}");
            assert!(body(&r)["error"]["message"].as_str().unwrap().contains(names), "{reason:?}");
        }
    }
}
