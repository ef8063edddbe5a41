//! What several test files share: a real redis-server on a free loopback port.

use agentcell_host::RedisStorage;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server of this test's own, killed when dropped.
pub struct RedisServer {
    child: Child,
    pub url: String,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one; `None` when redis-server is not installed (outside CI, where it must be).
pub fn redis_server() -> Option<RedisServer> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(_) if std::env::var_os("CI").is_none() => return None, // not installed here
        Err(e) => panic!("redis-server is required in CI: {e}"),
    };
    let url = format!("redis://127.0.0.1:{port}/0");
    let server = RedisServer { child, url };
    let deadline = Instant::now() + Duration::from_secs(10);
    while RedisStorage::open(&server.url).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(server)
}
