//! Embedding memory (seed 004's "HTM"): a store of entries (key, f32 embedding, JSON
//! metadata, optional diff ops) searched by cosine similarity, held in memory for
//! search and persisted through the host storage port (see [`segments`]).

pub mod batches;
pub mod code;
mod compaction;
pub mod kernels;
pub mod principles;
#[cfg(target_arch = "wasm32")]
mod wit;

pub mod entries;
pub mod input;
pub mod ivf;
pub mod partitions;
pub mod profile;
pub mod search;
pub mod segments;
pub mod stats;
mod stores;
pub mod vector;

use crate::error::{Error, ErrorCode, Result};
use crate::ports::{all_keys, Storage};
use entries::{Entries, Record, Upserted};
use ivf::Ivf;
use profile::Profile;
use search::{scan, Hit, TopK};
use segments::{Config, Segment};
pub use stats::{GcReport, StoreStats};
use std::collections::{BTreeMap, BTreeSet};
pub use stores::{Hold, Stores};

pub const MAX_DIMENSION: u32 = 65_536;
pub const MAX_SHARDS: u32 = 256;
pub const MAX_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Flat,
    Ivf,
}

impl IndexKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Flat => "flat",
            IndexKind::Ivf => "ivf",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub dimension: u32,
    /// `None`: the recorded count of an existing store, `DEFAULT_SHARDS` for a new one.
    pub shard_count: Option<u32>,
    pub index: IndexKind,
}

#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    pub limit: u32,
    pub min_similarity: f32,
    pub filter_json: Option<String>,
    pub exact: bool,
    pub probes: Option<u32>,
}

/// One entry as returned by `get`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryOut {
    pub record: Record,
    pub embedding: Vec<f32>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("name", "must be 1..=128 characters of A-Z a-z 0-9 _ . -"))
    }
}

pub struct MemoryStore {
    name: String,
    namespace: String,
    config: Config,
    index: IndexKind,
    entries: Entries,
    ivf: Option<Ivf>,
    writer: u64,
    next_seq: u64,
    /// The segments replayed into `entries` (what a garbage collection rewrites).
    segment_keys: Vec<String>,
    /// Batches being written by this instance: applied here, not yet committed.
    writing: BTreeMap<String, Vec<String>>,
    /// Batches found in storage without a commit record: their segments, not applied.
    pending: BTreeMap<String, Vec<String>>,
    /// Committed batches whose segments were replayed or written here: their commit
    /// records go once a garbage collection has rewritten those segments.
    committed: BTreeSet<String>,
    profile: Profile,
    scratch: Scratch,
}

/// Buffers `put` keeps between batches. Fresh buffers for every batch would each be
/// new linear memory, and first touching new pages costs more than the work done in
/// them (measured: segment encoding 3x slower).
#[derive(Default)]
struct Scratch {
    /// Decoded embeddings of the batch.
    values: Vec<f32>,
    /// (key, value) of the batch's segments.
    segments: Vec<(String, String)>,
}

/// The shard count of a new store when the caller names none.
pub const DEFAULT_SHARDS: u32 = 4;

impl MemoryStore {
    /// Opens (creating) store `name` and replays its segments. `writer` tells this
    /// process's segments apart from other writers' (a random number).
    pub fn open(storage: &dyn Storage, name: &str, options: Options, writer: u64) -> Result<Self> {
        check_name(name)?;
        if !(1..=MAX_DIMENSION).contains(&options.dimension) {
            return Err(Error::invalid("dimension", format_args!("must be 1..={MAX_DIMENSION}")));
        }
        if options.shard_count.is_some_and(|n| !(1..=MAX_SHARDS).contains(&n)) {
            return Err(Error::invalid("shard_count", format_args!("must be 1..={MAX_SHARDS}")));
        }
        let namespace = format!("memory/{name}");
        let wanted = Config {
            v: segments::FORMAT_VERSION,
            dimension: options.dimension,
            shard_count: options.shard_count.unwrap_or(DEFAULT_SHARDS),
        };
        let config = match storage.get(&namespace, "config")? {
            None => {
                storage.set(
                    &namespace,
                    "config",
                    &serde_json::to_string(&wanted).expect("config serialises"),
                )?;
                wanted
            }
            Some(text) => {
                let found: Config = serde_json::from_str(&text).map_err(|e| {
                    Error::new(ErrorCode::Storage, format!("store {name}: config is corrupt: {e}"))
                })?;
                // An unnamed shard count takes the recorded one.
                let shards = options.shard_count.unwrap_or(found.shard_count);
                for (field, have, want) in [
                    ("dimension", found.dimension, wanted.dimension),
                    ("shard_count", found.shard_count, shards),
                ] {
                    if have != want {
                        return Err(Error::invalid(
                            field,
                            format_args!("store {name:?} was created with {field} {have}, not {want}"),
                        ));
                    }
                }
                found
            }
        };
        let mut store = Self {
            name: name.into(),
            namespace,
            config,
            index: options.index,
            entries: Entries::new(config.dimension as usize),
            ivf: None,
            writer,
            next_seq: 0,
            segment_keys: Vec::new(),
            writing: BTreeMap::new(),
            pending: BTreeMap::new(),
            committed: BTreeSet::new(),
            profile: Profile::default(),
            scratch: Scratch::default(),
        };
        store.load(storage)?;
        Ok(store)
    }

    /// Replays the segments in key order, skipping those of uncommitted batches (except
    /// the ones this instance is writing).
    fn load(&mut self, storage: &dyn Storage) -> Result<()> {
        let keys = all_keys(storage, &self.namespace, "seg/")?;
        let commits = batches::commit_records(storage, &self.namespace)?;
        let dim = self.entries.dim();
        let mut applied = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(value) = storage.get(&self.namespace, &key)? else { continue };
            if let Some(seq) = segments::seq_of(&key) {
                self.next_seq = self.next_seq.max(seq + 1);
            }
            let (batch, segment) = segments::decode(&key, &value, dim)?;
            if let Some(batch) = batch {
                if self.writing.contains_key(&batch) {
                    // This instance's own batch in progress (a reload): applied as before.
                } else if commits.contains(&batch) {
                    self.committed.insert(batch);
                } else {
                    self.pending.entry(batch).or_default().push(key);
                    continue;
                }
            }
            match segment {
                Segment::Put { records, values } => {
                    for (record, v) in records.into_iter().zip(values.chunks_exact(dim)) {
                        let inv = vector::inverse_norm(&key, v)?;
                        self.entries.upsert(record, v, inv);
                    }
                }
                Segment::Del(keys) => {
                    for k in keys {
                        self.entries.remove(&k);
                    }
                }
            }
            applied.push(key);
        }
        self.segment_keys = applied;
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn dimension(&self) -> usize {
        self.entries.dim()
    }

    /// All keys as a JSON array, in row order.
    pub fn keys_json(&self) -> String {
        let keys: Vec<&str> = self.entries.records().map(|r| r.key.as_ref()).collect();
        serde_json::to_string(&keys).expect("keys serialise")
    }

    pub fn set_index(&mut self, index: IndexKind) {
        if index == IndexKind::Flat {
            self.ivf = None;
        }
        self.index = index;
    }

    pub fn profile_mut(&mut self) -> &mut Profile {
        &mut self.profile
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    fn next_key(&mut self, shard: u32) -> String {
        let key = segments::segment_key(shard, self.next_seq, self.writer);
        self.next_seq += 1;
        key
    }

    /// Stores a batch, all or none: checked, persisted, then applied.
    pub fn put(
        &mut self,
        storage: &dyn Storage,
        entries_json: &str,
        embeddings_hex: &[impl AsRef<str>],
        now_ms: i64,
    ) -> Result<u32> {
        self.put_tagged(storage, None, entries_json, embeddings_hex, now_ms)
    }

    /// `put`, its segments tagged with `batch` when given.
    fn put_tagged(
        &mut self,
        storage: &dyn Storage,
        batch: Option<&str>,
        entries_json: &str,
        embeddings_hex: &[impl AsRef<str>],
        now_ms: i64,
    ) -> Result<u32> {
        let t = self.profile.start();
        let mut scratch = std::mem::take(&mut self.scratch);
        let out = self.put_batch(storage, batch, entries_json, embeddings_hex, now_ms, &mut scratch);
        self.scratch = scratch;
        self.profile.record("store", t);
        out
    }

    fn put_batch(
        &mut self,
        storage: &dyn Storage,
        tag: Option<&str>,
        entries_json: &str,
        embeddings_hex: &[impl AsRef<str>],
        now_ms: i64,
        scratch: &mut Scratch,
    ) -> Result<u32> {
        let batch = input::parse_entries(entries_json)?;
        let dim = self.entries.dim();
        let Scratch { values, segments } = scratch;
        vector::decode_rows_into("embeddings", embeddings_hex, batch.len(), dim, values)?;
        let mut inv_norms = Vec::with_capacity(batch.len());
        for (i, row) in values.chunks_exact(dim).enumerate() {
            inv_norms.push(vector::inverse_norm(&format!("embeddings[{i}]"), row)?);
        }
        let records: Vec<Record> = batch
            .into_iter()
            .map(|e| Record {
                key: e.key.into(),
                metadata: e.metadata.into(),
                diff_ops: e.diff_ops.map(Into::into),
                stored_at_ms: now_ms,
            })
            .collect();
        let mut by_shard: BTreeMap<u32, Vec<(&Record, &[f32])>> = BTreeMap::new();
        for (r, v) in records.iter().zip(values.chunks_exact(dim)) {
            by_shard.entry(segments::shard_of(&r.key, self.config.shard_count)).or_default().push((r, v));
        }
        let per_segment = segments::rows_per_segment(dim);
        let count = by_shard.values().map(|rows| rows.len().div_ceil(per_segment)).sum();
        segments.truncate(count);
        segments.resize_with(count, Default::default);
        let mut slots = segments.iter_mut();
        for (shard, rows) in by_shard {
            for chunk in rows.chunks(per_segment) {
                let (key, value) = slots.next().expect("one slot per segment");
                *key = self.next_key(shard);
                segments::encode_put_into(dim, chunk, tag, value);
            }
        }
        storage.set_many(&self.namespace, segments)?;
        self.segment_keys.extend(segments.iter().map(|(k, _)| k.clone()));
        if let Some(tag) = tag {
            self.writing.entry(tag.into()).or_default().extend(segments.iter().map(|(k, _)| k.clone()));
        }
        let n = records.len() as u32;
        for ((record, v), inv) in records.into_iter().zip(values.chunks_exact(dim)).zip(inv_norms) {
            match self.entries.upsert(record, v, inv) {
                Upserted::Added(i) => self.ivf.as_mut().map(|ivf| ivf.on_upsert(i, true)),
                Upserted::Replaced(i) => self.ivf.as_mut().map(|ivf| ivf.on_upsert(i, false)),
            };
        }
        Ok(n)
    }

    pub fn get(&mut self, key: &str) -> Option<EntryOut> {
        let t = self.profile.start();
        let out = self.entries.position(key).map(|i| EntryOut {
            record: self.entries.record(i).clone(),
            embedding: self.entries.row(i).to_vec(),
        });
        self.profile.record("retrieve", t);
        out
    }

    /// Removes the keys that exist, in one write; returns how many.
    pub fn delete(&mut self, storage: &dyn Storage, keys: &[String]) -> Result<u32> {
        let t = self.profile.start();
        let mut present: Vec<&str> =
            keys.iter().map(String::as_str).filter(|k| self.entries.position(k).is_some()).collect();
        present.sort_unstable();
        present.dedup();
        if present.is_empty() {
            return Ok(0);
        }
        let mut by_shard: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for k in &present {
            by_shard.entry(segments::shard_of(k, self.config.shard_count)).or_default().push(k);
        }
        let writes: Vec<(String, String)> = by_shard
            .into_iter()
            .map(|(shard, ks)| (self.next_key(shard), segments::encode_del(&ks)))
            .collect();
        let new_keys: Vec<String> = writes.iter().map(|(k, _)| k.clone()).collect();
        storage.set_many(&self.namespace, &writes)?;
        self.segment_keys.extend(new_keys);
        for k in &present {
            if let Some((row, moved)) = self.entries.remove(k) {
                if let Some(ivf) = self.ivf.as_mut() {
                    ivf.on_remove(row, moved);
                }
            }
        }
        self.profile.record("delete", t);
        Ok(present.len() as u32)
    }

    fn query(&self, field: &str, hex: &str) -> Result<(Vec<f32>, f32)> {
        let q = vector::decode_rows(field, hex, 1, self.entries.dim())?;
        let inv = vector::inverse_norm(field, &q)?;
        Ok((q, inv))
    }

    fn ensure_index(&mut self) {
        let needs = match &self.ivf {
            None => true,
            Some(ivf) => ivf.stale(),
        };
        if needs && !self.entries.is_empty() {
            self.build_index(None);
        }
    }

    /// Trains the IVF index over every row.
    pub fn build_index(&mut self, lists: Option<u32>) {
        let t = self.profile.start();
        let lists = lists.map_or_else(|| ivf::default_lists(self.entries.len()), |l| l.max(1) as usize);
        self.ivf = Some(Ivf::train_and_cluster(&mut self.entries, lists));
        self.profile.record("build_index", t);
    }

    /// Best matches, best first, as `[key, similarity, metadata]` JSON.
    pub fn search(&mut self, query_hex: &str, options: &SearchOptions) -> Result<String> {
        let t = self.profile.start();
        if !(1..=MAX_LIMIT).contains(&options.limit) {
            return Err(Error::invalid("limit", format_args!("must be 1..={MAX_LIMIT}")));
        }
        if !(-1.0..=1.0).contains(&options.min_similarity) {
            return Err(Error::invalid("min_similarity", "must be a number in -1..=1"));
        }
        let filter = options.filter_json.as_deref().map(input::parse_filter).transpose()?;
        let (q, inv) = self.query("query", query_hex)?;
        let approximate = !options.exact && self.index == IndexKind::Ivf;
        if approximate {
            self.ensure_index();
        }
        let op = if approximate { "search_approx" } else { "search" };
        let mut top = TopK::new(options.limit as usize, options.min_similarity, filter.as_ref());
        match (&self.ivf, approximate) {
            (Some(ivf), true) => {
                let probes = options.probes.map_or_else(|| ivf::default_probes(ivf.lists()), |p| p as usize);
                ivf.search(&self.entries, &q, inv, probes, &mut top);
            }
            _ => scan(&self.entries, &q, inv, &mut top, |c| c),
        }
        let out = hits_json(&self.entries, &top.into_sorted());
        self.profile.record(op, t);
        Ok(out)
    }

    /// Entries by resonance with `query`, or with the store's mean direction.
    pub fn query_by_resonance(
        &mut self,
        min: f32,
        max_results: Option<u32>,
        query_hex: Option<&str>,
    ) -> Result<String> {
        let t = self.profile.start();
        if !(0.0..=1.0).contains(&min) {
            return Err(Error::invalid("min_resonance", "must be a number in 0..=1"));
        }
        let limit = max_results.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT) as usize;
        let (q, inv) = match query_hex {
            Some(hex) => self.query("query", hex)?,
            None => {
                let Some(mean) = self.mean_direction() else { return Ok("[]".into()) };
                (mean, 1.0)
            }
        };
        let mut top = TopK::new(limit, min, None);
        scan(&self.entries, &q, inv, &mut top, vector::resonance_of_cosine);
        let out = hits_json(&self.entries, &top.into_sorted());
        self.profile.record("query_by_resonance", t);
        Ok(out)
    }

    /// The sum of the normalised embeddings (in f64); `None` when the store is empty.
    pub fn direction_sum(&self) -> Option<Vec<f64>> {
        if self.entries.is_empty() {
            return None;
        }
        let mut sum = vec![0f64; self.entries.dim()];
        for i in 0..self.entries.len() {
            let w = f64::from(self.entries.inv_norm(i));
            for (s, x) in sum.iter_mut().zip(self.entries.row(i)) {
                *s += f64::from(*x) * w;
            }
        }
        Some(sum)
    }

    /// The normalised sum of the normalised embeddings; `None` when it is zero.
    fn mean_direction(&self) -> Option<Vec<f32>> {
        let sum = self.direction_sum()?;
        let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
        (norm > 0.0).then(|| sum.iter().map(|x| (x / norm) as f32).collect())
    }

    pub fn clear_cache(&mut self) {
        self.ivf = None;
        self.scratch = Scratch::default();
    }

    fn used_bytes(&self) -> usize {
        self.entries.vector_bytes() + self.entries.record_bytes() + self.ivf.as_ref().map_or(0, Ivf::bytes)
    }

    pub fn stats(&self) -> StoreStats {
        let ivf = self.ivf.as_ref();
        StoreStats {
            name: self.name.clone(),
            entries: self.entries.len() as u64,
            dimension: self.entries.dim() as u32,
            shard_count: self.config.shard_count,
            index_kind: self.index,
            index_trained: ivf.is_some(),
            index_lists: ivf.map_or(0, Ivf::lists) as u32,
            pending: ivf.map_or(0, Ivf::pending) as u64,
            used_bytes: self.used_bytes() as u64,
            vector_bytes: self.entries.vector_bytes() as u64,
            raw_vector_bytes: (self.entries.len() * self.entries.dim() * 4) as u64,
            metadata_bytes: self.entries.record_bytes() as u64,
            index_bytes: ivf.map_or(0, Ivf::bytes) as u64,
            cache_entries: ivf.map_or(0, Ivf::indexed) as u64,
            segments: self.segment_keys.len() as u64,
            linear_memory_bytes: linear_memory_bytes() as u64,
        }
    }
}

fn linear_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// Checks the entries of several `put`s as one batch (see `input::check_batches`)
/// without storing them; returns how many there are. `rows_hex` (little-endian u32, one
/// per entry in order) names each entry's row in the caller's own batch, for errors.
pub fn check_entries(parts: &[impl AsRef<str>], rows_hex: Option<&str>) -> Result<u32> {
    let rows = rows_hex.map(|h| crate::blob::decode_u32("rows", h)).transpose()?;
    input::check_batches(parts, rows.as_deref())
}

/// Resonance of two embeddings given as hex f32 of equal length.
pub fn resonance(a_hex: &str, b_hex: &str) -> Result<f32> {
    let a = crate::blob::decode_f32("a", a_hex)?;
    let b = crate::blob::decode_f32("b", b_hex)?;
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::invalid(
            "b",
            format_args!("must have the length of a ({}), got {}", a.len(), b.len()),
        ));
    }
    for (field, v) in [("a", &a), ("b", &b)] {
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid(field, "must hold finite numbers only"));
        }
    }
    Ok(vector::resonance_of_cosine(vector::cosine(&a, &b)?))
}

/// `[[key, score, metadata], ...]`.
fn hits_json(entries: &Entries, hits: &[Hit<'_>]) -> String {
    let mut out = String::from("[");
    for (n, h) in hits.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&serde_json::to_string(h.key).expect("a string serialises"));
        out.push(',');
        out.push_str(&serde_json::to_string(&h.score).expect("a float serialises"));
        out.push(',');
        out.push_str(&entries.record(h.row).metadata);
        out.push(']');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests;
