//! Write lanes: writes that wait (an fsync, a round trip) answered off the workers.

use crate::storage::StorageBackend;
use crate::{Error, HttpPolicy, Runtime};
use std::sync::Arc;

/// Writes, answered on threads of their own, one instance each, one key (a user of
/// Attuned, an execution of AI Spine) always on the same lane. A write to a SQLite file
/// waits for its fsync (Redis: a round trip): on a worker thread it would stall that
/// worker's other connections, and with one write per worker in flight a group commit
/// would rarely hold more than one. Lanes keep many writes in flight, and one key's
/// writes in order, so they do not race each other's compare-and-set (measured: a
/// shared pool of instances instead let 32 writers of one user mostly retry, 0.6-0.9k/s).
pub(super) struct WriteLanes {
    lanes: Vec<std::sync::mpsc::Sender<Job>>,
}

/// Work for a lane's instance.
type Job = Box<dyn FnOnce(&Runtime) + Send>;

/// Write lanes of a server whose writes wait.
pub(super) const WRITE_LANES: usize = 16;

impl WriteLanes {
    pub(super) fn start(
        storage: &Arc<dyn StorageBackend>,
        http: &HttpPolicy,
        count: usize,
    ) -> Result<Self, Error> {
        let mut lanes = Vec::with_capacity(count);
        for n in 0..count {
            let runtime = Runtime::builder().storage(storage.clone()).http(http.clone()).build()?;
            let (send, jobs) = std::sync::mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name(format!("agentcell-write-{n}"))
                .spawn(move || {
                    for job in jobs {
                        job(&runtime);
                    }
                })
                .map_err(|e| Error::Load(format!("write lane thread: {e}")))?;
            lanes.push(send);
        }
        Ok(WriteLanes { lanes })
    }

    /// Runs `work` on the lane of `key` and waits (asynchronously) for its result.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        key: &str,
        work: impl FnOnce(&Runtime) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let lane = BuildHasherDefault::<DefaultHasher>::default().hash_one(key) as usize % self.lanes.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |runtime| {
            let _ = reply.send(work(runtime));
        });
        let stopped = || Error::Call("the write lane stopped".into());
        self.lanes[lane].send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// An Attuned write, on its user's lane.
    pub(super) async fn handle(
        &self,
        user: &str,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, String), Error> {
        let (method, path, body) = (method.to_string(), path.to_string(), body.to_string());
        let content_type = content_type.map(str::to_string);
        self.run(user, move |rt| rt.service_handle(&method, &path, content_type.as_deref(), &body)).await
    }
}
