//! The service vectors (`tests/service-vectors/*.json`) in process: each request goes
//! straight to the component's handler, as `agentcell serve` routes it (the AI Spine
//! paths `flows.routes` names to `flows.handle`, the rest to `attune-service.handle`);
//! a path's `{execution_id}` is the last one answered.
//! Steps that only a server can answer (`served_only`: API keys) are run by the Python
//! runner against a real `agentcell serve`.

use agentcell_host::Runtime;
use serde_json::Value;

/// `expected` as a subset of `got`: objects by their listed keys, all else equal.
fn subset(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => e.iter().all(|(k, v)| g.get(k).is_some_and(|x| subset(v, x))),
        _ => expected == got,
    }
}

#[test]
fn service_vectors_in_process() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/service-vectors");
    let mut steps = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in file["cases"].as_array().unwrap() {
            let rt = Runtime::builder().memory_storage().build().unwrap();
            let flows_routes = rt.flows_routes().unwrap();
            let mut execution_id = String::new();
            for step in case["steps"].as_array().unwrap() {
                if step["served_only"].as_bool().unwrap_or(false) {
                    continue;
                }
                let body = match (&step["raw"], &step["body"]) {
                    (Value::String(raw), _) => raw.clone(),
                    (_, Value::Null) => String::new(),
                    (_, body) => body.to_string(),
                };
                let method = step["method"].as_str().unwrap();
                // No `content_type`: JSON; `null`: no header.
                let content_type = match step.get("content_type") {
                    None => Some("application/json"),
                    Some(v) => v.as_str(),
                };
                let path_of = step["path"].as_str().unwrap().replace("{execution_id}", &execution_id);
                let bare = path_of.split('?').next().unwrap_or_default();
                let is_flows = flows_routes.iter().any(|r| {
                    bare == r || bare.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('/'))
                });
                let (status, text) = if is_flows {
                    let answer = rt.flows_handle(method, &path_of, &body).unwrap();
                    (answer.response.status, answer.response.body)
                } else {
                    rt.service_handle(method, &path_of, content_type, &body).unwrap()
                };
                if let Some(id) = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("execution_id").and_then(Value::as_str).map(str::to_string))
                {
                    execution_id = id;
                }
                let context = format!("{} / {}: {step}", path.display(), case["name"]);
                assert_eq!(
                    u64::from(status),
                    step["expect"]["status"].as_u64().unwrap(),
                    "{context}: {text}"
                );
                if let Some(expected) = step["expect"].get("body") {
                    let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    assert!(subset(expected, &got), "{context}: got {got}");
                }
                steps += 1;
            }
        }
    }
    assert!(steps >= 15, "only {steps} steps ran");
}
