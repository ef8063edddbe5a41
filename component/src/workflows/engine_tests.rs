//! Unit tests of `engine.rs`: the engine over an in-memory storage, time passed in.

use super::*;
use crate::ports::MemoryStorage;
use crate::workflows::states::StepState;
use serde_json::json;

const DIAMOND: &str = r#"{
  "name": "diamond", "namespace_name": "test",
  "steps": [
    {"name": "start", "handler": {"callable": "square"}},
    {"name": "left", "handler": {"callable": "add", "initialization": {"constant": 25}}, "dependencies": ["start"]},
    {"name": "right", "handler": {"callable": "double"}, "dependencies": ["start"],
     "retry": {"max_attempts": 2, "backoff_base_ms": 1000}},
    {"name": "end", "handler": {"callable": "average"}, "dependencies": ["left", "right"]}
  ]}"#;

/// A storage holding the diamond template and one task made from it.
fn diamond_in<S: Storage + Default>() -> (S, String) {
    let s = S::default();
    register_template(&s, DIAMOND).unwrap();
    let task = create_task(
        &s,
        r#"{"name": "diamond", "namespace": "test", "context": {"even_number": 6}}"#,
        1_000_000,
    )
    .unwrap();
    (s, task.task_uuid)
}

fn setup() -> (MemoryStorage, String) {
    diamond_in()
}

fn at<'a>(task_uuid: &'a str, step_uuid: &'a str, worker: &'a str, attempt: u32) -> Attempt<'a> {
    Attempt { task_uuid, step_uuid, worker, attempt }
}

fn ok(value: Value) -> String {
    json!({"success": true, "result": value}).to_string()
}

fn claim_all(s: &MemoryStorage, worker: &str, now: i64) -> Vec<Claimed> {
    claim(s, worker, &[], 10, 5000, now, 0.5).unwrap()
}

fn finish(s: &MemoryStorage, c: &Claimed, worker: &str, value: Value, now: i64) -> Completion {
    complete(s, at(&c.task_uuid, &c.step_uuid, worker, c.attempt), &ok(value), now, 0.0).unwrap()
}

fn queue(s: &MemoryStorage) -> Vec<String> {
    s.list_keys(NAMESPACE, "due/", None, 100).unwrap().0
}

#[test]
fn a_diamond_runs_in_dependency_order_and_results_flow_to_dependents() {
    let (s, task) = setup();
    let first = claim_all(&s, "w1", 1000);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].name.as_str(), first[0].handler.as_str(), first[0].attempt), ("start", "square", 1));
    assert_eq!(first[0].context["input_data"]["even_number"], 6);
    assert!(claim_all(&s, "w2", 1001).is_empty(), "nothing else is ready");
    assert_eq!(
        finish(&s, &first[0], "w1", json!({"value": 36}), 1002),
        Completion::Recorded(StepState::Complete)
    );
    let mut branches = claim_all(&s, "w2", 1003);
    branches.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(branches.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["left", "right"]);
    assert_eq!(branches[0].context["dependency_results"]["start"]["result"]["value"], 36);
    assert_eq!(branches[0].context["step_config"]["constant"], 25);
    finish(&s, &branches[0], "w2", json!({"value": 61}), 1004);
    finish(&s, &branches[1], "w2", json!({"value": 72}), 1005);
    let end = claim_all(&s, "w1", 1006);
    assert_eq!(end.len(), 1);
    let deps = &end[0].context["dependency_results"];
    assert_eq!(
        (deps["left"]["result"]["value"].clone(), deps["start"]["result"]["value"].clone()),
        (json!(61), json!(36))
    );
    finish(&s, &end[0], "w1", json!({"value": 66.5}), 1007);
    let t = get_task(&s, &task).unwrap();
    assert_eq!(t.status, TaskState::Complete);
    assert!(queue(&s).is_empty(), "an ended task leaves the queue");
    let path: Vec<&str> = t.transitions.iter().map(|x| x.to_state.as_str()).collect();
    assert_eq!(path, vec!["initializing", "enqueuing_steps", "steps_in_process", "complete"]);
}

#[test]
fn a_dead_workers_step_is_claimed_again_after_its_lease_and_its_late_result_is_rejected() {
    let (s, task) = setup();
    let first = claim_all(&s, "dead", 1000);
    assert!(claim_all(&s, "alive", 5999).is_empty(), "the lease holds until 6000");
    let again = claim_all(&s, "alive", 6000);
    assert_eq!((again.len(), again[0].attempt), (1, 2));
    assert_eq!(again[0].context["retry_count"], 1);
    let late = finish(&s, &first[0], "dead", json!({"value": 0}), 6001);
    assert!(matches!(late, Completion::Rejected(ref why) if why.contains("no longer holds")), "{late:?}");
    assert_eq!(
        finish(&s, &again[0], "alive", json!({"value": 36}), 6002),
        Completion::Recorded(StepState::Complete)
    );
    let again_late = finish(&s, &again[0], "alive", json!({"value": 1}), 6003);
    assert!(matches!(again_late, Completion::Rejected(ref why) if why.contains("already has its result")));
    let t = get_task(&s, &task).unwrap();
    let start = &t.steps[0];
    assert_eq!(start.results.as_ref().unwrap()["result"]["value"], 36);
    let audit: Vec<(&str, Option<&str>, u32)> =
        start.audit.iter().map(|a| (a.to_state.as_str(), a.worker_id.as_deref(), a.attempt)).collect();
    assert_eq!(
        audit,
        vec![
            ("in_progress", Some("dead"), 1),
            ("waiting_for_retry", Some("dead"), 1),
            ("pending", None, 1),
            ("in_progress", Some("alive"), 2),
            ("complete", Some("alive"), 2),
        ]
    );
}

#[test]
fn renewing_keeps_the_step_and_a_lost_lease_cannot_be_renewed() {
    let (s, task) = setup();
    let c = &claim_all(&s, "w1", 1000)[0];
    assert!(renew(&s, at(&task, &c.step_uuid, "w1", 1), 5000, 5000).unwrap());
    assert!(claim_all(&s, "w2", 6500).is_empty(), "renewed until 10000");
    assert!(!renew(&s, at(&task, &c.step_uuid, "w2", 1), 5000, 6500).unwrap());
    assert_eq!(claim_all(&s, "w2", 10_000)[0].attempt, 2);
    assert!(!renew(&s, at(&task, &c.step_uuid, "w1", 1), 5000, 10_001).unwrap());
}

#[test]
fn failures_retry_with_backoff_until_attempts_run_out_and_then_fail_the_task() {
    let (s, task) = setup();
    let start = &claim_all(&s, "w", 1000)[0];
    finish(&s, start, "w", json!({"value": 36}), 1000);
    let right = claim_all(&s, "w", 1000).into_iter().find(|c| c.name == "right").unwrap();
    let failure =
        json!({"success": false, "error_message": "flaky", "error_type": "retryable_error"}).to_string();
    let done = complete(&s, at(&task, &right.step_uuid, "w", 1), &failure, 2000, 1.0).unwrap();
    assert_eq!(done, Completion::Recorded(StepState::WaitingForRetry));
    let t = get_task(&s, &task).unwrap();
    // backoff 1000 ms after the first failure, +10% jitter at the top of its range.
    assert_eq!(t.steps[2].next_retry_at, Some(3100));
    assert!(claim(&s, "w", &["double".into()], 10, 5000, 3099, 0.0).unwrap().is_empty());
    let retry = claim(&s, "w", &["double".into()], 10, 5000, 3100, 0.0).unwrap();
    assert_eq!((retry[0].name.as_str(), retry[0].attempt), ("right", 2));
    let done = complete(&s, at(&task, &right.step_uuid, "w", 2), &failure, 3200, 0.0).unwrap();
    assert_eq!(done, Completion::Recorded(StepState::Error), "max_attempts 2 used");
    assert_eq!(get_task(&s, &task).unwrap().status, TaskState::Error);
}

#[test]
fn a_permanent_error_fails_at_once_and_retry_after_wins_over_backoff() {
    let (s, task) = setup();
    let c = &claim_all(&s, "w", 1000)[0];
    let later =
        json!({"success": false, "error_message": "slow", "metadata": {"retry_after": 7}}).to_string();
    complete(&s, at(&task, &c.step_uuid, "w", 1), &later, 1000, 0.0).unwrap();
    assert_eq!(get_task(&s, &task).unwrap().steps[0].next_retry_at, Some(8000));
    let c = &claim_all(&s, "w", 8000)[0];
    let permanent = json!({"success": false, "error_message": "bad", "retryable": false}).to_string();
    assert_eq!(
        complete(&s, at(&task, &c.step_uuid, "w", 2), &permanent, 8001, 0.0).unwrap(),
        Completion::Recorded(StepState::Error)
    );
    let t = get_task(&s, &task).unwrap();
    assert_eq!(t.status, TaskState::Error);
    assert_eq!(t.steps[0].audit.last().unwrap().error.as_deref(), Some("handler_error: bad"));
}

#[test]
fn cancel_stops_every_step_and_rejects_results_still_to_come() {
    let (s, task) = setup();
    let c = &claim_all(&s, "w", 1000)[0];
    let t = cancel_task(&s, &task, 1001).unwrap();
    assert_eq!(t.status, TaskState::Cancelled);
    assert!(t.steps.iter().all(|s| s.state == StepState::Cancelled));
    assert!(
        matches!(finish(&s, c, "w", json!({}), 1002), Completion::Rejected(ref w) if w.contains("cancelled"))
    );
    assert!(claim_all(&s, "w", 99_999).is_empty());
    assert!(queue(&s).is_empty());
}

#[test]
fn a_lost_queue_key_write_delays_nothing_forever() {
    // The record was written but the process died before the queue moved: the stale key
    // is found, the task read, and the key moved to the real due time.
    let (s, task) = setup();
    claim_all(&s, "w", 1000);
    s.set(NAMESPACE, &due_key(1000, &task), "").unwrap();
    assert!(claim_all(&s, "w2", 1500).is_empty());
    assert_eq!(queue(&s), vec![due_key(6000, &task)]);
    // A queue key for a task not (yet) stored is left while its creation may still be
    // under way, and dropped after that.
    let ghost = due_key(1400, "00000000-0000-4000-8000-000000000000");
    s.set(NAMESPACE, &ghost, "").unwrap();
    assert!(claim_all(&s, "w2", 1500).is_empty());
    assert_eq!(queue(&s).len(), 2);
    assert!(claim_all(&s, "w2", 1400 + CREATE_GRACE_MS + 1).len() == 1, "the real task's lease ended");
    assert!(!queue(&s).contains(&ghost));
    let (s, _) = setup();
    let c = &claim_all(&s, "w", 1000)[0];
    assert_eq!(next_due_in(&s, 1000).unwrap(), Some(5000));
    finish(&s, c, "w", json!({}), 1600);
    assert_eq!(next_due_in(&s, 1700).unwrap(), Some(0));
}

#[test]
fn handlers_filter_what_a_worker_claims() {
    let (s, _) = setup();
    assert!(claim(&s, "w", &["average".into()], 10, 5000, 1000, 0.0).unwrap().is_empty());
    assert_eq!(claim(&s, "w", &["square".into()], 10, 5000, 1000, 0.0).unwrap().len(), 1);
}

#[test]
fn bad_requests_are_typed_and_name_the_field() {
    let s = MemoryStorage::default();
    let e = create_task(&s, r#"{"name": "nope"}"#, 0).unwrap_err();
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::NotFound, Some("name")));
    assert!(e.message.contains("default/nope"), "{}", e.message);
    register_template(&s, DIAMOND).unwrap();
    let e = create_task(&s, r#"{"name": "diamond", "namespace": "test", "context": [1]}"#, 0).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("context"));
    assert_eq!(get_task(&s, "x").unwrap_err().field.as_deref(), Some("task_uuid"));
    let missing = get_task(&s, "00000000-0000-4000-8000-000000000000").unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    assert_eq!(claim(&s, "w", &[], 1, 5, 0, 0.0).unwrap_err().field.as_deref(), Some("lease_ms"));
    let (s, task) = setup();
    let c = &claim_all(&s, "w", 1000)[0];
    let e = complete(&s, at(&task, &c.step_uuid, "w", 1), "{\"nope\": 1}", 1000, 0.0).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("result"));
    assert!(list_tasks(&s, &TaskQuery { status: Some("bogus".into()), ..Default::default() }).is_err());
}

#[test]
fn listings_are_newest_first_filtered_and_paged() {
    let (s, first) = setup();
    let second = create_task(&s, r#"{"name": "diamond", "namespace": "test"}"#, 2_000_000).unwrap().task_uuid;
    cancel_task(&s, &first, 2001).unwrap();
    let (all, total) = list_tasks(&s, &TaskQuery::default()).unwrap();
    assert_eq!(
        (all[0].task_uuid.as_str(), all[1].task_uuid.as_str(), total),
        (second.as_str(), first.as_str(), 2)
    );
    let (cancelled, n) =
        list_tasks(&s, &TaskQuery { status: Some("cancelled".into()), ..Default::default() }).unwrap();
    assert_eq!((cancelled.len(), n), (1, 1));
    let (page, n) =
        list_tasks(&s, &TaskQuery { limit: Some(1), offset: Some(1), ..Default::default() }).unwrap();
    assert_eq!((page[0].task_uuid.as_str(), n), (first.as_str(), 2));
    let view = views::task_page(&page, n, 1, 1, 3000);
    assert_eq!(view["pagination"]["has_previous"], true);
    assert_eq!(view["pagination"]["has_next"], false);
}

use crate::workflows::views;

#[test]
fn results_of_several_tasks_are_recorded_in_one_call_and_a_stale_one_still_rejected() {
    let s = MemoryStorage::default();
    register_template(&s, DIAMOND).unwrap();
    let request = r#"{"name": "diamond", "namespace": "test", "context": {"even_number": 2}}"#;
    let tasks: Vec<String> =
        (0..3).map(|i| create_task(&s, request, 1_000_000 + i).unwrap().task_uuid).collect();
    let claimed = claim_all(&s, "w", 1000);
    assert_eq!(claimed.len(), 3);
    let ok = ok(json!({"value": 4}));
    let mut finished: Vec<Finished<'_>> = claimed
        .iter()
        .map(|c| Finished { at: at(&c.task_uuid, &c.step_uuid, "w", c.attempt), result_json: &ok })
        .collect();
    finished
        .push(Finished { at: at(&claimed[0].task_uuid, &claimed[0].step_uuid, "w", 9), result_json: &ok });
    let done = complete_many(&s, &finished, 1001, || 0.0).unwrap();
    assert!(done[..3].iter().all(|d| *d == Completion::Recorded(StepState::Complete)), "{done:?}");
    assert!(matches!(done[3], Completion::Rejected(_)));
    for task in &tasks {
        assert_eq!(get_task(&s, task).unwrap().steps[0].state, StepState::Complete);
    }
    assert_eq!(claim_all(&s, "w", 1002).len(), 6, "every task's two branches are due");
    let bad = [Finished { at: finished[0].at, result_json: "nope" }];
    assert_eq!(complete_many(&s, &bad, 1003, || 0.0).unwrap_err().field.as_deref(), Some("result"));
}

/// Storage hooks that count commits and can make the first ones fail as if another
/// worker had changed a task first.
#[derive(Default)]
struct CountCommits {
    commits: std::cell::Cell<u32>,
    lose_first: std::cell::Cell<u32>,
}

impl crate::hooked::Hooks for CountCommits {
    fn before_commit(&self, _: &MemoryStorage) -> Option<bool> {
        self.commits.set(self.commits.get() + 1);
        let lose = self.lose_first.get() > 0;
        if lose {
            self.lose_first.set(self.lose_first.get() - 1);
        }
        lose.then_some(false)
    }
}

type Counting = crate::hooked::Hooked<CountCommits>;

fn counting_diamond() -> (Counting, String) {
    diamond_in()
}

const ANY: ClaimRequest<'static> = ClaimRequest { worker: "w1", handlers: &[], max: 10, lease_ms: 5000 };

#[test]
fn exchange_records_results_and_claims_what_they_made_due_in_one_commit() {
    let (s, task) = counting_diamond();
    let first = exchange(&s, &[], ANY, 1000, 0.5, || 0.0).unwrap();
    assert_eq!(first.claimed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["start"]);
    let start = &first.claimed[0];
    let result = ok(json!({"value": 36}));
    let before = s.commits.get();
    let turn = exchange(
        &s,
        &[Finished { at: at(&start.task_uuid, &start.step_uuid, "w1", start.attempt), result_json: &result }],
        ANY,
        1001,
        0.5,
        || 0.0,
    )
    .unwrap();
    assert_eq!(s.commits.get() - before, 1, "the result and the claim share one commit");
    assert_eq!(turn.completions, [Completion::Recorded(StepState::Complete)]);
    let mut names: Vec<&str> = turn.claimed.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["left", "right"]);
    assert_eq!(turn.claimed[0].context["dependency_results"]["start"]["result"]["value"], 36);
    let stored = get_task(&s.inner, &task).unwrap();
    assert_eq!(stored.steps.iter().filter(|x| x.lease.is_some()).count(), 2, "both leases are stored");
    assert!(exchange(&s, &[], ANY, 1002, 0.5, || 0.0).unwrap().claimed.is_empty(), "claimed once only");
}

#[test]
fn exchange_runs_each_part_alone_when_another_worker_changed_a_task_first() {
    let (s, task) = counting_diamond();
    let start = exchange(&s, &[], ANY, 1000, 0.5, || 0.0).unwrap().claimed.remove(0);
    let result = ok(json!({"value": 36}));
    s.lose_first.set(1);
    let turn = exchange(
        &s,
        &[Finished { at: at(&start.task_uuid, &start.step_uuid, "w1", start.attempt), result_json: &result }],
        ANY,
        1001,
        0.5,
        || 0.0,
    )
    .unwrap();
    assert_eq!(turn.completions, [Completion::Recorded(StepState::Complete)]);
    assert_eq!(turn.claimed.len(), 2);
    let stored = get_task(&s.inner, &task).unwrap();
    assert_eq!(stored.steps[0].results.as_ref().unwrap()["result"]["value"], 36);
}

#[test]
fn exchange_with_a_result_that_is_not_json_records_and_claims_nothing() {
    let (s, task) = counting_diamond();
    let start = exchange(&s, &[], ANY, 1000, 0.5, || 0.0).unwrap().claimed.remove(0);
    let before = get_task(&s.inner, &task).unwrap();
    let err = exchange(
        &s,
        &[Finished { at: at(&start.task_uuid, &start.step_uuid, "w1", start.attempt), result_json: "{" }],
        ANY,
        1001,
        0.5,
        || 0.0,
    )
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("result"));
    assert_eq!(get_task(&s.inner, &task).unwrap().steps, before.steps);
}

#[test]
fn a_claim_that_loses_its_commit_takes_the_tasks_still_as_read_in_one_more() {
    let s = Counting::default();
    register_template(&s, DIAMOND).unwrap();
    let request = r#"{"name": "diamond", "namespace": "test", "context": {"even_number": 6}}"#;
    for n in 0..5 {
        create_task(&s, request, 1_000_000 + n).unwrap();
    }
    let ours = claim(&s.inner, "w2", &[], 1, 5000, 1000, 0.0).unwrap(); // another worker takes one
    assert_eq!(ours.len(), 1);
    let before = s.commits.get();
    s.lose_first.set(1);
    let claimed = claim(&s, "w1", &[], 10, 5000, 1000, 0.5).unwrap();
    assert_eq!(claimed.len(), 4, "the four tasks the other worker left");
    assert_eq!(s.commits.get() - before, 2, "the lost commit and one more, not one per task");
}
