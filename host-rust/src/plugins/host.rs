//! What a plugin's `agentcell:plugin/host` imports do in the Rust host: the log, the
//! plugin's own key-value namespace, HTTP through its allow-list; each refused with
//! `denied` when not granted. The same rules as the Python and JS hosts.

use super::bindings::agentcell::plugin::host::{
    self, HttpError, HttpRequest, HttpResponse, KvError, LogLevel,
};
use super::PluginState;
use crate::bindings::agentcell::core::http_client;

pub const MAX_LOG_BYTES: usize = 64 * 1024;
pub const MAX_KV_KEY_BYTES: usize = 512;
pub const MAX_KV_VALUE_BYTES: usize = 1 << 20;

fn kv_rules(key: &str, value: Option<&str>) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::Invalid("a key must not be empty".into()));
    }
    if key.len() > MAX_KV_KEY_BYTES {
        return Err(KvError::Invalid(format!("a key must be at most {MAX_KV_KEY_BYTES} bytes")));
    }
    if value.is_some_and(|v| v.len() > MAX_KV_VALUE_BYTES) {
        return Err(KvError::Invalid(format!("a value must be at most {MAX_KV_VALUE_BYTES} bytes")));
    }
    Ok(())
}

impl PluginState {
    fn storage(&self, key: &str, value: Option<&str>) -> Result<&dyn crate::StorageBackend, KvError> {
        let storage = self
            .grants
            .storage
            .as_deref()
            .ok_or_else(|| KvError::Denied(format!("plugin {} has no key-value grant", self.name)))?;
        kv_rules(key, value)?;
        Ok(storage)
    }

    fn namespace(&self) -> String {
        format!("plugin/{}", self.name)
    }
}

fn unavailable(e: crate::bindings::agentcell::core::storage::StorageError) -> KvError {
    KvError::Unavailable(format!("{e:?}"))
}

impl host::Host for PluginState {
    fn log(&mut self, level: LogLevel, message: String) {
        if !self.grants.log {
            return;
        }
        let mut end = message.len().min(MAX_LOG_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        eprintln!("plugin {} {level}: {}", self.name, &message[..end]);
    }

    fn kv_get(&mut self, key: String) -> Result<Option<String>, KvError> {
        let storage = self.storage(&key, None)?;
        Ok(storage.get_many(&self.namespace(), &[key]).map_err(unavailable)?.pop().flatten())
    }

    fn kv_set(&mut self, key: String, value: String) -> Result<(), KvError> {
        let storage = self.storage(&key, Some(&value))?;
        storage.set_many(&self.namespace(), &[(key, value)]).map_err(unavailable)
    }

    fn kv_delete(&mut self, key: String) -> Result<bool, KvError> {
        let storage = self.storage(&key, None)?;
        Ok(storage.delete_many(&self.namespace(), &[key]).map_err(unavailable)? == 1)
    }

    fn fetch(&mut self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let Some(policy) = &self.grants.http else {
            return Err(HttpError::Denied(format!(
                "plugin {} has no HTTP grant; {} was not sent",
                self.name, request.url
            )));
        };
        let req = http_client::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: (!request.body.is_empty()).then_some(request.body),
            timeout_ms: None,
        };
        let r = policy.send(&req).map_err(|e| match e {
            http_client::HttpError::Denied(m) => HttpError::Denied(m),
            http_client::HttpError::Timeout(m) => HttpError::Timeout(m),
            http_client::HttpError::InvalidRequest(m) | http_client::HttpError::Failed(m) => {
                HttpError::Failed(m)
            }
        })?;
        let body = match r.body_encoding {
            http_client::BodyEncoding::Utf8 => r.body,
            http_client::BodyEncoding::Base64 => {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(r.body).unwrap_or_default();
                String::from_utf8_lossy(&raw).into_owned()
            }
        };
        Ok(HttpResponse { status: r.status, headers: r.headers, body })
    }
}
