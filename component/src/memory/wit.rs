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

fn with_store<T>(
    handle: u32,
    f: impl FnOnce(&mut crate::memory::MemoryStore) -> crate::error::Result<T>,
) -> Result<T, wit_types::Error> {
    wit_result(STORES.with(|s| f(s.borrow_mut().get(handle)?)))
}

impl wm::Guest for Component {
    fn open(name: String, options: wm::StoreOptions) -> Result<u32, wit_types::Error> {
        let index = match options.index {
            wm::IndexKind::Flat => crate::memory::IndexKind::Flat,
            wm::IndexKind::Ivf => crate::memory::IndexKind::Ivf,
        };
        let options =
            crate::memory::Options { dimension: options.dimension, shard_count: options.shard_count, index };
        let writer = WRITER.with(|w| *w);
        wit_result(STORES.with(|s| s.borrow_mut().open(&HostStorage, &name, options, writer)))
    }
    fn close(handle: u32) -> Result<(), wit_types::Error> {
        wit_result(STORES.with(|s| s.borrow_mut().close(handle)))
    }
    fn destroy(handle: u32) -> Result<(), wit_types::Error> {
        with_store(handle, |s| s.destroy(&HostStorage))?;
        Self::close(handle)
    }
    fn put(handle: u32, entries_json: String, embeddings: Vec<String>) -> Result<u32, wit_types::Error> {
        with_store(handle, |s| s.put(&HostStorage, &entries_json, &embeddings, now_ms()))
    }
    fn put_pending(
        handle: u32,
        batch: String,
        entries_json: String,
        embeddings: Vec<String>,
    ) -> Result<u32, wit_types::Error> {
        with_store(handle, |s| s.put_pending(&HostStorage, &batch, &entries_json, &embeddings, now_ms()))
    }
    fn commit_batch(handle: u32, batch: String) -> Result<(), wit_types::Error> {
        with_store(handle, |s| s.commit_batch(&HostStorage, &batch))
    }
    fn abort_batch(handle: u32, batch: String) -> Result<(), wit_types::Error> {
        with_store(handle, |s| s.abort_batch(&HostStorage, &batch))
    }
    fn pending_batches(handle: u32) -> Result<Vec<String>, wit_types::Error> {
        with_store(handle, |s| Ok(s.pending_batches()))
    }
    fn batch_committed(handle: u32, batch: String) -> Result<bool, wit_types::Error> {
        with_store(handle, |s| s.batch_committed(&HostStorage, &batch))
    }
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
    fn check_entries(entries_json: Vec<String>, rows: Option<String>) -> Result<u32, wit_types::Error> {
        wit_result(crate::memory::check_entries(&entries_json, rows.as_deref()))
    }
    fn get(handle: u32, key: String) -> Result<Option<wm::Entry>, wit_types::Error> {
        with_store(handle, |s| {
            Ok(s.get(&key).map(|e| wm::Entry {
                key: e.record.key.into(),
                embedding: crate::blob::encode_f32(&e.embedding),
                metadata_json: e.record.metadata.into(),
                diff_ops_json: e.record.diff_ops.map(Into::into),
                stored_at_ms: e.record.stored_at_ms,
            }))
        })
    }
    fn delete(handle: u32, keys: Vec<String>) -> Result<u32, wit_types::Error> {
        with_store(handle, |s| s.delete(&HostStorage, &keys))
    }
    fn count(handle: u32) -> Result<u64, wit_types::Error> {
        with_store(handle, |s| Ok(s.len() as u64))
    }
    fn keys_json(handle: u32) -> Result<String, wit_types::Error> {
        with_store(handle, |s| Ok(s.keys_json()))
    }
    fn search(handle: u32, query: String, options: wm::SearchOptions) -> Result<String, wit_types::Error> {
        let options = crate::memory::SearchOptions {
            limit: options.limit,
            min_similarity: options.min_similarity,
            filter_json: options.filter_json,
            exact: options.exact,
            probes: options.probes,
        };
        with_store(handle, |s| s.search(&query, &options))
    }
    fn resonance(a: String, b: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::memory::resonance(&a, &b))
    }
    fn query_by_resonance(
        handle: u32,
        min_resonance: f32,
        max_results: Option<u32>,
        query: Option<String>,
    ) -> Result<String, wit_types::Error> {
        with_store(handle, |s| s.query_by_resonance(min_resonance, max_results, query.as_deref()))
    }
    fn direction_sum(handle: u32) -> Result<Option<String>, wit_types::Error> {
        with_store(handle, |s| {
            Ok(s.direction_sum().map(|sum| {
                let sum: Vec<f32> = sum.into_iter().map(|x| x as f32).collect();
                crate::blob::encode_f32(&sum)
            }))
        })
    }
    fn build_index(handle: u32, lists: Option<u32>) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.build_index(lists);
            Ok(())
        })
    }
    fn stats(handle: u32) -> Result<wm::StoreStats, wit_types::Error> {
        with_store(handle, |s| Ok(stats_to(s.stats())))
    }
    fn garbage_collect(handle: u32, aggressive: bool) -> Result<wm::GcReport, wit_types::Error> {
        with_store(handle, |s| {
            let r = s.garbage_collect(&HostStorage, aggressive)?;
            Ok(wm::GcReport {
                segments_before: r.segments_before,
                segments_after: r.segments_after,
                bytes_reclaimed: r.bytes_reclaimed,
            })
        })
    }
    fn clear_cache(handle: u32) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.clear_cache();
            Ok(())
        })
    }
    fn set_profiling(handle: u32, enabled: bool) -> Result<(), wit_types::Error> {
        with_store(handle, |s| {
            s.profile_mut().set_enabled(enabled);
            Ok(())
        })
    }
    fn profiling(handle: u32) -> Result<Vec<wm::OpProfile>, wit_types::Error> {
        with_store(handle, |s| {
            Ok(s.profile()
                .ops()
                .map(|(op, count, total_ns)| wm::OpProfile { op: op.into(), count, total_ns })
                .collect())
        })
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
