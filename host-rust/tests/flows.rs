//! The AI Spine engine from the Rust host, in process: real agent servers on loopback
//! (plain sockets, one thread per connection), calls made by `Runtime::flows_run`, and
//! executions kept in a SQLite file across runtimes.

use agentcell_host::{HttpPolicy, Runtime};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// An agent answering `POST /<name>/execute` with `{name: true, n: input.n + 1}` after
/// `delay`; `/fail/...` answers 500.
fn agent_server(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let call: Value = serde_json::from_slice(&body).unwrap();
                let name = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
                std::thread::sleep(delay);
                let (status, reply) = if name == "fail" {
                    ("500 Internal Server Error", json!({"detail": "boom"}))
                } else {
                    let n = call["input"]["n"].as_i64().unwrap_or(0);
                    ("200 OK", json!({"status": "success", "output": {name.as_str(): true, "n": n + 1}}))
                };
                let text = reply.to_string();
                let mut out = stream;
                write!(
                    out,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                )
                .unwrap();
            });
        }
    });
    base
}

fn request(
    rt: &Runtime,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value, Vec<agentcell_host::flows::AgentCall>) {
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let answer = rt.flows_handle(method, path, &text).unwrap();
    let value = serde_json::from_str(&answer.response.body).unwrap_or(Value::Null);
    (answer.response.status, value, answer.calls)
}

fn register(rt: &Runtime, base: &str, agents: &[&str]) {
    for a in agents {
        let agent = json!({"agent_id": a, "name": a, "description": "", "endpoint": format!("{base}/{a}"),
                           "capabilities": [], "agent_type": "processor"});
        assert_eq!(request(rt, "POST", "/agents", agent).0, 200);
    }
}

fn diamond() -> Value {
    json!({"flow_id": "d", "name": "D", "entry_point": "a", "exit_points": ["d"], "nodes": [
        {"id": "a", "type": "input", "agent_id": "zoe"},
        {"id": "b", "type": "processor", "agent_id": "left", "depends_on": ["a"]},
        {"id": "c", "type": "processor", "agent_id": "right", "depends_on": ["a"]},
        {"id": "d", "type": "output", "depends_on": ["b", "c"]},
    ]})
}

fn policy() -> HttpPolicy {
    HttpPolicy::new(["127.0.0.1"], Duration::from_secs(10))
}

#[test]
fn a_diamond_runs_in_process_with_its_branches_at_once() {
    let base = agent_server(Duration::from_millis(400));
    let rt = Runtime::builder().memory_storage().http(policy()).build().unwrap();
    register(&rt, &base, &["zoe", "left", "right"]);
    assert_eq!(request(&rt, "POST", "/flows", diamond()).0, 200);
    let (status, started, calls) =
        request(&rt, "POST", "/flows/execute", json!({"flow_id": "d", "input_data": {"n": 0}}));
    assert_eq!((status, started["status"].as_str(), calls.len()), (200, Some("running"), 1));
    let began = Instant::now();
    assert_eq!(rt.flows_run(calls).unwrap(), 3);
    // a, then b and c together: two rounds of 400 ms (800), not three (1200).
    assert!(began.elapsed() < Duration::from_millis(1150), "{:?}", began.elapsed());
    let id = started["execution_id"].as_str().unwrap();
    let (_, done, _) = request(&rt, "GET", &format!("/executions/{id}"), Value::Null);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output_data"]["d"], json!({"n": 2, "left": true, "right": true}));
}

#[test]
fn a_failing_agent_fails_the_run_and_the_store_survives_a_new_runtime() {
    let base = agent_server(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flows.db");
    let id = {
        let rt = Runtime::builder().sqlite_storage(&file).unwrap().http(policy()).build().unwrap();
        register(&rt, &base, &["zoe", "fail", "right"]);
        let mut flow = diamond();
        flow["nodes"][1]["agent_id"] = json!("fail");
        request(&rt, "POST", "/flows", flow);
        let (_, started, calls) =
            request(&rt, "POST", "/flows/execute", json!({"flow_id": "d", "input_data": {}}));
        rt.flows_run(calls).unwrap();
        started["execution_id"].as_str().unwrap().to_string()
    };
    let rt = Runtime::builder().sqlite_storage(&file).unwrap().build().unwrap();
    let (_, failed, _) = request(&rt, "GET", &format!("/executions/{id}"), Value::Null);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_message"], "Agent 'fail' answered HTTP 500: boom");
    let (_, metrics, _) = request(&rt, "GET", "/metrics", Value::Null);
    assert_eq!(
        (metrics["total_executions"].as_u64(), metrics["failed_executions"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(request(&rt, "GET", "/flows/d", Value::Null).0, 200);
    assert_eq!(rt.flows_recover(0).unwrap(), 0, "nothing was left running");
}

#[test]
fn agents_outside_the_allow_list_are_never_called() {
    let base = agent_server(Duration::ZERO);
    let rt = Runtime::builder().memory_storage().build().unwrap(); // deny by default
    register(&rt, &base, &["zoe", "left", "right"]);
    request(&rt, "POST", "/flows", diamond());
    let (_, started, calls) =
        request(&rt, "POST", "/flows/execute", json!({"flow_id": "d", "input_data": {}}));
    rt.flows_run(calls).unwrap();
    let id = started["execution_id"].as_str().unwrap();
    let (_, failed, _) = request(&rt, "GET", &format!("/executions/{id}"), Value::Null);
    assert_eq!(failed["status"], "failed");
    assert!(failed["error_message"].as_str().unwrap().contains("allow-list"), "{failed}");
}
