//! A task and its steps as the engine keeps them (one record per task, changed only by
//! compare-and-set), and the changes of the task as a whole (new, settle, due, cancel,
//! the context a step runs with), as pure functions of the record, the time and the
//! jitter. A step's attempts are in [`super::attempts`]; storage is `engine`'s business.

use super::states::{step_edge, task_path, StepState, TaskState};
use super::template::{HandlerRef, Retry, StepType, Template};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Who holds a step that runs, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub worker_id: String,
    pub attempt: u32,
    pub until_ms: i64,
}

/// One transition of a step: the audit history is the list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTransition {
    pub audit_uuid: String,
    pub from_state: Option<StepState>,
    pub to_state: StepState,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    pub attempt: u32,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One transition of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskTransition {
    pub from_state: TaskState,
    pub to_state: TaskState,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub step_uuid: String,
    pub name: String,
    pub handler: HandlerRef,
    pub dependencies: Vec<String>,
    pub retry: Retry,
    pub step_type: StepType,
    pub state: StepState,
    /// Not chosen by a decision step (its state is then `cancelled`).
    #[serde(default)]
    pub skipped: bool,
    pub attempts: u32,
    /// The result envelope of the attempt that completed it.
    #[serde(default)]
    pub results: Option<Value>,
    #[serde(default)]
    pub lease: Option<Lease>,
    /// When its dependencies were all done (its place in the queue).
    #[serde(default)]
    pub ready_at: Option<i64>,
    #[serde(default)]
    pub next_retry_at: Option<i64>,
    #[serde(default)]
    pub last_attempted_at: Option<i64>,
    #[serde(default)]
    pub last_failure_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub completed_at: Option<i64>,
    pub audit: Vec<StepTransition>,
    /// How long one run of its handler may take (the template's `timeout_seconds`);
    /// the worker fails a run that takes longer, as a retryable timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// What the step runs on besides the task's context (`StepContext.step_inputs`):
    /// a batch worker's cursor.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub inputs: Value,
    /// At most this many workers of one batch run at once: on a `batchable` step, the
    /// cap its `batch_config` sets for the workers it creates; on a worker, its batch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// On a batch worker: the template step it was made from (its batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_of: Option<String>,
}

impl Step {
    /// A `batch_worker` step as the template wrote it: a pattern for the workers its
    /// analyzer creates (which carry their cursor in `inputs`), never run itself.
    pub fn is_batch_template(&self) -> bool {
        self.step_type == StepType::BatchWorker && self.inputs.is_null()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_uuid: String,
    pub name: String,
    pub namespace: String,
    pub version: String,
    pub status: TaskState,
    pub context: Value,
    pub initiator: String,
    pub source_system: String,
    pub reason: String,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub correlation_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub completed_at: Option<i64>,
    pub steps: Vec<Step>,
    pub transitions: Vec<TaskTransition>,
    /// The due time under which the index lists this task (see `engine`).
    #[serde(default)]
    pub indexed_due: Option<i64>,
}

/// What a task is created with, besides its template.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskRequest {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default = "empty_object")]
    pub context: Value,
    #[serde(default = "default_initiator")]
    pub initiator: String,
    #[serde(default = "default_source")]
    pub source_system: String,
    #[serde(default = "default_reason")]
    pub reason: String,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

fn default_namespace() -> String {
    "default".into()
}
fn default_version() -> String {
    "1.0.0".into()
}
fn empty_object() -> Value {
    json!({})
}
fn default_initiator() -> String {
    "tasker-core-python".into()
}
fn default_source() -> String {
    "tasker-core".into()
}
fn default_reason() -> String {
    "Task requested".into()
}

/// A step's handler result, as a worker hands it to `complete`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HandlerResult {
    #[serde(alias = "is_success")]
    pub success: bool,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default = "yes")]
    pub retryable: bool,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub execution_time_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

/// Where a step's result went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Recorded(StepState),
    Rejected(String),
}

impl Task {
    /// A new task: every step pending, the roots ready now. `new_id` makes the ids.
    pub fn new(
        template: &Template,
        request: TaskRequest,
        now: i64,
        mut new_id: impl FnMut() -> String,
    ) -> Task {
        let steps = template
            .steps
            .iter()
            .map(|s| Step {
                step_uuid: new_id(),
                name: s.name.clone(),
                handler: s.handler.clone(),
                dependencies: s.dependencies.clone(),
                retry: s.retry.clone(),
                step_type: s.step_type,
                state: StepState::Pending,
                skipped: false,
                attempts: 0,
                results: None,
                lease: None,
                ready_at: s.dependencies.is_empty().then_some(now),
                next_retry_at: None,
                last_attempted_at: None,
                last_failure_at: None,
                created_at: now,
                updated_at: now,
                completed_at: None,
                audit: Vec::new(),
                timeout_seconds: s.timeout_seconds,
                inputs: Value::Null,
                parallelism: s.batch_config.as_ref().and_then(|b| b.parallelism),
                batch_of: None,
            })
            .collect();
        let mut task = Task {
            task_uuid: new_id(),
            name: request.name,
            namespace: request.namespace,
            version: request.version,
            status: TaskState::Pending,
            context: request.context,
            initiator: request.initiator,
            source_system: request.source_system,
            reason: request.reason,
            priority: request.priority,
            tags: request.tags,
            correlation_id: request.correlation_id.unwrap_or_else(&mut new_id),
            created_at: now,
            updated_at: now,
            completed_at: None,
            steps,
            transitions: Vec::new(),
            indexed_due: None,
        };
        task.settle(now);
        task
    }

    pub fn step_index(&self, step_uuid: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.step_uuid == step_uuid)
    }

    pub(super) fn by_name(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every dependency done: complete, resolved by hand, or (for a convergence step)
    /// skipped by a decision.
    pub fn dependencies_satisfied(&self, step: &Step) -> bool {
        step.dependencies.iter().all(|d| match self.by_name(d) {
            Some(dep) if matches!(dep.state, StepState::Complete | StepState::ResolvedManually) => true,
            Some(dep) => dep.skipped && step.step_type == StepType::DeferredConvergence,
            None => false,
        })
    }

    /// Whether step `i` may be claimed at `now`.
    pub fn claimable(&self, i: usize, now: i64) -> bool {
        let step = &self.steps[i];
        if self.status.is_final() || step.skipped || self.batch_full(i, Some(now)) {
            return false;
        }
        match step.state {
            StepState::Pending if step.is_batch_template() => false,
            StepState::Pending => self.dependencies_satisfied(step),
            StepState::WaitingForRetry => step.next_retry_at.is_none_or(|t| t <= now),
            StepState::InProgress => step.lease.as_ref().is_none_or(|l| l.until_ms <= now),
            _ => false,
        }
    }

    /// Whether batch worker `i` must wait because `parallelism` other workers of its
    /// batch hold a step (with a lease live at `now`; any lease when `now` is None: a
    /// full batch is not due, and the leases' ends are).
    fn batch_full(&self, i: usize, now: Option<i64>) -> bool {
        let step = &self.steps[i];
        let (Some(cap), Some(batch)) = (step.parallelism, step.batch_of.as_deref()) else {
            return false;
        };
        let running = self
            .steps
            .iter()
            .enumerate()
            .filter(|(j, s)| {
                *j != i && s.state == StepState::InProgress && s.batch_of.as_deref() == Some(batch)
            })
            .filter(|(_, s)| now.is_none_or(|now| s.lease.as_ref().is_some_and(|l| l.until_ms > now)))
            .count();
        running >= cap as usize
    }

    /// When something in this task next needs a worker: a ready step's `ready_at`, a
    /// retry's time, a lease's end. None when the task has ended or waits on nothing.
    pub fn due(&self) -> Option<i64> {
        if self.status.is_final() {
            return None;
        }
        self.steps
            .iter()
            .enumerate()
            .filter(|(i, s)| !s.skipped && !self.batch_full(*i, None))
            .filter_map(|(_, s)| match s.state {
                StepState::Pending if self.dependencies_satisfied(s) && !s.is_batch_template() => {
                    Some(s.ready_at.unwrap_or(s.created_at))
                }
                StepState::WaitingForRetry => Some(s.next_retry_at.unwrap_or(s.updated_at)),
                StepState::InProgress => Some(s.lease.as_ref().map_or(s.updated_at, |l| l.until_ms)),
                _ => None,
            })
            .min()
    }

    pub(super) fn move_step(&mut self, i: usize, to: StepState, now: i64, note: Note) {
        let step = &mut self.steps[i];
        debug_assert!(step_edge(step.state, to), "{:?} -> {:?}", step.state, to);
        step.audit.push(StepTransition {
            audit_uuid: uuid::Uuid::new_v4().to_string(),
            from_state: Some(step.state),
            to_state: to,
            at_ms: now,
            worker_id: note.worker_id,
            attempt: step.attempts,
            success: note.success,
            execution_time_ms: note.execution_time_ms,
            result: note.result,
            error: note.error,
        });
        step.state = to;
        step.updated_at = now;
        if to.is_terminal() {
            step.completed_at = Some(now);
            step.lease = None;
        }
    }

    /// Gives every pending step whose dependencies are now done its place in the queue.
    pub(super) fn mark_ready(&mut self, now: i64) {
        for j in 0..self.steps.len() {
            let s = &self.steps[j];
            if s.state == StepState::Pending
                && s.ready_at.is_none()
                && !s.skipped
                && self.dependencies_satisfied(s)
            {
                self.steps[j].ready_at = Some(now);
            }
        }
    }

    /// Cancels the task and every step not yet ended; false when it had ended.
    pub fn cancel(&mut self, now: i64) -> bool {
        if self.status.is_final() {
            return false;
        }
        for i in 0..self.steps.len() {
            if step_edge(self.steps[i].state, StepState::Cancelled) {
                let note = Note { error: Some("task cancelled".into()), ..Note::system() };
                self.move_step(i, StepState::Cancelled, now, note);
            }
        }
        self.move_task(TaskState::Cancelled, now);
        true
    }

    /// Moves the task to the state its steps call for, along upstream's edges.
    pub(super) fn settle(&mut self, now: i64) {
        if self.status.is_final() {
            return;
        }
        let live = || self.steps.iter().filter(|s| !s.skipped);
        let target = if live().all(|s| s.state == StepState::Complete) {
            TaskState::Complete
        } else if live().all(|s| matches!(s.state, StepState::Complete | StepState::ResolvedManually)) {
            // Every step ended, some by an operator's hand without a result.
            TaskState::ResolvedManually
        } else if live().any(|s| s.state == StepState::Error) {
            TaskState::Error
        } else if live().any(|s| s.state == StepState::InProgress)
            || (0..self.steps.len())
                .any(|i| self.steps[i].state == StepState::Pending && self.claimable(i, now))
        {
            TaskState::StepsInProcess
        } else if live().any(|s| s.state == StepState::WaitingForRetry) {
            TaskState::WaitingForRetry
        } else {
            TaskState::StepsInProcess
        };
        self.move_task(target, now);
    }

    pub(super) fn move_task(&mut self, to: TaskState, now: i64) {
        // Every target is reachable from every non-final state along upstream's edges.
        let path = task_path(self.status, to).unwrap_or_else(|| vec![to]);
        for next in path {
            self.transitions.push(TaskTransition { from_state: self.status, to_state: next, at_ms: now });
            self.status = next;
        }
        self.updated_at = now;
        if to.is_final() && self.completed_at.is_none() {
            self.completed_at = Some(now);
        }
    }

    /// The context a worker runs step `i` with (see WIT `claimed-step.context-json`).
    pub fn context_for(&self, i: usize) -> Value {
        let step = &self.steps[i];
        let graph: Vec<(&str, &[String])> =
            self.steps.iter().map(|s| (s.name.as_str(), s.dependencies.as_slice())).collect();
        let mut deps = Map::new();
        for name in crate::dag::ancestors(&graph, &step.name) {
            if let Some(results) = self.by_name(name).and_then(|s| s.results.clone()) {
                deps.insert(name.to_string(), results);
            }
        }
        json!({
            "task_uuid": self.task_uuid,
            "step_uuid": step.step_uuid,
            "correlation_id": self.correlation_id,
            "handler_name": step.handler.callable,
            "step_name": step.name,
            "input_data": self.context,
            "dependency_results": deps,
            "step_config": step.handler.initialization,
            "step_inputs": if step.inputs.is_null() { json!({}) } else { step.inputs.clone() },
            "retry_count": step.attempts.saturating_sub(1),
            "max_retries": step.retry.max_attempts,
            "timeout_seconds": step.timeout_seconds,
        })
    }
}

/// What a transition records besides its states.
pub(super) struct Note {
    pub(super) worker_id: Option<String>,
    pub(super) success: bool,
    pub(super) execution_time_ms: Option<u64>,
    pub(super) result: Option<Value>,
    pub(super) error: Option<String>,
}

impl Note {
    pub(super) fn system() -> Note {
        Note { worker_id: None, success: true, execution_time_ms: None, result: None, error: None }
    }
    pub(super) fn failure(error: String, worker_id: Option<String>) -> Note {
        Note { worker_id, success: false, error: Some(error), ..Note::system() }
    }
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
