//! The shared WIT glue: the bindings generated from `wit/`, the one `Component` every
//! system's `wit.rs` implements its exports on, the conversion of domain errors to the
//! WIT `error`, and the ports implemented with the host imports. Compiled for wasm32
//! only. Each system maps its own WIT types in its own `wit.rs`.

// The shipped component implements `agentcell`; the test build (feature `test-exports`)
// implements `agentcell-test`, which adds the test-only `bench` and `testing`.
#[cfg(not(feature = "test-exports"))]
wit_bindgen::generate!({
    world: "agentcell",
    path: "../wit",
});
#[cfg(feature = "test-exports")]
wit_bindgen::generate!({
    world: "agentcell-test",
    path: "../wit",
});

use crate::error::{Error, ErrorCode};
use crate::ports::{self, HttpError, HttpRequest, HttpResponse, StorageError};
pub(crate) use agentcell::core::{
    http_client as wit_http, storage as wit_storage, transport as wit_transport,
};
pub(crate) use exports::agentcell::core::types as wit_types;

/// The component: every system implements its interfaces' `Guest` traits on it.
pub(crate) struct Component;
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
            ErrorCode::Unauthorized => wit_types::ErrorCode::Unauthorized,
            ErrorCode::RateLimited => wit_types::ErrorCode::RateLimited,
            ErrorCode::ServerError => wit_types::ErrorCode::ServerError,
            ErrorCode::Transport => wit_types::ErrorCode::Transport,
        };
        wit_types::Error { code, message: e.message, field: e.field, retry_after_ms: e.retry_after_ms }
    }
}

pub(crate) fn wit_result<T>(r: crate::error::Result<T>) -> Result<T, wit_types::Error> {
    r.map_err(Into::into)
}

/// [`ports::Storage`] over the WIT `storage` import.
pub(crate) struct HostStorage;

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
    fn get_many(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        Ok(wit_storage::get_many(namespace, keys)?)
    }
    fn set(&self, namespace: &str, key: &str, value: &str) -> Result<(), StorageError> {
        Ok(wit_storage::set(namespace, key, value)?)
    }
    fn delete(&self, namespace: &str, key: &str) -> Result<bool, StorageError> {
        Ok(wit_storage::delete(namespace, key)?)
    }
    fn list_keys(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), StorageError> {
        let page = wit_storage::list_keys(namespace, prefix, cursor, limit)?;
        Ok((page.keys, page.cursor))
    }
    fn set_many(&self, namespace: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        Ok(wit_storage::set_many(namespace, entries)?)
    }
    fn delete_many(&self, namespace: &str, keys: &[String]) -> Result<u32, StorageError> {
        Ok(wit_storage::delete_many(namespace, keys)?)
    }
    fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        Ok(wit_storage::compare_and_set(namespace, key, expected, value)?)
    }
    fn commit(
        &self,
        namespace: &str,
        guards: &[ports::Guard],
        writes: &[ports::Write],
    ) -> Result<bool, StorageError> {
        Ok(wit_storage::commit(namespace, guards, writes)?)
    }
}

/// [`ports::HttpClient`] over the WIT `http-client` import.
pub(crate) struct HostHttp;

pub(crate) fn request_to_wit(r: &HttpRequest) -> wit_http::Request {
    wit_http::Request {
        method: r.method.clone(),
        url: r.url.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
        timeout_ms: r.timeout_ms,
    }
}

pub(crate) fn http_error_from_wit(e: wit_http::HttpError) -> HttpError {
    match e {
        wit_http::HttpError::Denied(m) => HttpError::Denied(m),
        wit_http::HttpError::Timeout(m) => HttpError::Timeout(m),
        wit_http::HttpError::InvalidRequest(m) => HttpError::InvalidRequest(m),
        wit_http::HttpError::Failed(m) => HttpError::Failed(m),
    }
}

pub(crate) fn response_from_wit(response: wit_http::Response) -> Result<HttpResponse, HttpError> {
    let body = match response.body_encoding {
        wit_http::BodyEncoding::Utf8 => response.body.into_bytes(),
        wit_http::BodyEncoding::Base64 => crate::blob::decode_base64("response.body", &response.body)
            .map_err(|e| HttpError::Failed(format!("host sent a bad body: {}", e.message)))?,
    };
    Ok(HttpResponse { status: response.status, headers: response.headers, body })
}

impl ports::HttpClient for HostHttp {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, HttpError> {
        response_from_wit(wit_http::send(&request_to_wit(r)).map_err(http_error_from_wit)?)
    }
}

/// The bus, through the `transport` import.
pub(crate) struct HostTransport;

impl ports::Transport for HostTransport {
    fn publish(&self, topic: &str, envelope: &[u8]) -> Result<(), String> {
        wit_transport::publish(topic, &crate::blob::encode(envelope))
    }
}

/// Wall-clock time in microseconds since the Unix epoch (WASI clock).
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Wall-clock time in milliseconds since the Unix epoch (WASI clock).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
