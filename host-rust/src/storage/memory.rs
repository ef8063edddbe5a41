//! The in-memory backend: everything gone with the process.

use super::{check_key, check_keys, check_limit, page, StorageBackend};
use crate::bindings::agentcell::core::storage::{KeyPage, StorageError};
use std::collections::BTreeMap;
use std::sync::RwLock;

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

    fn commit(
        &self,
        ns: &str,
        guards: &[super::Guard],
        writes: &[super::Change],
    ) -> Result<bool, StorageError> {
        check_key("namespace", ns)?;
        check_keys(ns, guards.iter().chain(writes).map(|(k, _)| k))?;
        let mut by_ns = self.by_ns.write().unwrap();
        let holds = guards.iter().all(|(k, expected)| {
            by_ns.get(ns).and_then(|m| m.get(k.as_str())).map(String::as_str) == expected.as_deref()
        });
        if !holds {
            return Ok(false);
        }
        let map = by_ns.entry(ns.to_string()).or_default();
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k.as_str()),
            };
        }
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
