//! AI Spine (seed 002): flows of agents, their executions, and the API that serves them.
//!
//! - [`model`]: flows, agents and statuses as upstream has them, and the flow rules;
//! - [`engine`]: how an execution runs, as pure state changes that return due calls;
//! - [`store`]: everything kept in the host storage, changed by compare-and-set;
//! - [`service`]: upstream's HTTP routes, answered here for every host;
//! - [`client`]: a client of that API, sans I/O.

#[cfg(target_arch = "wasm32")]
mod wit;

pub mod client;
pub mod engine;
pub mod model;
pub mod service;
pub mod store;
