//! Task templates in upstream's shape (tasker-core's `TaskTemplate` YAML), and the
//! rules a template must keep before any task is made from it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub type Object = Map<String, Value>;

fn default_namespace() -> String {
    "default".into()
}

fn default_version() -> String {
    "1.0.0".into()
}

fn yes() -> bool {
    true
}

fn three() -> u32 {
    3
}

fn second() -> u64 {
    1000
}

fn half_minute() -> u64 {
    30_000
}

/// How long a failed step waits before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    None,
    Linear,
    #[default]
    Exponential,
    Fibonacci,
}

/// A step's retry settings (upstream's `RetryConfiguration` and its defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default = "yes")]
    pub retryable: bool,
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default = "second")]
    pub backoff_base_ms: u64,
    #[serde(default = "half_minute")]
    pub max_backoff_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            retryable: true,
            max_attempts: 3,
            backoff: Backoff::Exponential,
            backoff_base_ms: 1000,
            max_backoff_ms: 30_000,
        }
    }
}

impl Retry {
    /// The wait after the `attempt`-th failure (1 for the first), before jitter:
    /// none 0, linear `base * n`, exponential `base * 2^(n-1)`, fibonacci
    /// `base * fib(n)` (1, 1, 2, 3, 5, ...), never more than `max_backoff_ms`.
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let n = attempt.max(1) as u64;
        let factor = match self.backoff {
            Backoff::None => 0,
            Backoff::Linear => n,
            Backoff::Exponential => 1u64.checked_shl((n - 1).min(62) as u32).unwrap_or(u64::MAX),
            Backoff::Fibonacci => {
                let (mut a, mut b) = (1u64, 1u64);
                for _ in 1..n.min(90) {
                    (a, b) = (b, a.saturating_add(b));
                }
                a
            }
        };
        self.backoff_base_ms.saturating_mul(factor).min(self.max_backoff_ms)
    }
}

/// Which handler runs a step, and the configuration it is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerRef {
    pub callable: String,
    #[serde(default)]
    pub initialization: Object,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// What kind of step it is (upstream's `StepType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    #[default]
    Standard,
    /// Its result's `decision_point_outcome` chooses which of its dependents run.
    Decision,
    /// Runs once every dependency that was not skipped by a decision is complete.
    DeferredConvergence,
    /// A batch analyzer: its result's `batch_processing_outcome` says how many copies
    /// of its `batch_worker` dependent run, each on its own cursor range.
    Batchable,
    /// A template for the batch workers a `batchable` step creates; never run itself.
    BatchWorker,
}

/// One step of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTemplate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub handler: HandlerRef,
    #[serde(default, alias = "depends_on")]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default, rename = "type", alias = "step_type")]
    pub step_type: StepType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// A `batchable` step's batch settings (upstream's `batch_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_config: Option<BatchConfig>,
}

/// A `batchable` step's `batch_config`, as upstream's templates write it. `parallelism`
/// caps how many of the workers it creates run at once; the other fields are the
/// analyzer's to read (the engine keeps them as written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    /// At most this many of the batch's workers hold a step at once (1..=1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_strategy: Option<String>,
}

/// The most workers of one batch that may run at once.
pub const MAX_PARALLELISM: u32 = 1000;

/// A task template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    #[serde(default = "default_namespace", alias = "namespace")]
    pub namespace_name: String,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub input_schema: Value,
    pub steps: Vec<StepTemplate>,
}

/// Names in templates (template, namespace, step): what fits in a storage key and a
/// URL path segment.
fn check_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    match ok {
        true => Ok(()),
        false => {
            Err(Error::invalid(field, format!("{value:?} must be 1 to 128 letters, digits, '_', '-' or '.'")))
        }
    }
}

impl Template {
    /// Reads a template from YAML (JSON is YAML too) and checks it.
    pub fn parse(text: &str) -> Result<Template> {
        let value: Value = serde_yaml::from_str(text)
            .map_err(|e| Error::invalid("template", format!("is not YAML or JSON: {e}")))?;
        let template: Template = serde_json::from_value(value)
            .map_err(|e| Error::invalid("template", format!("does not have a template's shape: {e}")))?;
        template.validate()?;
        Ok(template)
    }

    /// Names well formed, at least one step, step names unique, every dependency a
    /// step of this template, no cycle, every step a handler, sane retry settings.
    pub fn validate(&self) -> Result<()> {
        check_name("name", &self.name)?;
        check_name("namespace_name", &self.namespace_name)?;
        check_name("version", &self.version)?;
        if self.steps.is_empty() {
            return Err(Error::invalid("steps", "a template needs at least one step"));
        }
        let mut names = BTreeSet::new();
        for step in &self.steps {
            check_name("steps.name", &step.name)?;
            if !names.insert(step.name.as_str()) {
                return Err(Error::invalid("steps", format!("two steps are named '{}'", step.name)));
            }
        }
        for step in &self.steps {
            let field = format!("steps.{}", step.name);
            for dep in &step.dependencies {
                if dep == &step.name {
                    return Err(Error::invalid(&field, "depends on itself"));
                }
                if !names.contains(dep.as_str()) {
                    return Err(Error::invalid(
                        &field,
                        format!("depends on '{dep}', which is not a step of this template"),
                    ));
                }
            }
            if step.handler.callable.trim().is_empty() {
                return Err(Error::invalid(&field, "handler.callable must name a handler"));
            }
            if step.retry.max_attempts == 0 || step.retry.max_attempts > 100 {
                return Err(Error::invalid(&field, "retry.max_attempts must be 1 to 100"));
            }
            if step.timeout_seconds.is_some_and(|t| t == 0 || t > 86_400 * 7) {
                return Err(Error::invalid(&field, "timeout_seconds must be 1 to 604800 (a week)"));
            }
            if let Some(config) = &step.batch_config {
                if step.step_type != StepType::Batchable {
                    return Err(Error::invalid(&field, "only a batchable step has a batch_config"));
                }
                if config.parallelism.is_some_and(|p| !(1..=MAX_PARALLELISM).contains(&p)) {
                    return Err(Error::invalid(
                        &format!("{field}.batch_config.parallelism"),
                        format_args!("must be 1 to {MAX_PARALLELISM}"),
                    ));
                }
            }
            if step.step_type == StepType::BatchWorker {
                let analyzers = step
                    .dependencies
                    .iter()
                    .filter(|d| {
                        self.steps.iter().any(|s| &s.name == *d && s.step_type == StepType::Batchable)
                    })
                    .count();
                if analyzers != 1 {
                    return Err(Error::invalid(
                        &field,
                        "a batch_worker step must depend on exactly one batchable step (the one that creates its batches)",
                    ));
                }
            }
        }
        if let Some(cycle) = crate::dag::find_cycle(&self.graph()) {
            return Err(Error::invalid(
                &format!("steps.{}", cycle[0]),
                format!("is on a dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
        Ok(())
    }

    pub fn graph(&self) -> Vec<(&str, &[String])> {
        self.steps.iter().map(|s| (s.name.as_str(), s.dependencies.as_slice())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIAMOND: &str = "
name: diamond
namespace_name: examples
version: 1.0.0
steps:
  - name: start
    handler: {callable: square}
  - name: left
    handler: {callable: add, initialization: {constant: 25}}
    dependencies: [start]
  - name: right
    handler: {callable: double}
    depends_on: [start]
    retry: {max_attempts: 5, backoff: linear, backoff_base_ms: 10}
  - name: end
    handler: {callable: average}
    dependencies: [left, right]
";

    #[test]
    fn upstreams_yaml_shape_reads_with_defaults() {
        let t = Template::parse(DIAMOND).unwrap();
        assert_eq!(
            (t.name.as_str(), t.namespace_name.as_str(), t.version.as_str()),
            ("diamond", "examples", "1.0.0")
        );
        assert_eq!(t.steps[1].handler.initialization["constant"], 25);
        assert_eq!(t.steps[2].dependencies, vec!["start"]);
        assert_eq!(t.steps[0].retry, Retry::default());
        assert_eq!(t.steps[2].retry.max_attempts, 5);
        let json =
            Template::parse(r#"{"name": "one", "steps": [{"name": "a", "handler": {"callable": "h"}}]}"#);
        assert_eq!(json.unwrap().namespace_name, "default");
    }

    fn rule(text: &str) -> String {
        Template::parse(text).unwrap_err().message
    }

    #[test]
    fn bad_templates_name_the_step_and_the_rule() {
        let unknown = "name: t\nsteps:\n - {name: a, handler: {callable: h}, dependencies: [zz]}";
        assert_eq!(rule(unknown), "steps.a: depends on 'zz', which is not a step of this template");
        let cycle = "name: t\nsteps:\n - {name: a, handler: {callable: h}, dependencies: [b]}\n - {name: b, handler: {callable: h}, dependencies: [a]}";
        assert!(rule(cycle).contains("dependency cycle: a -> b -> a"), "{}", rule(cycle));
        let twice =
            "name: t\nsteps:\n - {name: a, handler: {callable: h}}\n - {name: a, handler: {callable: h}}";
        assert_eq!(rule(twice), "steps: two steps are named 'a'");
        assert!(rule("name: t\nsteps: []").contains("at least one step"));
        assert!(rule("name: t\nsteps:\n - {name: a}").contains("template's shape"));
        assert!(rule("name: 'a/b'\nsteps:\n - {name: a, handler: {callable: h}}").contains("letters"));
        assert!(rule("name: t\nsteps:\n - {name: a, handler: {callable: h}, retry: {max_attempts: 0}}")
            .contains("max_attempts"));
        assert!(rule(": : :").contains("not YAML"));
    }

    #[test]
    fn backoff_grows_as_configured_and_is_capped() {
        let r = |backoff| Retry { backoff, backoff_base_ms: 100, max_backoff_ms: 1000, ..Retry::default() };
        let delays = |retry: Retry| (1..=6).map(|n| retry.delay_ms(n)).collect::<Vec<_>>();
        assert_eq!(delays(r(Backoff::None)), vec![0; 6]);
        assert_eq!(delays(r(Backoff::Linear)), vec![100, 200, 300, 400, 500, 600]);
        assert_eq!(delays(r(Backoff::Exponential)), vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(delays(r(Backoff::Fibonacci)), vec![100, 100, 200, 300, 500, 800]);
        assert_eq!(r(Backoff::Exponential).delay_ms(100), 1000);
    }
}
