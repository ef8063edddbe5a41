//! Failed authentication, throttled per client address, so API keys cannot be guessed
//! at line rate.
//!
//! Each address has a budget of failures per minute, kept as GCRA like the per-key rate
//! limit (see `gate`). Once an address has spent it, every request from it that needs a
//! key is refused with `429` and `Retry-After` **before** its key is looked at: were a
//! right key still let through, the 429s would tell a guesser which guess was right.
//! The price: a client whose address is throttled waits out `Retry-After` even with a
//! good key, which only happens to one sharing an address with a guesser.
//!
//! Addresses are IPv4 addresses and IPv6 /64 networks (one host usually holds a whole
//! /64). The table is bounded: past `MAX_ADDRESSES` live entries, new addresses share one
//! overflow budget, so a flood from many addresses throttles itself instead of growing
//! the server's memory. Entries whose budget is full again are dropped as they are met.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Live entries kept at most; past it, new addresses share the overflow budget.
pub(super) const MAX_ADDRESSES: usize = 65_536;

/// The key an address is counted under.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Client {
    V4([u8; 4]),
    V6Net([u8; 8]),
    Overflow,
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    Client::V6Net([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

pub(super) struct AuthThrottle {
    /// Failures allowed per minute per address; 0: no throttling.
    per_minute: u32,
    /// Nanoseconds of budget one failure spends.
    interval: u64,
    /// How far ahead of now an address's `tat` may run before it is throttled.
    burst: u64,
    /// Theoretical arrival time of each address's next failure, ns since `opened`.
    tat: Mutex<HashMap<Client, u64>>,
    /// Entries in `tat`, read without the lock so that a server with no failures pays
    /// nothing per request.
    entries: AtomicUsize,
    opened: Instant,
}

impl AuthThrottle {
    pub(super) fn new(failures_per_minute: u32) -> Self {
        let interval = match failures_per_minute {
            0 => 0,
            n => 60_000_000_000 / u64::from(n),
        };
        AuthThrottle {
            per_minute: failures_per_minute,
            interval,
            burst: interval * u64::from(failures_per_minute.saturating_sub(1)),
            tat: Mutex::new(HashMap::new()),
            entries: AtomicUsize::new(0),
            opened: Instant::now(),
        }
    }

    pub(super) fn per_minute(&self) -> u32 {
        self.per_minute
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_nanos() as u64
    }

    /// `Err(seconds to wait)` when `ip` has spent its failures.
    pub(super) fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, self.now())
    }

    /// Counts one failed authentication from `ip`.
    pub(super) fn record_failure(&self, ip: IpAddr) {
        self.record_at(ip, self.now());
    }

    fn check_at(&self, ip: IpAddr, now: u64) -> Result<(), u64> {
        if self.interval == 0 || self.entries.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let mut table = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let client = Client::from(ip);
        let key = if table.contains_key(&client) { client } else { Client::Overflow };
        let Some(&tat) = table.get(&key) else { return Ok(()) };
        if tat <= now {
            table.remove(&key);
            self.entries.store(table.len(), Ordering::Relaxed);
            return Ok(());
        }
        // Throttled while the next failure would start more than a burst ahead of now.
        match tat - now > self.burst {
            true => Err((tat - now - self.burst).div_ceil(1_000_000_000).max(1)),
            false => Ok(()),
        }
    }

    fn record_at(&self, ip: IpAddr, now: u64) {
        if self.interval == 0 {
            return;
        }
        let mut table = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let mut client = Client::from(ip);
        if !table.contains_key(&client) && table.len() >= MAX_ADDRESSES {
            table.retain(|_, tat| *tat > now);
            if table.len() >= MAX_ADDRESSES {
                client = Client::Overflow;
            }
        }
        let tat = table.entry(client).or_insert(0);
        *tat = (*tat).max(now) + self.interval;
        self.entries.store(table.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_failures_then_waits_and_others_do_not() {
        let t = AuthThrottle::new(3);
        let a = ip("10.0.0.1");
        for _ in 0..3 {
            assert!(t.check_at(a, 0).is_ok());
            t.record_at(a, 0);
        }
        assert_eq!(t.check_at(a, 0), Err(20), "3 a minute: the next one in 20 s");
        assert!(t.check_at(ip("10.0.0.2"), 0).is_ok(), "each address has its own budget");
        assert!(t.check_at(a, 19 * SECOND).is_err());
        assert!(t.check_at(a, 20 * SECOND).is_ok());
        // A minute on, the entry is spent and dropped.
        assert!(t.check_at(a, 61 * SECOND).is_ok());
        assert_eq!(t.tat.lock().unwrap().len(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let t = AuthThrottle::new(1);
        t.record_at(ip("2001:db8:1:2::1"), 0);
        assert!(t.check_at(ip("2001:db8:1:2::ffff"), 0).is_err(), "same /64");
        assert!(t.check_at(ip("2001:db8:1:3::1"), 0).is_ok(), "another /64");
        t.record_at(ip("::ffff:192.0.2.7"), 0);
        assert!(t.check_at(ip("192.0.2.7"), 0).is_err());
    }

    #[test]
    fn the_table_is_bounded_and_new_addresses_then_share_one_budget() {
        let t = AuthThrottle::new(2);
        for n in 0..MAX_ADDRESSES as u32 {
            t.record_at(IpAddr::from(n.to_be_bytes()), 0);
        }
        let newcomer = ip("203.0.113.9");
        t.record_at(newcomer, 0);
        t.record_at(ip("203.0.113.10"), 0);
        assert_eq!(t.tat.lock().unwrap().len(), MAX_ADDRESSES + 1, "the overflow entry");
        assert!(t.check_at(newcomer, 0).is_err(), "two failures spent the shared budget");
        // Once the old entries are spent, new addresses get their own again.
        t.record_at(newcomer, 120 * SECOND);
        assert!(t.tat.lock().unwrap().contains_key(&Client::from(newcomer)));
    }

    #[test]
    fn zero_turns_it_off() {
        let t = AuthThrottle::new(0);
        for _ in 0..100 {
            t.record_at(ip("10.0.0.1"), 0);
        }
        assert!(t.check_at(ip("10.0.0.1"), 0).is_ok());
    }
}
