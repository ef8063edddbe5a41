//! The `kernels` interface over [`crate::memory::kernels`].

use crate::blob::{decode_f32_pieces_into, encode_f32};
use crate::memory::kernels as k;
use crate::wit::exports::agentcell::core::kernels as wk;
use crate::wit::{wit_result, wit_types, Component};

fn matrix(field: &str, pieces: &[String]) -> Result<Vec<f32>, wit_types::Error> {
    let mut values = Vec::new();
    wit_result(decode_f32_pieces_into(field, pieces, &mut values))?;
    Ok(values)
}

/// One caller's batch in parts (WIT `kernels.resonance-batch`), with the buffer its
/// pieces are decoded into (reused from call to call).
pub struct BatchResource {
    batch: std::cell::RefCell<k::ResonanceBatch>,
    scratch: std::cell::RefCell<Vec<f32>>,
}

impl wk::GuestResonanceBatch for BatchResource {
    fn start(dimension: u32) -> Result<wk::ResonanceBatch, wit_types::Error> {
        let batch = wit_result(k::ResonanceBatch::new(dimension))?;
        Ok(wk::ResonanceBatch::new(BatchResource { batch: batch.into(), scratch: Vec::new().into() }))
    }

    fn add(&self, embeddings: Vec<String>) -> Result<u32, wit_types::Error> {
        let mut scratch = self.scratch.borrow_mut();
        wit_result(decode_f32_pieces_into("embeddings", &embeddings, &mut scratch))?;
        let mut batch = self.batch.borrow_mut();
        wit_result(batch.add(&scratch))?;
        Ok(u32::try_from(batch.rows()).unwrap_or(u32::MAX))
    }

    fn score(&self, n_harmonics: u32, t: f64) -> Result<wk::ResonanceScore, wit_types::Error> {
        wit_result(self.batch.borrow().score(n_harmonics, t)).map(score_to)
    }
}

/// One caller's harmonic field in parts (WIT `kernels.harmonic-batch`).
pub struct HarmonicResource {
    dimension: u32,
    modes: u32,
    t: f64,
    rows: std::cell::Cell<usize>,
    scratch: std::cell::RefCell<Vec<f32>>,
}

impl wk::GuestHarmonicBatch for HarmonicResource {
    fn start(dimension: u32, n_modes: u32, t: f64) -> Result<wk::HarmonicBatch, wit_types::Error> {
        wit_result(k::check_field(dimension, n_modes, t))?;
        let rows = std::cell::Cell::new(0);
        let scratch = std::cell::RefCell::new(Vec::new());
        Ok(wk::HarmonicBatch::new(HarmonicResource { dimension, modes: n_modes, t, rows, scratch }))
    }

    fn add(&self, positions: Vec<String>) -> Result<String, wit_types::Error> {
        let mut scratch = self.scratch.borrow_mut();
        wit_result(decode_f32_pieces_into("positions", &positions, &mut scratch))?;
        let field =
            wit_result(k::harmonic_rows(&scratch, self.dimension, self.modes, self.t, self.rows.get()))?;
        self.rows.set(self.rows.get() + scratch.len() / self.dimension as usize);
        Ok(encode_f32(&field))
    }
}

fn score_to(s: k::ResonanceScore) -> wk::ResonanceScore {
    wk::ResonanceScore {
        value: s.value,
        coherence: s.coherence,
        ethical_tension: s.ethical_tension,
        nam_compliant: s.nam_compliant,
        is_valid: s.is_valid,
    }
}

impl wk::Guest for Component {
    type ResonanceBatch = BatchResource;
    type HarmonicBatch = HarmonicResource;

    fn resonance(
        embeddings: Vec<String>,
        dimension: u32,
        n_harmonics: u32,
        t: f64,
    ) -> Result<wk::ResonanceScore, wit_types::Error> {
        let values = matrix("embeddings", &embeddings)?;
        wit_result(k::resonance(&values, dimension, n_harmonics, t)).map(score_to)
    }

    fn harmonic_field(
        positions: Vec<String>,
        dimension: u32,
        n_modes: u32,
        t: f64,
    ) -> Result<String, wit_types::Error> {
        let values = matrix("positions", &positions)?;
        let field = wit_result(k::harmonic_field(&values, dimension, n_modes, t))?;
        Ok(encode_f32(&field))
    }

    fn action_tension(action: Vec<String>) -> Result<f32, wit_types::Error> {
        let values = matrix("action_vector", &action)?;
        wit_result(k::action_tension(&values))
    }
}
