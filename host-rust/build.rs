//! Embeds the component: the host runs the very `.wasm` that ships in the wheel.
use std::path::PathBuf;

fn main() {
    let path = std::env::var("AGENTCELL_WASM").map(PathBuf::from).unwrap_or_else(|_| {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        manifest.join("../target/wasm32-wasip2/release/agentcell_component.wasm")
    });
    if !path.exists() {
        panic!(
            "the agentcell component is not built: {} is missing. Run `make wasm` first \
             (or set AGENTCELL_WASM to a built agentcell.wasm).",
            path.display()
        );
    }
    println!("cargo:rustc-env=AGENTCELL_COMPONENT_PATH={}", path.canonicalize().unwrap().display());
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-env-changed=AGENTCELL_WASM");
}
