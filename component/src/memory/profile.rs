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

    /// `{op: {count, total_ms, avg_duration_ms}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let ops = self
            .ops
            .iter()
            .map(|(op, (count, ns))| {
                let total_ms = *ns as f64 / 1e6;
                let value = serde_json::json!({
                    "count": count,
                    "total_ms": total_ms,
                    "avg_duration_ms": total_ms / (*count).max(1) as f64,
                });
                (op.to_string(), value)
            })
            .collect();
        serde_json::Value::Object(ops)
    }
}
