//! The mesh benchmark's signature figures: ML-DSA-65 sign and verify of 1 KiB envelopes
//! per second, natively (the component's own code compiled for this machine, the
//! baseline) and inside the component from the Rust host, in the same run. Prints JSON.
//!
//!     cargo run --release -p agentcell-host --example mesh_sign -- 2.0

use agentcell_component::mesh::envelope::{self, Fresh, Kind};
use agentcell_component::mesh::identity::KeyPair;
use agentcell_host::{Bus, MemoryBus, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn per_second(seconds: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let payload = vec![7u8; 1024];
    let keys = KeyPair::from_seed(&[1; 32]);
    let (sealed, _) = envelope::seal(&keys, Kind::Message, "bench", &payload, 1, &Fresh::random()).unwrap();
    let native_sign = per_second(seconds, || {
        envelope::seal(&keys, Kind::Message, "bench", &payload, 1, &Fresh::random()).unwrap();
    });
    let native_verify = per_second(seconds, || {
        envelope::open(&sealed, "bench", 2).unwrap();
    });

    let bus = Arc::new(MemoryBus::default());
    let rt = Runtime::builder().memory_storage().bus(bus.clone()).build().unwrap();
    let wkeys = rt.mesh_generate_key(Some(&[1; 32])).unwrap();
    let wasm_sign = per_second(seconds, || {
        rt.mesh_publish(&wkeys, "bench", &payload).unwrap();
    });
    let one: Vec<String> =
        bus.read("bench", 0, 1, Duration::ZERO).unwrap().into_iter().map(|(_, e)| e).collect();
    let batch: Vec<String> = one.iter().cycle().take(64).cloned().collect();
    let wasm_verify = 64.0
        * per_second(seconds, || {
            rt.mesh_open("bench", &batch).unwrap();
        });
    let items: Vec<&[u8]> = (0..64).map(|_| payload.as_slice()).collect();
    let batch_sign = 64.0
        * per_second(seconds, || {
            rt.mesh_publish_many(&wkeys, "bench-batch", &items).unwrap();
        });
    println!(
        "{}",
        serde_json::json!({
            "native_sign": native_sign, "native_verify": native_verify,
            "rust_host_sign": wasm_sign, "rust_host_verify": wasm_verify,
            "rust_host_batch64_per_message": batch_sign,
        })
    );
}
