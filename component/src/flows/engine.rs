//! How an execution runs, as pure state changes: no storage, no clock, no network.
//! Each change takes the time and returns the agent calls it made due.
//!
//! Upstream's semantics: a node's input is the execution's input updated with each
//! direct dependency's output, in `depends_on` order; the result is the exit points'
//! outputs; the first node to fail fails the execution. Upstream's bugs fixed: every
//! node whose dependencies are done is due at once (independent branches run
//! together); a node without an agent passes its input on; a cancelled or failed
//! execution takes no later answer; `timeout` is enforced; an agent answering
//! `{"status": "error"}` fails its node.

use super::model::{FlowDefinition, Object, Status};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How long one agent call may take (upstream's httpx timeout).
pub const AGENT_TIMEOUT_MS: i64 = 30_000;
/// How many times a node's call is sent again after the agent refused it (429 or 503).
pub const AGENT_RETRIES: u32 = 3;
/// The wait before such a retry when the agent gives no `Retry-After`, and the longest.
const RETRY_DEFAULT_MS: i64 = 1_000;
const RETRY_MAX_MS: i64 = 60_000;

/// One node's run (upstream's `NodeExecutionResult`, with times in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRun {
    pub id: String,
    pub node_id: String,
    pub agent_id: Option<String>,
    pub status: Status,
    pub input_data: Object,
    pub output_data: Object,
    pub error_message: Option<String>,
    pub started_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    /// Calls sent again after the agent refused them.
    #[serde(default)]
    pub retries: u32,
}

/// What an execution was asked to do (upstream's `ExecutionRequest`, less the flow id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub input_data: Object,
    pub user_id: Option<String>,
    pub priority: u8,
    /// Seconds the whole execution may take.
    pub timeout: Option<f64>,
    pub metadata: Object,
}

/// An execution and everything needed to go on with it: the flow as it was when the
/// execution started (a later edit of the flow does not change a run under way) and
/// the endpoints of its agents then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub execution_id: String,
    pub flow_id: String,
    pub status: Status,
    pub ask: Ask,
    pub output_data: Option<Object>,
    pub error_message: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    pub deadline_ms: Option<i64>,
    pub flow: FlowDefinition,
    /// Agent id -> its endpoint, `None` when it was missing or inactive at the start.
    pub endpoints: BTreeMap<String, Option<String>>,
    /// The nodes started so far, in the order they started.
    pub nodes: Vec<NodeRun>,
}

/// An agent call that is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub node_id: String,
    /// `{endpoint}/execute`.
    pub url: String,
    /// `{execution_id, node_id, input, config}`.
    pub body: String,
    pub timeout_ms: u32,
    /// Wait this long before sending (a retry after the agent's `Retry-After`).
    pub delay_ms: u32,
}

/// What came back from an agent call.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentAnswer {
    Response {
        status: u16,
        body: Vec<u8>,
        /// Seconds, from a `Retry-After` header given in seconds.
        retry_after: Option<u32>,
    },
    /// No response: `timed_out` when the time ran out, else why not.
    NoResponse { timed_out: bool, message: String },
}

impl Execution {
    pub fn new(
        execution_id: String,
        flow: FlowDefinition,
        ask: Ask,
        endpoints: BTreeMap<String, Option<String>>,
        now: i64,
    ) -> Self {
        let deadline_ms = ask.timeout.map(|s| now + (s * 1000.0).ceil() as i64);
        Execution {
            execution_id,
            flow_id: flow.flow_id.clone(),
            status: Status::Pending,
            ask,
            output_data: None,
            error_message: None,
            created_ms: now,
            updated_ms: now,
            finished_ms: None,
            deadline_ms,
            flow,
            endpoints,
            nodes: Vec::new(),
        }
    }

    /// Moves to `running` and returns the first calls.
    pub fn start(&mut self, now: i64) -> Vec<Due> {
        if self.status != Status::Pending {
            return Vec::new();
        }
        self.status = Status::Running;
        self.advance(now)
    }

    fn run_of(&self, node_id: &str) -> Option<&NodeRun> {
        self.nodes.iter().find(|r| r.node_id == node_id)
    }

    fn run_mut(&mut self, node_id: &str) -> Option<&mut NodeRun> {
        self.nodes.iter_mut().find(|r| r.node_id == node_id)
    }

    /// The input of a node: the execution's input, updated with each dependency's output.
    fn input_of(&self, deps: &[String]) -> Object {
        let mut input = self.ask.input_data.clone();
        for dep in deps {
            if let Some(run) = self.run_of(dep) {
                input.extend(run.output_data.clone());
            }
        }
        input
    }

    /// Starts every node whose dependencies are done, settles those without an agent,
    /// and ends the execution when every node is done. Returns the calls now due.
    fn advance(&mut self, now: i64) -> Vec<Due> {
        let mut due = Vec::new();
        loop {
            if self.status != Status::Running {
                return due;
            }
            if self.deadline_ms.is_some_and(|d| now >= d) {
                self.time_out(now);
                return Vec::new();
            }
            let ready: Vec<(String, Option<String>, Vec<String>)> = self
                .flow
                .nodes
                .iter()
                .filter(|n| self.run_of(&n.id).is_none())
                .filter(|n| {
                    n.depends_on.iter().all(|d| self.run_of(d).is_some_and(|r| r.status == Status::Completed))
                })
                .map(|n| (n.id.clone(), n.agent_id.clone(), n.depends_on.clone()))
                .collect();
            if ready.is_empty() {
                break;
            }
            let mut settled_any = false;
            for (node_id, agent_id, deps) in ready {
                let input = self.input_of(&deps);
                let mut run = NodeRun {
                    id: new_id(),
                    node_id: node_id.clone(),
                    agent_id: agent_id.clone(),
                    status: Status::Running,
                    input_data: input.clone(),
                    output_data: Object::new(),
                    error_message: None,
                    started_ms: now,
                    updated_ms: now,
                    finished_ms: None,
                    retries: 0,
                };
                match agent_id {
                    None => {
                        run.status = Status::Completed;
                        run.output_data = input;
                        run.finished_ms = Some(now);
                        self.nodes.push(run);
                        settled_any = true;
                    }
                    Some(agent) => match self.endpoints.get(&agent).cloned().flatten() {
                        None => {
                            self.nodes.push(run);
                            self.fail_node(&node_id, format!("Agent '{agent}' not found or not active"), now);
                            return Vec::new();
                        }
                        Some(endpoint) => {
                            due.push(self.call(&node_id, &endpoint, &run.input_data, 0, now));
                            self.nodes.push(run);
                        }
                    },
                }
            }
            if !settled_any {
                break;
            }
        }
        self.updated_ms = now;
        if self.nodes.len() == self.flow.nodes.len()
            && self.nodes.iter().all(|r| r.status == Status::Completed)
        {
            let outputs: Object = self
                .flow
                .result_nodes()
                .into_iter()
                .filter_map(|id| {
                    self.run_of(id).map(|r| (id.to_string(), Value::Object(r.output_data.clone())))
                })
                .collect();
            self.output_data = Some(outputs);
            self.finish(Status::Completed, None, now);
        }
        due
    }

    /// The call of `node_id`'s agent at `endpoint`, sent after `delay_ms`.
    fn call(&self, node_id: &str, endpoint: &str, input: &Object, delay_ms: i64, now: i64) -> Due {
        let config = self.flow.node(node_id).map(|n| n.config.clone()).unwrap_or_default();
        let body = json!({
            "execution_id": self.execution_id,
            "node_id": node_id,
            "input": input,
            "config": config,
        });
        let start = now + delay_ms;
        let left = self.deadline_ms.map_or(AGENT_TIMEOUT_MS, |d| (d - start).min(AGENT_TIMEOUT_MS));
        Due {
            node_id: node_id.to_string(),
            url: format!("{}/execute", endpoint.trim_end_matches('/')),
            body: body.to_string(),
            timeout_ms: left.max(1) as u32,
            delay_ms: delay_ms as u32,
        }
    }

    /// The same call again when the agent refused it (429, or 503 with `Retry-After`),
    /// retries are left and the wait ends before the deadline.
    fn retry(&mut self, node_id: &str, answer: &AgentAnswer, now: i64) -> Option<Due> {
        let AgentAnswer::Response { status, retry_after, .. } = answer else { return None };
        if !(*status == 429 || (*status == 503 && retry_after.is_some())) {
            return None;
        }
        let delay = retry_after.map_or(RETRY_DEFAULT_MS, |s| i64::from(s) * 1000).min(RETRY_MAX_MS);
        if self.deadline_ms.is_some_and(|d| now + delay >= d) {
            return None;
        }
        let run = self.run_of(node_id)?;
        let agent = run.agent_id.clone()?;
        let endpoint = self.endpoints.get(&agent).cloned().flatten()?;
        if run.retries >= AGENT_RETRIES {
            return None;
        }
        let due = self.call(node_id, &endpoint, &run.input_data.clone(), delay, now);
        let run = self.run_mut(node_id)?;
        run.retries += 1;
        run.updated_ms = now;
        self.updated_ms = now;
        Some(due)
    }

    fn finish(&mut self, status: Status, error: Option<String>, now: i64) {
        self.status = status;
        self.error_message = error;
        self.updated_ms = now;
        self.finished_ms = Some(now);
        for run in self.nodes.iter_mut().filter(|r| !r.status.is_final()) {
            run.status = Status::Cancelled;
            run.error_message = Some(format!("not finished: the execution {}", status_word(status)));
            run.updated_ms = now;
            run.finished_ms = Some(now);
        }
    }

    fn fail_node(&mut self, node_id: &str, message: String, now: i64) {
        if let Some(run) = self.run_mut(node_id) {
            run.status = Status::Failed;
            run.error_message = Some(message.clone());
            run.updated_ms = now;
            run.finished_ms = Some(now);
        }
        self.finish(Status::Failed, Some(message), now);
    }

    fn time_out(&mut self, now: i64) {
        let seconds = self.ask.timeout.unwrap_or_default();
        self.finish(Status::Failed, Some(format!("Execution timed out after {seconds} s")), now);
    }

    /// Takes the answer of the call to `node_id`; returns the calls now due. An answer
    /// for an execution that has ended, or a node not waiting for one, changes nothing
    /// (`None`).
    pub fn settle(&mut self, node_id: &str, answer: AgentAnswer, now: i64) -> Option<Vec<Due>> {
        if self.status != Status::Running || self.run_of(node_id).is_none_or(|r| r.status != Status::Running)
        {
            return None;
        }
        if self.deadline_ms.is_some_and(|d| now >= d) {
            self.time_out(now);
            return Some(Vec::new());
        }
        if let Some(again) = self.retry(node_id, &answer, now) {
            return Some(vec![again]);
        }
        let agent = self.run_of(node_id).and_then(|r| r.agent_id.clone()).unwrap_or_default();
        match read_answer(&agent, answer) {
            Ok(output) => {
                let run = self.run_mut(node_id)?;
                run.status = Status::Completed;
                run.output_data = output;
                run.updated_ms = now;
                run.finished_ms = Some(now);
                Some(self.advance(now))
            }
            Err(message) => {
                self.fail_node(node_id, message, now);
                Some(Vec::new())
            }
        }
    }

    /// Cancels a pending or running execution; false when it had already ended.
    pub fn cancel(&mut self, now: i64) -> bool {
        if self.status.is_final() {
            return false;
        }
        self.finish(Status::Cancelled, Some("Execution cancelled by user".into()), now);
        true
    }

    /// Ends an execution whose host stopped while it ran.
    pub fn abandon(&mut self, now: i64) {
        let in_flight: Vec<&str> =
            self.nodes.iter().filter(|r| !r.status.is_final()).map(|r| r.node_id.as_str()).collect();
        let message = match in_flight.is_empty() {
            true => "the server stopped before this execution finished".to_string(),
            false => format!(
                "the server stopped while node(s) {} were running; the execution was not resumed, as an \
                 agent call may not be safe to repeat",
                in_flight.join(", ")
            ),
        };
        self.finish(Status::Failed, Some(message), now);
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Cancelled => "was cancelled",
        Status::Pending | Status::Running => "is running",
    }
}

/// The output of a node from its agent's answer, or why the node failed.
fn read_answer(agent: &str, answer: AgentAnswer) -> Result<Object, String> {
    let (status, body) = match answer {
        AgentAnswer::NoResponse { timed_out: true, message } => {
            return Err(format!("Agent '{agent}' did not answer in time: {message}"))
        }
        AgentAnswer::NoResponse { message, .. } => {
            return Err(format!("Agent '{agent}' could not be reached: {message}"))
        }
        AgentAnswer::Response { status, body, .. } => (status, body),
    };
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let said = |v: &Value| {
        ["error_message", "detail", "message", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
    };
    if !(200..300).contains(&status) {
        let text = parsed.as_ref().and_then(said).unwrap_or_else(|| snippet(&body));
        return Err(format!("Agent '{agent}' answered HTTP {status}: {text}"));
    }
    let Some(Value::Object(reply)) = parsed else {
        return Err(format!(
            "Agent '{agent}' answered with a body that is not a JSON object: {}",
            snippet(&body)
        ));
    };
    if reply.get("status").and_then(Value::as_str) == Some("error") {
        let text = said(&Value::Object(reply.clone())).unwrap_or_else(|| "no reason given".into());
        return Err(format!("Agent '{agent}' reported an error: {text}"));
    }
    Ok(match reply.get("output") {
        Some(Value::Object(o)) => o.clone(),
        None | Some(Value::Null) => Object::new(),
        Some(other) => Object::from_iter([("output".to_string(), other.clone())]),
    })
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}

/// A random UUID (v4), from the host's randomness (WASI `random` in the component).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
