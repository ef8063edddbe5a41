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

/// A PostgreSQL server of this test's own (Debian's package), stopped when dropped.
#[allow(dead_code)] // not every test file uses it
pub struct PostgresServer {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    pub url: String,
}

/// `runuser -u postgres --` when we are root (initdb refuses root), else nothing.
fn as_postgres(program: &std::path::Path) -> Command {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(self.dir.join("db"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts one in a fresh data directory; `None` when PostgreSQL is not installed
/// (outside CI, where it must be).
#[allow(dead_code)] // not every test file uses it
pub fn postgres_server() -> Option<PostgresServer> {
    let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).find(|b| b.join("initdb").exists())
    });
    let Some(bin) = bin else {
        assert!(std::env::var_os("CI").is_none(), "PostgreSQL is required in CI");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let dir = std::env::temp_dir().join(format!("agentcell-pg-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status();
    let ok =
        |c: &mut Command| assert!(c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success());
    ok(as_postgres(&bin.join("initdb")).arg("-D").arg(dir.join("db")).args([
        "-A",
        "trust",
        "-U",
        "agentcell",
    ]));
    let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
    ok(as_postgres(&bin.join("pg_ctl"))
        .arg("-D")
        .arg(dir.join("db"))
        .args(["-o", &opts, "-l"])
        .arg(dir.join("log"))
        .args(["-w", "start"]));
    Some(PostgresServer { bin, dir, url: format!("postgresql://agentcell@127.0.0.1:{port}/postgres") })
}
