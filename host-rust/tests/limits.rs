//! Limits on a component instance (issue 19): a deadline stops an endless loop, a
//! memory cap stops a memory bomb, each as `Error::ResourceLimit`, and the runtime goes
//! on with its data; the component reaches no file, environment or socket.

use agentcell_host::{test_component_path, Error, Limit, Limits, Runtime};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use wasmtime::component::Val;

fn runtime(limits: Limits) -> Runtime {
    Runtime::builder().memory_storage().component_file(test_component_path()).limits(limits).build().unwrap()
}

#[test]
fn the_default_caps_memory_at_1_gib_with_no_deadline() {
    assert_eq!(Limits::default(), Limits { memory_bytes: Some(1 << 30), call_timeout: None });
}

#[test]
fn a_deadline_stops_an_endless_loop_and_the_runtime_goes_on() {
    let rt = runtime(Limits { call_timeout: Some(Duration::from_millis(200)), ..Limits::default() });
    rt.counter_add("kept", 5).unwrap();
    let started = Instant::now();
    match rt.spin() {
        Err(e @ Error::ResourceLimit { limit: Limit::Time, .. }) => {
            assert_eq!(e.to_string(), "testing.spin ran past its time limit (200ms) and was stopped");
            assert_eq!(e.code(), "resource-limit");
        }
        other => panic!("expected the time limit, got {other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(rt.counter_get("kept").unwrap(), 5);
    assert_eq!(rt.instantiations(), 2);
    for _ in 0..100 {
        assert!(rt.health_check().unwrap()); // calls in time are not cut
    }
}

#[test]
fn a_memory_cap_stops_a_memory_bomb_and_the_runtime_goes_on() {
    let rt = runtime(Limits { memory_bytes: Some(64 << 20), call_timeout: None });
    rt.counter_add("kept", 7).unwrap();
    match rt.hog(4) {
        Err(e @ Error::ResourceLimit { limit: Limit::Memory, .. }) => {
            assert_eq!(e.to_string(), "testing.hog ran past its memory limit (64 MiB) and was stopped");
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert_eq!(rt.counter_get("kept").unwrap(), 7);
}

#[test]
fn a_trap_that_is_no_limit_stays_a_trap() {
    let rt = runtime(Limits { memory_bytes: Some(64 << 20), call_timeout: Some(Duration::from_secs(1)) });
    assert!(matches!(rt.trap("no limit"), Err(Error::Trap { .. })));
}

fn field(record: &Val, name: &str) -> String {
    let Val::Record(fields) = record else { panic!("not a record: {record:?}") };
    match fields.iter().find(|(n, _)| n == name) {
        Some((_, Val::String(s))) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_component_reaches_no_file_no_environment_and_no_socket() {
    std::env::set_var("AGENTCELL_SECRET", "must-not-be-seen");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let report =
        runtime(Limits::default()).call_dynamic("testing", "ambient", &[Val::U16(port)]).unwrap().unwrap();
    for name in ["read-file", "write-file", "tcp-connect"] {
        assert!(field(&report, name).starts_with("denied:"), "{name}: {report:?}");
    }
    assert_eq!(field(&report, "environment"), "");
    assert!(listener.accept().is_err(), "nobody connected");
}
