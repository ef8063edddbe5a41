//! Vector arithmetic for similarity search: the dot product is the hot loop of every
//! search, written with wasm SIMD (simd128, four accumulators) in the component and
//! plain Rust (auto-vectorised) natively.

use crate::error::{Error, Result};

/// Dot product of two equal-length slices.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    use core::arch::wasm32::*;
    let n = a.len().min(b.len());
    let chunks = n / 16;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [f32x4_splat(0.0); 4];
    for i in 0..chunks {
        let o = i * 16;
        // SAFETY: o + 16 <= n, and wasm loads need no alignment.
        unsafe {
            for (j, lane) in acc.iter_mut().enumerate() {
                let x = v128_load(pa.add(o + 4 * j) as *const v128);
                let y = v128_load(pb.add(o + 4 * j) as *const v128);
                *lane = f32x4_add(*lane, f32x4_mul(x, y));
            }
        }
    }
    let s = f32x4_add(f32x4_add(acc[0], acc[1]), f32x4_add(acc[2], acc[3]));
    let mut sum = (f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s))
        + (f32x4_extract_lane::<2>(s) + f32x4_extract_lane::<3>(s));
    for i in chunks * 16..n {
        sum += a[i] * b[i];
    }
    sum
}

/// Dot product of two equal-length slices.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [0f32; 16];
    let chunks = n / 16;
    for i in 0..chunks {
        let (x, y) = (&a[i * 16..i * 16 + 16], &b[i * 16..i * 16 + 16]);
        for j in 0..16 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 16..n {
        sum += a[i] * b[i];
    }
    sum
}

/// 1 / |v|, or an error when `v` has zero length (cosine is undefined for it).
pub fn inverse_norm(field: &str, v: &[f32]) -> Result<f32> {
    let n = dot(v, v).sqrt();
    if n > 0.0 && n.is_finite() {
        Ok(1.0 / n)
    } else if n == 0.0 && v.iter().any(|x| *x != 0.0) {
        Err(Error::invalid(field, "is too small: its length underflows f32 (scale it up)"))
    } else if n == 0.0 {
        Err(Error::invalid(field, "is the zero vector, which has no direction (cosine is undefined)"))
    } else {
        Err(Error::invalid(field, "is too large: its length overflows f32"))
    }
}

/// Cosine similarity, clamped to [-1, 1] against rounding.
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f32> {
    let c = dot(a, b) * inverse_norm("a", a)? * inverse_norm("b", b)?;
    Ok(c.clamp(-1.0, 1.0))
}

/// Upstream's intended resonance: c * (1 + 0.1 sin(pi c)), clamped to [0, 1].
pub fn resonance_of_cosine(c: f32) -> f32 {
    let c = f64::from(c);
    (c * (1.0 + 0.1 * (std::f64::consts::PI * c).sin())).clamp(0.0, 1.0) as f32
}

/// Little-endian f32 rows from a hex blob, checked: the length must be `rows * dim`
/// values and every value finite. Errors name `field[row]`.
pub fn decode_rows(field: &str, hex: &str, rows: usize, dim: usize) -> Result<Vec<f32>> {
    let mut values = Vec::new();
    decode_rows_into(field, &[hex], rows, dim, &mut values)?;
    Ok(values)
}

/// `decode_rows` of a hex blob sent in pieces (concatenated in order), into `values`
/// (replacing its contents, reusing its capacity).
pub fn decode_rows_into(
    field: &str,
    pieces: &[impl AsRef<str>],
    rows: usize,
    dim: usize,
    values: &mut Vec<f32>,
) -> Result<()> {
    let expected = rows * dim * 8;
    let digits: usize = pieces.iter().map(|p| p.as_ref().len()).sum();
    if digits != expected {
        // Said in the caller's units (values, dimensions), never in hex digits.
        let values = digits / 8;
        let shape = match (digits % 8, rows) {
            (0, r) if r > 0 && values.is_multiple_of(r) => format!(" (dimension {})", values / r),
            (0, _) => String::new(),
            _ => " (not a whole number of f32 values)".to_string(),
        };
        return Err(Error::invalid(
            field,
            format_args!("expected {rows} embedding(s) of dimension {dim}, got {values} values{shape}"),
        ));
    }
    crate::blob::decode_f32_pieces_into(field, pieces, values)?;
    for (row, chunk) in values.chunks_exact(dim.max(1)).enumerate() {
        if let Some(col) = chunk.iter().position(|v| !v.is_finite()) {
            let what = if chunk[col].is_nan() { "NaN" } else { "infinity" };
            return Err(Error::invalid(
                &format!("{field}[{row}]"),
                format_args!("holds {what} at position {col}; embeddings must be finite"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_every_length() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn resonance_follows_the_formula() {
        assert_eq!(resonance_of_cosine(0.0), 0.0);
        assert_eq!(resonance_of_cosine(-0.5), 0.0);
        assert!((resonance_of_cosine(0.5) - 0.55).abs() < 1e-6);
        assert!((resonance_of_cosine(1.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_rows_name_the_row() {
        let mut v = vec![1.0f32; 6];
        v[4] = f32::NAN;
        let hex = crate::blob::encode_f32(&v);
        let e = decode_rows("embeddings", &hex, 2, 3).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("embeddings[1]"));
        assert!(e.message.contains("NaN"));
        let e = decode_rows("embeddings", &hex, 3, 3).unwrap_err();
        assert!(e.message.contains("expected 3 embedding(s) of dimension 3"), "{}", e.message);
        assert!(inverse_norm("q", &[0.0, 0.0]).is_err());
    }
}
