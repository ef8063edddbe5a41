//! The `kernels` interface over [`crate::memory::kernels`].

use crate::blob::{decode_f32_pieces_into, encode};
use crate::memory::kernels as k;
use crate::wit::exports::agentcell::core::kernels as wk;
use crate::wit::{wit_result, wit_types, Component};

fn matrix(field: &str, pieces: &[String]) -> Result<Vec<f32>, wit_types::Error> {
    let mut values = Vec::new();
    wit_result(decode_f32_pieces_into(field, pieces, &mut values))?;
    Ok(values)
}

impl wk::Guest for Component {
    fn resonance(
        embeddings: Vec<String>,
        dimension: u32,
        n_harmonics: u32,
        t: f64,
    ) -> Result<wk::ResonanceScore, wit_types::Error> {
        let values = matrix("embeddings", &embeddings)?;
        let s = wit_result(k::resonance(&values, dimension, n_harmonics, t))?;
        Ok(wk::ResonanceScore {
            value: s.value,
            coherence: s.coherence,
            ethical_tension: s.ethical_tension,
            nam_compliant: s.nam_compliant,
            is_valid: s.is_valid,
        })
    }

    fn harmonic_field(
        positions: Vec<String>,
        dimension: u32,
        n_modes: u32,
        t: f64,
    ) -> Result<String, wit_types::Error> {
        let values = matrix("positions", &positions)?;
        let field = wit_result(k::harmonic_field(&values, dimension, n_modes, t))?;
        let bytes: Vec<u8> = field.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(encode(&bytes))
    }

    fn action_tension(action: Vec<String>) -> Result<f32, wit_types::Error> {
        let values = matrix("action_vector", &action)?;
        wit_result(k::action_tension(&values))
    }
}
