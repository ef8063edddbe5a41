//! x0x's mesh from Rust: the component's `mesh` interface (keys, signed envelopes,
//! task lists) and key files in upstream's format. The bus is the runtime's
//! ([`crate::Bus`]); readers hand what they read to [`Runtime::mesh_open`].
//!
//! ```no_run
//! # use agentcell_host::{Runtime, SqliteBus};
//! # use std::sync::Arc;
//! let bus = Arc::new(SqliteBus::open("agentcell-data/agentcell.db").map_err(agentcell_host::Error::Call)?);
//! let rt = Runtime::builder().sqlite_storage("agentcell-data/agentcell.db")?.bus(bus.clone()).build()?;
//! let keys = rt.mesh_load_or_create_key("agent.key".as_ref())?;
//! rt.mesh_publish(&keys, "news", b"hello")?;
//! # Ok::<(), agentcell_host::Error>(())
//! ```

pub use crate::bindings::exports::agentcell::core::mesh::{EnvelopeKind, KeyPair, Opened, Rejection, TaskOp};
use crate::{Error, Runtime};
use std::io::Write;
use std::path::Path;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from lowercase or uppercase hex (what the component returns).
pub fn unhex(text: &str) -> Result<Vec<u8>, Error> {
    if !text.len().is_multiple_of(2) {
        return Err(Error::Call("odd-length hex".into()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| Error::Call(format!("bad hex: {e}"))))
        .collect()
}

impl Runtime {
    /// A new key pair (random, or from a 32-byte seed).
    pub fn mesh_generate_key(&self, seed: Option<&[u8; 32]>) -> Result<KeyPair, Error> {
        let seed = seed.map(|s| hex(s));
        self.call_named("mesh.generate-key", |l| {
            l.bindings.agentcell_core_mesh().call_generate_key(&mut l.store, seed.as_deref())
        })?
        .map_err(Error::from)
    }

    /// The key pair in an upstream key file's bytes.
    pub fn mesh_read_key_file(&self, bytes: &[u8]) -> Result<KeyPair, Error> {
        let text = hex(bytes);
        let file = self
            .call_named("mesh.read-key-file", |l| {
                l.bindings.agentcell_core_mesh().call_read_key_file(&mut l.store, &text)
            })?
            .map_err(Error::from)?;
        Ok(file.keys)
    }

    /// The key pair in the file at `path`, generated and saved there (upstream's v1
    /// format, mode 0600, written to a temporary file and renamed) when it is absent.
    pub fn mesh_load_or_create_key(&self, path: &Path) -> Result<KeyPair, Error> {
        let io = |e: std::io::Error| Error::Call(format!("{}: {e}", path.display()));
        if path.exists() {
            return self.mesh_read_key_file(&std::fs::read(path).map_err(io)?).map_err(|e| match e {
                Error::Component { code, message, field } => {
                    Error::Component { code, message: format!("{}: {message}", path.display()), field }
                }
                other => other,
            });
        }
        let keys = self.mesh_generate_key(None)?;
        let file = self
            .call_named("mesh.write-key-file", |l| {
                l.bindings.agentcell_core_mesh().call_write_key_file(&mut l.store, &keys, None)
            })?
            .map_err(Error::from)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        f.write_all(&unhex(&file)?).and_then(|_| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(keys)
    }

    /// Signs `payload` for `topic` and puts it on the bus; the message id.
    pub fn mesh_publish(&self, keys: &KeyPair, topic: &str, payload: &[u8]) -> Result<String, Error> {
        let payload = hex(payload);
        self.call_named("mesh.publish", |l| {
            l.bindings.agentcell_core_mesh().call_publish(&mut l.store, keys, topic, &payload)
        })?
        .map_err(Error::from)
    }

    /// Signs `payloads` for `topic` under one signature (a batch envelope); their ids.
    pub fn mesh_publish_many(
        &self,
        keys: &KeyPair,
        topic: &str,
        payloads: &[&[u8]],
    ) -> Result<Vec<String>, Error> {
        let payloads: Vec<String> = payloads.iter().map(|p| hex(p)).collect();
        self.call_named("mesh.publish-many", |l| {
            l.bindings.agentcell_core_mesh().call_publish_many(&mut l.store, keys, topic, &payloads)
        })?
        .map_err(Error::from)
    }

    /// Verifies envelopes read from the bus under `topic` (task-ops are applied): per
    /// envelope, what it carried (a batch carries several messages) or why it was refused.
    pub fn mesh_open(
        &self,
        topic: &str,
        envelopes: &[String],
    ) -> Result<Vec<Result<Vec<Opened>, Rejection>>, Error> {
        self.call_named("mesh.open", |l| {
            l.bindings.agentcell_core_mesh().call_open(&mut l.store, topic, envelopes)
        })?
        .map_err(Error::from)
    }

    /// Creates (or joins) the task list on `topic`; its id.
    pub fn mesh_create_task_list(&self, keys: &KeyPair, name: &str, topic: &str) -> Result<String, Error> {
        let r = self
            .call_named("mesh.create-task-list", |l| {
                l.bindings.agentcell_core_mesh().call_create_task_list(&mut l.store, keys, name, topic)
            })?
            .map_err(Error::from)?;
        Ok(r.id)
    }

    /// Changes the task list on `topic`; the changed task's id.
    pub fn mesh_change_task_list(&self, keys: &KeyPair, topic: &str, op: &TaskOp) -> Result<String, Error> {
        self.call_named("mesh.change-task-list", |l| {
            l.bindings.agentcell_core_mesh().call_change_task_list(&mut l.store, keys, topic, op)
        })?
        .map_err(Error::from)
    }

    /// The local replica of the list on `topic`, as JSON.
    pub fn mesh_get_task_list(&self, topic: &str) -> Result<Option<String>, Error> {
        self.call_named("mesh.get-task-list", |l| {
            l.bindings.agentcell_core_mesh().call_get_task_list(&mut l.store, topic)
        })?
        .map_err(Error::from)
    }
}
