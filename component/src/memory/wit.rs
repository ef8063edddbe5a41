//! The `memory` interface over [`crate::memory`].

use crate::memory::partitions;
use crate::wit::exports::agentcell::core::memory as wm;
use crate::wit::{now_ms, wit_result, wit_types, Component, HostStorage};

thread_local! {
    /// The open memory stores of this instance.
    static STORES: std::cell::RefCell<crate::memory::Stores> = std::cell::RefCell::new(Default::default());
    /// Tells this instance's segments apart from other writers' (random per instance).
    static WRITER: u64 = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish()
    };
}

/// One opener's store: its hold, in a cell because WIT methods take `&self`.
pub struct StoreResource(std::cell::RefCell<crate::memory::Hold>);

impl Drop for StoreResource {
    fn drop(&mut self) {
        STORES.with(|s| s.borrow_mut().release(self.0.get_mut()));
    }
}

impl StoreResource {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut crate::memory::MemoryStore) -> crate::error::Result<T>,
    ) -> Result<T, wit_types::Error> {
        wit_result(self.0.borrow().with(f))
    }
}

impl wm::GuestStore for StoreResource {
    fn open(name: String, options: wm::StoreOptions) -> Result<wm::Store, wit_types::Error> {
        let index = match options.index {
            wm::IndexKind::Flat => crate::memory::IndexKind::Flat,
            wm::IndexKind::Ivf => crate::memory::IndexKind::Ivf,
        };
        let options =
            crate::memory::Options { dimension: options.dimension, shard_count: options.shard_count, index };
        let writer = WRITER.with(|w| *w);
        let hold = wit_result(STORES.with(|s| s.borrow_mut().open(&HostStorage, &name, options, writer)))?;
        Ok(wm::Store::new(StoreResource(std::cell::RefCell::new(hold))))
    }
    fn close(&self) -> Result<(), wit_types::Error> {
        self.with(|_| Ok(()))?;
        STORES.with(|s| s.borrow_mut().release(&mut self.0.borrow_mut()));
        Ok(())
    }
    fn destroy(&self) -> Result<(), wit_types::Error> {
        wit_result(self.0.borrow().destroy(&HostStorage))?;
        STORES.with(|s| s.borrow_mut().release(&mut self.0.borrow_mut()));
        Ok(())
    }
    fn put(&self, entries_json: String, embeddings: Vec<String>) -> Result<u32, wit_types::Error> {
        self.with(|s| s.put(&HostStorage, &entries_json, &embeddings, now_ms()))
    }
    fn put_pending(
        &self,
        batch: String,
        entries_json: String,
        embeddings: Vec<String>,
    ) -> Result<u32, wit_types::Error> {
        self.with(|s| s.put_pending(&HostStorage, &batch, &entries_json, &embeddings, now_ms()))
    }
    fn commit_batch(&self, batch: String) -> Result<(), wit_types::Error> {
        self.with(|s| s.commit_batch(&HostStorage, &batch))
    }
    fn abort_batch(&self, batch: String) -> Result<(), wit_types::Error> {
        self.with(|s| s.abort_batch(&HostStorage, &batch))
    }
    fn pending_batches(&self) -> Result<Vec<String>, wit_types::Error> {
        self.with(|s| Ok(s.pending_batches()))
    }
    fn batch_committed(&self, batch: String) -> Result<bool, wit_types::Error> {
        self.with(|s| s.batch_committed(&HostStorage, &batch))
    }
    fn get(&self, key: String) -> Result<Option<wm::Entry>, wit_types::Error> {
        self.with(|s| {
            Ok(s.get(&key).map(|e| wm::Entry {
                key: e.record.key.into(),
                embedding: crate::blob::encode_f32(&e.embedding),
                metadata_json: e.record.metadata.into(),
                diff_ops_json: e.record.diff_ops.map(Into::into),
                stored_at_ms: e.record.stored_at_ms,
            }))
        })
    }
    fn delete(&self, keys: Vec<String>) -> Result<u32, wit_types::Error> {
        self.with(|s| s.delete(&HostStorage, &keys))
    }
    fn count(&self) -> Result<u64, wit_types::Error> {
        self.with(|s| Ok(s.len() as u64))
    }
    fn keys_json(&self) -> Result<String, wit_types::Error> {
        self.with(|s| Ok(s.keys_json()))
    }
    fn search(&self, query: String, options: wm::SearchOptions) -> Result<String, wit_types::Error> {
        let options = crate::memory::SearchOptions {
            limit: options.limit,
            min_similarity: options.min_similarity,
            filter_json: options.filter_json,
            exact: options.exact,
            probes: options.probes,
        };
        self.with(|s| s.search(&query, &options))
    }
    fn query_by_resonance(
        &self,
        min_resonance: f32,
        max_results: Option<u32>,
        query: Option<String>,
    ) -> Result<String, wit_types::Error> {
        self.with(|s| s.query_by_resonance(min_resonance, max_results, query.as_deref()))
    }
    fn direction_sum(&self) -> Result<Option<String>, wit_types::Error> {
        self.with(|s| {
            Ok(s.direction_sum().map(|sum| {
                let sum: Vec<f32> = sum.into_iter().map(|x| x as f32).collect();
                crate::blob::encode_f32(&sum)
            }))
        })
    }
    fn build_index(&self, lists: Option<u32>) -> Result<(), wit_types::Error> {
        self.with(|s| {
            s.build_index(lists);
            Ok(())
        })
    }
    fn stats(&self) -> Result<wm::StoreStats, wit_types::Error> {
        self.with(|s| Ok(stats_to(s.stats())))
    }
    fn garbage_collect(&self, aggressive: bool) -> Result<wm::GcReport, wit_types::Error> {
        self.with(|s| {
            let r = s.garbage_collect(&HostStorage, aggressive)?;
            Ok(wm::GcReport {
                segments_before: r.segments_before,
                segments_after: r.segments_after,
                bytes_reclaimed: r.bytes_reclaimed,
            })
        })
    }
    fn clear_cache(&self) -> Result<(), wit_types::Error> {
        self.with(|s| {
            s.clear_cache();
            Ok(())
        })
    }
    fn set_profiling(&self, enabled: bool) -> Result<(), wit_types::Error> {
        self.with(|s| {
            s.profile_mut().set_enabled(enabled);
            Ok(())
        })
    }
    fn profiling(&self) -> Result<Vec<wm::OpProfile>, wit_types::Error> {
        self.with(|s| {
            Ok(s.profile()
                .ops()
                .map(|(op, count, total_ns)| wm::OpProfile { op: op.into(), count, total_ns })
                .collect())
        })
    }
}

impl wm::Guest for Component {
    type Store = StoreResource;

    fn partitions_of(keys_json: String, partitions: u32) -> Result<String, wit_types::Error> {
        wit_result(
            partitions::partitions_of(&keys_json, partitions)
                .map(|p| hex_simd::encode_to_string(p, hex_simd::AsciiCase::Lower)),
        )
    }
    fn layout(
        name: String,
        partitions: Option<u32>,
        default_partitions: u32,
    ) -> Result<u32, wit_types::Error> {
        wit_result(partitions::layout(&HostStorage, &name, partitions, default_partitions))
    }
    fn forget_layout(name: String) -> Result<(), wit_types::Error> {
        wit_result(partitions::forget_layout(&HostStorage, &name))
    }
    fn merge_hits(parts: Vec<String>, limit: u32) -> Result<String, wit_types::Error> {
        wit_result(partitions::merge_hits(&parts, limit))
    }
    fn merge_stats(parts: Vec<wm::StoreStats>) -> Result<wm::StoreStats, wit_types::Error> {
        let parts: Vec<_> = parts.into_iter().map(stats_from).collect();
        wit_result(partitions::merge_stats(&parts).map(stats_to))
    }
    fn resonance(a: String, b: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::memory::resonance(&a, &b))
    }
    fn check_entries(entries_json: Vec<String>, rows: Option<String>) -> Result<u32, wit_types::Error> {
        wit_result(crate::memory::check_entries(&entries_json, rows.as_deref()))
    }
}

fn stats_to(st: crate::memory::StoreStats) -> wm::StoreStats {
    wm::StoreStats {
        name: st.name,
        entries: st.entries,
        dimension: st.dimension,
        shard_count: st.shard_count,
        index_kind: index_kind_to(st.index_kind),
        index_trained: st.index_trained,
        index_lists: st.index_lists,
        pending: st.pending,
        used_bytes: st.used_bytes,
        vector_bytes: st.vector_bytes,
        raw_vector_bytes: st.raw_vector_bytes,
        metadata_bytes: st.metadata_bytes,
        index_bytes: st.index_bytes,
        cache_entries: st.cache_entries,
        segments: st.segments,
        linear_memory_bytes: st.linear_memory_bytes,
    }
}

fn stats_from(st: wm::StoreStats) -> crate::memory::StoreStats {
    crate::memory::StoreStats {
        name: st.name,
        entries: st.entries,
        dimension: st.dimension,
        shard_count: st.shard_count,
        index_kind: match st.index_kind {
            wm::IndexKind::Flat => crate::memory::IndexKind::Flat,
            wm::IndexKind::Ivf => crate::memory::IndexKind::Ivf,
        },
        index_trained: st.index_trained,
        index_lists: st.index_lists,
        pending: st.pending,
        used_bytes: st.used_bytes,
        vector_bytes: st.vector_bytes,
        raw_vector_bytes: st.raw_vector_bytes,
        metadata_bytes: st.metadata_bytes,
        index_bytes: st.index_bytes,
        cache_entries: st.cache_entries,
        segments: st.segments,
        linear_memory_bytes: st.linear_memory_bytes,
    }
}

fn index_kind_to(k: crate::memory::IndexKind) -> wm::IndexKind {
    match k {
        crate::memory::IndexKind::Flat => wm::IndexKind::Flat,
        crate::memory::IndexKind::Ivf => wm::IndexKind::Ivf,
    }
}
