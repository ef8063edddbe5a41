//! Group commit: writes that arrive while a commit is under way wait for it, then go
//! together into the next one, so concurrent writers share one transaction and one
//! fsync instead of paying one each. Every write still gets its own result, and a
//! writer returns only once the commit holding its write is durable (or failed).
//!
//! There is no committer thread: the first writer to find no commit under way leads
//! one, taking every write queued by then; the others sleep until their result is in.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Queues writes of type `W` whose results are `R`.
pub struct GroupCommit<W, R> {
    state: Mutex<State<W, R>>,
    settled: Condvar,
}

struct State<W, R> {
    queue: Vec<(u64, W)>,
    results: HashMap<u64, R>,
    next_id: u64,
    leading: bool,
}

impl<W, R> Default for GroupCommit<W, R> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queue: Vec::new(),
                results: HashMap::new(),
                next_id: 0,
                leading: false,
            }),
            settled: Condvar::new(),
        }
    }
}

impl<W, R> GroupCommit<W, R> {
    /// Queues `write` and returns its result once the commit holding it is over.
    /// `commit` is given a batch in arrival order and returns one result per write, in
    /// the same order; batches are committed one at a time, in order. `failed` is
    /// every write's result should `commit` panic (the panic then goes on in the
    /// thread that led the commit).
    pub fn submit(&self, write: W, commit: impl FnOnce(Vec<W>) -> Vec<R>, failed: impl Fn() -> R) -> R {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.queue.push((id, write));
        // A writer leads at most one commit: the one that settles its own write.
        let mut commit = Some(commit);
        loop {
            if let Some(result) = state.results.remove(&id) {
                return result;
            }
            if !state.leading {
                state.leading = true;
                let (ids, batch): (Vec<u64>, Vec<W>) = std::mem::take(&mut state.queue).into_iter().unzip();
                drop(state);
                let mut lead = Lead { group: self, ids, failed: &failed };
                let results = commit.take().expect("a writer leads once")(batch);
                assert_eq!(results.len(), lead.ids.len(), "one result per write");
                lead.settle(results.into_iter());
                drop(lead);
                state = self.lock();
                continue;
            }
            state = self.settled.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W, R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A commit under way: on drop (also when `commit` panicked) its writers are given
/// their results, the lead is given up and the waiting writers are woken.
struct Lead<'a, W, R, F: Fn() -> R> {
    group: &'a GroupCommit<W, R>,
    ids: Vec<u64>,
    failed: &'a F,
}

impl<W, R, F: Fn() -> R> Lead<'_, W, R, F> {
    fn settle(&mut self, results: impl Iterator<Item = R>) {
        let mut state = self.group.lock();
        for (id, result) in std::mem::take(&mut self.ids).into_iter().zip(results) {
            state.results.insert(id, result);
        }
    }
}

impl<W, R, F: Fn() -> R> Drop for Lead<'_, W, R, F> {
    fn drop(&mut self) {
        let failed = self.failed;
        let unsettled = self.ids.len();
        self.settle(std::iter::repeat_with(failed).take(unsettled));
        self.group.lock().leading = false;
        self.group.settled.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_writer_alone_is_committed_alone() {
        let group = GroupCommit::<u32, u32>::default();
        assert_eq!(group.submit(7, |batch| batch.iter().map(|w| w * 2).collect(), || 0), 14);
        assert_eq!(group.submit(8, |batch| batch.iter().map(|w| w * 2).collect(), || 0), 16);
    }

    #[test]
    fn concurrent_writers_share_commits_and_each_gets_its_own_result() {
        let group = Arc::new(GroupCommit::<usize, usize>::default());
        let commits = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (group, commits, start) = (group.clone(), commits.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..200 {
                        let write = t * 1000 + i;
                        let got = group.submit(
                            write,
                            |batch| {
                                commits.fetch_add(1, Ordering::Relaxed);
                                // A slow commit (an fsync), so writers pile up behind it.
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                batch.iter().map(|w| w + 1).collect()
                            },
                            || usize::MAX,
                        );
                        assert_eq!(got, write + 1);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let commits = commits.load(Ordering::Relaxed);
        assert!(commits < 8 * 200 / 2, "{commits} commits for 1600 writes: writes were not grouped");
    }

    #[test]
    fn a_commit_that_panics_fails_its_writes_and_the_next_one_still_runs() {
        let group = Arc::new(GroupCommit::<u32, Result<u32, String>>::default());
        let g = group.clone();
        let panicked = std::thread::spawn(move || {
            let _ = g.submit(1, |_| panic!("disk on fire"), || Err("commit failed".into()));
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(group.submit(2, |b| b.into_iter().map(Ok).collect(), || Err("x".into())), Ok(2));
    }
}
