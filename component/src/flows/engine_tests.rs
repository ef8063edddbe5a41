//! Unit tests of `engine.rs`.

use super::*;
use serde_json::json;

fn diamond() -> FlowDefinition {
    serde_json::from_value(json!({
        "flow_id": "d", "name": "D", "entry_point": "a", "exit_points": ["d"],
        "nodes": [
            {"id": "a", "type": "input", "agent_id": "A"},
            {"id": "b", "type": "processor", "agent_id": "B", "depends_on": ["a"], "config": {"k": 1}},
            {"id": "c", "type": "processor", "agent_id": "C", "depends_on": ["a"]},
            {"id": "d", "type": "output", "depends_on": ["b", "c"]},
        ]
    }))
    .unwrap()
}

fn endpoints() -> BTreeMap<String, Option<String>> {
    ["A", "B", "C"].iter().map(|a| (a.to_string(), Some(format!("http://h/{a}")))).collect()
}

fn ok(output: Value) -> AgentAnswer {
    AgentAnswer::Response {
        status: 200,
        body: json!({"status": "success", "output": output}).to_string().into_bytes(),
        retry_after: None,
    }
}

fn refused(status: u16, retry_after: Option<u32>) -> AgentAnswer {
    AgentAnswer::Response { status, body: br#"{"detail":"slow down"}"#.to_vec(), retry_after }
}

fn run(ask: Ask) -> Execution {
    Execution::new("e1".into(), diamond(), ask, endpoints(), 1000)
}

fn input(v: Value) -> Ask {
    Ask { input_data: v.as_object().unwrap().clone(), ..Ask::default() }
}

#[test]
fn a_diamond_runs_its_branches_together_and_merges_in_order() {
    let mut e = run(input(json!({"x": 1})));
    let first = e.start(1000);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].url, "http://h/A/execute");
    let body: Value = serde_json::from_str(&first[0].body).unwrap();
    assert_eq!(body, json!({"execution_id": "e1", "node_id": "a", "input": {"x": 1}, "config": {}}));
    let branches = e.settle("a", ok(json!({"y": 2})), 1010).unwrap();
    let names: Vec<&str> = branches.iter().map(|d| d.node_id.as_str()).collect();
    assert_eq!(names, ["b", "c"], "both branches are due at once");
    let b_body: Value = serde_json::from_str(&branches[0].body).unwrap();
    assert_eq!(b_body["input"], json!({"x": 1, "y": 2}));
    assert_eq!(b_body["config"], json!({"k": 1}));
    assert!(e.settle("c", ok(json!({"z": "c", "w": 1})), 1020).unwrap().is_empty());
    assert_eq!(e.status, Status::Running);
    assert!(e.settle("b", ok(json!({"z": "b"})), 1030).unwrap().is_empty());
    assert_eq!(e.status, Status::Completed);
    // d has no agent: it passes on its input: the execution's, then b's output, then
    // c's (c wins `z`); a's output (a grandparent) is not merged, as upstream.
    assert_eq!(e.output_data, Some(json!({"d": {"x": 1, "z": "c", "w": 1}}).as_object().unwrap().clone()));
    assert_eq!(e.finished_ms, Some(1030));
    assert!(e.nodes.iter().all(|n| n.status == Status::Completed));
}

#[test]
fn the_first_failure_fails_the_run_and_later_answers_change_nothing() {
    let mut e = run(Ask::default());
    e.start(0);
    e.settle("a", ok(json!({})), 1);
    let fail =
        AgentAnswer::Response { status: 500, body: br#"{"detail":"boom"}"#.to_vec(), retry_after: None };
    assert_eq!(e.settle("b", fail, 2), Some(vec![]));
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error_message.as_deref(), Some("Agent 'B' answered HTTP 500: boom"));
    assert_eq!(e.run_of("c").unwrap().status, Status::Cancelled);
    assert_eq!(e.settle("c", ok(json!({})), 3), None, "a late answer is ignored");
    assert_eq!(e.status, Status::Failed);
}

#[test]
fn an_agent_reporting_an_error_fails_its_node() {
    let mut e = run(Ask::default());
    e.start(0);
    let said = AgentAnswer::Response {
        status: 200,
        body: br#"{"status":"error","error_message":"no credit data"}"#.to_vec(),
        retry_after: None,
    };
    e.settle("a", said, 1);
    assert_eq!(e.error_message.as_deref(), Some("Agent 'A' reported an error: no credit data"));
    let mut e = run(Ask::default());
    e.start(0);
    e.settle("a", AgentAnswer::Response { status: 200, body: b"<html>".to_vec(), retry_after: None }, 1);
    assert!(e.error_message.unwrap().contains("not a JSON object"));
}

#[test]
fn a_refused_call_is_sent_again_after_retry_after_then_fails() {
    let mut e = run(Ask::default());
    e.start(0);
    let again = e.settle("a", refused(429, Some(2)), 10).unwrap();
    assert_eq!((again.len(), again[0].node_id.as_str(), again[0].delay_ms), (1, "a", 2000));
    assert_eq!(e.status, Status::Running);
    // Without Retry-After: a second; 503 counts only with Retry-After.
    assert_eq!(e.settle("a", refused(429, None), 20).unwrap()[0].delay_ms, 1000);
    assert_eq!(e.settle("a", refused(503, Some(1)), 30).unwrap()[0].delay_ms, 1000);
    // Retries used up: the refusal fails the node with the agent's words.
    assert!(e.settle("a", refused(429, Some(1)), 40).unwrap().is_empty());
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error_message.as_deref(), Some("Agent 'A' answered HTTP 429: slow down"));
    // A 503 without Retry-After fails at once; so does a wait past the deadline.
    let mut e = run(Ask::default());
    e.start(0);
    assert!(e.settle("a", refused(503, None), 1).unwrap().is_empty());
    let mut e = run(Ask { timeout: Some(5.0), ..Ask::default() });
    e.start(0);
    assert!(e.settle("a", refused(429, Some(10)), 1).unwrap().is_empty());
    assert_eq!(e.status, Status::Failed);
    // After a retry the answer is taken as any other.
    let mut e = run(Ask::default());
    e.start(0);
    let again = e.settle("a", refused(429, Some(1)), 1).unwrap();
    assert_eq!(again[0].timeout_ms, AGENT_TIMEOUT_MS as u32);
    assert_eq!(e.settle("a", ok(json!({"x": 1})), 1500).unwrap().len(), 2);
}

#[test]
fn cancel_stops_the_run_for_good() {
    let mut e = run(Ask::default());
    e.start(0);
    assert!(e.cancel(5));
    assert_eq!(e.status, Status::Cancelled);
    assert_eq!(e.error_message.as_deref(), Some("Execution cancelled by user"));
    assert_eq!(e.settle("a", ok(json!({})), 6), None);
    assert_eq!(e.status, Status::Cancelled);
    assert!(!e.cancel(7), "an ended execution is not cancelled again");
}

#[test]
fn the_timeout_bounds_every_call_and_ends_the_run() {
    let mut e = run(Ask { timeout: Some(2.0), ..Ask::default() });
    let first = e.start(1000);
    assert_eq!(first[0].timeout_ms, 2000);
    let next = e.settle("a", ok(json!({})), 2500).unwrap();
    assert!(next.iter().all(|d| d.timeout_ms == 500));
    let late = AgentAnswer::NoResponse { timed_out: true, message: "no response".into() };
    assert_eq!(e.settle("b", late, 3000), Some(vec![]));
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.error_message.as_deref(), Some("Execution timed out after 2 s"));
    let mut long = run(Ask::default());
    assert_eq!(long.start(0)[0].timeout_ms, AGENT_TIMEOUT_MS as u32);
}

#[test]
fn a_missing_agent_fails_its_node_and_agentless_flows_finish_at_once() {
    let mut gone = endpoints();
    gone.insert("B".into(), None);
    let mut e = Execution::new("e".into(), diamond(), Ask::default(), gone, 0);
    e.start(0);
    e.settle("a", ok(json!({})), 1);
    assert_eq!(e.error_message.as_deref(), Some("Agent 'B' not found or not active"));
    let pass: FlowDefinition = serde_json::from_value(json!({
        "flow_id": "p", "name": "P", "entry_point": "i", "exit_points": ["o"],
        "nodes": [{"id": "i", "type": "input"}, {"id": "o", "type": "output", "depends_on": ["i"]}]
    }))
    .unwrap();
    let mut e = Execution::new("e".into(), pass, input(json!({"q": true})), BTreeMap::new(), 0);
    assert!(e.start(0).is_empty());
    assert_eq!(e.status, Status::Completed);
    assert_eq!(e.output_data.unwrap()["o"], json!({"q": true}));
}

#[test]
fn a_repeated_answer_is_ignored_and_abandon_names_the_nodes() {
    let mut e = run(Ask::default());
    e.start(0);
    e.settle("a", ok(json!({"n": 1})), 1);
    assert_eq!(e.settle("a", ok(json!({"n": 2})), 2), None);
    assert_eq!(e.run_of("a").unwrap().output_data["n"], json!(1));
    e.abandon(3);
    assert_eq!(e.status, Status::Failed);
    assert!(e.error_message.as_deref().unwrap().contains("node(s) b, c were running"));
}
