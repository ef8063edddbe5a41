//! The AI Spine benchmark's load, measured the same way against every server:
//!
//! * `burst N CLIENTS`: `CLIENTS` threads start `N` executions of the flow between them
//!   (`POST /flows/execute`) as fast as the server takes them; then each execution is
//!   read back (`GET /executions/{id}`, again every 10 ms until it has ended). Nothing
//!   polls while the executions run, so a server's capacity is not spent on polls.
//!   Throughput: `N / (last completed_at - first created_at)`.
//! * `serial N`: one client, one execution at a time, polled every 5 ms until it ends:
//!   the latency of an execution on an idle server.
//!
//! Latency is what the server recorded (`completed_at - created_at`). Prints one JSON line.
//!
//!     cargo run --release -p agentcell-host --example flows_load -- URL KEY FLOW burst 2000 16

use serde_json::Value;
use std::time::Duration;

fn millis(iso: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(iso.trim_end_matches('Z').split('+').next()?).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64() * 1000.0)
}

struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Client {
    fn new(base: &str, key: &str) -> Self {
        Client { agent: ureq::Agent::new_with_defaults(), base: base.into(), auth: format!("Bearer {key}") }
    }

    fn start(&self, body: &str) -> String {
        let text = self
            .agent
            .post(format!("{}/flows/execute", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .send(body)
            .expect("execute")
            .body_mut()
            .read_to_string()
            .expect("execute body");
        let started: Value = serde_json::from_str(&text).expect("execute JSON");
        started["execution_id"].as_str().expect("an execution id").to_string()
    }

    /// Polls every `pause` until the execution has ended; its (created, completed) in ms,
    /// or `None` when it did not complete.
    fn finish(&self, id: &str, pause: Duration) -> Option<(f64, f64)> {
        loop {
            let text = self
                .agent
                .get(format!("{}/executions/{id}", self.base))
                .header("authorization", &self.auth)
                .call()
                .expect("poll")
                .body_mut()
                .read_to_string()
                .expect("poll body");
            let e: Value = serde_json::from_str(&text).expect("poll JSON");
            match e["status"].as_str() {
                Some("completed") => {
                    return Some((millis(e["created_at"].as_str()?)?, millis(e["completed_at"].as_str()?)?))
                }
                Some("failed" | "cancelled") => return None,
                _ => std::thread::sleep(pause),
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (base, key, flow, mode) = (&args[1], &args[2], &args[3], args[4].as_str());
    let n: usize = args[5].parse().unwrap();
    let body = format!(r#"{{"flow_id":"{flow}","input_data":{{"n":0}}}}"#);
    let times: Vec<Option<(f64, f64)>> = match mode {
        "burst" => {
            let clients: usize = args[6].parse().unwrap();
            let ids: Vec<String> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..clients)
                    .map(|i| {
                        let body = &body;
                        scope.spawn(move || {
                            let c = Client::new(base, key);
                            (i..n).step_by(clients).map(|_| c.start(body)).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
            });
            let c = Client::new(base, key);
            ids.iter().map(|id| c.finish(id, Duration::from_millis(10))).collect()
        }
        "serial" => {
            let c = Client::new(base, key);
            (0..n).map(|_| c.finish(&c.start(&body), Duration::from_millis(5))).collect()
        }
        other => panic!("mode {other:?}: burst or serial"),
    };
    let done: Vec<(f64, f64)> = times.iter().flatten().copied().collect();
    let failed = times.len() - done.len();
    let mut latencies: Vec<f64> = done.iter().map(|(c, d)| d - c).collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    };
    let first = done.iter().map(|t| t.0).fold(f64::INFINITY, f64::min);
    let last = done.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
    println!(
        "{{\"completed\": {}, \"failed\": {failed}, \"per_second\": {:.1}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}}}",
        done.len(),
        done.len() as f64 / ((last - first).max(1.0) / 1000.0),
        pct(0.5),
        pct(0.99)
    );
}
