//! The AI Spine API in `serve`: the component's `flows` interface answers each request,
//! and the agent calls it asks for are made here, off the worker (the blocking pool),
//! each answer handed back on its execution's write lane (in order per execution), and
//! the calls that answer makes due sent at once, branches in parallel.

use super::routes::App;
use crate::bindings::agentcell::core::http_client::HttpError;
use crate::flows::AgentCall;
use crate::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// True when `path` is one of the AI Spine API's (see WIT `flows.routes`).
pub(super) fn is_flows_path(routes: &[String], path: &str) -> bool {
    routes
        .iter()
        .any(|r| path == r || path.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('/')))
}

/// Spreads writes that belong to no execution yet (a new execution, a flow) over the lanes.
static NEXT_LANE: AtomicU64 = AtomicU64::new(0);

/// The plugin an agent call goes to: endpoint `local://<name>` (the engine calls
/// `local://<name>/execute`), the in-process agents of this server.
fn plugin_of(url: &str) -> Option<&str> {
    url.strip_prefix("local://").map(|rest| rest.split('/').next().unwrap_or_default())
}

/// An agent call answered by plugin `name`: it gets `{"input", "config"}` of the node,
/// and its answer (or failure) is worded as an agent server's `POST /execute` answer.
fn run_plugin(
    plugins: Option<&crate::plugins::PluginSet>,
    name: &str,
    request: &crate::bindings::agentcell::core::http_client::Request,
) -> Result<crate::bindings::agentcell::core::http_client::Response, HttpError> {
    use crate::bindings::agentcell::core::http_client::{BodyEncoding, Response};
    let Some(plugins) = plugins else {
        return Err(HttpError::Denied(format!(
            "local://{name}: this server runs no plugins (start it with --plugins)"
        )));
    };
    let plugin = plugins.get(name).map_err(|e| HttpError::Failed(e.to_string()))?;
    let call: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap_or("{}"))
        .map_err(|e| HttpError::Failed(format!("local://{name}: {e}")))?;
    let input = serde_json::json!({"input": call["input"], "config": call["config"]});
    let reply = match plugin.call(&input) {
        Ok(serde_json::Value::Object(output)) => serde_json::json!({"status": "success", "output": output}),
        Ok(other) => serde_json::json!({"status": "success", "output": {"result": other}}),
        Err(e) => serde_json::json!({"status": "error", "error_message": e.to_string()}),
    };
    let headers = vec![("content-type".to_string(), "application/json".to_string())];
    Ok(Response { status: 200, headers, body: reply.to_string(), body_encoding: BodyEncoding::Utf8 })
}

pub(super) async fn handle(
    app: &Arc<App>,
    method: &str,
    target: &str,
    body: &str,
) -> Result<(u16, String), Error> {
    let answer = match (&app.lanes, method) {
        (Some(lanes), m) if m != "GET" => {
            let key = NEXT_LANE.fetch_add(1, Ordering::Relaxed).to_string();
            let (method, target, body) = (method.to_string(), target.to_string(), body.to_string());
            lanes.run(&key, move |rt| rt.flows_handle(&method, &target, &body)).await?
        }
        _ => app.runtime.flows_handle(method, target, body)?,
    };
    dispatch(app, answer.calls);
    Ok((answer.response.status, answer.response.body))
}

/// Makes each call in a task of its own; each answer is delivered and what it makes due
/// is dispatched in turn.
fn dispatch(app: &Arc<App>, calls: Vec<AgentCall>) {
    for call in calls {
        let app = app.clone();
        tokio::spawn(async move {
            if call.delay_ms > 0 {
                // The agent asked for a pause (429 with Retry-After).
                tokio::time::sleep(std::time::Duration::from_millis(call.delay_ms.into())).await;
            }
            let policy = app.runtime.http_policy().clone();
            let request = call.request.clone();
            let plugins = app.plugins.clone();
            let answer = tokio::task::spawn_blocking(move || match plugin_of(&request.url) {
                Some(name) => run_plugin(plugins.as_deref(), name, &request),
                None => policy.send(&request),
            })
            .await
            .unwrap_or_else(|e| Err(HttpError::Failed(format!("the agent call did not finish: {e}"))));
            match deliver(&app, call, answer).await {
                Ok(next) => dispatch(&app, next),
                // The execution stays as it was; `recover` ends it at the next start.
                Err(e) => eprintln!("agentcell serve: an agent's answer could not be recorded: {e}"),
            }
        });
    }
}

async fn deliver(
    app: &Arc<App>,
    call: AgentCall,
    answer: Result<crate::bindings::agentcell::core::http_client::Response, HttpError>,
) -> Result<Vec<AgentCall>, Error> {
    match &app.lanes {
        Some(lanes) => {
            let key = call.execution_id.clone();
            lanes.run(&key, move |rt| rt.flows_deliver(&call.execution_id, &call.node_id, &answer)).await
        }
        None => app.runtime.flows_deliver(&call.execution_id, &call.node_id, &answer),
    }
}
