//! A step's attempts: claiming it under a lease (a lease that ended counts as a failed
//! attempt), checking and renewing the lease, and recording what the attempt came to
//! (complete, retry after a backoff, or error), as pure functions of the task record.

use super::states::{StepState, TaskState};
use super::task::{Completion, HandlerResult, Lease, Note, Task};
use serde_json::{json, Value};

impl Task {
    /// Claims step `i` for `worker` (it must be `claimable`). A step whose lease ended
    /// counts that attempt as failed: it is retried if attempts are left, else it fails
    /// (and false is returned).
    pub fn claim(&mut self, i: usize, worker: &str, lease_ms: u32, now: i64) -> bool {
        if self.steps[i].state == StepState::InProgress {
            let lost = self.steps[i].lease.clone();
            let holder = lost.as_ref().map_or("unknown".into(), |l| l.worker_id.clone());
            let error = format!(
                "lease of worker '{holder}' ended before it answered (attempt {})",
                self.steps[i].attempts
            );
            self.steps[i].last_failure_at = Some(now);
            if self.steps[i].attempts >= self.steps[i].retry.max_attempts {
                let note = Note::failure(error + "; no attempts left", lost.map(|l| l.worker_id));
                self.move_step(i, StepState::Error, now, note);
                self.settle(now);
                return false;
            }
            self.move_step(
                i,
                StepState::WaitingForRetry,
                now,
                Note::failure(error, lost.map(|l| l.worker_id)),
            );
        }
        if self.steps[i].state == StepState::WaitingForRetry {
            self.move_step(i, StepState::Pending, now, Note::system());
        }
        let step = &mut self.steps[i];
        step.attempts += 1;
        step.last_attempted_at = Some(now);
        step.next_retry_at = None;
        step.lease = Some(Lease {
            worker_id: worker.to_string(),
            attempt: step.attempts,
            until_ms: now + lease_ms as i64,
        });
        let note = Note { worker_id: Some(worker.to_string()), success: true, ..Note::system() };
        self.move_step(i, StepState::InProgress, now, note);
        self.settle(now);
        true
    }

    /// Whether `worker` holds step `i` for `attempt` (so its result counts).
    pub fn holds(&self, i: usize, worker: &str, attempt: u32) -> Result<(), String> {
        let step = &self.steps[i];
        if self.status == TaskState::Cancelled || step.state == StepState::Cancelled {
            return Err(format!("step '{}' was cancelled", step.name));
        }
        match &step.lease {
            Some(l)
                if step.state == StepState::InProgress && l.worker_id == worker && l.attempt == attempt =>
            {
                Ok(())
            }
            _ if step.state == StepState::Complete => {
                Err(format!("step '{}' already has its result (attempt {})", step.name, step.attempts))
            }
            Some(l) if step.state == StepState::InProgress => Err(format!(
                "worker '{worker}' no longer holds step '{}' attempt {attempt}: worker '{}' runs attempt {}",
                step.name, l.worker_id, l.attempt
            )),
            _ => Err(format!(
                "worker '{worker}' no longer holds step '{}' attempt {attempt}: its lease ended (state {})",
                step.name,
                step.state.as_str()
            )),
        }
    }

    /// Extends the lease of step `i`, if `worker` holds it.
    pub fn renew(&mut self, i: usize, worker: &str, attempt: u32, lease_ms: u32, now: i64) -> bool {
        if self.holds(i, worker, attempt).is_err() {
            return false;
        }
        if let Some(lease) = self.steps[i].lease.as_mut() {
            lease.until_ms = lease.until_ms.max(now + lease_ms as i64);
        }
        true
    }

    /// Records the result of the attempt `worker` holds. `jitter` in [-1, 1] spreads
    /// the retry time by up to 10% of the backoff.
    pub fn complete(
        &mut self,
        i: usize,
        worker: &str,
        attempt: u32,
        result: HandlerResult,
        now: i64,
        jitter: f64,
    ) -> Completion {
        if let Err(why) = self.holds(i, worker, attempt) {
            return Completion::Rejected(why);
        }
        let envelope = json!({
            "success": result.success,
            "result": result.result,
            "metadata": result.metadata,
            "execution_time_ms": result.execution_time_ms,
        });
        let note = Note {
            worker_id: Some(worker.to_string()),
            success: result.success,
            execution_time_ms: result.execution_time_ms,
            result: Some(envelope.clone()),
            error: None,
        };
        if result.success {
            if let Err(why) = self.check_decision(i, &result).and_then(|()| self.check_batches(i, &result)) {
                return self.fail(i, now, Note { success: false, error: Some(why), ..note }, false, jitter);
            }
            self.steps[i].results = Some(envelope);
            self.move_step(i, StepState::Complete, now, note);
            self.apply_decision(i, now);
            self.apply_batches(i, now, &mut || uuid::Uuid::new_v4().to_string());
            self.mark_ready(now);
            self.settle(now);
            return Completion::Recorded(StepState::Complete);
        }
        let error = format!(
            "{}: {}",
            result.error_type.as_deref().unwrap_or("handler_error"),
            result.error_message.as_deref().unwrap_or("no message")
        );
        let retry_after = result.metadata.get("retry_after").and_then(Value::as_f64);
        let retryable =
            result.retryable && result.metadata.get("retryable").and_then(Value::as_bool) != Some(false);
        let note = Note { error: Some(error), ..note };
        self.fail_with(i, now, note, retryable, jitter, retry_after)
    }

    fn fail(&mut self, i: usize, now: i64, note: Note, retryable: bool, jitter: f64) -> Completion {
        self.fail_with(i, now, note, retryable, jitter, None)
    }

    fn fail_with(
        &mut self,
        i: usize,
        now: i64,
        note: Note,
        retryable: bool,
        jitter: f64,
        retry_after_s: Option<f64>,
    ) -> Completion {
        let step = &mut self.steps[i];
        step.last_failure_at = Some(now);
        step.lease = None;
        let retry = retryable && step.retry.retryable && step.attempts < step.retry.max_attempts;
        if !retry {
            self.move_step(i, StepState::Error, now, note);
            self.settle(now);
            return Completion::Recorded(StepState::Error);
        }
        let base = step.retry.delay_ms(step.attempts);
        let wait = match retry_after_s {
            Some(s) if s.is_finite() && s >= 0.0 => ((s * 1000.0) as u64).min(step.retry.max_backoff_ms),
            _ => {
                let spread = base as f64 * 0.1 * jitter.clamp(-1.0, 1.0);
                (base as f64 + spread).max(0.0) as u64
            }
        };
        step.next_retry_at = Some(now + wait as i64);
        self.move_step(i, StepState::WaitingForRetry, now, note);
        self.settle(now);
        Completion::Recorded(StepState::WaitingForRetry)
    }
}
