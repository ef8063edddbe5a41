//! The `mesh` interface over [`crate::mesh`].

use super::envelope::{self, Fresh, Kind, Reason};
use super::identity::{self, KeyPair};
use super::replica::{self, Change};
use super::{random_32, tasklist::TaskList};
use crate::blob;
use crate::error::Error;
use crate::wit::exports::agentcell::core::mesh as m;
use crate::wit::{now_ms, wit_types, Component, HostStorage, HostTransport};

type WitResult<T> = Result<T, wit_types::Error>;

fn keys_from(k: &m::KeyPair) -> crate::error::Result<KeyPair> {
    KeyPair::from_bytes(
        &blob::decode("public_key", &k.public_key)?,
        &blob::decode("secret_key", &k.secret_key)?,
    )
}

fn key_pair(k: &KeyPair) -> m::KeyPair {
    m::KeyPair {
        public_key: blob::encode(k.public_key()),
        secret_key: blob::encode(&k.secret_key()),
        id: blob::encode(&k.id()),
    }
}

fn kind_from(k: m::EnvelopeKind) -> Kind {
    match k {
        m::EnvelopeKind::Message => Kind::Message,
        m::EnvelopeKind::TaskOp => Kind::TaskOp,
        m::EnvelopeKind::Presence => Kind::Presence,
        m::EnvelopeKind::Batch => Kind::Batch,
    }
}

fn kind_to(k: Kind) -> m::EnvelopeKind {
    match k {
        Kind::Message => m::EnvelopeKind::Message,
        Kind::TaskOp => m::EnvelopeKind::TaskOp,
        Kind::Presence => m::EnvelopeKind::Presence,
        Kind::Batch => m::EnvelopeKind::Batch,
    }
}

fn rejection(r: envelope::Rejection) -> m::Rejection {
    let reason = match r.reason {
        Reason::Malformed => m::RejectionReason::Malformed,
        Reason::WrongSender => m::RejectionReason::WrongSender,
        Reason::BadSignature => m::RejectionReason::BadSignature,
        Reason::WrongTopic => m::RejectionReason::WrongTopic,
        Reason::FromTheFuture => m::RejectionReason::FromTheFuture,
        Reason::BadOperation => m::RejectionReason::BadOperation,
    };
    m::Rejection { reason, message: r.message }
}

fn list_ref(list: &TaskList) -> m::TaskListRef {
    m::TaskListRef { id: list.id.clone(), topic: list.topic.clone(), name: list.name.value.clone() }
}

fn seal(
    signer: &m::KeyPair,
    kind: Kind,
    topic: &str,
    payload: &str,
) -> crate::error::Result<(Vec<u8>, [u8; 32])> {
    let keys = keys_from(signer)?;
    let payload = blob::decode("payload", payload)?;
    envelope::seal(&keys, kind, topic, &payload, now_ms() as u64, &Fresh::random())
}

impl m::Guest for Component {
    fn generate_key(seed: Option<String>) -> WitResult<m::KeyPair> {
        let seed: [u8; 32] = match seed {
            Some(hex) => blob::decode("seed", &hex)?
                .try_into()
                .map_err(|_| Error::invalid("seed", "must be 32 bytes"))?,
            None => random_32(),
        };
        Ok(key_pair(&KeyPair::from_seed(&seed)))
    }
    fn key_id(public_key: String) -> WitResult<String> {
        let pk = blob::decode("public_key", &public_key)?;
        if pk.len() != identity::PUBLIC_KEY_LEN {
            return Err(Error::invalid(
                "public_key",
                format!("an ML-DSA-65 public key is {} bytes, got {}", identity::PUBLIC_KEY_LEN, pk.len()),
            )
            .into());
        }
        Ok(blob::encode(&identity::id_of(&pk)))
    }
    fn read_key_file(file: String) -> WitResult<m::KeyFile> {
        let f = identity::read_key_file(&blob::decode("key_file", &file)?)?;
        Ok(m::KeyFile { keys: key_pair(&f.keys), not_after: f.not_after })
    }
    fn write_key_file(keys: m::KeyPair, not_after: Option<u64>) -> WitResult<String> {
        Ok(blob::encode(&identity::write_key_file(&keys_from(&keys)?, not_after)))
    }
    fn publish(signer: m::KeyPair, topic: String, payload: String) -> WitResult<String> {
        let (bytes, id) = seal(&signer, Kind::Message, &topic, &payload)?;
        ports_publish(&topic, &bytes)?;
        Ok(blob::encode(&id))
    }
    fn seal(signer: m::KeyPair, kind: m::EnvelopeKind, topic: String, payload: String) -> WitResult<String> {
        Ok(blob::encode(&seal(&signer, kind_from(kind), &topic, &payload)?.0))
    }
    fn publish_many(signer: m::KeyPair, topic: String, payloads: Vec<String>) -> WitResult<Vec<String>> {
        let keys = keys_from(&signer)?;
        let items =
            payloads.iter().map(|p| blob::decode("payloads", p)).collect::<crate::error::Result<Vec<_>>>()?;
        let nonces: Vec<[u8; 16]> = items.iter().map(|_| Fresh::random().nonce).collect();
        let payload = envelope::batch_payload(&items, &nonces)?;
        let (bytes, _) =
            envelope::seal(&keys, Kind::Batch, &topic, &payload, now_ms() as u64, &Fresh::random())?;
        ports_publish(&topic, &bytes)?;
        Ok(envelope::item_ids(&keys.id(), &nonces).iter().map(|id| blob::encode(id)).collect())
    }
    fn open(topic: String, envelopes: Vec<String>) -> WitResult<Vec<Result<Vec<m::Opened>, m::Rejection>>> {
        let now = now_ms() as u64;
        let mut out = Vec::with_capacity(envelopes.len());
        for hex in envelopes {
            out.push(open_one(&topic, &hex, now)?);
        }
        Ok(out)
    }
    fn create_task_list(signer: m::KeyPair, name: String, topic: String) -> WitResult<m::TaskListRef> {
        let keys = keys_from(&signer)?;
        let list = replica::create(&HostStorage, &HostTransport, &keys, &name, &topic, now_ms() as u64)?;
        Ok(list_ref(&list))
    }
    fn change_task_list(signer: m::KeyPair, topic: String, op: m::TaskOp) -> WitResult<String> {
        let keys = keys_from(&signer)?;
        let change = match op {
            m::TaskOp::Add((title, description, priority)) => {
                Change::Add { title, description, priority: Some(priority) }
            }
            m::TaskOp::Claim(id) => Change::Claim(id),
            m::TaskOp::Complete(id) => Change::Complete(id),
            m::TaskOp::Reorder(ids) => Change::Reorder(ids),
            m::TaskOp::SetPriority((id, priority)) => Change::SetPriority(id, priority),
        };
        Ok(replica::change(&HostStorage, &HostTransport, &keys, &topic, change, now_ms() as u64)?)
    }
    fn get_task_list(topic: String) -> WitResult<Option<String>> {
        Ok(replica::load(&HostStorage, &topic)?.map(|l| l.view().to_string()))
    }
}

/// One envelope: its contents, or why it was refused; `Err` only when storage failed.
fn open_one(topic: &str, hex: &str, now: u64) -> WitResult<Result<Vec<m::Opened>, m::Rejection>> {
    let bytes = match blob::decode("envelope", hex) {
        Ok(b) => b,
        Err(e) => return Ok(Err(m::Rejection { reason: m::RejectionReason::Malformed, message: e.message })),
    };
    let opened = match envelope::open(&bytes, topic, now).and_then(envelope::unbatch) {
        Ok(o) => o,
        Err(r) => return Ok(Err(rejection(r))),
    };
    let mut out = Vec::with_capacity(opened.len());
    for o in opened {
        let task_update = match o.kind {
            Kind::TaskOp => match replica::apply(&HostStorage, &o)? {
                Ok(update) => update,
                Err(r) => return Ok(Err(rejection(r))),
            },
            Kind::Message | Kind::Presence | Kind::Batch => None,
        };
        out.push(m::Opened {
            id: blob::encode(&o.id),
            kind: kind_to(o.kind),
            topic: o.topic,
            sender: blob::encode(&o.sender),
            timestamp_ms: o.timestamp_ms,
            payload: blob::encode(&o.payload),
            task_update,
        });
    }
    Ok(Ok(out))
}

fn ports_publish(topic: &str, bytes: &[u8]) -> crate::error::Result<()> {
    use crate::ports::Transport;
    HostTransport.publish(topic, bytes).map_err(|why| Error::new(crate::error::ErrorCode::Transport, why))
}
