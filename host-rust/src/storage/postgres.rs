//! The PostgreSQL backend: state shared by processes on several machines, in the same
//! table the Python host uses (`agentcell_kv (ns, key, value)`, keys in byte order by
//! `COLLATE "C"`), so both share a server.
//!
//! Writers of one namespace take a transaction-level advisory lock on it
//! (`pg_advisory_xact_lock(hashtext(ns))`, as the Python host does), so a
//! compare-and-set or a guarded commit reads its guards and writes with no other writer
//! of that namespace in between. Every call is one transaction.

use super::{check_key, check_keys, check_limit, page, StorageBackend};
use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use std::sync::Mutex;

pub struct PostgresStorage {
    shown: String,
    db: Mutex<postgres::Client>,
}

const SCHEMA: &str = r#"CREATE TABLE IF NOT EXISTS agentcell_kv (
    ns TEXT NOT NULL COLLATE "C",
    key TEXT NOT NULL COLLATE "C",
    value TEXT NOT NULL,
    PRIMARY KEY (ns, key)
)"#;

const UPSERT: &str = "INSERT INTO agentcell_kv (ns, key, value) VALUES ($1, $2, $3) \
    ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value";

impl PostgresStorage {
    /// Connects to `url` (`postgresql://user:password@host:port/database`) and creates
    /// the table when it is missing.
    pub fn open(url: &str) -> Result<Self, crate::Error> {
        let shown = url.split('@').next_back().unwrap_or(url).to_string();
        let fail = |e: postgres::Error| crate::Error::Storage { path: shown.clone(), message: e.to_string() };
        let mut db = postgres::Client::connect(url, postgres::NoTls).map_err(fail)?;
        let mut tx = db.transaction().map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('agentcell_kv schema'))", &[]).map_err(fail)?;
        tx.batch_execute(SCHEMA).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Self { shown: shown.clone(), db: Mutex::new(db) })
    }

    fn unavailable(&self, e: postgres::Error) -> StorageError {
        StorageError::Unavailable(format!("postgresql {}: {e}", self.shown))
    }

    /// `f` in one transaction holding the namespace's writer lock.
    fn write<T>(
        &self,
        ns: &str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, StorageError> {
        let mut db = self.db.lock().unwrap();
        let run = || -> Result<T, postgres::Error> {
            let mut tx = db.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&ns])?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.unavailable(e))
    }
}

fn current(
    tx: &mut postgres::Transaction<'_>,
    ns: &str,
    key: &str,
) -> Result<Option<String>, postgres::Error> {
    Ok(tx
        .query_opt("SELECT value FROM agentcell_kv WHERE ns = $1 AND key = $2", &[&ns, &key])?
        .map(|r| r.get(0)))
}

impl StorageBackend for PostgresStorage {
    fn writes_wait(&self) -> bool {
        true
    }

    fn shared(&self) -> bool {
        true
    }

    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        check_keys(ns, keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.db.lock().unwrap();
        let rows = db
            .query("SELECT key, value FROM agentcell_kv WHERE ns = $1 AND key = ANY($2)", &[&ns, &keys])
            .map_err(|e| self.unavailable(e))?;
        let found: std::collections::HashMap<String, String> =
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        check_keys(ns, entries.iter().map(|(k, _)| k))?;
        if entries.is_empty() {
            return Ok(());
        }
        self.write(ns, |tx| {
            let upsert = tx.prepare(UPSERT)?;
            for (k, v) in entries {
                tx.execute(&upsert, &[&ns, k, v])?;
            }
            Ok(())
        })
    }

    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        check_keys(ns, keys)?;
        if keys.is_empty() {
            return Ok(0);
        }
        let mut unique = keys.to_vec();
        unique.sort();
        unique.dedup();
        self.write(ns, |tx| {
            tx.execute("DELETE FROM agentcell_kv WHERE ns = $1 AND key = ANY($2)", &[&ns, &unique])
                .map(|n| n as u32)
        })
    }

    fn compare_and_set(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        let guard = (key.to_string(), expected.map(str::to_string));
        self.commit(ns, &[guard], &[(key.to_string(), Some(value.to_string()))])
    }

    fn commit(
        &self,
        ns: &str,
        guards: &[super::Guard],
        writes: &[super::Change],
    ) -> Result<bool, StorageError> {
        check_keys(ns, guards.iter().chain(writes).map(|(k, _)| k))?;
        self.write(ns, |tx| {
            for (key, expected) in guards {
                if current(tx, ns, key)? != *expected {
                    return Ok(false);
                }
            }
            for (key, value) in writes {
                match value {
                    Some(v) => tx.execute(UPSERT, &[&ns, key, v])?,
                    None => tx.execute("DELETE FROM agentcell_kv WHERE ns = $1 AND key = $2", &[&ns, key])?,
                };
            }
            Ok(true)
        })
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
        let mut db = self.db.lock().unwrap();
        let rows = db
            .query(
                "SELECT key FROM agentcell_kv WHERE ns = $1 AND starts_with(key, $2) \
                 AND ($3::text IS NULL OR key > $3) ORDER BY key LIMIT $4",
                &[&ns, &prefix, &cursor, &(i64::from(limit) + 1)],
            )
            .map_err(|e| self.unavailable(e))?;
        Ok(page(rows.into_iter().map(|r| r.get(0)).collect(), limit))
    }
}
