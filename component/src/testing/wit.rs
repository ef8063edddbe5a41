//! The `testing` interface.

use crate::wit::exports::agentcell::core::testing;
use crate::wit::Component;

impl testing::Guest for Component {
    fn trap(message: String) {
        panic!("deliberate trap: {message}");
    }
}
