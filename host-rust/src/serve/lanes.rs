//! Write lanes: writes that wait (an fsync, a round trip) answered off the workers.

use crate::storage::StorageBackend;
use crate::{Error, Runtime};
use std::sync::Arc;

/// Writes of users' state, answered on threads of their own, one instance each, a user
/// always on the same lane. A write to a SQLite file waits for its fsync (Redis: a
/// round trip): on a worker thread it would stall that worker's other connections, and
/// with one write per worker in flight a group commit would rarely hold more than one.
/// Lanes keep many writes in flight, and one user's writes in order, so they do not
/// race each other's compare-and-set (measured: a shared pool of instances instead let
/// 32 writers of one user mostly retry, 0.6-0.9k/s).
pub(super) struct WriteLanes {
    lanes: Vec<std::sync::mpsc::Sender<WriteJob>>,
}

struct WriteJob {
    method: String,
    path: String,
    content_type: Option<String>,
    body: String,
    reply: tokio::sync::oneshot::Sender<Result<(u16, String), Error>>,
}

/// Write lanes of a server whose writes wait.
pub(super) const WRITE_LANES: usize = 16;

impl WriteLanes {
    pub(super) fn start(storage: &Arc<dyn StorageBackend>, count: usize) -> Result<Self, Error> {
        let mut lanes = Vec::with_capacity(count);
        for n in 0..count {
            let runtime = Runtime::builder().storage(storage.clone()).build()?;
            let (send, jobs) = std::sync::mpsc::channel::<WriteJob>();
            std::thread::Builder::new()
                .name(format!("agentcell-write-{n}"))
                .spawn(move || {
                    for job in jobs {
                        let _ = job.reply.send(runtime.service_handle(
                            &job.method,
                            &job.path,
                            job.content_type.as_deref(),
                            &job.body,
                        ));
                    }
                })
                .map_err(|e| Error::Load(format!("write lane thread: {e}")))?;
            lanes.push(send);
        }
        Ok(WriteLanes { lanes })
    }

    pub(super) async fn handle(
        &self,
        user: &str,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, String), Error> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let lane = BuildHasherDefault::<DefaultHasher>::default().hash_one(user) as usize % self.lanes.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = WriteJob {
            method: method.into(),
            path: path.into(),
            content_type: content_type.map(str::to_string),
            body: body.into(),
            reply,
        };
        let stopped = || Error::Call("the write lane stopped".into());
        self.lanes[lane].send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
