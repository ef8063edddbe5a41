//! The `principles` interface over [`crate::memory::principles`].

use crate::wit::exports::agentcell::core::principles as wp;
use crate::wit::{wit_result, wit_types, Component};

fn wit_check(c: crate::memory::principles::Check) -> wp::Check {
    wp::Check {
        axiom_id: c.axiom_id,
        is_valid: c.is_valid,
        resonance_score: c.resonance_score,
        ethical_tension: c.ethical_tension,
        reasons: c.reasons,
    }
}

fn registry(json: &str) -> Result<crate::memory::principles::Registry, wit_types::Error> {
    wit_result(crate::memory::principles::Registry::parse(json))
}

impl wp::Guest for Component {
    fn default_registry() -> String {
        crate::memory::principles::default_registry_json().into()
    }
    fn normalize_registry(registry_json: String) -> Result<String, wit_types::Error> {
        Ok(registry(&registry_json)?.to_json())
    }
    fn validate(
        registry_json: String,
        axiom_id: String,
        context: Vec<String>,
    ) -> Result<wp::Check, wit_types::Error> {
        wit_result(registry(&registry_json)?.validate(&axiom_id, &context)).map(wit_check)
    }
    fn validate_batch(
        registry_json: String,
        ids: Vec<String>,
        context: Vec<String>,
    ) -> Result<wp::BatchCheck, wit_types::Error> {
        let b = wit_result(registry(&registry_json)?.validate_batch(&ids, &context))?;
        Ok(wp::BatchCheck {
            results: b.results.into_iter().map(wit_check).collect(),
            batch_valid: b.batch_valid,
            overall_resonance: b.overall_resonance,
            overall_tension: b.overall_tension,
        })
    }
    fn resonance(registry_json: String, ids: Vec<String>) -> Result<f64, wit_types::Error> {
        wit_result(registry(&registry_json)?.resonance(&ids))
    }
    fn tension(
        registry_json: String,
        proposed: Vec<String>,
        context: Vec<String>,
    ) -> Result<f64, wit_types::Error> {
        wit_result(registry(&registry_json)?.tension(&proposed, &context))
    }
    fn recommend(
        registry_json: String,
        text: String,
        limit: u32,
    ) -> Result<Vec<(String, f64)>, wit_types::Error> {
        Ok(registry(&registry_json)?.recommend(&text, limit as usize))
    }
}
