//! x0x's agent mesh: identities, signed envelopes, task lists replicated as CRDTs.
//!
//! `identity` (ML-DSA-65 keys, ids, key files), `envelope` (the signed wire format),
//! `tasklist` (the CRDT, pure), `replica` (the stored replica and the operations that
//! publish). The bus is the host's `transport` import, reached through
//! [`crate::ports::Transport`].

pub mod envelope;
pub mod identity;
pub mod replica;
pub mod tasklist;

#[cfg(test)]
mod tasklist_tests;
#[cfg(target_arch = "wasm32")]
mod wit;

/// 32 random bytes (WASI random in the component, the OS natively).
pub fn random_32() -> [u8; 32] {
    let mut seed = [0u8; 32];
    // getrandom fails only where no entropy source exists; WASI always has one.
    getrandom::fill(&mut seed).expect("no source of randomness");
    seed
}
