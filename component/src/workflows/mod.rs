//! Workflows (seed 003): tasker-core's task templates, tasks and steps, run by workers
//! that claim steps by lease. The dependency graph rules are shared with AI Spine's
//! flows ([`crate::dag`]).
//!
//! - [`template`]: templates in upstream's YAML shape and their rules, retry backoff;
//! - [`states`]: upstream's task and step state machines;
//! - [`task`]: a task record and the changes of the task as a whole, as pure functions;
//! - [`attempts`]: a step's attempts: claim by lease, renew, complete, fail and retry;
//! - [`decisions`]: decision steps choosing which dependents run;
//! - [`batches`]: batch analyzers creating one worker step per cursor range;
//! - [`manual`]: an operator's actions on a step (reset for retry, resolve, complete);
//! - [`engine`]: tasks in the host storage, claims, leases and the queue index;
//! - [`views`]: upstream's REST shapes of tasks, steps and audit entries.

#[cfg(target_arch = "wasm32")]
mod wit;

pub mod attempts;
pub mod batches;
pub mod decisions;
pub mod engine;
pub mod manual;
pub mod states;
pub mod task;
pub mod template;
pub mod views;
