use super::*;
use crate::blob::encode_f32;
use crate::ports::MemoryStorage;

const DIM: usize = 16;

fn opts(index: IndexKind) -> Options {
    Options { dimension: DIM as u32, shard_count: Some(4), index }
}

/// Deterministic pseudo-random vectors around `clusters` centres.
fn vectors(n: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 20_000) as f32 / 10_000.0 - 1.0
    };
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..DIM).map(|_| next()).collect()).collect();
    (0..n).map(|i| centres[i % clusters].iter().map(|c| c + 0.25 * next()).collect()).collect()
}

fn put(store: &mut MemoryStore, storage: &dyn Storage, keys: &[String], vs: &[Vec<f32>]) -> Result<u32> {
    let entries: Vec<serde_json::Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| serde_json::json!({"key": k, "metadata": {"i": i, "even": i % 2 == 0}}))
        .collect();
    let flat: Vec<f32> = vs.iter().flatten().copied().collect();
    store.put(storage, &serde_json::to_string(&entries).unwrap(), &pieces(&encode_f32(&flat)), 1)
}

/// `hex` cut into uneven pieces, the first ending inside a float, as a host may send it.
fn pieces(hex: &str) -> Vec<&str> {
    let (first, rest) = hex.split_at(hex.len().min(6));
    std::iter::once(first)
        .chain(rest.as_bytes().chunks(998).map(|c| std::str::from_utf8(c).unwrap()))
        .collect()
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i:05}")).collect()
}

fn search(
    store: &mut MemoryStore,
    q: &[f32],
    limit: u32,
    exact: bool,
) -> Vec<(String, f32, serde_json::Value)> {
    let opts = SearchOptions { limit, min_similarity: -1.0, exact, ..Default::default() };
    serde_json::from_str(&store.search(&encode_f32(q), &opts).unwrap()).unwrap()
}

fn naive(vs: &[Vec<f32>], keys: &[String], q: &[f32], limit: usize) -> Vec<String> {
    let cos = |a: &[f32], b: &[f32]| {
        let d: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        d / na / nb
    };
    let mut scored: Vec<(f64, &String)> = vs.iter().zip(keys).map(|(v, k)| (cos(v, q), k)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(limit).map(|(_, k)| k.clone()).collect()
}

#[test]
fn exact_search_matches_a_naive_reference() {
    let storage = MemoryStorage::default();
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    let (ks, vs) = (keys(700), vectors(700, 7, 42));
    put(&mut store, &storage, &ks, &vs).unwrap();
    for q in vectors(20, 5, 7) {
        let got: Vec<String> = search(&mut store, &q, 10, true).into_iter().map(|h| h.0).collect();
        assert_eq!(got, naive(&vs, &ks, &q, 10));
    }
}

#[test]
fn search_applies_min_similarity_filter_and_returns_metadata() {
    let storage = MemoryStorage::default();
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    let (ks, vs) = (keys(50), vectors(50, 3, 3));
    put(&mut store, &storage, &ks, &vs).unwrap();
    let opts = SearchOptions {
        limit: 50,
        min_similarity: 0.99,
        filter_json: Some(r#"{"even":true}"#.into()),
        exact: true,
        probes: None,
    };
    let hits: Vec<(String, f32, serde_json::Value)> =
        serde_json::from_str(&store.search(&encode_f32(&vs[4]), &opts).unwrap()).unwrap();
    assert_eq!(hits[0].0, "k00004");
    assert!((hits[0].1 - 1.0).abs() < 1e-5);
    assert!(hits.iter().all(|h| h.1 >= 0.99 && h.2["even"] == true));
    let e = store.search(&encode_f32(&vs[0][..3]), &opts).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("query"));
}

#[test]
fn reopening_restores_puts_replacements_and_deletes() {
    let storage = MemoryStorage::default();
    let (ks, vs) = (keys(300), vectors(300, 5, 9));
    {
        let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
        put(&mut store, &storage, &ks[..200], &vs[..200]).unwrap();
        put(&mut store, &storage, &ks[100..], &vs[..200]).unwrap(); // replaces 100..200
        assert_eq!(store.delete(&storage, &[ks[0].clone(), "nope".into(), ks[0].clone()]).unwrap(), 1);
    }
    let mut again = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 2).unwrap();
    assert_eq!(again.len(), 299);
    assert!(again.get(&ks[0]).is_none());
    assert_eq!(again.get(&ks[150]).unwrap().embedding, vs[50]);
    assert_eq!(again.get(&ks[250]).unwrap().embedding, vs[150]);
    assert_eq!(again.get(&ks[250]).unwrap().record.metadata.as_ref(), r#"{"even":true,"i":150}"#);
    // The persisted dimension wins over a different request.
    let e =
        MemoryStore::open(&storage, "s", Options { dimension: 8, ..opts(IndexKind::Flat) }, 3).err().unwrap();
    assert_eq!(e.field.as_deref(), Some("dimension"));
}

#[test]
fn a_bad_batch_stores_nothing() {
    let storage = MemoryStorage::default();
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    let mut vs = vectors(3, 1, 1);
    vs[2][5] = f32::INFINITY;
    let e = put(&mut store, &storage, &keys(3), &vs).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("embeddings[2]"));
    vs[2] = vec![0.0; DIM];
    let e = put(&mut store, &storage, &keys(3), &vs).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("embeddings[2]"));
    assert!(store.is_empty());
    assert_eq!(storage.len_in("memory/s"), 1, "only the config value");
}

#[test]
fn embeddings_in_pieces_decode_as_one_and_an_odd_piece_is_named() {
    let storage = MemoryStorage::default();
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    let vs = vectors(2, 1, 4);
    let hex = encode_f32(&vs.concat());
    let entries = r#"[{"key":"a"},{"key":"b"}]"#;
    let (a, b) = hex.split_at(7);
    let e = store.put(&storage, entries, &[a, b], 1).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("embeddings"));
    assert!(e.message.contains("piece 0"), "{}", e.message);
    assert!(store.is_empty());
    let (a, b) = hex.split_at(10);
    assert_eq!(store.put(&storage, entries, &[a, "", b], 1).unwrap(), 2);
    assert_eq!(store.get("b").unwrap().embedding, vs[1]);
}

#[test]
fn big_batches_persist_as_small_segments_and_reopen_whole() {
    const WIDE: usize = 4096; // 21,848 base64 bytes a row: 8 rows a segment
    let storage = MemoryStorage::default();
    let wide = Options { dimension: WIDE as u32, shard_count: Some(2), index: IndexKind::Flat };
    let ks = keys(100);
    let vs: Vec<Vec<f32>> =
        (0..100).map(|i| (0..WIDE).map(|j| ((i * 7 + j) % 13) as f32 - 6.0).collect()).collect();
    let entries: Vec<serde_json::Value> = ks.iter().map(|k| serde_json::json!({"key": k})).collect();
    let mut store = MemoryStore::open(&storage, "w", wide, 1).unwrap();
    let hex = encode_f32(&vs.concat());
    store.put(&storage, &serde_json::to_string(&entries).unwrap(), &[hex], 1).unwrap();
    let check = |storage: &MemoryStorage| {
        let keys = crate::ports::all_keys(storage, "memory/w", "seg/").unwrap();
        assert!(keys.len() >= 100 / segments::rows_per_segment(WIDE), "{} segments", keys.len());
        for k in &keys {
            let value = storage.get("memory/w", k).unwrap().unwrap();
            assert!(value.len() <= segments::SEGMENT_BODY_BYTES + 4096, "{k}: {} bytes", value.len());
        }
        let mut again = MemoryStore::open(storage, "w", wide, 2).unwrap();
        assert_eq!(again.len(), 100);
        assert_eq!(again.get(&ks[77]).unwrap().embedding, vs[77]);
    };
    check(&storage);
    store.garbage_collect(&storage, false).unwrap();
    check(&storage);
}

#[test]
fn garbage_collect_compacts_without_changing_the_store() {
    let storage = MemoryStorage::default();
    let (ks, vs) = (keys(100), vectors(100, 4, 5));
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    for i in 0..10 {
        put(&mut store, &storage, &ks[i * 10..i * 10 + 10], &vs[i * 10..i * 10 + 10]).unwrap();
    }
    store.delete(&storage, &ks[..50]).unwrap();
    let report = store.garbage_collect(&storage, true).unwrap();
    assert!(report.segments_before > report.segments_after);
    assert_eq!(report.segments_after, 4);
    assert_eq!(store.stats().segments, 4);
    assert_eq!(store.stats().entries, 50);
    let mut again = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 2).unwrap();
    assert_eq!(again.len(), 50);
    assert_eq!(again.get(&ks[99]).unwrap().embedding, vs[99]);
}

#[test]
fn ivf_recall_is_high_on_clustered_data_and_follows_updates() {
    let storage = MemoryStorage::default();
    let n = 4000;
    let (ks, vs) = (keys(n), vectors(n, 40, 11));
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Ivf), 1).unwrap();
    put(&mut store, &storage, &ks, &vs).unwrap();
    let queries = vectors(50, 40, 99);
    let mut found = 0;
    for q in &queries {
        let exact: Vec<String> = search(&mut store, q, 10, true).into_iter().map(|h| h.0).collect();
        let approx: Vec<String> = search(&mut store, q, 10, false).into_iter().map(|h| h.0).collect();
        found += approx.iter().filter(|k| exact.contains(k)).count();
    }
    let recall = found as f64 / (10 * queries.len()) as f64;
    assert!(recall >= 0.9, "recall {recall}");
    // Deletes and additions after training stay consistent with exact search.
    store.delete(&storage, &ks[..1000]).unwrap();
    put(&mut store, &storage, &["new".to_string()], &[queries[0].clone()]).unwrap();
    let approx = search(&mut store, &queries[0], 1, false);
    assert_eq!(approx[0].0, "new");
    for h in search(&mut store, &queries[1], 10, false) {
        assert!(store.get(&h.0).is_some());
    }
}

#[test]
fn resonance_query_ranks_by_the_formula() {
    let storage = MemoryStorage::default();
    let mut store = MemoryStore::open(&storage, "s", opts(IndexKind::Flat), 1).unwrap();
    let (ks, vs) = (keys(30), vectors(30, 2, 13));
    put(&mut store, &storage, &ks, &vs).unwrap();
    let out: Vec<(String, f32, serde_json::Value)> =
        serde_json::from_str(&store.query_by_resonance(0.45, Some(5), Some(&encode_f32(&vs[0]))).unwrap())
            .unwrap();
    assert_eq!(out[0].0, ks[0]);
    assert!((out[0].1 - 1.0).abs() < 1e-5);
    assert!(out.len() <= 5 && out.iter().all(|h| h.1 >= 0.45));
    let centroid: Vec<(String, f32, serde_json::Value)> =
        serde_json::from_str(&store.query_by_resonance(0.0, None, None).unwrap()).unwrap();
    assert_eq!(centroid.len(), 30);
}

/// Each opener holds a store of its own over one shared copy: closing one leaves the
/// others open, the copy goes with the last hold, and destroying ends every hold.
#[test]
fn each_opener_holds_its_own_store() {
    let storage = MemoryStorage::default();
    let mut stores = Stores::default();
    let mut a1 = stores.open(&storage, "a", opts(IndexKind::Flat), 1).unwrap();
    let a2 = stores.open(&storage, "a", opts(IndexKind::Ivf), 1).unwrap();
    a1.with(|s| put(s, &storage, &keys(1), &vectors(1, 3, 1))).unwrap();
    stores.release(&mut a1);
    assert_eq!(a1.with(|s| Ok(s.len())).unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(a1.with(|s| Ok(s.len())).unwrap_err().field.as_deref(), Some("store"));
    assert_eq!(a2.with(|s| Ok(s.len())).unwrap(), 1, "a2 is still open, on the shared copy");
    let b = stores.open(&storage, "b", opts(IndexKind::Flat), 1).unwrap();
    b.destroy(&storage).unwrap();
    assert!(b.with(|s| Ok(s.len())).unwrap_err().to_string().contains("destroyed"));
    assert_eq!(
        stores.open(&storage, "bad name", opts(IndexKind::Flat), 1).err().unwrap().field.as_deref(),
        Some("name")
    );
}

/// Two halves of a store, each summed on its own and added up, give the mean direction
/// of the whole: what a host splitting a store over several instances relies on.
#[test]
fn direction_sums_of_parts_add_up_to_the_whole() {
    let storage = MemoryStorage::default();
    let (ks, vs) = (keys(40), vectors(40, 3, 5));
    let mut whole = MemoryStore::open(&storage, "whole", opts(IndexKind::Flat), 1).unwrap();
    let mut a = MemoryStore::open(&storage, "a", opts(IndexKind::Flat), 1).unwrap();
    let mut b = MemoryStore::open(&storage, "b", opts(IndexKind::Flat), 1).unwrap();
    assert!(a.direction_sum().is_none());
    put(&mut whole, &storage, &ks, &vs).unwrap();
    put(&mut a, &storage, &ks[..15], &vs[..15]).unwrap();
    put(&mut b, &storage, &ks[15..], &vs[15..]).unwrap();
    let (w, sa, sb) =
        (whole.direction_sum().unwrap(), a.direction_sum().unwrap(), b.direction_sum().unwrap());
    for i in 0..DIM {
        assert!((w[i] - (sa[i] + sb[i])).abs() < 1e-9);
    }
    let by_sum: Vec<(String, f32, serde_json::Value)> = serde_json::from_str(
        &whole
            .query_by_resonance(
                0.0,
                None,
                Some(&encode_f32(&w.iter().map(|x| *x as f32).collect::<Vec<_>>())),
            )
            .unwrap(),
    )
    .unwrap();
    let by_mean: Vec<(String, f32, serde_json::Value)> =
        serde_json::from_str(&whole.query_by_resonance(0.0, None, None).unwrap()).unwrap();
    assert_eq!(
        by_sum.iter().map(|h| &h.0).collect::<Vec<_>>(),
        by_mean.iter().map(|h| &h.0).collect::<Vec<_>>()
    );
    for (x, y) in by_sum.iter().zip(&by_mean) {
        assert!((x.1 - y.1).abs() < 1e-5);
    }
}

#[test]
fn entries_are_checked_without_storing() {
    assert_eq!(check_entries(&[r#"[{"key":"a"},{"key":"b","metadata":{"x":1}}]"#], None).unwrap(), 2);
    let field = |json: &str| check_entries(&[json], None).unwrap_err().field.unwrap();
    assert_eq!(field(r#"[{"key":"a"},{"key":"a"}]"#), "entries[1].key");
    assert_eq!(field(r#"[{"key":"a"},{"key":"b","metadata":3}]"#), "entries[1].metadata");
}

#[test]
fn an_unnamed_shard_count_takes_the_recorded_one() {
    let storage = crate::ports::MemoryStorage::default();
    let eight = Options { dimension: 3, shard_count: Some(8), index: IndexKind::Flat };
    MemoryStore::open(&storage, "s", eight, 1).unwrap();
    let unnamed = Options { shard_count: None, ..eight };
    assert_eq!(MemoryStore::open(&storage, "s", unnamed, 2).unwrap().config.shard_count, 8);
    let four = Options { shard_count: Some(4), ..eight };
    let e = MemoryStore::open(&storage, "s", four, 3).err().unwrap();
    assert!(e.to_string().contains("created with shard_count 8, not 4"), "{e}");
    // A new store without a count gets the default.
    assert_eq!(MemoryStore::open(&storage, "t", unnamed, 4).unwrap().config.shard_count, DEFAULT_SHARDS);
}
