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
                        let _ = job.reply.send(runtime.service_handle(&job.method, &job.path, &job.body));
                    }
                })
                .map_err(|e| Error::Load(format!("write lane thread: {e}")))?;
            lanes.push(send);
        }
        Ok(WriteLanes { lanes })
    }

    /// The user a request writes the state of: `POST /v1/state` names it in its body,
    /// `DELETE /v1/state/{id}` in its path. `None` for every other request.
    pub(super) fn writer_of<'a>(
        method: &str,
        path: &'a str,
        body: &'a str,
    ) -> Option<std::borrow::Cow<'a, str>> {
        #[derive(serde::Deserialize)]
        struct Target<'a> {
            #[serde(borrow)]
            user_id: Option<std::borrow::Cow<'a, str>>,
        }
        match method {
            "POST" if path.trim_end_matches('/') == "/v1/state" => {
                Some(serde_json::from_str::<Target>(body).ok().and_then(|t| t.user_id).unwrap_or_default())
            }
            "DELETE" => path.strip_prefix("/v1/state/").map(std::borrow::Cow::Borrowed),
            _ => None,
        }
    }

    pub(super) async fn handle(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, String), Error> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let lane = BuildHasherDefault::<DefaultHasher>::default().hash_one(user) as usize % self.lanes.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = WriteJob { method: method.into(), path: path.into(), body: body.into(), reply };
        let stopped = || Error::Call("the write lane stopped".into());
        self.lanes[lane].send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_laned_by_the_user_they_write() {
        let of = |m: &str, p: &str, b: &str| WriteLanes::writer_of(m, p, b).map(|u| u.into_owned());
        assert_eq!(of("POST", "/v1/state", r#"{"axes":{},"user_id":"ana"}"#).as_deref(), Some("ana"));
        assert_eq!(of("POST", "/v1/state/", r#"{"user_id":"ana"}"#).as_deref(), Some("ana"));
        // Not JSON, or no user: still a write (the component answers 400), on one lane.
        assert_eq!(of("POST", "/v1/state", "{").as_deref(), Some(""));
        assert_eq!(of("DELETE", "/v1/state/bob", "").as_deref(), Some("bob"));
        assert_eq!(of("GET", "/v1/state/bob", ""), None);
        assert_eq!(of("POST", "/v1/translate", r#"{"user_id":"ana"}"#), None);
    }
}
