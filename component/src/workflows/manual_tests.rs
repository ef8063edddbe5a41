//! Unit tests of `manual.rs`: an operator's actions on steps, over the engine.

use super::*;
use crate::error::ErrorCode;
use crate::ports::MemoryStorage;
use crate::workflows::engine::{self, act_on_step, claim, complete, create_task, get_task, Attempt};
use crate::workflows::states::StepState;

const CHAIN: &str = r#"{
  "name": "chain", "namespace_name": "test",
  "steps": [
    {"name": "fetch", "handler": {"callable": "fetch"}, "retry": {"max_attempts": 1}},
    {"name": "use", "handler": {"callable": "use"}, "dependencies": ["fetch"]}
  ]}"#;

/// A task whose first step failed for good (the task is `error`).
fn failed() -> (MemoryStorage, Task) {
    let s = MemoryStorage::default();
    engine::register_template(&s, CHAIN).unwrap();
    let task = create_task(&s, r#"{"name": "chain", "namespace": "test"}"#, 1_000_000).unwrap();
    let c = claim(&s, "w1", &[], 10, 5000, 1000, 0.5).unwrap().remove(0);
    let at = Attempt { task_uuid: &c.task_uuid, step_uuid: &c.step_uuid, worker: "w1", attempt: c.attempt };
    complete(&s, at, r#"{"success": false, "error_message": "down", "retryable": true}"#, 1001, 0.0).unwrap();
    let task = get_task(&s, &task.task_uuid).unwrap();
    assert_eq!((task.status, task.steps[0].state), (TaskState::Error, StepState::Error));
    (s, task)
}

fn act(s: &MemoryStorage, task: &Task, step: usize, action: &str) -> crate::error::Result<Task> {
    act_on_step(s, &task.task_uuid, &task.steps[step].step_uuid, action, 2000).map(|(t, _)| t)
}

#[test]
fn reset_for_retry_runs_a_failed_step_again_and_the_task_goes_on() {
    let (s, task) = failed();
    let t =
        act(&s, &task, 0, r#"{"action_type": "reset_for_retry", "reason": "db back", "reset_by": "ops@x"}"#)
            .unwrap();
    assert_eq!(
        (t.status, t.steps[0].state, t.steps[0].attempts),
        (TaskState::StepsInProcess, StepState::Pending, 0)
    );
    let entry = t.steps[0].audit.last().unwrap();
    assert_eq!((entry.from_state, entry.to_state), (Some(StepState::Error), StepState::Pending));
    assert_eq!(entry.worker_id.as_deref(), Some("ops@x"));
    assert_eq!(entry.result.as_ref().unwrap()["manual_action"]["reason"], "db back");
    let again = claim(&s, "w2", &[], 10, 5000, 2001, 0.5).unwrap();
    assert_eq!((again[0].name.as_str(), again[0].attempt), ("fetch", 1));
    let path: Vec<TaskState> = t.transitions.iter().map(|x| x.to_state).collect();
    assert!(path.windows(2).any(|w| w == [TaskState::Error, TaskState::Pending]), "{path:?}");
}

#[test]
fn complete_manually_gives_dependents_the_operators_result() {
    let (s, task) = failed();
    let t = act(
        &s,
        &task,
        0,
        r#"{"action_type": "complete_manually", "completion_data": {"result": {"rows": 7}, "metadata": {"by_hand": true}},
            "reason": "loaded by hand", "completed_by": "ops@x"}"#,
    )
    .unwrap();
    assert_eq!(t.steps[0].state, StepState::Complete);
    assert_eq!(t.steps[0].results.as_ref().unwrap()["result"]["rows"], 7);
    let next = claim(&s, "w2", &[], 10, 5000, 2001, 0.5).unwrap().remove(0);
    assert_eq!(next.name, "use");
    assert_eq!(next.context["dependency_results"]["fetch"]["result"]["rows"], 7);
    let at = Attempt { task_uuid: &next.task_uuid, step_uuid: &next.step_uuid, worker: "w2", attempt: 1 };
    complete(&s, at, r#"{"success": true, "result": {}}"#, 2002, 0.0).unwrap();
    assert_eq!(get_task(&s, &task.task_uuid).unwrap().status, TaskState::Complete);
}

#[test]
fn resolve_manually_lets_dependents_run_and_the_task_ends_resolved() {
    let (s, task) = failed();
    let t = act(
        &s,
        &task,
        0,
        r#"{"action_type": "resolve_manually", "reason": "not needed", "resolved_by": "ops"}"#,
    )
    .unwrap();
    assert_eq!(t.steps[0].state, StepState::ResolvedManually);
    let next = claim(&s, "w2", &[], 10, 5000, 2001, 0.5).unwrap().remove(0);
    assert_eq!(next.name, "use");
    assert!(next.context["dependency_results"].get("fetch").is_none(), "no result to read");
    let at = Attempt { task_uuid: &next.task_uuid, step_uuid: &next.step_uuid, worker: "w2", attempt: 1 };
    complete(&s, at, r#"{"success": true, "result": {}}"#, 2002, 0.0).unwrap();
    assert_eq!(get_task(&s, &task.task_uuid).unwrap().status, TaskState::ResolvedManually);
}

#[test]
fn a_running_steps_worker_loses_it_to_the_operator() {
    let s = MemoryStorage::default();
    engine::register_template(&s, CHAIN).unwrap();
    let task = create_task(&s, r#"{"name": "chain", "namespace": "test"}"#, 1_000_000).unwrap();
    let c = claim(&s, "w1", &[], 10, 5000, 1000, 0.5).unwrap().remove(0);
    act(&s, &task, 0, r#"{"action_type": "resolve_manually", "reason": "stuck", "resolved_by": "ops"}"#)
        .unwrap();
    let at = Attempt { task_uuid: &c.task_uuid, step_uuid: &c.step_uuid, worker: "w1", attempt: c.attempt };
    let late = complete(&s, at, r#"{"success": true, "result": {}}"#, 2001, 0.0).unwrap();
    assert!(matches!(late, crate::workflows::task::Completion::Rejected(_)), "{late:?}");
}

#[test]
fn actions_the_state_does_not_allow_are_refused_and_change_nothing() {
    let (s, task) = failed();
    let before = get_task(&s, &task.task_uuid).unwrap();
    let reset = r#"{"action_type": "reset_for_retry", "reason": "r", "reset_by": "ops"}"#;
    let e = act(&s, &task, 1, reset).unwrap_err(); // `use` is pending, not in error
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidArgument, Some("action_type")));
    assert!(e.message.contains("pending"), "{}", e.message);
    assert_eq!(get_task(&s, &task.task_uuid).unwrap(), before);
    let done = r#"{"action_type": "complete_manually", "completion_data": {"result": 1}, "reason": "r", "completed_by": "o"}"#;
    act(&s, &task, 0, done).unwrap();
    let e = act(&s, &task, 0, r#"{"action_type": "resolve_manually", "reason": "r", "resolved_by": "o"}"#)
        .unwrap_err();
    assert!(e.message.contains("has ended (complete)"), "{}", e.message);
    engine::cancel_task(&s, &task.task_uuid, 3000).unwrap();
    let e = act(&s, &task, 1, r#"{"action_type": "resolve_manually", "reason": "r", "resolved_by": "o"}"#)
        .unwrap_err();
    assert!(e.message.contains("cancelled"), "{}", e.message);
}

#[test]
fn malformed_actions_are_typed_and_name_the_field() {
    let (s, task) = failed();
    for (body, field) in [
        (r#"{"action_type": "delete", "reason": "r", "by": "o"}"#, "action"),
        (r#"{"action_type": "resolve_manually", "resolved_by": "o"}"#, "action"),
        (r#"{"action_type": "resolve_manually", "reason": " ", "resolved_by": "o"}"#, "reason"),
        (r#"{"action_type": "reset_for_retry", "reason": "r", "reset_by": ""}"#, "reset_by"),
        (r#"{"action_type": "complete_manually", "reason": "r", "completed_by": "o"}"#, "action"),
        ("not json", "action"),
    ] {
        let e = act(&s, &task, 0, body).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidArgument, Some(field)), "{body}: {e:?}");
    }
    let e = act_on_step(&s, &task.task_uuid, "8d4c8e6e-0000-4000-8000-000000000000", "{}", 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument, "the action is read first");
}
