//! The HTTP front of the edge build: `wasi:http/incoming-handler` over the core's
//! service handlers, with the checks `agentcell serve` makes before it calls them:
//! the API key (`Authorization: Bearer`, the keys in config `api-keys`, comma
//! separated, compared in constant time; config `no-auth=true` serves without keys),
//! the body limit (1 MiB) and UTF-8 bodies. Refusals are worded by the core, as in
//! `agentcell serve`. Not here: rate limits and the connection limits (the runtime owns
//! connections; a runtime may give every request a fresh instance, so counts kept in
//! memory would not hold).
//!
//! AI Spine executions: the front makes the agent calls the engine asks for within the
//! request that started them (after the answer is sent), through the core's
//! `http-client` (the edge allow-list), and feeds each answer back to the engine.

wit_bindgen::generate!({ world: "front", path: "../wit", generate_all });

use agentcell::core::attune_service::{self, Refusal, ServiceRequest};
use agentcell::core::flows;
use agentcell::core::http_client;
use wasi_http::exports::http::incoming_handler::Guest;
use wasi_http::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi_http::io::streams::StreamError;

struct Front;

const BODY_LIMIT: usize = 1024 * 1024;
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

fn config(key: &str) -> Option<String> {
    wasi::config::store::get(key).ok().flatten()
}

/// Compares every configured key whole, whichever matches: the time tells nothing of
/// how much of a guess was right.
fn key_is_known(given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let keys = config("api-keys").unwrap_or_default();
    let mut found = subtle::Choice::from(0);
    for key in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        found |= key.as_bytes().ct_eq(given.as_bytes());
    }
    bool::from(found)
}

fn bearer(headers: &[(String, Vec<u8>)]) -> Option<String> {
    let value = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?;
    let text = std::str::from_utf8(&value.1).ok()?.trim();
    let (scheme, key) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim().to_string())
}

fn is_flows_path(path: &str) -> bool {
    flows::routes()
        .iter()
        .any(|r| path == r || path.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('/')))
}

fn refuse(flows_api: bool, reason: Refusal) -> (u16, String) {
    let answer = if flows_api { flows::refuse(&reason) } else { attune_service::refuse(&reason) };
    (answer.status, answer.body)
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Refusal> {
    let body =
        request.consume().map_err(|()| Refusal::MalformedRequest("the body could not be read".into()))?;
    let stream =
        body.stream().map_err(|()| Refusal::MalformedRequest("the body could not be read".into()))?;
    let mut raw = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => raw.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(raw),
            Err(e) => return Err(Refusal::MalformedRequest(format!("the body could not be read: {e:?}"))),
        }
        if raw.len() > BODY_LIMIT {
            return Err(Refusal::PayloadTooLarge(BODY_LIMIT as u32));
        }
    }
}

fn method_name(m: &Method) -> String {
    match m {
        Method::Get | Method::Head => "GET".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Patch => "PATCH".into(),
        Method::Options => "OPTIONS".into(),
        Method::Connect => "CONNECT".into(),
        Method::Trace => "TRACE".into(),
        Method::Other(o) => o.clone(),
    }
}

/// The answer, and the agent calls an AI Spine request started.
fn answer(request: &IncomingRequest) -> ((u16, String), Vec<flows::AgentCall>) {
    let target = request.path_with_query().unwrap_or_else(|| "/".into());
    let path = target.split('?').next().unwrap_or("/").to_string();
    let flows_api = is_flows_path(&path);
    let headers = request.headers().entries();
    let public = if flows_api { flows::public_paths() } else { attune_service::public_paths() };
    if !public.contains(&path) && config("no-auth").as_deref() != Some("true") {
        match bearer(&headers) {
            None => return (refuse(flows_api, Refusal::MissingKey), vec![]),
            Some(k) if !key_is_known(&k) => return (refuse(flows_api, Refusal::UnknownKey), vec![]),
            Some(_) => {}
        }
    }
    let body = match read_body(request) {
        Ok(b) => b,
        Err(reason) => return (refuse(flows_api, reason), vec![]),
    };
    let Ok(body) = String::from_utf8(body) else { return (refuse(flows_api, Refusal::NotUtf8), vec![]) };
    let method = method_name(&request.method());
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| String::from_utf8(v.clone()).ok());
    let req = ServiceRequest { method, path: if flows_api { target } else { path }, content_type, body };
    if flows_api {
        let answer = flows::handle(&req);
        ((answer.response.status, answer.response.body), answer.calls)
    } else {
        let answer = attune_service::handle(&req);
        ((answer.status, answer.body), vec![])
    }
}

fn respond(out: ResponseOutparam, status: u16, body: String) {
    let headers = Fields::new();
    if !body.is_empty() {
        let _ = headers.append("content-type", b"application/json");
    }
    for (name, value) in SECURITY_HEADERS {
        let _ = headers.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in body.as_bytes().chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Makes the engine's agent calls, feeding every answer back, until none is left.
fn run_agents(mut calls: Vec<flows::AgentCall>) {
    while let Some(call) = calls.pop() {
        if call.delay_ms > 0 {
            wasi_http::clocks::monotonic_clock::subscribe_duration(u64::from(call.delay_ms) * 1_000_000)
                .block();
        }
        let answer = http_client::send(&call.request);
        calls.extend(flows::deliver(&call.execution_id, &call.node_id, answer.as_ref()));
    }
}

impl Guest for Front {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let ((status, body), calls) = answer(&request);
        respond(out, status, body);
        run_agents(calls);
    }
}

wasi_http::http::proxy::export!(Front with_types_in wasi_http);
