//! What a store reports of itself: its statistics and a garbage collection's report.

use super::IndexKind;

/// Counts and sizes of one store (WIT `store-stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    pub name: String,
    pub entries: u64,
    pub dimension: u32,
    pub shard_count: u32,
    pub index_kind: IndexKind,
    pub index_trained: bool,
    pub index_lists: u32,
    pub pending: u64,
    pub used_bytes: u64,
    pub vector_bytes: u64,
    pub raw_vector_bytes: u64,
    pub metadata_bytes: u64,
    pub index_bytes: u64,
    pub cache_entries: u64,
    pub segments: u64,
    pub linear_memory_bytes: u64,
}

/// What a garbage collection did (WIT `gc-report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    pub segments_before: u64,
    pub segments_after: u64,
    pub bytes_reclaimed: u64,
}
