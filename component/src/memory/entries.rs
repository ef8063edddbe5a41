//! The in-memory table of a store: one row per entry. Embeddings live in fixed-size
//! blocks of rows, so growing never copies (or doubles) the whole matrix and memory
//! stays close to the raw f32 size; a delete moves the last row into the hole.

use std::collections::HashMap;

/// Rows per block: 1024 rows of 768 f32 is 3 MiB, the most a store wastes.
pub const BLOCK_ROWS: usize = 1024;

/// Everything stored for one entry except its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: Box<str>,
    /// A JSON object, compact.
    pub metadata: Box<str>,
    /// A JSON array, compact.
    pub diff_ops: Option<Box<str>>,
    pub stored_at_ms: i64,
}

#[derive(Debug, Default)]
pub struct Entries {
    dim: usize,
    blocks: Vec<Box<[f32]>>,
    inv_norms: Vec<f32>,
    records: Vec<Record>,
    index_of: HashMap<Box<str>, u32>,
}

/// What `upsert` did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Added(usize),
    Replaced(usize),
}

impl Entries {
    pub fn new(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn position(&self, key: &str) -> Option<usize> {
        self.index_of.get(key).map(|&i| i as usize)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        let start = (i % BLOCK_ROWS) * self.dim;
        &self.blocks[i / BLOCK_ROWS][start..start + self.dim]
    }

    fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let start = (i % BLOCK_ROWS) * self.dim;
        &mut self.blocks[i / BLOCK_ROWS][start..start + self.dim]
    }

    pub fn inv_norm(&self, i: usize) -> f32 {
        self.inv_norms[i]
    }

    pub fn record(&self, i: usize) -> &Record {
        &self.records[i]
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// The rows of block `b`, as one slice, and the index of its first row.
    pub fn blocks(&self) -> impl Iterator<Item = (usize, &[f32])> {
        let (len, dim) = (self.len(), self.dim);
        self.blocks.iter().enumerate().map(move |(b, block)| {
            let first = b * BLOCK_ROWS;
            let rows = len.saturating_sub(first).min(BLOCK_ROWS);
            (first, &block[..rows * dim])
        })
    }

    /// Adds or replaces the entry `record.key`. `embedding` has `dim` finite values and
    /// `inv_norm` is 1 / its length.
    pub fn upsert(&mut self, record: Record, embedding: &[f32], inv_norm: f32) -> Upserted {
        debug_assert_eq!(embedding.len(), self.dim);
        if let Some(i) = self.position(&record.key) {
            self.row_mut(i).copy_from_slice(embedding);
            self.inv_norms[i] = inv_norm;
            self.records[i] = record;
            return Upserted::Replaced(i);
        }
        let i = self.records.len();
        if i / BLOCK_ROWS == self.blocks.len() {
            self.blocks.push(vec![0.0; BLOCK_ROWS * self.dim].into_boxed_slice());
        }
        self.row_mut(i).copy_from_slice(embedding);
        self.inv_norms.push(inv_norm);
        self.index_of.insert(record.key.clone(), i as u32);
        self.records.push(record);
        Upserted::Added(i)
    }

    /// Removes `key`; returns its former row and the row that moved into it (the last
    /// row), if any.
    pub fn remove(&mut self, key: &str) -> Option<(usize, Option<usize>)> {
        let i = self.index_of.remove(key)? as usize;
        let last = self.records.len() - 1;
        let moved = if i != last {
            let (bi, bl) = (i / BLOCK_ROWS, last / BLOCK_ROWS);
            let (si, sl) = ((i % BLOCK_ROWS) * self.dim, (last % BLOCK_ROWS) * self.dim);
            if bi == bl {
                self.blocks[bi].copy_within(sl..sl + self.dim, si);
            } else {
                let (lo, hi) = self.blocks.split_at_mut(bl);
                lo[bi][si..si + self.dim].copy_from_slice(&hi[0][sl..sl + self.dim]);
            }
            self.records.swap(i, last);
            self.inv_norms.swap(i, last);
            self.index_of.insert(self.records[i].key.clone(), i as u32);
            Some(last)
        } else {
            None
        };
        self.records.pop();
        self.inv_norms.pop();
        if self.blocks.len() * BLOCK_ROWS >= self.records.len() + 2 * BLOCK_ROWS {
            self.blocks.pop(); // keep one spare block, free the rest as rows go
        }
        Some((i, moved))
    }

    /// Reorders the rows in place so that row `p` holds what row `order[p]` held
    /// (`order` is a permutation of all rows). Used to make each index list a
    /// contiguous run of rows, so searches read memory sequentially. One spare row
    /// of memory, whatever the store size.
    pub fn permute(&mut self, order: &[u32]) {
        debug_assert_eq!(order.len(), self.len());
        let dim = self.dim;
        let mut tmp = vec![0f32; dim];
        let mut done = vec![false; order.len()];
        for start in 0..order.len() {
            if done[start] || order[start] as usize == start {
                done[start] = true;
                continue;
            }
            tmp.copy_from_slice(self.row(start));
            let mut p = start;
            loop {
                done[p] = true;
                let src = order[p] as usize;
                if src == start {
                    self.row_mut(p).copy_from_slice(&tmp);
                    break;
                }
                let (bs, ss) = (src / BLOCK_ROWS, (src % BLOCK_ROWS) * dim);
                let (bp, sp) = (p / BLOCK_ROWS, (p % BLOCK_ROWS) * dim);
                if bs == bp {
                    self.blocks[bp].copy_within(ss..ss + dim, sp);
                } else {
                    let (dst, from) = if bp < bs {
                        let (lo, hi) = self.blocks.split_at_mut(bs);
                        (&mut lo[bp], &hi[0])
                    } else {
                        let (lo, hi) = self.blocks.split_at_mut(bp);
                        (&mut hi[0], &lo[bs])
                    };
                    dst[sp..sp + dim].copy_from_slice(&from[ss..ss + dim]);
                }
                p = src;
            }
        }
        let mut records: Vec<Option<Record>> =
            std::mem::take(&mut self.records).into_iter().map(Some).collect();
        self.records = order.iter().map(|&o| records[o as usize].take().expect("a permutation")).collect();
        self.inv_norms = order.iter().map(|&o| self.inv_norms[o as usize]).collect();
        for (i, r) in self.records.iter().enumerate() {
            self.index_of.insert(r.key.clone(), i as u32);
        }
    }

    /// Frees blocks beyond the last row.
    pub fn shrink(&mut self) {
        let needed = self.records.len().div_ceil(BLOCK_ROWS);
        self.blocks.truncate(needed);
        self.blocks.shrink_to_fit();
        self.records.shrink_to_fit();
        self.inv_norms.shrink_to_fit();
        self.index_of.shrink_to_fit();
    }

    pub fn clear(&mut self) {
        *self = Self::new(self.dim);
    }

    /// Bytes held for embeddings (whole blocks, as allocated).
    pub fn vector_bytes(&self) -> usize {
        self.blocks.len() * BLOCK_ROWS * self.dim * 4 + self.inv_norms.capacity() * 4
    }

    /// Bytes held for keys, metadata and diff ops, with the key map (estimated from
    /// capacities: 2 key copies, record and map-slot overhead).
    pub fn record_bytes(&self) -> usize {
        let strings: usize = self
            .records
            .iter()
            .map(|r| 2 * r.key.len() + r.metadata.len() + r.diff_ops.as_ref().map_or(0, |d| d.len()))
            .sum();
        strings
            + self.records.capacity() * std::mem::size_of::<Record>()
            + self.index_of.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str) -> Record {
        Record { key: key.into(), metadata: "{}".into(), diff_ops: None, stored_at_ms: 0 }
    }

    #[test]
    fn upsert_remove_keep_rows_and_keys_together() {
        let mut e = Entries::new(2);
        let n = BLOCK_ROWS + 5;
        for i in 0..n {
            e.upsert(rec(&format!("k{i}")), &[i as f32, 1.0], 1.0);
        }
        assert_eq!(e.upsert(rec("k3"), &[-3.0, 1.0], 1.0), Upserted::Replaced(3));
        assert_eq!(e.remove("k0"), Some((0, Some(n - 1))));
        assert_eq!(e.len(), n - 1);
        let i = e.position(&format!("k{}", n - 1)).unwrap();
        assert_eq!(i, 0);
        assert_eq!(e.row(0), &[(n - 1) as f32, 1.0]);
        assert_eq!(e.row(e.position("k3").unwrap()), &[-3.0, 1.0]);
        assert!(e.remove("k0").is_none());
        let order: Vec<u32> = (0..e.len() as u32).rev().collect();
        let before: Vec<(String, Vec<f32>)> =
            (0..e.len()).map(|i| (e.record(i).key.to_string(), e.row(i).to_vec())).collect();
        e.permute(&order);
        for (p, &o) in order.iter().enumerate() {
            assert_eq!(e.record(p).key.as_ref(), before[o as usize].0);
            assert_eq!(e.row(p), &before[o as usize].1[..]);
            assert_eq!(e.position(&before[o as usize].0), Some(p));
        }
        for i in 1..n {
            e.remove(&format!("k{i}"));
        }
        assert!(e.is_empty());
        assert!(e.blocks.len() <= 2);
        e.shrink();
        assert_eq!(e.blocks.len(), 0);
    }
}
