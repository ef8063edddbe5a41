//! The PostgreSQL backend: state shared by processes on several machines, in the same
//! table the Python host uses (`agentcell_kv (ns, key, value)`, keys in byte order by
//! `COLLATE "C"`), so both share a server.
//!
//! Writers of one namespace take a transaction-level advisory lock on it
//! (`pg_advisory_xact_lock(hashtext(ns))`, as the Python host does), so a
//! compare-and-set or a guarded commit reads its guards and writes with no other writer
//! of that namespace in between. Every call is one transaction.
//!
//! The `postgres` client drives its connection with a runtime of its own and cannot be
//! used from inside a tokio runtime (the server's workers): it lives on a thread of
//! its own, and each call hands it a job and waits for the answer.

use super::{check_key, check_keys, check_limit, page, StorageBackend};
use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use std::sync::Mutex;

type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

pub struct PostgresStorage {
    shown: String,
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
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
        let url = url.to_string();
        let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("agentcell-postgres".into())
            .spawn(move || {
                let opened = (|| {
                    let mut db = postgres::Client::connect(&url, postgres::NoTls)?;
                    let mut tx = db.transaction()?;
                    tx.execute("SELECT pg_advisory_xact_lock(hashtext('agentcell_kv schema'))", &[])?;
                    tx.batch_execute(SCHEMA)?;
                    tx.commit()?;
                    Ok::<_, postgres::Error>(db)
                })();
                let mut db = match opened {
                    Ok(db) => {
                        let _ = ready_tx.send(Ok(()));
                        db
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in queue {
                    job(&mut db);
                }
            })
            .map_err(|e| crate::Error::Storage { path: shown.clone(), message: e.to_string() })?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Self { shown, jobs: Mutex::new(jobs) }),
            Ok(Err(e)) => Err(fail(e)),
            Err(_) => Err(crate::Error::Storage {
                path: shown.clone(),
                message: "the connection thread ended".into(),
            }),
        }
    }

    /// Runs `f` on the connection's thread and waits for its answer.
    fn on_connection<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move |db| {
            let _ = tx.send(f(db));
        });
        let gone =
            || StorageError::Unavailable(format!("postgresql {}: the connection thread ended", self.shown));
        self.jobs.lock().unwrap().send(job).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?.map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, e: postgres::Error) -> StorageError {
        StorageError::Unavailable(format!("postgresql {}: {e}", self.shown))
    }

    /// `f` in one transaction holding the namespace's writer lock.
    fn write<T: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce(&mut postgres::Transaction<'_>, &str) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StorageError> {
        let ns = ns.to_string();
        self.on_connection(move |db| {
            let mut tx = db.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&ns])?;
            let out = f(&mut tx, &ns)?;
            tx.commit()?;
            Ok(out)
        })
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
        let (ns, wanted) = (ns.to_string(), keys.to_vec());
        let rows = self.on_connection(move |db| {
            db.query("SELECT key, value FROM agentcell_kv WHERE ns = $1 AND key = ANY($2)", &[&ns, &wanted])
        })?;
        let found: std::collections::HashMap<String, String> =
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        check_keys(ns, entries.iter().map(|(k, _)| k))?;
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        self.write(ns, move |tx, ns| {
            let upsert = tx.prepare(UPSERT)?;
            for (k, v) in &entries {
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
        self.write(ns, move |tx, ns| {
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
        let (guards, writes) = (guards.to_vec(), writes.to_vec());
        self.write(ns, move |tx, ns| {
            for (key, expected) in &guards {
                if current(tx, ns, key)? != *expected {
                    return Ok(false);
                }
            }
            for (key, value) in &writes {
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
        let (ns, prefix, cursor) = (ns.to_string(), prefix.to_string(), cursor.map(str::to_string));
        let rows = self.on_connection(move |db| {
            db.query(
                "SELECT key FROM agentcell_kv WHERE ns = $1 AND starts_with(key, $2) \
                 AND ($3::text IS NULL OR key > $3) ORDER BY key LIMIT $4",
                &[&ns, &prefix, &cursor, &(i64::from(limit) + 1)],
            )
        })?;
        Ok(page(rows.into_iter().map(|r| r.get(0)).collect(), limit))
    }
}
