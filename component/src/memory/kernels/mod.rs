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

/// `values` as rows of `dimension`, the first of them row `first` of the caller's batch
/// (errors name rows by that number): checks the shape and that every value is finite.
fn rows<'a>(
    field: &str,
    values: &'a [f32],
    dimension: u32,
    first: usize,
) -> Result<std::slice::ChunksExact<'a, f32>> {
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
        return Err(Error::invalid(
            field,
            format_args!("row {} holds a value that is not finite", first + i / d),
        ));
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
    check_harmonics(harmonics)?;
    finite("t", t)?;
    let mut batch = ResonanceBatch::new(dimension)?;
    batch.add(embeddings)?;
    batch.score(harmonics, t)
}

fn check_harmonics(harmonics: u32) -> Result<()> {
    if !(1..=MAX_HARMONICS).contains(&harmonics) {
        return Err(Error::invalid(
            "n_harmonics",
            format_args!("must be in 1..={MAX_HARMONICS}, got {harmonics}"),
        ));
    }
    Ok(())
}

/// A batch of rows taken in as many parts as the caller sends (see WIT
/// `kernels.resonance-batch`): each row is folded into the sum of unit rows as it
/// arrives, so nothing but that sum and one unfinished row is kept.
pub struct ResonanceBatch {
    sum: Vec<f64>,
    /// The start of a row whose end has not arrived yet.
    partial: Vec<f32>,
    rows: usize,
}

impl ResonanceBatch {
    /// An empty batch of rows of `dimension` (1..=65536).
    pub fn new(dimension: u32) -> Result<Self> {
        if !(1..=65536).contains(&dimension) {
            return Err(Error::invalid("dimension", format_args!("must be in 1..=65536, got {dimension}")));
        }
        let d = dimension as usize;
        Ok(Self { sum: vec![0.0; d], partial: Vec::with_capacity(d), rows: 0 })
    }

    /// Rows taken so far (whole ones).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Takes `values`, row after row; a row may begin in one call and end in the next.
    /// A row that is not finite or all zeros is refused, and the batch is then as it
    /// was before the call (rows are checked before any is folded in).
    pub fn add(&mut self, values: &[f32]) -> Result<()> {
        let d = self.sum.len();
        let joined: Vec<f32>;
        let data: &[f32] = if self.partial.is_empty() {
            values
        } else {
            joined = [&self.partial[..], values].concat();
            &joined
        };
        let whole = data.chunks_exact(d);
        let tail = whole.remainder();
        if tail.iter().any(|v| !v.is_finite()) {
            return Err(not_finite(self.rows + whole.len()));
        }
        let inverses = whole
            .clone()
            .enumerate()
            .map(|(i, row)| inverse_norm(self.rows + i, row))
            .collect::<Result<Vec<f64>>>()?;
        self.rows += inverses.len();
        for (row, inv) in whole.zip(inverses) {
            fold(&mut self.sum, row, inv);
        }
        self.partial = tail.to_vec();
        Ok(())
    }

    /// The score of the rows taken (see WIT `kernels.resonance-score`).
    pub fn score(&self, harmonics: u32, t: f64) -> Result<ResonanceScore> {
        check_harmonics(harmonics)?;
        let t = finite("t", t)?;
        if self.rows == 0 || !self.partial.is_empty() {
            return Err(Error::invalid(
                "embeddings",
                format_args!(
                    "must be one or more rows of {} values, got {} values",
                    self.sum.len(),
                    self.rows * self.sum.len() + self.partial.len()
                ),
            ));
        }
        let n = self.rows as f64;
        let coherence = match self.rows {
            1 => 1.0,
            _ => {
                let squared: f64 = self.sum.iter().map(|s| s * s).sum();
                ((squared - n) / (n * (n - 1.0))).clamp(-1.0, 1.0)
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
}

fn not_finite(row: usize) -> Error {
    Error::invalid("embeddings", format_args!("row {row} holds a value that is not finite"))
}

/// `1 / |row|` of row number `i`, refusing a row that is not finite or all zeros.
fn inverse_norm(i: usize, row: &[f32]) -> Result<f64> {
    if row.iter().any(|v| !v.is_finite()) {
        return Err(not_finite(i));
    }
    match norm(row) {
        0.0 => Err(Error::invalid("embeddings", format_args!("row {i} is all zeros (it has no direction)"))),
        n => Ok(1.0 / n),
    }
}

/// `|row|`: the SIMD f32 dot product, or in f64 when f32 underflows or overflows.
fn norm(row: &[f32]) -> f64 {
    let fast = f64::from(crate::memory::vector::dot(row, row));
    if fast > 1e-30 && fast.is_finite() {
        fast.sqrt()
    } else {
        row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt()
    }
}

/// `sum += row * inv`, lane by lane (independent lanes: vectorised).
fn fold(sum: &mut [f64], row: &[f32], inv: f64) {
    for (s, v) in sum.iter_mut().zip(row) {
        *s += f64::from(*v) * inv;
    }
}

/// The harmonic field of `positions` (see WIT `kernels.harmonic-field`), row-major
/// `rows x modes`.
pub fn harmonic_field(positions: &[f32], dimension: u32, modes: u32, t: f64) -> Result<Vec<f32>> {
    harmonic_rows(positions, dimension, modes, t, 0)
}

/// The dot products of `row` with four vectors of its length, in one pass over `row`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn dot4(row: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
    use core::arch::wasm32::*;
    let n = row.len();
    let mut acc = [f32x4_splat(0.0); 4];
    for o in (0..n / 4).map(|c| c * 4) {
        // SAFETY: o + 4 <= n, every vector has n values, and wasm loads need no alignment.
        unsafe {
            let x = v128_load(row.as_ptr().add(o) as *const v128);
            for (lane, v) in acc.iter_mut().zip(w) {
                *lane = f32x4_add(*lane, f32x4_mul(x, v128_load(v.as_ptr().add(o) as *const v128)));
            }
        }
    }
    let mut out = [0.0f32; 4];
    for ((slot, lane), v) in out.iter_mut().zip(acc).zip(w) {
        *slot = (f32x4_extract_lane::<0>(lane) + f32x4_extract_lane::<1>(lane))
            + (f32x4_extract_lane::<2>(lane) + f32x4_extract_lane::<3>(lane));
        for j in n / 4 * 4..n {
            *slot += row[j] * v[j];
        }
    }
    out
}

/// The dot products of `row` with four vectors of its length.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn dot4(row: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
    w.map(|v| crate::memory::vector::dot(row, v))
}

/// Checks a harmonic field's modes, time and dimension (1..=1024, finite, 1..=65536).
pub fn check_field(dimension: u32, modes: u32, t: f64) -> Result<()> {
    if !(1..=MAX_MODES).contains(&modes) {
        return Err(Error::invalid("n_modes", format_args!("must be in 1..={MAX_MODES}, got {modes}")));
    }
    finite("t", t)?;
    if !(1..=65536).contains(&dimension) {
        return Err(Error::invalid("dimension", format_args!("must be in 1..=65536, got {dimension}")));
    }
    Ok(())
}

/// `harmonic_field` of rows that begin at row `first` of the caller's batch.
pub fn harmonic_rows(
    positions: &[f32],
    dimension: u32,
    modes: u32,
    t: f64,
    first: usize,
) -> Result<Vec<f32>> {
    check_field(dimension, modes, t)?;
    let d = dimension as usize;
    let rows = rows("positions", positions, dimension, first)?;
    let scale = 1.0 / (d as f64).sqrt();
    let waves = wave_vectors(d, modes);
    let mut field = Vec::with_capacity(positions.len() / d * modes as usize);
    let waves: Vec<&[f32]> = waves.chunks_exact(d).collect();
    for row in rows {
        // Four modes at a time: each load of the row serves four products.
        let mut m = 0;
        for group in waves.chunks(4) {
            let dots = match group {
                [a, b, c, e] => dot4(row, [a, b, c, e]),
                _ => {
                    let mut dots = [0.0; 4];
                    for (slot, wave) in dots.iter_mut().zip(group) {
                        *slot = crate::memory::vector::dot(row, wave);
                    }
                    dots
                }
            };
            for dot in &dots[..group.len()] {
                field.push(((m as f64 + 1.0) * t - f64::from(*dot) * scale).cos() as f32);
                m += 1;
            }
        }
    }
    Ok(field)
}

/// The DCT-II wave vectors `k_m`, mode after mode, of the last shape asked for: a host
/// sending a big batch in parts asks for the same ones on every call, and making them
/// costs `modes x dimension` cosines (as much as the field of ~100 rows).
fn wave_vectors(d: usize, modes: u32) -> std::rc::Rc<Vec<f32>> {
    /// The waves of one shape: dimension, modes, and the vectors.
    type Waves = (usize, u32, std::rc::Rc<Vec<f32>>);
    thread_local! {
        static LAST: std::cell::RefCell<Option<Waves>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((ld, lm, waves)) = last.as_ref() {
            if (*ld, *lm) == (d, modes) {
                return waves.clone();
            }
        }
        let waves: std::rc::Rc<Vec<f32>> = std::rc::Rc::new(
            (0..modes)
                .flat_map(|m| {
                    (0..d).map(move |j| {
                        (std::f64::consts::PI * f64::from(m + 1) * (j as f64 + 0.5) / d as f64).cos() as f32
                    })
                })
                .collect(),
        );
        *last = Some((d, modes, waves.clone()));
        waves
    })
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

    /// A batch sent in parts, split anywhere (mid-row too), scores as the whole; a
    /// refused part leaves the batch as it was.
    #[test]
    fn a_batch_in_parts_scores_as_the_whole() {
        let values: Vec<f32> = (0..7 * 5).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let whole = resonance(&values, 5, 8, 0.5).unwrap();
        for cut in [1, 4, 5, 12, 34] {
            let mut batch = ResonanceBatch::new(5).unwrap();
            batch.add(&values[..cut]).unwrap();
            let refused = batch.add(&[f32::NAN; 5]).unwrap_err();
            assert!(refused.to_string().contains("not finite"), "{refused}");
            batch.add(&values[cut..]).unwrap();
            assert_eq!(batch.rows(), 7);
            let parts = batch.score(8, 0.5).unwrap();
            assert!(
                (parts.value - whole.value).abs() < 1e-6 && (parts.coherence - whole.coherence).abs() < 1e-6
            );
        }
        // A field's rows in parts are named by their place in the whole batch.
        let e = harmonic_rows(&[1.0, f32::NAN], 1, 1, 0.0, 40).unwrap_err();
        assert!(e.to_string().contains("row 41 holds"), "{e}");
        assert_eq!(
            harmonic_rows(&values[5..], 5, 2, 0.5, 1).unwrap(),
            harmonic_field(&values, 5, 2, 0.5).unwrap()[2..]
        );
        let mut half = ResonanceBatch::new(5).unwrap();
        half.add(&values[..7]).unwrap();
        assert!(half.score(8, 0.5).unwrap_err().to_string().contains("got 7 values"));
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
