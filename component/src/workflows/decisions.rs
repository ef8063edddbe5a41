//! Decision steps (upstream's `decision` type): a decision's result names, in
//! `decision_point_outcome.next_step_names`, which of its dependents run; the others
//! are skipped (`cancelled`), and so is whatever only they lead to, except a
//! `deferred_convergence` step, which runs once the chosen branches are done.

use super::states::StepState;
use super::task::{HandlerResult, Note, Task};
use super::template::StepType;
use serde_json::Value;

impl Task {
    /// A decision step's outcome must name steps that depend on it.
    pub(super) fn check_decision(&self, i: usize, result: &HandlerResult) -> Result<(), String> {
        if self.steps[i].step_type != StepType::Decision {
            return Ok(());
        }
        let Some(chosen) = decision_choice(result.result.as_ref()) else {
            return Err("decision_error: a decision step must return a decision_point_outcome".into());
        };
        let name = &self.steps[i].name;
        for pick in chosen {
            let ok = self.by_name(&pick).is_some_and(|s| s.dependencies.contains(name));
            if !ok {
                return Err(format!(
                    "decision_error: the decision chose '{pick}', which is not a step depending on '{name}'"
                ));
            }
        }
        Ok(())
    }

    /// Skips the dependents a decision did not choose, and whatever only they lead to.
    pub(super) fn apply_decision(&mut self, i: usize, now: i64) {
        if self.steps[i].step_type != StepType::Decision {
            return;
        }
        let chosen =
            decision_choice(self.steps[i].results.as_ref().and_then(|r| r.get("result"))).unwrap_or_default();
        let decider = self.steps[i].name.clone();
        let skip: Vec<usize> = (0..self.steps.len())
            .filter(|&j| {
                self.steps[j].dependencies.contains(&decider) && !chosen.contains(&self.steps[j].name)
            })
            .filter(|&j| self.steps[j].step_type != StepType::DeferredConvergence)
            .collect();
        self.skip_from(skip, &format!("not chosen by decision step '{decider}'"), now);
    }

    /// Skips the pending steps `start` (`cancelled`, with `why`) and whatever only they
    /// lead to; a convergence step is skipped only when all its dependencies are.
    pub(super) fn skip_from(&mut self, mut skip: Vec<usize>, why: &str, now: i64) {
        while let Some(j) = skip.pop() {
            if self.steps[j].skipped || self.steps[j].state != StepState::Pending {
                continue;
            }
            self.steps[j].skipped = true;
            let note = Note { error: Some(why.to_string()), ..Note::system() };
            self.move_step(j, StepState::Cancelled, now, note);
            let name = self.steps[j].name.clone();
            for k in 0..self.steps.len() {
                let s = &self.steps[k];
                if s.dependencies.contains(&name) && !s.skipped {
                    let all_skipped =
                        s.dependencies.iter().all(|d| self.by_name(d).is_some_and(|x| x.skipped));
                    if s.step_type != StepType::DeferredConvergence || all_skipped {
                        skip.push(k);
                    }
                }
            }
        }
    }
}

/// The steps a decision result chose (`decision_point_outcome.next_step_names`), if the
/// result holds a decision.
fn decision_choice(result: Option<&Value>) -> Option<Vec<String>> {
    let outcome = result?.get("decision_point_outcome")?;
    let names = match outcome.get("next_step_names") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    Some(names)
}
