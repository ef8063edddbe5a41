//! The agentcell core.
//!
//! Domain modules are plain Rust, tested natively with `cargo test`. They reach the
//! outside only through the traits in [`ports`]. Each system is a folder whose `wit.rs`
//! (compiled for wasm32 only) maps its WIT types to its domain types; the shared glue
//! (bindings, error conversion, the ports over the host imports) is the `wit` module.
//! Adding a system means adding a folder and one `mod` line here.

pub mod attune;
pub mod bench;
pub mod blob;
pub mod dag;
pub mod diagnostics;
pub mod error;
pub mod flows;
#[cfg(test)]
pub mod hooked;
pub mod memory;
pub mod mesh;
pub mod meta;
pub mod ports;
pub mod staged;
pub mod testing;
pub mod workflows;

#[cfg(target_arch = "wasm32")]
mod wit;
