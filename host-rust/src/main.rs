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
    /// Time calls into the component from this host (no-op, 1 MiB in and out)
    Bench,
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
        Command::Bench => bench()?,
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

fn bench() -> Result<(), agentcell_host::Error> {
    let rt = runtime(None, HttpPolicy::default())?;
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
