//! Test-only misbehaviour on purpose (WIT `testing`), compiled into the test build only
//! (feature `test-exports`), so hosts can test their recovery from a trap.

#[cfg(all(target_arch = "wasm32", feature = "test-exports"))]
mod wit;
