//! The `agentcell` command, run as a separate process.

use std::process::Command;

fn agentcell(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentcell")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_health_print_what_the_component_answers() {
    let (code, out, _) = agentcell(&["version"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(env!("CARGO_PKG_VERSION")));
    assert!(lines.next().unwrap().starts_with("agentcell-component 0.1.0 (rustc "));

    let (code, out, _) = agentcell(&["health"]);
    assert_eq!(code, 0);
    assert!(out.contains("healthy: true"), "{out}");
    assert!(out.contains(&format!("component sha256: {}", agentcell_host::component_sha256())), "{out}");
}

#[test]
fn counter_persists_across_invocations_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    assert_eq!(agentcell(&["counter", "runs", "--data", data]).1.trim(), "1");
    assert_eq!(agentcell(&["counter", "runs", "--add", "5", "--data", data]).1.trim(), "6");
    assert_eq!(agentcell(&["counter", "runs", "--add", "0", "--data", data]).1.trim(), "6");
    assert!(dir.path().join("agentcell.db").exists());
}

#[test]
fn errors_exit_2_with_the_error_code() {
    let (code, _, err) = agentcell(&["counter", "", "--memory"]);
    assert_eq!(code, 2);
    assert!(err.contains("[invalid-argument]") && err.contains("name"), "{err}");

    let (code, _, err) = agentcell(&["probe", "http://127.0.0.1:9/"]);
    assert_eq!(code, 2);
    assert!(err.contains("[http-denied]"), "{err}");
}
