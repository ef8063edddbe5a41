//! Who may call: API keys, a rate limit per key, and failed authentication throttled
//! per client address (see `throttle`).

use super::throttle::AuthThrottle;
use crate::bindings::exports::agentcell::core::attune_service::Refusal;
use hyper::header::{self, HeaderMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// One API key and its rate limit, kept as GCRA (the generic cell rate algorithm: a
/// token bucket held as one number, so admitting a request is one compare-and-swap and
/// the workers never wait on a lock). `tat` is the theoretical arrival time of the next
/// request, in ticks (1/16 ns) since the gate opened, were requests to come at exactly
/// the allowed rate; a request is admitted while `tat` is at most one bucket ahead of
/// now. Ticks keep the interval's rounding under 0.5% at any `u32` limit per minute
/// (whole nanoseconds would over-admit 7% at 4e9/min), and a u64 of them lasts 36 years.
#[derive(Debug)]
pub(super) struct KeyLimit {
    key: String,
    tat: AtomicU64,
}

/// A request the gate refused: why (the component words the response) and, for a rate
/// limit, the seconds to wait.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) reason: Refusal,
    pub(super) retry_after: Option<u64>,
}

/// What every worker shares: the keys and their rate limits.
pub(super) struct Gate {
    keys: Vec<KeyLimit>,
    /// The one limit all requests share when no keys are configured.
    anonymous: KeyLimit,
    /// The configured limit, requests per minute; 0: off.
    per_minute: u32,
    /// Ticks between two requests at the allowed rate; 0 turns limiting off.
    interval: u64,
    /// How far ahead of now `tat` may run: a full bucket of `rate_limit - 1` requests.
    burst: u64,
    opened: Instant,
    failures: AuthThrottle,
}

const TICKS_PER_SECOND: u64 = 16_000_000_000;

impl Gate {
    pub(super) fn new(
        api_keys: Vec<String>,
        rate_limit_per_minute: u32,
        auth_failures_per_minute: u32,
    ) -> Self {
        let interval = match rate_limit_per_minute {
            0 => 0,
            n => 60 * TICKS_PER_SECOND / u64::from(n),
        };
        Gate {
            keys: api_keys.into_iter().map(|key| KeyLimit { key, tat: AtomicU64::new(0) }).collect(),
            anonymous: KeyLimit { key: String::new(), tat: AtomicU64::new(0) },
            per_minute: rate_limit_per_minute,
            interval,
            burst: interval * u64::from(rate_limit_per_minute.saturating_sub(1)),
            opened: Instant::now(),
            failures: AuthThrottle::new(auth_failures_per_minute),
        }
    }

    /// The limit of an authorised request's key (the shared anonymous one when no keys
    /// are configured), `Err` with the response to send otherwise. A `client` that has
    /// failed too often is refused before its key is looked at.
    pub(super) fn authorise(&self, client: IpAddr, headers: &HeaderMap) -> Result<&KeyLimit, Refused> {
        if self.keys.is_empty() {
            return Ok(&self.anonymous);
        }
        if let Err(wait) = self.failures.check(client) {
            let reason = Refusal::AuthThrottled(self.failures.per_minute());
            return Err(Refused { reason, retry_after: Some(wait) });
        }
        // Only a wrong key is a guess; a request without one reveals nothing.
        let verdict = self.check_key(headers);
        if let Err(Refused { reason: Refusal::UnknownKey, .. }) = verdict {
            self.failures.record_failure(client);
        }
        verdict
    }

    fn check_key(&self, headers: &HeaderMap) -> Result<&KeyLimit, Refused> {
        // The scheme is case-insensitive (RFC 7235): `bearer KEY` is `Bearer KEY`.
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim());
        match given {
            Some(key) => self.find_key(key).ok_or(Refused { reason: Refusal::UnknownKey, retry_after: None }),
            None => Err(Refused { reason: Refusal::MissingKey, retry_after: None }),
        }
    }

    /// The configured key equal to `given`, compared in constant time: every key is
    /// compared whole, whichever matches, so the time taken tells nothing of how much
    /// of a guess was right.
    fn find_key(&self, given: &str) -> Option<&KeyLimit> {
        use subtle::ConstantTimeEq;
        let mut found = None;
        for limit in &self.keys {
            if bool::from(limit.key.as_bytes().ct_eq(given.as_bytes())) {
                found = Some(limit);
            }
        }
        found
    }

    /// Admits a request of `limit`'s key, or refuses it with the seconds until the next
    /// request would be admitted (at least 1), for `Retry-After`.
    pub(super) fn admit(&self, limit: &KeyLimit) -> Result<(), Refused> {
        if self.interval == 0 {
            return Ok(());
        }
        self.admit_at(limit, self.opened.elapsed().as_nanos() as u64 * (TICKS_PER_SECOND / 1_000_000_000))
    }

    /// `admit` at `now` ticks after the gate opened.
    fn admit_at(&self, limit: &KeyLimit, now: u64) -> Result<(), Refused> {
        let mut tat = limit.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > self.burst {
                let wait = (start - now - self.burst).div_ceil(TICKS_PER_SECOND).max(1);
                return Err(Refused {
                    reason: Refusal::RateLimited(self.per_minute),
                    retry_after: Some(wait),
                });
            }
            match limit.tat.compare_exchange_weak(
                tat,
                start + self.interval,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

/// The address a request is counted under: the peer's, or behind a proxy that appends
/// it (`trust_forwarded_for`), the last address of `X-Forwarded-For`: the one the
/// nearest proxy saw; earlier entries are the client's to forge.
pub(super) fn client_address(peer: IpAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if !trust_forwarded_for {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use std::sync::Arc;

    const SECOND: u64 = TICKS_PER_SECOND;

    fn retry_after(r: &Refused) -> u64 {
        r.retry_after.unwrap()
    }

    #[test]
    fn a_full_bucket_admits_the_limit_then_refills_evenly() {
        let gate = Gate::new(vec!["a".into(), "b".into()], 3, 0);
        let (a, b) = (&gate.keys[0], &gate.keys[1]);
        for _ in 0..3 {
            assert!(gate.admit_at(a, 0).is_ok());
        }
        let refused = gate.admit_at(a, 0).unwrap_err();
        assert!(matches!(refused.reason, Refusal::RateLimited(3)));
        assert_eq!(retry_after(&refused), 20, "one request per 20 s at 3 a minute");
        assert!(gate.admit_at(b, 0).is_ok(), "each key has its own bucket");
        assert!(gate.admit_at(a, 19 * SECOND).is_err());
        assert!(gate.admit_at(a, 20 * SECOND).is_ok());
        assert!(gate.admit_at(a, 20 * SECOND).is_err());
        // Idle for longer than a minute: the bucket is full again, and no fuller.
        for _ in 0..3 {
            assert!(gate.admit_at(a, 300 * SECOND).is_ok());
        }
        assert!(gate.admit_at(a, 300 * SECOND).is_err());
    }

    #[test]
    fn high_limits_are_kept_to_and_named_exactly() {
        // 7,000,000 a minute: 8571.43 ns apart, so whole nanoseconds would round.
        let gate = Gate::new(vec!["a".into()], 7_000_000, 0);
        let a = &gate.keys[0];
        let full: usize = (0..7_000_001).filter(|_| gate.admit_at(a, 0).is_ok()).count();
        assert_eq!(full, 7_000_000);
        let refused = gate.admit_at(a, 0).unwrap_err();
        assert!(matches!(refused.reason, Refusal::RateLimited(7_000_000)));
        // One second later: 116,666.7 more.
        let refill = (0..200_000).filter(|_| gate.admit_at(a, SECOND).is_ok()).count();
        assert!((116_666..=116_667).contains(&refill), "{refill}");
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let gate = Gate::new(vec!["a".into()], 6000, 0);
        let a = &gate.keys[0];
        while gate.admit_at(a, 0).is_ok() {}
        assert_eq!(retry_after(&gate.admit_at(a, 0).unwrap_err()), 1);
    }

    #[test]
    fn two_threads_share_one_key_without_admitting_more_than_the_limit() {
        let gate = Arc::new(Gate::new(vec!["a".into()], 10_000, 0));
        let admitted: usize = (0..2)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    (0..20_000).filter(|_| gate.admit_at(&gate.keys[0], 0).is_ok()).count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(admitted, 10_000);
    }

    #[test]
    fn keys_are_checked_and_no_keys_means_one_shared_limit() {
        let gate = Gate::new(vec!["k1".into()], 0, 0);
        let me = IpAddr::from([127, 0, 0, 1]);
        let mut headers = HeaderMap::new();
        assert!(matches!(gate.authorise(me, &headers).unwrap_err().reason, Refusal::MissingKey));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        assert!(matches!(gate.authorise(me, &headers).unwrap_err().reason, Refusal::UnknownKey));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  k1 "));
        assert_eq!(gate.authorise(me, &headers).unwrap().key, "k1", "the scheme is case-insensitive");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic k1"));
        assert!(matches!(gate.authorise(me, &headers).unwrap_err().reason, Refusal::MissingKey));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k1"));
        assert_eq!(gate.authorise(me, &headers).unwrap().key, "k1");
        let open = Gate::new(vec![], 1, 0);
        let limit = open.authorise(me, &HeaderMap::new()).unwrap();
        assert!(open.admit_at(limit, 0).is_ok());
        assert!(open.admit_at(limit, 0).is_err());
    }

    #[test]
    fn a_guessing_address_is_throttled_even_when_it_guesses_right() {
        let gate = Gate::new(vec!["k1".into()], 0, 2);
        let (guesser, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let mut wrong = HeaderMap::new();
        wrong.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer guess"));
        let mut right = HeaderMap::new();
        right.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k1"));
        for _ in 0..2 {
            assert!(matches!(gate.authorise(guesser, &wrong).unwrap_err().reason, Refusal::UnknownKey));
        }
        let throttled = gate.authorise(guesser, &right).unwrap_err();
        assert!(matches!(throttled.reason, Refusal::AuthThrottled(2)));
        assert_eq!(throttled.retry_after, Some(30));
        assert!(gate.authorise(other, &right).is_ok(), "other addresses are untouched");
        assert!(gate.authorise(other, &right).is_ok(), "good keys spend no failures");
    }

    #[test]
    fn behind_a_proxy_the_last_forwarded_address_counts() {
        let peer = IpAddr::from([10, 9, 9, 9]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1, 203.0.113.5"));
        assert_eq!(client_address(peer, &headers, false), peer, "not trusted unless asked");
        assert_eq!(client_address(peer, &headers, true), IpAddr::from([203, 0, 113, 5]));
        headers.insert("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(client_address(peer, &headers, true), peer);
    }
}
