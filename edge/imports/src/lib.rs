//! The core's imports at the edge. `storage` keeps every namespace in the runtime's
//! wasi:keyvalue store (the bucket named by config `keyvalue-bucket`, default `""`), one
//! key `<len(ns)>:<ns><key>` per entry, values as UTF-8; `compare-and-set` and `commit`
//! hold a lock made of `atomics.increment` (wasi:keyvalue 0.2.0-draft has no
//! compare-and-swap), so they are atomic against every caller of this build on the same
//! store. `http-client` sends through wasi:http/outgoing-handler, to the destinations in
//! config `http-allow` only (the hosts' allow-list rules). `transport` is refused.

wit_bindgen::generate!({ world: "imports", path: "../wit", generate_all });

use exports::agentcell::core::storage::{KeyPage, StorageError};
use exports::agentcell::core::{http_client, storage, transport};
use std::cell::RefCell;
use wasi::keyvalue::{atomics, batch, store};

mod http;

struct Edge;

thread_local! {
    /// The bucket, opened once per instance: a runtime may hand each `open` its own copy.
    static BUCKET: RefCell<Option<store::Bucket>> = const { RefCell::new(None) };
}

const MAX_KEY_BYTES: usize = 1024;
const LOCK_TRIES: u32 = 100_000;

fn unavailable(e: store::Error) -> StorageError {
    StorageError::Unavailable(match e {
        store::Error::NoSuchStore => "the runtime's key-value store has no such bucket".into(),
        store::Error::AccessDenied => "the runtime's key-value store denied access".into(),
        store::Error::Other(m) => format!("the runtime's key-value store failed: {m}"),
    })
}

fn with_bucket<T>(f: impl FnOnce(&store::Bucket) -> Result<T, StorageError>) -> Result<T, StorageError> {
    BUCKET.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let name = wasi::config::store::get("keyvalue-bucket").ok().flatten().unwrap_or_default();
            *slot = Some(store::open(&name).map_err(unavailable)?);
        }
        f(slot.as_ref().expect("opened above"))
    })
}

fn check(what: &str, key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey(format!("{what} must not be empty")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::InvalidKey(format!("{what} must be at most {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

fn full_key(ns: &str, key: &str) -> String {
    format!("{}:{ns}{key}", ns.len())
}

fn text(value: Vec<u8>) -> Result<String, StorageError> {
    String::from_utf8(value).map_err(|_| StorageError::Unavailable("a stored value is not UTF-8".into()))
}

fn get(b: &store::Bucket, ns: &str, key: &str) -> Result<Option<String>, StorageError> {
    b.get(&full_key(ns, key)).map_err(unavailable)?.map(text).transpose()
}

/// Runs `f` holding the namespace's lock: `increment` answers 1 to the one caller that
/// takes it; the holder deletes it when done.
fn locked<T>(
    b: &store::Bucket,
    ns: &str,
    f: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let lock = format!("lock:{ns}");
    let mut tries = 0;
    while atomics::increment(b, &lock, 1).map_err(unavailable)? != 1 {
        tries += 1;
        if tries >= LOCK_TRIES {
            return Err(StorageError::Unavailable(format!("namespace {ns}: its lock is held for too long")));
        }
    }
    let out = f();
    b.delete(&lock).map_err(unavailable)?;
    out
}

impl storage::Guest for Edge {
    fn get(namespace: String, key: String) -> Result<Option<String>, StorageError> {
        check("namespace", &namespace)?;
        check("key", &key)?;
        with_bucket(|b| get(b, &namespace, &key))
    }

    fn set(namespace: String, key: String, value: String) -> Result<(), StorageError> {
        Self::set_many(namespace, vec![(key, value)])
    }

    fn delete(namespace: String, key: String) -> Result<bool, StorageError> {
        Ok(Self::delete_many(namespace, vec![key])? == 1)
    }

    fn exists(namespace: String, key: String) -> Result<bool, StorageError> {
        check("namespace", &namespace)?;
        check("key", &key)?;
        with_bucket(|b| b.exists(&full_key(&namespace, &key)).map_err(unavailable))
    }

    fn list_keys(
        namespace: String,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<KeyPage, StorageError> {
        check("namespace", &namespace)?;
        if !(1..=1000).contains(&limit) {
            return Err(StorageError::InvalidKey(format!("limit must be 1..=1000, got {limit}")));
        }
        let stem = full_key(&namespace, "");
        let mut keys = Vec::new();
        with_bucket(|b| {
            let mut at = None;
            loop {
                let page = b.list_keys(at).map_err(unavailable)?;
                keys.extend(page.keys.into_iter().filter_map(|k| k.strip_prefix(&stem).map(str::to_string)));
                match page.cursor {
                    Some(next) => at = Some(next),
                    None => return Ok(()),
                }
            }
        })?;
        keys.retain(|k| k.starts_with(&prefix) && cursor.as_ref().is_none_or(|c| k.as_str() > c.as_str()));
        keys.sort();
        let more = keys.len() > limit as usize;
        keys.truncate(limit as usize);
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }

    fn get_many(namespace: String, keys: Vec<String>) -> Result<Vec<Option<String>>, StorageError> {
        check("namespace", &namespace)?;
        keys.iter().try_for_each(|k| check("key", k))?;
        let full: Vec<String> = keys.iter().map(|k| full_key(&namespace, k)).collect();
        let found = with_bucket(|b| batch::get_many(b, &full).map_err(unavailable))?;
        found.into_iter().map(|entry| entry.map(|(_, v)| text(v)).transpose()).collect()
    }

    fn set_many(namespace: String, entries: Vec<(String, String)>) -> Result<(), StorageError> {
        check("namespace", &namespace)?;
        entries.iter().try_for_each(|(k, _)| check("key", k))?;
        let pairs: Vec<(String, Vec<u8>)> =
            entries.into_iter().map(|(k, v)| (full_key(&namespace, &k), v.into_bytes())).collect();
        with_bucket(|b| batch::set_many(b, &pairs).map_err(unavailable))
    }

    fn delete_many(namespace: String, keys: Vec<String>) -> Result<u32, StorageError> {
        check("namespace", &namespace)?;
        keys.iter().try_for_each(|k| check("key", k))?;
        let mut full: Vec<String> = keys.iter().map(|k| full_key(&namespace, k)).collect();
        full.sort();
        full.dedup();
        with_bucket(|b| {
            let mut present = Vec::new();
            for k in full {
                if b.exists(&k).map_err(unavailable)? {
                    present.push(k);
                }
            }
            batch::delete_many(b, &present).map_err(unavailable)?;
            Ok(present.len() as u32)
        })
    }

    fn compare_and_set(
        namespace: String,
        key: String,
        expected: Option<String>,
        value: String,
    ) -> Result<bool, StorageError> {
        Self::commit(namespace, vec![(key.clone(), expected)], vec![(key, Some(value))])
    }

    fn commit(
        namespace: String,
        guards: Vec<(String, Option<String>)>,
        writes: Vec<(String, Option<String>)>,
    ) -> Result<bool, StorageError> {
        check("namespace", &namespace)?;
        guards.iter().chain(writes.iter()).try_for_each(|(k, _)| check("key", k))?;
        with_bucket(|b| {
            locked(b, &namespace, || {
                for (key, expected) in &guards {
                    if get(b, &namespace, key)? != *expected {
                        return Ok(false);
                    }
                }
                let (sets, deletes): (Vec<_>, Vec<_>) = writes.into_iter().partition(|(_, v)| v.is_some());
                let sets: Vec<(String, Vec<u8>)> = sets
                    .into_iter()
                    .map(|(k, v)| (full_key(&namespace, &k), v.unwrap_or_default().into_bytes()))
                    .collect();
                let deletes: Vec<String> =
                    deletes.into_iter().map(|(k, _)| full_key(&namespace, &k)).collect();
                batch::set_many(b, &sets).map_err(unavailable)?;
                batch::delete_many(b, &deletes).map_err(unavailable)?;
                Ok(true)
            })
        })
    }
}

impl transport::Guest for Edge {
    fn publish(_topic: String, _envelope: String) -> Result<(), String> {
        Err("the edge build has no message bus: mesh publishing needs agentcell serve or a library host"
            .into())
    }
}

impl http_client::Guest for Edge {
    fn send(req: http_client::Request) -> Result<http_client::Response, http_client::HttpError> {
        http::send(req)
    }
}

export!(Edge);
