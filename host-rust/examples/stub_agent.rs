//! The AI Spine benchmark's agent: answers `POST /<anything>/execute` at once with
//! `{"status": "success", "output": {...}}` (the input's `n` plus one), so that what the
//! benchmark measures is the servers that call it, not the agent.
//!
//!     cargo run --release -p agentcell-host --example stub_agent -- 127.0.0.1:0

use axum::body::{to_bytes, Body};
use axum::http::{header, Request};
use axum::response::Response;
use serde_json::{json, Value};

async fn execute(req: Request<Body>) -> Response {
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let call: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = call["input"]["n"].as_i64().unwrap_or(0);
    let reply = json!({
        "status": "success",
        "output": {"n": n + 1, "node": call["node_id"]},
        "execution_id": call["execution_id"],
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(reply.to_string()))
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("stub agent: listening on http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(execute);
    axum::serve(listener, app).await.unwrap();
}
