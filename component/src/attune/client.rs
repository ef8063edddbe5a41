//! A client of the Attuned HTTP API without I/O: `prepare` builds a request, `interpret`
//! reads the answer and says what happens next (a result, an error, or a retry after
//! a delay). Hosts move the bytes, so they can wait on the network without holding
//! the component instance.
//!
//! Retries: 429, 5xx, timeouts and network errors are retried up to `max_retries`
//! times; 400/401/403/404 never. The delay is the server's `Retry-After` when it sends
//! one (capped at 60 s), otherwise `min(200 ms * 2^attempt, 5 s)`.

use super::snapshot::{check_user_id, Snapshot, Source};
use super::translator::{PromptContext, Verbosity};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{HttpError, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const BASE_BACKOFF_MS: u32 = 200;
pub const MAX_BACKOFF_MS: u32 = 5_000;
pub const MAX_RETRY_AFTER_MS: u32 = 60_000;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub max_retries: u32,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone)]
pub enum Operation {
    UpsertState(Snapshot),
    GetState(String),
    DeleteState(String),
    GetContext(String),
    Translate(Snapshot),
    Health,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientResult {
    Stored,
    State(Snapshot),
    Context(PromptContext),
    Deleted,
    Health(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(ClientResult),
    Retry(u32),
}

fn base(config: &ClientConfig) -> Result<&str> {
    let url = config.base_url.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
        return Err(Error::invalid("base_url", "must be an absolute http:// or https:// URL"));
    }
    if config.timeout_ms == 0 {
        return Err(Error::invalid("timeout", "must be greater than 0"));
    }
    Ok(url)
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters pass).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::SelfReport => "self_report",
        Source::Inferred => "inferred",
        Source::Mixed => "mixed",
    }
}

pub fn prepare(config: &ClientConfig, op: &Operation) -> Result<HttpRequest> {
    let url = base(config)?;
    let user_path = |prefix: &str, user_id: &str| -> Result<String> {
        check_user_id(user_id)?;
        Ok(format!("{url}{prefix}/{}", encode_segment(user_id)))
    };
    #[derive(serde::Serialize)]
    struct Body<'a> {
        user_id: &'a str,
        source: &'static str,
        confidence: f32,
        axes: BTreeMap<&'a str, f32>,
    }
    // f32s written as f32s (`0.9`), as the service writes them.
    let state_body = |s: &Snapshot| {
        let axes = s.axes.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let body =
            Body { user_id: &s.user_id, source: source_name(s.source), confidence: s.confidence, axes };
        Some(serde_json::to_string(&body).expect("a snapshot serialises"))
    };
    let (method, url, body) = match op {
        Operation::UpsertState(s) => ("POST", format!("{url}/v1/state"), state_body(s)),
        Operation::Translate(s) => ("POST", format!("{url}/v1/translate"), state_body(s)),
        Operation::GetState(u) => ("GET", user_path("/v1/state", u)?, None),
        Operation::DeleteState(u) => ("DELETE", user_path("/v1/state", u)?, None),
        Operation::GetContext(u) => ("GET", user_path("/v1/context", u)?, None),
        Operation::Health => ("GET", format!("{url}/health"), None),
    };
    let mut headers = vec![
        ("accept".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), format!("agentcell/{}", crate::meta::VERSION)),
    ];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if let Some(key) = &config.api_key {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    Ok(HttpRequest { method: method.into(), url, headers, body, timeout_ms: Some(config.timeout_ms) })
}

fn backoff_ms(attempt: u32) -> u32 {
    BASE_BACKOFF_MS.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX)).min(MAX_BACKOFF_MS)
}

fn retry_after_ms(response: &HttpResponse) -> Option<u32> {
    let value = response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?.1.trim();
    let seconds: f64 = value.parse().ok()?;
    Some(((seconds.max(0.0) * 1000.0) as u32).min(MAX_RETRY_AFTER_MS))
}

fn server_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

#[derive(Deserialize)]
struct WireState {
    user_id: String,
    updated_at_unix_ms: i64,
    source: Source,
    confidence: f32,
    axes: BTreeMap<String, f32>,
}

#[derive(Deserialize)]
struct WireContext {
    guidelines: Vec<String>,
    tone: String,
    verbosity: String,
    flags: Vec<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(ErrorCode::ServerError, format!("the service sent an unreadable answer: {e}"))
    })
}

fn done(op: &Operation, response: &HttpResponse) -> Result<ClientResult> {
    Ok(match op {
        Operation::UpsertState(_) => ClientResult::Stored,
        Operation::DeleteState(_) => ClientResult::Deleted,
        Operation::GetState(_) => {
            let w: WireState = parse(&response.body)?;
            ClientResult::State(Snapshot {
                user_id: w.user_id,
                updated_at_unix_ms: w.updated_at_unix_ms,
                source: w.source,
                confidence: w.confidence,
                axes: w.axes.into_iter().collect(),
            })
        }
        Operation::GetContext(_) | Operation::Translate(_) => {
            let w: WireContext = parse(&response.body)?;
            let verbosity = match w.verbosity.as_str() {
                "low" => Verbosity::Low,
                "high" => Verbosity::High,
                _ => Verbosity::Medium,
            };
            ClientResult::Context(PromptContext {
                guidelines: w.guidelines,
                tone: w.tone,
                verbosity,
                flags: w.flags,
            })
        }
        Operation::Health => {
            let v: serde_json::Value = parse(&response.body)?;
            ClientResult::Health(v["status"].as_str().unwrap_or("unknown").to_string())
        }
    })
}

pub fn interpret(
    config: &ClientConfig,
    op: &Operation,
    attempt: u32,
    answer: std::result::Result<HttpResponse, HttpError>,
) -> Result<Outcome> {
    let may_retry = attempt < config.max_retries;
    let response = match answer {
        Ok(r) => r,
        Err(HttpError::Timeout(m)) if !may_retry => return Err(Error::new(ErrorCode::HttpTimeout, m)),
        Err(HttpError::Failed(m)) if !may_retry => return Err(Error::new(ErrorCode::HttpFailed, m)),
        Err(HttpError::Timeout(_) | HttpError::Failed(_)) => return Ok(Outcome::Retry(backoff_ms(attempt))),
        Err(other) => return Err(other.into()),
    };
    let status = response.status;
    if (200..300).contains(&status) {
        return done(op, &response).map(Outcome::Done);
    }
    let message = format!("HTTP {status}: {}", server_message(&response.body));
    let retryable = status == 429 || status >= 500;
    if retryable && may_retry {
        return Ok(Outcome::Retry(retry_after_ms(&response).unwrap_or_else(|| backoff_ms(attempt))));
    }
    let code = match status {
        400 | 413 | 422 => ErrorCode::InvalidArgument,
        401 | 403 => ErrorCode::Unauthorized,
        404 => ErrorCode::NotFound,
        429 => ErrorCode::RateLimited,
        s if s >= 500 => ErrorCode::ServerError,
        _ => ErrorCode::HttpFailed,
    };
    let mut e = Error::new(code, message);
    if code == ErrorCode::RateLimited {
        e.retry_after_ms = retry_after_ms(&response);
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(retries: u32) -> ClientConfig {
        ClientConfig {
            base_url: "http://127.0.0.1:8080/".into(),
            api_key: Some("k".into()),
            max_retries: retries,
            timeout_ms: 1000,
        }
    }

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::result::Result<HttpResponse, HttpError> {
        Ok(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn prepares_requests_with_auth_and_encoded_ids() {
        let r = prepare(&config(0), &Operation::GetContext("用户-é".into())).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:8080/v1/context/%E7%94%A8%E6%88%B7-%C3%A9");
        assert!(r.headers.contains(&("authorization".into(), "Bearer k".into())));
        assert_eq!(
            prepare(&config(0), &Operation::GetState(String::new())).unwrap_err().field.as_deref(),
            Some("user_id")
        );
        let bad = ClientConfig { base_url: "localhost".into(), ..config(0) };
        assert_eq!(prepare(&bad, &Operation::Health).unwrap_err().field.as_deref(), Some("base_url"));
    }

    #[test]
    fn parses_answers() {
        let ctx = r#"{"guidelines":["g"],"tone":"warm-casual","verbosity":"low","flags":["f"]}"#;
        match interpret(&config(0), &Operation::GetContext("u".into()), 0, answer(200, &[], ctx)).unwrap() {
            Outcome::Done(ClientResult::Context(c)) => {
                assert_eq!((c.tone.as_str(), c.verbosity), ("warm-casual", Verbosity::Low))
            }
            other => panic!("{other:?}"),
        }
        let err = interpret(
            &config(3),
            &Operation::GetContext("u".into()),
            0,
            answer(404, &[], r#"{"error":{"code":"USER_NOT_FOUND","message":"no state"}}"#),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.contains("no state"));
        let err = interpret(&config(3), &Operation::Health, 0, answer(401, &[], "")).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthorized);
    }

    #[test]
    fn retries_honour_retry_after_then_give_up() {
        let op = Operation::Health;
        assert_eq!(
            interpret(&config(2), &op, 0, answer(429, &[("Retry-After", "3")], "")).unwrap(),
            Outcome::Retry(3000)
        );
        assert_eq!(interpret(&config(2), &op, 1, answer(503, &[], "")).unwrap(), Outcome::Retry(400));
        let e = interpret(&config(2), &op, 2, answer(429, &[("retry-after", "7")], "")).unwrap_err();
        assert_eq!((e.code, e.retry_after_ms), (ErrorCode::RateLimited, Some(7000)));
        assert_eq!(
            interpret(&config(1), &op, 0, Err(HttpError::Timeout("t".into()))).unwrap(),
            Outcome::Retry(200)
        );
        assert_eq!(
            interpret(&config(0), &op, 0, Err(HttpError::Timeout("t".into()))).unwrap_err().code,
            ErrorCode::HttpTimeout
        );
        assert_eq!(
            interpret(&config(5), &op, 0, answer(400, &[], "")).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(backoff_ms(10), MAX_BACKOFF_MS);
    }
}
