//! Typed bindings generated from the WIT contract.
wasmtime::component::bindgen!({
    world: "agentcell",
    path: "../wit",
});
