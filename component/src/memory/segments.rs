//! How a store persists: in the host storage namespace `memory/<name>`, a `config`
//! value and append-only segments `seg/<shard>/<seq>-<writer>`. A segment is one write
//! to one shard: a JSON header line, then (for puts) the embeddings as base64 of
//! little-endian f32. A write stores all its segments with one `set-many`, so it is
//! whole or absent after a crash. Replaying the segments in key order rebuilds the
//! store; `seq` orders the writes of a shard, the random `writer` keeps two processes
//! that write at once from overwriting each other's segments.
//!
//! A batch too big for one write (several `put` calls, or several partitions) tags its
//! segments with the batch's id (`b` in the header). Such segments count only once the
//! batch's commit record `batch/<id>` exists: the commit is written last, so after a
//! crash a batch is whole or absent (see [`super::batches`]).

use super::entries::Record;
use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

pub const FORMAT_VERSION: u32 = 1;

/// At most this many base64 bytes of embeddings in one put segment. Segments cross to
/// the host as strings, and hosts behind a C API (wasmtime-py) allocate a fresh buffer
/// for each: glibc maps buffers over a few hundred KiB afresh on every call, so the
/// page faults cost more than the copy. Measured: 16 MiB strings leave the component at
/// ~0.35 GB/s, 128-256 KiB ones at ~1.5-1.9 GB/s.
pub const SEGMENT_BODY_BYTES: usize = 192 * 1024;

/// Rows of dimension `dim` per put segment (at least one).
pub fn rows_per_segment(dim: usize) -> usize {
    (SEGMENT_BODY_BYTES / base64_simd::STANDARD.encoded_length(dim * 4)).max(1)
}

/// The `config` value: what cannot change once a store exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub v: u32,
    pub dimension: u32,
    pub shard_count: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Put,
    Del,
}

#[derive(Serialize, Deserialize)]
struct SegEntry<'a> {
    #[serde(borrow)]
    k: Cow<'a, str>,
    m: &'a RawValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<&'a RawValue>,
    t: i64,
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    v: u32,
    op: Op,
    #[serde(default)]
    dim: u32,
    #[serde(default, borrow)]
    entries: Vec<SegEntry<'a>>,
    #[serde(default, borrow)]
    keys: Vec<Cow<'a, str>>,
    /// The batch the segment belongs to, if it was written as part of one.
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    b: Option<Cow<'a, str>>,
}

/// A decoded segment.
pub enum Segment {
    /// Records and their embeddings, row i at `values[i * dim..(i + 1) * dim]`.
    Put {
        records: Vec<Record>,
        values: Vec<f32>,
    },
    Del(Vec<String>),
}

/// The shard of `key`: FNV-1a (64-bit) modulo the shard count.
pub fn shard_of(key: &str, shard_count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(shard_count)) as u32
}

pub fn segment_key(shard: u32, seq: u64, writer: u64) -> String {
    format!("seg/{shard:03}/{seq:016}-{writer:016x}")
}

/// The sequence number in a segment key.
pub fn seq_of(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.split('-').next()?.parse().ok()
}

fn raw(json: &str) -> &RawValue {
    // Our own records hold JSON that was validated when it came in.
    serde_json::from_str(json).expect("stored JSON is valid")
}

/// A put segment for `rows` (part of `batch`, if given), written into `out` (cleared
/// first; its capacity is reused).
pub fn encode_put_into(dim: usize, rows: &[(&Record, &[f32])], batch: Option<&str>, out: &mut String) {
    let header = Header {
        v: FORMAT_VERSION,
        op: Op::Put,
        dim: dim as u32,
        entries: rows
            .iter()
            .map(|(r, _)| SegEntry {
                k: Cow::Borrowed(&r.key),
                m: raw(&r.metadata),
                d: r.diff_ops.as_deref().map(raw),
                t: r.stored_at_ms,
            })
            .collect(),
        keys: Vec::new(),
        b: batch.map(Cow::Borrowed),
    };
    out.clear();
    out.push_str(&serde_json::to_string(&header).expect("header serialises"));
    let row_bytes = dim * 4;
    out.reserve(1 + base64_simd::STANDARD.encoded_length(rows.len() * row_bytes));
    out.push('\n');
    if row_bytes.is_multiple_of(3) {
        // Whole base64 groups per row: the rows' encodings concatenate.
        for (_, v) in rows {
            base64_simd::STANDARD.encode_append(crate::blob::f32_bytes(v), out);
        }
    } else {
        let mut bytes = Vec::with_capacity(rows.len() * row_bytes);
        for (_, v) in rows {
            bytes.extend_from_slice(crate::blob::f32_bytes(v));
        }
        base64_simd::STANDARD.encode_append(&bytes, out);
    }
}

/// A put segment for `rows`.
pub fn encode_put(dim: usize, rows: &[(&Record, &[f32])]) -> String {
    let mut out = String::new();
    encode_put_into(dim, rows, None, &mut out);
    out
}

pub fn encode_del(keys: &[&str]) -> String {
    let header = Header {
        v: FORMAT_VERSION,
        op: Op::Del,
        dim: 0,
        entries: Vec::new(),
        keys: keys.iter().map(|k| Cow::Borrowed(*k)).collect(),
        b: None,
    };
    serde_json::to_string(&header).expect("header serialises")
}

fn corrupt(key: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Storage, format!("segment {key} is corrupt: {why}"))
}

/// The segment stored under `key`, and the batch it belongs to (if any).
pub fn decode(key: &str, value: &str, dim: usize) -> Result<(Option<String>, Segment)> {
    let (head, body) = value.split_once('\n').unwrap_or((value, ""));
    let mut header: Header = serde_json::from_str(head).map_err(|e| corrupt(key, e))?;
    if header.v != FORMAT_VERSION {
        return Err(corrupt(key, format_args!("format version {} is not {FORMAT_VERSION}", header.v)));
    }
    let batch = header.b.take().map(Cow::into_owned);
    decode_body(key, header, body, dim).map(|segment| (batch, segment))
}

fn decode_body(key: &str, header: Header<'_>, body: &str, dim: usize) -> Result<Segment> {
    match header.op {
        Op::Del => Ok(Segment::Del(header.keys.into_iter().map(Cow::into_owned).collect())),
        Op::Put => {
            if header.dim as usize != dim {
                return Err(corrupt(key, format_args!("dimension {} is not {dim}", header.dim)));
            }
            let body = body.as_bytes();
            let len = base64_simd::STANDARD.decoded_length(body).map_err(|e| corrupt(key, e))?;
            if len != header.entries.len() * dim * 4 {
                return Err(corrupt(key, "embedding bytes do not match the entries"));
            }
            let mut values = Vec::new();
            crate::blob::fill_f32(&mut values, header.entries.len() * dim, |out| {
                base64_simd::STANDARD.decode(body, base64_simd::Out::from_uninit_slice(out)).map(|b| b.len())
            })
            .map_err(|e| corrupt(key, e))?;
            if values.len() != header.entries.len() * dim {
                return Err(corrupt(key, "embedding bytes do not match the entries"));
            }
            let records = header
                .entries
                .into_iter()
                .map(|e| Record {
                    key: e.k.as_ref().into(),
                    metadata: e.m.get().into(),
                    diff_ops: e.d.map(|d| d.get().into()),
                    stored_at_ms: e.t,
                })
                .collect();
            Ok(Segment::Put { records, values })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_del_round_trip() {
        let r = Record {
            key: "a/b.py".into(),
            metadata: r#"{"x":[1,2]}"#.into(),
            diff_ops: Some(r#"[{"op":"insert"}]"#.into()),
            stored_at_ms: 7,
        };
        let v = [1.5f32, -2.0, 0.25];
        let s = encode_put(3, &[(&r, &v)]);
        match decode("k", &s, 3).unwrap().1 {
            Segment::Put { records, values } => assert_eq!((records, values), (vec![r.clone()], v.to_vec())),
            Segment::Del(_) => panic!("not a put"),
        }
        match decode("k", &encode_del(&["a", "b"]), 3).unwrap().1 {
            Segment::Del(keys) => assert_eq!(keys, ["a", "b"]),
            Segment::Put { .. } => panic!("not a del"),
        }
        assert!(decode("k", "{\"v\":9,\"op\":\"del\"}", 3).is_err());
        let mut tagged = String::new();
        encode_put_into(3, &[(&r, &v)], Some("b1"), &mut tagged);
        assert_eq!(decode("k", &tagged, 3).unwrap().0.as_deref(), Some("b1"));
        assert_eq!(decode("k", &s, 3).unwrap().0, None);
        assert!(decode("k", &s[..s.len() - 4], 3).is_err());
    }

    #[test]
    fn keys_sort_by_shard_then_seq() {
        let a = segment_key(1, 9, 0xff);
        let b = segment_key(1, 10, 0x1);
        assert!(a < b);
        assert_eq!(seq_of(&b), Some(10));
        assert!(shard_of("x", 8) < 8);
    }
}
