//! Per-operation counters, kept only while profiling is on.

use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Profile {
    enabled: bool,
    ops: BTreeMap<&'static str, (u64, u128)>,
}

impl Profile {
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Starts timing an operation; `None` when profiling is off.
    pub fn start(&self) -> Option<Instant> {
        self.enabled.then(Instant::now)
    }

    pub fn record(&mut self, op: &'static str, started: Option<Instant>) {
        if let Some(t) = started {
            let e = self.ops.entry(op).or_default();
            e.0 += 1;
            e.1 += t.elapsed().as_nanos();
        }
    }

    /// Each operation counted so far: its name, how many times it ran, and the total
    /// nanoseconds it took, by name.
    pub fn ops(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        self.ops.iter().map(|(op, (count, ns))| (*op, *count, u64::try_from(*ns).unwrap_or(u64::MAX)))
    }
}
