//! Batch steps, as upstream's batch processing has them: a `batchable` step (the
//! analyzer) answers with a `batch_processing_outcome`, and the engine turns its
//! `batch_worker` dependent (a template, never run itself) into one worker step per
//! cursor range:
//!
//! - `{"type": "create_batches", "worker_template_name", "cursor_configs": [{"batch_id",
//!   "start_cursor", "end_cursor", ...}], "total_items"}`: a step named
//!   `{template}_{batch_id}` per cursor, with the template's handler, dependencies and
//!   retry settings, and `step_inputs` `{"cursor", "batch_metadata", "is_no_op": false}`.
//!   Steps that depended on the template depend on every worker instead, so a
//!   convergence step runs once all batches are done and reads each one's result.
//! - `{"type": "no_batches"}`: the template is skipped, and so is what only it leads
//!   to; a `deferred_convergence` step still runs.
//!
//! An outcome that names no `batch_worker` dependent of the analyzer, or more than
//! [`MAX_BATCHES`] cursors, fails the analyzer step without a retry.

use super::states::StepState;
use super::task::{HandlerResult, Step, Task};
use super::template::StepType;
use serde_json::{json, Value};

/// The most workers one analyzer may create.
pub const MAX_BATCHES: usize = 1000;

fn outcome(result: Option<&Value>) -> Option<&Value> {
    result?.get("batch_processing_outcome")
}

impl Task {
    /// The template step an analyzer's outcome names, if it is a `batch_worker`
    /// depending on step `i`.
    fn batch_template(&self, i: usize, name: &str) -> Option<usize> {
        let analyzer = &self.steps[i].name;
        self.steps.iter().position(|s| {
            s.name == name && s.step_type == StepType::BatchWorker && s.dependencies.contains(analyzer)
        })
    }

    /// Whether an analyzer's result may be recorded: its outcome must be well formed.
    pub(super) fn check_batches(&self, i: usize, result: &HandlerResult) -> Result<(), String> {
        if self.steps[i].step_type != StepType::Batchable {
            return Ok(());
        }
        let name = &self.steps[i].name;
        let Some(outcome) = outcome(result.result.as_ref()) else {
            return Err(format!(
                "batch_error: batchable step '{name}' must return a batch_processing_outcome"
            ));
        };
        match outcome.get("type").and_then(Value::as_str) {
            Some("no_batches") => Ok(()),
            Some("create_batches") => {
                let template = outcome.get("worker_template_name").and_then(Value::as_str).unwrap_or("");
                if self.batch_template(i, template).is_none() {
                    return Err(format!(
                        "batch_error: worker_template_name '{template}' is not a batch_worker step depending on '{name}'"
                    ));
                }
                let Some(cursors) = outcome.get("cursor_configs").and_then(Value::as_array) else {
                    return Err("batch_error: create_batches needs a cursor_configs list".into());
                };
                if cursors.len() > MAX_BATCHES {
                    return Err(format!("batch_error: {} batches asked, at most {MAX_BATCHES}", cursors.len()));
                }
                let mut ids = std::collections::BTreeSet::new();
                for c in cursors {
                    let id = batch_id(c).ok_or("batch_error: every cursor needs a batch_id")?;
                    if !ids.insert(id.clone()) {
                        return Err(format!("batch_error: two cursors have batch_id '{id}'"));
                    }
                }
                Ok(())
            }
            other => Err(format!(
                "batch_error: batch_processing_outcome.type must be create_batches or no_batches, got {other:?}"
            )),
        }
    }

    /// Creates the workers an analyzer's (checked) outcome asks for, or skips the
    /// template when there are none. `new_id` makes the workers' ids.
    pub(super) fn apply_batches(&mut self, i: usize, now: i64, new_id: &mut dyn FnMut() -> String) {
        if self.steps[i].step_type != StepType::Batchable {
            return;
        }
        let Some(outcome) = outcome(self.steps[i].results.as_ref().and_then(|r| r.get("result"))).cloned()
        else {
            return;
        };
        let templates: Vec<usize> = (0..self.steps.len())
            .filter(|&j| {
                self.steps[j].is_batch_template() && self.steps[j].dependencies.contains(&self.steps[i].name)
            })
            .collect();
        let chosen = outcome
            .get("worker_template_name")
            .and_then(Value::as_str)
            .and_then(|name| self.batch_template(i, name));
        let cursors = outcome.get("cursor_configs").and_then(Value::as_array).cloned().unwrap_or_default();
        let metadata = self.steps[i]
            .results
            .as_ref()
            .and_then(|r| r["result"].get("batch_metadata").cloned())
            .unwrap_or_else(|| json!({}));
        let analyzer = self.steps[i].name.clone();
        let parallelism = self.steps[i].parallelism;
        for t in templates {
            if Some(t) != chosen || cursors.is_empty() {
                // The template is skipped, and what only it leads to, but not a
                // convergence step: it runs on zero batches.
                let why = format!("no batches created by '{analyzer}'");
                self.steps[t].skipped = true;
                let note = super::task::Note { error: Some(why.clone()), ..super::task::Note::system() };
                self.move_step(t, StepState::Cancelled, now, note);
                let name = self.steps[t].name.clone();
                let after: Vec<usize> = (0..self.steps.len())
                    .filter(|&k| self.steps[k].dependencies.contains(&name))
                    .filter(|&k| self.steps[k].step_type != StepType::DeferredConvergence)
                    .collect();
                self.skip_from(after, &why, now);
                continue;
            }
            let template = self.steps[t].clone();
            let workers: Vec<Step> = cursors
                .iter()
                .map(|cursor| Step {
                    step_uuid: new_id(),
                    name: format!("{}_{}", template.name, batch_id(cursor).unwrap_or_default()),
                    inputs: json!({"cursor": cursor, "batch_metadata": metadata, "is_no_op": false}),
                    parallelism,
                    batch_of: Some(template.name.clone()),
                    ready_at: None,
                    created_at: now,
                    updated_at: now,
                    audit: Vec::new(),
                    ..template.clone()
                })
                .collect();
            let names: Vec<String> = workers.iter().map(|w| w.name.clone()).collect();
            for step in &mut self.steps {
                if let Some(at) = step.dependencies.iter().position(|d| d == &template.name) {
                    step.dependencies.splice(at..=at, names.iter().cloned());
                }
            }
            let why = format!("replaced by {} batch workers", workers.len());
            self.steps[t].skipped = true;
            let note = super::task::Note { error: Some(why), ..super::task::Note::system() };
            self.move_step(t, StepState::Cancelled, now, note);
            self.steps.extend(workers);
        }
    }
}

fn batch_id(cursor: &Value) -> Option<String> {
    match cursor.get("batch_id")? {
        Value::String(s) if !s.is_empty() && s.len() <= 64 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[path = "batches_tests.rs"]
mod tests;
