//! The AI Spine engine from Rust: the component's `flows` interface, and the agent calls
//! it asks for, made here (the engine itself never waits).
//!
//! ```no_run
//! # use agentcell_host::{Runtime, HttpPolicy};
//! let rt = Runtime::builder().http(HttpPolicy::new(["127.0.0.1"], std::time::Duration::from_secs(30))).build()?;
//! let answer = rt.flows_handle("POST", "/flows/execute", r#"{"flow_id": "credit", "input_data": {}}"#)?;
//! rt.flows_run(answer.calls)?; // every agent call, branches at once, until the run ends
//! # Ok::<(), agentcell_host::Error>(())
//! ```

use crate::bindings::agentcell::core::http_client::{HttpError, Response};
use crate::bindings::exports::agentcell::core::attune_service::{Refusal, ServiceRequest};
pub use crate::bindings::exports::agentcell::core::flows::{AgentCall, FlowsAnswer};
use crate::{Error, HttpPolicy, Runtime};

impl Runtime {
    /// Answers one AI Spine API request (`flows.handle`); `path` may carry a query.
    pub fn flows_handle(&self, method: &str, path: &str, body: &str) -> Result<FlowsAnswer, Error> {
        let req = ServiceRequest {
            method: method.into(),
            path: path.into(),
            content_type: None,
            body: body.into(),
        };
        self.call_named("flows.handle", |l| l.bindings.agentcell_core_flows().call_handle(&mut l.store, &req))
    }

    /// Hands an agent call's answer to its execution (`flows.deliver`); the calls now due.
    pub fn flows_deliver(
        &self,
        execution_id: &str,
        node_id: &str,
        answer: &Result<Response, HttpError>,
    ) -> Result<Vec<AgentCall>, Error> {
        self.call_named("flows.deliver", |l| {
            l.bindings.agentcell_core_flows().call_deliver(
                &mut l.store,
                execution_id,
                node_id,
                answer.as_ref(),
            )
        })
    }

    /// Ends executions left running by a stopped host (`flows.recover`).
    pub fn flows_recover(&self, idle_ms: u64) -> Result<u32, Error> {
        self.call_named("flows.recover", |l| {
            l.bindings.agentcell_core_flows().call_recover(&mut l.store, idle_ms)
        })
    }

    /// The path prefixes of the AI Spine API (`flows.routes`).
    pub fn flows_routes(&self) -> Result<Vec<String>, Error> {
        self.call_named("flows.routes", |l| l.bindings.agentcell_core_flows().call_routes(&mut l.store))
    }

    /// Its paths answered without a key (`flows.public-paths`).
    pub fn flows_public_paths(&self) -> Result<Vec<String>, Error> {
        self.call_named("flows.public-paths", |l| {
            l.bindings.agentcell_core_flows().call_public_paths(&mut l.store)
        })
    }

    /// A refusal worded in the AI Spine API's shape (`flows.refuse`), as `(status, body)`.
    pub fn flows_refuse(&self, reason: &Refusal) -> Result<(u16, String), Error> {
        let r = self.call_named("flows.refuse", |l| {
            l.bindings.agentcell_core_flows().call_refuse(&mut l.store, reason)
        })?;
        Ok((r.status, r.body))
    }

    /// Makes `calls` and every call they lead to, on threads of this process (the
    /// calls due together at once), until none is left: the in-process way to run an
    /// execution to its end. Returns how many agent calls were made.
    pub fn flows_run(&self, calls: Vec<AgentCall>) -> Result<usize, Error> {
        let policy = self.http_policy().clone();
        let mut made = 0;
        let mut due = calls;
        while !due.is_empty() {
            made += due.len();
            let answers: Vec<_> = std::thread::scope(|scope| {
                let sent: Vec<_> = due.iter().map(|c| scope.spawn(|| send(&policy, c))).collect();
                sent.into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Err(HttpError::Failed("the call panicked".into()))))
                    .collect()
            });
            let mut next = Vec::new();
            for (call, answer) in due.iter().zip(answers) {
                next.extend(self.flows_deliver(&call.execution_id, &call.node_id, &answer)?);
            }
            due = next;
        }
        Ok(made)
    }
}

/// Sends one agent call through the policy (allow-list, timeout), after the pause the
/// engine asks for (an agent's `Retry-After`).
pub fn send(policy: &HttpPolicy, call: &AgentCall) -> Result<Response, HttpError> {
    if call.delay_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(call.delay_ms.into()));
    }
    policy.send(&call.request)
}

pub use crate::bindings::exports::agentcell::core::flows_client::{
    ClientConfig, ClientOutcome, ExecuteArgs, Failure, FailureKind, Operation,
};

impl Runtime {
    /// Runs one operation of the AI Spine client (`flows-client`) against the service in
    /// `config`: the component builds the request and reads the answer, this host
    /// sends it through its HTTP policy and waits as the component asks between
    /// retries. `Ok(Err(failure))` is the service's (or the network's) refusal.
    pub fn flows_client(
        &self,
        config: &ClientConfig,
        op: &Operation,
    ) -> Result<Result<String, Failure>, Error> {
        let request = match self.call_named("flows-client.prepare", |l| {
            l.bindings.agentcell_core_flows_client().call_prepare(&mut l.store, config, op)
        })? {
            Ok(request) => request,
            Err(failure) => return Ok(Err(failure)),
        };
        let policy = self.http_policy().clone();
        let mut attempt = 0;
        loop {
            let answer = policy.send(&request);
            let outcome = self.call_named("flows-client.interpret", |l| {
                l.bindings.agentcell_core_flows_client().call_interpret(
                    &mut l.store,
                    config,
                    op,
                    attempt,
                    answer.as_ref(),
                )
            })?;
            match outcome {
                Ok(ClientOutcome::Done(json)) => return Ok(Ok(json)),
                Ok(ClientOutcome::Retry(ms)) => {
                    std::thread::sleep(std::time::Duration::from_millis(ms.into()))
                }
                Err(failure) => return Ok(Err(failure)),
            }
            attempt += 1;
        }
    }
}
