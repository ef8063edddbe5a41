//! The `testing` interface.

use std::hint::black_box;

use crate::wit::exports::agentcell::core::testing;
use crate::wit::Component;

fn outcome<T>(result: std::io::Result<T>, seen: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(v) => seen(v),
        Err(e) => format!("denied: {e}"),
    }
}

fn ambient(port: u16) -> testing::AmbientReport {
    let read_file = outcome(std::fs::read_to_string("/etc/hostname"), |s| format!("read {} bytes", s.len()));
    let write_file = outcome(std::fs::write("agentcell-escape.txt", b"x"), |()| "written".to_string());
    let environment: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let tcp_connect = outcome(std::net::TcpStream::connect(("127.0.0.1", port)), |_| "connected".to_string());
    testing::AmbientReport { read_file, write_file, environment: environment.join("\n"), tcp_connect }
}

impl testing::Guest for Component {
    fn trap(message: String) {
        panic!("deliberate trap: {message}");
    }

    fn spin() -> u64 {
        let mut n: u64 = 0;
        loop {
            n = black_box(n.wrapping_add(1));
            if black_box(n) == u64::MAX {
                return n;
            }
        }
    }

    fn hog(chunk_mib: u32) -> u64 {
        let chunk = (chunk_mib.max(1) as usize) << 20;
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            kept.push(vec![1u8; chunk]);
            if black_box(kept.len()) == usize::MAX {
                return kept.len() as u64;
            }
        }
    }

    fn ambient(port: u16) -> testing::AmbientReport {
        ambient(port)
    }
}
