//! Top-k selection and the exact scan. Results are ordered by similarity, best first,
//! and ties by key (ascending), so every host and every run gives the same list.

use super::entries::Entries;
use super::vector::dot;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One result: the row and its score.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub score: f32,
    pub key: &'a str,
    pub row: usize,
}

/// Orders hits worst-first, so a max-heap keeps the worst on top.
struct Worst<'a>(Hit<'a>);

impl Ord for Worst<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.score.total_cmp(&self.0.score).then_with(|| self.0.key.cmp(other.0.key))
    }
}
impl PartialOrd for Worst<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Worst<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst<'_> {}

/// Metadata equality filter: every field of the filter object must be present in the
/// entry's metadata with an equal JSON value.
#[derive(Debug, Clone)]
pub struct Filter(Map<String, Value>);

impl Filter {
    pub fn new(fields: Map<String, Value>) -> Self {
        Self(fields)
    }

    pub fn matches(&self, metadata_json: &str) -> bool {
        match serde_json::from_str::<Map<String, Value>>(metadata_json) {
            Ok(m) => self.0.iter().all(|(k, v)| m.get(k) == Some(v)),
            Err(_) => false,
        }
    }
}

/// Keeps the best `limit` hits with score >= `min_score` that pass the filter. The
/// filter (a JSON parse) runs only for hits that would enter the result.
pub struct TopK<'a> {
    limit: usize,
    min_score: f32,
    filter: Option<&'a Filter>,
    heap: BinaryHeap<Worst<'a>>,
}

impl<'a> TopK<'a> {
    pub fn new(limit: usize, min_score: f32, filter: Option<&'a Filter>) -> Self {
        Self { limit, min_score, filter, heap: BinaryHeap::with_capacity(limit + 1) }
    }

    /// The score a new hit must beat (or tie with a smaller key) to enter.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.limit {
            self.min_score
        } else {
            self.heap.peek().map_or(self.min_score, |w| w.0.score)
        }
    }

    #[inline]
    pub fn offer(&mut self, entries: &'a Entries, row: usize, score: f32) {
        if score < self.threshold() || self.limit == 0 {
            return;
        }
        let record = entries.record(row);
        let hit = Worst(Hit { score, key: &record.key, row });
        if self.heap.len() >= self.limit {
            match self.heap.peek() {
                Some(worst) if hit.cmp(worst) == Ordering::Less => {}
                _ => return,
            }
        }
        if let Some(f) = self.filter {
            if !f.matches(&record.metadata) {
                return;
            }
        }
        self.heap.push(hit);
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    /// Hits, best first, ties by key.
    pub fn into_sorted(self) -> Vec<Hit<'a>> {
        let mut hits: Vec<Worst<'a>> = self.heap.into_vec();
        hits.sort();
        hits.into_iter().map(|w| w.0).collect()
    }
}

/// Scores every row against `query` (with 1/|query| given) and offers it to `top`.
/// `score` maps the cosine to the ranking score (identity for search).
pub fn scan<'a>(
    entries: &'a Entries,
    query: &[f32],
    query_inv_norm: f32,
    top: &mut TopK<'a>,
    score: impl Fn(f32) -> f32,
) {
    let dim = entries.dim();
    for (first, block) in entries.blocks() {
        for (j, row) in block.chunks_exact(dim).enumerate() {
            let i = first + j;
            let c = dot(query, row) * query_inv_norm * entries.inv_norm(i);
            top.offer(entries, i, score(c.clamp(-1.0, 1.0)));
        }
    }
}

/// Scores the given rows only.
pub fn scan_rows<'a>(
    entries: &'a Entries,
    rows: &[u32],
    query: &[f32],
    query_inv_norm: f32,
    top: &mut TopK<'a>,
) {
    for &i in rows {
        let i = i as usize;
        let c = dot(query, entries.row(i)) * query_inv_norm * entries.inv_norm(i);
        top.offer(entries, i, c.clamp(-1.0, 1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::entries::Record;
    use super::*;

    fn entries(rows: &[(&str, [f32; 2], &str)]) -> Entries {
        let mut e = Entries::new(2);
        for (k, v, m) in rows {
            let inv = super::super::vector::inverse_norm("v", v).unwrap();
            e.upsert(
                Record { key: (*k).into(), metadata: (*m).into(), diff_ops: None, stored_at_ms: 0 },
                v,
                inv,
            );
        }
        e
    }

    #[test]
    fn ties_go_to_the_smaller_key_and_limit_holds() {
        let e = entries(&[("b", [1.0, 0.0], "{}"), ("a", [2.0, 0.0], "{}"), ("c", [0.0, 1.0], "{}")]);
        let mut top = TopK::new(2, -1.0, None);
        scan(&e, &[1.0, 0.0], 1.0, &mut top, |c| c);
        let keys: Vec<&str> = top.into_sorted().iter().map(|h| h.key).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn filter_and_min_score_apply() {
        let e = entries(&[
            ("x", [1.0, 0.0], r#"{"lang":"py"}"#),
            ("y", [1.0, 0.1], r#"{"lang":"rs"}"#),
            ("z", [0.0, 1.0], r#"{"lang":"py"}"#),
        ]);
        let f = Filter::new(serde_json::from_str(r#"{"lang":"py"}"#).unwrap());
        let mut top = TopK::new(10, 0.5, Some(&f));
        scan(&e, &[1.0, 0.0], 1.0, &mut top, |c| c);
        let keys: Vec<&str> = top.into_sorted().iter().map(|h| h.key).collect();
        assert_eq!(keys, ["x"]);
    }
}
