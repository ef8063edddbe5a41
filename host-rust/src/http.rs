//! The HTTP policy behind the component's `http-client` import: deny by default,
//! an allow-list, a timeout, no redirects. The rules are the same in every host:
//! `*` allows everything, `host` allows that host on any port, `host:port` that host
//! and port; hosts compare case-insensitively; only http and https are sent.

use crate::bindings::agentcell::core::http_client::{BodyEncoding, HttpError, Request, Response};
use std::time::Duration;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

/// Which destinations the component may reach, and how long a request may take.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    allow: Vec<String>,
    timeout: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self { allow: Vec::new(), timeout: Duration::from_secs(10) }
    }
}

impl HttpPolicy {
    pub fn new(allow: impl IntoIterator<Item = impl Into<String>>, timeout: Duration) -> Self {
        Self { allow: allow.into_iter().map(|a| a.into().trim().to_lowercase()).collect(), timeout }
    }

    /// True when `url` matches the allow-list.
    pub fn permits(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else { return false };
        if !matches!(parsed.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = parsed.host_str() else { return false };
        let host = host.to_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let with_port = format!("{host}:{port}");
        self.allow.iter().any(|a| a == "*" || *a == host || *a == with_port)
    }

    pub fn send(&self, req: &Request) -> Result<Response, HttpError> {
        if !METHODS.contains(&req.method.as_str()) {
            return Err(HttpError::InvalidRequest(format!(
                "method {:?} is not one of {METHODS:?}",
                req.method
            )));
        }
        if !self.permits(&req.url) {
            return Err(HttpError::Denied(format!(
                "{} is not in the HTTP allow-list {:?}",
                req.url, self.allow
            )));
        }
        let timeout = match req.timeout_ms {
            Some(ms) => self.timeout.min(Duration::from_millis(ms.into())),
            None => self.timeout,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let mut builder = ureq::http::Request::builder().method(req.method.as_str()).uri(req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(req.body.clone().unwrap_or_default())
            .map_err(|e| HttpError::InvalidRequest(format!("{}: {e}", req.url)))?;
        let mut response = agent.run(request).map_err(|e| match e {
            ureq::Error::Timeout(_) => {
                HttpError::Timeout(format!("{}: no response within {timeout:?}", req.url))
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                HttpError::Timeout(format!("{}: no response within {timeout:?}", req.url))
            }
            other => HttpError::Failed(format!("{}: {other}", req.url)),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let raw = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| HttpError::Failed(format!("{}: reading the body: {e}", req.url)))?;
        let (body, body_encoding) = match String::from_utf8(raw) {
            Ok(text) => (text, BodyEncoding::Utf8),
            Err(e) => {
                use base64::Engine;
                (base64::engine::general_purpose::STANDARD.encode(e.as_bytes()), BodyEncoding::Base64)
            }
        };
        Ok(Response { status, headers, body, body_encoding })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_rules_match_the_python_host() {
        let cases: [(&[&str], &str, bool); 8] = [
            (&["*"], "https://example.com/x", true),
            (&["example.com"], "https://EXAMPLE.com:8443/x", true),
            (&["example.com:443"], "https://example.com/x", true),
            (&["example.com:443"], "http://example.com/x", false),
            (&["example.com"], "https://example.com.evil.test/", false),
            (&["[::1]:8080"], "http://[::1]:8080/", true),
            (&["*"], "file:///etc/passwd", false),
            (&[], "http://127.0.0.1/", false),
        ];
        for (allow, url, expected) in cases {
            assert_eq!(
                HttpPolicy::new(allow.iter().copied(), Duration::from_secs(1)).permits(url),
                expected,
                "{allow:?} {url}"
            );
        }
    }
}
