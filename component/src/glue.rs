//! The only module that knows about WIT: maps WIT types to domain types and implements
//! the ports with the host imports. Compiled for wasm32 only.

wit_bindgen::generate!({
    world: "agentcell",
    path: "../wit",
});

use crate::error::{Error, ErrorCode};
use crate::ports::{self, HttpError, HttpRequest, HttpResponse, StorageError, SystemClock};
use agentcell::core::{http_client as wit_http, storage as wit_storage};
use exports::agentcell::core::types as wit_types;
use exports::agentcell::core::{bench, diagnostics, meta};

struct Component;
export!(Component);

impl From<Error> for wit_types::Error {
    fn from(e: Error) -> Self {
        let code = match e.code {
            ErrorCode::InvalidArgument => wit_types::ErrorCode::InvalidArgument,
            ErrorCode::NotFound => wit_types::ErrorCode::NotFound,
            ErrorCode::Storage => wit_types::ErrorCode::Storage,
            ErrorCode::HttpDenied => wit_types::ErrorCode::HttpDenied,
            ErrorCode::HttpTimeout => wit_types::ErrorCode::HttpTimeout,
            ErrorCode::HttpFailed => wit_types::ErrorCode::HttpFailed,
            ErrorCode::Internal => wit_types::ErrorCode::Internal,
        };
        wit_types::Error { code, message: e.message, field: e.field }
    }
}

fn wit_result<T>(r: crate::error::Result<T>) -> Result<T, wit_types::Error> {
    r.map_err(Into::into)
}

/// [`ports::Storage`] over the WIT `storage` import.
struct HostStorage;

impl From<wit_storage::StorageError> for StorageError {
    fn from(e: wit_storage::StorageError) -> Self {
        match e {
            wit_storage::StorageError::InvalidKey(m) => StorageError::InvalidKey(m),
            wit_storage::StorageError::TooLarge(m) => StorageError::TooLarge(m),
            wit_storage::StorageError::Unavailable(m) => StorageError::Unavailable(m),
        }
    }
}

impl ports::Storage for HostStorage {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, StorageError> {
        Ok(wit_storage::get(namespace, key)?)
    }
    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError> {
        Ok(wit_storage::set(namespace, key, value)?)
    }
    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError> {
        Ok(wit_storage::delete(namespace, key)?)
    }
}

/// [`ports::HttpClient`] over the WIT `http-client` import.
struct HostHttp;

impl ports::HttpClient for HostHttp {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = wit_http::Request {
            method: r.method.clone(),
            url: r.url.clone(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            timeout_ms: r.timeout_ms,
        };
        let response = wit_http::send(&request).map_err(|e| match e {
            wit_http::HttpError::Denied(m) => HttpError::Denied(m),
            wit_http::HttpError::Timeout(m) => HttpError::Timeout(m),
            wit_http::HttpError::InvalidRequest(m) => HttpError::InvalidRequest(m),
            wit_http::HttpError::Failed(m) => HttpError::Failed(m),
        })?;
        let body = match response.body_encoding {
            wit_http::BodyEncoding::Utf8 => response.body.into_bytes(),
            wit_http::BodyEncoding::Base64 => crate::blob::decode_base64("response.body", &response.body)
                .map_err(|e| HttpError::Failed(format!("host sent a bad body: {}", e.message)))?,
        };
        Ok(HttpResponse { status: response.status, headers: response.headers, body })
    }
}

impl meta::Guest for Component {
    fn version() -> String {
        crate::meta::version()
    }
    fn rust_version() -> String {
        crate::meta::rust_version()
    }
    fn health_check() -> bool {
        crate::meta::health_check()
    }
    fn describe_build() -> meta::BuildInfo {
        let b = crate::meta::build_info();
        meta::BuildInfo {
            version: b.version,
            rustc: b.rustc,
            git_commit: b.git_commit,
            target: b.target,
            profile: b.profile,
            features: b.features,
            wit_package: b.wit_package,
        }
    }
}

impl diagnostics::Guest for Component {
    fn counter_add(name: String, delta: i64) -> Result<i64, wit_types::Error> {
        wit_result(crate::diagnostics::counter_add(&HostStorage, &name, delta))
    }
    fn counter_get(name: String) -> Result<i64, wit_types::Error> {
        wit_result(crate::diagnostics::counter_get(&HostStorage, &name))
    }
    fn probe_url(url: String, timeout_ms: u32) -> Result<diagnostics::Probe, wit_types::Error> {
        let p = wit_result(crate::diagnostics::probe_url(&HostHttp, &SystemClock, &url, timeout_ms))?;
        Ok(diagnostics::Probe {
            url: p.url,
            status: p.status,
            healthy: p.healthy,
            elapsed_ms: p.elapsed_ms,
            body_bytes: p.body_bytes,
        })
    }
    fn trap(message: String) {
        panic!("deliberate trap: {message}");
    }
}

impl bench::Guest for Component {
    fn noop() {}
    fn blob_in(data: String) -> Result<(u32, u32), wit_types::Error> {
        wit_result(crate::bench::blob_in(&data))
    }
    fn blob_out(len: u32, seed: u32) -> String {
        crate::bench::blob_out(len, seed)
    }
    fn bytes_in(data: Vec<u8>) -> (u32, u32) {
        crate::bench::checksum(&data)
    }
    fn bytes_out(len: u32, seed: u32) -> Vec<u8> {
        crate::bench::pattern(len, seed)
    }
    fn sum_f32_blob(data: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::bench::sum_f32_blob(&data))
    }
    fn sum_f32_list(data: Vec<f32>) -> f32 {
        crate::bench::sum_f32(&data)
    }
    fn text_len(data: String) -> u32 {
        data.len() as u32
    }
}
