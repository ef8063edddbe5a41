//! Plugins in the Rust host (issue 19): the shared vectors, hostile plugins stopped,
//! grants denied and namespaced, the config file.

use agentcell_host::plugins::{Grants, Plugin, PluginSet, PLUGIN_LIMITS};
use agentcell_host::{Error, HttpPolicy, Limits, MemoryStorage, StorageBackend};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugin_file(name: &str) -> PathBuf {
    repo().join("target/plugins/wasm32-wasip2/release").join(name)
}

fn test_limits() -> Limits {
    Limits { memory_bytes: Some(64 << 20), call_timeout: Some(Duration::from_millis(300)) }
}

/// The kind an error stands for in the vectors.
fn kind(e: &Error) -> String {
    match e {
        Error::Plugin { kind, .. } => kind.clone(),
        Error::ResourceLimit { limit, .. } => limit.to_string(),
        Error::Trap { .. } => "trap".into(),
        other => panic!("not a plugin call's error: {other:?}"),
    }
}

#[test]
fn plugin_vectors() {
    let text = std::fs::read_to_string(repo().join("tests/plugin-vectors/plugins.json")).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    for case in vectors["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let storage: Option<Arc<dyn StorageBackend>> =
            case["kv"].as_bool().unwrap_or(false).then(|| Arc::new(MemoryStorage::default()) as _);
        let grants = Grants { storage, ..Grants::default() };
        let plugin =
            Plugin::load(plugin_file(case["plugin"].as_str().unwrap()), None, grants, test_limits()).unwrap();
        for call in case["calls"].as_array().unwrap() {
            let got = plugin.call(&call["input"]);
            match (&call.get("error"), got) {
                (Some(expected), Err(e)) => assert_eq!(&json!(kind(&e)), *expected, "{name}: {call}: {e}"),
                (None, Ok(out)) => assert_eq!(out, call["output"], "{name}: {call}"),
                (_, got) => panic!("{name}: {call}: got {got:?}"),
            }
        }
    }
}

#[test]
fn a_plugin_describes_itself_and_its_defaults_are_tight() {
    let p = Plugin::load(plugin_file("text_stats.wasm"), None, Grants::default(), PLUGIN_LIMITS).unwrap();
    assert_eq!(
        (p.name(), p.info().name.as_str(), p.info().version.as_str()),
        ("text-stats", "text-stats", "0.1.0")
    );
    assert_eq!(
        PLUGIN_LIMITS,
        Limits { memory_bytes: Some(128 << 20), call_timeout: Some(Duration::from_secs(5)) }
    );
}

#[test]
fn hostile_plugins_are_stopped_and_recover() {
    let p = Plugin::load(plugin_file("misbehave.wasm"), None, Grants::default(), test_limits()).unwrap();
    let e = p.call(&json!({"do": "spin"})).unwrap_err();
    assert_eq!(e.to_string(), "plugin misbehave: call ran past its time limit (300ms) and was stopped");
    let e = p.call(&json!({"do": "hog"})).unwrap_err();
    assert_eq!(e.to_string(), "plugin misbehave: call ran past its memory limit (64 MiB) and was stopped");
    assert_eq!(p.call(&json!({"do": "echo"})).unwrap(), json!({"do": "echo"}));
    assert_eq!(p.instantiations(), 3);
    assert_eq!(p.call(&json!({"do": "read-file"})).unwrap()["ok"], json!(false));
    assert_eq!(p.call(&json!({"do": "write-file"})).unwrap()["ok"], json!(false));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(p.call(&json!({"do": "connect", "port": port})).unwrap()["ok"], json!(false));
}

#[test]
fn http_is_denied_without_a_grant_and_outside_the_allow_list() {
    let bare = Plugin::load(plugin_file("misbehave.wasm"), None, Grants::default(), test_limits()).unwrap();
    let out = bare.call(&json!({"do": "fetch", "url": "http://127.0.0.1:9/"})).unwrap();
    assert!(out["error"].as_str().unwrap().contains("no HTTP grant"), "{out}");
    let grants = Grants {
        http: Some(HttpPolicy::new(["api.example.com"], Duration::from_secs(1))),
        ..Grants::default()
    };
    let elsewhere = Plugin::load(plugin_file("misbehave.wasm"), None, grants, test_limits()).unwrap();
    let out = elsewhere.call(&json!({"do": "fetch", "url": "http://127.0.0.1:9/"})).unwrap();
    assert!(out["error"].as_str().unwrap().contains("allow-list"), "{out}");
}

#[test]
fn key_value_is_namespaced_per_plugin() {
    let storage: Arc<dyn StorageBackend> = Arc::new(MemoryStorage::default());
    let grants = Grants { storage: Some(storage.clone()), ..Grants::default() };
    let one =
        Plugin::load(plugin_file("misbehave.wasm"), Some("one"), grants.clone(), test_limits()).unwrap();
    let two = Plugin::load(plugin_file("misbehave.wasm"), Some("two"), grants, test_limits()).unwrap();
    one.call(&json!({"do": "kv", "key": "k", "value": "from one"})).unwrap();
    assert_eq!(two.call(&json!({"do": "kv", "key": "j", "value": "x"})).unwrap()["value"], json!("x"));
    assert_eq!(storage.get_many("plugin/one", &["k".into()]).unwrap(), vec![Some("from one".into())]);
    assert_eq!(storage.get_many("plugin/two", &["k".into()]).unwrap(), vec![None]);
}

#[test]
fn the_core_component_is_not_a_plugin() {
    let e = Plugin::load(agentcell_host::test_component_path(), None, Grants::default(), PLUGIN_LIMITS)
        .err()
        .unwrap();
    assert!(matches!(e, Error::Load(_)) && e.to_string().contains("agentcell:core/storage"), "{e}");
}

#[test]
fn plugins_load_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("plugins.json");
    let stats = plugin_file("text_stats.wasm");
    std::fs::write(
        &config,
        json!({"plugins": {"stats": {"path": stats, "kv": true}, "tight": {"path": plugin_file("misbehave.wasm"), "call_timeout_ms": 100, "memory_mb": 32}}}).to_string(),
    )
    .unwrap();
    let set = PluginSet::from_file(&config, Some(Arc::new(MemoryStorage::default()))).unwrap();
    assert_eq!(set.names().collect::<Vec<_>>(), ["stats", "tight"]);
    assert_eq!(set.get("stats").unwrap().call(&json!({"text": "a b"})).unwrap()["calls"], json!(1));
    assert_eq!(set.get("tight").unwrap().limits().call_timeout, Some(Duration::from_millis(100)));
    assert!(set.get("nope").unwrap_err().to_string().contains("no plugin \"nope\""));
    for (entry, message) in [
        (json!({"path": "x.wasm", "memroy_mb": 1}), "plugins.p.memroy_mb: not a key"),
        (json!({"path": "x.wasm", "memory_mb": 0}), "plugins.p.memory_mb: must be an integer"),
        (json!({"path": "x.wasm", "http_allow": "api.example.com"}), "plugins.p.http_allow: must be a list"),
        (json!({"path": "x.wasm", "kv": "yes"}), "plugins.p.kv: must be true or false"),
        (json!({}), "plugins.p.path"),
    ] {
        let e = PluginSet::from_value(&json!({"plugins": {"p": entry}}), dir.path(), None).err().unwrap();
        assert!(e.to_string().contains(message), "{e}");
    }
}
