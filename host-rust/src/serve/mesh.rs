//! x0x's daemon routes in `serve` (upstream `x0xd`'s shapes): the server is an agent of
//! the mesh, so any HTTP client, a browser page included, can publish, subscribe (a
//! server-sent event stream), and work on task lists. Signing, verifying and the CRDT
//! are the component's (`mesh`); this module maps HTTP to those calls.
//!
//! | route | answer |
//! |---|---|
//! | `GET /agent` | `{ok, agent_id, machine_id, user_id: null}` |
//! | `POST /publish {topic, payload (base64)}` | `{ok, message_id}` |
//! | `POST /subscribe {topic}` / `DELETE /subscribe/{id}` | `{ok, subscription_id}` / `{ok}` |
//! | `GET /events` | SSE: `event: message`, `data: {"type":"message","data":{subscription_id, topic, payload, sender, verified, message_id, timestamp_ms}}` |
//! | `GET /task-lists`, `POST /task-lists {name, topic}` | `{ok, task_lists:[{id, topic}]}`, 201 `{ok, id}` |
//! | `GET /task-lists/{topic}/tasks`, `POST .../tasks {title, description?}` | `{ok, tasks}`, 201 `{ok, task_id}` |
//! | `PATCH /task-lists/{topic}/tasks/{id} {action: claim or complete}` | `{ok}` |
//!
//! As upstream, a task list's id in the routes is its topic (percent-encoded), and bodies
//! are `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.

use crate::bus::Bus;
use crate::mesh::{unhex, EnvelopeKind, KeyPair, TaskOp};
use crate::{Error, Runtime};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server's place on the mesh: its keys, its bus, its subscriptions and lists.
pub struct MeshNode {
    pub keys: KeyPair,
    pub machine_id: String,
    pub bus: Arc<dyn Bus>,
    subscriptions: Mutex<BTreeMap<String, (String, u64)>>,
    lists: Mutex<BTreeSet<String>>,
    next_id: AtomicU64,
}

impl MeshNode {
    pub fn new(keys: KeyPair, machine_id: String, bus: Arc<dyn Bus>) -> Self {
        Self {
            keys,
            machine_id,
            bus,
            subscriptions: Mutex::default(),
            lists: Mutex::default(),
            next_id: AtomicU64::new(1),
        }
    }
}

/// True when `path` is one of the mesh routes.
pub(super) fn is_mesh_path(path: &str) -> bool {
    matches!(path, "/agent" | "/publish" | "/subscribe" | "/events" | "/task-lists")
        || path.starts_with("/subscribe/")
        || path.starts_with("/task-lists/")
}

fn fail(status: u16, error: impl std::fmt::Display) -> (u16, String) {
    (status, json!({"ok": false, "error": error.to_string()}).to_string())
}

fn ok(status: u16, mut body: Value) -> (u16, String) {
    body["ok"] = Value::Bool(true);
    (status, body.to_string())
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

fn decode_path(segment: &str) -> String {
    url::form_urlencoded::parse(format!("t={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Hands everything on the bus for `topic` to the component (task-ops get applied).
fn catch_up(rt: &Runtime, bus: &dyn Bus, topic: &str) -> Result<(), Error> {
    let mut at = 0;
    loop {
        let batch = bus.read(topic, at, 256, Duration::ZERO).map_err(Error::Call)?;
        let Some(last) = batch.last() else { return Ok(()) };
        at = last.0;
        let envelopes: Vec<String> = batch.into_iter().map(|(_, e)| e).collect();
        rt.mesh_open(topic, &envelopes)?;
    }
}

/// Answers one mesh request (`/events` is [`events`]'s).
pub(super) fn handle(rt: &Runtime, node: &MeshNode, method: &str, path: &str, body: &str) -> (u16, String) {
    match answer(rt, node, method, path, body) {
        Ok(answer) => answer,
        Err(Error::Component { code, message, .. }) => {
            let status = match code {
                crate::bindings::exports::agentcell::core::types::ErrorCode::NotFound => 404,
                crate::bindings::exports::agentcell::core::types::ErrorCode::InvalidArgument => 400,
                crate::bindings::exports::agentcell::core::types::ErrorCode::Transport => 503,
                _ => 500,
            };
            fail(status, message)
        }
        Err(e) => fail(500, e),
    }
}

fn answer(
    rt: &Runtime,
    node: &MeshNode,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), Error> {
    let parsed: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return Ok(fail(400, format!("the body is not JSON: {e}"))),
        }
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match (method, segments.as_slice()) {
        ("GET", ["agent"]) => {
            ok(200, json!({"agent_id": node.keys.id, "machine_id": node.machine_id, "user_id": null}))
        }
        ("POST", ["publish"]) => {
            let topic = field(&parsed, "topic").unwrap_or_default();
            if topic.is_empty() {
                return Ok(fail(400, "topic must not be empty"));
            }
            let payload = match base64::engine::general_purpose::STANDARD
                .decode(field(&parsed, "payload").unwrap_or(""))
            {
                Ok(p) => p,
                Err(e) => return Ok(fail(400, format!("invalid base64 in payload field: {e}"))),
            };
            let id = rt.mesh_publish(&node.keys, topic, &payload)?;
            ok(200, json!({"message_id": id}))
        }
        ("POST", ["subscribe"]) => {
            let topic = field(&parsed, "topic").unwrap_or_default();
            if topic.is_empty() {
                return Ok(fail(400, "topic must not be empty"));
            }
            let at = node.bus.end(topic).map_err(Error::Call)?;
            let id = format!("sub-{}", node.next_id.fetch_add(1, Ordering::Relaxed));
            node.subscriptions.lock().unwrap().insert(id.clone(), (topic.to_string(), at));
            ok(200, json!({"subscription_id": id}))
        }
        ("DELETE", ["subscribe", id]) => match node.subscriptions.lock().unwrap().remove(*id) {
            Some(_) => ok(200, json!({})),
            None => fail(404, "subscription not found"),
        },
        ("GET", ["task-lists"]) => {
            let lists: Vec<Value> =
                node.lists.lock().unwrap().iter().map(|topic| json!({"id": topic, "topic": topic})).collect();
            ok(200, json!({"task_lists": lists}))
        }
        ("POST", ["task-lists"]) => {
            let (Some(name), Some(topic)) = (field(&parsed, "name"), field(&parsed, "topic")) else {
                return Ok(fail(400, "name and topic are required"));
            };
            catch_up(rt, node.bus.as_ref(), topic)?;
            if rt.mesh_get_task_list(topic)?.is_some() {
                node.lists.lock().unwrap().insert(topic.to_string());
                return Ok(fail(409, "task list already exists"));
            }
            let id = rt.mesh_create_task_list(&node.keys, name, topic)?;
            node.lists.lock().unwrap().insert(topic.to_string());
            ok(201, json!({"id": topic, "list_id": id}))
        }
        ("GET", ["task-lists", topic, "tasks"]) => {
            let topic = decode_path(topic);
            catch_up(rt, node.bus.as_ref(), &topic)?;
            match rt.mesh_get_task_list(&topic)? {
                Some(view) => {
                    node.lists.lock().unwrap().insert(topic);
                    let view: Value = serde_json::from_str(&view).unwrap_or_default();
                    ok(200, json!({"tasks": view["tasks"]}))
                }
                None => fail(404, "task list not found"),
            }
        }
        ("POST", ["task-lists", topic, "tasks"]) => {
            let topic = decode_path(topic);
            let Some(title) = field(&parsed, "title") else { return Ok(fail(400, "title is required")) };
            let description = field(&parsed, "description").unwrap_or_default();
            catch_up(rt, node.bus.as_ref(), &topic)?;
            let op = TaskOp::Add((title.to_string(), description.to_string(), 128));
            let id = rt.mesh_change_task_list(&node.keys, &topic, &op)?;
            ok(201, json!({"task_id": id}))
        }
        ("PATCH", ["task-lists", topic, "tasks", task]) => {
            let topic = decode_path(topic);
            if task.len() != 64 || !task.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(fail(400, "invalid task ID (expected 64 hex chars)"));
            }
            let op = match field(&parsed, "action") {
                Some("claim") => TaskOp::Claim(task.to_string()),
                Some("complete") => TaskOp::Complete(task.to_string()),
                _ => return Ok(fail(400, "action must be 'claim' or 'complete'")),
            };
            catch_up(rt, node.bus.as_ref(), &topic)?;
            rt.mesh_change_task_list(&node.keys, &topic, &op)?;
            ok(200, json!({}))
        }
        _ => fail(404, format!("no mesh route {method} {path}")),
    })
}

/// One batch of server-sent events for the current subscriptions, read from the
/// positions in `at` (per stream, starting where each subscription began); empty when
/// nothing new arrived.
pub(super) fn events(rt: &Runtime, node: &MeshNode, at: &mut BTreeMap<String, u64>) -> Result<String, Error> {
    let subs = node.subscriptions.lock().unwrap().clone();
    at.retain(|id, _| subs.contains_key(id));
    let mut out = String::new();
    for (id, (topic, start)) in subs {
        let from = *at.entry(id.clone()).or_insert(start);
        let batch = node.bus.read(&topic, from, 256, Duration::ZERO).map_err(Error::Call)?;
        let Some(last) = batch.last() else { continue };
        at.insert(id.clone(), last.0);
        let envelopes: Vec<String> = batch.into_iter().map(|(_, e)| e).collect();
        for carried in rt.mesh_open(&topic, &envelopes)?.into_iter().flatten().flatten() {
            if !matches!(carried.kind, EnvelopeKind::Message) {
                continue;
            }
            let payload = base64::engine::general_purpose::STANDARD.encode(unhex(&carried.payload)?);
            let data = json!({"type": "message", "data": {
                "subscription_id": id, "topic": topic, "payload": payload, "sender": carried.sender,
                "verified": true, "trust_level": null, "message_id": carried.id,
                "timestamp_ms": carried.timestamp_ms,
            }});
            out.push_str(&format!("event: message\ndata: {data}\n\n"));
        }
    }
    Ok(out)
}
