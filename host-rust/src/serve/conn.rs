//! One client connection as the HTTP parser sees it: the socket wrapped in the server's
//! time limits, and the parser's own bodyless error answers put in the API's shape.
//!
//! Time limits by phase, each from the moment the phase began:
//! - **idle**: no request in flight and none begun (a fresh or kept-alive connection):
//!   closed quietly after the idle limit;
//! - **head**: the first bytes of a request have come but not the whole head: answered
//!   `408` and closed after the header limit, however slowly the bytes trickle in;
//! - **busy**: a request is being answered: no limit here; the route limits the body's
//!   arrival, and the answer takes what it takes.
//!
//! The parser (hyper) answers a request it cannot parse itself, with an empty body
//! (`400`, `414`, `431`). Those answers are recognised as they are written (the head of
//! such an answer is the whole write, with `content-length: 0`, at the start of a
//! connection's output or after a flushed answer) and replaced by the same status
//! with the API's JSON error body.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What the route tells the connection: whether a request is in flight, and the count of
/// requests answered, so the connection can tell a new idle phase from the old one.
#[derive(Default)]
pub(super) struct Activity {
    busy: AtomicBool,
    answered: AtomicU64,
    /// The server is stopping: idle and half-received heads are closed at once.
    stopping: AtomicBool,
    /// An answer was sent before its request was read whole: linger on close.
    linger: AtomicBool,
}

impl Activity {
    pub(super) fn begin(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }
    pub(super) fn end(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
    }
    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
    /// The answer just given closes the connection with the request's body (or head)
    /// perhaps still arriving.
    pub(super) fn linger(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }
}

/// How long a connection closed before its request was read whole goes on reading (and
/// discarding) what the client still sends, and how much at most. Closing a socket with
/// unread input resets the connection, and a client still sending its body would lose
/// the answer (a 413, say) before reading it; lingering lets it finish and read.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// The time limits of one connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    pub(super) idle: Duration,
    pub(super) head: Duration,
}

/// The JSON answers that replace the parser's bodyless ones, rendered once per worker
/// (the component words them): whole HTTP responses, each closing the connection.
pub(super) struct ProtocolAnswers {
    pub(super) malformed: Vec<u8>,
    pub(super) uri_too_long: Vec<u8>,
    pub(super) headers_too_large: Vec<u8>,
    pub(super) head_timeout: Vec<u8>,
}

/// A whole response that closes its connection: status line, the security headers,
/// JSON body.
pub(super) fn closing_response(status: u16, reason: &str, extra: &str, body: &str) -> Vec<u8> {
    let security: String = super::routes::SECURITY_HEADERS
        .iter()
        .map(|(name, value)| format!("{name}: {}\r\n", value.to_str().unwrap_or("")))
        .collect();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{security}{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Idle,
    /// A head has begun; `line_done`: its request line has ended (so a too-large head
    /// is too many headers, not too long a target).
    Head {
        line_done: bool,
    },
    Busy,
}

/// The socket with the time limits and the error answers of this module.
pub(super) struct Guarded<S> {
    inner: S,
    activity: Arc<Activity>,
    answers: Arc<ProtocolAnswers>,
    timeouts: Timeouts,
    phase: Phase,
    phase_since: Instant,
    answered_seen: u64,
    deadline: Pin<Box<Sleep>>,
    /// Bytes written since the last flush: an answer is being written.
    unflushed: bool,
    /// A replacement answer being written in place of the parser's, and how much of it
    /// has gone, and the length of the parser's write it stands for.
    replacing: Option<(Vec<u8>, usize, usize)>,
    /// Once the write side is shut while lingering: bytes discarded so far.
    lingered: Option<usize>,
}

impl<S> Guarded<S> {
    pub(super) fn new(
        inner: S,
        activity: Arc<Activity>,
        answers: Arc<ProtocolAnswers>,
        timeouts: Timeouts,
    ) -> Self {
        let now = Instant::now();
        Guarded {
            inner,
            activity,
            answers,
            timeouts,
            phase: Phase::Idle,
            phase_since: now,
            answered_seen: 0,
            deadline: Box::pin(tokio::time::sleep_until(now + timeouts.idle)),
            unflushed: false,
            replacing: None,
            lingered: None,
        }
    }

    /// Brings the phase up to date with what the route has said.
    fn observe(&mut self) {
        let answered = self.activity.answered.load(Ordering::Relaxed);
        if self.activity.busy.load(Ordering::Relaxed) {
            self.phase = Phase::Busy;
        } else if answered != self.answered_seen || self.phase == Phase::Busy {
            self.answered_seen = answered;
            self.enter(Phase::Idle);
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.phase_since = Instant::now();
    }

    /// Notes bytes read: the first bytes of a head begin its phase; a newline ends its
    /// request line.
    fn note_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let line_done = bytes.contains(&b'\n');
        match self.phase {
            Phase::Idle => self.enter(Phase::Head { line_done }),
            Phase::Head { line_done: false } if line_done => self.phase = Phase::Head { line_done },
            _ => {}
        }
    }

    /// The parser's own error answer that `buf` is, if it is one: the JSON answer to send
    /// instead.
    fn replacement_for(&self, buf: &[u8]) -> Option<Vec<u8>> {
        if self.unflushed || !is_bare_error_head(buf) {
            return None;
        }
        let answer = match &buf[9..12] {
            b"400" => &self.answers.malformed,
            b"414" => &self.answers.uri_too_long,
            // The head outgrew the limit before its request line ended: the target is
            // what is too long.
            b"431" if self.phase == (Phase::Head { line_done: false }) => &self.answers.uri_too_long,
            b"431" => &self.answers.headers_too_large,
            _ => return None,
        };
        Some(answer.clone())
    }
}

/// A response head with no body, written alone: how the parser answers what it cannot
/// parse. The route's own answers always carry a body or a `content-type`.
fn is_bare_error_head(buf: &[u8]) -> bool {
    let head_ends = buf.len() >= 16 && buf.ends_with(b"\r\n\r\n");
    head_ends
        && buf.starts_with(b"HTTP/1.")
        && buf[8] == b' '
        && matches!(buf[9], b'4' | b'5')
        && contains(buf, b"\r\ncontent-length: 0\r\n")
        && !contains(buf, b"\r\ncontent-type:")
        && buf.windows(4).position(|w| w == b"\r\n\r\n") == Some(buf.len() - 4)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.observe();
        let stopping = this.activity.stopping.load(Ordering::Relaxed);
        if stopping && this.phase != Phase::Busy {
            return Poll::Ready(Ok(())); // end of input: the parser closes the connection
        }
        let filled = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase != Phase::Busy {
                    this.note_read(&buf.filled()[filled..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let limit = match this.phase {
                    Phase::Busy => return Poll::Pending,
                    Phase::Idle => this.timeouts.idle,
                    Phase::Head { .. } => this.timeouts.head,
                };
                let due = this.phase_since + limit;
                if this.deadline.deadline() != due {
                    this.deadline.as_mut().reset(due);
                }
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if let Phase::Head { .. } = this.phase {
                    if !this.unflushed {
                        // Best effort: the socket's send buffer is empty between answers.
                        let answer = this.answers.head_timeout.clone();
                        let _ = Pin::new(&mut this.inner).poll_write(cx, &answer);
                    }
                    return Poll::Ready(Err(timed_out("the request head did not arrive in time")));
                }
                Poll::Ready(Err(timed_out("the connection was idle too long")))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Guarded<S> {
    /// Writes the rest of a replacement answer; `Ready(n)` with the length of the
    /// parser's write it replaces once all of it has gone.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((answer, sent, stands_for)) = &mut self.replacing {
            if *sent == answer.len() {
                let n = *stands_for;
                self.replacing = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &answer[*sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            this.observe();
            if let Some(answer) = this.replacement_for(buf) {
                this.replacing = Some((answer, 0, buf.len()));
                this.activity.linger();
            }
        }
        if this.replacing.is_some() {
            return this.poll_replacement(cx);
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.unflushed |= n > 0;
        }
        written
    }

    /// Head and body in one `writev`, as the socket takes them. A bare error head is one
    /// buffer alone, so only single buffers are looked at.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            return self.poll_write(cx, only);
        }
        if self.replacing.is_some() {
            return self.poll_replacement(cx);
        }
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            self.unflushed |= n > 0;
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            self.unflushed = false;
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.activity.linger.load(Ordering::Relaxed) {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        if this.lingered.is_none() {
            if let Err(e) = ready!(Pin::new(&mut this.inner).poll_shutdown(cx)) {
                return Poll::Ready(Err(e));
            }
            this.lingered = Some(0);
            this.deadline.as_mut().reset(Instant::now() + LINGER_TIME);
        }
        let mut sink = [0u8; 8192];
        loop {
            let mut buf = ReadBuf::new(&mut sink);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    let total = this.lingered.unwrap_or(0) + buf.filled().len();
                    this.lingered = Some(total);
                    if total > LINGER_BYTES {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(_) => return Poll::Ready(Ok(())), // end of input, or gone
                // Stopping: nothing more is waited for; what had come is read.
                Poll::Pending if this.activity.stopping.load(Ordering::Relaxed) => {
                    return Poll::Ready(Ok(()))
                }
                Poll::Pending => {
                    return match this.deadline.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Ok(())),
                        Poll::Pending => Poll::Pending,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parsers_bare_error_heads_are_recognised_and_nothing_else() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 10:00:00 GMT\r\n\r\n";
        assert!(is_bare_error_head(bare));
        assert!(is_bare_error_head(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"));
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(!is_bare_error_head(ours), "an answer of the route has a content-type");
        assert!(!is_bare_error_head(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"));
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(!is_bare_error_head(with_body));
        assert!(!is_bare_error_head(b"{\"error\":\"HTTP/1.1 400 \"}"));
    }

    fn guarded() -> Guarded<tokio::io::DuplexStream> {
        let (a, _b) = tokio::io::duplex(64);
        let answers = ProtocolAnswers {
            malformed: b"M".to_vec(),
            uri_too_long: b"U".to_vec(),
            headers_too_large: b"H".to_vec(),
            head_timeout: b"T".to_vec(),
        };
        let timeouts = Timeouts { idle: Duration::from_secs(1), head: Duration::from_secs(1) };
        Guarded::new(a, Arc::default(), Arc::new(answers), timeouts)
    }

    #[tokio::test]
    async fn a_too_large_head_is_a_long_target_until_its_request_line_ends() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let mut g = guarded();
        g.note_read(b"GET /aaaaaaaa");
        assert_eq!(g.replacement_for(bare).as_deref(), Some(&b"U"[..]));
        g.note_read(b"aaa HTTP/1.1\r\nx: y");
        assert_eq!(g.replacement_for(bare).as_deref(), Some(&b"H"[..]));
        g.unflushed = true;
        assert_eq!(g.replacement_for(bare), None, "mid-answer bytes are never replaced");
    }
}
