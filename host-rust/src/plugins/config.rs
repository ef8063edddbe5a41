//! Plugins from the JSON configuration every host reads (see `plugins/README.md`):
//! `{"plugins": {"<name>": {"path", "memory_mb", "call_timeout_ms", "kv",
//! "http_allow", "log"}}}`, paths relative to the file. An unknown key or a wrong value
//! is an error naming it; nothing is loaded then.

use super::{valid_name, Grants, Plugin, PLUGIN_LIMITS};
use crate::limits::Limits;
use crate::{Error, HttpPolicy, StorageBackend};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const KEYS: [&str; 6] = ["call_timeout_ms", "http_allow", "kv", "log", "memory_mb", "path"];

fn bad(at: &str, rule: &str) -> Error {
    Error::Call(format!("plugin config {at}: {rule}"))
}

fn limit(entry: &Value, at: &str, key: &str, highest: u64) -> Result<Option<u64>, Error> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=highest).contains(&n) => Ok(Some(n)),
            _ => Err(bad(&format!("{at}.{key}"), &format!("must be an integer in 1..={highest}, got {v}"))),
        },
    }
}

fn flag(entry: &Value, at: &str, key: &str, default: bool) -> Result<bool, Error> {
    match entry.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(bad(&format!("{at}.{key}"), &format!("must be true or false, got {v}"))),
    }
}

/// Plugins by name, each loaded with the limits and grants its entry gives.
pub struct PluginSet {
    plugins: BTreeMap<String, Plugin>,
}

impl PluginSet {
    /// Loads every plugin the config file at `path` names; a `kv` grant puts the
    /// plugin's namespace in `storage` (an error when a plugin asks for one and there
    /// is none).
    pub fn from_file(
        path: impl AsRef<Path>,
        storage: Option<Arc<dyn StorageBackend>>,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad("file", &format!("cannot read {}: {e}", path.display())))?;
        let config: Value = serde_json::from_str(&text)
            .map_err(|e| bad("file", &format!("{} is not JSON: {e}", path.display())))?;
        let base =
            path.canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
        Self::from_value(&config, &base, storage)
    }

    /// `from_file` on parsed JSON, with paths relative to `base`.
    pub fn from_value(
        config: &Value,
        base: &Path,
        storage: Option<Arc<dyn StorageBackend>>,
    ) -> Result<Self, Error> {
        let entries = config
            .get("plugins")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("plugins", "the config must be an object with an object \"plugins\""))?;
        let mut loading = Vec::new();
        for (name, entry) in entries {
            let at = format!("plugins.{name}");
            if !valid_name(name) {
                return Err(bad(&at, "a plugin name is [a-z0-9][a-z0-9-]*, at most 64"));
            }
            let object = entry.as_object().ok_or_else(|| bad(&at, "must be an object"))?;
            if let Some(unknown) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
                return Err(bad(&format!("{at}.{unknown}"), &format!("not a key; the keys are {KEYS:?}")));
            }
            let file = entry
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&format!("{at}.path"), "must be the plugin file's path"))?;
            let limits = Limits {
                memory_bytes: match limit(entry, &at, "memory_mb", 4096)? {
                    Some(mb) => Some((mb as usize) << 20),
                    None => PLUGIN_LIMITS.memory_bytes,
                },
                call_timeout: match limit(entry, &at, "call_timeout_ms", 86_400_000)? {
                    Some(ms) => Some(Duration::from_millis(ms)),
                    None => PLUGIN_LIMITS.call_timeout,
                },
            };
            let http = match entry.get("http_allow") {
                None | Some(Value::Null) => None,
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(HttpPolicy::new(
                    items.iter().filter_map(Value::as_str).map(str::to_string),
                    Duration::from_secs(10),
                )),
                Some(_) => return Err(bad(&format!("{at}.http_allow"), "must be a list of host names")),
            };
            let kv = flag(entry, &at, "kv", false)?;
            if kv && storage.is_none() {
                return Err(bad(&format!("{at}.kv"), "a key-value grant needs a storage backend"));
            }
            let grants = Grants {
                storage: if kv { storage.clone() } else { None },
                http,
                log: flag(entry, &at, "log", true)?,
            };
            loading.push((name.clone(), base.join(file), grants, limits));
        }
        let mut plugins = BTreeMap::new();
        for (name, file, grants, limits) in loading {
            let plugin = Plugin::load(&file, Some(&name), grants, limits)?;
            plugins.insert(name, plugin);
        }
        Ok(PluginSet { plugins })
    }

    /// The plugin named `name`; `Error::Call` naming the ones there are otherwise.
    pub fn get(&self, name: &str) -> Result<&Plugin, Error> {
        self.plugins.get(name).ok_or_else(|| {
            Error::Call(format!(
                "no plugin {name:?}; the plugins are {:?}",
                self.plugins.keys().collect::<Vec<_>>()
            ))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}
