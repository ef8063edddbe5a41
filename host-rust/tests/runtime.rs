//! The Rust host end to end: storage persistence, HTTP policy against a real loopback
//! server, trap recovery, and the embedded component's identity.

use agentcell_host::{test_component_path, Error, HttpPolicy, Runtime};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tiny HTTP server on loopback answering 200 to everything; counts requests.
fn serve() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counter.fetch_add(1, Ordering::SeqCst);
            let body = "hello from loopback";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, hits)
}

#[test]
fn meta_answers_from_the_component() {
    let rt = Runtime::builder().memory_storage().build().unwrap();
    assert_eq!(rt.version().unwrap(), env!("CARGO_PKG_VERSION"));
    assert!(rt.rust_version().unwrap().starts_with("agentcell-component 0.1.0 (rustc "));
    assert!(rt.health_check().unwrap());
    assert_eq!(rt.describe_build().unwrap().target, "wasm32-wasip2");
}

#[test]
fn counter_survives_a_restart_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let first = Runtime::builder().sqlite_storage(&db).unwrap().build().unwrap();
    assert_eq!(first.counter_add("restarts", 3).unwrap(), 3);
    drop(first);
    let second = Runtime::builder().sqlite_storage(&db).unwrap().build().unwrap();
    assert_eq!(second.counter_add("restarts", 1).unwrap(), 4);
}

/// Four threads, each with its own instance, adding to one counter in shared storage:
/// every add is counted (read, add, compare-and-set; a lost race is added again).
fn concurrent_adds_are_all_counted(storage: Arc<dyn agentcell_host::StorageBackend>) {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let storage = storage.clone();
            std::thread::spawn(move || {
                let rt = Runtime::builder().storage(storage).build().unwrap();
                for _ in 0..100 {
                    rt.counter_add("hits", 1).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let rt = Runtime::builder().storage(storage).build().unwrap();
    assert_eq!(rt.counter_get("hits").unwrap(), 400);
}

#[test]
fn concurrent_updates_of_one_key_are_never_lost() {
    use agentcell_host::{MemoryStorage, SqliteStorage};
    let dir = tempfile::tempdir().unwrap();
    concurrent_adds_are_all_counted(Arc::new(MemoryStorage::default()));
    concurrent_adds_are_all_counted(Arc::new(SqliteStorage::open(dir.path().join("shared.db")).unwrap()));
    concurrent_adds_are_all_counted(Arc::new(
        SqliteStorage::open_owned(dir.path().join("owned.db")).unwrap(),
    ));
}

/// Memory storage whose reads of a key containing "boom" panic (a host bug).
#[derive(Default)]
struct Panicky(agentcell_host::MemoryStorage);

impl agentcell_host::StorageBackend for Panicky {
    fn get_many(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<String>>, StorageError> {
        assert!(!keys.iter().any(|k| k.contains("boom")), "storage bug on purpose");
        self.0.get_many(ns, keys)
    }
    fn set_many(&self, ns: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        self.0.set_many(ns, entries)
    }
    fn delete_many(&self, ns: &str, keys: &[String]) -> Result<u32, StorageError> {
        self.0.delete_many(ns, keys)
    }
    fn compare_and_set(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StorageError> {
        self.0.compare_and_set(ns, key, expected, value)
    }
    fn commit(
        &self,
        ns: &str,
        guards: &[(String, Option<String>)],
        writes: &[(String, Option<String>)],
    ) -> Result<bool, StorageError> {
        self.0.commit(ns, guards, writes)
    }
    fn list_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<agentcell_host::bindings::agentcell::core::storage::KeyPage, StorageError> {
        self.0.list_keys(ns, prefix, cursor, limit)
    }
}

use agentcell_host::bindings::agentcell::core::storage::StorageError;

#[test]
fn a_panic_in_a_host_import_fails_the_call_and_the_runtime_stays_usable() {
    let rt = Runtime::builder().storage(Arc::new(Panicky::default())).build().unwrap();
    assert_eq!(rt.counter_add("fine", 2).unwrap(), 2);
    let err = rt.counter_add("boom", 1).unwrap_err();
    assert!(matches!(err, Error::Call(_)), "{err:?}");
    assert!(err.to_string().contains("storage bug on purpose"), "{err}");
    assert_eq!(rt.counter_add("fine", 1).unwrap(), 3, "a fresh instance over the same storage");
}

#[test]
fn bad_input_is_a_typed_error() {
    let rt = Runtime::builder().memory_storage().build().unwrap();
    match rt.counter_add("", 1) {
        Err(e @ Error::Component { .. }) => {
            assert_eq!(e.code(), "invalid-argument");
            assert!(matches!(e, Error::Component { field: Some(ref f), .. } if f == "name"));
        }
        other => panic!("expected invalid-argument, got {other:?}"),
    }
}

#[test]
fn trap_is_reported_and_the_runtime_recovers() {
    let rt = Runtime::builder().memory_storage().component_file(test_component_path()).build().unwrap();
    rt.counter_add("kept", 41).unwrap();
    match rt.trap("boom") {
        // The documented format, the same as the Python host's (tests/README.md).
        Err(e @ Error::Trap { .. }) => {
            let text = e.to_string();
            let expected = "the component trapped in testing.trap: deliberate trap: boom (at component/src/";
            assert!(text.starts_with(expected), "{text}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(rt.counter_add("kept", 1).unwrap(), 42);
    assert_eq!(rt.instantiations(), 2);
}

#[test]
fn a_bad_dynamic_call_is_not_a_trap() {
    let rt = Runtime::builder().memory_storage().build().unwrap();
    assert!(matches!(rt.call_dynamic("meta", "nope", &[]), Err(Error::Call(_))));
    assert_eq!(rt.instantiations(), 1);
    rt.counter_add("kept", 7).unwrap();
    // Wrong argument types are refused by wasmtime, which leaves the instance unusable:
    // the runtime replaces it and the next call works.
    let wrong = [wasmtime::component::Val::Bool(true)];
    assert!(matches!(rt.call_dynamic("diagnostics", "counter-get", &wrong), Err(Error::Call(_))));
    assert!(rt.health_check().unwrap());
    assert_eq!(rt.counter_get("kept").unwrap(), 7);
}

#[test]
fn http_allow_list_is_enforced_before_anything_is_sent() {
    let (addr, hits) = serve();
    let denied = Runtime::builder().memory_storage().build().unwrap();
    let err = denied.probe_url(&format!("http://{addr}/x"), 1000).unwrap_err();
    assert_eq!(err.code(), "http-denied");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let allowed = Runtime::builder()
        .memory_storage()
        .http(HttpPolicy::new([addr.clone()], Duration::from_secs(5)))
        .build()
        .unwrap();
    let probe = allowed.probe_url(&format!("http://{addr}/x"), 1000).unwrap();
    assert_eq!((probe.status, probe.healthy, probe.body_bytes), (200, true, 19));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn http_timeout_is_a_timeout() {
    // A listener that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let _held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(5));
    });
    let rt = Runtime::builder()
        .memory_storage()
        .http(HttpPolicy::new([addr.clone()], Duration::from_secs(5)))
        .build()
        .unwrap();
    assert_eq!(rt.probe_url(&format!("http://{addr}/"), 300).unwrap_err().code(), "http-timeout");
}

#[test]
fn embedded_component_is_byte_identical_to_the_one_in_the_python_package() {
    let sha = |bytes: &[u8]| Sha256::digest(bytes).to_vec();
    let build = std::fs::read(repo().join("target/wasm32-wasip2/release/agentcell_component.wasm")).unwrap();
    assert_eq!(sha(agentcell_host::COMPONENT_WASM), sha(&build));
    let packaged = repo().join("host-python/agentcell/agentcell.wasm");
    let shipped =
        std::fs::read(&packaged).unwrap_or_else(|e| panic!("{}: {e} (run `make wasm`)", packaged.display()));
    assert_eq!(sha(agentcell_host::COMPONENT_WASM), sha(&shipped));
    assert_eq!(agentcell_host::component_sha256().len(), 64);
}

#[test]
fn the_embedded_component_has_no_test_only_exports() {
    let shipped = Runtime::builder().memory_storage().build().unwrap();
    for err in [shipped.trap("x").unwrap_err(), shipped.noop().unwrap_err()] {
        assert!(matches!(&err, Error::Call(m) if m.contains("exports no")), "{err:?}");
    }
    assert!(shipped.health_check().unwrap(), "a refused call leaves the instance usable");
    let test_build =
        Runtime::builder().memory_storage().component_file(test_component_path()).build().unwrap();
    test_build.noop().unwrap();
}
