//! Functions that prove the host imports work: a persistent counter (storage) and a URL
//! probe (outgoing HTTP).

#[cfg(target_arch = "wasm32")]
mod wit;

use crate::error::{Error, Result};
use crate::ports::{update, Clock, HttpClient, HttpRequest, Storage};

/// The storage namespace the diagnostics keep their data in.
pub const NAMESPACE: &str = "diagnostics";
const MAX_NAME_BYTES: usize = 128;

fn counter_key(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid("name", format_args!("must be at most {MAX_NAME_BYTES} bytes")));
    }
    Ok(format!("counter/{name}"))
}

/// The value of counter `name`; 0 when it was never set.
pub fn counter_get(storage: &dyn Storage, name: &str) -> Result<i64> {
    parse_counter(name, storage.get(NAMESPACE, &counter_key(name)?)?.as_deref())
}

fn parse_counter(name: &str, stored: Option<&str>) -> Result<i64> {
    match stored {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| {
            Error::new(
                crate::error::ErrorCode::Storage,
                format!("counter {name:?} holds {text:?}, which is not an integer"),
            )
        }),
    }
}

/// Adds `delta` to counter `name` and returns the new value; concurrent adds are all
/// counted (`ports::update`). Nothing is written when the sum would overflow.
pub fn counter_add(storage: &dyn Storage, name: &str, delta: i64) -> Result<i64> {
    update(storage, NAMESPACE, &counter_key(name)?, |stored| {
        let current = parse_counter(name, stored)?;
        let next = current.checked_add(delta).ok_or_else(|| {
            Error::invalid("delta", format_args!("{current} + {delta} overflows a signed 64-bit counter"))
        })?;
        Ok((next.to_string(), next))
    })
}

/// What `probe_url` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    pub status: u16,
    pub healthy: bool,
    pub elapsed_ms: u64,
    pub body_bytes: u64,
}

fn check_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| Error::invalid("url", "must be an absolute http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(Error::invalid("url", "must name a host"));
    }
    Ok(())
}

/// `GET url` through the host; any status is a probe result, only a failure to get an
/// answer is an error.
pub fn probe_url(http: &dyn HttpClient, clock: &dyn Clock, url: &str, timeout_ms: u32) -> Result<Probe> {
    check_url(url)?;
    if timeout_ms == 0 {
        return Err(Error::invalid("timeout_ms", "must be greater than 0"));
    }
    let request = HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("user-agent".into(), format!("agentcell/{}", crate::meta::VERSION))],
        body: None,
        timeout_ms: Some(timeout_ms),
    };
    let started = clock.monotonic_ms();
    let response = http.send(&request)?;
    Ok(Probe {
        url: url.into(),
        status: response.status,
        healthy: (200..300).contains(&response.status),
        elapsed_ms: clock.monotonic_ms().saturating_sub(started),
        body_bytes: response.body.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::ports::{HttpError, HttpResponse, MemoryStorage, SystemClock};
    use std::cell::RefCell;

    #[test]
    fn counter_starts_at_zero_and_accumulates() {
        let s = MemoryStorage::default();
        assert_eq!(counter_get(&s, "runs").unwrap(), 0);
        assert_eq!(counter_add(&s, "runs", 2).unwrap(), 2);
        assert_eq!(counter_add(&s, "runs", -5).unwrap(), -3);
        assert_eq!(counter_get(&s, "runs").unwrap(), -3);
        assert_eq!(counter_get(&s, "other").unwrap(), 0);
    }

    #[test]
    fn counter_overflow_writes_nothing() {
        let s = MemoryStorage::default();
        counter_add(&s, "c", i64::MAX).unwrap();
        let e = counter_add(&s, "c", 1).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("delta"));
        assert_eq!(counter_get(&s, "c").unwrap(), i64::MAX);
    }

    #[test]
    fn counter_name_rules() {
        let s = MemoryStorage::default();
        assert_eq!(counter_add(&s, "", 1).unwrap_err().field.as_deref(), Some("name"));
        assert_eq!(counter_add(&s, &"x".repeat(129), 1).unwrap_err().code, ErrorCode::InvalidArgument);
    }

    #[test]
    fn corrupt_counter_is_a_storage_error() {
        let s = MemoryStorage::default();
        s.set(NAMESPACE, "counter/c", "banana").unwrap();
        assert_eq!(counter_get(&s, "c").unwrap_err().code, ErrorCode::Storage);
    }

    struct FakeHttp {
        answer: std::result::Result<HttpResponse, HttpError>,
        seen: RefCell<Vec<HttpRequest>>,
    }

    impl HttpClient for FakeHttp {
        fn send(&self, request: &HttpRequest) -> std::result::Result<HttpResponse, HttpError> {
            self.seen.borrow_mut().push(request.clone());
            self.answer.clone()
        }
    }

    #[test]
    fn probe_reports_status_and_size() {
        let http = FakeHttp {
            answer: Ok(HttpResponse { status: 503, headers: vec![], body: b"down".to_vec() }),
            seen: RefCell::default(),
        };
        let p = probe_url(&http, &SystemClock, "http://127.0.0.1:9/health", 500).unwrap();
        assert_eq!((p.status, p.healthy, p.body_bytes), (503, false, 4));
        assert_eq!(http.seen.borrow()[0].timeout_ms, Some(500));
    }

    #[test]
    fn probe_maps_denied_and_rejects_bad_urls_without_sending() {
        let http =
            FakeHttp { answer: Err(HttpError::Denied("not allowed".into())), seen: RefCell::default() };
        assert_eq!(
            probe_url(&http, &SystemClock, "https://x.test/", 10).unwrap_err().code,
            ErrorCode::HttpDenied
        );
        for bad in ["ftp://x", "http://", "localhost:80", "http:// x/"] {
            assert_eq!(
                probe_url(&http, &SystemClock, bad, 10).unwrap_err().field.as_deref(),
                Some("url"),
                "{bad}"
            );
        }
        assert_eq!(http.seen.borrow().len(), 1);
    }
}
