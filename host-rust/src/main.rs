//! `agentcell`: the command line of the Rust host.

use agentcell_host::{HttpPolicy, Runtime};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod cli_flows;
mod cli_mesh;
mod cli_plugins;

#[derive(Parser)]
#[command(name = "agentcell", version, about = "Run the agentcell component from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StorageArgs {
    /// Directory holding the SQLite file (agentcell.db)
    #[arg(long, default_value = "agentcell-data")]
    data: PathBuf,
    /// Keep storage in memory instead
    #[arg(long)]
    memory: bool,
    /// Keep storage in Redis instead (e.g. redis://127.0.0.1:6379/0): several servers can share it
    #[arg(long)]
    redis: Option<String>,
    /// Keep storage in PostgreSQL instead (e.g. postgresql://user@127.0.0.1:5432/db),
    /// in the table the Python host uses
    #[arg(long, conflicts_with = "redis")]
    postgres: Option<String>,
}

impl StorageArgs {
    /// The backend; `owned`: this process alone uses the SQLite file (a server).
    fn backend(
        &self,
        owned: bool,
    ) -> Result<std::sync::Arc<dyn agentcell_host::StorageBackend>, agentcell_host::Error> {
        let file = self.data.join("agentcell.db");
        if let Some(url) = &self.postgres {
            return Ok(std::sync::Arc::new(agentcell_host::PostgresStorage::open(url)?));
        }
        Ok(match (&self.redis, self.memory) {
            (Some(url), _) => std::sync::Arc::new(agentcell_host::RedisStorage::open(url)?),
            (None, true) => std::sync::Arc::new(agentcell_host::MemoryStorage::default()),
            (None, false) if owned => std::sync::Arc::new(agentcell_host::SqliteStorage::open_owned(file)?),
            (None, false) => std::sync::Arc::new(agentcell_host::SqliteStorage::open(file)?),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the version the component answers, and the rustc that built it
    Version,
    /// Print the health check and build information; exit 1 when unhealthy
    Health,
    /// Add to (or read) a counter kept in storage
    Counter {
        name: String,
        /// How much to add (0 reads)
        #[arg(long, default_value_t = 1, allow_hyphen_values = true)]
        add: i64,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Time calls into the component from this host (no-op, 1 MiB in and out), on the
    /// test build (the `bench` interface is not in the shipped component)
    Bench {
        /// The test build (`make wasm` writes it to target/agentcell-test.wasm)
        #[arg(long, default_value_os_t = agentcell_host::test_component_path())]
        wasm: std::path::PathBuf,
    },
    /// Serve the Attuned HTTP API (state, context, translate; OpenAPI at /openapi.json)
    /// and the AI Spine API (flows, executions, agents; also under /api/v1)
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        #[command(flatten)]
        storage: StorageArgs,
        /// Accepted API key (repeatable); also AGENTCELL_API_KEYS, comma separated
        #[arg(long = "api-key")]
        api_keys: Vec<String>,
        /// Serve without API keys (only for trusted networks)
        #[arg(long)]
        no_auth: bool,
        /// Requests per minute per API key; 0 turns rate limiting off
        #[arg(long, default_value_t = 600)]
        rate_limit: u32,
        /// Worker threads, each with its own component instance (default: one per core;
        /// more help write-heavy loads on SQLite, whose concurrent writes share a commit)
        #[arg(long)]
        workers: Option<usize>,
        /// Where AI Spine agents may be called: host, host:port or * (repeatable).
        /// Default: nowhere, so a registered agent cannot reach the server's network
        #[arg(long = "allow-agent")]
        allow_agents: Vec<String>,
        /// Seconds one agent call may take at most
        #[arg(long, default_value_t = 30.0, value_parser = seconds)]
        agent_timeout: f64,
        #[command(flatten)]
        limits: LimitArgs,
        /// A plugin config (JSON, read by every host): each plugin runs the AI Spine agents
        /// registered with endpoint `local://<its name>`; key-value grants use --data's storage
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// The mesh bus the server's agent publishes and reads on (x0x's daemon routes):
        /// a SQLite file shared with other processes (default: bus.db in --data; give a
        /// Python agent's data file to meet it there)
        #[arg(long)]
        bus: Option<PathBuf>,
    },
    /// Drive an AI Spine API (flows, executions, agents) from the command line
    Flows(cli_flows::FlowsArgs),
    /// x0x's mesh: signed pub/sub and task lists on the SQLite bus (shared with Python)
    Mesh(cli_mesh::MeshArgs),
    /// Search an embedding store kept in a directory (the Python host's HTMCore layout:
    /// one SQLite file per partition); prints the hits as JSON
    MemorySearch {
        /// The store directory (HTMCore's storage_path)
        #[arg(long)]
        dir: PathBuf,
        /// The store name
        #[arg(long, default_value = "htm")]
        name: String,
        /// Length of the store's embeddings
        #[arg(long, default_value_t = 768)]
        dimension: u32,
        /// The query: comma-separated floats
        #[arg(long, allow_hyphen_values = true)]
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
        #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
        min_similarity: f32,
    },
    /// Call a plugin (a component of the world agentcell:plugin) with JSON, under
    /// limits; prints its JSON answer, or the error as JSON on stderr (exit 1)
    Plugin(cli_plugins::PluginArgs),
    /// GET a URL through the component's HTTP import
    Probe {
        url: String,
        /// Allowed destination (host, host:port or *); repeatable. Default: none
        #[arg(long)]
        allow: Vec<String>,
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u32,
    },
}

/// What `serve` puts up with from clients (defaults: `serve::Limits::default()`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Seconds a request's head may take to arrive, from its first byte (then 408)
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    header_timeout: f64,
    /// Seconds a request's body may take to arrive, after its head (then 408)
    #[arg(long, default_value_t = 30.0, value_parser = seconds)]
    body_timeout: f64,
    /// Seconds a connection may stay open with no request under way
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    idle_timeout: f64,
    /// Seconds requests in flight get to finish after SIGTERM or Ctrl-C
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    shutdown_timeout: f64,
    /// Open connections at most; past it new ones are answered 503 and closed
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Requests with a wrong API key allowed per minute from one client address, then
    /// 429 for every keyed request from it; 0 turns this off
    #[arg(long, default_value_t = 20)]
    auth_failures_per_minute: u32,
    /// Count clients by the last X-Forwarded-For address: only behind a proxy that
    /// appends the address it sees (otherwise clients choose their own address)
    #[arg(long)]
    trust_forwarded_for: bool,
}

pub(crate) fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

impl LimitArgs {
    fn limits(&self) -> agentcell_host::serve::Limits {
        agentcell_host::serve::Limits {
            header_timeout: Duration::from_secs_f64(self.header_timeout),
            body_timeout: Duration::from_secs_f64(self.body_timeout),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout),
            shutdown_timeout: Duration::from_secs_f64(self.shutdown_timeout),
            max_connections: self.max_connections.max(1),
            auth_failures_per_minute: self.auth_failures_per_minute,
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }
}

fn runtime(storage: Option<&StorageArgs>, http: HttpPolicy) -> Result<Runtime, agentcell_host::Error> {
    let builder = Runtime::builder().http(http);
    match storage {
        Some(s) => builder.storage(s.backend(false)?).build(),
        None => builder.memory_storage().build(),
    }
}

/// The server's agent on the mesh: keys in the data directory (created on first start),
/// the SQLite bus at `bus` (default `bus.db` there; the storage file itself is the
/// server's alone, so the bus cannot live in it).
fn mesh_node(
    data: &std::path::Path,
    bus: Option<PathBuf>,
) -> Result<std::sync::Arc<agentcell_host::serve::mesh::MeshNode>, agentcell_host::Error> {
    std::fs::create_dir_all(data)
        .map_err(|e| agentcell_host::Error::Call(format!("{}: {e}", data.display())))?;
    let bus = bus.unwrap_or_else(|| data.join("bus.db"));
    let bus =
        std::sync::Arc::new(agentcell_host::SqliteBus::open(&bus).map_err(agentcell_host::Error::Call)?);
    let rt = Runtime::builder().memory_storage().build()?;
    let keys = rt.mesh_load_or_create_key(&data.join("agent.key"))?;
    let machine = rt.mesh_load_or_create_key(&data.join("machine.key"))?;
    Ok(std::sync::Arc::new(agentcell_host::serve::mesh::MeshNode::new(keys, machine.id, bus)))
}

fn run(cli: Cli) -> Result<ExitCode, agentcell_host::Error> {
    match cli.command {
        Command::Version => {
            let rt = runtime(None, HttpPolicy::default())?;
            println!("{}", rt.version()?);
            println!("{}", rt.rust_version()?);
        }
        Command::Health => {
            let rt = runtime(None, HttpPolicy::default())?;
            let healthy = rt.health_check()?;
            let b = rt.describe_build()?;
            println!("healthy: {healthy}");
            println!("version: {}", b.version);
            println!("rustc: {}", b.rustc);
            println!("target: {} ({})", b.target, b.profile);
            println!("git commit: {}", b.git_commit.as_deref().unwrap_or("unknown"));
            println!("wit package: {}", b.wit_package);
            println!("component sha256: {}", agentcell_host::component_sha256());
            if !healthy {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Counter { name, add, storage } => {
            let rt = runtime(Some(&storage), HttpPolicy::default())?;
            let value = if add == 0 { rt.counter_get(&name)? } else { rt.counter_add(&name, add)? };
            println!("{value}");
        }
        Command::Bench { wasm } => bench(&wasm)?,
        Command::Serve {
            addr,
            storage,
            mut api_keys,
            no_auth,
            rate_limit,
            workers,
            allow_agents,
            agent_timeout,
            limits,
            plugins,
            bus,
        } => {
            if let Ok(env) = std::env::var("AGENTCELL_API_KEYS") {
                api_keys.extend(env.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string));
            }
            if api_keys.is_empty() && !no_auth {
                eprintln!(
                    "agentcell serve: give --api-key KEY (or AGENTCELL_API_KEYS), or --no-auth on purpose"
                );
                return Ok(ExitCode::from(2));
            }
            let backend = storage.backend(true)?;
            let plugins = match plugins {
                Some(file) => Some(std::sync::Arc::new(agentcell_host::plugins::PluginSet::from_file(
                    file,
                    Some(backend.clone()),
                )?)),
                None => None,
            };
            let addr = agentcell_host::serve::parse_addr(&addr)?;
            let mesh = mesh_node(&storage.data, bus)?;
            let workers =
                workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|e| agentcell_host::Error::Call(format!("cannot listen on {addr}: {e}")))?;
            let local = listener.local_addr().map_err(|e| agentcell_host::Error::Call(e.to_string()))?;
            let announce = move || {
                println!("agentcell serve: listening on http://{local}");
                let _ = std::io::stdout().flush();
            };
            let config = agentcell_host::serve::ServeConfig {
                storage: backend,
                api_keys,
                rate_limit_per_minute: rate_limit,
                workers,
                limits: limits.limits(),
                http: HttpPolicy::new(allow_agents, Duration::from_secs_f64(agent_timeout)),
                on_ready: Some(Box::new(announce)),
                mesh: Some(mesh),
                plugins,
            };
            agentcell_host::serve::serve(listener, config, agentcell_host::serve::shutdown_signal())?;
            // stdout may be closed by now (a supervisor that read only the first line).
            let _ = writeln!(std::io::stdout(), "agentcell serve: stopped");
        }
        Command::Flows(args) => return cli_flows::run(args),
        Command::Mesh(args) => return cli_mesh::run(args),
        Command::Plugin(args) => return Ok(cli_plugins::run(args)),
        Command::MemorySearch { dir, name, dimension, query, limit, min_similarity } => {
            let query: Vec<f32> = match query.split(',').map(|v| v.trim().parse()).collect() {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("--query: comma-separated floats: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let store = agentcell_host::memory::PartitionedStore::open_dir(&dir, &name, dimension)?;
            println!("{}", store.search(&query, limit, min_similarity)?);
        }
        Command::Probe { url, allow, timeout_ms } => {
            let rt = runtime(None, HttpPolicy::new(allow, Duration::from_millis(timeout_ms.into())))?;
            let p = rt.probe_url(&url, timeout_ms)?;
            println!(
                "{} {} healthy={} {} ms {} bytes",
                p.url, p.status, p.healthy, p.elapsed_ms, p.body_bytes
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[runs / 2]
}

fn bench(wasm: &std::path::Path) -> Result<(), agentcell_host::Error> {
    let rt = Runtime::builder().memory_storage().component_file(wasm).build()?;
    let noop = median_secs(2001, || rt.noop().unwrap());
    let mib = 1u32 << 20;
    let blob = rt.blob_out(mib, 0)?;
    let text = median_secs(21, || {
        rt.text_len(&blob).unwrap();
    });
    let blob_in = median_secs(21, || {
        rt.blob_in(&blob).unwrap();
    });
    let blob_out = median_secs(21, || drop(rt.blob_out(mib, 0).unwrap()));
    let rate = |s: f64| f64::from(mib) / s / 1e6;
    println!("no-op call            {:>10.2} us", noop * 1e6);
    println!("2 MiB string in       {:>10.1} MB/s", 2.0 * rate(text));
    println!("1 MiB blob in         {:>10.1} MB/s", rate(blob_in));
    println!("1 MiB blob out        {:>10.1} MB/s", rate(blob_out));
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agentcell: error [{}]: {e}", e.code());
            ExitCode::from(2)
        }
    }
}
