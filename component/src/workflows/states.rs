//! Task and step states, and the transitions between them, as tasker-core's state
//! machines have them. The engine only ever moves along these edges; `task_path` gives
//! the chain of legal transitions from one task state to another where the engine
//! jumps (a task created with ready steps goes pending -> initializing ->
//! enqueuing_steps -> steps_in_process in one change).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Initializing,
    EnqueuingSteps,
    StepsInProcess,
    EvaluatingResults,
    WaitingForDependencies,
    WaitingForRetry,
    BlockedByFailures,
    Complete,
    Error,
    Cancelled,
    ResolvedManually,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Enqueued,
    InProgress,
    EnqueuedForOrchestration,
    EnqueuedAsErrorForOrchestration,
    WaitingForRetry,
    Complete,
    Error,
    Cancelled,
    ResolvedManually,
}

impl TaskState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Complete | TaskState::Error | TaskState::Cancelled | TaskState::ResolvedManually
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Initializing => "initializing",
            TaskState::EnqueuingSteps => "enqueuing_steps",
            TaskState::StepsInProcess => "steps_in_process",
            TaskState::EvaluatingResults => "evaluating_results",
            TaskState::WaitingForDependencies => "waiting_for_dependencies",
            TaskState::WaitingForRetry => "waiting_for_retry",
            TaskState::BlockedByFailures => "blocked_by_failures",
            TaskState::Complete => "complete",
            TaskState::Error => "error",
            TaskState::Cancelled => "cancelled",
            TaskState::ResolvedManually => "resolved_manually",
        }
    }

    /// Reads a state name as upstream does (`in_progress` is `steps_in_process`).
    pub fn parse(name: &str) -> Option<TaskState> {
        let name = if name == "in_progress" { "steps_in_process" } else { name };
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

impl StepState {
    /// Ended for good: upstream's terminal states (`error` is not one: it can be retried
    /// by hand; the engine treats it as the end of the step's attempts).
    pub fn is_terminal(self) -> bool {
        matches!(self, StepState::Complete | StepState::Cancelled | StepState::ResolvedManually)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Enqueued => "enqueued",
            StepState::InProgress => "in_progress",
            StepState::EnqueuedForOrchestration => "enqueued_for_orchestration",
            StepState::EnqueuedAsErrorForOrchestration => "enqueued_as_error_for_orchestration",
            StepState::WaitingForRetry => "waiting_for_retry",
            StepState::Complete => "complete",
            StepState::Error => "error",
            StepState::Cancelled => "cancelled",
            StepState::ResolvedManually => "resolved_manually",
        }
    }
}

/// Whether upstream's task state machine has an edge `from -> to`.
pub fn task_edge(from: TaskState, to: TaskState) -> bool {
    use TaskState::*;
    if to == Cancelled {
        return !from.is_final();
    }
    if to == ResolvedManually {
        return true;
    }
    matches!(
        (from, to),
        (Pending, Initializing)
            | (Initializing, EnqueuingSteps | Complete | WaitingForDependencies)
            | (EnqueuingSteps, StepsInProcess | Error)
            | (StepsInProcess, EvaluatingResults | WaitingForRetry | Complete | Error)
            | (EvaluatingResults, Complete | EnqueuingSteps | WaitingForDependencies | BlockedByFailures)
            | (WaitingForDependencies, EvaluatingResults)
            | (WaitingForRetry, EnqueuingSteps)
            | (BlockedByFailures, Error | ResolvedManually)
            | (Error, Pending)
    )
}

/// Whether upstream's step state machine has an edge `from -> to`.
pub fn step_edge(from: StepState, to: StepState) -> bool {
    use StepState::*;
    match to {
        Cancelled => matches!(
            from,
            Pending
                | Enqueued
                | InProgress
                | EnqueuedForOrchestration
                | EnqueuedAsErrorForOrchestration
                | Error
                | WaitingForRetry
        ),
        ResolvedManually | Complete if from == to => false,
        // ResolveManually and CompleteManually(results) apply from any other state.
        ResolvedManually | Complete => true,
        _ => matches!(
            (from, to),
            (Pending, Enqueued | InProgress | Error | WaitingForRetry)
                | (Enqueued, InProgress | Error | WaitingForRetry)
                | (InProgress, EnqueuedForOrchestration | EnqueuedAsErrorForOrchestration | Complete | Error)
                | (InProgress, WaitingForRetry)
                | (EnqueuedForOrchestration, Complete | Error)
                | (EnqueuedAsErrorForOrchestration, Error | Complete | WaitingForRetry)
                | (WaitingForRetry, Pending)
                | (Error, Pending)
        ),
    }
}

/// The shortest chain of legal task transitions from `from` to `to` (excluding
/// `from`), or none when there is no way.
pub fn task_path(from: TaskState, to: TaskState) -> Option<Vec<TaskState>> {
    use TaskState::*;
    const ALL: [TaskState; 12] = [
        Pending,
        Initializing,
        EnqueuingSteps,
        StepsInProcess,
        EvaluatingResults,
        WaitingForDependencies,
        WaitingForRetry,
        BlockedByFailures,
        Complete,
        Error,
        Cancelled,
        ResolvedManually,
    ];
    if from == to {
        return Some(Vec::new());
    }
    // Breadth first over 12 states: the first way found is a shortest one.
    let mut previous: std::collections::BTreeMap<TaskState, TaskState> = Default::default();
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(state) = queue.pop_front() {
        for next in ALL {
            if next != from && !previous.contains_key(&next) && task_edge(state, next) {
                previous.insert(next, state);
                if next == to {
                    let mut path = vec![to];
                    let mut at = to;
                    while let Some(&p) = previous.get(&at) {
                        if p == from {
                            break;
                        }
                        path.push(p);
                        at = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepState as S;
    use TaskState as T;

    #[test]
    fn task_paths_follow_upstreams_edges() {
        assert_eq!(
            task_path(T::Pending, T::StepsInProcess).unwrap(),
            vec![T::Initializing, T::EnqueuingSteps, T::StepsInProcess]
        );
        assert_eq!(task_path(T::StepsInProcess, T::Complete).unwrap(), vec![T::Complete]);
        assert_eq!(
            task_path(T::WaitingForRetry, T::StepsInProcess).unwrap(),
            vec![T::EnqueuingSteps, T::StepsInProcess]
        );
        assert_eq!(task_path(T::WaitingForRetry, T::Cancelled).unwrap(), vec![T::Cancelled]);
        assert!(task_path(T::Complete, T::Pending).is_none());
        assert!(task_path(T::Cancelled, T::Cancelled).unwrap().is_empty());
        assert!(!task_edge(T::Complete, T::Cancelled));
    }

    #[test]
    fn step_edges_are_upstreams() {
        assert!(step_edge(S::Pending, S::InProgress));
        assert!(step_edge(S::InProgress, S::WaitingForRetry));
        assert!(step_edge(S::WaitingForRetry, S::Pending));
        assert!(step_edge(S::InProgress, S::Cancelled));
        assert!(!step_edge(S::Complete, S::Cancelled));
        assert!(!step_edge(S::Complete, S::InProgress));
        assert!(!step_edge(S::Complete, S::Complete));
        assert!(step_edge(S::Pending, S::Complete), "CompleteManually applies from any state");
        assert!(step_edge(S::Error, S::ResolvedManually));
        assert!(!step_edge(S::WaitingForRetry, S::Error));
    }

    #[test]
    fn names_are_upstreams() {
        assert_eq!(T::parse("in_progress"), Some(T::StepsInProcess));
        assert_eq!(T::parse("waiting_for_retry").unwrap().as_str(), "waiting_for_retry");
        assert_eq!(T::parse("bogus"), None);
        assert_eq!(S::EnqueuedAsErrorForOrchestration.as_str(), "enqueued_as_error_for_orchestration");
    }
}
