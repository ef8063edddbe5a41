//! The signed envelope every mesh message travels in (format in `wit/mesh.wit`).

use super::identity::{self, Id, KeyPair};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

const VERSION: u8 = 3;
const SIGNING_DOMAIN: &[u8] = b"agentcell-mesh-v3";
/// How far in the future a timestamp may be before the envelope is refused.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Topics are at most this many bytes (upstream's u16 length field).
pub const MAX_TOPIC_LEN: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message = 0,
    TaskOp = 1,
    Presence = 2,
    Batch = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Kind::Message),
            1 => Some(Kind::TaskOp),
            2 => Some(Kind::Presence),
            3 => Some(Kind::Batch),
            _ => None,
        }
    }
}

/// A parsed, verified envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: [u8; 32],
    pub kind: Kind,
    pub topic: String,
    pub sender: Id,
    pub timestamp_ms: u64,
    pub payload: Vec<u8>,
}

/// Why an envelope was refused (mirrors WIT `mesh.rejection-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Malformed,
    WrongSender,
    BadSignature,
    WrongTopic,
    FromTheFuture,
    BadOperation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub message: String,
}

fn reject(reason: Reason, message: impl Into<String>) -> Rejection {
    Rejection { reason, message: message.into() }
}

pub fn check_topic(topic: &str) -> Result<()> {
    if topic.is_empty() {
        return Err(Error::invalid("topic", "must not be empty"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(Error::invalid(
            "topic",
            format!("is {} bytes, the limit is {MAX_TOPIC_LEN}", topic.len()),
        ));
    }
    Ok(())
}

fn signed_bytes(
    kind: Kind,
    sender: &Id,
    topic: &str,
    timestamp_ms: u64,
    nonce: &[u8; 16],
    payload: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + 70 + topic.len() + payload.len());
    m.extend_from_slice(SIGNING_DOMAIN);
    m.push(kind as u8);
    m.extend_from_slice(sender);
    m.extend_from_slice(&(topic.len() as u32).to_be_bytes());
    m.extend_from_slice(topic.as_bytes());
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(nonce);
    m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    m.extend_from_slice(payload);
    m
}

fn message_id(sender: &Id, nonce: &[u8; 16]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(sender);
    h.update(nonce);
    h.finalize().into()
}

/// Randomness for one envelope: the nonce and the signature's hedge.
pub struct Fresh {
    pub nonce: [u8; 16],
    pub hedge: [u8; 32],
}

impl Fresh {
    pub fn random() -> Self {
        let r = super::random_32();
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&r[..16]);
        Self { nonce, hedge: super::random_32() }
    }
}

/// Signs and frames an envelope; returns it and its id.
pub fn seal(
    keys: &KeyPair,
    kind: Kind,
    topic: &str,
    payload: &[u8],
    timestamp_ms: u64,
    fresh: &Fresh,
) -> Result<(Vec<u8>, [u8; 32])> {
    check_topic(topic)?;
    if payload.len() > u32::MAX as usize {
        return Err(Error::invalid("payload", "is larger than 4 GiB"));
    }
    let sender = keys.id();
    let sig =
        keys.sign(&signed_bytes(kind, &sender, topic, timestamp_ms, &fresh.nonce, payload), &fresh.hedge);
    let pk = keys.public_key();
    let mut out = Vec::with_capacity(2 + 32 + 6 + pk.len() + sig.len() + topic.len() + 24 + payload.len());
    out.push(VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&sender);
    for field in [pk, &sig, topic.as_bytes()] {
        out.extend_from_slice(&(field.len() as u16).to_be_bytes());
        out.extend_from_slice(field);
    }
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&fresh.nonce);
    out.extend_from_slice(payload);
    Ok((out, message_id(&sender, &fresh.nonce)))
}

/// The payload of a batch envelope: each item's nonce, length and payload.
pub fn batch_payload(items: &[Vec<u8>], nonces: &[[u8; 16]]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 20).sum());
    for (item, nonce) in items.iter().zip(nonces) {
        if item.len() > u32::MAX as usize {
            return Err(Error::invalid("payloads", "an item is larger than 4 GiB"));
        }
        out.extend_from_slice(nonce);
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
        out.extend_from_slice(item);
    }
    Ok(out)
}

/// The item ids of a batch sealed by `sender` with `nonces`.
pub fn item_ids(sender: &Id, nonces: &[[u8; 16]]) -> Vec<[u8; 32]> {
    nonces.iter().map(|n| message_id(sender, n)).collect()
}

/// What an opened envelope carries: itself, or a batch's messages one by one.
pub fn unbatch(opened: Opened) -> std::result::Result<Vec<Opened>, Rejection> {
    if opened.kind != Kind::Batch {
        return Ok(vec![opened]);
    }
    let mut r = Reader(&opened.payload);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let nonce: [u8; 16] = r.take(16, "batch item nonce")?.try_into().expect("16 bytes");
        let len = r.take(4, "batch item length")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let payload = r.take(len, "batch item")?.to_vec();
        out.push(Opened {
            id: message_id(&opened.sender, &nonce),
            kind: Kind::Message,
            topic: opened.topic.clone(),
            sender: opened.sender,
            timestamp_ms: opened.timestamp_ms,
            payload,
        });
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> std::result::Result<&'a [u8], Rejection> {
        if self.0.len() < n {
            return Err(reject(Reason::Malformed, format!("the envelope ends inside its {what}")));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn framed(&mut self, what: &str) -> std::result::Result<&'a [u8], Rejection> {
        let len = self.take(2, what)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        self.take(len, what)
    }
}

/// Parses and verifies an envelope read from the bus under `topic`.
pub fn open(bytes: &[u8], topic: &str, now_ms: u64) -> std::result::Result<Opened, Rejection> {
    let mut r = Reader(bytes);
    let version = r.take(1, "version")?[0];
    if version != VERSION {
        return Err(reject(Reason::Malformed, format!("unknown envelope version {version}")));
    }
    let kind_byte = r.take(1, "kind")?[0];
    let kind = Kind::from_byte(kind_byte)
        .ok_or_else(|| reject(Reason::Malformed, format!("unknown envelope kind {kind_byte}")))?;
    let sender: Id = r.take(32, "sender id")?.try_into().expect("32 bytes");
    let pk = r.framed("public key")?;
    let sig = r.framed("signature")?;
    let topic_bytes = r.framed("topic")?;
    let timestamp_ms = u64::from_be_bytes(r.take(8, "timestamp")?.try_into().expect("8 bytes"));
    let nonce: [u8; 16] = r.take(16, "nonce")?.try_into().expect("16 bytes");
    let payload = r.0;
    let envelope_topic =
        std::str::from_utf8(topic_bytes).map_err(|_| reject(Reason::Malformed, "the topic is not UTF-8"))?;
    if identity::id_of(pk) != sender {
        return Err(reject(Reason::WrongSender, "the sender id is not the id of the enclosed public key"));
    }
    let signed = signed_bytes(kind, &sender, envelope_topic, timestamp_ms, &nonce, payload);
    if !identity::verify(pk, &signed, sig) {
        return Err(reject(Reason::BadSignature, "the signature does not verify: forged or altered"));
    }
    if envelope_topic != topic {
        return Err(reject(
            Reason::WrongTopic,
            format!("signed for topic {envelope_topic:?}, read from {topic:?}"),
        ));
    }
    if timestamp_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(reject(
            Reason::FromTheFuture,
            format!("signed at {timestamp_ms} ms, now is {now_ms} ms"),
        ));
    }
    Ok(Opened {
        id: message_id(&sender, &nonce),
        kind,
        topic: envelope_topic.to_string(),
        sender,
        timestamp_ms,
        payload: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyPair {
        KeyPair::from_seed(&[11; 32])
    }
    fn fresh(n: u8) -> Fresh {
        Fresh { nonce: [n; 16], hedge: [n; 32] }
    }

    #[test]
    fn an_envelope_opens_to_what_was_sealed() {
        let k = keys();
        let (bytes, id) = seal(&k, Kind::Message, "news", b"hi", 1000, &fresh(1)).unwrap();
        let o = open(&bytes, "news", 2000).unwrap();
        assert_eq!(
            (o.id, o.kind, o.topic.as_str(), o.sender, o.timestamp_ms),
            (id, Kind::Message, "news", k.id(), 1000)
        );
        assert_eq!(o.payload, b"hi");
        let (_, other) = seal(&k, Kind::Message, "news", b"hi", 1000, &fresh(2)).unwrap();
        assert_ne!(id, other, "two publishes of the same payload have different ids");
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let (bytes, _) = seal(&keys(), Kind::Message, "t", b"payload", 5, &fresh(3)).unwrap();
        // Every header byte, the payload, and a sample of the key and signature (ML-DSA
        // is slow in debug builds).
        let n = bytes.len();
        for i in (0..n).filter(|&i| i < 40 || i + 40 > n || i % 61 == 0) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(open(&bad, "t", 10).is_err(), "byte {i} altered and accepted");
        }
    }

    #[test]
    fn rejections_name_their_reason() {
        let k = keys();
        let (bytes, _) = seal(&k, Kind::Message, "t", b"p", 5, &fresh(4)).unwrap();
        assert_eq!(open(&bytes[..20], "t", 10).unwrap_err().reason, Reason::Malformed);
        assert_eq!(open(&[], "t", 10).unwrap_err().reason, Reason::Malformed);
        assert_eq!(open(&bytes, "other", 10).unwrap_err().reason, Reason::WrongTopic);
        assert_eq!(open(&bytes, "t", 0).map(|_| ()), Ok(()));
        let (late, _) = seal(&k, Kind::Message, "t", b"p", 10 * 60 * 1000, &fresh(5)).unwrap();
        assert_eq!(open(&late, "t", 0).unwrap_err().reason, Reason::FromTheFuture);
        let mut stolen = bytes.clone();
        stolen[2..34].copy_from_slice(&KeyPair::from_seed(&[1; 32]).id());
        assert_eq!(open(&stolen, "t", 10).unwrap_err().reason, Reason::WrongSender);
        let mut moved = bytes.clone();
        let last = moved.len() - 1;
        moved[last] = b'q';
        assert_eq!(open(&moved, "t", 10).unwrap_err().reason, Reason::BadSignature);
    }

    #[test]
    fn topic_and_payload_bytes_cannot_trade_places() {
        let k = keys();
        let (ab_c, _) = seal(&k, Kind::Message, "ab", b"c", 5, &fresh(6)).unwrap();
        // The same signature re-framed as topic "a" + payload "bc" (upstream's V2 would
        // accept it: it signs topic and payload unframed).
        let sig_at = 34 + 2 + 1952 + 2;
        let mut forged = ab_c[..sig_at + 3309].to_vec();
        forged.extend_from_slice(&1u16.to_be_bytes());
        forged.push(b'a');
        forged.extend_from_slice(&5u64.to_be_bytes());
        forged.extend_from_slice(&[6; 16]);
        forged.extend_from_slice(b"bc");
        assert_eq!(open(&forged, "a", 10).unwrap_err().reason, Reason::BadSignature);
    }

    #[test]
    fn a_batch_opens_into_its_messages_each_with_its_own_id() {
        let k = keys();
        let nonces = [[1u8; 16], [2u8; 16]];
        let payload = batch_payload(&[b"one".to_vec(), b"".to_vec()], &nonces).unwrap();
        let (bytes, _) = seal(&k, Kind::Batch, "t", &payload, 5, &fresh(9)).unwrap();
        let items = unbatch(open(&bytes, "t", 10).unwrap()).unwrap();
        assert_eq!(items.iter().map(|o| o.payload.as_slice()).collect::<Vec<_>>(), [&b"one"[..], b""]);
        assert_eq!(items.iter().map(|o| o.id).collect::<Vec<_>>(), item_ids(&k.id(), &nonces));
        assert!(items.iter().all(|o| o.kind == Kind::Message));
        let (cut, _) = seal(&k, Kind::Batch, "t", &payload[..payload.len() - 21], 5, &fresh(9)).unwrap();
        assert_eq!(unbatch(open(&cut, "t", 10).unwrap()).unwrap_err().reason, Reason::Malformed);
    }

    #[test]
    fn empty_and_huge_topics_are_invalid_arguments() {
        assert!(seal(&keys(), Kind::Message, "", b"", 0, &fresh(7)).is_err());
        let huge = "x".repeat(70_000);
        assert!(seal(&keys(), Kind::Message, &huge, b"", 0, &fresh(7)).is_err());
    }
}
