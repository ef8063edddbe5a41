//! The limits benchmark's Rust figures: calls per second of the core's no-op without
//! limits, with the memory cap, and with cap and deadline; of a no-op plugin (echo of a
//! small JSON document) with and without its limits; and of the same echo as a native
//! serde_json round trip (the baseline a plugin call is compared with). Prints JSON.
//!
//!     cargo run --release -p agentcell-host --example plugin_bench -- 1.0

use agentcell_host::plugins::{Grants, Plugin};
use agentcell_host::{test_component_path, Limits, Runtime};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn per_second(seconds: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let core = |limits: Limits| {
        let rt = Runtime::builder()
            .memory_storage()
            .component_file(test_component_path())
            .limits(limits)
            .build()
            .unwrap();
        per_second(seconds, || rt.noop().unwrap())
    };
    let none = Limits { memory_bytes: None, call_timeout: None };
    let cap = Limits::default();
    let both = Limits { call_timeout: Some(Duration::from_secs(1)), ..Limits::default() };
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins/wasm32-wasip2/release/misbehave.wasm");
    let input = r#"{"do": "echo", "id": 42, "tags": ["a", "b"]}"#;
    let plugin = |limits: Limits| {
        let p = Plugin::load(&file, None, Grants::default(), limits).unwrap();
        per_second(seconds, || {
            p.call_json(input).unwrap();
        })
    };
    let native = per_second(seconds, || {
        let v: serde_json::Value = serde_json::from_str(std::hint::black_box(input)).unwrap();
        std::hint::black_box(v.to_string());
    });
    let out = serde_json::json!({
        "core_noop_no_limits": core(none),
        "core_noop_memory_cap": core(cap),
        "core_noop_cap_and_deadline": core(both),
        "plugin_echo_no_limits": plugin(none),
        "plugin_echo_default_limits": plugin(agentcell_host::plugins::PLUGIN_LIMITS),
        "native_echo": native,
    });
    println!("{out}");
}
