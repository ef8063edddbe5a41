//! The server backends (Redis, PostgreSQL) against real servers started on free
//! loopback ports: the same contract tests for each.

mod common;

use agentcell_host::bindings::agentcell::core::storage::StorageError;
use agentcell_host::{PostgresStorage, RedisStorage, Runtime, StorageBackend};
use common::{postgres_server, redis_server};
use std::sync::Arc;

/// Opens a fresh connection to the test's server.
type Open = Arc<dyn Fn() -> Arc<dyn StorageBackend> + Send + Sync>;

fn redis() -> Option<(common::RedisServer, Open)> {
    let server = redis_server()?;
    let url = server.url.clone();
    Some((server, Arc::new(move || Arc::new(RedisStorage::open(&url).unwrap()) as Arc<dyn StorageBackend>)))
}

fn postgres() -> Option<(common::PostgresServer, Open)> {
    let server = postgres_server()?;
    let url = server.url.clone();
    Some((
        server,
        Arc::new(move || Arc::new(PostgresStorage::open(&url).unwrap()) as Arc<dyn StorageBackend>),
    ))
}

/// Each contract test, once per server.
macro_rules! on_both_servers {
    ($($name:ident),*) => {
        mod on_redis {
            $(#[test] fn $name() { if let Some((_server, open)) = super::redis() { super::$name(open) } })*
        }
        mod on_postgres {
            $(#[test] fn $name() { if let Some((_server, open)) = super::postgres() { super::$name(open) } })*
        }
    };
}

on_both_servers!(
    pages_and_batches_like_the_others,
    two_runtimes_share_state,
    compare_and_set_is_atomic_across_connections,
    commit_applies_everything_only_when_every_guard_holds
);

fn s(v: &str) -> String {
    v.to_string()
}

fn pages_and_batches_like_the_others(open: Open) {
    let b = open();
    let entries: Vec<_> = (0..25).map(|i| (format!("k{i:02}"), i.to_string())).collect();
    b.set_many("ns", &entries).unwrap();
    b.set_many("ns", &[(s("other"), s("x"))]).unwrap();
    let p1 = b.list_keys("ns", "k", None, 10).unwrap();
    assert_eq!((p1.keys.len(), p1.cursor.as_deref()), (10, Some("k09")));
    let p2 = b.list_keys("ns", "k", p1.cursor.as_deref(), 10).unwrap();
    assert_eq!(p2.keys[0], "k10");
    let p3 = b.list_keys("ns", "k", p2.cursor.as_deref(), 10).unwrap();
    assert_eq!((p3.keys.len(), p3.cursor), (5, None));
    assert_eq!(b.list_keys("ns", "", None, 1000).unwrap().keys.len(), 26);
    assert!(matches!(
        b.set_many("ns", &[(s("a"), s("1")), (s(""), s("2"))]),
        Err(StorageError::InvalidKey(_))
    ));
    assert_eq!(b.get_many("ns", &[s("a"), s("k03")]).unwrap(), vec![None, Some(s("3"))]);
    assert_eq!(b.delete_many("ns", &[s("k03"), s("zz")]).unwrap(), 1);
    assert_eq!(b.list_keys("ns", "k0", None, 1000).unwrap().keys.len(), 9);
}

fn two_runtimes_share_state(open: Open) {
    let a = Runtime::builder().storage(open()).build().unwrap();
    let b = Runtime::builder().storage(open()).build().unwrap();
    assert_eq!(a.counter_add("shared", 2).unwrap(), 2);
    assert_eq!(b.counter_add("shared", 3).unwrap(), 5);
    assert_eq!(a.counter_get("shared").unwrap(), 5);
}

fn compare_and_set_is_atomic_across_connections(open: Open) {
    let b = open();
    assert!(b.compare_and_set("ns", "k", None, "a").unwrap());
    assert!(!b.compare_and_set("ns", "k", None, "b").unwrap());
    assert!(!b.compare_and_set("ns", "k", Some("x"), "b").unwrap());
    assert!(b.compare_and_set("ns", "k", Some("a"), "b").unwrap());
    assert_eq!(b.get_many("ns", &[s("k")]).unwrap(), vec![Some(s("b"))]);
    assert_eq!(b.list_keys("ns", "", None, 10).unwrap().keys, vec![s("k")]);
    // Four connections, each its own instance, adding to one counter: none is lost.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let open = open.clone();
            std::thread::spawn(move || {
                let rt = Runtime::builder().storage(open()).build().unwrap();
                (0..100).for_each(|_| assert!(rt.counter_add("hits", 1).is_ok()));
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let rt = Runtime::builder().storage(b).build().unwrap();
    assert_eq!(rt.counter_get("hits").unwrap(), 400);
}

#[test]
fn an_unreachable_server_is_a_storage_error_naming_it() {
    let err = RedisStorage::open("redis://127.0.0.1:9/0").err().unwrap();
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    let err = PostgresStorage::open("postgresql://u@127.0.0.1:9/db").err().unwrap();
    assert!(err.to_string().contains("127.0.0.1:9/db"), "{err}");
}

fn commit_applies_everything_only_when_every_guard_holds(open: Open) {
    let b = open();
    b.set_many("ns", &[(s("rec"), s("v1")), (s("idx/old"), s(""))]).unwrap();
    let writes = [(s("rec"), Some(s("v2"))), (s("idx/old"), None), (s("idx/new"), Some(s("")))];
    assert!(!b.commit("ns", &[(s("rec"), Some(s("v0")))], &writes).unwrap(), "a stale guard");
    assert!(!b.commit("ns", &[(s("rec"), Some(s("v1"))), (s("absent"), Some(s("x")))], &writes).unwrap());
    assert_eq!(b.get_many("ns", &[s("rec"), s("idx/old")]).unwrap(), vec![Some(s("v1")), Some(s(""))]);
    assert!(b.commit("ns", &[(s("rec"), Some(s("v1"))), (s("absent"), None)], &writes).unwrap());
    let now = b.get_many("ns", &[s("rec"), s("idx/old"), s("idx/new")]).unwrap();
    assert_eq!(now, vec![Some(s("v2")), None, Some(s(""))]);
    assert_eq!(b.list_keys("ns", "idx/", None, 10).unwrap().keys, vec![s("idx/new")]);
    // An empty value is a value: a guard expecting "" fails on an absent key.
    assert!(!b.commit("ns", &[(s("e"), Some(s("")))], &[(s("z"), Some(s("1")))]).unwrap());
    assert!(b.commit("ns", &[(s("idx/new"), Some(s("")))], &[(s("z"), Some(s("1")))]).unwrap());
}
