//! The embedding store from Rust over partitions: written, searched, reopened with its
//! recorded layout; the Python host reads the same directory (tests/test_memory_cross_host.py).

use agentcell_host::memory::{partition_file, PartitionedStore};
use serde_json::{json, Value};

fn rows(n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim).map(|i| (((i * 7919) % 97) as f32 - 48.0) / 48.0 + 0.01).collect()
}

#[test]
fn a_store_over_three_partitions_answers_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let (n, dim) = (300, 8);
    let keys: Vec<String> = (0..n).map(|i| format!("doc-{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let metadata: Vec<Value> = (0..n).map(|i| json!({ "i": i })).collect();
    let mut values = rows(n, dim);
    let first_row = values[..dim].to_vec();
    values[dim..2 * dim].copy_from_slice(&first_row); // doc-1 equals doc-0: a tie

    let split = dir.path().join("split");
    let one = dir.path().join("one");
    let store = PartitionedStore::open_dir_with(&split, "htm", dim as u32, Some(3)).unwrap();
    let whole = PartitionedStore::open_dir_with(&one, "htm", dim as u32, Some(1)).unwrap();
    assert_eq!((store.partitions(), whole.partitions()), (3, 1));
    assert_eq!(store.put(&refs, &values, &metadata).unwrap(), n as u32);
    assert_eq!(whole.put(&refs, &values, &metadata).unwrap(), n as u32);
    assert!(partition_file(&split, 2).exists());

    let query = &values[..dim];
    let expected = whole.search(query, 25, -1.0).unwrap();
    assert_eq!(store.search(query, 25, -1.0).unwrap(), expected);
    let top: Vec<Value> = serde_json::from_str(&store.search(query, 2, -1.0).unwrap()).unwrap();
    assert_eq!((top[0][0].as_str(), top[1][0].as_str()), (Some("doc-0"), Some("doc-1")));
    drop(store);

    // Reopened: the recorded layout wins; contradicting it is a named error.
    let again = PartitionedStore::open_dir(&split, "htm", dim as u32).unwrap();
    assert_eq!((again.partitions(), again.count().unwrap()), (3, n as u64));
    assert_eq!(again.search(query, 25, -1.0).unwrap(), expected);
    drop(again);
    let err = PartitionedStore::open_dir_with(&split, "htm", dim as u32, Some(2)).err().unwrap();
    assert_eq!(err.code(), "invalid-argument");
    assert!(err.to_string().contains("has 3, not 2"), "{err}");
}

#[test]
fn a_bad_row_stores_nothing_in_any_partition() {
    let dir = tempfile::tempdir().unwrap();
    let store = PartitionedStore::open_dir_with(dir.path(), "htm", 2, Some(2)).unwrap();
    let keys = ["a", "b", "c", "d", "e", "f"];
    let mut values = vec![1.0f32; 12];
    values[11] = f32::NAN;
    let metadata = vec![json!({}); 6];
    assert!(store.put(&keys, &values, &metadata).is_err());
    assert_eq!(store.count().unwrap(), 0);
    drop(store);
    assert_eq!(PartitionedStore::open_dir(dir.path(), "htm", 2).unwrap().count().unwrap(), 0);
}
