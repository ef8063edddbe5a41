//! x0x's task list as a state-based CRDT: every operation is merged into the state by
//! a join, so replicas that have seen the same operations hold the same list, whatever
//! the order, duplication or delay of delivery.
//!
//! Rules (upstream's, with the differences documented in docs/mesh.md):
//! - A task's checkbox is a grow-only set of candidate states `Claimed(ts, agent)` and
//!   `Done(ts, agent)`. Its state is the smallest valid Done, else the smallest Claimed,
//!   else Empty (smaller = earlier timestamp, then smaller agent id): the earliest claim
//!   wins, a concurrent later claim loses, Done is final.
//! - A Done counts only when some claim at or before it exists, so no task is done
//!   without a claim, even from a forged operation.
//! - Title, description and creator are fixed by the add; priority, the list's name
//!   and its display order are last-writer-wins registers stamped (timestamp, agent).
//! - Display order: the ordering register's live ids, then the others by creation
//!   stamp and id (deterministic, unlike upstream's hash-set order).

use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who did something when: ordered by time, then agent id (hex, so byte order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Stamp {
    pub ts: u64,
    pub agent: String,
}

/// A last-writer-wins register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Lww<T> {
    pub stamp: Stamp,
    pub value: T,
}

impl<T: Clone + Ord> Lww<T> {
    /// Keeps the later write; equal stamps (one agent writing twice in a millisecond,
    /// from two processes) are settled by the larger value, so every order agrees.
    fn merge(&mut self, stamp: &Stamp, value: &T) -> bool {
        if (stamp, value) > (&self.stamp, &self.value) {
            self.stamp = stamp.clone();
            self.value = value.clone();
            true
        } else {
            false
        }
    }
}

/// A candidate checkbox state; the derived order is upstream's (Claimed < Done).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Candidate {
    Claimed(Stamp),
    Done(Stamp),
}

/// What a task's checkbox shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Empty,
    Claimed(Stamp),
    Done(Stamp),
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Claimed(_) => "claimed",
            State::Done(_) => "done",
        }
    }
    pub fn assignee(&self) -> Option<&str> {
        match self {
            State::Empty => None,
            State::Claimed(s) | State::Done(s) => Some(&s.agent),
        }
    }
}

/// What an add fixes for good.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskMeta {
    pub created: Stamp,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Task {
    /// `None` while only claims or completions of the task have arrived.
    pub meta: Option<TaskMeta>,
    pub priority: Lww<u8>,
    pub candidates: BTreeSet<Candidate>,
}

pub const DEFAULT_PRIORITY: u8 = 128;

impl Task {
    pub fn state(&self) -> State {
        let first_claim = self.candidates.iter().find_map(|c| match c {
            Candidate::Claimed(s) => Some(s),
            Candidate::Done(_) => None,
        });
        let done = self.candidates.iter().find_map(|c| match (c, first_claim) {
            (Candidate::Done(s), Some(claim)) if claim.ts <= s.ts => Some(s),
            _ => None,
        });
        match (done, first_claim) {
            (Some(d), _) => State::Done(d.clone()),
            (None, Some(c)) => State::Claimed(c.clone()),
            (None, None) => State::Empty,
        }
    }
    fn first(&self, done: bool) -> Option<&Stamp> {
        self.candidates.iter().find_map(|c| match (c, done) {
            (Candidate::Claimed(s), false) | (Candidate::Done(s), true) => Some(s),
            _ => None,
        })
    }
}

/// One operation, as it travels (JSON) in a task-op envelope. Its stamp is the
/// envelope's (timestamp, sender), so the signer is always the actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Create { name: String },
    Add { task: String, title: String, description: String, priority: u8 },
    Claim { task: String },
    Complete { task: String },
    Reorder { tasks: Vec<String> },
    SetPriority { task: String, priority: u8 },
}

impl Op {
    pub fn task(&self) -> Option<&str> {
        match self {
            Op::Add { task, .. }
            | Op::Claim { task }
            | Op::Complete { task }
            | Op::SetPriority { task, .. } => Some(task),
            Op::Create { .. } | Op::Reorder { .. } => None,
        }
    }
}

/// A replica of one list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TaskList {
    pub id: String,
    pub topic: String,
    pub name: Lww<String>,
    pub tasks: BTreeMap<String, Task>,
    pub ordering: Lww<Vec<String>>,
}

impl TaskList {
    pub fn new(id: String, topic: String) -> Self {
        Self { id, topic, ..Default::default() }
    }

    /// Joins `op` (stamped `stamp`) into the list. Never fails: every operation that
    /// parsed is merged, so replicas converge; whether it was allowed is checked where
    /// it is made ([`TaskList::check`]). True when the list changed.
    pub fn merge(&mut self, op: &Op, stamp: &Stamp) -> bool {
        match op {
            Op::Create { name } => self.name.merge(stamp, name),
            Op::Add { task, title, description, priority } => {
                let entry = self.tasks.entry(task.clone()).or_default();
                let meta = TaskMeta {
                    title: title.clone(),
                    description: description.clone(),
                    created: stamp.clone(),
                };
                let newer_meta = match &entry.meta {
                    None => true,
                    // The first add wins (ties: the smaller title), in every order.
                    Some(m) => meta < *m,
                };
                if newer_meta {
                    entry.meta = Some(meta);
                }
                let prio = entry.priority.merge(stamp, priority);
                newer_meta || prio
            }
            Op::Claim { task } => self
                .tasks
                .entry(task.clone())
                .or_default()
                .candidates
                .insert(Candidate::Claimed(stamp.clone())),
            Op::Complete { task } => {
                self.tasks.entry(task.clone()).or_default().candidates.insert(Candidate::Done(stamp.clone()))
            }
            Op::Reorder { tasks } => self.ordering.merge(stamp, tasks),
            Op::SetPriority { task, priority } => {
                self.tasks.entry(task.clone()).or_default().priority.merge(stamp, priority)
            }
        }
    }

    fn live(&self, task: &str) -> Result<&Task> {
        self.tasks.get(task).filter(|t| t.meta.is_some()).ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("task not found: {task}")).with_field("task_id")
        })
    }

    /// Whether the local agent may make `op` now (upstream's rules for a single replica).
    pub fn check(&self, op: &Op) -> Result<()> {
        let refused = |why: &str| Err(Error::invalid("task_id", why));
        match op {
            Op::Create { name } if name.trim().is_empty() => Err(Error::invalid("name", "must not be empty")),
            Op::Add { title, .. } if title.trim().is_empty() => {
                Err(Error::invalid("title", "must not be empty"))
            }
            Op::Create { .. } | Op::Add { .. } => Ok(()),
            Op::Claim { task } => match self.live(task)?.state() {
                State::Done(_) => refused("task is already done and cannot be modified"),
                _ => Ok(()),
            },
            Op::Complete { task } => match self.live(task)?.state() {
                State::Empty => refused("task must be claimed before completion"),
                State::Done(_) => refused("task is already done and cannot be modified"),
                State::Claimed(_) => Ok(()),
            },
            Op::Reorder { tasks } => tasks.iter().try_for_each(|t| self.live(t).map(|_| ())),
            Op::SetPriority { task, .. } => self.live(task).map(|_| ()),
        }
    }

    /// Live tasks (those whose add has arrived) in display order.
    pub fn ordered(&self) -> Vec<(&String, &Task)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for id in &self.ordering.value {
            if let Some((k, t)) = self.tasks.get_key_value(id) {
                if t.meta.is_some() && seen.insert(k) {
                    out.push((k, t));
                }
            }
        }
        let mut rest: Vec<_> =
            self.tasks.iter().filter(|(k, t)| t.meta.is_some() && !seen.contains(k)).collect();
        rest.sort_by(|a, b| {
            (&a.1.meta.as_ref().map(|m| &m.created), a.0).cmp(&(&b.1.meta.as_ref().map(|m| &m.created), b.0))
        });
        out.extend(rest);
        out
    }

    /// The replica as JSON (the shape of WIT `mesh.get-task-list`).
    pub fn view(&self) -> serde_json::Value {
        let tasks: Vec<_> = self
            .ordered()
            .into_iter()
            .map(|(id, t)| {
                let meta = t.meta.as_ref().expect("ordered() lists live tasks");
                let state = t.state();
                let claimed = t.first(false);
                let done = match &state {
                    State::Done(s) => Some(s),
                    _ => None,
                };
                let claimer = match &state {
                    State::Claimed(s) => Some(s),
                    State::Done(_) => claimed,
                    State::Empty => None,
                };
                serde_json::json!({
                    "id": id,
                    "title": meta.title,
                    "description": meta.description,
                    "state": state.name(),
                    "assignee": state.assignee(),
                    "priority": t.priority.value,
                    "created_by": meta.created.agent,
                    "created_at": meta.created.ts,
                    "claimed_by": claimer.map(|s| &s.agent),
                    "claimed_at": claimer.map(|s| s.ts),
                    "completed_by": done.map(|s| &s.agent),
                    "completed_at": done.map(|s| s.ts),
                })
            })
            .collect();
        serde_json::json!({
            "list": {"id": self.id, "topic": self.topic, "name": self.name.value},
            "tasks": tasks,
        })
    }

    /// What a change to `task` left it as, for the `task_updated` event.
    pub fn update_of(&self, task: &str) -> Option<serde_json::Value> {
        let t = self.tasks.get(task).filter(|t| t.meta.is_some())?;
        let state = t.state();
        Some(serde_json::json!({
            "task_list_id": self.id,
            "topic": self.topic,
            "task_id": task,
            "status": state.name(),
            "assignee": state.assignee(),
        }))
    }
}
