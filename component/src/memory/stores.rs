//! The open stores of one component instance, by handle.

use super::{MemoryStore, Options};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::Storage;
use std::collections::HashMap;

/// The open stores of one component instance, by handle (handles start at 1).
#[derive(Default)]
pub struct Stores {
    next: u32,
    by_handle: HashMap<u32, MemoryStore>,
}

impl Stores {
    /// Opens `name`, or returns the handle of the open store of that name.
    pub fn open(&mut self, storage: &dyn Storage, name: &str, options: Options, writer: u64) -> Result<u32> {
        if let Some((&h, store)) = self.by_handle.iter_mut().find(|(_, s)| s.name() == name) {
            if store.dimension() != options.dimension as usize {
                return Err(Error::invalid(
                    "dimension",
                    format_args!(
                        "store {name:?} is open with dimension {}, not {}",
                        store.dimension(),
                        options.dimension
                    ),
                ));
            }
            store.set_index(options.index);
            return Ok(h);
        }
        let store = MemoryStore::open(storage, name, options, writer)?;
        self.next += 1;
        self.by_handle.insert(self.next, store);
        Ok(self.next)
    }

    pub fn get(&mut self, handle: u32) -> Result<&mut MemoryStore> {
        self.by_handle.get_mut(&handle).ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("no open memory store has handle {handle}"))
        })
    }

    pub fn close(&mut self, handle: u32) -> Result<()> {
        self.by_handle.remove(&handle).map(|_| ()).ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("no open memory store has handle {handle}"))
        })
    }
}
