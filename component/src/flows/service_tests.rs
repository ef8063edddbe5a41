//! Unit tests of `service.rs`.

use super::*;
use crate::ports::MemoryStorage;

fn call(s: &MemoryStorage, method: &str, path: &str, body: &str) -> (u16, Value, Answer) {
    let a = handle(s, &Request { method, path, body }, 1_700_000_000_000);
    (a.status, serde_json::from_str(&a.body).unwrap_or(Value::Null), a)
}

fn agent(s: &MemoryStorage, id: &str) {
    let body = json!({"agent_id": id, "name": id, "description": "", "endpoint": format!("http://127.0.0.1:9/{id}"),
                      "capabilities": ["x"], "agent_type": "processor"});
    assert_eq!(call(s, "POST", "/agents", &body.to_string()).0, 200);
}

fn credit_flow() -> Value {
    json!({"flow_id": "credit", "name": "Credit", "entry_point": "zoe", "exit_points": ["result"], "nodes": [
        {"id": "zoe", "type": "input", "agent_id": "zoe"},
        {"id": "eddie", "type": "processor", "agent_id": "eddie", "depends_on": ["zoe"]},
        {"id": "result", "type": "output", "depends_on": ["eddie"]},
    ]})
}

fn reply(output: Value) -> AgentAnswer {
    AgentAnswer::Response {
        status: 200,
        body: json!({"status": "success", "output": output}).to_string().into_bytes(),
        retry_after: None,
    }
}

#[test]
fn a_flow_runs_from_execute_to_completed() {
    let s = MemoryStorage::default();
    agent(&s, "zoe");
    agent(&s, "eddie");
    let (status, flow, _) = call(&s, "POST", "/api/v1/flows", &credit_flow().to_string());
    assert_eq!((status, flow["version"].as_str()), (201, Some("1.0.0")));
    let (status, started, answer) =
        call(&s, "POST", "/flows/execute", r#"{"flow_id": "credit", "input_data": {"amount": 5}}"#);
    assert_eq!((status, started["status"].as_str()), (200, Some("running")));
    let id = started["execution_id"].as_str().unwrap().to_string();
    assert_eq!(answer.calls.len(), 1);
    assert_eq!(answer.calls[0].url, "http://127.0.0.1:9/zoe/execute");
    let next = deliver(&s, &id, "zoe", reply(json!({"score": 7})), 1_700_000_000_100).unwrap();
    assert_eq!(next[0].node_id, "eddie");
    assert!(deliver(&s, &id, "eddie", reply(json!({"ok": true})), 1_700_000_000_200).unwrap().is_empty());
    let (_, e, _) = call(&s, "GET", &format!("/executions/{id}"), "");
    assert_eq!(e["status"], "completed");
    assert_eq!(e["output_data"], json!({"result": {"amount": 5, "ok": true}}));
    assert!(e["completed_at"].as_str().unwrap().starts_with("2023-11-14T22:13:20"));
    let (_, r, _) = call(&s, "GET", &format!("/executions/{id}/results"), "");
    assert_eq!(r["count"], 3);
    assert_eq!(r["node_results"][0]["execution_time_ms"], 100);
    let (_, m, _) = call(&s, "GET", "/metrics", "");
    assert_eq!((m["total_executions"].as_u64(), m["successful_executions"].as_u64()), (Some(1), Some(1)));
    assert_eq!(m["average_execution_time"], 0.2);
    let (_, list, _) = call(&s, "GET", "/api/v1/executions?flow_id=credit&limit=5", "");
    assert_eq!((list["count"].as_u64(), list["limit"].as_u64()), (Some(1), Some(5)));
    let (_, st, _) = call(&s, "GET", "/status", "");
    assert_eq!((st["agents"]["total"].as_u64(), st["flows"]["total"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn upstreams_errors_and_shapes() {
    let s = MemoryStorage::default();
    let (status, body, _) = call(&s, "POST", "/flows", &credit_flow().to_string());
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Invalid flow: node 'zoe': agent 'zoe' is not registered");
    let (status, body, _) = call(&s, "POST", "/flows/execute", r#"{"flow_id": "nope"}"#);
    assert_eq!(
        (status, body["status"].as_str(), body["error"].as_str()),
        (200, Some("failed"), Some("Flow 'nope' not found"))
    );
    let (status, body, _) = call(&s, "POST", "/flows/execute", r#"{"input_data": {}}"#);
    assert_eq!(status, 422);
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("flow_id"));
    assert_eq!(call(&s, "POST", "/flows/execute", "not json").0, 422);
    assert_eq!(call(&s, "GET", "/executions/not-a-uuid", "").0, 422);
    let missing = "/executions/00000000-0000-0000-0000-000000000001";
    assert_eq!(
        call(&s, "GET", missing, "").1["detail"],
        "Execution '00000000-0000-0000-0000-000000000001' not found"
    );
    assert_eq!(call(&s, "POST", &format!("{missing}/cancel"), "").0, 404);
    assert_eq!(call(&s, "GET", "/flows/zz", "").1["detail"], "Flow 'zz' not found");
    assert_eq!(call(&s, "DELETE", "/agents/zz", "").0, 404);
    assert_eq!(call(&s, "PATCH", "/flows", "").0, 405);
    let bad = json!({"agent_id": "a", "name": "A", "endpoint": "ftp://x", "agent_type": "processor"});
    assert_eq!(call(&s, "POST", "/agents", &bad.to_string()).0, 400);
    let wrong_type = json!({"agent_id": "a", "name": "A", "endpoint": "http://x", "agent_type": "robot"});
    assert_eq!(call(&s, "POST", "/agents", &wrong_type.to_string()).0, 422);
}

#[test]
fn cancel_wins_over_later_answers_and_recover_ends_orphans() {
    let s = MemoryStorage::default();
    agent(&s, "zoe");
    agent(&s, "eddie");
    call(&s, "POST", "/flows", &credit_flow().to_string());
    let (_, started, _) = call(&s, "POST", "/flows/execute", r#"{"flow_id": "credit"}"#);
    let id = started["execution_id"].as_str().unwrap().to_string();
    let (status, body, _) = call(&s, "POST", &format!("/executions/{id}/cancel"), "");
    assert_eq!((status, body["message"].as_str()), (200, Some("Execution cancelled successfully")));
    assert!(deliver(&s, &id, "zoe", reply(json!({})), 1_700_000_000_100).unwrap().is_empty());
    assert_eq!(call(&s, "GET", &format!("/executions/{id}"), "").1["status"], "cancelled");
    assert_eq!(call(&s, "POST", &format!("/executions/{id}/cancel"), "").0, 404);
    let (_, again, _) = call(&s, "POST", "/flows/execute", r#"{"flow_id": "credit"}"#);
    let orphan = again["execution_id"].as_str().unwrap().to_string();
    assert_eq!(recover(&s, 60_000, 1_700_000_000_500).unwrap(), 0, "not idle long enough");
    assert_eq!(recover(&s, 0, 1_700_000_000_500).unwrap(), 1);
    let e = call(&s, "GET", &format!("/executions/{orphan}"), "").1;
    assert_eq!(e["status"], "failed");
    assert!(e["error_message"].as_str().unwrap().contains("zoe"));
    let m = call(&s, "GET", "/metrics", "").1;
    assert_eq!((m["cancelled_executions"].as_u64(), m["failed_executions"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn refusals_use_upstreams_words() {
    use crate::attune::service::Refusal;
    assert_eq!(refuse(&Refusal::MissingKey), (401, r#"{"detail":"Missing API key"}"#.to_string()));
    let (status, body) = refuse(&Refusal::RateLimited(60));
    assert_eq!(status, 429);
    assert!(body.contains("60 requests per minute"));
}

#[test]
fn updates_bump_the_patch_version() {
    let s = MemoryStorage::default();
    let flow =
        json!({"flow_id": "p", "name": "P", "entry_point": "a", "nodes": [{"id": "a", "type": "input"}]});
    call(&s, "POST", "/flows", &flow.to_string());
    let (status, updated, _) = call(&s, "PUT", "/flows/p", &flow.to_string());
    assert_eq!((status, updated["version"].as_str()), (200, Some("1.0.1")));
    assert_eq!(call(&s, "DELETE", "/flows/p", "").1["message"], "Flow 'p' deleted successfully");
}
