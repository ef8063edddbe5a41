//! `http-client.send` over wasi:http/outgoing-handler, through the allow-list in config
//! `http-allow` (comma separated; the hosts' rules: `*`, `host`, `host:port`).

use crate::exports::agentcell::core::http_client::{BodyEncoding, HttpError, Request, Response};
use wasi_http::http::outgoing_handler;
use wasi_http::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi_http::io::streams::StreamError;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
/// The longest a request may take when the caller asks for no shorter.
const TIMEOUT_MS: u64 = 10_000;
const BODY_LIMIT: usize = 64 * 1024 * 1024;

fn allow_list() -> Vec<String> {
    let listed = crate::wasi::config::store::get("http-allow").ok().flatten().unwrap_or_default();
    listed.split(',').map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect()
}

fn permits(allow: &[String], url: &url::Url) -> bool {
    let Some(host) = url.host_str().map(str::to_lowercase) else { return false };
    let port = url.port_or_known_default().unwrap_or(80);
    let with_port = format!("{host}:{port}");
    matches!(url.scheme(), "http" | "https")
        && allow.iter().any(|a| a == "*" || *a == host || *a == with_port)
}

fn failed(url: &str, e: impl std::fmt::Debug) -> HttpError {
    HttpError::Failed(format!("{url}: {e:?}"))
}

pub fn send(req: Request) -> Result<Response, HttpError> {
    if !METHODS.contains(&req.method.as_str()) {
        return Err(HttpError::InvalidRequest(format!("method {:?} is not one of {METHODS:?}", req.method)));
    }
    let url =
        url::Url::parse(&req.url).map_err(|e| HttpError::InvalidRequest(format!("{}: {e}", req.url)))?;
    let allow = allow_list();
    if !permits(&allow, &url) {
        return Err(HttpError::Denied(format!("{} is not in the HTTP allow-list {allow:?}", req.url)));
    }
    let headers = Fields::new();
    for (name, value) in &req.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| HttpError::InvalidRequest(format!("header {name}: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let method = match req.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        _ => Method::Head,
    };
    let bad = |what: &str| HttpError::InvalidRequest(format!("{}: bad {what}", req.url));
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&if url.scheme() == "https" { Scheme::Https } else { Scheme::Http }))
        .map_err(|()| bad("scheme"))?;
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    outgoing.set_authority(Some(&authority)).map_err(|()| bad("authority"))?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    outgoing.set_path_with_query(Some(&path)).map_err(|()| bad("path"))?;
    let body = outgoing.body().map_err(|()| bad("body"))?;
    let timeout_ms = req.timeout_ms.map_or(TIMEOUT_MS, |t| u64::from(t).min(TIMEOUT_MS));
    let options = RequestOptions::new();
    let nanos = timeout_ms * 1_000_000;
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let future =
        outgoing_handler::handle(outgoing, Some(options)).map_err(|e| to_error(&req.url, e, timeout_ms))?;
    {
        let stream = body.write().map_err(|()| bad("body stream"))?;
        for chunk in req.body.as_deref().unwrap_or_default().as_bytes().chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| failed(&req.url, e))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| to_error(&req.url, e, timeout_ms))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(to_error(&req.url, e, timeout_ms)),
        _ => return Err(HttpError::Failed(format!("{}: no response", req.url))),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| HttpError::Failed(format!("{}: no body", req.url)))?;
    let stream = incoming.stream().map_err(|()| HttpError::Failed(format!("{}: no body stream", req.url)))?;
    let mut raw = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => raw.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(failed(&req.url, e)),
        }
        if raw.len() > BODY_LIMIT {
            return Err(HttpError::Failed(format!(
                "{}: the body is larger than {BODY_LIMIT} bytes",
                req.url
            )));
        }
    }
    let (body, body_encoding) = match String::from_utf8(raw) {
        Ok(text) => (text, BodyEncoding::Utf8),
        Err(e) => {
            use base64::Engine;
            (base64::engine::general_purpose::STANDARD.encode(e.as_bytes()), BodyEncoding::Base64)
        }
    };
    Ok(Response { status, headers, body, body_encoding })
}

fn to_error(url: &str, e: ErrorCode, timeout_ms: u64) -> HttpError {
    match e {
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout => {
            HttpError::Timeout(format!("{url}: no response within {timeout_ms} ms"))
        }
        other => failed(url, other),
    }
}
