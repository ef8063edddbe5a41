//! Storage backends for the component's `storage` import, one file each: a SQLite file
//! (the embedded default; WAL, `synchronous=FULL`, one transaction per call), memory,
//! Redis and PostgreSQL (several servers sharing state). This module holds what they share: the
//! trait, the key rules (the same in every host: namespace and key non-empty and at
//! most 1024 bytes; `list-keys` limit 1..=1000), and the tests every backend passes.

mod memory;
mod postgres;
mod redis;
mod sqlite;

pub use memory::MemoryStorage;
pub use postgres::PostgresStorage;
pub use redis::RedisStorage;
pub use sqlite::SqliteStorage;

use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};

pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A key and the value it must hold for a `commit` to apply (`None`: nothing).
pub type Guard = (String, Option<String>);
/// A key and what a `commit` leaves under it (`None`: nothing).
pub type Change = (String, Option<String>);

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
    /// Applies `writes` (`Some`: store, `None`: remove) all or none, only if every guard
    /// holds (its key holds exactly the expected value), as one atomic step; true when
    /// it applied them.
    fn commit(&self, ns: &str, guards: &[Guard], writes: &[Change]) -> Result<bool, StorageError>;
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
    /// True when other processes, on other machines, may use the same data (Redis): a
    /// process cannot then assume that work it finds unfinished was abandoned.
    fn shared(&self) -> bool {
        false
    }
}

/// Checks one namespace or key against the key rules.
pub fn check_key(what: &str, key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey(format!("{what} must not be empty")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!("{what} must be at most {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

pub(crate) fn check_keys<'a>(
    ns: &str,
    keys: impl IntoIterator<Item = &'a String>,
) -> Result<(), StorageError> {
    check_key("namespace", ns)?;
    keys.into_iter().try_for_each(|k| check_key("key", k))
}

pub(crate) fn check_limit(limit: u32) -> Result<(), StorageError> {
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(StorageError::InvalidKey(format!("limit must be 1..={MAX_LIST_LIMIT}, got {limit}")));
    }
    Ok(())
}

pub(crate) fn page(mut keys: Vec<String>, limit: u32) -> KeyPage {
    let more = keys.len() > limit as usize;
    keys.truncate(limit as usize);
    let cursor = if more { keys.last().cloned() } else { None };
    KeyPage { keys, cursor }
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
    fn commit_applies_everything_only_when_every_guard_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = backends();
        all.push(Box::new(SqliteStorage::open_owned(dir.path().join("owned.db")).unwrap()));
        for b in all {
            b.set_many("ns", &[(s("rec"), s("v1")), (s("idx/old"), s(""))]).unwrap();
            let writes = [(s("rec"), Some(s("v2"))), (s("idx/old"), None), (s("idx/new"), Some(s("")))];
            assert!(!b.commit("ns", &[(s("rec"), Some(s("v0")))], &writes).unwrap(), "a stale guard");
            assert!(!b
                .commit("ns", &[(s("rec"), Some(s("v1"))), (s("gone"), Some(s("x")))], &writes)
                .unwrap());
            assert_eq!(
                b.get_many("ns", &[s("rec"), s("idx/old")]).unwrap(),
                vec![Some(s("v1")), Some(s(""))]
            );
            assert!(b.commit("ns", &[(s("rec"), Some(s("v1"))), (s("absent"), None)], &writes).unwrap());
            let now = b.get_many("ns", &[s("rec"), s("idx/old"), s("idx/new")]).unwrap();
            assert_eq!(now, vec![Some(s("v2")), None, Some(s(""))]);
            assert_eq!(b.list_keys("ns", "idx/", None, 10).unwrap().keys, vec![s("idx/new")]);
            assert!(b.commit("ns", &[], &[(s("k"), Some(s("a"))), (s("k"), Some(s("b")))]).unwrap());
            assert_eq!(b.get_many("ns", &[s("k")]).unwrap(), vec![Some(s("b"))], "the last write wins");
            assert!(matches!(b.commit("ns", &[(s(""), None)], &[]), Err(StorageError::InvalidKey(_))));
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
}
