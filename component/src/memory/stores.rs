//! The open stores of one component instance. Each opener holds a [`Hold`] of its own;
//! openers of one name share the in-memory copy, which is forgotten with the last hold.

use super::{MemoryStore, Options};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::Storage;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

/// The in-memory copy of one store; `None` once destroyed.
type Copy = Rc<RefCell<Option<MemoryStore>>>;

/// The open copies of one component instance, by store name.
#[derive(Default)]
pub struct Stores {
    by_name: HashMap<String, Weak<RefCell<Option<MemoryStore>>>>,
}

/// One opener's hold on a store: usable until closed (or dropped), or until any opener
/// destroys the store.
pub struct Hold {
    name: String,
    copy: Option<Copy>,
}

impl Stores {
    /// Opens `name`: a new hold on its open copy, or on a copy loaded now.
    pub fn open(&mut self, storage: &dyn Storage, name: &str, options: Options, writer: u64) -> Result<Hold> {
        if let Some(copy) = self.by_name.get(name).and_then(Weak::upgrade) {
            if let Some(store) = copy.borrow_mut().as_mut() {
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
                return Ok(Hold { name: name.to_owned(), copy: Some(copy.clone()) });
            }
        }
        let copy = Rc::new(RefCell::new(Some(MemoryStore::open(storage, name, options, writer)?)));
        self.by_name.insert(name.to_owned(), Rc::downgrade(&copy));
        Ok(Hold { name: name.to_owned(), copy: Some(copy) })
    }

    /// Ends `hold`; the copy is forgotten when it was the last one.
    pub fn release(&mut self, hold: &mut Hold) {
        if hold.copy.take().is_some() && self.by_name.get(&hold.name).is_some_and(|w| w.strong_count() == 0) {
            self.by_name.remove(&hold.name);
        }
    }
}

impl Hold {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the store; `not-found` on `store` once this hold is closed or the
    /// store destroyed.
    pub fn with<T>(&self, f: impl FnOnce(&mut MemoryStore) -> Result<T>) -> Result<T> {
        let copy = self.copy.as_ref().ok_or_else(|| self.gone("closed"))?;
        let mut slot = copy.borrow_mut();
        let store = slot.as_mut().ok_or_else(|| self.gone("destroyed"))?;
        f(store)
    }

    /// Deletes the store's persisted data; every hold on its copy sees it destroyed.
    pub fn destroy(&self, storage: &dyn Storage) -> Result<()> {
        self.with(|s| s.destroy(storage))?;
        if let Some(copy) = &self.copy {
            copy.borrow_mut().take();
        }
        Ok(())
    }

    fn gone(&self, how: &str) -> Error {
        Error::new(ErrorCode::NotFound, format!("the memory store {:?} is {how}", self.name))
            .with_field("store")
    }
}
