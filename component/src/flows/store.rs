//! Flows, agents and executions in the host storage (namespace `flows`):
//! `flow/{id}`, `agent/{id}`, `exec/{uuid}` (the whole execution, changed only by
//! compare-and-set), and `index/{newest-first time}{uuid}` so listings come newest
//! first without reading every execution.

use super::engine::Execution;
use super::model::{AgentInfo, FlowDefinition};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{all_keys, update, Storage};
use serde::de::DeserializeOwned;

pub const NAMESPACE: &str = "flows";

fn decode<T: DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::Storage,
            format!("stored {key} cannot be read ({e}); it was not written by this version"),
        )
    })
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("flow records serialize")
}

/// Every value under `prefix`, in key order.
fn all_under<T: DeserializeOwned>(storage: &dyn Storage, prefix: &str) -> Result<Vec<T>> {
    let keys = all_keys(storage, NAMESPACE, prefix)?;
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        for (key, value) in chunk.iter().zip(storage.get_many(NAMESPACE, chunk)?) {
            if let Some(v) = value {
                out.push(decode(key, &v)?);
            }
        }
    }
    Ok(out)
}

/// Every stored text under `prefix`, in key order, as written by `encode`: the list
/// routes answer them as they are (parsing and re-rendering them cost more than the
/// rest of a request).
fn raw_under(storage: &dyn Storage, prefix: &str) -> Result<Vec<String>> {
    let keys = all_keys(storage, NAMESPACE, prefix)?;
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        out.extend(storage.get_many(NAMESPACE, chunk)?.into_iter().flatten());
    }
    Ok(out)
}

/// `{"count": n, "<name>": [...]}` of stored texts, without parsing them.
pub fn listing(name: &str, texts: &[String]) -> String {
    let mut body = String::with_capacity(texts.iter().map(|t| t.len() + 1).sum::<usize>() + 32);
    body.push_str(&format!("{{\"count\":{},\"{name}\":[", texts.len()));
    body.push_str(&texts.join(","));
    body.push_str("]}");
    body
}

/// The stored flows, as stored (JSON texts of `FlowDefinition`).
pub fn list_flows_raw(storage: &dyn Storage) -> Result<Vec<String>> {
    raw_under(storage, "flow/")
}

/// One stored flow as stored.
pub fn get_flow_raw(storage: &dyn Storage, id: &str) -> Result<Option<String>> {
    Ok(storage.get(NAMESPACE, &flow_key(id))?)
}

/// The stored agents, as stored (JSON texts of `AgentInfo`).
pub fn list_agents_raw(storage: &dyn Storage) -> Result<Vec<String>> {
    raw_under(storage, "agent/")
}

fn get<T: DeserializeOwned>(storage: &dyn Storage, key: &str) -> Result<Option<T>> {
    storage.get(NAMESPACE, key)?.map(|v| decode(key, &v)).transpose()
}

pub fn flow_key(id: &str) -> String {
    format!("flow/{id}")
}

pub fn agent_key(id: &str) -> String {
    format!("agent/{id}")
}

fn exec_key(id: &str) -> String {
    format!("exec/{id}")
}

fn index_key(created_ms: i64, id: &str) -> String {
    format!("index/{:016x}{id}", u64::MAX - created_ms.max(0) as u64)
}

pub fn get_flow(storage: &dyn Storage, id: &str) -> Result<Option<FlowDefinition>> {
    get(storage, &flow_key(id))
}

pub fn list_flows(storage: &dyn Storage) -> Result<Vec<FlowDefinition>> {
    all_under(storage, "flow/")
}

/// Stores a new flow; false when one with its id exists.
pub fn create_flow(storage: &dyn Storage, flow: &FlowDefinition) -> Result<bool> {
    Ok(storage.compare_and_set(NAMESPACE, &flow_key(&flow.flow_id), None, &encode(flow))?)
}

/// Replaces a flow with `change` of the stored one; `None` when there is none.
pub fn update_flow(
    storage: &dyn Storage,
    id: &str,
    mut change: impl FnMut(FlowDefinition) -> Result<FlowDefinition>,
) -> Result<Option<FlowDefinition>> {
    let key = flow_key(id);
    update(storage, NAMESPACE, &key, |current| match current {
        None => Err(Error::new(ErrorCode::NotFound, format!("Flow '{id}' not found"))),
        Some(text) => {
            let next = change(decode(&key, text)?)?;
            Ok((encode(&next), next))
        }
    })
    .map(Some)
    .or_else(|e| if e.code == ErrorCode::NotFound { Ok(None) } else { Err(e) })
}

pub fn delete_flow(storage: &dyn Storage, id: &str) -> Result<bool> {
    Ok(storage.delete(NAMESPACE, &flow_key(id))?)
}

pub fn get_agent(storage: &dyn Storage, id: &str) -> Result<Option<AgentInfo>> {
    get(storage, &agent_key(id))
}

pub fn get_agents(storage: &dyn Storage, ids: &[String]) -> Result<Vec<Option<AgentInfo>>> {
    let keys: Vec<String> = ids.iter().map(|i| agent_key(i)).collect();
    let values = storage.get_many(NAMESPACE, &keys)?;
    keys.iter().zip(values).map(|(k, v)| v.map(|t| decode(k, &t)).transpose()).collect()
}

pub fn list_agents(storage: &dyn Storage) -> Result<Vec<AgentInfo>> {
    all_under(storage, "agent/")
}

pub fn put_agent(storage: &dyn Storage, agent: &AgentInfo) -> Result<()> {
    Ok(storage.set(NAMESPACE, &agent_key(&agent.agent_id), &encode(agent))?)
}

pub fn delete_agent(storage: &dyn Storage, id: &str) -> Result<bool> {
    Ok(storage.delete(NAMESPACE, &agent_key(id))?)
}

/// Stores a new execution and its index entry, both or neither.
pub fn create_execution(storage: &dyn Storage, e: &Execution) -> Result<()> {
    let entries = [
        (exec_key(&e.execution_id), encode(e)),
        (index_key(e.created_ms, &e.execution_id), e.execution_id.clone()),
    ];
    Ok(storage.set_many(NAMESPACE, &entries)?)
}

pub fn get_execution(storage: &dyn Storage, id: &str) -> Result<Option<Execution>> {
    get(storage, &exec_key(id))
}

/// Changes an execution by compare-and-set (again from a fresh read when another
/// writer got there first). `change` returns `None` to leave it as it is.
pub fn update_execution<T>(
    storage: &dyn Storage,
    id: &str,
    mut change: impl FnMut(&mut Execution) -> Option<T>,
) -> Result<Option<T>> {
    let key = exec_key(id);
    for _ in 0..crate::ports::UPDATE_ATTEMPTS {
        let Some(text) = storage.get(NAMESPACE, &key)? else { return Ok(None) };
        let mut e: Execution = decode(&key, &text)?;
        let Some(out) = change(&mut e) else { return Ok(None) };
        if storage.compare_and_set(NAMESPACE, &key, Some(&text), &encode(&e))? {
            return Ok(Some(out));
        }
    }
    Err(Error::new(
        ErrorCode::Storage,
        format!("execution {id} kept changing while this update was made; retry"),
    ))
}

/// Executions newest first, those `keep` accepts, after skipping `offset` of them.
pub fn list_executions(
    storage: &dyn Storage,
    keep: impl Fn(&Execution) -> bool,
    offset: usize,
    limit: usize,
) -> Result<Vec<Execution>> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut cursor: Option<String> = None;
    loop {
        let (keys, next) = storage.list_keys(NAMESPACE, "index/", cursor.as_deref(), 200)?;
        let ids: Vec<String> = storage.get_many(NAMESPACE, &keys)?.into_iter().flatten().collect();
        let exec_keys: Vec<String> = ids.iter().map(|i| exec_key(i)).collect();
        for (key, value) in exec_keys.iter().zip(storage.get_many(NAMESPACE, &exec_keys)?) {
            let Some(text) = value else { continue };
            let e: Execution = decode(key, &text)?;
            if !keep(&e) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            out.push(e);
            if out.len() >= limit {
                return Ok(out);
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Every execution, in no particular order.
pub fn all_executions(storage: &dyn Storage) -> Result<Vec<Execution>> {
    all_under(storage, "exec/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::Ask;
    use crate::ports::MemoryStorage;
    use std::collections::BTreeMap;

    fn flow() -> FlowDefinition {
        serde_json::from_value(serde_json::json!({
            "flow_id": "f", "name": "F", "entry_point": "a", "nodes": [{"id": "a", "type": "input"}]
        }))
        .unwrap()
    }

    #[test]
    fn executions_list_newest_first_and_page() {
        let s = MemoryStorage::default();
        for (n, t) in [(1, 100), (2, 300), (3, 200)] {
            let e = Execution::new(format!("e{n}"), flow(), Ask::default(), BTreeMap::new(), t);
            create_execution(&s, &e).unwrap();
        }
        let ids = |v: Vec<Execution>| v.into_iter().map(|e| e.execution_id).collect::<Vec<_>>();
        assert_eq!(ids(list_executions(&s, |_| true, 0, 10).unwrap()), ["e2", "e3", "e1"]);
        assert_eq!(ids(list_executions(&s, |_| true, 1, 1).unwrap()), ["e3"]);
        assert_eq!(all_executions(&s).unwrap().len(), 3);
    }

    #[test]
    fn a_flow_is_created_once_and_updates_keep_it() {
        let s = MemoryStorage::default();
        assert!(create_flow(&s, &flow()).unwrap());
        assert!(!create_flow(&s, &flow()).unwrap());
        let changed = update_flow(&s, "f", |mut f| {
            f.name = "G".into();
            Ok(f)
        })
        .unwrap();
        assert_eq!(changed.unwrap().name, "G");
        assert_eq!(update_flow(&s, "nope", Ok).unwrap(), None);
        assert!(delete_flow(&s, "f").unwrap());
        assert!(get_flow(&s, "f").unwrap().is_none());
    }

    #[test]
    fn an_update_that_declines_writes_nothing() {
        let s = MemoryStorage::default();
        let e = Execution::new("e".into(), flow(), Ask::default(), BTreeMap::new(), 1);
        create_execution(&s, &e).unwrap();
        assert_eq!(update_execution(&s, "e", |_| None::<()>).unwrap(), None);
        assert_eq!(update_execution(&s, "e", |e| Some(e.start(2).len())).unwrap(), Some(0));
        assert!(get_execution(&s, "e").unwrap().unwrap().status.is_final());
    }
}
