//! Test storage: [`MemoryStorage`] with hooks that run before `commit` and
//! `compare_and_set` and may answer in their place ("another writer came first"). Every
//! other method goes straight through. Tests use it to count writes and stage races.

use crate::ports::{Guard, MemoryStorage, Storage, StorageError, Write};

/// What a test does before a write that can lose a race: `Some(answer)` answers in the
/// write's place (`Some(false)`: lost), `None` lets it run.
pub trait Hooks {
    fn before_commit(&self, _inner: &MemoryStorage) -> Option<bool> {
        None
    }
    fn before_compare_and_set(&self, _inner: &MemoryStorage) -> Option<bool> {
        None
    }
}

/// A `MemoryStorage` with `hooks`; it dereferences to the hooks (their counters).
#[derive(Default)]
pub struct Hooked<H> {
    pub inner: MemoryStorage,
    pub hooks: H,
}

impl<H> std::ops::Deref for Hooked<H> {
    type Target = H;
    fn deref(&self) -> &H {
        &self.hooks
    }
}

type Res<T> = std::result::Result<T, StorageError>;

impl<H: Hooks> Storage for Hooked<H> {
    fn get(&self, ns: &str, key: &str) -> Res<Option<String>> {
        self.inner.get(ns, key)
    }
    fn set(&self, ns: &str, key: &str, value: &str) -> Res<()> {
        self.inner.set(ns, key, value)
    }
    fn delete(&self, ns: &str, key: &str) -> Res<bool> {
        self.inner.delete(ns, key)
    }
    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Res<(Vec<String>, Option<String>)> {
        self.inner.list_keys(ns, prefix, cursor, limit)
    }
    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Res<()> {
        self.inner.set_many(ns, entries)
    }
    fn delete_many(&self, ns: &str, keys: &[String]) -> Res<u32> {
        self.inner.delete_many(ns, keys)
    }
    fn compare_and_set(&self, ns: &str, key: &str, expected: Option<&str>, value: &str) -> Res<bool> {
        match self.hooks.before_compare_and_set(&self.inner) {
            Some(answer) => Ok(answer),
            None => self.inner.compare_and_set(ns, key, expected, value),
        }
    }
    fn commit(&self, ns: &str, guards: &[Guard], writes: &[Write]) -> Res<bool> {
        match self.hooks.before_commit(&self.inner) {
            Some(answer) => Ok(answer),
            None => self.inner.commit(ns, guards, writes),
        }
    }
}
