//! `agentcell`: the command line of the Rust host.

use agentcell_host::{HttpPolicy, Runtime};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

fn runtime(storage: Option<&StorageArgs>, http: HttpPolicy) -> Result<Runtime, agentcell_host::Error> {
    let builder = Runtime::builder().http(http);
    match storage {
        Some(s) if !s.memory => builder.sqlite_storage(s.data.join("agentcell.db"))?.build(),
        _ => builder.memory_storage().build(),
    }
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
        Command::Probe { url, allow, timeout_ms } => {
            let rt = runtime(None, HttpPolicy::new(allow, Duration::from_millis(timeout_ms.into())))?;
            let p = rt.probe_url(&url, timeout_ms)?;
            println!("{} {} healthy={} {} ms {} bytes", p.url, p.status, p.healthy, p.elapsed_ms, p.body_bytes);
        }
    }
    Ok(ExitCode::SUCCESS)
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
