//! A client of the AI Spine API, sans I/O (WIT `flows-client`): requests are built and
//! answers read here; the host only moves bytes.
//!
//! Retries: a 429 is retried for every operation (the server refused the request before
//! acting on it), after `Retry-After` when given; 5xx, timeouts and network failures only
//! for operations safe to repeat (reads and deletes), so an execution is never started
//! twice. After the last attempt the error is the real one, not a generic network error.

use super::model::check_id;
use crate::ports::{HttpError, HttpRequest, HttpResponse};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub base_url: String,
    pub api_key: Option<String>,
    pub max_retries: u32,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Execute { flow_id: String, input_json: String, metadata_json: Option<String> },
    GetExecution(String),
    CancelExecution(String),
    ListExecutions(Option<String>),
    ListFlows,
    GetFlow(String),
    CreateFlow(String),
    ListAgents,
    CreateAgent(String),
    DeleteAgent(String),
    Health,
    Metrics,
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Validation,
    Authentication,
    InsufficientCredits,
    RateLimit,
    Timeout,
    Network,
    Api,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub status_code: Option<u16>,
    pub retry_after: Option<u32>,
    pub details_json: Option<String>,
}

impl Failure {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into(), status_code: None, retry_after: None, details_json: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(String),
    Retry(u32),
}

/// The longest wait between attempts, whatever `Retry-After` asks.
const MAX_WAIT_MS: u32 = 60_000;

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(Kind::Validation, message)
}

fn id_rule(what: &str, id: &str) -> Result<(), Failure> {
    check_id(what, id).map_err(invalid)
}

/// Execution ids are UUIDs upstream; anything URL-safe is sent (the server judges).
fn execution_rule(id: &str) -> Result<(), Failure> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(()).ok_or_else(|| invalid(format!("execution_id {id:?} must be a UUID")))
}

fn object(what: &str, text: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(invalid(format!("{what} must be a JSON object"))),
        Err(e) => Err(invalid(format!("{what} is not JSON: {e}"))),
    }
}

fn is_idempotent(op: &Op) -> bool {
    !matches!(op, Op::Execute { .. } | Op::CancelExecution(_) | Op::CreateFlow(_) | Op::CreateAgent(_))
}

pub fn prepare(config: &Config, op: &Op) -> Result<HttpRequest, Failure> {
    let base = config.base_url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(invalid(format!("base_url {:?} must be an http:// or https:// URL", config.base_url)));
    }
    let (method, path, body) = match op {
        Op::Execute { flow_id, input_json, metadata_json } => {
            if flow_id.is_empty() {
                return Err(invalid("flow_id is required"));
            }
            id_rule("flow_id", flow_id)?;
            let mut body = json!({"flow_id": flow_id, "input_data": object("input_data", input_json)?});
            if let Some(m) = metadata_json {
                body["metadata"] = object("metadata", m)?;
            }
            ("POST", "/flows/execute".to_string(), Some(body.to_string()))
        }
        Op::GetExecution(id) => {
            execution_rule(id)?;
            ("GET", format!("/executions/{id}"), None)
        }
        Op::CancelExecution(id) => {
            execution_rule(id)?;
            ("POST", format!("/executions/{id}/cancel"), None)
        }
        Op::ListExecutions(flow) => match flow {
            Some(f) => {
                id_rule("flow_id", f)?;
                ("GET", format!("/executions?flow_id={f}"), None)
            }
            None => ("GET", "/executions".to_string(), None),
        },
        Op::ListFlows => ("GET", "/flows".to_string(), None),
        Op::GetFlow(id) => {
            id_rule("flow_id", id)?;
            ("GET", format!("/flows/{id}"), None)
        }
        Op::CreateFlow(def) => ("POST", "/flows".to_string(), Some(object("flow", def)?.to_string())),
        Op::ListAgents => ("GET", "/agents".to_string(), None),
        Op::CreateAgent(cfg) => {
            let v = object("agent_config", cfg)?;
            for field in ["agent_id", "name", "endpoint"] {
                if !v.get(field).is_some_and(Value::is_string) {
                    return Err(invalid(format!("agent_config needs a string {field}")));
                }
            }
            ("POST", "/agents".to_string(), Some(v.to_string()))
        }
        Op::DeleteAgent(id) => {
            id_rule("agent_id", id)?;
            ("DELETE", format!("/agents/{id}"), None)
        }
        Op::Health => ("GET", "/health".to_string(), None),
        Op::Metrics => ("GET", "/metrics".to_string(), None),
        Op::Status => ("GET", "/status".to_string(), None),
    };
    let mut headers = vec![
        ("accept".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), concat!("agentcell-flows/", env!("CARGO_PKG_VERSION")).to_string()),
    ];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if let Some(key) = &config.api_key {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    Ok(HttpRequest {
        method: method.into(),
        url: format!("{base}{path}"),
        headers,
        body,
        timeout_ms: Some(config.timeout_ms),
    })
}

/// What the server said went wrong: `detail` (FastAPI; a string or a list of
/// `{msg}`), `message` or `error`.
fn server_words(body: &Value) -> Option<String> {
    match body.get("detail") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(Value::Array(items)) => {
            let msgs: Vec<String> = items
                .iter()
                .map(|i| {
                    let loc = i.get("loc").and_then(Value::as_array).map(|l| {
                        l.iter()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(".")
                    });
                    let msg = i.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    loc.map_or_else(|| msg.to_string(), |l| format!("{l}: {msg}"))
                })
                .collect();
            return Some(msgs.join("; "));
        }
        Some(Value::Object(o)) => {
            if let Some(m) = o.get("message").and_then(Value::as_str) {
                return Some(m.to_string());
            }
        }
        _ => {}
    }
    ["message", "error"].iter().find_map(|k| match body.get(*k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("message").and_then(Value::as_str).map(str::to_string),
        _ => None,
    })
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn backoff_ms(attempt: u32) -> u32 {
    (250u32 << attempt.min(5)).min(8_000)
}

fn failure_of(response: &HttpResponse) -> Failure {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let status = response.status;
    let message = server_words(&body).unwrap_or_else(|| format!("the server answered HTTP {status}"));
    let kind = match status {
        400 | 422 => Kind::Validation,
        401 => Kind::Authentication,
        403 if body.get("error_code").and_then(Value::as_str) == Some("INSUFFICIENT_CREDITS") => {
            Kind::InsufficientCredits
        }
        403 => Kind::Authentication,
        429 => Kind::RateLimit,
        _ => Kind::Api,
    };
    let retry_after = header(response, "retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .or_else(|| body.get("retry_after").and_then(Value::as_f64))
        .map(|s| s.max(0.0).ceil() as u32);
    Failure {
        kind,
        message,
        status_code: Some(status),
        retry_after,
        details_json: (!body.is_null()).then(|| body.to_string()),
    }
}

/// The result of a successful answer, as JSON.
fn result_of(op: &Op, response: &HttpResponse) -> Result<String, Failure> {
    if response.body.is_empty() {
        return Ok(match op {
            Op::DeleteAgent(_) => "true".into(),
            _ => "{}".into(),
        });
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| Failure {
        status_code: Some(response.status),
        ..Failure::new(
            Kind::Api,
            format!("the server answered {} with a body that is not JSON: {e}", response.status),
        )
    })?;
    let list = |key: &str| match &body {
        Value::Array(_) => body.clone(),
        Value::Object(o) => o.get(key).cloned().unwrap_or(Value::Array(Vec::new())),
        _ => Value::Array(Vec::new()),
    };
    Ok(match op {
        Op::ListFlows => list("flows"),
        Op::ListAgents => list("agents"),
        Op::ListExecutions(_) => list("executions"),
        Op::DeleteAgent(_) => Value::Bool(true),
        _ => body,
    }
    .to_string())
}

pub fn interpret(
    config: &Config,
    op: &Op,
    attempt: u32,
    answer: Result<HttpResponse, HttpError>,
) -> Result<Outcome, Failure> {
    let retries_left = attempt < config.max_retries;
    let failure = match answer {
        Ok(response) if (200..300).contains(&response.status) => {
            return result_of(op, &response).map(Outcome::Done)
        }
        Ok(response) if response.status == 404 && matches!(op, Op::DeleteAgent(_)) => {
            return Ok(Outcome::Done("false".into()))
        }
        Ok(response) => failure_of(&response),
        Err(HttpError::Timeout(m)) => Failure::new(Kind::Timeout, m),
        Err(HttpError::Failed(m)) => Failure::new(Kind::Network, m),
        Err(HttpError::Denied(m)) => return Err(Failure::new(Kind::Network, m)),
        Err(HttpError::InvalidRequest(m)) => return Err(invalid(m)),
    };
    let repeatable = match failure.kind {
        Kind::RateLimit => true,
        Kind::Timeout | Kind::Network => is_idempotent(op),
        Kind::Api => is_idempotent(op) && failure.status_code.is_some_and(|s| s >= 500),
        _ => false,
    };
    if !(retries_left && repeatable) {
        return Err(failure);
    }
    let wait = failure.retry_after.map_or(backoff_ms(attempt), |s| s.saturating_mul(1000));
    Ok(Outcome::Retry(wait.min(MAX_WAIT_MS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            base_url: "http://h:1/api/v1/".into(),
            api_key: Some("sk_x".into()),
            max_retries: 2,
            timeout_ms: 1000,
        }
    }

    fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
        Ok(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn execute() -> Op {
        Op::Execute { flow_id: "f".into(), input_json: r#"{"a":1}"#.into(), metadata_json: None }
    }

    #[test]
    fn requests_carry_the_key_and_the_base_path() {
        let r = prepare(&config(), &execute()).unwrap();
        assert_eq!((r.method.as_str(), r.url.as_str()), ("POST", "http://h:1/api/v1/flows/execute"));
        assert!(r.headers.contains(&("authorization".into(), "Bearer sk_x".into())));
        assert_eq!(r.body.unwrap(), r#"{"flow_id":"f","input_data":{"a":1}}"#);
    }

    #[test]
    fn bad_arguments_are_refused_before_sending() {
        let empty = Op::Execute { flow_id: String::new(), input_json: "{}".into(), metadata_json: None };
        assert_eq!(prepare(&config(), &empty).unwrap_err().kind, Kind::Validation);
        let list = Op::Execute { flow_id: "f".into(), input_json: "[1]".into(), metadata_json: None };
        assert!(prepare(&config(), &list).unwrap_err().message.contains("JSON object"));
        assert!(prepare(&config(), &Op::GetFlow("../x".into())).is_err());
    }

    #[test]
    fn an_execute_is_retried_after_429_only() {
        let c = config();
        let limited = response(429, r#"{"detail":"slow down"}"#, &[("retry-after", "3")]);
        assert_eq!(interpret(&c, &execute(), 0, limited), Ok(Outcome::Retry(3000)));
        let failed = interpret(&c, &execute(), 0, response(503, "{}", &[])).unwrap_err();
        assert_eq!((failed.kind, failed.status_code), (Kind::Api, Some(503)));
        let lost = interpret(&c, &execute(), 0, Err(HttpError::Failed("reset".into()))).unwrap_err();
        assert_eq!(lost.kind, Kind::Network);
        assert_eq!(interpret(&c, &Op::ListFlows, 0, response(503, "{}", &[])), Ok(Outcome::Retry(250)));
        assert_eq!(
            interpret(&c, &Op::ListFlows, 1, Err(HttpError::Timeout("t".into()))),
            Ok(Outcome::Retry(500))
        );
        let last =
            interpret(&c, &Op::ListFlows, 2, response(500, r#"{"detail":"db down"}"#, &[])).unwrap_err();
        assert_eq!((last.kind, last.message.as_str(), last.status_code), (Kind::Api, "db down", Some(500)));
    }

    #[test]
    fn errors_are_read_from_detail_message_or_error() {
        let c = config();
        let e =
            interpret(&c, &Op::GetFlow("f".into()), 0, response(401, r#"{"detail":"Invalid API key"}"#, &[]))
                .unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (Kind::Authentication, "Invalid API key"));
        let e = interpret(&c, &execute(), 0, response(400, r#"{"message":"bad input"}"#, &[])).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (Kind::Validation, "bad input"));
        let body = r#"{"error":"no credits","error_code":"INSUFFICIENT_CREDITS","credits_needed":5}"#;
        let e = interpret(&c, &execute(), 0, response(403, body, &[])).unwrap_err();
        assert_eq!(e.kind, Kind::InsufficientCredits);
        assert!(e.details_json.unwrap().contains("credits_needed"));
        let fastapi = r#"{"detail":[{"loc":["body","flow_id"],"msg":"Field required","type":"missing"}]}"#;
        let e = interpret(&c, &execute(), 0, response(422, fastapi, &[])).unwrap_err();
        assert_eq!(e.message, "body.flow_id: Field required");
        let e = interpret(&c, &execute(), 2, response(429, r#"{"retry_after": 60}"#, &[])).unwrap_err();
        assert_eq!((e.kind, e.retry_after), (Kind::RateLimit, Some(60)));
    }

    #[test]
    fn lists_and_deletes_read_as_upstreams_sdk() {
        let c = config();
        let wrapped =
            interpret(&c, &Op::ListFlows, 0, response(200, r#"{"flows":[{"flow_id":"a"}],"count":1}"#, &[]));
        assert_eq!(wrapped, Ok(Outcome::Done(r#"[{"flow_id":"a"}]"#.into())));
        let bare = interpret(&c, &Op::ListAgents, 0, response(200, r#"[{"agent_id":"x"}]"#, &[]));
        assert_eq!(bare, Ok(Outcome::Done(r#"[{"agent_id":"x"}]"#.into())));
        let gone = Op::DeleteAgent("x".into());
        assert_eq!(interpret(&c, &gone, 0, response(204, "", &[])), Ok(Outcome::Done("true".into())));
        assert_eq!(
            interpret(&c, &gone, 0, response(404, r#"{"detail":"no"}"#, &[])),
            Ok(Outcome::Done("false".into()))
        );
    }
}
