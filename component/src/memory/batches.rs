//! Batches written by several calls, whole or absent after a crash.
//!
//! A host that splits one batch over several `put` calls (it is too big for one, or its
//! keys fall to several partitions, each an instance with its own storage) writes each
//! piece with [`MemoryStore::put_pending`]: the segments carry the batch id and a reopen
//! skips them. [`MemoryStore::commit_batch`] then writes the commit record
//! `batch/<id>`, one small value, last. Across partitions the host commits partition 0
//! first: its record decides, and at open the host rolls forward any partition that
//! holds segments of a batch partition 0 has committed (see the WIT `memory` docs).

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::ports::{all_keys, Storage};
use std::collections::BTreeSet;

/// Where a batch's commit record lives in the store's namespace.
pub fn record_key(batch: &str) -> String {
    format!("batch/{batch}")
}

/// The batches with a commit record.
pub fn commit_records(storage: &dyn Storage, namespace: &str) -> Result<BTreeSet<String>> {
    Ok(all_keys(storage, namespace, "batch/")?
        .into_iter()
        .filter_map(|k| k.strip_prefix("batch/").map(str::to_owned))
        .collect())
}

/// A batch id: 1..=64 characters of `A-Z a-z 0-9 _ -`.
pub fn check_id(batch: &str) -> Result<()> {
    let ok = (1..=64).contains(&batch.len())
        && batch.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("batch", "must be 1..=64 characters of A-Z a-z 0-9 _ -"))
    }
}

impl MemoryStore {
    /// `put`, with the segments belonging to `batch`: applied to this copy at once,
    /// invisible to a reopen until the batch is committed.
    pub fn put_pending(
        &mut self,
        storage: &dyn Storage,
        batch: &str,
        entries_json: &str,
        embeddings_hex: &[impl AsRef<str>],
        now_ms: i64,
    ) -> Result<u32> {
        check_id(batch)?;
        if self.pending.contains_key(batch) {
            return Err(Error::invalid(
                "batch",
                format_args!("batch {batch:?} was left by an earlier writer"),
            ));
        }
        self.put_tagged(storage, Some(batch), entries_json, embeddings_hex, now_ms)
    }

    /// Writes the commit record of `batch`. A batch found pending at open (its writer
    /// stopped after writing, before committing here) is replayed now.
    pub fn commit_batch(&mut self, storage: &dyn Storage, batch: &str) -> Result<()> {
        check_id(batch)?;
        storage.set(&self.namespace, &record_key(batch), "1")?;
        self.committed.insert(batch.into());
        if self.writing.remove(batch).is_none() && self.pending.contains_key(batch) {
            self.reload(storage)?;
        }
        Ok(())
    }

    /// Deletes the segments of an uncommitted `batch` and forgets what it put here
    /// (the store is replayed from storage). `invalid-argument` once it is committed.
    pub fn abort_batch(&mut self, storage: &dyn Storage, batch: &str) -> Result<()> {
        check_id(batch)?;
        if storage.get(&self.namespace, &record_key(batch))?.is_some() {
            return Err(Error::invalid("batch", format_args!("batch {batch:?} is committed")));
        }
        let written = self.writing.remove(batch);
        let mut keys = written.clone().unwrap_or_default();
        keys.extend(self.pending.remove(batch).unwrap_or_default());
        for chunk in keys.chunks(1000) {
            storage.delete_many(&self.namespace, chunk)?;
        }
        if written.is_some() {
            self.reload(storage)?;
        }
        Ok(())
    }

    /// The batches whose segments were found without a commit record, by id.
    pub fn pending_batches(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// True when `batch` has its commit record in this store's storage.
    pub fn batch_committed(&self, storage: &dyn Storage, batch: &str) -> Result<bool> {
        check_id(batch)?;
        Ok(storage.get(&self.namespace, &record_key(batch))?.is_some())
    }

    /// Forgets the in-memory copy and replays storage (with the batches this instance
    /// is still writing, as before).
    fn reload(&mut self, storage: &dyn Storage) -> Result<()> {
        self.entries.clear();
        self.ivf = None;
        self.segment_keys.clear();
        self.pending.clear();
        self.committed.clear();
        self.load(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{IndexKind, Options};
    use super::*;
    use crate::blob::encode_f32;
    use crate::ports::MemoryStorage;

    fn open(storage: &dyn Storage) -> MemoryStore {
        let options = Options { dimension: 2, shard_count: Some(4), index: IndexKind::Flat };
        MemoryStore::open(storage, "b", options, 7).unwrap()
    }

    fn piece(store: &mut MemoryStore, storage: &dyn Storage, batch: &str, keys: &[&str]) {
        let entries = serde_json::json!({ "keys": keys }).to_string();
        let values: Vec<f32> = keys.iter().flat_map(|_| [1.0, 0.5]).collect();
        store.put_pending(storage, batch, &entries, &[encode_f32(&values)], 1).unwrap();
    }

    #[test]
    fn a_batch_counts_after_a_reopen_only_once_committed() {
        let storage = MemoryStorage::default();
        let mut writer = open(&storage);
        piece(&mut writer, &storage, "b1", &["a", "b"]);
        piece(&mut writer, &storage, "b1", &["c"]);
        assert_eq!(writer.len(), 3, "the writer sees its batch at once");
        let reader = open(&storage);
        assert_eq!((reader.len(), reader.pending_batches()), (0, vec!["b1".to_string()]));
        writer.commit_batch(&storage, "b1").unwrap();
        let reader = open(&storage);
        assert_eq!((reader.len(), reader.pending_batches().len()), (3, 0));
    }

    #[test]
    fn a_pending_batch_rolls_forward_or_aborts() {
        let storage = MemoryStorage::default();
        let mut writer = open(&storage);
        piece(&mut writer, &storage, "b1", &["a", "b"]);
        piece(&mut writer, &storage, "b2", &["c"]);
        drop(writer); // the writer dies before committing
        let mut next = open(&storage);
        assert_eq!(next.pending_batches(), ["b1", "b2"]);
        next.commit_batch(&storage, "b1").unwrap();
        assert_eq!(next.len(), 2);
        next.abort_batch(&storage, "b2").unwrap();
        assert!(next.abort_batch(&storage, "b1").is_err(), "committed batches stay");
        let again = open(&storage);
        assert_eq!((again.len(), again.pending_batches().len()), (2, 0));
    }

    #[test]
    fn aborting_restores_what_the_batch_replaced() {
        let storage = MemoryStorage::default();
        let mut store = open(&storage);
        let entries = serde_json::json!({ "keys": ["a"], "metadata": [{"v": 1}] }).to_string();
        store.put(&storage, &entries, &[encode_f32(&[1.0, 0.0])], 1).unwrap();
        piece(&mut store, &storage, "b1", &["a", "z"]);
        assert!(store.garbage_collect(&storage, false).is_err(), "no compaction mid-batch");
        store.abort_batch(&storage, "b1").unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(&*store.get("a").unwrap().record.metadata, r#"{"v":1}"#);
        assert!(store.put_pending(&storage, "no/slash", "[]", &[""], 1).is_err());
    }

    #[test]
    fn compaction_folds_committed_batches_and_leaves_pending_ones() {
        let storage = MemoryStorage::default();
        let mut store = open(&storage);
        piece(&mut store, &storage, "b1", &["a", "b"]);
        store.commit_batch(&storage, "b1").unwrap();
        let mut other = open(&storage);
        piece(&mut other, &storage, "b2", &["c"]);
        store.garbage_collect(&storage, false).unwrap();
        assert!(!store.batch_committed(&storage, "b1").unwrap(), "record folded away");
        let reopened = open(&storage);
        assert_eq!((reopened.len(), reopened.pending_batches()), (2, vec!["b2".to_string()]));
        other.commit_batch(&storage, "b2").unwrap();
        assert_eq!(open(&storage).len(), 3);
    }
}
