//! Embedding memory from Rust: a store kept in a directory of SQLite files, one per
//! partition (`htm.sqlite3`, `htm.part1.sqlite3`, ...: the Python host's `HTMCore`
//! layout), each partition a component instance of its own. The rules (which key goes
//! where, the recorded partition count, merging the partitions' hits) are the
//! component's (`memory.partitions-of`, `layout`, `merge-hits`), so a store written by
//! Python opens here and answers the same search.
//!
//! ```no_run
//! let store = agentcell_host::memory::PartitionedStore::open_dir("./data/htm", "htm", 768)?;
//! let hits = store.search(&vec![0.1; 768], 5, 0.7)?; // JSON: [[key, similarity, metadata], ...]
//! # Ok::<(), agentcell_host::Error>(())
//! ```

use crate::bindings::exports::agentcell::core::memory::{IndexKind, SearchOptions, StoreOptions};
use crate::{Error, Runtime};
use std::path::{Path, PathBuf};
use wasmtime::component::ResourceAny;

/// A new store's partition count when none is recorded (as the Python host's default).
pub const DEFAULT_PARTITIONS: u32 = 2;

/// The SQLite file of `partition` in a store directory.
pub fn partition_file(dir: &Path, partition: u32) -> PathBuf {
    if partition == 0 {
        dir.join("htm.sqlite3")
    } else {
        dir.join(format!("htm.part{partition}.sqlite3"))
    }
}

/// One store over its partitions: a runtime per partition and this opener's store
/// there (a `memory.store` resource, dropped with this).
pub struct PartitionedStore {
    parts: Vec<(Runtime, ResourceAny)>,
}

impl Drop for PartitionedStore {
    fn drop(&mut self) {
        for (rt, store) in &self.parts {
            // An instance replaced after a trap took its resources with it: nothing to end.
            let _ = rt.call_named("memory.store.drop", |l| store.resource_drop(&mut l.store));
        }
    }
}

/// A fresh batch id: 128 bits from the process's random hasher keys and the clock.
fn batch_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

fn hex_f32(values: &[f32]) -> String {
    values.iter().flat_map(|v| v.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

impl PartitionedStore {
    /// Opens store `name` (embeddings of `dimension`) in directory `dir`, with the
    /// partition count recorded in partition 0's file, and rolls forward any batch
    /// partition 0 has committed that another partition has not (see `put-pending`).
    pub fn open_dir(dir: impl AsRef<Path>, name: &str, dimension: u32) -> Result<Self, Error> {
        Self::open_dir_with(dir, name, dimension, None)
    }

    /// `open_dir`, creating a new store with `partitions` (1..=16; default 2); naming a
    /// count that differs from an existing store's is an `invalid-argument` error.
    pub fn open_dir_with(
        dir: impl AsRef<Path>,
        name: &str,
        dimension: u32,
        partitions: Option<u32>,
    ) -> Result<Self, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage { path: dir.display().to_string(), message: e.to_string() })?;
        let open = |partition: u32| -> Result<(Runtime, ResourceAny), Error> {
            let rt = Runtime::builder().sqlite_storage(partition_file(dir, partition))?.build()?;
            let options = StoreOptions { dimension, shard_count: None, index: IndexKind::Flat };
            let handle = rt
                .call_named("memory.store.open", |l| {
                    l.bindings.agentcell_core_memory().store().call_open(&mut l.store, name, options)
                })?
                .map_err(Error::from)?;
            Ok((rt, handle))
        };
        let first = open(0)?;
        let count = first
            .0
            .call_named("memory.layout", |l| {
                l.bindings.agentcell_core_memory().call_layout(
                    &mut l.store,
                    name,
                    partitions,
                    DEFAULT_PARTITIONS,
                )
            })?
            .map_err(Error::from)?;
        let mut parts = vec![first];
        for partition in 1..count {
            parts.push(open(partition)?);
        }
        let store = Self { parts };
        store.roll_forward()?;
        Ok(store)
    }

    fn roll_forward(&self) -> Result<(), Error> {
        let (first, first_handle) = &self.parts[0];
        for (rt, handle) in &self.parts[1..] {
            let pending = rt
                .call_named("memory.store.pending-batches", |l| {
                    l.bindings.agentcell_core_memory().store().call_pending_batches(&mut l.store, *handle)
                })?
                .map_err(Error::from)?;
            for batch in pending {
                let decided = first
                    .call_named("memory.store.batch-committed", |l| {
                        l.bindings.agentcell_core_memory().store().call_batch_committed(
                            &mut l.store,
                            *first_handle,
                            &batch,
                        )
                    })?
                    .map_err(Error::from)?;
                if decided {
                    rt.call_named("memory.store.commit-batch", |l| {
                        l.bindings.agentcell_core_memory().store().call_commit_batch(
                            &mut l.store,
                            *handle,
                            &batch,
                        )
                    })?
                    .map_err(Error::from)?;
                }
            }
        }
        Ok(())
    }

    /// Stores a batch (replacing keys already present): `vectors` holds one row of the
    /// store's dimension per key, `metadata` one JSON object per key. Whole or absent
    /// after a crash: a batch over several partitions is written pending in each, then
    /// committed in partition 0 (the decision), then in the others. Returns the count.
    pub fn put(&self, keys: &[&str], vectors: &[f32], metadata: &[serde_json::Value]) -> Result<u32, Error> {
        let invalid = |message: String| Error::Component {
            code: crate::bindings::exports::agentcell::core::types::ErrorCode::InvalidArgument,
            message,
            field: Some("metadata".into()),
        };
        if metadata.len() != keys.len() {
            return Err(invalid(format!("{} metadata objects for {} keys", metadata.len(), keys.len())));
        }
        let dim = if keys.is_empty() { 0 } else { vectors.len() / keys.len() };
        let keys_json = serde_json::to_string(keys).expect("keys serialise");
        let first = &self.parts[0].0;
        let of = if self.parts.len() == 1 {
            vec![0u8; keys.len()]
        } else {
            let hex = first
                .call_named("memory.partitions-of", |l| {
                    l.bindings.agentcell_core_memory().call_partitions_of(
                        &mut l.store,
                        &keys_json,
                        self.parts.len() as u32,
                    )
                })?
                .map_err(Error::from)?;
            (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0)).collect()
        };
        let mut written = Vec::new();
        for (p, (rt, handle)) in self.parts.iter().enumerate() {
            let rows: Vec<usize> = (0..keys.len()).filter(|&i| of[i] as usize == p).collect();
            if !rows.is_empty() {
                let entries = serde_json::json!({
                    "keys": rows.iter().map(|&i| keys[i]).collect::<Vec<_>>(),
                    "metadata": rows.iter().map(|&i| &metadata[i]).collect::<Vec<_>>(),
                })
                .to_string();
                let values: Vec<f32> = rows
                    .iter()
                    .flat_map(|&i| vectors.get(i * dim..(i + 1) * dim).unwrap_or(&[]))
                    .copied()
                    .collect();
                written.push((rt, *handle, entries, vec![hex_f32(&values)]));
            }
        }
        if let [(rt, handle, entries, hex)] = written.as_slice() {
            return rt
                .call_named("memory.store.put", |l| {
                    l.bindings.agentcell_core_memory().store().call_put(&mut l.store, *handle, entries, hex)
                })?
                .map_err(Error::from);
        }
        let batch = batch_id();
        let mut stored = 0;
        for (rt, handle, entries, hex) in &written {
            let outcome = rt
                .call_named("memory.store.put-pending", |l| {
                    l.bindings.agentcell_core_memory().store().call_put_pending(
                        &mut l.store,
                        *handle,
                        &batch,
                        entries,
                        hex,
                    )
                })
                .and_then(|r| r.map_err(Error::from));
            match outcome {
                Ok(n) => stored += n,
                Err(e) => {
                    for (rt, handle, _, _) in &written {
                        // Left pending on failure: invisible, as aborted.
                        let _ = rt.call_named("memory.store.abort-batch", |l| {
                            l.bindings.agentcell_core_memory().store().call_abort_batch(
                                &mut l.store,
                                *handle,
                                &batch,
                            )
                        });
                    }
                    return Err(e);
                }
            }
        }
        let (first, first_handle) = &self.parts[0];
        let commit = |rt: &Runtime, handle: ResourceAny| -> Result<(), Error> {
            rt.call_named("memory.store.commit-batch", |l| {
                l.bindings.agentcell_core_memory().store().call_commit_batch(&mut l.store, handle, &batch)
            })?
            .map_err(Error::from)
        };
        commit(first, *first_handle)?;
        for (rt, handle, _, _) in &written {
            if !std::ptr::eq(*rt, first) {
                commit(rt, *handle)?;
            }
        }
        Ok(stored)
    }

    /// How many component instances the store is split over.
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// Entries in all partitions.
    pub fn count(&self) -> Result<u64, Error> {
        let mut total = 0;
        for (rt, handle) in &self.parts {
            total += rt
                .call_named("memory.store.count", |l| {
                    l.bindings.agentcell_core_memory().store().call_count(&mut l.store, *handle)
                })?
                .map_err(Error::from)?;
        }
        Ok(total)
    }

    /// The `limit` entries most similar to `query` with cosine similarity >=
    /// `min_similarity`, exact, over every partition: JSON `[[key, similarity, metadata]]`,
    /// best first, ties by key.
    pub fn search(&self, query: &[f32], limit: u32, min_similarity: f32) -> Result<String, Error> {
        let query = hex_f32(query);
        let options = SearchOptions { limit, min_similarity, filter_json: None, exact: true, probes: None };
        let mut answers = Vec::with_capacity(self.parts.len());
        for (rt, handle) in &self.parts {
            answers.push(
                rt.call_named("memory.store.search", |l| {
                    l.bindings.agentcell_core_memory().store().call_search(
                        &mut l.store,
                        *handle,
                        &query,
                        &options,
                    )
                })?
                .map_err(Error::from)?,
            );
        }
        if answers.len() == 1 {
            return Ok(answers.remove(0));
        }
        self.parts[0]
            .0
            .call_named("memory.merge-hits", |l| {
                l.bindings.agentcell_core_memory().call_merge_hits(&mut l.store, &answers, limit)
            })?
            .map_err(Error::from)
    }
}
