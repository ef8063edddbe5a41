//! Captures how the component was built, for `meta.build-info` and `meta.rust-version`.
use std::process::Command;

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = command_output(&rustc, &["--version"]).unwrap_or_else(|| "rustc unknown".into());
    println!("cargo:rustc-env=AGENTCELL_RUSTC_VERSION={rustc_version}");
    // AGENTCELL_GIT_COMMIT lets a build from a tarball say where it came from.
    let commit = std::env::var("AGENTCELL_GIT_COMMIT")
        .ok()
        .or_else(|| command_output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_default();
    println!("cargo:rustc-env=AGENTCELL_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=AGENTCELL_TARGET={}", std::env::var("TARGET").unwrap_or_default());
    println!("cargo:rustc-env=AGENTCELL_PROFILE={}", std::env::var("PROFILE").unwrap_or_default());
    let features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(|f| f.to_lowercase().replace('_', "-")))
        .collect();
    println!("cargo:rustc-env=AGENTCELL_FEATURES={}", features.join(","));
    println!("cargo:rustc-env=AGENTCELL_WIT_PACKAGE={}", wit_package());
    println!("cargo:rerun-if-env-changed=AGENTCELL_GIT_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../wit");
}

/// The package named in `wit/world.wit` (`agentcell:core@X.Y.Z`): the one place it is written.
fn wit_package() -> String {
    let world = std::fs::read_to_string("../wit/world.wit").expect("wit/world.wit is readable");
    world
        .lines()
        .find_map(|l| l.trim().strip_prefix("package ")?.strip_suffix(';').map(str::to_string))
        .expect("wit/world.wit declares its package")
}
