//! Typed bindings generated from the WIT contract.
wasmtime::component::bindgen!({
    world: "agentcell",
    path: "../wit",
});

/// The WIT package the bindings were generated from, e.g. `agentcell:core@0.1.0`
/// (read from `wit/world.wit` by `build.rs`).
pub const WIT_PACKAGE: &str = env!("AGENTCELL_WIT_PACKAGE");

/// The full name of one of the package's interfaces: `meta` -> `agentcell:core/meta@0.1.0`.
pub fn interface_name(interface: &str) -> String {
    let (namespace, version) = WIT_PACKAGE.split_once('@').unwrap_or((WIT_PACKAGE, ""));
    if version.is_empty() {
        format!("{namespace}/{interface}")
    } else {
        format!("{namespace}/{interface}@{version}")
    }
}
