//! Attuned (seed 000): user state on canonical axes -> prompt context for an LLM.
//!
//! - [`axes`]: the 23 canonical axes and their governance data;
//! - [`snapshot`]: a user's state and its validation;
//! - [`translator`]: the pure, deterministic rule translator;
//! - [`store`]: state per user over the host storage;
//! - [`wire`]: the JSON forms used to cross the boundary in bulk;
//! - [`service`]: the HTTP API, routed and answered here for every host.

#[cfg(target_arch = "wasm32")]
pub(crate) mod wit;

pub mod axes;
pub mod client;
pub mod context_cache;
pub mod infer;
pub mod service;
pub mod snapshot;
pub mod store;
pub mod translator;
pub mod wire;

pub use axes::{get_axis, Axis, Category, CANONICAL_AXES};
pub use snapshot::{Snapshot, Source};
pub use translator::{PromptContext, Thresholds, Verbosity};
