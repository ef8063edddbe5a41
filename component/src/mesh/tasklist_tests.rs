//! The task-list CRDT: upstream's rules on one replica, and convergence of replicas
//! under any order and duplication of delivery (a seeded property test).

use super::envelope::{self, Fresh, Kind};
use super::identity::KeyPair;
use super::replica::{self, Change};
use super::tasklist::{Op, Stamp, TaskList};
use crate::ports::{MemoryStorage, MemoryTransport};

fn stamp(ts: u64, agent: &str) -> Stamp {
    Stamp { ts, agent: agent.to_string() }
}

fn list_with_task() -> TaskList {
    let mut l = TaskList::new("id".into(), "t".into());
    l.merge(
        &Op::Add { task: "a".into(), title: "A".into(), description: String::new(), priority: 128 },
        &stamp(1, "x"),
    );
    l
}

#[test]
fn the_earliest_claim_wins_and_a_later_earlier_claim_displaces_it() {
    let mut l = list_with_task();
    l.merge(&Op::Claim { task: "a".into() }, &stamp(10, "bob"));
    assert_eq!(l.tasks["a"].state().assignee(), Some("bob"));
    l.merge(&Op::Claim { task: "a".into() }, &stamp(20, "ann"));
    assert_eq!(l.tasks["a"].state().assignee(), Some("bob"));
    l.merge(&Op::Claim { task: "a".into() }, &stamp(5, "cat"));
    assert_eq!(l.tasks["a"].state().assignee(), Some("cat"));
    l.merge(&Op::Claim { task: "a".into() }, &stamp(5, "amy"));
    assert_eq!(l.tasks["a"].state().assignee(), Some("amy"), "ties go to the smaller agent id");
}

#[test]
fn done_is_final_and_needs_a_claim() {
    let mut l = list_with_task();
    assert!(l
        .check(&Op::Complete { task: "a".into() })
        .unwrap_err()
        .message
        .contains("claimed before completion"));
    l.merge(&Op::Complete { task: "a".into() }, &stamp(3, "eve"));
    assert_eq!(l.tasks["a"].state().name(), "empty", "a done without any claim does not count");
    l.merge(&Op::Claim { task: "a".into() }, &stamp(2, "bob"));
    assert_eq!(l.tasks["a"].state().name(), "done");
    assert!(l.check(&Op::Claim { task: "a".into() }).unwrap_err().message.contains("already done"));
    assert!(l.check(&Op::Complete { task: "a".into() }).unwrap_err().message.contains("already done"));
    l.merge(&Op::Claim { task: "a".into() }, &stamp(1, "zed"));
    assert_eq!(l.tasks["a"].state().name(), "done");
}

#[test]
fn unknown_tasks_are_not_found_and_the_order_is_deterministic() {
    let mut l = list_with_task();
    assert!(l.check(&Op::Claim { task: "nope".into() }).unwrap_err().message.contains("task not found"));
    assert!(l.check(&Op::Reorder { tasks: vec!["a".into(), "nope".into()] }).is_err());
    l.merge(
        &Op::Add { task: "b".into(), title: "B".into(), description: String::new(), priority: 1 },
        &stamp(0, "y"),
    );
    let ids: Vec<_> = l.ordered().into_iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(ids, ["b", "a"], "unordered tasks by creation");
    l.merge(&Op::Reorder { tasks: vec!["a".into(), "b".into()] }, &stamp(9, "y"));
    let ids: Vec<_> = l.ordered().into_iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn a_claim_that_arrives_before_its_add_is_kept() {
    let mut l = TaskList::new("id".into(), "t".into());
    l.merge(&Op::Claim { task: "a".into() }, &stamp(5, "bob"));
    assert!(l.ordered().is_empty());
    l.merge(
        &Op::Add { task: "a".into(), title: "A".into(), description: String::new(), priority: 128 },
        &stamp(1, "x"),
    );
    assert_eq!(l.tasks["a"].state().assignee(), Some("bob"));
}

#[test]
fn operations_publish_and_the_replica_follows() {
    let (storage, bus) = (MemoryStorage::default(), MemoryTransport::default());
    let keys = KeyPair::from_seed(&[1; 32]);
    replica::create(&storage, &bus, &keys, "team", "tasks/team", 1).unwrap();
    let id = replica::change(
        &storage,
        &bus,
        &keys,
        "tasks/team",
        Change::Add { title: "write".into(), description: "docs".into(), priority: None },
        2,
    )
    .unwrap();
    replica::change(&storage, &bus, &keys, "tasks/team", Change::Claim(id.clone()), 3).unwrap();
    assert_eq!(bus.published.borrow().len(), 3);
    let list = replica::load(&storage, "tasks/team").unwrap().unwrap();
    assert_eq!(list.tasks[&id].state().name(), "claimed");
    assert_eq!(list.tasks[&id].priority.value, 128);
    // Another machine replays the bus and gets the same list.
    let other = MemoryStorage::default();
    for (topic, bytes) in bus.published.borrow().iter() {
        let opened = envelope::open(bytes, topic, 10).unwrap();
        replica::apply(&other, &opened).unwrap().unwrap();
    }
    assert_eq!(replica::load(&other, "tasks/team").unwrap(), Some(list));
}

#[test]
fn a_refused_publish_changes_nothing() {
    let (storage, bus) = (MemoryStorage::default(), MemoryTransport::default());
    let keys = KeyPair::from_seed(&[1; 32]);
    replica::create(&storage, &bus, &keys, "team", "t", 1).unwrap();
    *bus.down.borrow_mut() = Some("bus is down".into());
    let add = Change::Add { title: "x".into(), description: String::new(), priority: None };
    let err = replica::change(&storage, &bus, &keys, "t", add, 2).unwrap_err();
    assert!(err.message.contains("bus is down"));
    assert!(replica::load(&storage, "t").unwrap().unwrap().tasks.is_empty());
    let missing = replica::change(&storage, &bus, &keys, "elsewhere", Change::Claim("0".repeat(64)), 2);
    assert!(missing.unwrap_err().message.contains("create or join it first"));
    let bad = replica::change(&storage, &bus, &keys, "t", Change::Claim("xyz".into()), 2);
    assert!(bad.unwrap_err().message.contains("64 hex"));
}

#[test]
fn creator_and_joiner_agree_on_the_list_id() {
    assert_eq!(replica::list_id("tasks/team"), replica::list_id("tasks/team"));
    assert_ne!(replica::list_id("tasks/team"), replica::list_id("tasks/other"));
    assert_eq!(replica::list_id("t").len(), 64);
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn replicas_converge_whatever_the_order_and_duplication_of_delivery() {
    let agents = ["aa", "bb", "cc"];
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Each agent makes operations against its own view of the list.
        let mut origin = TaskList::new("id".into(), "t".into());
        let mut ops: Vec<(Op, Stamp)> = Vec::new();
        let tasks = ["t1", "t2", "t3", "t4"];
        for step in 0..40u64 {
            let agent = agents[rng.below(3)];
            let task = tasks[rng.below(4)].to_string();
            let op = match rng.below(6) {
                0 => Op::Add {
                    task,
                    title: format!("T{step}"),
                    description: String::new(),
                    priority: rng.below(256) as u8,
                },
                1 | 2 => Op::Claim { task },
                3 => Op::Complete { task },
                4 => Op::SetPriority { task, priority: rng.below(256) as u8 },
                _ => Op::Reorder { tasks: vec![tasks[rng.below(4)].into(), tasks[rng.below(4)].into()] },
            };
            // Timestamps collide on purpose (clocks of different machines).
            let s = stamp(rng.below(20) as u64, agent);
            origin.merge(&op, &s);
            ops.push((op, s));
        }
        let mut views = Vec::new();
        for _replica in 0..3 {
            let mut delivery: Vec<_> = ops.iter().collect();
            for _ in 0..10 {
                delivery.push(&ops[rng.below(ops.len())]);
            }
            for i in (1..delivery.len()).rev() {
                delivery.swap(i, rng.below(i + 1));
            }
            let mut r = TaskList::new("id".into(), "t".into());
            for (op, s) in delivery {
                r.merge(op, s);
            }
            assert_eq!(r, origin, "seed {seed}: a replica diverged");
            views.push(r.view());
        }
        assert!(views.windows(2).all(|w| w[0] == w[1]), "seed {seed}: views differ");
    }
}

#[test]
fn an_operation_that_does_not_parse_is_rejected_not_applied() {
    let keys = KeyPair::from_seed(&[2; 32]);
    let (bytes, _) =
        envelope::seal(&keys, Kind::TaskOp, "t", b"{\"op\":\"explode\"}", 1, &Fresh::random()).unwrap();
    let opened = envelope::open(&bytes, "t", 1).unwrap();
    let storage = MemoryStorage::default();
    let rejected = replica::apply(&storage, &opened).unwrap().unwrap_err();
    assert_eq!(rejected.reason, envelope::Reason::BadOperation);
    assert!(replica::load(&storage, "t").unwrap().is_none());
}
