//! Bulk binary data across the boundary: lowercase hex (see the WIT package comment),
//! encoded and decoded with SIMD (simd128 on wasm).

use crate::error::{Error, Result};

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

/// Little-endian f32 values from a hex blob (the form embeddings cross in).
pub fn decode_f32(field: &str, text: &str) -> Result<Vec<f32>> {
    let bytes = decode(field, text)?;
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::invalid(
            field,
            format_args!("must hold whole little-endian f32 values, got {} bytes", bytes.len()),
        ));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A hex blob of little-endian f32 values.
pub fn encode_f32(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    encode(&bytes)
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
