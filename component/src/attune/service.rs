//! The Attuned HTTP API: routing, request parsing, responses and error bodies in
//! upstream's shape. Hosts carry bytes, authenticate and rate-limit; all the rest is here.

use super::snapshot::{Snapshot, Source};
use super::translator::{translate, PromptContext, Thresholds, Verbosity};
use super::{context_cache, infer, store};
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

/// A snapshot as the API sends it. Serialised from this struct, not through
/// `serde_json::Value`, so that each f32 is written as the shortest decimal that reads
/// back as the same f32 (`0.9`, not `0.8999999761581421`), as upstream writes it.
#[derive(serde::Serialize)]
struct WireSnapshot<'a> {
    user_id: &'a str,
    updated_at_unix_ms: i64,
    source: &'static str,
    confidence: f32,
    axes: BTreeMap<&'a str, f32>,
}

fn snapshot_json(s: &Snapshot) -> String {
    let wire = WireSnapshot {
        user_id: &s.user_id,
        updated_at_unix_ms: s.updated_at_unix_ms,
        source: source_name(s.source),
        confidence: s.confidence,
        axes: s.axes.iter().map(|(n, v)| (n.as_str(), *v)).collect(),
    };
    serde_json::to_string(&wire).expect("a snapshot serialises")
}

fn context_json(c: &PromptContext) -> String {
    let verbosity = match c.verbosity {
        Verbosity::Low => "low",
        Verbosity::Medium => "medium",
        Verbosity::High => "high",
    };
    json!({"guidelines": c.guidelines, "tone": c.tone, "verbosity": verbosity, "flags": c.flags}).to_string()
}

/// How a state body spells its source on the wire: snake_case only, as upstream.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum WireSource {
    SelfReport,
    Inferred,
    Mixed,
}

impl From<WireSource> for Source {
    fn from(s: WireSource) -> Self {
        match s {
            WireSource::SelfReport => Source::SelfReport,
            WireSource::Inferred => Source::Inferred,
            WireSource::Mixed => Source::Mixed,
        }
    }
}

fn default_wire_source() -> WireSource {
    WireSource::SelfReport
}

/// The body of `POST /v1/state`: `user_id` and `axes` required, as upstream; fields it
/// does not know (`updated_at_unix_ms` among them: the server stamps the time) are
/// ignored, as upstream ignores them.
#[derive(Deserialize)]
struct StateBody {
    user_id: String,
    #[serde(default = "default_wire_source")]
    source: WireSource,
    #[serde(default = "Snapshot::default_confidence")]
    confidence: f32,
    axes: BTreeMap<String, f32>,
    /// Free text from the user: its inferred axes are stored too, as an inferred
    /// snapshot after this one (so a value the user reported outranks them).
    #[serde(default)]
    message: Option<String>,
}

/// The body of `POST /v1/infer`.
#[derive(Deserialize)]
struct InferBody {
    message: String,
    /// Whose message: their baseline (every message inferred for them so far) gives
    /// the deltas, and takes this one in. Their stored state is not touched.
    #[serde(default)]
    user_id: Option<String>,
}

/// The inferred snapshot of `message` for `user_id`, none when the text gives no
/// estimate. Its confidence is the estimates' (they share one).
fn inferred_snapshot(user_id: &str, message: &str) -> Result<Option<Snapshot>, Error> {
    let state = infer::infer(message, infer::DEFAULT_CONFIDENCE_CAP)?;
    let Some(first) = state.estimates.first() else { return Ok(None) };
    Ok(Some(Snapshot {
        user_id: user_id.to_string(),
        updated_at_unix_ms: 0,
        source: Source::Inferred,
        confidence: first.confidence,
        axes: state.estimates.iter().map(|e| (e.axis.clone(), e.value)).collect(),
    }))
}

/// The body of `POST /v1/translate`: a state without a user.
#[derive(Deserialize)]
struct TranslateBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default = "default_wire_source")]
    source: WireSource,
    #[serde(default = "Snapshot::default_confidence")]
    confidence: f32,
    #[serde(default)]
    axes: BTreeMap<String, f32>,
}

/// Whether a `Content-Type` names JSON (`application/json`, or a `+json` type).
fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a JSON body as upstream's extractor does: not JSON at all is 400, JSON of the
/// wrong shape (a missing field, a wrong type, an unknown source) is 422, a request
/// that does not say it is JSON is 415. The error body keeps this API's shape.
fn read_json<T: serde::de::DeserializeOwned>(content_type: Option<&str>, body: &str) -> Result<T, Response> {
    if !is_json(content_type) {
        let message = "Content-Type must be application/json";
        return Err(error_body(415, "UNSUPPORTED_MEDIA_TYPE", message));
    }
    serde_json::from_str(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => error_body(422, "INVALID_BODY", &format!("body: {e}")),
        _ => error_body(400, "INVALID_JSON", &format!("body: not valid JSON ({e})")),
    })
}

fn snapshot_of(
    user_id: String,
    source: WireSource,
    confidence: f32,
    axes: BTreeMap<String, f32>,
) -> Snapshot {
    Snapshot {
        user_id,
        updated_at_unix_ms: 0,
        source: source.into(),
        confidence,
        axes: axes.into_iter().collect(),
    }
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
    content_type: Option<&str>,
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
            let b: StateBody = match read_json(content_type, body) {
                Ok(b) => b,
                Err(refused) => return Ok(refused),
            };
            let inferred = match &b.message {
                Some(m) => inferred_snapshot(&b.user_id, m).map_err(|e| (e, None))?,
                None => None,
            };
            let snapshot = snapshot_of(b.user_id, b.source, b.confidence, b.axes);
            let now = now_ms();
            let snapshot = snapshot.validated(now).map_err(|e| (e, None))?;
            let inferred = inferred.map(|s| s.validated(now)).transpose().map_err(|e| (e, None))?;
            store::upsert(storage, snapshot).map_err(|e| (e, None))?;
            if let Some(inferred) = inferred {
                store::upsert(storage, inferred).map_err(|e| (e, None))?;
            }
            Ok((204, String::new()))
        }
        ("POST", ["v1", "infer"]) => {
            let b: InferBody = match read_json(content_type, body) {
                Ok(b) => b,
                Err(refused) => return Ok(refused),
            };
            let features = infer::extract_features(&b.message).map_err(|e| (e, None))?;
            let state = infer::infer(&b.message, infer::DEFAULT_CONFIDENCE_CAP).map_err(|e| (e, None))?;
            let baseline = match &b.user_id {
                Some(id) => {
                    let id = user(id).map_err(|e| (e, None))?;
                    let cap = infer::DEFAULT_CONFIDENCE_CAP;
                    Some(store::add_to_baseline(storage, &id, &state, cap).map_err(|e| (e, Some(id)))?)
                }
                None => None,
            };
            // Serialised from the structs, so f32s read as f32s (as in `WireSnapshot`).
            #[derive(serde::Serialize)]
            struct Answer<'a> {
                estimates: &'a [infer::AxisEstimate],
                features: &'a infer::LinguisticFeatures,
                /// With a `user_id`: each axis's shift from the user's baseline (the
                /// messages before this one), and how many messages that baseline holds.
                #[serde(skip_serializing_if = "Option::is_none")]
                deltas: Option<BTreeMap<String, f32>>,
                #[serde(skip_serializing_if = "Option::is_none")]
                baseline_messages: Option<u64>,
            }
            let answer = Answer {
                estimates: &state.estimates,
                features: &features,
                deltas: baseline.as_ref().map(|b| infer::deltas(&b.state, &state).into_iter().collect()),
                baseline_messages: baseline.as_ref().map(|b| b.messages),
            };
            Ok((200, serde_json::to_string(&answer).expect("estimates serialise")))
        }
        ("GET", ["v1", "state", id]) => {
            let id = user(id).map_err(|e| (e, None))?;
            let s = store::get(storage, &id).map_err(|e| (e, Some(id.clone())))?;
            Ok((200, snapshot_json(&s)))
        }
        // As upstream: deleting a user with no state is not an error (204 either way).
        ("DELETE", ["v1", "state", id]) => {
            let id = user(id).map_err(|e| (e, None))?;
            store::delete(storage, &id).map_err(|e| (e, None))?;
            Ok((204, String::new()))
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
            let b: TranslateBody = match read_json(content_type, body) {
                Ok(b) => b,
                Err(refused) => return Ok(refused),
            };
            let user_id = b.user_id.unwrap_or_else(|| "anonymous".to_string());
            let snapshot = snapshot_of(user_id, b.source, b.confidence, b.axes);
            let snapshot = snapshot.validated(now_ms()).map_err(|e| (e, None))?;
            Ok((200, context_json(&translate(&snapshot, Thresholds::default()))))
        }
        (_, ["health" | "ready" | "openapi.json"] | ["v1", "state" | "translate" | "infer"])
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
        // With a `user_id`, an inference adds to that user's baseline.
        ("POST", ["v1", "infer"]) => serde_json::from_str::<Target>(body).ok().and_then(|t| t.user_id),
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
        handle(s, method, path, Some("application/json"), b, || 1_700_000_000_000)
    }

    #[test]
    fn reads_never_read_the_clock() {
        let s = MemoryStorage::default();
        assert_eq!(call(&s, "POST", "/v1/state", r#"{"user_id":"u","axes":{"warmth":0.9}}"#).0, 204);
        let no_clock = || -> i64 { panic!("a read asked for the time") };
        for path in ["/v1/context/u", "/v1/state/u", "/v1/context/nobody", "/health"] {
            assert_ne!(handle(&s, "GET", path, None, "", no_clock).0, 500, "{path}");
        }
    }

    #[test]
    fn state_round_trip_and_context() {
        let s = MemoryStorage::default();
        let r = call(
            &s,
            "POST",
            "/v1/state",
            r#"{"user_id":"ü-1","source":"self_report","axes":{"warmth":0.9,"cognitive_load":0.9}}"#,
        );
        assert_eq!(r, (204, String::new()));
        let r = call(&s, "GET", "/v1/state/%C3%BC-1", "");
        assert_eq!(r.0, 200);
        assert_eq!(body(&r)["source"], "self_report");
        assert_eq!(body(&r)["user_id"], "ü-1");
        let r = call(&s, "GET", "/v1/context/%C3%BC-1", "");
        assert_eq!((r.0, body(&r)["tone"].as_str()), (200, Some("warm-casual")));
        assert_eq!(call(&s, "DELETE", "/v1/state/%C3%BC-1", "").0, 204);
        let r = call(&s, "GET", "/v1/context/%C3%BC-1", "");
        assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (404, Some("USER_NOT_FOUND")));
        assert_eq!(call(&s, "DELETE", "/v1/state/%C3%BC-1", "").0, 204, "as upstream: no error");
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
    fn deltas_are_shifts_from_the_users_baseline_of_earlier_messages() {
        let s = MemoryStorage::default();
        let body = |m: &str| format!(r#"{{"user_id":"ana","message":"{m}"}}"#);
        let calm = "Thank you, that all looks fine to me and I am happy with the plan.";
        let (status, first) = call(&s, "POST", "/v1/infer", &body(calm));
        let first: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!((status, &first["deltas"], &first["baseline_messages"]), (200, &json!({}), &json!(0)));
        let (_, again) = call(&s, "POST", "/v1/infer", &body(calm));
        let again: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(again["baseline_messages"], 1);
        assert!(again["deltas"].as_object().unwrap().values().all(|d| d.as_f64().unwrap().abs() < 1e-6));
        let (_, urgent) = call(&s, "POST", "/v1/infer", &body("URGENT!!! Fix this NOW, it is broken!!!"));
        let urgent: serde_json::Value = serde_json::from_str(&urgent).unwrap();
        assert_eq!(urgent["baseline_messages"], 2);
        assert!(urgent["deltas"]["urgency_sensitivity"].as_f64().unwrap() > 0.3, "{urgent}");
        // Another user has a baseline of their own; the state store is not touched.
        let (_, other) = call(&s, "POST", "/v1/infer", r#"{"user_id":"bo","message":"hi there"}"#);
        assert!(other.contains(r#""baseline_messages":0"#));
        assert_eq!(call(&s, "GET", "/v1/state/ana", "").0, 404);
        assert_eq!(call(&s, "POST", "/v1/infer", r#"{"user_id":"a b","message":"x"}"#).0, 400);
        // Deleting the user forgets the baseline too.
        assert_eq!(call(&s, "DELETE", "/v1/state/ana", "").0, 204);
        assert!(call(&s, "POST", "/v1/infer", &body(calm)).1.contains(r#""baseline_messages":0"#));
    }

    #[test]
    fn a_message_is_inferred_and_the_users_own_values_outrank_it() {
        let s = MemoryStorage::default();
        let r =
            call(&s, "POST", "/v1/infer", r#"{"message":"I'm so worried and scared, I'm not sure at all."}"#);
        assert_eq!(r.0, 200);
        let estimates = body(&r)["estimates"].as_array().unwrap().clone();
        assert!(estimates
            .iter()
            .all(|e| e["source"] == "inferred" && e["confidence"].as_f64().unwrap() <= 0.7));
        assert!(body(&r)["features"]["negative_emotion_count"].as_u64().unwrap() >= 2);
        let post = r#"{"user_id":"m","axes":{"anxiety_level":0.1},"message":"I'm so worried and scared!"}"#;
        assert_eq!(call(&s, "POST", "/v1/state", post).0, 204);
        let state = body(&call(&s, "GET", "/v1/state/m", ""));
        assert_eq!(state["source"], "mixed");
        assert!(
            (state["axes"]["anxiety_level"].as_f64().unwrap() - 0.1).abs() < 1e-6,
            "the user's word wins"
        );
        assert!(state["axes"]["urgency_sensitivity"].is_number(), "inferred axes are stored");
        assert_eq!(call(&s, "POST", "/v1/infer", r#"{"text":"x"}"#).0, 422);
        assert!(!call(&s, "POST", "/v1/infer", r#"{"message":"calm words"}"#).1.contains("deltas"));
        assert_eq!(call(&s, "GET", "/v1/infer", "").0, 405);
    }

    #[test]
    fn errors_have_upstream_shape() {
        let s = MemoryStorage::default();
        let r = call(&s, "POST", "/v1/state", r#"{"user_id":"u","axes":{"Mood":0.5}}"#);
        assert_eq!((r.0, body(&r)["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")));
        assert!(body(&r)["error"]["message"].as_str().unwrap().contains("axes.Mood"));
        let code = |r: Response| (r.0, body(&r)["error"]["code"].as_str().map(str::to_string));
        let is = |status: u16, c: &str| (status, Some(c.to_string()));
        assert_eq!(code(call(&s, "POST", "/v1/state", "not json")), is(400, "INVALID_JSON"));
        assert_eq!(code(call(&s, "POST", "/v1/state", r#"{"axes":{}}"#)), is(422, "INVALID_BODY"));
        assert_eq!(code(call(&s, "POST", "/v1/state", r#"{"user_id":"u"}"#)), is(422, "INVALID_BODY"));
        let dashed = r#"{"user_id":"u","source":"self-report","axes":{}}"#;
        assert_eq!(code(call(&s, "POST", "/v1/state", dashed)), is(422, "INVALID_BODY"));
        let typed = r#"{"user_id":"u","axes":{"warmth":"high"}}"#;
        assert_eq!(code(call(&s, "POST", "/v1/state", typed)), is(422, "INVALID_BODY"));
        let no_type = handle(&s, "POST", "/v1/state", None, r#"{"user_id":"u","axes":{}}"#, || 1);
        assert_eq!(code(no_type), is(415, "UNSUPPORTED_MEDIA_TYPE"));
        let text = handle(&s, "POST", "/v1/state", Some("text/plain"), r#"{"user_id":"u","axes":{}}"#, || 1);
        assert_eq!(text.0, 415);
        let charset = Some("Application/JSON; charset=utf-8");
        assert_eq!(handle(&s, "POST", "/v1/state", charset, r#"{"user_id":"u","axes":{}}"#, || 1).0, 204);
        // Fields upstream does not know are ignored, the timestamp among them.
        let extra = r#"{"user_id":"x","axes":{"warmth":0.9},"updated_at_unix_ms":5,"extra":[1]}"#;
        assert_eq!(call(&s, "POST", "/v1/state", extra).0, 204);
        assert_eq!(body(&call(&s, "GET", "/v1/state/x", ""))["updated_at_unix_ms"], 1_700_000_000_000i64);
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
        assert_eq!(writer("POST", "/v1/infer", r#"{"user_id":"ana","message":"x"}"#).as_deref(), Some("ana"));
        assert_eq!(writer("POST", "/v1/infer", r#"{"message":"x"}"#), None);
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
