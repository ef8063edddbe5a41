//! The rules of a store split over several component instances ("partitions", each
//! with its own storage), so that every host lays a store out, and answers from it, the
//! same way: which partition holds a key, where the partition count is recorded, and how
//! the partitions' hits and statistics combine.

use super::stats::StoreStats;
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{all_keys, Storage};
use serde::Deserialize;
use serde_json::value::RawValue;

pub const MAX_PARTITIONS: u32 = 16;
/// The namespace of partition 0's storage that records each store's partition count.
pub const LAYOUT_NAMESPACE: &str = "agentcell.memory-layout";

fn check_count(field: &str, partitions: u32) -> Result<()> {
    if (1..=MAX_PARTITIONS).contains(&partitions) {
        Ok(())
    } else {
        Err(Error::invalid(field, format_args!("must be 1..={MAX_PARTITIONS}, got {partitions}")))
    }
}

/// The partition holding `key`: CRC-32 (IEEE) of its UTF-8 bytes modulo the count.
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    crc32fast::hash(key.as_bytes()) % partitions
}

/// One byte per key of the JSON array `keys_json`: its partition.
pub fn partitions_of(keys_json: &str, partitions: u32) -> Result<Vec<u8>> {
    check_count("partitions", partitions)?;
    let keys: Vec<std::borrow::Cow<'_, str>> = serde_json::from_str(keys_json)
        .map_err(|e| Error::invalid("keys", format_args!("not a JSON array of strings: {e}")))?;
    Ok(keys.iter().map(|k| partition_of(k, partitions) as u8).collect())
}

#[derive(Deserialize)]
struct Record {
    partitions: u32,
}

/// The partition count of store `name`, as recorded in partition 0's storage; a new
/// store records `requested` (else `default`). A store from before partitions (segments,
/// no record) has one. `requested` different from the recorded count is
/// `invalid-argument` on `partitions`.
pub fn layout(storage: &dyn Storage, name: &str, requested: Option<u32>, default: u32) -> Result<u32> {
    if let Some(n) = requested {
        check_count("partitions", n)?;
    }
    check_count("default", default)?;
    let count = match recorded(storage, name)? {
        Some(count) => count,
        None => {
            let existing = !all_keys(storage, &format!("memory/{name}"), "seg/")?.is_empty();
            let count = if existing { 1 } else { requested.unwrap_or(default) };
            let record = format!("{{\"partitions\":{count}}}");
            if storage.compare_and_set(LAYOUT_NAMESPACE, name, None, &record)? {
                count
            } else {
                // Another opener recorded it first: theirs counts.
                recorded(storage, name)?.ok_or_else(|| {
                    Error::new(ErrorCode::Storage, format!("store {name}: layout record vanished"))
                })?
            }
        }
    };
    match requested {
        Some(n) if n != count => {
            Err(Error::invalid("partitions", format_args!("the store {name:?} has {count}, not {n}")))
        }
        _ => Ok(count),
    }
}

fn recorded(storage: &dyn Storage, name: &str) -> Result<Option<u32>> {
    Ok(match storage.get(LAYOUT_NAMESPACE, name)? {
        None => None,
        Some(text) => {
            let record: Record = serde_json::from_str(&text).map_err(|e| {
                Error::new(ErrorCode::Storage, format!("store {name}: layout record is corrupt: {e}"))
            })?;
            check_count("partitions", record.partitions).map_err(|e| {
                Error::new(ErrorCode::Storage, format!("store {name}: layout record: {}", e.message))
            })?;
            Some(record.partitions)
        }
    })
}

/// Forgets the layout record of store `name` (when the store is destroyed).
pub fn forget_layout(storage: &dyn Storage, name: &str) -> Result<()> {
    storage.delete(LAYOUT_NAMESPACE, name)?;
    Ok(())
}

/// The best `limit` of several partitions' hits (each a JSON array of `[key, score,
/// metadata]`, best first), best first, ties by key: what one instance holding every
/// entry answers. Scores and metadata are passed on as written.
pub fn merge_hits(parts: &[impl AsRef<str>], limit: u32) -> Result<String> {
    let mut all: Vec<(&str, f64, &RawValue, &RawValue)> = Vec::new();
    let mut parsed = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let hits: Vec<(std::borrow::Cow<'_, str>, &RawValue, &RawValue)> =
            serde_json::from_str(part.as_ref()).map_err(|e| {
                Error::invalid(&format!("parts[{i}]"), format_args!("not a list of hits: {e}"))
            })?;
        parsed.push(hits);
    }
    for (i, hits) in parsed.iter().enumerate() {
        for (key, score, metadata) in hits {
            let value: f64 = serde_json::from_str(score.get())
                .map_err(|_| Error::invalid(&format!("parts[{i}]"), "a score is not a number"))?;
            all.push((key, value, score, metadata));
        }
    }
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    all.truncate(limit as usize);
    let mut out = String::from("[");
    for (n, (key, _, score, metadata)) in all.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&serde_json::to_string(key).expect("a string serialises"));
        out.push(',');
        out.push_str(score.get());
        out.push(',');
        out.push_str(metadata.get());
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

/// The statistics of a whole store from its partitions': counts and sizes add up,
/// what describes the store is partition 0's, the index is trained when every
/// partition's is.
pub fn merge_stats(parts: &[StoreStats]) -> Result<StoreStats> {
    let Some(first) = parts.first() else {
        return Err(Error::invalid("parts", "no partition statistics given"));
    };
    let mut out = first.clone();
    for p in &parts[1..] {
        out.entries += p.entries;
        out.pending += p.pending;
        out.used_bytes += p.used_bytes;
        out.vector_bytes += p.vector_bytes;
        out.raw_vector_bytes += p.raw_vector_bytes;
        out.metadata_bytes += p.metadata_bytes;
        out.index_bytes += p.index_bytes;
        out.cache_entries += p.cache_entries;
        out.segments += p.segments;
        out.index_lists += p.index_lists;
        out.linear_memory_bytes += p.linear_memory_bytes; // each partition is an instance
        out.index_trained &= p.index_trained;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryStorage;

    #[test]
    fn keys_fall_to_partitions_by_crc32() {
        // CRC-32/IEEE of "a" is 0xe8b7be43 (zlib.crc32(b"a") in Python).
        assert_eq!(partition_of("a", 1 << 4), 0xe8b7_be43 % 16);
        assert_eq!(partitions_of(r#"["a","d","a"]"#, 2).unwrap(), [1, 0, 1], "as zlib.crc32 % 2");
        assert!(partitions_of("[1]", 2).is_err());
        assert!(partitions_of("[]", 0).is_err());
    }

    #[test]
    fn the_recorded_layout_wins_and_contradictions_are_named() {
        let storage = MemoryStorage::default();
        assert_eq!(layout(&storage, "s", None, 2).unwrap(), 2);
        assert_eq!(layout(&storage, "s", None, 4).unwrap(), 2, "recorded, not the default");
        assert_eq!(layout(&storage, "s", Some(2), 4).unwrap(), 2);
        let err = layout(&storage, "s", Some(3), 4).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("partitions"));
        assert!(err.message.contains("has 2, not 3"), "{}", err.message);
        storage.set("memory/old", "seg/000/1-1", "x").unwrap();
        assert_eq!(layout(&storage, "old", None, 2).unwrap(), 1, "a store from before partitions");
        forget_layout(&storage, "s").unwrap();
        assert_eq!(layout(&storage, "s", Some(5), 2).unwrap(), 5);
    }

    #[test]
    fn merged_hits_rank_best_first_then_by_key() {
        let a = r#"[["b",0.9,{"p":0}],["d",0.5,{}]]"#;
        let b = r#"[["a",0.9,{"p":1}],["c",0.7,null]]"#;
        assert_eq!(
            merge_hits(&[a, b], 3).unwrap(),
            r#"[["a",0.9,{"p":1}],["b",0.9,{"p":0}],["c",0.7,null]]"#
        );
        assert_eq!(merge_hits(&[a], 10).unwrap(), r#"[["b",0.9,{"p":0}],["d",0.5,{}]]"#);
        assert!(merge_hits(&["{}"], 1).is_err());
    }
}
