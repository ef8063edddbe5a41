//! The `diagnostics` interface over [`crate::diagnostics`].

use crate::ports::SystemClock;
use crate::wit::exports::agentcell::core::diagnostics;
use crate::wit::{wit_result, wit_types, Component, HostHttp, HostStorage};

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
}
