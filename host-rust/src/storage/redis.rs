//! The Redis backend: state shared by several server processes.

use super::{check_key, check_keys, check_limit, page, StorageBackend};
use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use std::sync::Mutex;

/// Redis: for several server processes sharing state. Values live at
/// `agentcell:kv:<ns>:<key>`; a sorted set per namespace (`agentcell:idx:<ns>`, all
/// scores 0) keeps the keys in byte order for `list-keys`. Batches run in MULTI/EXEC.
pub struct RedisStorage {
    shown: String,
    conn: Mutex<redis::Connection>,
    /// Compare-and-set as a Lua script: Redis runs a script as one atomic step.
    cas: redis::Script,
    commit: redis::Script,
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

/// `commit`: KEYS = the index, then the guarded value keys, then the written value
/// keys; ARGV = the number of guards, then per guard a flag (1: expects a value) and
/// the value, then per write its key name, a flag (1: store) and the value.
const COMMIT_SCRIPT: &str = r"
local guards = tonumber(ARGV[1])
local a = 2
for i = 1, guards do
  local current = redis.call('GET', KEYS[1 + i])
  if ARGV[a] == '1' then
    if current ~= ARGV[a + 1] then return 0 end
  elseif current ~= false then
    return 0
  end
  a = a + 2
end
for i = 1 + guards + 1, #KEYS do
  if ARGV[a + 1] == '1' then
    redis.call('SET', KEYS[i], ARGV[a + 2])
    redis.call('ZADD', KEYS[1], 0, ARGV[a])
  else
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], ARGV[a])
  end
  a = a + 3
end
return 1
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
        Ok(Self {
            shown: shown.clone(),
            conn: Mutex::new(conn),
            cas: redis::Script::new(CAS_SCRIPT),
            commit: redis::Script::new(COMMIT_SCRIPT),
        })
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

    fn shared(&self) -> bool {
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

    fn commit(
        &self,
        ns: &str,
        guards: &[super::Guard],
        writes: &[super::Change],
    ) -> Result<bool, StorageError> {
        check_keys(ns, guards.iter().chain(writes).map(|(k, _)| k))?;
        let mut invocation = self.commit.key(Self::index_key(ns));
        invocation.arg(guards.len());
        for (key, expected) in guards {
            invocation.key(Self::value_key(ns, key));
            invocation.arg(if expected.is_some() { "1" } else { "0" }).arg(expected.as_deref().unwrap_or(""));
        }
        for (key, value) in writes {
            invocation.key(Self::value_key(ns, key));
            invocation
                .arg(key)
                .arg(if value.is_some() { "1" } else { "0" })
                .arg(value.as_deref().unwrap_or(""));
        }
        let mut conn = self.conn.lock().unwrap();
        let applied: i32 = invocation.invoke(&mut *conn).map_err(|e| self.unavailable(e))?;
        Ok(applied == 1)
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
