//! Version, build information and health of the core (seed 003).

#[cfg(target_arch = "wasm32")]
mod wit;

/// The project version (one version for the whole project, set in the workspace).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The WIT package this crate implements, read from `wit/world.wit` by `build.rs`.
pub const WIT_PACKAGE: &str = env!("AGENTCELL_WIT_PACKAGE");

/// How the component was built, captured by `build.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: String,
    pub rustc: String,
    pub git_commit: Option<String>,
    pub target: String,
    pub profile: String,
    pub features: Vec<String>,
    pub wit_package: String,
}

pub fn version() -> String {
    VERSION.to_string()
}

/// `agentcell-component 0.1.0 (rustc 1.95.0 ...)`, in the seed's format.
pub fn rust_version() -> String {
    format!("agentcell-component {VERSION} ({})", env!("AGENTCELL_RUSTC_VERSION"))
}

/// Checks the invariants the core relies on: the version matches the WIT package and
/// the base64 codec round-trips.
pub fn health_check() -> bool {
    let roundtrip = crate::blob::decode("data", &crate::blob::encode(b"agentcell"));
    WIT_PACKAGE.ends_with(VERSION) && matches!(roundtrip.as_deref(), Ok(b"agentcell"))
}

pub fn build_info() -> BuildInfo {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    BuildInfo {
        version: version(),
        rustc: env!("AGENTCELL_RUSTC_VERSION").to_string(),
        git_commit: non_empty(env!("AGENTCELL_GIT_COMMIT")),
        target: env!("AGENTCELL_TARGET").to_string(),
        profile: env!("AGENTCELL_PROFILE").to_string(),
        features: env!("AGENTCELL_FEATURES")
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        wit_package: WIT_PACKAGE.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_version_names_crate_and_rustc() {
        let v = rust_version();
        assert!(v.starts_with("agentcell-component 0.1.0 (rustc "), "{v}");
    }

    #[test]
    fn healthy_and_consistent() {
        assert!(health_check());
        let info = build_info();
        assert_eq!(info.version, VERSION);
        assert_eq!(info.wit_package, WIT_PACKAGE);
        assert!(info.rustc.starts_with("rustc "));
    }
}
