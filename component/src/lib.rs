//! The agentcell core.
//!
//! Domain modules are plain Rust, tested natively with `cargo test`. They reach the
//! outside only through the traits in [`ports`]. The `glue` module, compiled only for
//! wasm32, maps the WIT types to domain types and implements the ports with the WIT
//! imports.

pub mod attune;
pub mod bench;
pub mod blob;
pub mod code;
pub mod diagnostics;
pub mod error;
pub mod memory;
pub mod meta;
pub mod ports;
pub mod principles;

#[cfg(target_arch = "wasm32")]
mod glue;
