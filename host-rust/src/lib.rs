//! The agentcell Rust host: runs the agentcell component with wasmtime, providing its
//! storage (SQLite file or memory) and allow-listed outgoing HTTP.
//!
//! ```no_run
//! let rt = agentcell_host::Runtime::builder().memory_storage().build()?;
//! println!("{}", rt.version()?);
//! # Ok::<(), agentcell_host::Error>(())
//! ```

pub mod bindings;
pub mod bus;
pub mod error;
pub mod flows;
pub mod group_commit;
pub mod http;
pub mod limits;
pub mod memory;
pub mod mesh;
pub mod plugins;
pub mod runtime;
pub mod serve;
pub mod storage;
pub mod thread_slot;

pub use bus::{Bus, MemoryBus, SqliteBus};
pub use error::Error;
pub use http::HttpPolicy;
pub use limits::{Limit, Limits};
pub use runtime::{test_component_path, Runtime, RuntimeBuilder};
pub use storage::{MemoryStorage, PostgresStorage, RedisStorage, SqliteStorage, StorageBackend};

/// The component this host runs, embedded at build time (byte-identical to the one in
/// the Python wheel).
pub const COMPONENT_WASM: &[u8] = include_bytes!(env!("AGENTCELL_COMPONENT_PATH"));

/// SHA-256 of [`COMPONENT_WASM`], hex.
pub fn component_sha256() -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(COMPONENT_WASM).iter().map(|b| format!("{b:02x}")).collect()
}
