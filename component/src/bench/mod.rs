//! The boundary-measuring calls of WIT `bench`: tiny, deterministic, checkable.

#[cfg(all(target_arch = "wasm32", feature = "test-exports"))]
mod wit;

use crate::blob;
use crate::error::Result;

/// Length and wrapping byte sum: cheap, and proves every byte arrived.
pub fn checksum(bytes: &[u8]) -> (u32, u32) {
    let sum = bytes.iter().fold(0u32, |acc, b| acc.wrapping_add(u32::from(*b)));
    (bytes.len() as u32, sum)
}

/// `len` bytes where byte i is `(i * 31 + seed) mod 256`.
pub fn pattern(len: u32, seed: u32) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31).wrapping_add(seed) & 0xff) as u8).collect()
}

pub fn blob_in(data: &str) -> Result<(u32, u32)> {
    Ok(checksum(&blob::decode("data", data)?))
}

pub fn blob_out(len: u32, seed: u32) -> String {
    blob::encode(&pattern(len, seed))
}

pub fn sum_f32(values: &[f32]) -> f32 {
    values.iter().sum()
}

pub fn sum_f32_blob(data: &str) -> Result<f32> {
    Ok(sum_f32(&blob::decode_f32("data", data)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_and_checksum_agree_across_forms() {
        let bytes = pattern(1000, 7);
        assert_eq!(bytes[1], 38);
        assert_eq!(blob_in(&blob_out(1000, 7)).unwrap(), checksum(&bytes));
    }

    #[test]
    fn sums_floats_from_blob() {
        let s = sum_f32_blob(&blob::encode_f32(&[1.0, 2.0, 3.5])).unwrap();
        assert_eq!(s, 6.5);
    }
}
