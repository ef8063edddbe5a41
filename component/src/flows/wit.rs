//! The `flows` and `flows-client` interfaces over [`crate::flows`].

use super::client::{self, Config, Failure, Kind, Op, Outcome};
use super::engine::{AgentAnswer, Due};
use super::service;
use crate::ports::HttpError;
use crate::wit::exports::agentcell::core::{attune_service as s, flows as f, flows_client as c};
use crate::wit::{now_ms, request_to_wit, response_from_wit, wit_http, Component, HostStorage};

fn call(execution_id: &str, due: Due) -> f::AgentCall {
    f::AgentCall {
        execution_id: execution_id.to_string(),
        node_id: due.node_id,
        request: wit_http::Request {
            method: "POST".into(),
            url: due.url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(due.body),
            timeout_ms: Some(due.timeout_ms),
        },
        delay_ms: due.delay_ms,
    }
}

fn agent_answer(answer: Result<wit_http::Response, wit_http::HttpError>) -> AgentAnswer {
    let answer = answer.map_err(crate::wit::http_error_from_wit).and_then(response_from_wit);
    match answer {
        Ok(r) => {
            let retry_after = r
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, v)| v.trim().parse::<u32>().ok());
            AgentAnswer::Response { status: r.status, body: r.body, retry_after }
        }
        Err(HttpError::Timeout(m)) => AgentAnswer::NoResponse { timed_out: true, message: m },
        Err(HttpError::Denied(m) | HttpError::InvalidRequest(m) | HttpError::Failed(m)) => {
            AgentAnswer::NoResponse { timed_out: false, message: m }
        }
    }
}

impl f::Guest for Component {
    fn routes() -> Vec<String> {
        service::ROUTES.iter().map(|r| r.to_string()).collect()
    }
    fn public_paths() -> Vec<String> {
        service::PUBLIC_PATHS.iter().map(|r| r.to_string()).collect()
    }
    fn handle(req: s::ServiceRequest) -> f::FlowsAnswer {
        let request = service::Request { method: &req.method, path: &req.path, body: &req.body };
        let answer = service::handle(&HostStorage, &request, now_ms());
        let id = answer.execution_id;
        f::FlowsAnswer {
            response: s::ServiceResponse { status: answer.status, body: answer.body },
            calls: answer.calls.into_iter().map(|d| call(&id, d)).collect(),
        }
    }
    fn deliver(
        execution_id: String,
        node_id: String,
        answer: Result<wit_http::Response, wit_http::HttpError>,
    ) -> Vec<f::AgentCall> {
        // A storage failure here loses nothing acknowledged: the execution stays as it
        // was, and `recover` ends it once its host gives up on it.
        service::deliver(&HostStorage, &execution_id, &node_id, agent_answer(answer), now_ms())
            .map(|due| due.into_iter().map(|d| call(&execution_id, d)).collect())
            .unwrap_or_default()
    }
    fn recover(idle_ms: u64) -> u32 {
        service::recover(&HostStorage, idle_ms, now_ms()).unwrap_or(0)
    }
    fn refuse(reason: s::Refusal) -> s::ServiceResponse {
        let (status, body) = service::refuse(&crate::attune::wit::service_glue::refusal_from(reason));
        s::ServiceResponse { status, body }
    }
}

fn config(c: c::ClientConfig) -> Config {
    Config { base_url: c.base_url, api_key: c.api_key, max_retries: c.max_retries, timeout_ms: c.timeout_ms }
}

fn op(o: c::Operation) -> Op {
    match o {
        c::Operation::ExecuteFlow(a) => {
            Op::Execute { flow_id: a.flow_id, input_json: a.input_json, metadata_json: a.metadata_json }
        }
        c::Operation::GetExecution(id) => Op::GetExecution(id),
        c::Operation::CancelExecution(id) => Op::CancelExecution(id),
        c::Operation::ListExecutions(flow) => Op::ListExecutions(flow),
        c::Operation::ListFlows => Op::ListFlows,
        c::Operation::GetFlow(id) => Op::GetFlow(id),
        c::Operation::CreateFlow(def) => Op::CreateFlow(def),
        c::Operation::ListAgents => Op::ListAgents,
        c::Operation::CreateAgent(cfg) => Op::CreateAgent(cfg),
        c::Operation::DeleteAgent(id) => Op::DeleteAgent(id),
        c::Operation::Health => Op::Health,
        c::Operation::Metrics => Op::Metrics,
        c::Operation::Status => Op::Status,
    }
}

fn failure(f: Failure) -> c::Failure {
    let kind = match f.kind {
        Kind::Validation => c::FailureKind::Validation,
        Kind::Authentication => c::FailureKind::Authentication,
        Kind::InsufficientCredits => c::FailureKind::InsufficientCredits,
        Kind::RateLimit => c::FailureKind::RateLimit,
        Kind::Timeout => c::FailureKind::Timeout,
        Kind::Network => c::FailureKind::Network,
        Kind::Api => c::FailureKind::Api,
    };
    c::Failure {
        kind,
        message: f.message,
        status_code: f.status_code,
        retry_after: f.retry_after,
        details_json: f.details_json,
    }
}

impl c::Guest for Component {
    fn prepare(cfg: c::ClientConfig, o: c::Operation) -> Result<wit_http::Request, c::Failure> {
        client::prepare(&config(cfg), &op(o)).map(|r| request_to_wit(&r)).map_err(failure)
    }
    fn interpret(
        cfg: c::ClientConfig,
        o: c::Operation,
        attempt: u32,
        answer: Result<wit_http::Response, wit_http::HttpError>,
    ) -> Result<c::ClientOutcome, c::Failure> {
        let answer = answer.map_err(crate::wit::http_error_from_wit).and_then(response_from_wit);
        match client::interpret(&config(cfg), &op(o), attempt, answer) {
            Ok(Outcome::Done(json)) => Ok(c::ClientOutcome::Done(json)),
            Ok(Outcome::Retry(ms)) => Ok(c::ClientOutcome::Retry(ms)),
            Err(f) => Err(failure(f)),
        }
    }
}
