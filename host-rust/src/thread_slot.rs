//! A small number fixed per thread, so each worker thread of a server tends to use its
//! own component instance (`serve`) and its own SQLite read connection (`storage`):
//! shared round robin made workers park on each other's locks (measured).

use std::sync::atomic::{AtomicUsize, Ordering};

/// This thread's slot: the order in which threads first asked, from 0.
pub fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_slot_and_threads_differ() {
        let mine = thread_slot();
        assert_eq!(thread_slot(), mine);
        let other = std::thread::spawn(thread_slot).join().unwrap();
        assert_ne!(other, mine);
    }
}
