//! `agentcell flows ...`: the AI Spine API from the command line, through the
//! component's client (`flows-client`): the same requests, retries and error reading
//! as the Python client.

use agentcell_host::flows::{ClientConfig, ExecuteArgs, Failure, FailureKind, Operation};
use agentcell_host::{HttpPolicy, Runtime};
use clap::Subcommand;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct FlowsArgs {
    /// The service (an `agentcell serve`, or `.../api/v1`)
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key; also AGENTCELL_API_KEY
    #[arg(long = "api-key")]
    api_key: Option<String>,
    /// Seconds per request
    #[arg(long, default_value_t = 30.0, value_parser = crate::seconds)]
    timeout: f64,
    #[command(subcommand)]
    action: FlowsAction,
}

#[derive(Subcommand)]
enum FlowsAction {
    /// List the flows
    List,
    /// Show one flow
    Get { flow_id: String },
    /// Store a flow definition read from a JSON file (`-` for stdin)
    Create { file: String },
    /// Start a run; with --wait, poll until it ends (exit 1 if it failed)
    Execute {
        flow_id: String,
        /// The input, a JSON object
        #[arg(long, default_value = "{}")]
        input: String,
        #[arg(long)]
        wait: bool,
        /// Seconds to wait at most (with --wait)
        #[arg(long, default_value_t = 300.0, value_parser = crate::seconds)]
        wait_timeout: f64,
    },
    /// List executions, newest first
    Executions {
        /// Only this flow's
        #[arg(long)]
        flow: Option<String>,
    },
    /// Show one execution
    Execution { execution_id: String },
    /// Cancel a running execution
    Cancel { execution_id: String },
    /// List the agents
    Agents,
    /// The service's status, with counts
    Status,
    /// The execution metrics
    Metrics,
}

fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn failure_exit(f: &Failure) -> ExitCode {
    let kind = match f.kind {
        FailureKind::Validation => "validation",
        FailureKind::Authentication => "authentication",
        FailureKind::InsufficientCredits => "insufficient-credits",
        FailureKind::RateLimit => "rate-limit",
        FailureKind::Timeout => "timeout",
        FailureKind::Network => "network",
        FailureKind::Api => "api",
    };
    let status = f.status_code.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    eprintln!("agentcell flows: {kind} error{status}: {}", f.message);
    ExitCode::from(1)
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| json.to_string())
}

pub fn run(args: FlowsArgs) -> Result<ExitCode, agentcell_host::Error> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let policy = HttpPolicy::new([host_port(&args.url).to_string()], timeout);
    let rt = Runtime::builder().http(policy).memory_storage().build()?;
    let config = ClientConfig {
        base_url: args.url.trim_end_matches('/').to_string(),
        api_key: args.api_key.or_else(|| std::env::var("AGENTCELL_API_KEY").ok()).filter(|k| !k.is_empty()),
        max_retries: 3,
        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX).max(1),
    };
    let call = |op: Operation| rt.flows_client(&config, &op);
    let op = match args.action {
        FlowsAction::List => Operation::ListFlows,
        FlowsAction::Get { flow_id } => Operation::GetFlow(flow_id),
        FlowsAction::Create { file } => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            };
            match text {
                Ok(text) => Operation::CreateFlow(text),
                Err(e) => {
                    eprintln!("agentcell flows: cannot read {file}: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        FlowsAction::Execute { flow_id, input, wait, wait_timeout } => {
            let args = ExecuteArgs { flow_id, input_json: input, metadata_json: None };
            let started = match call(Operation::ExecuteFlow(args))? {
                Ok(json) => json,
                Err(f) => return Ok(failure_exit(&f)),
            };
            if !wait {
                println!("{}", pretty(&started));
                return Ok(ExitCode::SUCCESS);
            }
            let id = serde_json::from_str::<serde_json::Value>(&started)
                .ok()
                .and_then(|v| v.get("execution_id").and_then(|i| i.as_str()).map(str::to_string))
                .unwrap_or_default();
            return wait_for(&call, &id, Duration::from_secs_f64(wait_timeout));
        }
        FlowsAction::Executions { flow } => Operation::ListExecutions(flow),
        FlowsAction::Execution { execution_id } => Operation::GetExecution(execution_id),
        FlowsAction::Cancel { execution_id } => Operation::CancelExecution(execution_id),
        FlowsAction::Agents => Operation::ListAgents,
        FlowsAction::Status => Operation::Status,
        FlowsAction::Metrics => Operation::Metrics,
    };
    Ok(match call(op)? {
        Ok(json) => {
            println!("{}", pretty(&json));
            ExitCode::SUCCESS
        }
        Err(f) => failure_exit(&f),
    })
}

/// Polls the execution until it ends: prints it; exit 1 when it did not complete.
fn wait_for(
    call: &dyn Fn(Operation) -> Result<Result<String, Failure>, agentcell_host::Error>,
    id: &str,
    limit: Duration,
) -> Result<ExitCode, agentcell_host::Error> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let json = match call(Operation::GetExecution(id.to_string()))? {
            Ok(json) => json,
            Err(f) => return Ok(failure_exit(&f)),
        };
        let status = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        if matches!(status.as_str(), "completed" | "failed" | "cancelled") {
            println!("{}", pretty(&json));
            return Ok(if status == "completed" { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        if start.elapsed() >= limit {
            eprintln!("agentcell flows: execution {id} still {status} after {} s", limit.as_secs_f64());
            return Ok(ExitCode::from(1));
        }
        std::thread::sleep(pause.min(limit.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
