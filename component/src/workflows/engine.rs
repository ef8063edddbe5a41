//! The workflow engine over the host storage (namespace `workflows`):
//!
//! - `template/{namespace}/{name}/{version}`: registered templates;
//! - `task/{uuid}`: the whole task (steps, results, audit), changed only by
//!   compare-and-set, so concurrent workers never lose a change;
//! - `tasks/{newest-first time}{uuid}`: the listing index;
//! - `due/{ms}/{uuid}`: the queue. A task not ended has a key here at (or before) the
//!   time it next needs a worker (a ready step, a retry, a lease's end). The task
//!   record says which key it wrote (`indexed_due`); both change in one storage
//!   `commit` (one transaction: one sync to disk per claim, one per result). Keys are
//!   still only hints: a claimer that finds a key ahead of its task's real due time
//!   moves it, and one for a task that has ended deletes it.

use super::states::TaskState;
use super::task::{Completion, HandlerResult, Task, TaskRequest};
use super::template::Template;
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{all_keys, Storage, UPDATE_ATTEMPTS};
use serde_json::Value;

pub const NAMESPACE: &str = "workflows";

/// How many queue keys one claim looks at, at least.
const CLAIM_WINDOW: u32 = 64;

/// How long a queue key may point to a task not yet in storage (a creation between
/// its two writes) before it counts as left by a creator that died.
const CREATE_GRACE_MS: i64 = 60_000;

fn template_key(namespace: &str, name: &str, version: &str) -> String {
    format!("template/{namespace}/{name}/{version}")
}

fn task_key(uuid: &str) -> String {
    format!("task/{uuid}")
}

fn due_key(due_ms: i64, uuid: &str) -> String {
    format!("due/{:013}/{uuid}", due_ms.max(0))
}

/// Newest first: the creation time (in microseconds, so tasks created within one
/// millisecond still list in order) inverted.
fn listing_key(created_us: i64, uuid: &str) -> String {
    format!("tasks/{:016x}{uuid}", u64::MAX - created_us.max(0) as u64)
}

/// `(due ms, task uuid)` of a queue key.
fn parse_due_key(key: &str) -> Option<(i64, &str)> {
    let rest = key.strip_prefix("due/")?;
    let (ms, uuid) = rest.split_once('/')?;
    Some((ms.parse().ok()?, uuid))
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::Storage,
            format!("stored {key} cannot be read ({e}); it was not written by this version"),
        )
    })
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("workflow records serialize")
}

/// A random number in [0, 1) from the host's randomness (WASI `random`).
pub fn random_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() as u64 >> 11) as f64 / (1u64 << 53) as f64
}

fn check_uuid(field: &str, value: &str) -> Result<()> {
    uuid::Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| Error::invalid(field, format!("{value:?} is not a UUID")))
}

pub fn register_template(storage: &dyn Storage, text: &str) -> Result<Template> {
    let template = Template::parse(text)?;
    let key = template_key(&template.namespace_name, &template.name, &template.version);
    storage.set(NAMESPACE, &key, &encode(&template))?;
    Ok(template)
}

pub fn list_templates(storage: &dyn Storage) -> Result<Vec<Template>> {
    let keys = all_keys(storage, NAMESPACE, "template/")?;
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        for (key, value) in chunk.iter().zip(storage.get_many(NAMESPACE, chunk)?) {
            if let Some(text) = value {
                out.push(decode(key, &text)?);
            }
        }
    }
    Ok(out)
}

/// A new task; `now_us` is the time in microseconds (the listing's order).
pub fn create_task(storage: &dyn Storage, request_json: &str, now_us: i64) -> Result<Task> {
    let now = now_us / 1000;
    let request: TaskRequest = serde_json::from_str(request_json)
        .map_err(|e| Error::invalid("request", format!("is not a task request ({e})")))?;
    if !request.context.is_object() {
        return Err(Error::invalid("context", "must be a JSON object"));
    }
    if let Some(id) = &request.correlation_id {
        check_uuid("correlation_id", id)?;
    }
    let key = template_key(&request.namespace, &request.name, &request.version);
    let template: Template = match storage.get(NAMESPACE, &key)? {
        Some(text) => decode(&key, &text)?,
        None => {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!(
                    "no task template '{}/{}' version {} is registered",
                    request.namespace, request.name, request.version
                ),
            )
            .with_field("name"))
        }
    };
    let mut task = Task::new(&template, request, now, || uuid::Uuid::new_v4().to_string());
    task.indexed_due = task.due();
    let key = task_key(&task.task_uuid);
    let mut writes = vec![(listing_key(now_us, &task.task_uuid), Some(String::new()))];
    if let Some(due) = task.indexed_due {
        writes.push((due_key(due, &task.task_uuid), Some(String::new())));
    }
    writes.push((key.clone(), Some(encode(&task))));
    if !storage.commit(NAMESPACE, &[(key, None)], &writes)? {
        return Err(Error::new(ErrorCode::Internal, format!("task id {} was taken", task.task_uuid)));
    }
    Ok(task)
}

pub fn get_task(storage: &dyn Storage, uuid: &str) -> Result<Task> {
    check_uuid("task_uuid", uuid)?;
    let key = task_key(uuid);
    match storage.get(NAMESPACE, &key)? {
        Some(text) => decode(&key, &text),
        None => {
            Err(Error::new(ErrorCode::NotFound, format!("task {uuid} not found")).with_field("task_uuid"))
        }
    }
}

/// Which tasks a listing wants.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// One page of tasks, newest first, and how many match in all.
pub fn list_tasks(storage: &dyn Storage, query: &TaskQuery) -> Result<(Vec<Task>, usize)> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be 1 to 1000, got {limit}")));
    }
    let status = match &query.status {
        Some(s) => Some(
            TaskState::parse(s)
                .ok_or_else(|| Error::invalid("status", format!("{s:?} is not a task state")))?,
        ),
        None => None,
    };
    let offset = query.offset.unwrap_or(0) as usize;
    let mut matching = 0usize;
    let mut page = Vec::new();
    let listing = all_keys(storage, NAMESPACE, "tasks/")?;
    let keys: Vec<String> = listing.iter().filter_map(|k| k.get(6 + 16..)).map(task_key).collect();
    for chunk in keys.chunks(500) {
        for (key, text) in chunk.iter().zip(storage.get_many(NAMESPACE, chunk)?) {
            let Some(text) = text else { continue };
            let task: Task = decode(key, &text)?;
            let wanted = query.namespace.as_ref().is_none_or(|n| &task.namespace == n)
                && status.is_none_or(|s| task.status == s);
            if wanted {
                if matching >= offset && page.len() < limit as usize {
                    page.push(task);
                }
                matching += 1;
            }
        }
    }
    Ok((page, matching))
}

/// Reads the task, lets `change` change it (returning whether to write, and its
/// answer), writes it by compare-and-set (again from the read when another worker got
/// there first), then moves its queue key.
fn change_task<T>(
    storage: &dyn Storage,
    uuid: &str,
    mut change: impl FnMut(&mut Task) -> Result<(bool, T)>,
) -> Result<(Task, T)> {
    check_uuid("task_uuid", uuid)?;
    let key = task_key(uuid);
    for _ in 0..UPDATE_ATTEMPTS {
        let Some(text) = storage.get(NAMESPACE, &key)? else {
            return Err(
                Error::new(ErrorCode::NotFound, format!("task {uuid} not found")).with_field("task_uuid")
            );
        };
        let mut task: Task = decode(&key, &text)?;
        let (write, out) = change(&mut task)?;
        if !write {
            return Ok((task, out));
        }
        let old_due = task.indexed_due;
        task.indexed_due = task.due();
        let mut writes = vec![(key.clone(), Some(encode(&task)))];
        writes.extend(queue_moves(uuid, old_due, task.indexed_due));
        if storage.commit(NAMESPACE, &[(key.clone(), Some(text))], &writes)? {
            return Ok((task, out));
        }
    }
    Err(Error::new(
        ErrorCode::Storage,
        format!("task {uuid} changed {UPDATE_ATTEMPTS} times during one update; retry"),
    ))
}

/// The queue writes that move a task's key from `old` to `new` (none when equal).
fn queue_moves(uuid: &str, old: Option<i64>, new: Option<i64>) -> Vec<crate::ports::Write> {
    if old == new {
        return Vec::new();
    }
    let mut writes = Vec::with_capacity(2);
    if let Some(due) = old {
        writes.push((due_key(due, uuid), None));
    }
    if let Some(due) = new {
        writes.push((due_key(due, uuid), Some(String::new())));
    }
    writes
}

pub fn cancel_task(storage: &dyn Storage, uuid: &str, now: i64) -> Result<Task> {
    let (task, _) = change_task(storage, uuid, |task| Ok((task.cancel(now), ())))?;
    Ok(task)
}

/// A step handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub task_uuid: String,
    pub step_uuid: String,
    pub name: String,
    pub handler: String,
    pub attempt: u32,
    pub context: Value,
    pub lease_until_ms: i64,
}

fn check_lease(lease_ms: u32) -> Result<()> {
    if !(100..=86_400_000).contains(&lease_ms) {
        return Err(Error::invalid("lease_ms", format!("must be 100 ms to 24 h, got {lease_ms}")));
    }
    Ok(())
}

/// Claims up to `max` due steps whose handler is in `handlers` (empty: any). Workers
/// start at a random place among the due keys so that two rarely race for one task.
pub fn claim(
    storage: &dyn Storage,
    worker: &str,
    handlers: &[String],
    max: u32,
    lease_ms: u32,
    now: i64,
    random: f64,
) -> Result<Vec<Claimed>> {
    check_lease(lease_ms)?;
    if worker.is_empty() || worker.len() > 200 {
        return Err(Error::invalid("worker_id", "must be 1 to 200 bytes"));
    }
    let max = max.min(1000) as usize;
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    // A window a few times what is wanted, so that workers claiming at once mostly
    // take different tasks (each starts at a random place in it).
    let window = (max as u32).saturating_mul(4).clamp(CLAIM_WINDOW, 1000);
    let (keys, _) = storage.list_keys(NAMESPACE, "due/", None, window)?;
    let mut due: Vec<(i64, String)> = keys
        .iter()
        .filter_map(|k| parse_due_key(k).map(|(ms, id)| (ms, id.to_string())))
        .filter(|(ms, _)| *ms <= now)
        .collect();
    if due.is_empty() {
        return Ok(out);
    }
    let start = ((random * due.len() as f64) as usize).min(due.len() - 1);
    due.rotate_left(start);
    let wants = |h: &str| handlers.is_empty() || handlers.iter().any(|x| x == h);
    let mut changed: Vec<Change> = Vec::new();
    let mut wanted = 0usize;
    // Records are read `max` at a time (one storage call for a batch), in queue order.
    let mut texts: std::collections::VecDeque<Option<String>> = Default::default();
    for (n, (key_due, uuid)) in due.iter().enumerate() {
        let (key_due, uuid) = (*key_due, uuid.as_str());
        if wanted >= max {
            break;
        }
        if texts.is_empty() {
            let keys: Vec<String> = due[n..].iter().take(max).map(|(_, u)| task_key(u)).collect();
            texts.extend(storage.get_many(NAMESPACE, &keys)?);
        }
        let key = task_key(uuid);
        let Some(text) = texts.pop_front().flatten() else {
            // A key older than any creation under way points at nothing: drop it.
            if now - key_due > CREATE_GRACE_MS {
                storage.delete(NAMESPACE, &due_key(key_due, uuid))?;
            }
            continue;
        };
        let mut task: Task = decode(&key, &text)?;
        let ready: Vec<usize> = (0..task.steps.len())
            .filter(|&i| task.claimable(i, now) && wants(&task.steps[i].handler.callable))
            .take(max - wanted)
            .collect();
        if ready.is_empty() {
            // Nothing here for this worker: move a key that is early (or stale).
            let moves = match task.due() {
                None => vec![(due_key(key_due, uuid), None)],
                Some(real) if real > key_due => {
                    vec![(due_key(key_due, uuid), None), (due_key(real, uuid), Some(String::new()))]
                }
                Some(_) => Vec::new(),
            };
            if !moves.is_empty() {
                storage.commit(NAMESPACE, &[], &moves)?;
            }
            continue;
        }
        // Checked again as each is taken: a batch's `parallelism` counts the ones just taken.
        let taken: Vec<usize> = ready
            .into_iter()
            .filter(|&i| task.claimable(i, now) && task.claim(i, worker, lease_ms, now))
            .collect();
        wanted += taken.len();
        let old_due = task.indexed_due;
        task.indexed_due = task.due();
        let mut writes = vec![(key.clone(), Some(encode(&task)))];
        writes.extend(queue_moves(uuid, old_due, task.indexed_due));
        if Some(key_due) != old_due && Some(key_due) != task.indexed_due {
            writes.push((due_key(key_due, uuid), None));
        }
        changed.push(Change { guard: (key, Some(text)), writes, task, taken });
    }
    // One commit for every task claimed. When another worker changed some of them
    // first, one more commit for those still as read; only if that fails too is each
    // tried alone (a commit, and a sync to disk, per task).
    if changed.is_empty() || commit_changes(storage, &changed)? {
        out.extend(changed.iter().flat_map(|c| claimed_steps(&c.task, &c.taken)));
        return Ok(out);
    }
    let keys: Vec<String> = changed.iter().map(|c| c.guard.0.clone()).collect();
    let current = storage.get_many(NAMESPACE, &keys)?;
    let (still, lost): (Vec<(Change, Option<String>)>, Vec<_>) =
        changed.into_iter().zip(current).partition(|(c, now)| c.guard.1 == *now);
    let still: Vec<Change> = still.into_iter().map(|(c, _)| c).collect();
    drop(lost);
    if !still.is_empty() && commit_changes(storage, &still)? {
        out.extend(still.iter().flat_map(|c| claimed_steps(&c.task, &c.taken)));
        return Ok(out);
    }
    for change in still {
        if storage.commit(NAMESPACE, std::slice::from_ref(&change.guard), &change.writes)? {
            out.extend(claimed_steps(&change.task, &change.taken));
        }
    }
    Ok(out)
}

/// Commits several tasks' claims together; false when one of them changed meanwhile.
fn commit_changes(storage: &dyn Storage, changed: &[Change]) -> Result<bool> {
    let guards: Vec<_> = changed.iter().map(|c| c.guard.clone()).collect();
    let writes: Vec<_> = changed.iter().flat_map(|c| c.writes.iter().cloned()).collect();
    Ok(storage.commit(NAMESPACE, &guards, &writes)?)
}

/// One task changed by a claim: its guard, its writes, and the steps it hands out.
struct Change {
    guard: crate::ports::Guard,
    writes: Vec<crate::ports::Write>,
    task: Task,
    taken: Vec<usize>,
}

fn claimed_steps(task: &Task, taken: &[usize]) -> Vec<Claimed> {
    taken
        .iter()
        .map(|&i| {
            let step = &task.steps[i];
            let lease = step.lease.as_ref().expect("a claimed step has a lease");
            Claimed {
                task_uuid: task.task_uuid.clone(),
                step_uuid: step.step_uuid.clone(),
                name: step.name.clone(),
                handler: step.handler.callable.clone(),
                attempt: lease.attempt,
                context: task.context_for(i),
                lease_until_ms: lease.until_ms,
            }
        })
        .collect()
}

fn step_of(task: &Task, step_uuid: &str) -> Result<usize> {
    task.step_index(step_uuid).ok_or_else(|| {
        Error::new(ErrorCode::NotFound, format!("task {} has no step {step_uuid}", task.task_uuid))
            .with_field("step_uuid")
    })
}

/// One attempt of one step, as the worker that claimed it names it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub task_uuid: &'a str,
    pub step_uuid: &'a str,
    pub worker: &'a str,
    pub attempt: u32,
}

pub fn renew(storage: &dyn Storage, at: Attempt<'_>, lease_ms: u32, now: i64) -> Result<bool> {
    check_lease(lease_ms)?;
    let (_, held) = change_task(storage, at.task_uuid, |task| {
        let i = step_of(task, at.step_uuid)?;
        let held = task.renew(i, at.worker, at.attempt, lease_ms, now);
        Ok((held, held))
    })?;
    Ok(held)
}

pub fn complete(
    storage: &dyn Storage,
    at: Attempt<'_>,
    result_json: &str,
    now: i64,
    jitter: f64,
) -> Result<Completion> {
    let result: HandlerResult = serde_json::from_str(result_json)
        .map_err(|e| Error::invalid("result", format!("is not a step handler result ({e})")))?;
    let (_, done) = change_task(storage, at.task_uuid, |task| {
        let i = step_of(task, at.step_uuid)?;
        let done = task.complete(i, at.worker, at.attempt, result.clone(), now, jitter);
        Ok((matches!(done, Completion::Recorded(_)), done))
    })?;
    Ok(done)
}

/// An operator's action on a step (see [`super::manual`]); returns the task after it.
pub fn act_on_step(
    storage: &dyn Storage,
    task_uuid: &str,
    step_uuid: &str,
    action_json: &str,
    now: i64,
) -> Result<(Task, usize)> {
    let action = super::manual::ManualAction::parse(action_json)?;
    let (task, i) = change_task(storage, task_uuid, |task| {
        let i = step_of(task, step_uuid)?;
        task.act_manually(i, &action, now)?;
        Ok((true, i))
    })?;
    Ok((task, i))
}

/// One result handed to [`complete_many`].
pub struct Finished<'a> {
    pub at: Attempt<'a>,
    pub result_json: &'a str,
}

/// [`complete`] for several results: one commit for all of them when every task is as
/// read, else each task alone. `jitter` gives each result its own draw.
pub fn complete_many(
    storage: &dyn Storage,
    finished: &[Finished<'_>],
    now: i64,
    mut jitter: impl FnMut() -> f64,
) -> Result<Vec<Completion>> {
    let mut results = Vec::with_capacity(finished.len());
    for f in finished {
        check_uuid("task_uuid", f.at.task_uuid)?;
        let r: HandlerResult = serde_json::from_str(f.result_json)
            .map_err(|e| Error::invalid("result", format!("is not a step handler result ({e})")))?;
        results.push(r);
    }
    let jitters: Vec<f64> = finished.iter().map(|_| jitter()).collect();
    let mut order: Vec<&str> = finished.iter().map(|f| f.at.task_uuid).collect();
    order.sort_unstable();
    order.dedup();
    let keys: Vec<String> = order.iter().map(|u| task_key(u)).collect();
    let texts = storage.get_many(NAMESPACE, &keys)?;
    let mut answers: Vec<Option<Completion>> = vec![None; finished.len()];
    let (mut guards, mut writes) = (Vec::new(), Vec::new());
    for ((uuid, key), text) in order.iter().zip(&keys).zip(texts) {
        let Some(text) = text else { continue }; // answered alone below: not found
        let mut task: Task = decode(key, &text)?;
        let mut changed = false;
        for (n, f) in finished.iter().enumerate().filter(|(_, f)| f.at.task_uuid == *uuid) {
            let Some(i) = task.step_index(f.at.step_uuid) else { continue };
            let done = task.complete(i, f.at.worker, f.at.attempt, results[n].clone(), now, jitters[n]);
            changed |= matches!(done, Completion::Recorded(_));
            answers[n] = Some(done);
        }
        if changed {
            let old_due = task.indexed_due;
            task.indexed_due = task.due();
            writes.push((key.clone(), Some(encode(&task))));
            writes.extend(queue_moves(uuid, old_due, task.indexed_due));
            guards.push((key.clone(), Some(text)));
        }
    }
    if guards.is_empty() || storage.commit(NAMESPACE, &guards, &writes)? {
        // Recorded; a result whose task or step is missing gets its error alone.
        return answers
            .into_iter()
            .zip(finished.iter().zip(&jitters))
            .map(|(answer, (f, &j))| match answer {
                Some(done) => Ok(done),
                None => complete(storage, f.at, f.result_json, now, j),
            })
            .collect();
    }
    // Another worker changed one of the tasks first: each result alone.
    finished.iter().zip(jitters).map(|(f, j)| complete(storage, f.at, f.result_json, now, j)).collect()
}

/// What [`exchange`] did: the answers to the results, and the steps claimed.
#[derive(Debug)]
pub struct Exchanged {
    pub completions: Vec<Completion>,
    pub claimed: Vec<Claimed>,
}

/// What a worker asks [`claim`] for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub worker: &'a str,
    pub handlers: &'a [String],
    pub max: u32,
    pub lease_ms: u32,
}

/// [`complete_many`] and then [`claim`], staged and applied in one storage commit (one
/// transaction, one sync to disk) when no other worker changed the tasks meanwhile;
/// else each again alone on the storage. A step made due by one of the results can be
/// claimed in the same call.
pub fn exchange(
    storage: &dyn Storage,
    finished: &[Finished<'_>],
    wants: ClaimRequest<'_>,
    now: i64,
    random: f64,
    mut jitter: impl FnMut() -> f64,
) -> Result<Exchanged> {
    let staged = crate::staged::Staged::new(storage, NAMESPACE);
    let together = complete_many(&staged, finished, now, &mut jitter).and_then(|completions| {
        let claimed = claim(&staged, wants.worker, wants.handlers, wants.max, wants.lease_ms, now, random)?;
        Ok(Exchanged { completions, claimed })
    });
    // On an error (a result for a task that is gone, say), the plain path records the
    // other results before it answers with the error, as `complete-many` does.
    if let Ok(both) = together {
        if staged.flush()? {
            return Ok(both);
        }
    }
    let completions = complete_many(storage, finished, now, &mut jitter)?;
    let claimed = claim(storage, wants.worker, wants.handlers, wants.max, wants.lease_ms, now, random)?;
    Ok(Exchanged { completions, claimed })
}

/// Milliseconds until the first queue key falls due (0: now), none when the queue is
/// empty.
pub fn next_due_in(storage: &dyn Storage, now: i64) -> Result<Option<u64>> {
    let (keys, _) = storage.list_keys(NAMESPACE, "due/", None, 1)?;
    Ok(keys.first().and_then(|k| parse_due_key(k)).map(|(ms, _)| (ms - now).max(0) as u64))
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
