//! A storage overlay that gathers the guarded commits of several operations into one
//! commit of the storage beneath.
//!
//! Reads see the overlay's own staged writes first; a `commit` through the overlay
//! checks its guards against that view and, when they hold, stages its writes. `flush`
//! then makes one real commit of everything staged, guarded by the value each guarded
//! key had in the real storage when the overlay first read it. If another writer
//! changed one of those keys meanwhile, `flush` applies nothing and answers false: the
//! caller runs its operations again on the real storage. Until `flush`, nothing
//! reaches the storage beneath, so a failed operation leaves no trace.
//!
//! One overlay holds one namespace (the storage commit is per namespace).

use crate::ports::{Guard, Storage, StorageError, Write};
use std::cell::RefCell;
use std::collections::HashMap;

pub struct Staged<'a> {
    inner: &'a dyn Storage,
    namespace: &'a str,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Real values read so far (`None`: the key was absent).
    seen: HashMap<String, Option<String>>,
    /// Keys some staged commit was guarded on, in the order first guarded.
    guarded: Vec<String>,
    /// The staged writes, in order, and where each key's latest one is.
    writes: Vec<Write>,
    latest: HashMap<String, usize>,
}

impl State {
    fn staged(&self, key: &str) -> Option<&Option<String>> {
        self.latest.get(key).map(|&i| &self.writes[i].1)
    }

    fn stage(&mut self, key: &str, value: Option<String>) {
        match self.latest.get(key) {
            Some(&i) => self.writes[i].1 = value,
            None => {
                self.latest.insert(key.to_string(), self.writes.len());
                self.writes.push((key.to_string(), value));
            }
        }
    }
}

impl<'a> Staged<'a> {
    pub fn new(inner: &'a dyn Storage, namespace: &'a str) -> Self {
        Self { inner, namespace, state: RefCell::default() }
    }

    fn check(&self, namespace: &str) -> Result<(), StorageError> {
        if namespace == self.namespace {
            Ok(())
        } else {
            Err(StorageError::InvalidKey(format!(
                "a staged storage for {:?} was asked for {namespace:?}",
                self.namespace
            )))
        }
    }

    /// The overlay's view of `keys`: staged values first, the rest read once from the
    /// storage beneath (one call) and remembered.
    fn view(&self, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        let missing: Vec<String> = {
            let state = self.state.borrow();
            let mut missing: Vec<String> = keys
                .iter()
                .filter(|k| state.staged(k).is_none() && !state.seen.contains_key(*k))
                .cloned()
                .collect();
            missing.sort_unstable();
            missing.dedup();
            missing
        };
        let mut state = self.state.borrow_mut();
        if !missing.is_empty() {
            let values = self.inner.get_many(self.namespace, &missing)?;
            state.seen.extend(missing.into_iter().zip(values));
        }
        Ok(keys
            .iter()
            .map(|k| match state.staged(k) {
                Some(v) => v.clone(),
                None => state.seen[k].clone(),
            })
            .collect())
    }

    /// Applies everything staged in one guarded commit of the storage beneath; false
    /// (nothing applied) when a guarded key changed there since it was read. Nothing
    /// staged: true, without a call.
    pub fn flush(self) -> Result<bool, StorageError> {
        let state = self.state.into_inner();
        if state.writes.is_empty() {
            return Ok(true);
        }
        let guards: Vec<Guard> =
            state.guarded.iter().map(|k| (k.clone(), state.seen.get(k).cloned().flatten())).collect();
        self.inner.commit(self.namespace, &guards, &state.writes)
    }
}

impl Storage for Staged<'_> {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, StorageError> {
        self.check(namespace)?;
        Ok(self.view(&[key.to_string()])?.pop().flatten())
    }

    fn get_many(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        self.check(namespace)?;
        self.view(keys)
    }

    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError> {
        self.commit(namespace, &[], &[(key.to_string(), Some(value.to_string()))]).map(|_| ())
    }

    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError> {
        let existed = self.get(namespace, key)?.is_some();
        self.commit(namespace, &[], &[(key.to_string(), None)])?;
        Ok(existed)
    }

    /// The storage's keys with the staged writes applied: staged new keys in range
    /// appear, staged removals disappear.
    fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError> {
        self.check(namespace)?;
        let (real, next) = self.inner.list_keys(namespace, prefix, cursor, limit)?;
        let state = self.state.borrow();
        // Staged keys beyond the real page's last key belong to later pages.
        let bound = next.as_ref().and(real.last().cloned());
        let mut keys: Vec<String> = real.into_iter().filter(|k| state.staged(k) != Some(&None)).collect();
        keys.extend(
            state
                .writes
                .iter()
                .filter(|(k, v)| v.is_some() && k.starts_with(prefix))
                .filter(|(k, _)| cursor.is_none_or(|c| k.as_str() > c))
                .filter(|(k, _)| bound.as_ref().is_none_or(|b| k <= b))
                .map(|(k, _)| k.clone()),
        );
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > limit as usize {
            keys.truncate(limit as usize);
            let last = keys.last().cloned();
            return Ok((keys, last));
        }
        Ok((keys, next))
    }

    fn set_many(&self, namespace: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        let writes: Vec<Write> = entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        self.commit(namespace, &[], &writes).map(|_| ())
    }

    fn delete_many(&self, namespace: &str, keys: &[String]) -> Result<u32, StorageError> {
        let existed = self.get_many(namespace, keys)?.iter().filter(|v| v.is_some()).count();
        let writes: Vec<Write> = keys.iter().map(|k| (k.clone(), None)).collect();
        self.commit(namespace, &[], &writes)?;
        Ok(existed as u32)
    }

    fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        self.commit(
            namespace,
            &[(key.to_string(), expected.map(str::to_string))],
            &[(key.to_string(), Some(value.to_string()))],
        )
    }

    fn commit(&self, namespace: &str, guards: &[Guard], writes: &[Write]) -> Result<bool, StorageError> {
        self.check(namespace)?;
        let keys: Vec<String> = guards.iter().map(|(k, _)| k.clone()).collect();
        let current = self.view(&keys)?;
        if guards.iter().zip(&current).any(|((_, expected), now)| expected != now) {
            return Ok(false);
        }
        let mut state = self.state.borrow_mut();
        for key in keys {
            // A key first staged (not read) needs no guard below: the overlay wrote it.
            if state.seen.contains_key(&key) && !state.guarded.contains(&key) {
                state.guarded.push(key);
            }
        }
        for (key, value) in writes {
            state.stage(key, value.clone());
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MemoryStorage;

    const NS: &str = "ns";

    fn put(s: &dyn Storage, key: &str, value: &str) {
        s.set(NS, key, value).unwrap();
    }

    #[test]
    fn nothing_reaches_the_storage_before_flush() {
        let real = MemoryStorage::default();
        put(&real, "a", "1");
        let staged = Staged::new(&real, NS);
        assert!(staged
            .commit(NS, &[("a".into(), Some("1".into()))], &[("a".into(), Some("2".into()))])
            .unwrap());
        put(&staged, "b", "3");
        assert_eq!(staged.get(NS, "a").unwrap().as_deref(), Some("2"));
        assert_eq!(real.get(NS, "a").unwrap().as_deref(), Some("1"));
        assert_eq!(real.get(NS, "b").unwrap(), None);
        assert!(staged.flush().unwrap());
        assert_eq!(real.get(NS, "a").unwrap().as_deref(), Some("2"));
        assert_eq!(real.get(NS, "b").unwrap().as_deref(), Some("3"));
    }

    #[test]
    fn guards_are_checked_against_the_staged_view() {
        let real = MemoryStorage::default();
        put(&real, "a", "1");
        let staged = Staged::new(&real, NS);
        put(&staged, "a", "2");
        assert!(!staged
            .commit(NS, &[("a".into(), Some("1".into()))], &[("c".into(), Some("x".into()))])
            .unwrap());
        assert!(staged
            .commit(NS, &[("a".into(), Some("2".into()))], &[("c".into(), Some("x".into()))])
            .unwrap());
        assert!(staged.flush().unwrap());
        assert_eq!(real.get(NS, "c").unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn a_change_underneath_makes_flush_apply_nothing() {
        let real = MemoryStorage::default();
        put(&real, "a", "1");
        let staged = Staged::new(&real, NS);
        assert!(staged.compare_and_set(NS, "a", Some("1"), "2").unwrap());
        put(&staged, "b", "x");
        put(&real, "a", "other writer");
        assert!(!staged.flush().unwrap());
        assert_eq!(real.get(NS, "a").unwrap().as_deref(), Some("other writer"));
        assert_eq!(real.get(NS, "b").unwrap(), None);
    }

    #[test]
    fn an_unguarded_read_does_not_guard_the_flush() {
        let real = MemoryStorage::default();
        put(&real, "a", "1");
        let staged = Staged::new(&real, NS);
        assert_eq!(staged.get(NS, "a").unwrap().as_deref(), Some("1"));
        put(&staged, "b", "x");
        put(&real, "a", "changed");
        assert!(staged.flush().unwrap());
        assert_eq!(real.get(NS, "b").unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn listing_shows_staged_keys_and_hides_staged_removals() {
        let real = MemoryStorage::default();
        for k in ["p/1", "p/3", "p/5", "q/1"] {
            put(&real, k, "");
        }
        let staged = Staged::new(&real, NS);
        put(&staged, "p/2", "");
        put(&staged, "q/0", "");
        staged.delete(NS, "p/3").unwrap();
        let (keys, next) = staged.list_keys(NS, "p/", None, 10).unwrap();
        assert_eq!(keys, ["p/1", "p/2", "p/5"]);
        assert_eq!(next, None);
        let (keys, next) = staged.list_keys(NS, "p/", None, 2).unwrap();
        assert_eq!(keys, ["p/1", "p/2"]);
        assert_eq!(next.as_deref(), Some("p/3")); // the storage's own cursor: p/3 is gone
        let (keys, _) = staged.list_keys(NS, "p/", Some("p/2"), 10).unwrap();
        assert_eq!(keys, ["p/5"]);
    }

    #[test]
    fn another_namespace_is_refused() {
        let real = MemoryStorage::default();
        let staged = Staged::new(&real, NS);
        assert!(matches!(staged.get("other", "a"), Err(StorageError::InvalidKey(_))));
    }
}
