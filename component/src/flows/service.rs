//! The AI Spine HTTP API: upstream's routes, bodies, status codes and error shape
//! (`{"detail": "..."}`; FastAPI's list form for a body of the wrong shape), at the root
//! and under `/api/v1` where upstream's variants differ (201 on create, paging fields).

use super::engine::{new_id, AgentAnswer, Ask, Due, Execution, NodeRun};
use super::model::{check_id, AgentInfo, FlowDefinition, Object, Status};
use super::store;
use crate::error::Error;
use crate::ports::Storage;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The path prefixes of this API (see WIT `flows.routes`).
pub const ROUTES: [&str; 7] =
    ["/flows", "/executions", "/agents", "/metrics", "/status", "/messages", "/api/v1"];
/// Answered without a key.
pub const PUBLIC_PATHS: [&str; 2] = ["/api/v1/health", "/api/v1/openapi.json"];

const OPENAPI: &str = include_str!("openapi.json");

/// A request (the path may carry a query string).
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a str,
}

/// An answer and the agent calls it made due, for one execution.
#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub execution_id: String,
    pub calls: Vec<Due>,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer { status, body: body.to_string(), ..Answer::default() }
}

fn detail(status: u16, message: impl Into<String>) -> Answer {
    answer(status, json!({"detail": message.into()}))
}

/// FastAPI's 422 for a body or parameter of the wrong shape.
fn unprocessable(loc: &[&str], msg: impl Into<String>, kind: &str) -> Answer {
    answer(422, json!({"detail": [{"loc": loc, "msg": msg.into(), "type": kind}]}))
}

fn storage_failed(e: Error) -> Answer {
    detail(500, e.message)
}

/// ISO 8601 time of a Unix time in milliseconds.
pub fn iso(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

fn iso_opt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(iso(m)))
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Running => "running",
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    }
}

/// Upstream's `ExecutionContextResponse`.
pub fn execution_view(e: &Execution) -> Value {
    json!({
        "execution_id": e.execution_id,
        "flow_id": e.flow_id,
        "status": status_name(e.status),
        "input_data": e.ask.input_data,
        "output_data": e.output_data,
        "error_message": e.error_message,
        "created_at": iso(e.created_ms),
        "updated_at": iso(e.updated_ms),
        "completed_at": iso_opt(e.finished_ms),
    })
}

/// Upstream's `NodeExecutionResult`.
fn node_view(execution_id: &str, r: &NodeRun) -> Value {
    json!({
        "id": r.id,
        "execution_id": execution_id,
        "node_id": r.node_id,
        "agent_id": r.agent_id,
        "status": status_name(r.status),
        "input_data": r.input_data,
        "output_data": r.output_data,
        "error_message": r.error_message,
        "execution_time_ms": r.finished_ms.map_or(0, |f| f - r.started_ms),
        "created_at": iso(r.started_ms),
        "updated_at": iso(r.updated_ms),
        "completed_at": iso_opt(r.finished_ms),
    })
}

/// Splits `/a/b?x=1&y=2` into segments and query pairs (percent-decoding values).
fn split(path: &str) -> (Vec<&str>, BTreeMap<String, String>) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let segments = path.split('/').filter(|s| !s.is_empty()).collect();
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k), decode_component(v))
        })
        .collect();
    (segments, pairs)
}

fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, Answer> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| unprocessable(&["body"], format!("JSON decode error: {e}"), "json_invalid"))?;
    if !value.is_object() {
        return Err(unprocessable(&["body"], "Input should be a valid dictionary", "dict_type"));
    }
    serde_json::from_value(value).map_err(|e| unprocessable(&["body"], e.to_string(), "value_error"))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn uuid_param(id: &str) -> Result<(), Answer> {
    match is_uuid(id) {
        true => Ok(()),
        false => Err(unprocessable(
            &["path", "execution_id"],
            format!("Input should be a valid UUID, got {id:?}"),
            "uuid_parsing",
        )),
    }
}

fn number_param(
    query: &BTreeMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, Answer> {
    match query.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(unprocessable(
                &["query", name],
                format!("Input should be an integer from 0 to {max}, got {v:?}"),
                "int_parsing",
            )),
        },
    }
}

/// Answers one request. `now` is the wall clock in ms.
pub fn handle(storage: &dyn Storage, req: &Request<'_>, now: i64) -> Answer {
    let (mut segments, query) = split(req.path);
    let v1 = segments.len() >= 2 && segments[0] == "api" && segments[1] == "v1";
    if v1 {
        segments.drain(..2);
    }
    let method = match req.method {
        "HEAD" => "GET",
        m => m,
    };
    let routed = route(storage, method, &segments, &query, req.body, v1, now);
    routed.unwrap_or_else(|a| a)
}

fn route(
    storage: &dyn Storage,
    method: &str,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &str,
    v1: bool,
    now: i64,
) -> Result<Answer, Answer> {
    let created = if v1 { 201 } else { 200 };
    Ok(match (method, segments) {
        ("GET", ["health"]) => answer(
            200,
            json!({"status": "healthy", "timestamp": iso(now), "message": "AI Spine API is running", "startup_complete": true}),
        ),
        ("GET", ["openapi.json"]) => Answer { status: 200, body: OPENAPI.to_string(), ..Answer::default() },
        ("POST", ["flows", "execute"]) => execute(storage, body, now)?,
        ("GET", ["flows"]) => {
            let flows = store::list_flows_raw(storage).map_err(storage_failed)?;
            Answer { status: 200, body: store::listing("flows", &flows), ..Answer::default() }
        }
        ("POST", ["flows"]) => {
            let mut flow: FlowDefinition = parse_body(body)?;
            check_flow(storage, &flow)?;
            flow.created_at = Some(iso(now));
            flow.updated_at = flow.created_at.clone();
            match store::create_flow(storage, &flow).map_err(storage_failed)? {
                true => answer(created, serde_json::to_value(&flow).unwrap_or_default()),
                false => detail(409, format!("Flow '{}' already exists", flow.flow_id)),
            }
        }
        ("GET", ["flows", id]) => match store::get_flow_raw(storage, id).map_err(storage_failed)? {
            Some(flow) => Answer { status: 200, body: flow, ..Answer::default() },
            None => detail(404, format!("Flow '{id}' not found")),
        },
        ("PUT", ["flows", id]) => {
            let mut flow: FlowDefinition = parse_body(body)?;
            flow.flow_id = id.to_string();
            check_flow(storage, &flow)?;
            let updated = store::update_flow(storage, id, |old| {
                let mut next = flow.clone();
                next.version = bump_patch(&old.version);
                next.created_at = old.created_at.clone();
                next.updated_at = Some(iso(now));
                Ok(next)
            })
            .map_err(storage_failed)?;
            match updated {
                Some(flow) => answer(200, serde_json::to_value(flow).unwrap_or_default()),
                None => detail(404, format!("Flow '{id}' not found")),
            }
        }
        ("DELETE", ["flows", id]) => match store::delete_flow(storage, id).map_err(storage_failed)? {
            true => answer(200, json!({"message": format!("Flow '{id}' deleted successfully")})),
            false => detail(404, format!("Flow '{id}' not found")),
        },
        ("GET", ["executions"]) => {
            let limit = number_param(query, "limit", if v1 { 20 } else { 100 }, 1000)?;
            let offset = number_param(query, "offset", 0, usize::MAX)?;
            let flow_id = query.get("flow_id").cloned();
            let status = query.get("status").cloned();
            let keep = |e: &Execution| {
                flow_id.as_ref().is_none_or(|f| *f == e.flow_id)
                    && status.as_ref().is_none_or(|s| s == status_name(e.status))
            };
            let found = store::list_executions(storage, keep, offset, limit).map_err(storage_failed)?;
            let views: Vec<Value> = found.iter().map(execution_view).collect();
            match v1 {
                true => answer(
                    200,
                    json!({"executions": views, "count": views.len(), "limit": limit, "offset": offset}),
                ),
                false => answer(200, json!({"executions": views, "count": views.len(), "flow_id": flow_id})),
            }
        }
        ("GET", ["executions", id]) => {
            uuid_param(id)?;
            answer(200, execution_view(&find_execution(storage, id)?))
        }
        ("GET", ["executions", id, "results"]) => {
            uuid_param(id)?;
            let e = find_execution(storage, id)?;
            let nodes: Vec<Value> = e.nodes.iter().map(|r| node_view(&e.execution_id, r)).collect();
            match v1 {
                true => answer(200, json!({"execution": execution_view(&e), "node_results": nodes})),
                false => answer(
                    200,
                    json!({"execution_id": e.execution_id, "count": nodes.len(), "node_results": nodes}),
                ),
            }
        }
        ("POST", ["executions", id, "cancel"]) => {
            uuid_param(id)?;
            match store::update_execution(storage, id, |e| e.cancel(now).then_some(()))
                .map_err(storage_failed)?
            {
                Some(()) => answer(200, json!({"message": "Execution cancelled successfully"})),
                None => detail(404, format!("Execution '{id}' not found or not running")),
            }
        }
        ("GET", ["messages", id]) => {
            uuid_param(id)?;
            let e = find_execution(storage, id)?;
            let limit = number_param(query, "limit", 100, 1000)?;
            let offset = number_param(query, "offset", 0, usize::MAX)?;
            let messages: Vec<Value> = e
                .nodes
                .iter()
                .filter(|r| r.agent_id.is_some())
                .skip(offset)
                .take(limit)
                .map(|r| message_view(&e, r))
                .collect();
            answer(
                200,
                json!({"messages": messages, "count": messages.len(), "execution_id": e.execution_id}),
            )
        }
        ("GET", ["agents"]) => {
            let agents = store::list_agents_raw(storage).map_err(storage_failed)?;
            Answer { status: 200, body: store::listing("agents", &agents), ..Answer::default() }
        }
        ("GET", ["agents", "active"]) => {
            let agents: Vec<AgentInfo> = store::list_agents(storage)
                .map_err(storage_failed)?
                .into_iter()
                .filter(|a| a.is_active)
                .collect();
            answer(200, json!({"count": agents.len(), "agents": agents}))
        }
        ("GET", ["agents", id]) => match store::get_agent(storage, id).map_err(storage_failed)? {
            Some(agent) => answer(200, serde_json::to_value(agent).unwrap_or_default()),
            None => detail(404, format!("Agent '{id}' not found")),
        },
        ("POST", ["agents"]) => {
            let mut agent: AgentInfo = parse_body(body)?;
            agent.validate().map_err(|rule| detail(400, format!("Invalid agent: {rule}")))?;
            let before = store::get_agent(storage, &agent.agent_id).map_err(storage_failed)?;
            agent.created_at = Some(before.and_then(|b| b.created_at).unwrap_or_else(|| iso(now)));
            agent.updated_at = Some(iso(now));
            store::put_agent(storage, &agent).map_err(storage_failed)?;
            answer(created, serde_json::to_value(agent).unwrap_or_default())
        }
        ("DELETE", ["agents", id]) => match store::delete_agent(storage, id).map_err(storage_failed)? {
            true => answer(200, json!({"message": format!("Agent '{id}' unregistered successfully")})),
            false => detail(404, format!("Agent '{id}' not found")),
        },
        ("GET", ["metrics"]) => {
            answer(200, metrics(&store::all_executions(storage).map_err(storage_failed)?))
        }
        ("GET", ["status"]) => {
            let agents = store::list_agents(storage).map_err(storage_failed)?;
            let flows = store::list_flows(storage).map_err(storage_failed)?;
            let active = "active";
            answer(
                200,
                json!({
                    "status": "operational",
                    "components": {"registry": active, "communication": active, "memory": active, "orchestrator": active},
                    "agents": {"total": agents.len(), "active": agents.iter().filter(|a| a.is_active).count()},
                    "flows": {"total": flows.len()},
                }),
            )
        }
        (_, ["health" | "openapi.json" | "flows" | "executions" | "agents" | "metrics" | "status"])
        | (_, ["flows" | "executions" | "agents" | "messages", ..]) => detail(405, "Method Not Allowed"),
        _ => detail(404, "Not Found"),
    })
}

fn find_execution(storage: &dyn Storage, id: &str) -> Result<Execution, Answer> {
    store::get_execution(storage, id)
        .map_err(storage_failed)?
        .ok_or_else(|| detail(404, format!("Execution '{id}' not found")))
}

fn message_view(e: &Execution, r: &NodeRun) -> Value {
    json!({
        "message_id": r.id,
        "execution_id": e.execution_id,
        "node_id": r.node_id,
        "from_agent": "orchestrator",
        "to_agent": r.agent_id,
        "message_type": "execute",
        "payload": r.input_data,
        "response": r.output_data,
        "status": status_name(r.status),
        "timestamp": iso(r.started_ms),
    })
}

/// `1.2.3` -> `1.2.4` (upstream bumps the patch on update); anything else gets `.1`.
fn bump_patch(version: &str) -> String {
    match version.rsplit_once('.') {
        Some((head, patch)) => match patch.parse::<u64>() {
            Ok(n) => format!("{head}.{}", n + 1),
            Err(_) => format!("{version}.1"),
        },
        None => format!("{version}.1"),
    }
}

fn check_flow(storage: &dyn Storage, flow: &FlowDefinition) -> Result<(), Answer> {
    let agent_ids: Vec<String> =
        flow.nodes.iter().filter_map(|n| n.agent_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let found = store::get_agents(storage, &agent_ids).map_err(storage_failed)?;
    let known: BTreeSet<&str> =
        agent_ids.iter().zip(&found).filter(|(_, a)| a.is_some()).map(|(id, _)| id.as_str()).collect();
    flow.validate(|a| known.contains(a)).map_err(|e| detail(400, format!("Invalid flow: {e}")))
}

/// Upstream's `ExecutionRequest`.
#[derive(Deserialize)]
struct ExecutionRequest {
    flow_id: String,
    #[serde(default)]
    input_data: Object,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    timeout: Option<f64>,
    #[serde(default)]
    metadata: Option<Object>,
}

/// The all-zero id upstream answers for an execution that never started.
const NO_EXECUTION: &str = "00000000-0000-0000-0000-000000000000";

fn execute(storage: &dyn Storage, body: &str, now: i64) -> Result<Answer, Answer> {
    let req: ExecutionRequest = parse_body(body)?;
    if !(0..=10).contains(&req.priority) {
        return Err(unprocessable(&["body", "priority"], "Input should be from 0 to 10", "less_than_equal"));
    }
    if req.timeout.is_some_and(|t| !(t > 0.0 && t <= 86_400.0)) {
        return Err(unprocessable(
            &["body", "timeout"],
            "Input should be more than 0 and at most 86400 seconds",
            "greater_than",
        ));
    }
    let failed = |message: String| {
        answer(
            200,
            json!({"execution_id": NO_EXECUTION, "status": "failed", "result": null, "error": message, "execution_time": null}),
        )
    };
    if check_id("flow_id", &req.flow_id).is_err() {
        return Ok(failed(format!("Flow '{}' not found", req.flow_id)));
    }
    let Some(flow) = store::get_flow(storage, &req.flow_id).map_err(storage_failed)? else {
        return Ok(failed(format!("Flow '{}' not found", req.flow_id)));
    };
    let agent_ids: Vec<String> =
        flow.nodes.iter().filter_map(|n| n.agent_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let agents = store::get_agents(storage, &agent_ids).map_err(storage_failed)?;
    let endpoints = agent_ids
        .into_iter()
        .zip(agents)
        .map(|(id, a)| (id, a.filter(|a| a.is_active).map(|a| a.endpoint)))
        .collect();
    let ask = Ask {
        input_data: req.input_data,
        user_id: req.user_id,
        priority: req.priority as u8,
        timeout: req.timeout,
        metadata: req.metadata.unwrap_or_default(),
    };
    let mut execution = Execution::new(new_id(), flow, ask, endpoints, now);
    let calls = execution.start(now);
    store::create_execution(storage, &execution).map_err(storage_failed)?;
    let time = execution.finished_ms.map(|f| (f - execution.created_ms) as f64 / 1000.0);
    let body = json!({
        "execution_id": execution.execution_id,
        "status": status_name(execution.status),
        "result": execution.output_data,
        "error": execution.error_message,
        "execution_time": time,
    });
    Ok(Answer { status: 200, body: body.to_string(), execution_id: execution.execution_id, calls })
}

/// Hands an agent's answer to its execution; the calls now due.
pub fn deliver(
    storage: &dyn Storage,
    execution_id: &str,
    node_id: &str,
    answer: AgentAnswer,
    now: i64,
) -> Result<Vec<Due>, Error> {
    Ok(store::update_execution(storage, execution_id, |e| e.settle(node_id, answer.clone(), now))?
        .unwrap_or_default())
}

/// Ends executions not changed for `idle_ms` that are still pending or running.
pub fn recover(storage: &dyn Storage, idle_ms: u64, now: i64) -> Result<u32, Error> {
    let mut ended = 0;
    for e in store::all_executions(storage)? {
        if e.status.is_final() || e.updated_ms + idle_ms as i64 > now {
            continue;
        }
        let changed = store::update_execution(storage, &e.execution_id, |e| {
            (!e.status.is_final() && e.updated_ms + idle_ms as i64 <= now).then(|| e.abandon(now))
        })?;
        ended += u32::from(changed.is_some());
    }
    Ok(ended)
}

/// Upstream's eight metrics, computed from every execution (times in seconds).
pub fn metrics(executions: &[Execution]) -> Value {
    let count = |s: Status| executions.iter().filter(|e| e.status == s).count();
    let finished: Vec<f64> =
        executions.iter().filter_map(|e| e.finished_ms.map(|f| (f - e.created_ms) as f64 / 1000.0)).collect();
    let total_time: f64 = finished.iter().sum();
    let average = if finished.is_empty() { 0.0 } else { total_time / finished.len() as f64 };
    let last = executions.iter().map(|e| e.created_ms).max();
    json!({
        "total_executions": executions.len(),
        "successful_executions": count(Status::Completed),
        "failed_executions": count(Status::Failed),
        "cancelled_executions": count(Status::Cancelled),
        "running_executions": count(Status::Running) + count(Status::Pending),
        "average_execution_time": average,
        "total_execution_time": total_time,
        "last_execution": last.map(iso),
    })
}

/// A refusal of the host (key, rate limit, size, time), in this API's shape: upstream's
/// words for a missing or wrong key, the Attuned API's for the rest.
pub fn refuse(reason: &crate::attune::service::Refusal) -> (u16, String) {
    use crate::attune::service::Refusal;
    let words = match reason {
        Refusal::MissingKey => return (401, json!({"detail": "Missing API key"}).to_string()),
        Refusal::UnknownKey => return (401, json!({"detail": "Invalid API key"}).to_string()),
        other => crate::attune::service::refuse(other),
    };
    let said: Value = serde_json::from_str(&words.1).unwrap_or(Value::Null);
    let message = said["error"]["message"].as_str().unwrap_or("refused").to_string();
    (words.0, json!({"detail": message}).to_string())
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
