//! A test plugin that does what its input's `"do"` says, so hosts can test their limits
//! and denials: `echo` (the input back: the no-op of the overhead benchmark), `spin`
//! (loops forever), `hog` (allocates without end), `read-file`, `write-file`, `env`,
//! `connect` (a TCP socket to `"port"`), `fetch` (`"url"` through the host), `kv`
//! (sets then gets `"key"`), `fail` (returns an error of `"kind"`), `panic`.

wit_bindgen::generate!({ world: "agentcell-plugin", path: "../../wit" });

use agentcell::plugin::host;
use exports::agentcell::plugin::plugin::{Error, ErrorKind, Guest, Info};
use serde_json::{json, Value};
use std::hint::black_box;

struct Misbehave;

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error { kind, message: message.into() }
}

fn io<T>(r: std::io::Result<T>) -> Value {
    match r {
        Ok(_) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

fn spin() -> Value {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
        if black_box(n) == u64::MAX {
            return json!(n);
        }
    }
}

fn hog() -> Value {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 4 << 20]);
        if black_box(kept.len()) == usize::MAX {
            return json!(kept.len());
        }
    }
}

impl Guest for Misbehave {
    fn describe() -> Info {
        Info {
            name: "misbehave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test plugin: does what its input says, including what hosts must stop".into(),
        }
    }

    fn call(input: String) -> Result<String, Error> {
        let v: Value =
            serde_json::from_str(&input).map_err(|e| error(ErrorKind::InvalidInput, e.to_string()))?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let out = match field("do").as_str() {
            "echo" => return Ok(input),
            "spin" => spin(),
            "hog" => hog(),
            "read-file" => io(std::fs::read("/etc/hostname")),
            "write-file" => io(std::fs::write("plugin-escape.txt", b"x")),
            "env" => json!(std::env::vars().map(|(k, _)| k).collect::<Vec<_>>()),
            "connect" => {
                let port = v.get("port").and_then(Value::as_u64).unwrap_or(9) as u16;
                io(std::net::TcpStream::connect(("127.0.0.1", port)))
            }
            "fetch" => {
                let req = host::HttpRequest {
                    method: "GET".into(),
                    url: field("url"),
                    headers: vec![],
                    body: String::new(),
                };
                match host::fetch(&req) {
                    Ok(r) => json!({"ok": true, "status": r.status, "body": r.body}),
                    Err(e) => json!({"ok": false, "error": format!("{e:?}")}),
                }
            }
            "kv" => {
                let key = field("key");
                let set = host::kv_set(&key, &field("value"));
                match (set, host::kv_get(&key)) {
                    (Ok(()), Ok(got)) => json!({"ok": true, "value": got}),
                    (Err(e), _) | (_, Err(e)) => json!({"ok": false, "error": format!("{e:?}")}),
                }
            }
            "fail" => {
                let kind = match field("kind").as_str() {
                    "retryable" => ErrorKind::Retryable,
                    "invalid-input" => ErrorKind::InvalidInput,
                    _ => ErrorKind::Permanent,
                };
                return Err(error(kind, field("message")));
            }
            "panic" => panic!("misbehave was told to panic"),
            other => return Err(error(ErrorKind::InvalidInput, format!("unknown \"do\": {other:?}"))),
        };
        Ok(out.to_string())
    }
}

export!(Misbehave);
