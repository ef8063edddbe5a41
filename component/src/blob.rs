//! Bulk binary data across the boundary: lowercase hex (see the WIT package comment),
//! encoded and decoded with SIMD (simd128 on wasm).

use crate::error::{Error, ErrorCode, Result};

pub fn encode(bytes: &[u8]) -> String {
    hex_simd::encode_to_string(bytes, hex_simd::AsciiCase::Lower)
}

/// Decodes hex `text` (either case); an error names `field`.
pub fn decode(field: &str, text: &str) -> Result<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return Err(Error::invalid(
            field,
            format_args!("must be hex with an even length, got {}", text.len()),
        ));
    }
    hex_simd::decode_to_vec(text.as_bytes()).map_err(|_| Error::invalid(field, "must be hex (0-9, a-f)"))
}

/// Little-endian f32 values from a hex blob (the form embeddings cross in), decoded
/// straight into the returned buffer (no intermediate byte vector).
pub fn decode_f32(field: &str, text: &str) -> Result<Vec<f32>> {
    let mut values = Vec::new();
    decode_f32_pieces_into(field, &[text], &mut values)?;
    Ok(values)
}

/// Little-endian u32 values from a hex blob (a whole number of 4-byte values).
pub fn decode_u32(field: &str, text: &str) -> Result<Vec<u32>> {
    let bytes = decode(field, text)?;
    if bytes.len() % 4 != 0 {
        return Err(crate::error::Error::invalid(field, "must hold whole 4-byte little-endian u32 values"));
    }
    Ok(bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Little-endian f32 values from a hex blob sent in pieces (concatenated in order, each
/// an even number of hex digits), decoded straight into `values` (replacing its
/// contents, reusing its capacity).
pub fn decode_f32_pieces_into(field: &str, pieces: &[impl AsRef<str>], values: &mut Vec<f32>) -> Result<()> {
    let mut digits = 0;
    for (i, piece) in pieces.iter().enumerate() {
        let len = piece.as_ref().len();
        if !len.is_multiple_of(2) {
            let which = if pieces.len() == 1 { String::new() } else { format!(" (piece {i})") };
            return Err(Error::invalid(
                field,
                format_args!("must be hex with an even length{which}, got {len}"),
            ));
        }
        digits += len;
    }
    if !digits.is_multiple_of(8) {
        return Err(Error::invalid(
            field,
            format_args!("must hold whole little-endian f32 values, got {} bytes", digits / 2),
        ));
    }
    let n = digits / 8;
    fill_f32(values, n, |bytes| {
        let mut at = 0;
        for piece in pieces {
            let piece = piece.as_ref().as_bytes();
            let out = hex_simd::Out::from_uninit_slice(&mut bytes[at..at + piece.len() / 2]);
            at += hex_simd::decode(piece, out)?.len();
        }
        Ok::<_, hex_simd::Error>(at)
    })
    .map_err(|_| Error::invalid(field, "must be hex (0-9, a-f)"))?;
    if values.len() != n {
        return Err(Error::new(ErrorCode::Internal, "hex decoder wrote fewer bytes than it read"));
    }
    Ok(())
}

/// Replaces the contents of `values` with `n` f32 whose little-endian bytes `decode`
/// writes, without zeroing the buffer first (for bulk data, the zeroing is a second
/// pass over memory). `decode` returns how many bytes it wrote; the values are kept only
/// if that is all `4 * n` of them.
pub fn fill_f32<E>(
    values: &mut Vec<f32>,
    n: usize,
    decode: impl FnOnce(&mut [std::mem::MaybeUninit<u8>]) -> std::result::Result<usize, E>,
) -> std::result::Result<(), E> {
    use std::mem::MaybeUninit;
    values.clear();
    values.reserve(n);
    let spare = &mut values.spare_capacity_mut()[..n];
    // Safety: `[MaybeUninit<f32>; n]` is `4 * n` bytes that may hold anything, which is
    // exactly what `[MaybeUninit<u8>; 4 * n]` is.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<MaybeUninit<u8>>(), n * 4) };
    let written = decode(bytes)?;
    if written == n * 4 {
        // Safety: all `4 * n` bytes were just written, and every bit pattern is an f32.
        unsafe { values.set_len(n) };
    }
    Ok(())
}

/// A hex blob of little-endian f32 values.
pub fn encode_f32(values: &[f32]) -> String {
    encode(f32_bytes(values))
}

// The stored and transmitted form of an f32 is little-endian; on a little-endian target
// (wasm32, x86-64, aarch64) that is its memory layout, so slices are viewed as bytes.
#[cfg(target_endian = "big")]
compile_error!("agentcell's binary formats assume a little-endian target");

/// The bytes of `values`, little-endian.
pub fn f32_bytes(values: &[f32]) -> &[u8] {
    bytemuck::cast_slice(values)
}

/// Standard padded base64, used where the host sends binary HTTP bodies.
pub fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::invalid(field, format_args!("must be standard padded base64 ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn round_trips_bytes_and_floats() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(decode("d", &encode(&data)).unwrap(), data);
        assert_eq!(encode(&[0xab, 0x01]), "ab01");
        assert_eq!(decode("d", "AB01").unwrap(), [0xab, 0x01]);
        let v = [1.5f32, -2.25, 0.0, f32::MAX];
        assert_eq!(decode_f32("v", &encode_f32(&v)).unwrap(), v);
    }

    #[test]
    fn bad_hex_names_the_field() {
        for bad in ["xyz0", "abc"] {
            let e = decode("payload", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert_eq!(e.field.as_deref(), Some("payload"));
        }
    }

    #[test]
    fn partial_float_is_rejected() {
        let e = decode_f32("embedding", &encode(&[1, 2, 3])).unwrap_err();
        assert!(e.message.contains("3 bytes"), "{}", e.message);
    }

    #[test]
    fn base64_bodies_decode() {
        assert_eq!(decode_base64("body", "AAEC").unwrap(), [0, 1, 2]);
        assert!(decode_base64("body", "!!").is_err());
    }
}
