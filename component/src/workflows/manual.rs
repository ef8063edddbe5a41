//! An operator's actions on one step, as upstream's `PATCH
//! /v1/tasks/{task}/workflow_steps/{step}` takes them (`StepManualAction`):
//!
//! - `reset_for_retry`: a step in `error` goes back to `pending` with its attempts
//!   reset, and runs again;
//! - `resolve_manually`: the step is `resolved_manually` without a result, and its
//!   dependents may run (a resolved dependency counts as done, with no result to read);
//! - `complete_manually`: the step is `complete` with the operator's `result` (and
//!   `metadata`), which its dependents read as if a handler had returned it.
//!
//! A task that had failed (`error`) is taken back (upstream's `Reset` edge) when the
//! action lets it go on. A step that has ended (`complete`, `cancelled`,
//! `resolved_manually`) and a task that was cancelled refuse every action. Each action
//! is one audit entry naming the operator and the reason. A worker still running the
//! step loses it: its result is rejected.

use super::states::{StepState, TaskState};
use super::task::{HandlerResult, Note, Task};
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// What the operator provides for `complete_manually`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionData {
    pub result: Value,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// Upstream's `StepManualAction`, tagged by `action_type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ManualAction {
    ResetForRetry { reason: String, reset_by: String },
    ResolveManually { reason: String, resolved_by: String },
    CompleteManually { completion_data: CompletionData, reason: String, completed_by: String },
}

impl ManualAction {
    pub fn parse(text: &str) -> Result<ManualAction> {
        let action: ManualAction = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                "action",
                format!(
                    "is not a step action ({e}); expected action_type reset_for_retry, \
                     resolve_manually or complete_manually with reason and the operator"
                ),
            )
        })?;
        let (reason, by, by_field) = action.who();
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "must say why (it is kept in the audit history)"));
        }
        if by.trim().is_empty() || by.len() > 200 {
            return Err(Error::invalid(by_field, "must name the operator (1 to 200 bytes)"));
        }
        Ok(action)
    }

    fn who(&self) -> (&str, &str, &'static str) {
        match self {
            ManualAction::ResetForRetry { reason, reset_by } => (reason, reset_by, "reset_by"),
            ManualAction::ResolveManually { reason, resolved_by } => (reason, resolved_by, "resolved_by"),
            ManualAction::CompleteManually { reason, completed_by, .. } => {
                (reason, completed_by, "completed_by")
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ManualAction::ResetForRetry { .. } => "reset_for_retry",
            ManualAction::ResolveManually { .. } => "resolve_manually",
            ManualAction::CompleteManually { .. } => "complete_manually",
        }
    }
}

impl Task {
    /// Applies `action` to step `i`; an action the step's or the task's state does not
    /// allow is `invalid-argument` on `action_type`, and changes nothing.
    pub fn act_manually(&mut self, i: usize, action: &ManualAction, now: i64) -> Result<StepState> {
        let name = self.steps[i].name.clone();
        let state = self.steps[i].state;
        let refuse = |why: String| Err(Error::invalid("action_type", why));
        if self.status == TaskState::Cancelled {
            return refuse(format!("task {} was cancelled; its steps take no action", self.task_uuid));
        }
        if state.is_terminal() {
            return refuse(format!(
                "step '{name}' has ended ({}); {} does not apply",
                state.as_str(),
                action.name()
            ));
        }
        let (reason, by, _) = action.who();
        let record = json!({"action_type": action.name(), "reason": reason, "by": by});
        let note = |result: Value| Note {
            worker_id: Some(by.to_string()),
            success: true,
            execution_time_ms: None,
            result: Some(result),
            error: None,
        };
        let to = match action {
            ManualAction::ResetForRetry { .. } => {
                if state != StepState::Error {
                    return refuse(format!(
                        "step '{name}' is {}; reset_for_retry applies to a step in error",
                        state.as_str()
                    ));
                }
                let step = &mut self.steps[i];
                step.attempts = 0;
                step.next_retry_at = None;
                step.ready_at = None;
                self.move_step(i, StepState::Pending, now, note(json!({ "manual_action": record })));
                StepState::Pending
            }
            ManualAction::ResolveManually { .. } => {
                self.move_step(i, StepState::ResolvedManually, now, note(json!({ "manual_action": record })));
                StepState::ResolvedManually
            }
            ManualAction::CompleteManually { completion_data, .. } => {
                let as_result = HandlerResult {
                    success: true,
                    result: Some(completion_data.result.clone()),
                    error_message: None,
                    error_type: None,
                    error_code: None,
                    retryable: false,
                    metadata: completion_data.metadata.clone(),
                    execution_time_ms: None,
                };
                if let Err(why) =
                    self.check_decision(i, &as_result).and_then(|()| self.check_batches(i, &as_result))
                {
                    return Err(Error::invalid("completion_data", why));
                }
                let envelope = json!({
                    "success": true,
                    "result": completion_data.result,
                    "metadata": completion_data.metadata,
                    "execution_time_ms": null,
                });
                let mut audited = envelope.clone();
                audited["manual_action"] = record;
                self.steps[i].results = Some(envelope);
                self.move_step(i, StepState::Complete, now, note(audited));
                self.apply_decision(i, now);
                self.apply_batches(i, now, &mut || uuid::Uuid::new_v4().to_string());
                StepState::Complete
            }
        };
        if self.status == TaskState::Error {
            self.move_task(TaskState::Pending, now); // upstream's Reset: the task goes on
        }
        self.mark_ready(now);
        self.settle(now);
        Ok(to)
    }
}

#[cfg(test)]
#[path = "manual_tests.rs"]
mod tests;
