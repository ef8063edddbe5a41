//! `agentcell serve` against slow, dishonest and guessing clients: real sockets on
//! loopback against the real binary, each test bounded in connections and seconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "k-test";

/// A running `agentcell serve` with short limits, stopped (SIGKILL) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_with(&["--memory"], extra)
    }

    fn start_with(storage: &[&str], extra: &[&str]) -> Server {
        // Short limits unless `extra` sets them.
        let defaults = [("--header-timeout", "1"), ("--body-timeout", "1"), ("--idle-timeout", "2")];
        let limits = defaults.iter().filter(|(flag, _)| !extra.contains(flag)).flat_map(|(f, v)| [*f, *v]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentcell"))
            .args(["serve", "--addr", "127.0.0.1:0", "--api-key", KEY, "--workers", "2"])
            .args(storage)
            .args(limits)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().parse().unwrap();
        Server { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends `request` and reads the answer until the server closes the connection.
    fn exchange(&self, request: &[u8]) -> Answer {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        read_answer(&mut s)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open file descriptors and resident memory (kB) of the server process.
    fn fds_and_rss(&self) -> (usize, u64) {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count();
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        (fds, rss)
    }

    fn terminate(&mut self) -> Duration {
        let t = Instant::now();
        Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        t.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: serde_json::Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one answer: the head, then `content-length` bytes of body (or to EOF).
fn read_answer(s: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("closed before a whole head: {:?}", String::from_utf8_lossy(&bytes)),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    let body = serde_json::from_slice(&bytes[head_end..]).unwrap_or(serde_json::Value::Null);
    Answer { status, head, body }
}

/// True once the server has closed `s` (EOF or reset), false if it is still open after
/// `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut sink = [0u8; 4096];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn get(path: &str, auth: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off_with_408() {
    let server = Server::start(&[]);
    let mut s = server.connect();
    let t = Instant::now();
    let mut answer = None;
    // A byte every 100 ms, until the server says something.
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    for byte in b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if s.peek(&mut [0u8; 1]).is_ok() {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            answer = Some(read_answer(&mut s));
            break;
        }
        s.write_all(&[*byte]).unwrap();
    }
    let answer = answer.expect("the server answered before the head was done");
    assert_eq!((answer.status, answer.code()), (408, "REQUEST_TIMEOUT"), "{answer:?}");
    assert!(closed_within(&mut s, Duration::from_secs(2)));
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn idle_connections_are_closed_after_the_idle_limit_and_not_before() {
    let server = Server::start(&[]);
    let mut fresh = server.connect();
    let mut kept = server.connect();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_answer(&mut kept).status, 200);
    assert!(!closed_within(&mut fresh, Duration::from_millis(1200)), "the header limit is not the idle one");
    assert!(closed_within(&mut fresh, Duration::from_secs(3)));
    assert!(closed_within(&mut kept, Duration::from_secs(3)), "a kept-alive connection is idle too");
}

#[test]
fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let server = Server::start(&[]);
    let mut s = server.connect();
    let t = Instant::now();
    let head = format!(
        "POST /v1/state HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\nab"
    );
    s.write_all(head.as_bytes()).unwrap();
    let answer = read_answer(&mut s);
    assert_eq!((answer.status, answer.code()), (413, "PAYLOAD_TOO_LARGE"), "{answer:?}");
    assert!(t.elapsed() < Duration::from_millis(900), "{:?}", t.elapsed());
    assert!(closed_within(&mut s, Duration::from_secs(2)));
}

#[test]
fn a_client_that_sends_its_whole_oversized_body_first_still_reads_its_413() {
    let server = Server::start(&[]);
    for size in [1024 * 1024 + 10, 5_000_000] {
        let mut s = server.connect();
        let head = format!(
            "POST /v1/state HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        // The server answers at once and goes on reading for a while, so the rest of the
        // body is not refused with a reset that would destroy the answer.
        let _ = s.write_all(&vec![b' '; size]);
        let answer = read_answer(&mut s);
        assert_eq!((answer.status, answer.code()), (413, "PAYLOAD_TOO_LARGE"), "{size}: {answer:?}");
    }
}

#[test]
fn a_body_that_stops_arriving_is_answered_408() {
    let server = Server::start(&[]);
    let mut s = server.connect();
    let t = Instant::now();
    let head = format!(
        "POST /v1/state HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\""
    );
    s.write_all(head.as_bytes()).unwrap();
    let answer = read_answer(&mut s);
    assert_eq!((answer.status, answer.code()), (408, "REQUEST_TIMEOUT"), "{answer:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(closed_within(&mut s, Duration::from_secs(2)));
}

#[test]
fn connections_past_the_cap_are_answered_503_and_the_cap_frees_up() {
    let server = Server::start(&["--max-connections", "8"]);
    let held: Vec<TcpStream> = (0..8).map(|_| server.connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let answer = server.exchange(&get("/health", ""));
    assert_eq!((answer.status, answer.code()), (503, "OVERLOADED"), "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"));
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.exchange(&get("/health", "")).status, 200);
}

#[test]
fn wrong_keys_are_throttled_per_address_and_then_even_the_right_key_waits() {
    let server = Server::start(&["--auth-failures-per-minute", "5", "--rate-limit", "60"]);
    let statuses: Vec<u16> =
        (0..12).map(|n| server.exchange(&get("/v1/state/u", &format!("Bearer guess-{n}"))).status).collect();
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 7], "{statuses:?}");
    let answer = server.exchange(&get("/v1/state/u", &format!("Bearer {KEY}")));
    assert_eq!((answer.status, answer.code()), (429, "AUTH_THROTTLED"), "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("12"), "5 a minute: one more in 12 s");
    assert_eq!(server.exchange(&get("/health", "")).status, 200, "public paths need no key");
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let server = Server::start(&[]);
    let answer = server.exchange(&get("/v1/state/nobody", &format!("bearer {KEY}")));
    assert_eq!((answer.status, answer.code()), (404, "USER_NOT_FOUND"), "{answer:?}");
}

#[test]
fn every_answer_carries_the_security_headers() {
    let server = Server::start(&[]);
    for request in
        [get("/health", ""), get("/v1/state/nobody", &format!("Bearer {KEY}")), get("/x", "Bearer no")]
    {
        let answer = server.exchange(&request);
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{answer:?}");
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{answer:?}");
        assert!(answer.header("content-security-policy").is_some(), "{answer:?}");
    }
}

#[test]
fn every_protocol_error_has_the_json_error_shape() {
    let server = Server::start(&[]);
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(10_000)), 414, "URI_TOO_LONG"),
        (format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(100_000)), 414, "URI_TOO_LONG"),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(40_000)),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
                (0..200).map(|n| format!("X-{n}: v\r\n")).collect::<String>()
            ),
            431,
            "HEADERS_TOO_LARGE",
        ),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400, "MALFORMED_REQUEST"),
        ("GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n".to_string(), 400, "MALFORMED_REQUEST"),
    ];
    for (request, status, code) in cases {
        let answer = server.exchange(request.as_bytes());
        assert_eq!((answer.status, answer.code()), (status, code), "{answer:?}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{answer:?}");
    }
    assert_eq!(server.exchange(&get("/health", "")).status, 200, "still serving");
}

#[test]
fn shutdown_has_a_deadline_and_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server =
        Server::start_with(&["--data", data], &["--shutdown-timeout", "2", "--idle-timeout", "30"]);
    let body = r#"{"user_id":"kept","axes":{"warmth":0.9}}"#;
    let write = format!(
        "POST /v1/state HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(server.exchange(write.as_bytes()).status, 204);
    let mut idle = server.connect();
    let mut half_head = server.connect();
    half_head.write_all(b"GET /health HTTP/1.1\r\nHo").unwrap();
    let mut half_body = server.connect();
    let head = format!(
        "POST /v1/state HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 100\r\n\r\n{{"
    );
    half_body.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let took = server.terminate();
    assert!(took < Duration::from_millis(1800), "stalled clients held the server {took:?}");
    assert!(closed_within(&mut idle, Duration::from_secs(1)));
    assert!(closed_within(&mut half_head, Duration::from_secs(1)));
    let answer = read_answer(&mut half_body);
    assert_eq!((answer.status, answer.code()), (503, "SHUTTING_DOWN"), "{answer:?}");

    let again = Server::start_with(&["--data", data], &[]);
    let answer = again.exchange(&get("/v1/state/kept", &format!("Bearer {KEY}")));
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn a_slow_client_flood_leaves_no_descriptors_or_memory_behind() {
    let server = Server::start(&["--max-connections", "2000", "--header-timeout", "3"]);
    assert_eq!(server.exchange(&get("/health", "")).status, 200);
    std::thread::sleep(Duration::from_millis(300)); // the signal handlers are set up
    let (fds_before, rss_before) = server.fds_and_rss();
    let flood: Vec<TcpStream> = (0..400)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"G").unwrap();
            s
        })
        .collect();
    let accepted = Instant::now() + Duration::from_millis(2500);
    let mut fds_during = 0;
    while Instant::now() < accepted && fds_during < fds_before + 400 {
        std::thread::sleep(Duration::from_millis(20));
        fds_during = server.fds_and_rss().0;
    }
    assert!(fds_during >= fds_before + 400, "the flood is held open: {fds_before} -> {fds_during}");
    let t = Instant::now();
    for mut s in flood {
        let left = Duration::from_secs(5).saturating_sub(t.elapsed()).max(Duration::from_millis(10));
        assert!(closed_within(&mut s, left), "a slow connection outlived the header limit");
    }
    std::thread::sleep(Duration::from_millis(200));
    let (fds_after, rss_after) = server.fds_and_rss();
    eprintln!("400 slow clients: fds {fds_before} -> {fds_during} -> {fds_after}, rss {rss_before} -> {rss_after} kB");
    assert!(fds_after <= fds_before + 2, "descriptors: {fds_before} -> {fds_during} -> {fds_after}");
    assert!(rss_after < rss_before + 16 * 1024, "memory: {rss_before} kB -> {rss_after} kB");
    assert_eq!(server.exchange(&get("/health", "")).status, 200);
}
