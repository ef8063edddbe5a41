//! Flows, agents and executions as upstream's API has them (field names, defaults and
//! enums of `src/core/models.py`), and the rules a flow definition must keep.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A JSON object.
pub type Object = Map<String, Value>;

/// What a node or an agent does (upstream's `AgentType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentType {
    Input,
    Processor,
    Output,
    Conditional,
}

/// One step of a flow: `agent_id` runs it (none: the node passes its input on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowNode {
    pub id: String,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(rename = "type")]
    pub node_type: AgentType,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub config: Object,
    #[serde(default)]
    pub conditions: Option<Value>,
}

fn default_version() -> String {
    "1.0.0".into()
}

/// A flow: nodes whose `depends_on` make a DAG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDefinition {
    pub flow_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_version")]
    pub version: String,
    pub nodes: Vec<FlowNode>,
    pub entry_point: String,
    #[serde(default)]
    pub exit_points: Vec<String>,
    #[serde(default)]
    pub metadata: Object,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// A registered agent (upstream's `AgentInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub agent_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub endpoint: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub agent_type: AgentType,
    #[serde(default = "yes", alias = "active")]
    pub is_active: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Upstream's `ExecutionStatus`, for executions and their nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// A flow definition broke a rule: which node (when one is at fault) and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInvalid {
    pub node: Option<String>,
    pub rule: String,
}

impl std::fmt::Display for FlowInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(node) => write!(f, "node '{node}': {}", self.rule),
            None => write!(f, "{}", self.rule),
        }
    }
}

/// Flow and agent ids: what the JS SDK accepts (`^[A-Za-z0-9_-]{1,100}$`), so every id
/// is also safe in a path and a storage key.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match ok {
        true => Ok(()),
        false => Err(format!("{what} {id:?} must be 1 to 100 letters, digits, '_' or '-'")),
    }
}

fn invalid(node: Option<&str>, rule: impl Into<String>) -> FlowInvalid {
    FlowInvalid { node: node.map(str::to_string), rule: rule.into() }
}

impl FlowDefinition {
    /// Upstream's rules (every dependency exists, the graph is acyclic, entry and exit
    /// points are nodes, every agent is registered) and ours (ids well formed and
    /// unique, at least one node). `agent_known` says whether an agent id is registered.
    pub fn validate(&self, agent_known: impl Fn(&str) -> bool) -> Result<(), FlowInvalid> {
        check_id("flow_id", &self.flow_id).map_err(|r| invalid(None, r))?;
        if self.nodes.is_empty() {
            return Err(invalid(None, "a flow needs at least one node"));
        }
        let mut ids = BTreeSet::new();
        for node in &self.nodes {
            check_id("id", &node.id).map_err(|r| invalid(Some(&node.id), r))?;
            if !ids.insert(node.id.as_str()) {
                return Err(invalid(Some(&node.id), "two nodes have this id"));
            }
        }
        for node in &self.nodes {
            for dep in &node.depends_on {
                if !ids.contains(dep.as_str()) {
                    return Err(invalid(
                        Some(&node.id),
                        format!("depends on '{dep}', which is not a node of this flow"),
                    ));
                }
                if dep == &node.id {
                    return Err(invalid(Some(&node.id), "depends on itself"));
                }
            }
            if let Some(agent) = &node.agent_id {
                if !agent_known(agent) {
                    return Err(invalid(Some(&node.id), format!("agent '{agent}' is not registered")));
                }
            }
        }
        if let Some(cycle) = self.find_cycle() {
            return Err(invalid(
                Some(&cycle[0]),
                format!("is on a dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
        if !ids.contains(self.entry_point.as_str()) {
            return Err(invalid(
                None,
                format!("entry_point '{}' is not a node of this flow", self.entry_point),
            ));
        }
        for exit in &self.exit_points {
            if !ids.contains(exit.as_str()) {
                return Err(invalid(None, format!("exit point '{exit}' is not a node of this flow")));
            }
        }
        Ok(())
    }

    /// A dependency cycle, as node ids from one back to itself, if there is one.
    fn find_cycle(&self) -> Option<Vec<String>> {
        let graph: Vec<(&str, &[String])> =
            self.nodes.iter().map(|n| (n.id.as_str(), n.depends_on.as_slice())).collect();
        crate::dag::find_cycle(&graph)
    }

    pub fn node(&self, id: &str) -> Option<&FlowNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The nodes whose outputs make the result: the exit points, or (when none are
    /// named) the nodes nothing depends on.
    pub fn result_nodes(&self) -> Vec<&str> {
        if !self.exit_points.is_empty() {
            return self.exit_points.iter().map(String::as_str).collect();
        }
        let depended: BTreeSet<&str> =
            self.nodes.iter().flat_map(|n| n.depends_on.iter().map(String::as_str)).collect();
        self.nodes.iter().map(|n| n.id.as_str()).filter(|id| !depended.contains(id)).collect()
    }
}

impl AgentInfo {
    /// Our rules for a registration (upstream answers 500 to most bad ones).
    pub fn validate(&self) -> Result<(), String> {
        check_id("agent_id", &self.agent_id)?;
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        let scheme_ok = ["http://", "https://", "local://"].iter().any(|s| self.endpoint.starts_with(s));
        if !scheme_ok || self.endpoint.len() > 2048 {
            return Err(format!(
                "endpoint {:?} must be an http:// or https:// URL (local:// for an in-process agent)",
                self.endpoint
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow(nodes: Value) -> FlowDefinition {
        serde_json::from_value(
            json!({"flow_id": "f", "name": "F", "nodes": nodes, "entry_point": "a", "exit_points": []}),
        )
        .unwrap()
    }

    fn rule(f: &FlowDefinition) -> String {
        f.validate(|a| a != "ghost").unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_upstreams() {
        let f = flow(json!([{"id": "a", "type": "input"}]));
        assert_eq!(f.version, "1.0.0");
        assert!(f.nodes[0].depends_on.is_empty() && f.nodes[0].agent_id.is_none());
        assert!(f.validate(|_| true).is_ok());
    }

    #[test]
    fn an_unknown_dependency_names_the_node() {
        let f =
            flow(json!([{"id": "a", "type": "input"}, {"id": "b", "type": "output", "depends_on": ["zz"]}]));
        assert_eq!(rule(&f), "node 'b': depends on 'zz', which is not a node of this flow");
    }

    #[test]
    fn a_cycle_is_named_with_its_path() {
        let f = flow(json!([
            {"id": "a", "type": "input"},
            {"id": "b", "type": "processor", "depends_on": ["a", "c"]},
            {"id": "c", "type": "processor", "depends_on": ["b"]},
        ]));
        let r = rule(&f);
        assert!(r.contains("dependency cycle") && r.contains("b -> c -> b"), "{r}");
        let selfish = flow(json!([{"id": "a", "type": "input", "depends_on": ["a"]}]));
        assert_eq!(rule(&selfish), "node 'a': depends on itself");
    }

    #[test]
    fn entry_exit_agents_and_ids_are_checked() {
        let mut f = flow(json!([{"id": "a", "type": "input"}]));
        f.entry_point = "nope".into();
        assert_eq!(rule(&f), "entry_point 'nope' is not a node of this flow");
        let mut f = flow(json!([{"id": "a", "type": "input"}]));
        f.exit_points = vec!["x".into()];
        assert_eq!(rule(&f), "exit point 'x' is not a node of this flow");
        let f = flow(json!([{"id": "a", "type": "input", "agent_id": "ghost"}]));
        assert_eq!(rule(&f), "node 'a': agent 'ghost' is not registered");
        let f = flow(json!([{"id": "a", "type": "input"}, {"id": "a", "type": "input"}]));
        assert_eq!(rule(&f), "node 'a': two nodes have this id");
        let f = flow(json!([{"id": "a/b", "type": "input"}]));
        assert!(rule(&f).contains("letters, digits"));
        assert_eq!(rule(&flow(json!([]))), "a flow needs at least one node");
    }

    #[test]
    fn result_nodes_default_to_the_sinks() {
        let f = flow(json!([
            {"id": "a", "type": "input"},
            {"id": "b", "type": "processor", "depends_on": ["a"]},
            {"id": "c", "type": "processor", "depends_on": ["a"]},
        ]));
        assert_eq!(f.result_nodes(), vec!["b", "c"]);
    }

    #[test]
    fn agent_endpoints_must_be_http() {
        let mut a: AgentInfo = serde_json::from_value(json!({
            "agent_id": "x", "name": "X", "endpoint": "file:///etc/passwd", "agent_type": "processor"
        }))
        .unwrap();
        assert!(a.validate().unwrap_err().contains("http://"));
        a.endpoint = "http://127.0.0.1:9/".into();
        assert!(a.validate().is_ok() && a.is_active);
    }
}
