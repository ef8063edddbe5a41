//! The mesh from the Rust host: keys, signed envelopes through the runtime's bus, a
//! tampered envelope refused, and two replicas of a task list converging.

use agentcell_host::mesh::{unhex, TaskOp};
use agentcell_host::{Bus, MemoryBus, Runtime};
use std::sync::Arc;
use std::time::Duration;

fn runtime(bus: Arc<MemoryBus>) -> Runtime {
    Runtime::builder().memory_storage().bus(bus).build().unwrap()
}

#[test]
fn published_envelopes_verify_and_tampered_ones_are_refused() {
    let bus = Arc::new(MemoryBus::default());
    let rt = runtime(bus.clone());
    let keys = rt.mesh_generate_key(Some(&[9; 32])).unwrap();
    assert_eq!(keys.id, rt.mesh_generate_key(Some(&[9; 32])).unwrap().id);
    let id = rt.mesh_publish(&keys, "news", b"hello").unwrap();
    let mut envelopes: Vec<String> =
        bus.read("news", 0, 10, Duration::ZERO).unwrap().into_iter().map(|(_, e)| e).collect();
    let mut bad = unhex(&envelopes[0]).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    envelopes.push(bad.iter().map(|b| format!("{b:02x}")).collect());
    envelopes.push("00".into());
    let opened = rt.mesh_open("news", &envelopes).unwrap();
    let first = &opened[0].as_ref().unwrap()[0];
    assert_eq!((first.id.as_str(), first.sender.as_str()), (id.as_str(), keys.id.as_str()));
    assert_eq!(unhex(&first.payload).unwrap(), b"hello");
    assert!(opened[1].as_ref().unwrap_err().message.contains("signature"));
    assert!(opened[2].is_err());
    let ids = rt.mesh_publish_many(&keys, "news", &[b"a", b"b", b"c"]).unwrap();
    let batch: Vec<String> =
        bus.read("news", 1, 10, Duration::ZERO).unwrap().into_iter().map(|(_, e)| e).collect();
    let items = rt.mesh_open("news", &batch).unwrap().remove(0).unwrap();
    assert_eq!(items.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(unhex(&items[2].payload).unwrap(), b"c");
}

#[test]
fn key_files_round_trip_and_a_corrupt_one_is_an_error() {
    let dir = std::env::temp_dir().join(format!("agentcell-mesh-keys-{}", std::process::id()));
    let rt = runtime(Arc::new(MemoryBus::default()));
    let path = dir.join("agent.key");
    let made = rt.mesh_load_or_create_key(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 6000);
    assert_eq!(rt.mesh_load_or_create_key(&path).unwrap().id, made.id);
    std::fs::write(&path, b"garbage").unwrap();
    let err = rt.mesh_load_or_create_key(&path).unwrap_err().to_string();
    assert!(err.contains("agent.key") && err.contains("not a valid x0x key file"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"garbage", "never replaced");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn two_replicas_of_a_task_list_converge_over_the_bus() {
    let bus = Arc::new(MemoryBus::default());
    let (a, b) = (runtime(bus.clone()), runtime(bus.clone()));
    let (ka, kb) = (a.mesh_generate_key(None).unwrap(), b.mesh_generate_key(None).unwrap());
    a.mesh_create_task_list(&ka, "team", "board").unwrap();
    let task = a.mesh_change_task_list(&ka, "board", &TaskOp::Add(("t".into(), String::new(), 128))).unwrap();
    let replay = |rt: &Runtime| {
        let all: Vec<String> =
            bus.read("board", 0, 100, Duration::ZERO).unwrap().into_iter().map(|(_, e)| e).collect();
        rt.mesh_open("board", &all).unwrap();
    };
    replay(&b);
    b.mesh_change_task_list(&kb, "board", &TaskOp::Claim(task.clone())).unwrap();
    replay(&a);
    let (va, vb) =
        (a.mesh_get_task_list("board").unwrap().unwrap(), b.mesh_get_task_list("board").unwrap().unwrap());
    assert_eq!(va, vb);
    assert!(va.contains(&format!("\"assignee\":\"{}\"", kb.id)), "{va}");
    let err = a.mesh_change_task_list(&ka, "board", &TaskOp::Claim("00".repeat(32))).unwrap_err();
    assert!(err.to_string().contains("task not found"), "{err}");
}
