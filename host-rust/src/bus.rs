//! The message bus behind the component's `transport` import: where signed mesh
//! envelopes go and where readers find them. Envelopes are hex blobs, kept as they
//! cross. Two backends: in process, and the SQLite log the Python host uses (same
//! file, same table), so Rust and Python processes on one machine share one bus.

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// An envelope read from the bus and its position (read on after it).
pub type Entry = (u64, String);

pub trait Bus: Send + Sync {
    /// Appends an envelope to `topic`; an error is a sentence, nothing appended then.
    fn publish(&self, topic: &str, envelope: &str) -> Result<(), String>;
    /// Up to `limit` envelopes of `topic` after position `after`, waiting up to
    /// `wait` for the first one.
    fn read(&self, topic: &str, after: u64, limit: usize, wait: Duration) -> Result<Vec<Entry>, String>;
    /// The position of the last envelope of `topic` (0 when none): read from here to
    /// get only what is published from now on.
    fn end(&self, topic: &str) -> Result<u64, String>;
}

/// Agents in one process.
#[derive(Default)]
pub struct MemoryBus {
    log: Mutex<Vec<(String, String)>>,
    grew: Condvar,
}

impl Bus for MemoryBus {
    fn publish(&self, topic: &str, envelope: &str) -> Result<(), String> {
        self.log.lock().unwrap().push((topic.to_string(), envelope.to_string()));
        self.grew.notify_all();
        Ok(())
    }
    fn read(&self, topic: &str, after: u64, limit: usize, wait: Duration) -> Result<Vec<Entry>, String> {
        let deadline = Instant::now() + wait;
        let mut log = self.log.lock().unwrap();
        loop {
            let found: Vec<Entry> = log
                .iter()
                .enumerate()
                .skip(after as usize)
                .filter(|(_, (t, _))| t == topic)
                .take(limit)
                .map(|(i, (_, e))| (i as u64 + 1, e.clone()))
                .collect();
            let now = Instant::now();
            if !found.is_empty() || now >= deadline {
                return Ok(found);
            }
            log = self.grew.wait_timeout(log, deadline - now).unwrap().0;
        }
    }
    fn end(&self, _topic: &str) -> Result<u64, String> {
        Ok(self.log.lock().unwrap().len() as u64)
    }
}

/// The embedded default: an append-only log in a SQLite file (table `mesh_log`),
/// shared by every process that opens the file. Readers poll.
pub struct SqliteBus {
    db: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS mesh_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
        envelope TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS mesh_log_topic ON mesh_log (topic, seq);";

impl SqliteBus {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let db = rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        db.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        db.execute_batch(&format!("PRAGMA journal_mode=WAL; {SCHEMA}")).map_err(|e| e.to_string())?;
        Ok(Self { db: Mutex::new(db) })
    }
}

impl Bus for SqliteBus {
    fn publish(&self, topic: &str, envelope: &str) -> Result<(), String> {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.db
            .lock()
            .unwrap()
            .execute("INSERT INTO mesh_log (topic, envelope, at) VALUES (?1, ?2, ?3)", (topic, envelope, at))
            .map(|_| ())
            .map_err(|e| format!("the SQLite bus refused the envelope: {e}"))
    }
    fn read(&self, topic: &str, after: u64, limit: usize, wait: Duration) -> Result<Vec<Entry>, String> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_micros(500);
        loop {
            let found = {
                let db = self.db.lock().unwrap();
                let mut q = db
                    .prepare_cached("SELECT seq, envelope FROM mesh_log WHERE topic = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
                    .map_err(|e| e.to_string())?;
                let rows = q
                    .query_map((topic, after as i64, limit as i64), |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
                    })
                    .map_err(|e| e.to_string())?;
                rows.collect::<Result<Vec<Entry>, _>>().map_err(|e| e.to_string())?
            };
            if !found.is_empty() || Instant::now() >= deadline {
                return Ok(found);
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }
    fn end(&self, topic: &str) -> Result<u64, String> {
        let db = self.db.lock().unwrap();
        db.query_row("SELECT COALESCE(MAX(seq), 0) FROM mesh_log WHERE topic = ?1", [topic], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(bus: &dyn Bus) {
        assert_eq!(bus.end("a").unwrap(), 0);
        bus.publish("a", "01").unwrap();
        bus.publish("b", "02").unwrap();
        bus.publish("a", "03").unwrap();
        let got = bus.read("a", 0, 10, Duration::ZERO).unwrap();
        assert_eq!(got.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>(), ["01", "03"]);
        let after_first = got[0].0;
        assert_eq!(bus.read("a", after_first, 10, Duration::ZERO).unwrap().len(), 1);
        assert!(bus.read("a", bus.end("a").unwrap(), 10, Duration::from_millis(20)).unwrap().is_empty());
    }

    #[test]
    fn both_buses_keep_topics_apart_in_order() {
        exercise(&MemoryBus::default());
        let dir = std::env::temp_dir().join(format!("agentcell-bus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        exercise(&SqliteBus::open(dir.join("bus.db")).unwrap());
        std::fs::remove_dir_all(dir).ok();
    }
}
