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
    // The WIT package (`agentcell:core@X.Y.Z`) is written once, in wit/world.wit.
    let world = std::fs::read_to_string("../wit/world.wit").expect("wit/world.wit is readable");
    let package = world.lines().filter_map(|l| l.strip_prefix("package ")).next().expect("a package line");
    println!("cargo:rustc-env=AGENTCELL_WIT_PACKAGE={}", package.trim_end_matches(';'));
    println!("cargo:rerun-if-changed=../wit/world.wit");
}
