//! tasker-core's orchestration REST API (`/v1/tasks`, `/v1/templates`, upstream's shapes)
//! in `serve`, over the component's `workflows` interface: tasks created here are run
//! by `python -m agentcell.worker` processes sharing the server's storage (Redis or
//! PostgreSQL), and any HTTP client can follow them.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/tasks` (upstream's TaskRequest) | 201 TaskResponse |
//! | `GET /v1/tasks?limit&offset&namespace&status` | `{tasks, pagination}` |
//! | `GET /v1/tasks/{uuid}`, `DELETE /v1/tasks/{uuid}` (cancel) | TaskResponse |
//! | `GET /v1/tasks/{uuid}/workflow_steps[/{step}]` | `[StepResponse]`, StepResponse |
//! | `PATCH /v1/tasks/{uuid}/workflow_steps/{step}` (upstream's StepManualAction) | StepResponse |
//! | `GET /v1/tasks/{uuid}/workflow_steps/{step}/audit` | `[StepAuditResponse]` |
//! | `GET /v1/templates`, `POST /v1/templates` (YAML or JSON) | templates, 201 the template |
//!
//! Errors are `{"error": {"code", "message", "field"}}` with 400, 404 or 500.

use crate::bindings::exports::agentcell::core::types::{Error as WitError, ErrorCode};
use crate::{Error, Runtime};
use serde_json::{json, Value};

/// True when `path` is one of these routes.
pub(super) fn is_tasks_path(path: &str) -> bool {
    path == "/v1/tasks" || path.starts_with("/v1/tasks/") || path == "/v1/templates"
}

fn error_answer(e: &WitError) -> (u16, String) {
    let status = match e.code {
        ErrorCode::InvalidArgument => 400,
        ErrorCode::NotFound => 404,
        _ => 500,
    };
    let code = crate::error::error_code_name(e.code);
    (status, json!({"error": {"code": code, "message": e.message, "field": e.field}}).to_string())
}

fn query_json(query: Option<&str>) -> String {
    let mut q = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let value = match k.as_ref() {
            "limit" | "offset" => match v.parse::<u64>() {
                Ok(n) => json!(n),
                Err(_) => json!(v), // the component names the bad argument
            },
            "namespace" | "status" => json!(v),
            _ => continue,
        };
        q.insert(k.into_owned(), value);
    }
    Value::Object(q).to_string()
}

/// Answers one tasks request; `query` is the target's query string.
pub(super) fn handle(
    rt: &Runtime,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &str,
) -> Result<(u16, String), Error> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let call =
        |name: &'static str,
         f: &dyn Fn(&mut crate::runtime::Live) -> wasmtime::Result<Result<String, WitError>>| {
            rt.call_named(name, f)
        };
    let result: Result<String, WitError> = match (method, segments.as_slice()) {
        ("POST", ["tasks"]) => {
            let created = call("workflows.create-task", &|l| {
                l.bindings.agentcell_core_workflows().call_create_task(&mut l.store, body)
            })?;
            return Ok(match created {
                Ok(task) => (201, task),
                Err(e) => error_answer(&e),
            });
        }
        ("GET", ["tasks"]) => {
            let q = query_json(query);
            call("workflows.list-tasks", &|l| {
                l.bindings.agentcell_core_workflows().call_list_tasks(&mut l.store, &q)
            })?
        }
        ("GET", ["tasks", id]) => call("workflows.get-task", &|l| {
            l.bindings.agentcell_core_workflows().call_get_task(&mut l.store, id)
        })?,
        ("DELETE", ["tasks", id]) => call("workflows.cancel-task", &|l| {
            l.bindings.agentcell_core_workflows().call_cancel_task(&mut l.store, id)
        })?,
        ("GET", ["tasks", id, "workflow_steps"]) => call("workflows.list-steps", &|l| {
            l.bindings.agentcell_core_workflows().call_list_steps(&mut l.store, id)
        })?,
        ("GET", ["tasks", id, "workflow_steps", step]) => {
            match call("workflows.list-steps", &|l| {
                l.bindings.agentcell_core_workflows().call_list_steps(&mut l.store, id)
            })? {
                Ok(steps) => {
                    let steps: Value = serde_json::from_str(&steps).unwrap_or_default();
                    let found =
                        steps.as_array().and_then(|s| s.iter().find(|s| s["step_uuid"] == *step).cloned());
                    return Ok(match found {
                        Some(s) => (200, s.to_string()),
                        None => (
                            404,
                            json!({"error": {"code": "not-found", "message": format!("task {id} has no step {step}"),
                                "field": "step_uuid"}})
                            .to_string(),
                        ),
                    });
                }
                Err(e) => Err(e),
            }
        }
        ("PATCH", ["tasks", id, "workflow_steps", step]) => call("workflows.act-on-step", &|l| {
            l.bindings.agentcell_core_workflows().call_act_on_step(&mut l.store, id, step, body)
        })?,
        ("GET", ["tasks", id, "workflow_steps", step, "audit"]) => call("workflows.step-audit", &|l| {
            l.bindings.agentcell_core_workflows().call_step_audit(&mut l.store, id, step)
        })?,
        ("GET", ["templates"]) => call("workflows.list-templates", &|l| {
            l.bindings.agentcell_core_workflows().call_list_templates(&mut l.store)
        })?,
        ("POST", ["templates"]) => {
            let made = call("workflows.register-template", &|l| {
                l.bindings.agentcell_core_workflows().call_register_template(&mut l.store, body)
            })?;
            return Ok(match made {
                Ok(t) => (201, t),
                Err(e) => error_answer(&e),
            });
        }
        _ => {
            let message = format!("no route {method} {path}");
            return Ok((
                404,
                json!({"error": {"code": "not-found", "message": message, "field": null}}).to_string(),
            ));
        }
    };
    Ok(match result {
        Ok(body) => (200, body),
        Err(e) => error_answer(&e),
    })
}
