//! The stored replica of each task list, and the operations that change it: checked
//! against the CRDT's rules, signed, published on the list's topic, then merged here.
//! Remote operations arrive through [`apply`]. Storage: namespace `mesh`, one JSON
//! record per list under `tasklist/{list id}`, changed by compare-and-set only, so
//! processes sharing a store merge into one replica without losing each other's work.

use super::envelope::{self, Fresh, Kind, Opened, Reason, Rejection};
use super::identity::KeyPair;
use super::tasklist::{Op, Stamp, TaskList, DEFAULT_PRIORITY};
use crate::blob;
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{self, Storage, Transport};

pub const NAMESPACE: &str = "mesh";
const LIST_ID_DOMAIN: &[u8] = b"x0x.tasklist.id.v1";

/// The list id of `topic`: `BLAKE3("x0x.tasklist.id.v1" || topic)`, as upstream's
/// current release derives it, so a creator and its joiners agree.
pub fn list_id(topic: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(LIST_ID_DOMAIN);
    h.update(topic.as_bytes());
    blob::encode(h.finalize().as_bytes())
}

fn key(topic: &str) -> String {
    format!("tasklist/{}", list_id(topic))
}

pub fn load(storage: &dyn Storage, topic: &str) -> Result<Option<TaskList>> {
    let Some(text) = storage.get(NAMESPACE, &key(topic))? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::new(ErrorCode::Internal, format!("the stored task list of {topic:?} is unreadable ({e})"))
    })
}

/// Merges `op` into the stored replica of `topic` (created when absent); returns the
/// list after the merge and whether it changed.
fn merge_stored(storage: &dyn Storage, topic: &str, op: &Op, stamp: &Stamp) -> Result<(TaskList, bool)> {
    ports::update(storage, NAMESPACE, &key(topic), |current| {
        let mut list = match current {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("the stored task list of {topic:?} is unreadable ({e})"),
                )
            })?,
            None => TaskList::new(list_id(topic), topic.to_string()),
        };
        let changed = list.merge(op, stamp);
        let text =
            serde_json::to_string(&list).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        Ok((text, (list, changed)))
    })
}

/// Signs `op`, publishes it on `topic`, then merges it here. Publishing first: when
/// the bus refuses, nothing changed anywhere; when the local merge fails after a
/// publish, the list's own subscription brings the operation back.
fn publish_op(
    storage: &dyn Storage,
    transport: &dyn Transport,
    keys: &KeyPair,
    topic: &str,
    op: &Op,
    now_ms: u64,
) -> Result<TaskList> {
    let payload = serde_json::to_vec(op).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    let (bytes, _) = envelope::seal(keys, Kind::TaskOp, topic, &payload, now_ms, &Fresh::random())?;
    transport.publish(topic, &bytes).map_err(|why| Error::new(ErrorCode::Transport, why))?;
    let stamp = Stamp { ts: now_ms, agent: blob::encode(&keys.id()) };
    Ok(merge_stored(storage, topic, op, &stamp)?.0)
}

/// Creates the list on `topic` (or joins it: the same topic is the same list).
pub fn create(
    storage: &dyn Storage,
    transport: &dyn Transport,
    keys: &KeyPair,
    name: &str,
    topic: &str,
    now_ms: u64,
) -> Result<TaskList> {
    envelope::check_topic(topic)?;
    let op = Op::Create { name: name.to_string() };
    TaskList::default().check(&op)?;
    publish_op(storage, transport, keys, topic, &op, now_ms)
}

/// A change the caller asks for; `add` gets its task id here.
pub enum Change {
    Add { title: String, description: String, priority: Option<u8> },
    Claim(String),
    Complete(String),
    Reorder(Vec<String>),
    SetPriority(String, u8),
}

fn check_task_id(field: &str, id: &str) -> Result<String> {
    let id = id.to_ascii_lowercase();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(field, format!("a task id is 64 hex characters, got {:?}", id)));
    }
    Ok(id)
}

/// Applies `change` as `keys`'s agent; returns the changed task's id ("" for reorder).
pub fn change(
    storage: &dyn Storage,
    transport: &dyn Transport,
    keys: &KeyPair,
    topic: &str,
    change: Change,
    now_ms: u64,
) -> Result<String> {
    let list = load(storage, topic)?.ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!("no task list on topic {topic:?} here; create or join it first"),
        )
        .with_field("topic")
    })?;
    let op = match change {
        Change::Add { title, description, priority } => {
            let mut h = blake3::Hasher::new();
            h.update(title.as_bytes());
            h.update(&keys.id());
            h.update(&super::random_32());
            Op::Add {
                task: blob::encode(h.finalize().as_bytes()),
                title,
                description,
                priority: priority.unwrap_or(DEFAULT_PRIORITY),
            }
        }
        Change::Claim(id) => Op::Claim { task: check_task_id("task_id", &id)? },
        Change::Complete(id) => Op::Complete { task: check_task_id("task_id", &id)? },
        Change::Reorder(ids) => {
            Op::Reorder { tasks: ids.iter().map(|id| check_task_id("task_ids", id)).collect::<Result<_>>()? }
        }
        Change::SetPriority(id, priority) => {
            Op::SetPriority { task: check_task_id("task_id", &id)?, priority }
        }
    };
    list.check(&op)?;
    publish_op(storage, transport, keys, topic, &op, now_ms)?;
    Ok(op.task().unwrap_or_default().to_string())
}

/// Merges a verified task-op envelope into its list's replica; the task's state after
/// it (for `task_updated`) when a task changed.
pub fn apply(
    storage: &dyn Storage,
    opened: &Opened,
) -> Result<std::result::Result<Option<String>, Rejection>> {
    let op: Op = match serde_json::from_slice(&opened.payload) {
        Ok(op) => op,
        Err(e) => {
            return Ok(Err(Rejection {
                reason: Reason::BadOperation,
                message: format!("the task-list operation does not parse ({e})"),
            }))
        }
    };
    let stamp = Stamp { ts: opened.timestamp_ms, agent: blob::encode(&opened.sender) };
    let (list, changed) = merge_stored(storage, &opened.topic, &op, &stamp)?;
    let update = match (changed, op.task()) {
        (true, Some(task)) => list.update_of(task).map(|v| v.to_string()),
        _ => None,
    };
    Ok(Ok(update))
}
