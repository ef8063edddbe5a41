//! The `workflows` interface over [`crate::workflows`].

use super::engine::{self, random_unit, Attempt, TaskQuery};
use super::task::Completion;
use super::views;
use crate::error::Error;
use crate::wit::exports::agentcell::core::workflows as w;
use crate::wit::{now_ms, wit_result, wit_types, Component, HostStorage};

type WitResult<T> = Result<T, wit_types::Error>;

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

fn completion(done: Completion) -> w::Completion {
    match done {
        Completion::Recorded(state) => w::Completion::Recorded(state.as_str().to_string()),
        Completion::Rejected(why) => w::Completion::Rejected(why),
    }
}

fn claimed_step(c: engine::Claimed) -> w::ClaimedStep {
    w::ClaimedStep {
        task_uuid: c.task_uuid,
        step_uuid: c.step_uuid,
        name: c.name,
        handler: c.handler,
        attempt: c.attempt,
        context_json: json_text(&c.context),
        lease_until_ms: c.lease_until_ms.max(0) as u64,
    }
}

fn finished(results: &[w::StepResult]) -> Vec<engine::Finished<'_>> {
    results
        .iter()
        .map(|r| engine::Finished {
            at: Attempt {
                task_uuid: &r.task_uuid,
                step_uuid: &r.step_uuid,
                worker: &r.worker_id,
                attempt: r.attempt,
            },
            result_json: &r.result_json,
        })
        .collect()
}

impl w::Guest for Component {
    fn register_template(text: String) -> WitResult<String> {
        wit_result(
            engine::register_template(&HostStorage, &text)
                .map(|t| serde_json::to_string(&t).unwrap_or_default()),
        )
    }
    fn list_templates() -> WitResult<String> {
        wit_result(
            engine::list_templates(&HostStorage).map(|t| serde_json::to_string(&t).unwrap_or_default()),
        )
    }
    fn create_task(request_json: String) -> WitResult<String> {
        let now_us = crate::wit::now_us();
        let task = engine::create_task(&HostStorage, &request_json, now_us)?;
        Ok(json_text(&views::task(&task, now_us / 1000)))
    }
    fn get_task(task_uuid: String) -> WitResult<String> {
        let now = now_ms();
        wit_result(engine::get_task(&HostStorage, &task_uuid).map(|t| json_text(&views::task(&t, now))))
    }
    fn list_tasks(query_json: String) -> WitResult<String> {
        let now = now_ms();
        let text = if query_json.trim().is_empty() { "{}" } else { query_json.as_str() };
        let query: TaskQuery = serde_json::from_str(text)
            .map_err(|e| Error::invalid("query", format!("is not a task query ({e})")))
            .map_err(wit_types::Error::from)?;
        let (tasks, total) = engine::list_tasks(&HostStorage, &query)?;
        let page = views::task_page(&tasks, total, query.limit.unwrap_or(50), query.offset.unwrap_or(0), now);
        Ok(json_text(&page))
    }
    fn cancel_task(task_uuid: String) -> WitResult<String> {
        let now = now_ms();
        wit_result(
            engine::cancel_task(&HostStorage, &task_uuid, now).map(|t| json_text(&views::task(&t, now))),
        )
    }
    fn list_steps(task_uuid: String) -> WitResult<String> {
        let now = now_ms();
        wit_result(engine::get_task(&HostStorage, &task_uuid).map(|t| json_text(&views::steps(&t, now))))
    }
    fn step_audit(task_uuid: String, step_uuid: String) -> WitResult<String> {
        let task = engine::get_task(&HostStorage, &task_uuid)?;
        match task.steps.iter().find(|s| s.step_uuid == step_uuid) {
            Some(step) => Ok(json_text(&views::audit(&task, step))),
            None => Err(Error::new(
                crate::error::ErrorCode::NotFound,
                format!("task {task_uuid} has no step {step_uuid}"),
            )
            .with_field("step_uuid")
            .into()),
        }
    }
    fn act_on_step(task_uuid: String, step_uuid: String, action_json: String) -> WitResult<String> {
        let now = now_ms();
        let (task, i) = engine::act_on_step(&HostStorage, &task_uuid, &step_uuid, &action_json, now)?;
        Ok(json_text(&views::step(&task, &task.steps[i], now)))
    }
    fn claim(
        worker_id: String,
        handlers: Vec<String>,
        max: u32,
        lease_ms: u32,
    ) -> WitResult<Vec<w::ClaimedStep>> {
        let claimed =
            engine::claim(&HostStorage, &worker_id, &handlers, max, lease_ms, now_ms(), random_unit())?;
        Ok(claimed.into_iter().map(claimed_step).collect())
    }
    fn exchange(
        results: Vec<w::StepResult>,
        worker_id: String,
        handlers: Vec<String>,
        max: u32,
        lease_ms: u32,
    ) -> WitResult<w::Exchanged> {
        let wants = engine::ClaimRequest { worker: &worker_id, handlers: &handlers, max, lease_ms };
        let done =
            engine::exchange(&HostStorage, &finished(&results), wants, now_ms(), random_unit(), || {
                random_unit() * 2.0 - 1.0
            })?;
        Ok(w::Exchanged {
            completions: done.completions.into_iter().map(completion).collect(),
            claimed: done.claimed.into_iter().map(claimed_step).collect(),
        })
    }
    fn renew(
        task_uuid: String,
        step_uuid: String,
        worker_id: String,
        attempt: u32,
        lease_ms: u32,
    ) -> WitResult<bool> {
        let at = Attempt { task_uuid: &task_uuid, step_uuid: &step_uuid, worker: &worker_id, attempt };
        wit_result(engine::renew(&HostStorage, at, lease_ms, now_ms()))
    }
    fn complete(
        task_uuid: String,
        step_uuid: String,
        worker_id: String,
        attempt: u32,
        result_json: String,
    ) -> WitResult<w::Completion> {
        let jitter = random_unit() * 2.0 - 1.0;
        let at = Attempt { task_uuid: &task_uuid, step_uuid: &step_uuid, worker: &worker_id, attempt };
        let done = engine::complete(&HostStorage, at, &result_json, now_ms(), jitter)?;
        Ok(completion(done))
    }
    fn complete_many(results: Vec<w::StepResult>) -> WitResult<Vec<w::Completion>> {
        let done =
            engine::complete_many(&HostStorage, &finished(&results), now_ms(), || random_unit() * 2.0 - 1.0)?;
        Ok(done.into_iter().map(completion).collect())
    }
    fn next_due_in() -> WitResult<Option<u64>> {
        wit_result(engine::next_due_in(&HostStorage, now_ms()))
    }
}
