//! The `meta` interface over [`crate::meta`].

use crate::wit::exports::agentcell::core::meta;
use crate::wit::Component;

impl meta::Guest for Component {
    fn version() -> String {
        crate::meta::version()
    }
    fn rust_version() -> String {
        crate::meta::rust_version()
    }
    fn health_check() -> bool {
        crate::meta::health_check()
    }
    fn describe_build() -> meta::BuildInfo {
        let b = crate::meta::build_info();
        meta::BuildInfo {
            version: b.version,
            rustc: b.rustc,
            git_commit: b.git_commit,
            target: b.target,
            profile: b.profile,
            features: b.features,
            wit_package: b.wit_package,
        }
    }
}
