//! Unit tests of `task.rs`: decisions and convergence, the state machines followed.

use super::*;
use crate::workflows::template::Template;

fn task(yaml: &str) -> Task {
    let template = Template::parse(yaml).unwrap();
    let mut n = 0;
    let request: TaskRequest = serde_json::from_value(json!({"name": template.name})).unwrap();
    Task::new(&template, request, 0, || {
        n += 1;
        format!("00000000-0000-4000-8000-{n:012}")
    })
}

fn run(t: &mut Task, name: &str, result: Value) -> Completion {
    let i = t.steps.iter().position(|s| s.name == name).unwrap();
    assert!(t.claimable(i, 10), "{name} is not claimable");
    assert!(t.claim(i, "w", 1000, 10));
    let attempt = t.steps[i].attempts;
    let r: HandlerResult = serde_json::from_value(json!({"success": true, "result": result})).unwrap();
    t.complete(i, "w", attempt, r, 11, 0.0)
}

const ROUTED: &str = "
name: routed
steps:
  - {name: decide, type: decision, handler: {callable: d}}
  - {name: small, handler: {callable: s}, dependencies: [decide]}
  - {name: large, handler: {callable: l}, dependencies: [decide]}
  - {name: after_large, handler: {callable: a}, dependencies: [large]}
  - {name: join, type: deferred_convergence, handler: {callable: j}, dependencies: [small, large]}
";

#[test]
fn a_decision_skips_the_branches_it_did_not_choose_and_convergence_waits_for_the_rest() {
    let mut t = task(ROUTED);
    let choice =
        json!({"decision_point_outcome": {"decision_type": "create_steps", "next_step_names": ["small"]}});
    assert_eq!(run(&mut t, "decide", choice), Completion::Recorded(StepState::Complete));
    let state =
        |t: &Task, n: &str| t.steps.iter().find(|s| s.name == n).map(|s| (s.state, s.skipped)).unwrap();
    assert_eq!(state(&t, "large"), (StepState::Cancelled, true));
    assert_eq!(state(&t, "after_large"), (StepState::Cancelled, true));
    assert_eq!(state(&t, "join"), (StepState::Pending, false));
    let join = t.steps.iter().position(|s| s.name == "join").unwrap();
    assert!(!t.claimable(join, 10), "join waits for small");
    run(&mut t, "small", json!({}));
    run(&mut t, "join", json!({}));
    assert_eq!(t.status, TaskState::Complete);
}

#[test]
fn a_decision_naming_a_step_that_is_not_its_dependent_fails_the_step() {
    let mut t = task(ROUTED);
    let choice = json!({"decision_point_outcome": {"next_step_names": ["after_large"]}});
    assert_eq!(
        run(&mut t, "decide", choice),
        Completion::Recorded(StepState::Error),
        "a wrong decision is not retried"
    );
    let err = t.steps[0].audit.last().unwrap().error.clone().unwrap();
    assert!(err.contains("not a step depending on 'decide'"), "{err}");
}

#[test]
fn every_recorded_transition_is_an_edge_of_upstreams_machines() {
    let mut t = task(ROUTED);
    run(&mut t, "decide", json!({"decision_point_outcome": {"next_step_names": ["small", "large"]}}));
    run(&mut t, "small", json!({}));
    t.cancel(20);
    for step in &t.steps {
        for a in &step.audit {
            assert!(step_edge(a.from_state.unwrap(), a.to_state), "{:?} -> {:?}", a.from_state, a.to_state);
        }
    }
    for x in &t.transitions {
        assert!(
            super::super::states::task_edge(x.from_state, x.to_state),
            "{:?} -> {:?}",
            x.from_state,
            x.to_state
        );
    }
    assert_eq!(t.status, TaskState::Cancelled);
}
