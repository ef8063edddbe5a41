//! ML-DSA-65 key pairs, the ids derived from public keys, and upstream's key files.

use crate::error::{Error, Result};
use fips204::ml_dsa_65::{self, PrivateKey, PublicKey, PK_LEN, SIG_LEN, SK_LEN};
use fips204::traits::{KeyGen, SerDes, Signer, Verifier};
use sha2::{Digest, Sha256};

/// Upstream's id prefix, the same for machine, agent and user ids.
const ID_PREFIX: &[u8] = b"AUTONOMI_PEER_ID_V2:";
/// The magic of upstream's v2 key file (one with an expiry).
const KEY_FILE_V2: &[u8] = b"X0K2";

pub const PUBLIC_KEY_LEN: usize = PK_LEN;
pub const SECRET_KEY_LEN: usize = SK_LEN;
pub const SIGNATURE_LEN: usize = SIG_LEN;

/// An id: the SHA-256 of the prefix and a public key.
pub type Id = [u8; 32];

/// The id of `public_key` (upstream's derivation).
pub fn id_of(public_key: &[u8]) -> Id {
    let mut hasher = Sha256::new();
    hasher.update(ID_PREFIX);
    hasher.update(public_key);
    hasher.finalize().into()
}

/// A checked key pair: the secret key belongs to the public key.
#[derive(Clone)]
pub struct KeyPair {
    secret: PrivateKey,
    public_bytes: Vec<u8>,
    id: Id,
}

impl KeyPair {
    /// The key pair `seed` determines (FIPS 204 ML-DSA.KeyGen_internal).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let (public, secret) = ml_dsa_65::KG::keygen_from_seed(seed);
        Self::assemble(public, secret)
    }

    fn assemble(public: PublicKey, secret: PrivateKey) -> Self {
        let public_bytes = public.into_bytes().to_vec();
        let id = id_of(&public_bytes);
        Self { secret, public_bytes, id }
    }

    /// A key pair from its bytes; the secret key must belong to the public key.
    pub fn from_bytes(public_key: &[u8], secret_key: &[u8]) -> Result<Self> {
        let public = public_key_from(public_key)?;
        let secret_array: [u8; SK_LEN] = secret_key.try_into().map_err(|_| {
            Error::invalid(
                "secret_key",
                format!("an ML-DSA-65 secret key is {SK_LEN} bytes, got {}", secret_key.len()),
            )
        })?;
        let secret = PrivateKey::try_from_bytes(secret_array)
            .map_err(|e| Error::invalid("secret_key", format!("is not an ML-DSA-65 secret key ({e})")))?;
        if secret.get_public_key().into_bytes() != public.clone().into_bytes() {
            return Err(Error::invalid("secret_key", "does not belong to the public key"));
        }
        let keys = Self::assemble(public, secret);
        // Parts of a secret key (t0) do not show in its public key: a test signature
        // catches a damaged one before it signs anything real.
        let probe = b"agentcell key check";
        if !verify(keys.public_key(), probe, &keys.sign(probe, &[0; 32])) {
            return Err(Error::invalid("secret_key", "is damaged: its signatures do not verify"));
        }
        Ok(keys)
    }

    pub fn public_key(&self) -> &[u8] {
        &self.public_bytes
    }
    pub fn secret_key(&self) -> Vec<u8> {
        self.secret.clone().into_bytes().to_vec()
    }
    pub fn id(&self) -> Id {
        self.id
    }

    /// Signs `message` (empty FIPS 204 context), hedged with `randomness`.
    pub fn sign(&self, message: &[u8], randomness: &[u8; 32]) -> Vec<u8> {
        // try_sign fails only on a context longer than 255 bytes; ours is empty.
        self.secret.try_sign_with_seed(randomness, message, &[]).expect("empty context").to_vec()
    }
}

fn public_key_from(bytes: &[u8]) -> Result<PublicKey> {
    let array: [u8; PK_LEN] = bytes.try_into().map_err(|_| {
        Error::invalid(
            "public_key",
            format!("an ML-DSA-65 public key is {PK_LEN} bytes, got {}", bytes.len()),
        )
    })?;
    PublicKey::try_from_bytes(array)
        .map_err(|e| Error::invalid("public_key", format!("is not an ML-DSA-65 public key ({e})")))
}

/// True when `signature` is `public_key`'s signature of `message`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = public_key_from(public_key) else { return false };
    let Ok(signature): std::result::Result<[u8; SIG_LEN], _> = signature.try_into() else { return false };
    public.verify(message, &signature, &[])
}

/// A key file's contents.
pub struct KeyFile {
    pub keys: KeyPair,
    pub not_after: Option<u64>,
}

/// Upstream's key file: v1 is bincode 1 of `{public_key: Vec<u8>, secret_key: Vec<u8>}`
/// (u64 little-endian lengths); v2 is `"X0K2"` then the same and `not_after` (u64 LE).
pub fn write_key_file(keys: &KeyPair, not_after: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(6016);
    if not_after.is_some() {
        out.extend_from_slice(KEY_FILE_V2);
    }
    for part in [keys.public_key().to_vec(), keys.secret_key()] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(&part);
    }
    if let Some(t) = not_after {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

/// Reads a key file written by upstream or by `write_key_file`. Every defect is an
/// error that names it; a corrupt file is never replaced.
pub fn read_key_file(bytes: &[u8]) -> Result<KeyFile> {
    let (v2, mut rest) = match bytes.strip_prefix(KEY_FILE_V2) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let public = take_field(&mut rest, "public key", PK_LEN)?;
    let secret = take_field(&mut rest, "secret key", SK_LEN)?;
    let not_after = if v2 {
        let (t, tail) =
            rest.split_first_chunk::<8>().ok_or_else(|| corrupt("it ends before its expiry time"))?;
        rest = tail;
        Some(u64::from_le_bytes(*t))
    } else {
        None
    };
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes follow the keys", rest.len())));
    }
    let keys = KeyPair::from_bytes(public, secret).map_err(|e| corrupt(e.message))?;
    Ok(KeyFile { keys, not_after })
}

fn take_field<'a>(rest: &mut &'a [u8], what: &str, want: usize) -> Result<&'a [u8]> {
    let (len, tail) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt(format!("it ends before the length of its {what}")))?;
    let len = u64::from_le_bytes(*len);
    if len != want as u64 {
        return Err(corrupt(format!("its {what} is {len} bytes, ML-DSA-65 needs {want}")));
    }
    if tail.len() < want {
        return Err(corrupt(format!("it ends inside its {what}")));
    }
    let (field, tail) = tail.split_at(want);
    *rest = tail;
    Ok(field)
}

fn corrupt(why: impl std::fmt::Display) -> Error {
    Error::invalid("key_file", format!("is not a valid x0x key file: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_sha256_of_the_prefix_and_the_public_key() {
        let keys = KeyPair::from_seed(&[7; 32]);
        let mut h = Sha256::new();
        h.update(b"AUTONOMI_PEER_ID_V2:");
        h.update(keys.public_key());
        let want: [u8; 32] = h.finalize().into();
        assert_eq!(keys.id(), want);
        assert_eq!(keys.public_key().len(), 1952);
        assert_eq!(keys.secret_key().len(), 4032);
    }

    #[test]
    fn the_same_seed_gives_the_same_keys() {
        assert_eq!(KeyPair::from_seed(&[1; 32]).id(), KeyPair::from_seed(&[1; 32]).id());
        assert_ne!(KeyPair::from_seed(&[1; 32]).id(), KeyPair::from_seed(&[2; 32]).id());
    }

    #[test]
    fn a_v1_key_file_is_6000_bytes_in_bincode_layout_and_reads_back() {
        let keys = KeyPair::from_seed(&[3; 32]);
        let file = write_key_file(&keys, None);
        assert_eq!(file.len(), 6000);
        assert_eq!(&file[..8], &1952u64.to_le_bytes());
        assert_eq!(&file[8..1960], keys.public_key());
        assert_eq!(&file[1960..1968], &4032u64.to_le_bytes());
        let back = read_key_file(&file).unwrap();
        assert_eq!(back.keys.id(), keys.id());
        assert_eq!(back.not_after, None);
    }

    #[test]
    fn a_v2_key_file_keeps_its_expiry() {
        let keys = KeyPair::from_seed(&[4; 32]);
        let file = write_key_file(&keys, Some(1_900_000_000));
        assert!(file.starts_with(b"X0K2"));
        assert_eq!(read_key_file(&file).unwrap().not_after, Some(1_900_000_000));
    }

    #[test]
    fn corrupt_key_files_are_errors_that_name_the_defect() {
        let keys = KeyPair::from_seed(&[5; 32]);
        let file = write_key_file(&keys, None);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "ends before the length of its public key"),
            (file[..3000].to_vec(), "ends inside its secret key"),
            ([file.clone(), vec![0]].concat(), "1 bytes follow the keys"),
            ([&2592u64.to_le_bytes()[..], &file[8..]].concat(), "public key is 2592 bytes"),
        ];
        for (bytes, want) in cases {
            let err = read_key_file(&bytes).err().expect("corrupt file accepted");
            assert!(err.message.contains(want), "{} lacks {want:?}", err.message);
        }
        let mut other = file.clone();
        let stranger = write_key_file(&KeyPair::from_seed(&[6; 32]), None);
        other[1968..].copy_from_slice(&stranger[1968..]);
        let err = read_key_file(&other).err().unwrap();
        assert!(err.message.contains("does not belong"), "{}", err.message);
    }

    #[test]
    fn signatures_verify_and_an_altered_message_does_not() {
        let keys = KeyPair::from_seed(&[8; 32]);
        let sig = keys.sign(b"hello", &[9; 32]);
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert!(verify(keys.public_key(), b"hello", &sig));
        assert!(!verify(keys.public_key(), b"hellp", &sig));
        assert!(!verify(KeyPair::from_seed(&[1; 32]).public_key(), b"hello", &sig));
        assert!(!verify(keys.public_key(), b"hello", &sig[1..]));
    }
}
