//! Resonance kernels (seed 004's `anam_py.kernels`): the formulas of WIT `kernels`,
//! over row-major f32 matrices. Deterministic; sums in f64.

use crate::error::{Error, Result};
use crate::memory::principles::{MAX_TENSION, MIN_RESONANCE};

#[cfg(target_arch = "wasm32")]
mod wit;

/// Harmonics of a resonance kernel at most.
pub const MAX_HARMONICS: u32 = 64;
/// Modes of a harmonic field at most.
pub const MAX_MODES: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResonanceScore {
    pub value: f32,
    pub coherence: f32,
    pub ethical_tension: f32,
    pub nam_compliant: bool,
    pub is_valid: bool,
}

/// `values` as rows of `dimension`: checks the shape and that every value is finite.
fn rows<'a>(field: &str, values: &'a [f32], dimension: u32) -> Result<std::slice::ChunksExact<'a, f32>> {
    let d = dimension as usize;
    if d == 0 {
        return Err(Error::invalid("dimension", "must be at least 1"));
    }
    if values.is_empty() || !values.len().is_multiple_of(d) {
        return Err(Error::invalid(
            field,
            format_args!("must be one or more rows of {d} values, got {} values", values.len()),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(field, format_args!("row {} holds a value that is not finite", i / d)));
    }
    Ok(values.chunks_exact(d))
}

fn finite(field: &str, t: f64) -> Result<f64> {
    match t.is_finite() {
        true => Ok(t),
        false => Err(Error::invalid(field, "must be a finite number")),
    }
}

/// The harmonic sum `s(c, t)`, normalised by `sum 1/k` so it stays in [-1, 1].
fn harmonic_sum(c: f64, t: f64, harmonics: u32) -> f64 {
    let (mut sum, mut weight) = (0.0, 0.0);
    for k in 1..=harmonics {
        let k = f64::from(k);
        sum += (k * std::f64::consts::PI * c + (k - 1.0) * t).sin() / k;
        weight += 1.0 / k;
    }
    sum / weight
}

/// The resonance score of a batch (see WIT `kernels.resonance-score`).
pub fn resonance(embeddings: &[f32], dimension: u32, harmonics: u32, t: f64) -> Result<ResonanceScore> {
    if !(1..=MAX_HARMONICS).contains(&harmonics) {
        return Err(Error::invalid(
            "n_harmonics",
            format_args!("must be in 1..={MAX_HARMONICS}, got {harmonics}"),
        ));
    }
    let t = finite("t", t)?;
    let mut sum = vec![0.0f64; dimension as usize];
    let mut n = 0usize;
    for (i, row) in rows("embeddings", embeddings, dimension)?.enumerate() {
        let norm = row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(Error::invalid(
                "embeddings",
                format_args!("row {i} is all zeros (it has no direction)"),
            ));
        }
        for (s, v) in sum.iter_mut().zip(row) {
            *s += f64::from(*v) / norm;
        }
        n += 1;
    }
    let coherence = match n {
        1 => 1.0,
        _ => {
            let squared: f64 = sum.iter().map(|s| s * s).sum();
            ((squared - n as f64) / (n as f64 * (n as f64 - 1.0))).clamp(-1.0, 1.0)
        }
    };
    let value = (coherence * (1.0 + 0.1 * harmonic_sum(coherence, t, harmonics))).clamp(0.0, 1.0);
    let tension = (1.0 - coherence) / 2.0;
    let nam_compliant = value >= MIN_RESONANCE;
    Ok(ResonanceScore {
        value: value as f32,
        coherence: coherence as f32,
        ethical_tension: tension as f32,
        nam_compliant,
        is_valid: nam_compliant && tension <= MAX_TENSION,
    })
}

/// The harmonic field of `positions` (see WIT `kernels.harmonic-field`), row-major
/// `rows x modes`.
pub fn harmonic_field(positions: &[f32], dimension: u32, modes: u32, t: f64) -> Result<Vec<f32>> {
    if !(1..=MAX_MODES).contains(&modes) {
        return Err(Error::invalid("n_modes", format_args!("must be in 1..={MAX_MODES}, got {modes}")));
    }
    let t = finite("t", t)?;
    let d = dimension as usize;
    let rows = rows("positions", positions, dimension)?;
    let scale = 1.0 / (d as f64).sqrt();
    let waves: Vec<Vec<f32>> = (0..modes)
        .map(|m| {
            (0..d)
                .map(|j| (std::f64::consts::PI * f64::from(m + 1) * (j as f64 + 0.5) / d as f64).cos() as f32)
                .collect()
        })
        .collect();
    let mut field = Vec::with_capacity(positions.len() / d * modes as usize);
    for row in rows {
        for (m, wave) in waves.iter().enumerate() {
            // Four partial sums: the compiler vectorises them (simd128 on wasm).
            let mut acc = [0.0f32; 4];
            let (head, tail) = (row.chunks_exact(4), row.len() / 4 * 4);
            for (p, k) in head.zip(wave.chunks_exact(4)) {
                for l in 0..4 {
                    acc[l] += p[l] * k[l];
                }
            }
            let mut dot = f64::from(acc.iter().sum::<f32>());
            for j in tail..d {
                dot += f64::from(row[j]) * f64::from(wave[j]);
            }
            field.push(((m as f64 + 1.0) * t - dot * scale).cos() as f32);
        }
    }
    Ok(field)
}

/// The ethical tension of an action vector (see WIT `kernels.action-tension`).
pub fn action_tension(action: &[f32]) -> Result<f32> {
    if action.is_empty() {
        return Err(Error::invalid("action_vector", "must hold at least one value"));
    }
    if action.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("action_vector", "must hold finite values only"));
    }
    let total: f64 = action.iter().map(|v| f64::from(v.abs())).sum();
    let negative: f64 = action.iter().map(|v| f64::from((-v).max(0.0))).sum();
    Ok(if total == 0.0 { 0.0 } else { (negative / total) as f32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() < 1e-5
    }

    #[test]
    fn resonance_by_hand() {
        // Two equal rows: coherence 1, sin(pi) = 0, value 1, no tension.
        let s = resonance(&[1.0, 0.0, 1.0, 0.0], 2, 1, 0.0).unwrap();
        assert!(close(s.value, 1.0) && close(s.coherence, 1.0) && close(s.ethical_tension, 0.0));
        assert!(s.nam_compliant && s.is_valid);
        // Orthogonal rows: coherence 0, value 0, tension 0.5.
        let s = resonance(&[1.0, 0.0, 0.0, 3.0], 2, 8, 1.0).unwrap();
        assert!(close(s.value, 0.0) && close(s.coherence, 0.0) && close(s.ethical_tension, 0.5));
        assert!(!s.nam_compliant && !s.is_valid);
        // 45 degrees: c = 1/sqrt(2); one harmonic is the store's resonance of c.
        let c = std::f64::consts::FRAC_1_SQRT_2;
        let s = resonance(&[1.0, 0.0, 1.0, 1.0], 2, 1, 5.0).unwrap();
        assert!(close(s.coherence, c) && close(s.value, c * (1.0 + 0.1 * (std::f64::consts::PI * c).sin())));
        assert!(close(s.ethical_tension, (1.0 - c) / 2.0) && s.is_valid);
        assert!(close(s.value, f64::from(crate::memory::vector::resonance_of_cosine(c as f32))));
        // Two harmonics at t = 1: s = (sin(pi c) + sin(2 pi c + 1) / 2) / 1.5.
        let h = ((std::f64::consts::PI * c).sin() + (2.0 * std::f64::consts::PI * c + 1.0).sin() / 2.0) / 1.5;
        assert!(close(resonance(&[1.0, 0.0, 1.0, 1.0], 2, 2, 1.0).unwrap().value, c * (1.0 + 0.1 * h)));
        // One row agrees with itself.
        assert!(close(resonance(&[0.3, -2.0, 9.0], 3, 8, 0.0).unwrap().coherence, 1.0));
    }

    #[test]
    fn harmonic_field_by_hand() {
        // D = 2: k_0 = [cos(pi/4), cos(3pi/4)], k_1 = [0, 0] (to rounding).
        let f = harmonic_field(&[1.0, 0.0], 2, 2, 0.0).unwrap();
        assert!(close(f[0], (-0.5f64).cos()) && close(f[1], 1.0), "{f:?}");
        let f = harmonic_field(&[1.0, 0.0, 0.0, 0.0], 2, 2, 1.0).unwrap();
        assert_eq!(f.len(), 4);
        assert!(close(f[0], 0.5f64.cos()) && close(f[1], 2.0f64.cos()));
        assert!(close(f[2], 1.0f64.cos()) && close(f[3], 2.0f64.cos()));
        // Long rows take the vectorised path and agree with the plain sum.
        let p: Vec<f32> = (0..770).map(|j| ((j as f32) * 0.01).sin()).collect();
        let f = harmonic_field(&p, 770, 3, 0.5).unwrap();
        for (m, got) in f.iter().enumerate() {
            let dot: f64 = (0..770)
                .map(|j| {
                    f64::from(p[j])
                        * (std::f64::consts::PI * (m as f64 + 1.0) * (j as f64 + 0.5) / 770.0).cos()
                })
                .sum();
            assert!(close(*got, ((m as f64 + 1.0) * 0.5 - dot / 770f64.sqrt()).cos()), "mode {m}");
        }
    }

    #[test]
    fn action_tension_by_hand() {
        assert!(close(action_tension(&[0.1, 0.2, -0.05, 0.15]).unwrap(), 0.1));
        assert!(close(action_tension(&[-1.0, -1.0]).unwrap(), 1.0));
        assert!(close(action_tension(&[0.0, 0.0]).unwrap(), 0.0));
    }

    #[test]
    fn bad_input_is_named() {
        let msg = |r: Result<ResonanceScore>| r.unwrap_err().to_string();
        assert!(msg(resonance(&[1.0, 2.0, 3.0], 2, 1, 0.0)).contains("rows of 2"));
        assert!(msg(resonance(&[1.0, 0.0, 0.0, 0.0], 2, 1, 0.0)).contains("row 1 is all zeros"));
        assert!(msg(resonance(&[f32::NAN, 1.0], 2, 1, 0.0)).contains("not finite"));
        assert!(msg(resonance(&[1.0], 1, 0, 0.0)).contains("n_harmonics"));
        assert!(msg(resonance(&[1.0], 1, 1, f64::INFINITY)).contains("t:"));
        assert!(msg(resonance(&[], 4, 1, 0.0)).contains("one or more rows"));
        assert!(harmonic_field(&[1.0], 1, 0, 0.0).unwrap_err().to_string().contains("n_modes"));
        assert!(harmonic_field(&[1.0], 0, 1, 0.0).unwrap_err().to_string().contains("dimension"));
        assert!(action_tension(&[]).unwrap_err().to_string().contains("at least one"));
        assert!(action_tension(&[f32::INFINITY]).is_err());
    }
}
