//! Garbage collection: a store's shards rewritten into compact segments of its live
//! entries, and a store's persisted data deleted.

use super::batches;
use super::{segments, GcReport, MemoryStore, Record};
use crate::error::{Error, Result};
use crate::ports::{all_keys, Storage};
use std::collections::BTreeMap;

impl MemoryStore {
    /// Rewrites every shard into compact segments of live entries, then deletes the
    /// old segments. Crash-safe: the new segments sort after the old ones and hold
    /// the same state, so a replay of both gives the same store.
    /// Not while this instance is writing a batch: the rewrite would commit it early.
    pub fn garbage_collect(&mut self, storage: &dyn Storage, aggressive: bool) -> Result<GcReport> {
        if let Some(batch) = self.writing.keys().next() {
            return Err(Error::invalid(
                "garbage_collect",
                format_args!("batch {batch:?} is being written; commit or abort it first"),
            ));
        }
        let t = self.profile.start();
        let before = self.segment_keys.len();
        let used_before = self.used_bytes();
        let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for i in 0..self.entries.len() {
            by_shard
                .entry(segments::shard_of(&self.entries.record(i).key, self.config.shard_count))
                .or_default()
                .push(i);
        }
        let old = std::mem::take(&mut self.segment_keys);
        let mut fresh = Vec::new();
        if let Err(e) = self.write_compacted(storage, by_shard, &mut fresh) {
            self.segment_keys = old.into_iter().chain(fresh).collect();
            return Err(e);
        }
        for chunk in old.chunks(1000) {
            storage.delete_many(&self.namespace, chunk)?;
        }
        self.segment_keys = fresh;
        // The committed batches' segments are rewritten untagged: their records can go.
        let records: Vec<String> =
            std::mem::take(&mut self.committed).iter().map(|b| batches::record_key(b)).collect();
        storage.delete_many(&self.namespace, &records)?;
        if aggressive {
            self.ivf = None;
            self.entries.shrink();
        }
        let report = GcReport {
            segments_before: before as u64,
            segments_after: self.segment_keys.len() as u64,
            bytes_reclaimed: used_before.saturating_sub(self.used_bytes()) as u64,
        };
        self.profile.record("garbage_collect", t);
        Ok(report)
    }

    /// Writes `rows` of each shard as fresh put segments, in transactions of ~16 MB;
    /// the keys written go to `fresh` as each transaction commits.
    fn write_compacted(
        &mut self,
        storage: &dyn Storage,
        by_shard: BTreeMap<u32, Vec<usize>>,
        fresh: &mut Vec<String>,
    ) -> Result<()> {
        const GROUP_BYTES: usize = 16 << 20;
        let dim = self.entries.dim();
        let mut group: Vec<(String, String)> = Vec::new();
        let mut group_bytes = 0;
        for (shard, rows) in by_shard {
            for chunk in rows.chunks(segments::rows_per_segment(dim)) {
                let items: Vec<(&Record, &[f32])> =
                    chunk.iter().map(|&i| (self.entries.record(i), self.entries.row(i))).collect();
                let value = segments::encode_put(dim, &items);
                group_bytes += value.len();
                group.push((segments::segment_key(shard, self.next_seq, self.writer), value));
                self.next_seq += 1;
                if group_bytes >= GROUP_BYTES {
                    storage.set_many(&self.namespace, &group)?;
                    fresh.extend(group.drain(..).map(|(k, _)| k));
                    group_bytes = 0;
                }
            }
        }
        if !group.is_empty() {
            storage.set_many(&self.namespace, &group)?;
            fresh.extend(group.into_iter().map(|(k, _)| k));
        }
        Ok(())
    }

    /// Deletes every persisted value of the store and empties it.
    pub fn destroy(&mut self, storage: &dyn Storage) -> Result<()> {
        let mut keys = all_keys(storage, &self.namespace, "")?;
        keys.sort();
        for chunk in keys.chunks(1000) {
            storage.delete_many(&self.namespace, chunk)?;
        }
        self.entries.clear();
        self.ivf = None;
        self.segment_keys.clear();
        self.writing.clear();
        self.pending.clear();
        self.committed.clear();
        Ok(())
    }
}
