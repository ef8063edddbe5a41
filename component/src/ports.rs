//! The small traits through which domain code reaches the outside world. The wasm glue
//! implements them with the WIT imports; tests implement them in memory.

use crate::error::{Error, ErrorCode};
use std::collections::BTreeMap;

/// Why a storage call failed; mirrors WIT `storage.storage-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    InvalidKey(String),
    TooLarge(String),
    Unavailable(String),
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        let message = match e {
            StorageError::InvalidKey(m) => format!("storage refused the key: {m}"),
            StorageError::TooLarge(m) => format!("storage refused the value: {m}"),
            StorageError::Unavailable(m) => format!("storage unavailable: {m}"),
        };
        Error::new(ErrorCode::Storage, message)
    }
}

/// A namespaced key-value store (WIT `storage`).
pub trait Storage {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, StorageError>;
    /// The values of `keys`, in the same order (one host call where the host has one).
    fn get_many(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        keys.iter().map(|k| self.get(namespace, k)).collect()
    }
    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError>;
    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError>;
    /// Up to `limit` keys starting with `prefix`, ascending, after `cursor`; and the
    /// cursor of the next page (`None` when done).
    fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError>;
    /// Stores every entry, all or none.
    fn set_many(&self, namespace: &str, entries: &[(String, String)]) -> Result<(), StorageError>;
    /// Removes every key, all or none; returns how many existed.
    fn delete_many(&self, namespace: &str, keys: &[String]) -> Result<u32, StorageError>;
    /// Stores `value` only if `key` holds exactly `expected` (`None`: nothing), atomically;
    /// true when it stored.
    fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError>;
    /// Applies `writes` (`Some`: store, `None`: remove) all or none, only if every guard
    /// holds (its key holds exactly the expected value), atomically; true when applied.
    fn commit(&self, namespace: &str, guards: &[Guard], writes: &[Write]) -> Result<bool, StorageError>;
}

/// A key and the value it must hold for a [`Storage::commit`] to apply.
pub type Guard = (String, Option<String>);
/// A key and what a [`Storage::commit`] leaves under it (`None`: nothing).
pub type Write = (String, Option<String>);

/// How many times [`update`] reads and changes a value again because another writer
/// changed it between the read and the write, before it gives up. A writer can lose
/// many races in a row to one that keeps writing (the winner of a commit is the first
/// to try again), so the bound is generous. No back-off sleep: a guest that sleeps
/// blocks on WASI's clock, which a host serving from an async runtime (the Rust
/// server) cannot do on its worker thread.
pub const UPDATE_ATTEMPTS: usize = 1000;

/// Read, change, compare-and-set; again from the read when another writer got there
/// first, so concurrent updates of one key (threads, processes sharing Redis) are never
/// lost. `change` maps the current value to the one to store and what to return.
pub fn update<T>(
    storage: &dyn Storage,
    namespace: &str,
    key: &str,
    mut change: impl FnMut(Option<&str>) -> Result<(String, T), Error>,
) -> Result<T, Error> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = storage.get(namespace, key)?;
        let (next, out) = change(current.as_deref())?;
        if storage.compare_and_set(namespace, key, current.as_deref(), &next)? {
            return Ok(out);
        }
    }
    Err(Error::new(
        ErrorCode::Storage,
        format!("{namespace}/{key} changed {UPDATE_ATTEMPTS} times while this update was made; retry"),
    ))
}

/// Every key under `prefix`, following the cursor through all pages.
pub fn all_keys(storage: &dyn Storage, namespace: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = storage.list_keys(namespace, prefix, cursor.as_deref(), 1000)?;
        keys.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(keys),
        }
    }
}

/// An outgoing HTTP request (WIT `http-client.request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: Option<u32>,
}

/// A response (WIT `http-client.response`); `body` is already decoded to bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why no response came back; mirrors WIT `http-client.http-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    Denied(String),
    Timeout(String),
    InvalidRequest(String),
    Failed(String),
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Denied(m) => Error::new(ErrorCode::HttpDenied, m),
            HttpError::Timeout(m) => Error::new(ErrorCode::HttpTimeout, m),
            HttpError::InvalidRequest(m) => Error::new(ErrorCode::InvalidArgument, m),
            HttpError::Failed(m) => Error::new(ErrorCode::HttpFailed, m),
        }
    }
}

/// Sends HTTP requests through the host (WIT `http-client`).
pub trait HttpClient {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// A monotonic clock in milliseconds.
pub trait Clock {
    fn monotonic_ms(&self) -> u64;
}

/// The WASI monotonic clock (through std); native tests use it too.
pub struct SystemClock;

impl Clock for SystemClock {
    fn monotonic_ms(&self) -> u64 {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_millis() as u64
    }
}

/// An in-memory [`Storage`], for tests of domain code.
#[derive(Default)]
pub struct MemoryStorage {
    entries: std::cell::RefCell<BTreeMap<(String, String), String>>,
}

impl Storage for MemoryStorage {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.entries.borrow().get(&(namespace.into(), key.into())).cloned())
    }

    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError> {
        self.entries.borrow_mut().insert((namespace.into(), key.into()), value.into());
        Ok(())
    }

    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError> {
        Ok(self.entries.borrow_mut().remove(&(namespace.into(), key.into())).is_some())
    }

    fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError> {
        let entries = self.entries.borrow();
        let mut keys: Vec<String> = entries
            .keys()
            .filter(|(ns, k)| {
                ns == namespace && k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c)
            })
            .map(|(_, k)| k.clone())
            .take(limit as usize + 1)
            .collect();
        let next = if keys.len() > limit as usize {
            keys.truncate(limit as usize);
            keys.last().cloned()
        } else {
            None
        };
        Ok((keys, next))
    }

    fn set_many(&self, namespace: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        let mut map = self.entries.borrow_mut();
        for (k, v) in entries {
            map.insert((namespace.into(), k.clone()), v.clone());
        }
        Ok(())
    }

    fn delete_many(&self, namespace: &str, keys: &[String]) -> Result<u32, StorageError> {
        let mut map = self.entries.borrow_mut();
        Ok(keys.iter().filter(|k| map.remove(&(namespace.to_string(), k.to_string())).is_some()).count()
            as u32)
    }

    fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        let mut map = self.entries.borrow_mut();
        let slot = (namespace.to_string(), key.to_string());
        if map.get(&slot).map(String::as_str) != expected {
            return Ok(false);
        }
        map.insert(slot, value.into());
        Ok(true)
    }

    fn commit(&self, namespace: &str, guards: &[Guard], writes: &[Write]) -> Result<bool, StorageError> {
        let mut map = self.entries.borrow_mut();
        let holds = guards.iter().all(|(k, expected)| {
            map.get(&(namespace.to_string(), k.clone())).map(String::as_str) == expected.as_deref()
        });
        if !holds {
            return Ok(false);
        }
        for (k, v) in writes {
            let slot = (namespace.to_string(), k.clone());
            match v {
                Some(v) => map.insert(slot, v.clone()),
                None => map.remove(&slot),
            };
        }
        Ok(true)
    }
}

impl MemoryStorage {
    /// Number of stored values in `namespace` (tests).
    pub fn len_in(&self, namespace: &str) -> usize {
        self.entries.borrow().keys().filter(|(ns, _)| ns == namespace).count()
    }
}

/// The host's message bus (the `transport` import): hands one envelope to a topic.
pub trait Transport {
    /// An error is the bus's sentence; nothing was published then.
    fn publish(&self, topic: &str, envelope: &[u8]) -> Result<(), String>;
}

/// A bus in memory: what was published, in order (tests and native use).
#[derive(Default)]
pub struct MemoryTransport {
    pub published: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    /// When set, every publish fails with this sentence.
    pub down: std::cell::RefCell<Option<String>>,
}

impl Transport for MemoryTransport {
    fn publish(&self, topic: &str, envelope: &[u8]) -> Result<(), String> {
        if let Some(why) = self.down.borrow().as_ref() {
            return Err(why.clone());
        }
        self.published.borrow_mut().push((topic.to_string(), envelope.to_vec()));
        Ok(())
    }
}
