//! The shared host rules (`tests/host-rules/rules.json`) against every storage backend
//! of this host (memory, SQLite, and a real redis-server when one is installed)
//! and its HTTP policy. The Python and JS hosts run the same file.

mod common;

use agentcell_host::bindings::agentcell::core::storage::StorageError;
use agentcell_host::{HttpPolicy, MemoryStorage, RedisStorage, SqliteStorage, StorageBackend};
use serde_json::Value;
use std::time::Duration;

fn rules() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/host-rules/rules.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v["repeat"].as_str().unwrap().repeat(v["times"].as_u64().unwrap() as usize),
    }
}

fn backends(redis: Option<&common::RedisServer>) -> Vec<(&'static str, Box<dyn StorageBackend>)> {
    let mut all: Vec<(&'static str, Box<dyn StorageBackend>)> = vec![
        ("memory", Box::new(MemoryStorage::default())),
        ("sqlite", Box::new(SqliteStorage::open(":memory:").unwrap())),
    ];
    if let Some(server) = redis {
        all.push(("redis", Box::new(RedisStorage::open(&server.url).unwrap())));
    }
    all
}

#[test]
fn key_rules_hold_in_every_backend() {
    let rules = rules();
    let redis = common::redis_server();
    for (name, backend) in backends(redis.as_ref()) {
        for case in rules["keys"].as_array().unwrap() {
            let (ns, key) = (text(&case["namespace"]), text(&case["key"]));
            let written = backend.set_many(&ns, &[(key.clone(), "v".into())]);
            if case["valid"].as_bool().unwrap() {
                assert!(written.is_ok(), "{name}: {case} refused: {written:?}");
                assert_eq!(backend.get_many(&ns, &[key]).unwrap(), [Some("v".to_string())], "{name}");
            } else {
                assert!(matches!(written, Err(StorageError::InvalidKey(_))), "{name}: {case} -> {written:?}");
            }
        }
        for case in rules["list_limits"].as_array().unwrap() {
            let limit = case["limit"].as_u64().unwrap() as u32;
            let listed = backend.list_keys("limits", "", None, limit);
            assert_eq!(listed.is_ok(), case["valid"].as_bool().unwrap(), "{name}: limit {limit}");
        }
    }
}

#[test]
fn allow_list_matching() {
    for case in rules()["allow"].as_array().unwrap() {
        let allow: Vec<String> = case["allow"].as_array().unwrap().iter().map(text).collect();
        let policy = HttpPolicy::new(allow, Duration::from_secs(1));
        let url = case["url"].as_str().unwrap();
        assert_eq!(policy.permits(url), case["permitted"].as_bool().unwrap(), "{case}");
    }
}
