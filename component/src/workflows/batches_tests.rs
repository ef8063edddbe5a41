//! Unit tests of `batches.rs`: an analyzer's outcome becomes worker steps, over the engine.

use super::*;
use crate::ports::MemoryStorage;
use crate::workflows::engine::{self, claim, complete, create_task, get_task, Attempt, Claimed};
use crate::workflows::states::TaskState;
use crate::workflows::task::Completion;

const CSV: &str = r#"{
  "name": "csv", "namespace_name": "test",
  "steps": [
    {"name": "analyze", "type": "batchable", "handler": {"callable": "analyze"}},
    {"name": "process", "type": "batch_worker", "handler": {"callable": "process"}, "dependencies": ["analyze"]},
    {"name": "total", "type": "deferred_convergence", "handler": {"callable": "total"}, "dependencies": ["process"]}
  ]}"#;

fn setup() -> (MemoryStorage, String) {
    let s = MemoryStorage::default();
    engine::register_template(&s, CSV).unwrap();
    let task = create_task(&s, r#"{"name": "csv", "namespace": "test"}"#, 1_000_000).unwrap();
    (s, task.task_uuid)
}

fn claim_all(s: &MemoryStorage, now: i64) -> Vec<Claimed> {
    let mut c = claim(s, "w1", &[], 100, 5000, now, 0.0).unwrap();
    c.sort_by(|a, b| a.name.cmp(&b.name));
    c
}

fn finish(s: &MemoryStorage, c: &Claimed, result: Value, now: i64) -> Completion {
    let at = Attempt { task_uuid: &c.task_uuid, step_uuid: &c.step_uuid, worker: "w1", attempt: c.attempt };
    complete(s, at, &json!({"success": true, "result": result}).to_string(), now, 0.0).unwrap()
}

fn cursors(n: u64, size: u64) -> Value {
    let configs: Vec<Value> = (0..n)
        .map(|i| json!({"batch_id": format!("{:03}", i + 1), "start_cursor": i * size, "end_cursor": (i + 1) * size}))
        .collect();
    json!({"batch_processing_outcome": {"type": "create_batches", "worker_template_name": "process",
        "worker_count": n, "cursor_configs": configs, "total_items": n * size}, "batch_metadata": {"file": "a.csv"}})
}

#[test]
fn an_analyzer_creates_one_worker_per_cursor_and_convergence_waits_for_all() {
    let (s, task) = setup();
    let analyze = claim_all(&s, 1000);
    assert_eq!(
        analyze.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["analyze"],
        "the template never runs"
    );
    finish(&s, &analyze[0], cursors(3, 100), 1001);
    let workers = claim_all(&s, 1002);
    assert_eq!(
        workers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["process_001", "process_002", "process_003"]
    );
    assert_eq!(workers[1].handler, "process");
    let inputs = &workers[1].context["step_inputs"];
    assert_eq!(
        (inputs["cursor"]["start_cursor"].clone(), inputs["cursor"]["end_cursor"].clone()),
        (json!(100), json!(200))
    );
    assert_eq!(inputs["batch_metadata"]["file"], "a.csv");
    for (n, w) in workers.iter().enumerate().take(2) {
        finish(&s, w, json!({"items_processed": 100, "n": n}), 1003);
    }
    assert!(claim_all(&s, 1004).is_empty(), "the total waits for the last batch");
    finish(&s, &workers[2], json!({"items_processed": 100, "n": 2}), 1005);
    let total = claim_all(&s, 1006);
    assert_eq!(total.len(), 1);
    let deps = &total[0].context["dependency_results"];
    assert_eq!(deps["process_003"]["result"]["n"], 2);
    assert!(deps.get("process").is_none());
    finish(&s, &total[0], json!({"rows": 300}), 1007);
    let t = get_task(&s, &task).unwrap();
    assert_eq!(t.status, TaskState::Complete);
    let template = t.steps.iter().find(|s| s.name == "process").unwrap();
    assert!(template.skipped && template.state == StepState::Cancelled);
    assert_eq!(t.steps.len(), 6);
}

#[test]
fn no_batches_skips_the_template_and_convergence_still_runs() {
    let (s, task) = setup();
    let analyze = claim_all(&s, 1000).remove(0);
    finish(
        &s,
        &analyze,
        json!({"batch_processing_outcome": {"type": "no_batches"}, "reason": "empty"}),
        1001,
    );
    let next = claim_all(&s, 1002);
    assert_eq!(next.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["total"]);
    finish(&s, &next[0], json!({"rows": 0}), 1003);
    assert_eq!(get_task(&s, &task).unwrap().status, TaskState::Complete);
}

#[test]
fn a_bad_outcome_fails_the_analyzer_without_a_retry() {
    for (result, says) in [
        (json!({"rows": 3}), "must return a batch_processing_outcome"),
        (
            json!({"batch_processing_outcome": {"type": "create_batches", "worker_template_name": "nope", "cursor_configs": []}}),
            "'nope' is not a batch_worker",
        ),
        (
            json!({"batch_processing_outcome": {"type": "create_batches", "worker_template_name": "process",
            "cursor_configs": [{"batch_id": "1"}, {"batch_id": "1"}]}}),
            "two cursors",
        ),
        (json!({"batch_processing_outcome": {"type": "many"}}), "must be create_batches or no_batches"),
    ] {
        let (s, task) = setup();
        let analyze = claim_all(&s, 1000).remove(0);
        assert_eq!(finish(&s, &analyze, result, 1001), Completion::Recorded(StepState::Error));
        let t = get_task(&s, &task).unwrap();
        assert_eq!(t.status, TaskState::Error);
        let error = t.steps[0].audit.last().unwrap().error.clone().unwrap();
        assert!(error.contains(says), "{error}");
    }
}

#[test]
fn a_batch_worker_must_depend_on_one_batchable_step() {
    let bad = r#"{"name": "b", "steps": [
        {"name": "a", "handler": {"callable": "a"}},
        {"name": "w", "type": "batch_worker", "handler": {"callable": "w"}, "dependencies": ["a"]}]}"#;
    let e = engine::register_template(&MemoryStorage::default(), bad).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("steps.w"));
    assert!(e.message.contains("exactly one batchable"), "{}", e.message);
}

/// `batch_config.parallelism` caps how many of a batch's workers hold a step at once:
/// claims take only that many, a finished or lapsed one frees its place, and a full
/// batch is not due (the queue waits on the running workers' leases instead).
#[test]
fn parallelism_caps_the_workers_running_at_once() {
    let s = MemoryStorage::default();
    let capped = CSV.replace(
        r#"{"name": "analyze", "type": "batchable", "handler": {"callable": "analyze"}}"#,
        r#"{"name": "analyze", "type": "batchable", "handler": {"callable": "analyze"},
            "batch_config": {"batch_size": 100, "parallelism": 2, "cursor_field": "id"}}"#,
    );
    engine::register_template(&s, &capped).unwrap();
    let task = create_task(&s, r#"{"name": "csv", "namespace": "test"}"#, 1_000_000).unwrap().task_uuid;
    let analyze = claim_all(&s, 1000);
    finish(&s, &analyze[0], cursors(5, 100), 1001);
    let first = claim_all(&s, 1002);
    assert_eq!(first.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["process_001", "process_002"]);
    assert!(claim_all(&s, 1003).is_empty(), "two run: the batch is full");
    let record = get_task(&s, &task).unwrap();
    assert_eq!(record.due(), Some(1002 + 5000), "due when the running leases end, not now");
    finish(&s, &first[0], json!({"items_processed": 100}), 1004);
    assert_eq!(claim_all(&s, 1005).iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["process_003"]);
    // process_002's lease (5 s from 1002) lapses while process_003's still runs: the
    // freed place goes to process_002's next attempt, and the batch is full again.
    let later = claim_all(&s, 1002 + 5001);
    assert_eq!(later.iter().map(|c| (c.name.as_str(), c.attempt)).collect::<Vec<_>>(), [("process_002", 2)]);
    assert!(claim_all(&s, 1002 + 5002).is_empty());
}

#[test]
fn a_bad_batch_config_is_refused_at_registration() {
    let s = MemoryStorage::default();
    let zero =
        CSV.replace(r#""type": "batchable","#, r#""type": "batchable", "batch_config": {"parallelism": 0},"#);
    let e = engine::register_template(&s, &zero).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("steps.analyze.batch_config.parallelism"), "{e}");
    let misplaced = CSV.replace(
        r#""type": "deferred_convergence","#,
        r#""type": "deferred_convergence", "batch_config": {},"#,
    );
    assert!(engine::register_template(&s, &misplaced)
        .unwrap_err()
        .to_string()
        .contains("only a batchable step"));
}
