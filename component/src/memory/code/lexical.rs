//! A deterministic lexical embedding: lower-cased identifier tokens (split on
//! non-alphanumerics and camelCase / snake_case boundaries) and bigrams of adjacent
//! tokens, each hashed with FNV-1a to a bucket and a sign, weighted 1 + ln(count), the
//! vector L2-normalised. Texts that share vocabulary come out close; it knows nothing
//! of meaning (use a real embedding model for that).

use crate::error::{Error, Result};
use std::collections::HashMap;

pub const MAX_DIMENSION: u32 = 65_536;

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Identifier pieces, lower-cased: `parseHTTPRequest_v2` -> parse, httprequest, v2.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let mut piece = String::new();
        let mut prev_lower = false;
        for c in word.chars() {
            if c.is_uppercase() && prev_lower && !piece.is_empty() {
                out.push(std::mem::take(&mut piece));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            piece.extend(c.to_lowercase());
        }
        if !piece.is_empty() {
            out.push(piece);
        }
    }
    out
}

pub fn embed(text: &str, dimension: u32) -> Result<Vec<f32>> {
    if !(1..=MAX_DIMENSION).contains(&dimension) {
        return Err(Error::invalid("dimension", format_args!("must be 1..={MAX_DIMENSION}")));
    }
    let toks = tokens(text);
    let mut counts: HashMap<u64, u32> = HashMap::new();
    for t in &toks {
        *counts.entry(fnv1a(t.bytes())).or_default() += 1;
    }
    for pair in toks.windows(2) {
        let h = fnv1a(pair[0].bytes().chain([b' ']).chain(pair[1].bytes()));
        *counts.entry(h).or_default() += 1;
    }
    let mut v = vec![0f32; dimension as usize];
    let mut ordered: Vec<(u64, u32)> = counts.into_iter().collect();
    ordered.sort_unstable(); // the float sums must not depend on hash-map order
    for (h, n) in ordered {
        let bucket = (h % u64::from(dimension)) as usize;
        let sign = if (h >> 63) == 0 { 1.0 } else { -1.0 };
        v[bucket] += sign * (1.0 + (n as f32).ln());
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        v[0] = 1.0; // an empty text still gets a valid direction
    }
    Ok(v)
}

/// `embed` of each text of a JSON array, as one hex blob of `n * dimension` f32.
pub fn embed_many(texts_json: &str, dimension: u32) -> Result<String> {
    let texts: Vec<String> = serde_json::from_str(texts_json)
        .map_err(|e| Error::invalid("texts", format_args!("must be a JSON list of strings: {e}")))?;
    let mut all = Vec::with_capacity(texts.len() * dimension as usize);
    for t in &texts {
        all.extend(embed(t, dimension)?);
    }
    Ok(crate::blob::encode_f32(&all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::vector::cosine;

    #[test]
    fn shared_vocabulary_is_closer_and_output_is_stable() {
        let a = embed("def parse_request(req): return http.parse(req)", 256).unwrap();
        let b = embed("def parseRequest(request): return http_parse(request)", 256).unwrap();
        let c = embed("SELECT name FROM users WHERE id = 1", 256).unwrap();
        assert!(cosine(&a, &b).unwrap() > cosine(&a, &c).unwrap());
        assert_eq!(a, embed("def parse_request(req): return http.parse(req)", 256).unwrap());
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(embed("", 4).unwrap(), [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(tokens("parseHTTPRequest_v2"), ["parse", "httprequest", "v2"]);
        assert!(embed("x", 0).is_err());
    }
}
