//! The SQLite backend: the embedded default.

use super::{check_key, check_keys, check_limit, page, StorageBackend};
use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use crate::group_commit::GroupCommit;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

/// One write waiting for its commit.
enum Write {
    Set {
        ns: String,
        entries: Vec<(String, String)>,
    },
    Delete {
        ns: String,
        keys: Vec<String>,
    },
    /// Stores `value` if `key` holds `expected`; its result is 1 when it stored.
    CompareAndSet {
        ns: String,
        key: String,
        expected: Option<String>,
        value: String,
    },
    /// Applies `writes` if every guard holds; its result is 1 when it did.
    Commit {
        ns: String,
        guards: Vec<super::Guard>,
        writes: Vec<super::Change>,
    },
}

/// A SQLite file: the embedded default.
pub struct SqliteStorage {
    path: PathBuf,
    /// The one writer (and the reader too for `:memory:`).
    db: Mutex<rusqlite::Connection>,
    /// Writes from several threads at once share one transaction and one fsync.
    writes: GroupCommit<Write, Result<u32, StorageError>>,
    /// Read connections, one per core: in WAL mode reads run in parallel with each other
    /// and with the writer, so a server's workers never queue behind one connection.
    readers: Vec<Mutex<rusqlite::Connection>>,
    /// For a file this process owns (`open_owned`): values read or written, so reads
    /// that hit never reach SQLite. Sound only because no other process can write.
    cache: Option<RwLock<ValueCache>>,
}

/// namespace -> key -> the value, or `None` for a key known to be absent. Nested so a
/// read looks up by `&str` (no key allocated per lookup on a server's hot path).
#[derive(Default)]
struct ValueCache {
    by_ns: HashMap<String, HashMap<String, Option<String>>>,
    entries: usize,
    /// Pages of `list-keys` answers; a write drops the pages whose prefix its key has
    /// (a listing of flows stays while executions are written next to it).
    pages: Vec<CachedPage>,
}

struct CachedPage {
    ns: String,
    prefix: String,
    cursor: Option<String>,
    limit: u32,
    page: KeyPage,
}

/// Key pages the owned-file cache holds at most (the oldest goes first).
const CACHE_PAGES: usize = 64;

impl ValueCache {
    fn get(&self, ns: &str, key: &str) -> Option<&Option<String>> {
        self.by_ns.get(ns)?.get(key)
    }

    fn insert(&mut self, ns: &str, key: &str, value: Option<String>) {
        if !self.by_ns.contains_key(ns) {
            self.by_ns.insert(ns.to_string(), HashMap::new());
        }
        let map = self.by_ns.get_mut(ns).expect("inserted above");
        if map.insert(key.to_string(), value).is_none() {
            self.entries += 1;
        }
    }

    /// Starts over when holding `incoming` more entries would pass `CACHE_ENTRIES`.
    fn make_room(&mut self, incoming: usize) {
        if self.entries + incoming > CACHE_ENTRIES {
            self.by_ns.clear();
            self.entries = 0;
            self.pages.clear();
        }
    }

    fn page(&self, ns: &str, prefix: &str, cursor: Option<&str>, limit: u32) -> Option<&KeyPage> {
        self.pages
            .iter()
            .find(|p| p.ns == ns && p.prefix == prefix && p.cursor.as_deref() == cursor && p.limit == limit)
            .map(|p| &p.page)
    }

    fn insert_page(&mut self, ns: &str, prefix: &str, cursor: Option<&str>, limit: u32, page: KeyPage) {
        if self.pages.len() >= CACHE_PAGES {
            self.pages.remove(0);
        }
        let (ns, prefix, cursor) = (ns.to_string(), prefix.to_string(), cursor.map(str::to_string));
        self.pages.push(CachedPage { ns, prefix, cursor, limit, page });
    }

    /// A key of `ns` changed: the pages that could list it are stale.
    fn key_changed(&mut self, ns: &str, key: &str) {
        if !self.pages.is_empty() {
            self.pages.retain(|p| !(p.ns == ns && key.starts_with(p.prefix.as_str())));
        }
    }
}

/// Entries the owned-file cache holds before it starts over (a bound on its memory).
const CACHE_ENTRIES: usize = 100_000;

impl SqliteStorage {
    /// Opens (creating if needed) the store at `path` for this process alone, as a
    /// server does: SQLite's exclusive locking mode (another process opening the file
    /// gets "database is locked"), no per-read file locking, and reads answered from a
    /// write-through cache. For several servers on one store, use Redis.
    pub fn open_owned(path: impl AsRef<Path>) -> Result<Self, crate::Error> {
        let mut store = Self::open_with(path.as_ref(), true)?;
        store.cache = Some(RwLock::new(ValueCache::default()));
        Ok(store)
    }

    /// Opens (creating if needed) the store at `path`; `:memory:` keeps it in memory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, crate::Error> {
        Self::open_with(path.as_ref(), false)
    }

    fn open_with(path: &Path, owned: bool) -> Result<Self, crate::Error> {
        let path = path.to_path_buf();
        let fail = |message: String| crate::Error::Storage { path: path.display().to_string(), message };
        if path.as_os_str() != ":memory:" {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
            }
        }
        let db = rusqlite::Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        if owned {
            // Before WAL is first used: then SQLite keeps the WAL index in process memory.
            db.execute_batch("PRAGMA locking_mode=EXCLUSIVE").map_err(|e| fail(e.to_string()))?;
        }
        // The same schema as the Python host's (a rowid table: large values read faster);
        // files made by earlier versions keep their table.
        db.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL,
               value TEXT NOT NULL, PRIMARY KEY (ns, key));",
        )
        .map_err(|e| fail(e.to_string()))?;
        let mut readers = Vec::new();
        if path.as_os_str() != ":memory:" && !owned {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get());
            for _ in 0..n {
                let reader = rusqlite::Connection::open(&path).map_err(|e| fail(e.to_string()))?;
                reader.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| fail(e.to_string()))?;
                readers.push(Mutex::new(reader));
            }
        }
        Ok(Self { path, db: Mutex::new(db), writes: GroupCommit::default(), readers, cache: None })
    }

    /// Runs `f` on a free read connection (this thread's own when it is free).
    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        if self.readers.is_empty() {
            return f(&self.db.lock().unwrap());
        }
        let start = crate::thread_slot::thread_slot() % self.readers.len();
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        f(&self.readers[start].lock().unwrap())
    }

    fn select(
        &self,
        db: &rusqlite::Connection,
        ns: &str,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, StorageError> {
        let mut stmt = db
            .prepare_cached("SELECT value FROM kv WHERE ns=?1 AND key=?2")
            .map_err(|e| self.unavailable(&e))?;
        keys.iter()
            .map(|k| {
                use rusqlite::OptionalExtension;
                stmt.query_row((ns, k), |r| r.get(0)).optional().map_err(|e| self.unavailable(&e))
            })
            .collect()
    }

    /// Commits `write` together with whatever other threads are writing meanwhile
    /// (one transaction, one fsync); its result is known once that commit is durable.
    fn write(&self, write: Write) -> Result<u32, StorageError> {
        let failed = || Err(StorageError::Unavailable(format!("{}: the commit failed", self.path.display())));
        self.writes.submit(write, |batch| self.commit(batch), failed)
    }

    /// One transaction for `batch`, each write in a savepoint of its own, so a write
    /// that fails leaves the others in; the cache learns what committed, in order.
    fn commit(&self, batch: Vec<Write>) -> Vec<Result<u32, StorageError>> {
        let mut db = self.db.lock().unwrap();
        // IMMEDIATE: the write lock is taken before a compare-and-set reads, so no other
        // process sharing the file can write between its read and its write.
        let mut tx = match db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return batch.iter().map(|_| Err(self.unavailable(&e))).collect(),
        };
        let mut results: Vec<_> = batch.iter().map(|w| self.apply(&mut tx, w)).collect();
        if let Err(e) = tx.commit() {
            results.iter_mut().for_each(|r| *r = Err(self.unavailable(&e)));
            return results;
        }
        for (write, result) in batch.into_iter().zip(&results) {
            match (write, result) {
                (Write::Set { ns, entries }, Ok(_)) => {
                    self.cache_update(&ns, entries.into_iter().map(|(k, v)| (k, Some(v))))
                }
                (Write::Delete { ns, keys }, Ok(_)) => {
                    self.cache_update(&ns, keys.into_iter().map(|k| (k, None)))
                }
                (Write::CompareAndSet { ns, key, value, .. }, Ok(1)) => {
                    self.cache_update(&ns, std::iter::once((key, Some(value))))
                }
                (Write::CompareAndSet { .. }, Ok(_)) => {}
                (Write::Commit { ns, writes, .. }, Ok(1)) => self.cache_update(&ns, writes.into_iter()),
                (Write::Commit { .. }, Ok(_)) => {}
                (_, Err(_)) => {}
            }
        }
        results
    }

    /// Applies one write inside `tx`, all of it or (on error) none of it.
    fn apply(&self, tx: &mut rusqlite::Transaction<'_>, write: &Write) -> Result<u32, StorageError> {
        let sp = tx.savepoint().map_err(|e| self.unavailable(&e))?;
        let mut changed = 0;
        match write {
            Write::Set { ns, entries } => {
                let mut stmt = sp
                    .prepare_cached(
                        "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
                    )
                    .map_err(|e| self.unavailable(&e))?;
                for (k, v) in entries {
                    changed += stmt.execute((ns, k, v)).map_err(|e| self.unavailable(&e))? as u32;
                }
            }
            Write::Delete { ns, keys } => {
                let mut stmt = sp
                    .prepare_cached("DELETE FROM kv WHERE ns=?1 AND key=?2")
                    .map_err(|e| self.unavailable(&e))?;
                for k in keys {
                    changed += stmt.execute((ns, k)).map_err(|e| self.unavailable(&e))? as u32;
                }
            }
            Write::CompareAndSet { ns, key, expected, value } => {
                let current = self.select(&sp, ns, std::slice::from_ref(key))?.pop().flatten();
                if current == *expected {
                    sp.prepare_cached(
                        "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
                    )
                    .and_then(|mut stmt| stmt.execute((ns, key, value)))
                    .map_err(|e| self.unavailable(&e))?;
                    changed = 1;
                }
            }
            Write::Commit { ns, guards, writes } => {
                for (key, expected) in guards {
                    if self.select(&sp, ns, std::slice::from_ref(key))?.pop().flatten() != *expected {
                        return Ok(0); // the savepoint rolls back as it drops
                    }
                }
                let mut put = sp
                    .prepare_cached(
                        "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
                    )
                    .map_err(|e| self.unavailable(&e))?;
                let mut remove = sp
                    .prepare_cached("DELETE FROM kv WHERE ns=?1 AND key=?2")
                    .map_err(|e| self.unavailable(&e))?;
                for (key, value) in writes {
                    match value {
                        Some(v) => put.execute((ns, key, v)),
                        None => remove.execute((ns, key)),
                    }
                    .map_err(|e| self.unavailable(&e))?;
                }
                drop((put, remove));
                changed = 1;
            }
        }
        sp.commit().map_err(|e| self.unavailable(&e))?;
        Ok(changed)
    }

    /// After a committed write: the cache holds what the file now holds.
    fn cache_update(&self, ns: &str, changes: impl Iterator<Item = (String, Option<String>)>) {
        if let Some(cache) = &self.cache {
            let mut map = cache.write().unwrap();
            for (k, v) in changes {
                map.key_changed(ns, &k);
                map.insert(ns, &k, v);
            }
            map.make_room(0);
        }
    }

    fn unavailable(&self, e: &rusqlite::Error) -> StorageError {
        StorageError::Unavailable(format!("{}: {e}", self.path.display()))
    }
}

impl StorageBackend for SqliteStorage {
    fn writes_wait(&self) -> bool {
        self.path.as_os_str() != ":memory:"
    }

    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        check_keys(ns, keys)?;
        if let Some(cache) = &self.cache {
            let hits: Option<Vec<Option<String>>> = {
                let map = cache.read().unwrap();
                keys.iter().map(|k| map.get(ns, k).cloned()).collect()
            };
            if let Some(values) = hits {
                return Ok(values);
            }
            // Filled while the read still holds the connection (an owned file has no
            // other): a write commits and updates the cache under that same lock, so a
            // value read before a write can never be cached after it.
            return self.read(|db| {
                let values = self.select(db, ns, keys)?;
                let mut map = cache.write().unwrap();
                map.make_room(keys.len());
                for (k, v) in keys.iter().zip(&values) {
                    map.insert(ns, k, v.clone());
                }
                Ok(values)
            });
        }
        self.read(|db| self.select(db, ns, keys))
    }

    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        check_keys(ns, entries.iter().map(|(k, _)| k))?;
        self.write(Write::Set { ns: ns.to_string(), entries: entries.to_vec() })?;
        Ok(())
    }

    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        check_keys(ns, keys)?;
        self.write(Write::Delete { ns: ns.to_string(), keys: keys.to_vec() })
    }

    fn compare_and_set(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        check_key("namespace", ns)?;
        check_key("key", key)?;
        // A value other than `expected` now means it changed since the caller read it:
        // fail without waiting for a commit (only a success has to be atomic).
        if self.get_many(ns, &[key.to_string()])?.pop().flatten().as_deref() != expected {
            return Ok(false);
        }
        let write = Write::CompareAndSet {
            ns: ns.to_string(),
            key: key.to_string(),
            expected: expected.map(str::to_string),
            value: value.to_string(),
        };
        Ok(self.write(write)? == 1)
    }

    fn commit(
        &self,
        ns: &str,
        guards: &[super::Guard],
        writes: &[super::Change],
    ) -> Result<bool, StorageError> {
        check_keys(ns, guards.iter().chain(writes).map(|(k, _)| k))?;
        // As `compare_and_set`: a guard that fails now fails without waiting for a commit.
        let keys: Vec<String> = guards.iter().map(|(k, _)| k.clone()).collect();
        let current = self.get_many(ns, &keys)?;
        if current.iter().zip(guards).any(|(now, (_, expected))| now != expected) {
            return Ok(false);
        }
        let write = Write::Commit { ns: ns.to_string(), guards: guards.to_vec(), writes: writes.to_vec() };
        Ok(self.write(write)? == 1)
    }

    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StorageError> {
        check_key("namespace", ns)?;
        check_limit(limit)?;
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.read().unwrap().page(ns, prefix, cursor, limit) {
                return Ok(hit.clone());
            }
        }
        let keys = self.read(|db| {
            let mut stmt = db
                .prepare_cached(
                    "SELECT key FROM kv WHERE ns=?1 AND key>=?2 AND key>?3 AND key<?6 AND substr(key,1,?4)=?2
                     ORDER BY key LIMIT ?5",
                )
                .map_err(|e| self.unavailable(&e))?;
            let rows = stmt
                .query_map(
                    (
                        ns,
                        prefix,
                        cursor.unwrap_or(""),
                        prefix.chars().count() as i64,
                        limit as i64 + 1,
                        prefix_end(prefix),
                    ),
                    |r| r.get::<_, String>(0),
                )
                .map_err(|e| self.unavailable(&e))?;
            let keys = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.unavailable(&e))?;
            let found = page(keys, limit);
            // Cached while the read holds the connection, as values are (see `get_many`).
            if let Some(cache) = &self.cache {
                cache.write().unwrap().insert_page(ns, prefix, cursor, limit, found.clone());
            }
            Ok(found)
        })?;
        Ok(keys)
    }
}

/// A string greater than every key starting with `prefix` and less than the keys after
/// them (UTF-8 byte order is code point order): the prefix with its last character
/// advanced, so a listing's index scan ends where the prefix's keys end. For no prefix,
/// one longer than any key (keys are at most 1024 bytes).
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    "\u{10FFFF}".repeat(257)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn a_prefix_ends_just_after_its_keys() {
        assert_eq!(prefix_end("due/"), "due0");
        assert_eq!(prefix_end("a\u{10FFFF}"), "b");
        assert_eq!(prefix_end("a\u{D7FF}"), "a\u{E000}");
        assert!(prefix_end("").len() > 1024);
    }

    #[test]
    fn concurrent_writers_are_all_committed_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        for (name, owned) in [("shared.db", false), ("owned.db", true)] {
            let path = dir.path().join(name);
            let store = std::sync::Arc::new(if owned {
                SqliteStorage::open_owned(&path).unwrap()
            } else {
                SqliteStorage::open(&path).unwrap()
            });
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            let k = format!("t{t}-{i}");
                            store
                                .set_many(
                                    "ns",
                                    &[(k.clone(), format!("v{i}")), (format!("{k}-gone"), s("x"))],
                                )
                                .unwrap();
                            assert_eq!(
                                store.delete_many("ns", &[format!("{k}-gone"), s("never")]).unwrap(),
                                1
                            );
                            assert_eq!(store.get_many("ns", &[k]).unwrap(), [Some(format!("v{i}"))]);
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            drop(store);
            let reopened = SqliteStorage::open(&path).unwrap();
            let keys: Vec<String> = (0..6).flat_map(|t| (0..50).map(move |i| format!("t{t}-{i}"))).collect();
            let values = reopened.get_many("ns", &keys).unwrap();
            assert!(values.iter().all(Option::is_some), "{name}: an acknowledged write is missing");
            assert_eq!(reopened.list_keys("ns", "", None, 1000).unwrap().keys.len(), 300, "{name}");
        }
    }

    #[test]
    fn owned_file_key_pages_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let owned = SqliteStorage::open_owned(dir.path().join("pages.db")).unwrap();
        let keys = |prefix: &str| owned.list_keys("ns", prefix, None, 10).unwrap().keys;
        owned.set_many("ns", &[(s("flow/a"), s("1"))]).unwrap();
        assert_eq!(keys("flow/"), [s("flow/a")]);
        owned.set_many("ns", &[(s("exec/x"), s("1"))]).unwrap(); // another prefix: the page stays right
        assert_eq!(keys("flow/"), [s("flow/a")]);
        owned.set_many("ns", &[(s("flow/b"), s("2"))]).unwrap();
        assert_eq!(keys("flow/"), [s("flow/a"), s("flow/b")]);
        assert!(owned.compare_and_set("ns", "flow/c", None, "3").unwrap());
        assert_eq!(keys("flow/").len(), 3);
        assert_eq!(owned.delete_many("ns", &[s("flow/a")]).unwrap(), 1);
        assert_eq!(keys("flow/"), [s("flow/b"), s("flow/c")]);
        assert_eq!(keys(""), [s("exec/x"), s("flow/b"), s("flow/c")]);
        let second = owned.list_keys("ns", "flow/", None, 1).unwrap();
        assert_eq!((second.keys, second.cursor), (vec![s("flow/b")], Some(s("flow/b"))));
    }

    #[test]
    fn owned_file_answers_from_its_cache_coherently_and_keeps_others_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owned.db");
        {
            let owned = SqliteStorage::open_owned(&path).unwrap();
            assert_eq!(owned.get_many("ns", &[s("k")]).unwrap(), [None]); // a cached miss
            owned.set_many("ns", &[(s("k"), s("v1"))]).unwrap();
            assert_eq!(owned.get_many("ns", &[s("k")]).unwrap(), [Some(s("v1"))]);
            owned.set_many("ns", &[(s("k"), s("v2")), (s("j"), s("w"))]).unwrap();
            assert_eq!(owned.get_many("ns", &[s("k"), s("j")]).unwrap(), [Some(s("v2")), Some(s("w"))]);
            assert_eq!(owned.delete_many("ns", &[s("j")]).unwrap(), 1);
            assert_eq!(owned.get_many("ns", &[s("j"), s("k")]).unwrap(), [None, Some(s("v2"))]);
            // Another connection (another process, say) is kept out while it is owned.
            let other = SqliteStorage::open(&path);
            let locked = match other {
                Err(e) => e.to_string(),
                Ok(o) => o.get_many("ns", &[s("k")]).unwrap_err().to_string(),
            };
            assert!(locked.contains("locked"), "{locked}");
        }
        // Released on close, and every write is in the file.
        let again = SqliteStorage::open(&path).unwrap();
        assert_eq!(again.get_many("ns", &[s("k"), s("j")]).unwrap(), [Some(s("v2")), None]);
    }

    #[test]
    fn sqlite_file_persists_and_bad_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        SqliteStorage::open(&path).unwrap().set_many("ns", &[(s("k"), s("v"))]).unwrap();
        assert_eq!(
            SqliteStorage::open(&path).unwrap().get_many("ns", &[s("k")]).unwrap(),
            vec![Some(s("v"))]
        );
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let err = SqliteStorage::open(blocker.join("kv.db")).err().unwrap();
        assert!(err.to_string().contains("file/kv.db"), "{err}");
    }
}
