//! Tasks, steps and audit entries as upstream's REST API answers them
//! (`TaskResponse`, `StepResponse`, `StepAuditResponse`), times in ISO 8601.

use super::states::{StepState, TaskState};
use super::task::{Step, Task};
use crate::flows::service::iso;
use serde_json::{json, Value};

fn iso_opt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(iso(m)))
}

pub fn step(task: &Task, s: &Step, now: i64) -> Value {
    let i = task.step_index(&s.step_uuid).unwrap_or(0);
    let parents = s.dependencies.len();
    let completed_parents = s
        .dependencies
        .iter()
        .filter(|d| task.steps.iter().any(|x| &x.name == *d && x.state == StepState::Complete))
        .count();
    json!({
        "step_uuid": s.step_uuid,
        "task_uuid": task.task_uuid,
        "name": s.name,
        "handler": s.handler.callable,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "completed_at": iso_opt(s.completed_at),
        "results": s.results,
        "current_state": s.state.as_str(),
        "skipped": s.skipped,
        "dependencies_satisfied": task.dependencies_satisfied(s),
        "retry_eligible": s.retry.retryable && s.attempts < s.retry.max_attempts,
        "ready_for_execution": task.claimable(i, now),
        "total_parents": parents,
        "completed_parents": completed_parents,
        "attempts": s.attempts,
        "max_attempts": s.retry.max_attempts,
        "last_failure_at": iso_opt(s.last_failure_at),
        "next_retry_at": iso_opt(s.next_retry_at),
        "last_attempted_at": iso_opt(s.last_attempted_at),
        "worker_id": s.lease.as_ref().map(|l| l.worker_id.clone()),
    })
}

pub fn steps(task: &Task, now: i64) -> Value {
    Value::Array(task.steps.iter().map(|s| step(task, s, now)).collect())
}

pub fn audit(task: &Task, s: &Step) -> Value {
    Value::Array(
        s.audit
            .iter()
            .map(|a| {
                json!({
                    "audit_uuid": a.audit_uuid,
                    "workflow_step_uuid": s.step_uuid,
                    "transition_uuid": a.audit_uuid,
                    "task_uuid": task.task_uuid,
                    "recorded_at": iso(a.at_ms),
                    "worker_uuid": a.worker_id,
                    "correlation_id": task.correlation_id,
                    "success": a.success,
                    "execution_time_ms": a.execution_time_ms,
                    "result": a.result,
                    "error": a.error,
                    "attempt": a.attempt,
                    "step_name": s.name,
                    "from_state": a.from_state.map(StepState::as_str),
                    "to_state": a.to_state.as_str(),
                })
            })
            .collect(),
    )
}

pub fn task(t: &Task, now: i64) -> Value {
    let count = |state: StepState| t.steps.iter().filter(|s| s.state == state && !s.skipped).count();
    let live = t.steps.iter().filter(|s| !s.skipped).count();
    let ready = (0..t.steps.len()).filter(|&i| t.claimable(i, now)).count();
    let completed = count(StepState::Complete);
    let failed = count(StepState::Error);
    let (execution_status, recommended_action, health) = match t.status {
        TaskState::Complete => ("all_complete", "none", "healthy"),
        TaskState::Error => ("blocked_by_failures", "handle_failures", "failed"),
        TaskState::Cancelled => ("cancelled", "none", "cancelled"),
        TaskState::WaitingForRetry => ("waiting_for_retry", "wait_for_retry", "recovering"),
        _ if ready > 0 => ("has_ready_steps", "execute_ready_steps", "healthy"),
        _ => ("processing", "wait_for_completion", "healthy"),
    };
    json!({
        "task_uuid": t.task_uuid,
        "name": t.name,
        "namespace": t.namespace,
        "version": t.version,
        "status": t.status.as_str(),
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "completed_at": iso_opt(t.completed_at),
        "context": t.context,
        "initiator": t.initiator,
        "source_system": t.source_system,
        "reason": t.reason,
        "priority": t.priority,
        "tags": t.tags,
        "correlation_id": t.correlation_id,
        "parent_correlation_id": Value::Null,
        "total_steps": live,
        "pending_steps": count(StepState::Pending),
        "in_progress_steps": count(StepState::InProgress),
        "completed_steps": completed,
        "failed_steps": failed,
        "ready_steps": ready,
        "execution_status": execution_status,
        "recommended_action": recommended_action,
        "completion_percentage": if live == 0 { 100.0 } else { completed as f64 * 100.0 / live as f64 },
        "health_status": health,
        "transitions": t.transitions.iter().map(|x| json!({
            "from_state": x.from_state.as_str(), "to_state": x.to_state.as_str(), "recorded_at": iso(x.at_ms),
        })).collect::<Vec<_>>(),
        "steps": steps(t, now),
    })
}

/// `{tasks, pagination}` as upstream's `list_tasks` answers.
pub fn task_page(tasks: &[Task], total: usize, limit: u32, offset: u32, now: i64) -> Value {
    let per_page = limit.max(1) as usize;
    let total_pages = total.div_ceil(per_page);
    let page = offset as usize / per_page + 1;
    json!({
        "tasks": tasks.iter().map(|t| task(t, now)).collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "per_page": per_page,
            "total_count": total,
            "total_pages": total_pages,
            "has_next": (offset as usize + tasks.len()) < total,
            "has_previous": offset > 0,
        },
    })
}
