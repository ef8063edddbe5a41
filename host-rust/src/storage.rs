//! Storage backends for the component's `storage` import: a SQLite file (the embedded
//! default; WAL, `synchronous=FULL`, one transaction per call) and memory.
//! Key rules are the same in every host: namespace and key non-empty and at most 1024
//! bytes; `list-keys` limit 1..=1000.

use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use crate::group_commit::GroupCommit;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_LIST_LIMIT: u32 = 1000;

/// What backs the `storage` import. Every method is atomic.
pub trait StorageBackend: Send + Sync {
    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError>;
    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError>;
    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError>;
    /// Stores `value` only if `key` holds exactly `expected` (`None`: nothing), as one
    /// atomic step; true when it stored.
    fn compare_and_set(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError>;
    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StorageError>;
    /// True when a write waits on something slow (an fsync, a network round trip), so a
    /// server should not hold an event-loop thread for it.
    fn writes_wait(&self) -> bool {
        false
    }
}

pub fn check_key(what: &str, key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey(format!("{what} must not be empty")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!("{what} must be at most {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

fn check_keys<'a>(ns: &str, keys: impl IntoIterator<Item = &'a String>) -> Result<(), StorageError> {
    check_key("namespace", ns)?;
    keys.into_iter().try_for_each(|k| check_key("key", k))
}

fn check_limit(limit: u32) -> Result<(), StorageError> {
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(StorageError::InvalidKey(format!("limit must be 1..={MAX_LIST_LIMIT}, got {limit}")));
    }
    Ok(())
}

fn page(mut keys: Vec<String>, limit: u32) -> KeyPage {
    let more = keys.len() > limit as usize;
    keys.truncate(limit as usize);
    let cursor = if more { keys.last().cloned() } else { None };
    KeyPage { keys, cursor }
}

/// Everything in memory; gone with the process. Nested by namespace, so a read looks
/// up by `&str` (no key allocated per read), behind a read-write lock, so the workers of
/// a server read side by side.
#[derive(Default)]
pub struct MemoryStorage {
    by_ns: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

impl StorageBackend for MemoryStorage {
    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        check_keys(ns, keys)?;
        let by_ns = self.by_ns.read().unwrap();
        let map = by_ns.get(ns);
        Ok(keys.iter().map(|k| map.and_then(|m| m.get(k.as_str())).cloned()).collect())
    }

    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        check_keys(ns, entries.iter().map(|(k, _)| k))?;
        let mut by_ns = self.by_ns.write().unwrap();
        let map = by_ns.entry(ns.to_string()).or_default();
        for (k, v) in entries {
            map.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        check_keys(ns, keys)?;
        let mut by_ns = self.by_ns.write().unwrap();
        let Some(map) = by_ns.get_mut(ns) else { return Ok(0) };
        Ok(keys.iter().filter(|k| map.remove(k.as_str()).is_some()).count() as u32)
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
        let mut by_ns = self.by_ns.write().unwrap();
        let current = by_ns.get(ns).and_then(|m| m.get(key)).map(String::as_str);
        if current != expected {
            return Ok(false);
        }
        by_ns.entry(ns.to_string()).or_default().insert(key.to_string(), value.to_string());
        Ok(true)
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
        let by_ns = self.by_ns.read().unwrap();
        let keys = by_ns
            .get(ns)
            .into_iter()
            .flat_map(|map| {
                map.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            })
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .filter(|k| cursor.is_none_or(|c| k.as_str() > c))
            .take(limit as usize + 1)
            .cloned()
            .collect();
        Ok(page(keys, limit))
    }
}

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
}

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
        }
        sp.commit().map_err(|e| self.unavailable(&e))?;
        Ok(changed)
    }

    /// After a committed write: the cache holds what the file now holds.
    fn cache_update(&self, ns: &str, changes: impl Iterator<Item = (String, Option<String>)>) {
        if let Some(cache) = &self.cache {
            let mut map = cache.write().unwrap();
            for (k, v) in changes {
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

    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StorageError> {
        check_key("namespace", ns)?;
        check_limit(limit)?;
        let keys = self.read(|db| {
            let mut stmt = db
                .prepare_cached(
                    "SELECT key FROM kv WHERE ns=?1 AND key>=?2 AND key>?3 AND substr(key,1,?4)=?2
                     ORDER BY key LIMIT ?5",
                )
                .map_err(|e| self.unavailable(&e))?;
            let rows = stmt
                .query_map(
                    (ns, prefix, cursor.unwrap_or(""), prefix.chars().count() as i64, limit as i64 + 1),
                    |r| r.get::<_, String>(0),
                )
                .map_err(|e| self.unavailable(&e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.unavailable(&e))
        })?;
        Ok(page(keys, limit))
    }
}

/// Redis: for several server processes sharing state. Values live at
/// `agentcell:kv:<ns>:<key>`; a sorted set per namespace (`agentcell:idx:<ns>`, all
/// scores 0) keeps the keys in byte order for `list-keys`. Batches run in MULTI/EXEC.
pub struct RedisStorage {
    shown: String,
    conn: Mutex<redis::Connection>,
    /// Compare-and-set as a Lua script: Redis runs a script as one atomic step.
    cas: redis::Script,
}

/// KEYS: value key, index key. ARGV: key, value, and the expected value when there is
/// one (none: set only if absent). Returns 1 when it stored.
const CAS_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
local expected = ARGV[3]
if (expected == nil and current == false) or (expected ~= nil and current == expected) then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  return 1
end
return 0
";

impl RedisStorage {
    /// Connects to `url` (`redis://host:port/db`).
    pub fn open(url: &str) -> Result<Self, crate::Error> {
        let shown = url.split('@').next_back().unwrap_or(url).to_string();
        let fail =
            |e: redis::RedisError| crate::Error::Storage { path: shown.clone(), message: e.to_string() };
        let client = redis::Client::open(url).map_err(fail)?;
        let mut conn = client.get_connection().map_err(fail)?;
        redis::cmd("PING").query::<String>(&mut conn).map_err(fail)?;
        Ok(Self { shown: shown.clone(), conn: Mutex::new(conn), cas: redis::Script::new(CAS_SCRIPT) })
    }

    fn unavailable(&self, e: redis::RedisError) -> StorageError {
        StorageError::Unavailable(format!("redis {}: {e}", self.shown))
    }

    fn value_key(ns: &str, key: &str) -> String {
        format!("agentcell:kv:{ns}:{key}")
    }

    fn index_key(ns: &str) -> String {
        format!("agentcell:idx:{ns}")
    }
}

impl StorageBackend for RedisStorage {
    fn writes_wait(&self) -> bool {
        true
    }

    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        check_keys(ns, keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = keys.iter().map(|k| Self::value_key(ns, k)).collect();
        let mut conn = self.conn.lock().unwrap();
        redis::cmd("MGET").arg(&names).query(&mut *conn).map_err(|e| self.unavailable(e))
    }

    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        check_keys(ns, entries.iter().map(|(k, _)| k))?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (k, v) in entries {
            pipe.cmd("SET").arg(Self::value_key(ns, k)).arg(v).ignore();
            pipe.cmd("ZADD").arg(Self::index_key(ns)).arg(0).arg(k).ignore();
        }
        let mut conn = self.conn.lock().unwrap();
        pipe.query::<()>(&mut *conn).map_err(|e| self.unavailable(e))
    }

    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        check_keys(ns, keys)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for k in keys {
            pipe.cmd("DEL").arg(Self::value_key(ns, k));
            pipe.cmd("ZREM").arg(Self::index_key(ns)).arg(k).ignore();
        }
        let mut conn = self.conn.lock().unwrap();
        let removed: Vec<u32> = pipe.query(&mut *conn).map_err(|e| self.unavailable(e))?;
        Ok(removed.iter().sum())
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
        let mut invocation = self.cas.key(Self::value_key(ns, key));
        invocation.key(Self::index_key(ns)).arg(key).arg(value);
        if let Some(expected) = expected {
            invocation.arg(expected);
        }
        let mut conn = self.conn.lock().unwrap();
        let stored: i32 = invocation.invoke(&mut *conn).map_err(|e| self.unavailable(e))?;
        Ok(stored == 1)
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
        // Byte-order range: from the prefix (or just after the cursor) to prefix + 0xFF,
        // a byte no UTF-8 key contains.
        let min: Vec<u8> = match cursor {
            Some(c) if c >= prefix => [b"(".as_slice(), c.as_bytes()].concat(),
            _ if prefix.is_empty() => b"-".to_vec(),
            _ => [b"[".as_slice(), prefix.as_bytes()].concat(),
        };
        let max: Vec<u8> = if prefix.is_empty() {
            b"+".to_vec()
        } else {
            [b"[".as_slice(), prefix.as_bytes(), &[0xFF]].concat()
        };
        let mut conn = self.conn.lock().unwrap();
        let keys: Vec<String> = redis::cmd("ZRANGEBYLEX")
            .arg(Self::index_key(ns))
            .arg(min)
            .arg(max)
            .arg("LIMIT")
            .arg(0)
            .arg(limit + 1)
            .query(&mut *conn)
            .map_err(|e| self.unavailable(e))?;
        Ok(page(keys, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends() -> Vec<Box<dyn StorageBackend>> {
        vec![Box::new(MemoryStorage::default()), Box::new(SqliteStorage::open(":memory:").unwrap())]
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn compare_and_set_stores_only_over_the_expected_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = backends();
        all.push(Box::new(SqliteStorage::open_owned(dir.path().join("owned.db")).unwrap()));
        for b in all {
            assert!(b.compare_and_set("ns", "k", None, "a").unwrap());
            assert!(!b.compare_and_set("ns", "k", None, "b").unwrap());
            assert!(!b.compare_and_set("ns", "k", Some("x"), "b").unwrap());
            assert!(b.compare_and_set("ns", "k", Some("a"), "b").unwrap());
            assert_eq!(b.get_many("ns", &[s("k")]).unwrap(), vec![Some(s("b"))]);
            assert_eq!(b.delete_many("ns", &[s("k")]).unwrap(), 1);
            assert!(!b.compare_and_set("ns", "k", Some("b"), "c").unwrap(), "deleted: no longer b");
            assert!(b.compare_and_set("ns", "k", None, "c").unwrap());
            assert!(matches!(b.compare_and_set("ns", "", None, "c"), Err(StorageError::InvalidKey(_))));
        }
    }

    #[test]
    fn pages_keys_in_byte_order() {
        for b in backends() {
            let entries: Vec<_> = (0..25).map(|i| (format!("k{i:02}"), i.to_string())).collect();
            b.set_many("ns", &entries).unwrap();
            b.set_many("ns", &[(s("other"), s("x"))]).unwrap();
            let p1 = b.list_keys("ns", "k", None, 10).unwrap();
            assert_eq!(p1.keys.len(), 10);
            assert_eq!(p1.cursor.as_deref(), Some("k09"));
            let p2 = b.list_keys("ns", "k", p1.cursor.as_deref(), 10).unwrap();
            assert_eq!(p2.keys[0], "k10");
            let p3 = b.list_keys("ns", "k", p2.cursor.as_deref(), 10).unwrap();
            assert_eq!((p3.keys.len(), p3.cursor), (5, None));
        }
    }

    #[test]
    fn batches_are_all_or_nothing() {
        for b in backends() {
            assert!(matches!(
                b.set_many("ns", &[(s("a"), s("1")), (s(""), s("2"))]),
                Err(StorageError::InvalidKey(_))
            ));
            assert_eq!(b.get_many("ns", &[s("a")]).unwrap(), vec![None]);
            b.set_many("ns", &[(s("a"), s("1")), (s("b"), s("2"))]).unwrap();
            assert_eq!(b.delete_many("ns", &[s("a"), s("zz")]).unwrap(), 1);
            assert_eq!(b.get_many("ns", &[s("a"), s("b")]).unwrap(), vec![None, Some(s("2"))]);
        }
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
