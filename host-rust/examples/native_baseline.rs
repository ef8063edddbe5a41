//! The service benchmark's baseline: what upstream Attuned's server is (axum, an
//! in-memory map behind a lock, the translator as native code, no authentication), built
//! from our own domain code compiled natively rather than into the component. The
//! benchmark runs it beside `agentcell serve` in the same run, so the ratio between the
//! two is the cost of the sandbox, the pool and the API keys on this machine.
//!
//!     cargo run --release -p agentcell-host --example native_baseline -- 127.0.0.1:0

use agentcell_component::attune::service;
use agentcell_component::ports::{Storage, StorageError};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, Request};
use axum::response::Response;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Upstream's store: a map behind a read-write lock.
#[derive(Default)]
struct Shared(RwLock<BTreeMap<(String, String), String>>);

impl Storage for Shared {
    fn get(&self, ns: &str, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.0.read().unwrap().get(&(ns.to_string(), key.to_string())).cloned())
    }
    fn set(&self, ns: &str, key: &str, value: &str) -> Result<(), StorageError> {
        self.0.write().unwrap().insert((ns.into(), key.into()), value.into());
        Ok(())
    }
    fn delete(&self, ns: &str, key: &str) -> Result<bool, StorageError> {
        Ok(self.0.write().unwrap().remove(&(ns.to_string(), key.to_string())).is_some())
    }
    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError> {
        let map = self.0.read().unwrap();
        let mut keys: Vec<String> = map
            .keys()
            .filter(|(n, k)| n == ns && k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
            .map(|(_, k)| k.clone())
            .take(limit as usize + 1)
            .collect();
        let next = (keys.len() > limit as usize).then(|| {
            keys.truncate(limit as usize);
            keys[keys.len() - 1].clone()
        });
        Ok((keys, next))
    }
    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        let mut map = self.0.write().unwrap();
        for (k, v) in entries {
            map.insert((ns.into(), k.clone()), v.clone());
        }
        Ok(())
    }
    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        let mut map = self.0.write().unwrap();
        Ok(keys.iter().filter(|k| map.remove(&(ns.to_string(), k.to_string())).is_some()).count() as u32)
    }
    fn compare_and_set(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        let mut map = self.0.write().unwrap();
        let slot = (ns.to_string(), key.to_string());
        if map.get(&slot).map(String::as_str) != expected {
            return Ok(false);
        }
        map.insert(slot, value.into());
        Ok(true)
    }
    fn commit(
        &self,
        ns: &str,
        guards: &[(String, Option<String>)],
        writes: &[(String, Option<String>)],
    ) -> Result<bool, StorageError> {
        let mut map = self.0.write().unwrap();
        let slot = |k: &String| (ns.to_string(), k.clone());
        if guards.iter().any(|(k, expected)| map.get(&slot(k)) != expected.as_ref()) {
            return Ok(false);
        }
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(slot(k), v.clone()),
                None => map.remove(&slot(k)),
            };
        }
        Ok(true)
    }
}

async fn handle(State(store): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let text = std::str::from_utf8(&bytes).unwrap_or("");
    let now =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let (status, body) = service::handle(store.as_ref(), method, path, content_type, text, now);
    let mut builder = Response::builder().status(status);
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder.body(Body::from(body)).expect("valid response")
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let router = axum::Router::new().fallback(handle).with_state(Arc::new(Shared::default()));
        axum::serve(listener, router).await
    })
}
