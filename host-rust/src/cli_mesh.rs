//! `agentcell mesh`: x0x's pub/sub and task lists from the command line, on the SQLite
//! bus in the data file (the same log the Python host uses, so both meet).

use agentcell_host::mesh::{unhex, TaskOp};
use agentcell_host::{Bus, Error, Runtime, SqliteBus};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct MeshArgs {
    /// The SQLite file holding the bus and the task-list replicas
    #[arg(long, default_value = "agentcell-data/agentcell.db")]
    data: PathBuf,
    /// The agent's key file (upstream's format; created when absent)
    #[arg(long, default_value = "agent.key")]
    key: PathBuf,
    #[command(subcommand)]
    command: MeshCommand,
}

#[derive(clap::Subcommand)]
enum MeshCommand {
    /// Print this agent's id
    Id,
    /// Sign and publish each MESSAGE (UTF-8) on TOPIC
    Publish { topic: String, messages: Vec<String> },
    /// Print messages on TOPIC as JSON lines ({id, sender, timestamp_ms, payload})
    Subscribe {
        topic: String,
        /// Stop after this many messages (0: never)
        #[arg(long, default_value_t = 0)]
        count: usize,
        /// Read the topic's whole log, not only what comes from now on
        #[arg(long)]
        from_start: bool,
    },
    /// Create (or join) the task list on TOPIC named NAME
    CreateList { topic: String, name: String },
    /// Add a task; prints its id
    Add {
        topic: String,
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value_t = 128)]
        priority: u8,
    },
    /// Claim a task
    Claim { topic: String, task: String },
    /// Complete a claimed task
    Complete { topic: String, task: String },
    /// Apply what the bus holds for TOPIC, then print the list as JSON
    List { topic: String },
}

fn open(args: &MeshArgs) -> Result<(Runtime, Arc<SqliteBus>), Error> {
    if let Some(dir) = args.data.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::Call(format!("{}: {e}", dir.display())))?;
    }
    let bus = Arc::new(SqliteBus::open(&args.data).map_err(Error::Call)?);
    let rt = Runtime::builder().sqlite_storage(&args.data)?.bus(bus.clone()).build()?;
    Ok((rt, bus))
}

/// Hands everything on the bus for `topic` to the component (task-ops get applied).
fn catch_up(rt: &Runtime, bus: &SqliteBus, topic: &str) -> Result<(), Error> {
    let mut at = 0;
    loop {
        let batch = bus.read(topic, at, 256, Duration::ZERO).map_err(Error::Call)?;
        let Some(last) = batch.last() else { return Ok(()) };
        at = last.0;
        let envelopes: Vec<String> = batch.into_iter().map(|(_, e)| e).collect();
        rt.mesh_open(topic, &envelopes)?;
    }
}

pub fn run(args: MeshArgs) -> Result<ExitCode, Error> {
    let (rt, bus) = open(&args)?;
    let keys = rt.mesh_load_or_create_key(&args.key)?;
    match args.command {
        MeshCommand::Id => println!("{}", keys.id),
        MeshCommand::Publish { topic, messages } => {
            for m in messages {
                println!("{}", rt.mesh_publish(&keys, &topic, m.as_bytes())?);
            }
        }
        MeshCommand::Subscribe { topic, count, from_start } => {
            let mut at = if from_start { 0 } else { bus.end(&topic).map_err(Error::Call)? };
            let mut seen = std::collections::HashSet::new();
            let mut printed = 0;
            while count == 0 || printed < count {
                let batch = bus.read(&topic, at, 256, Duration::from_millis(500)).map_err(Error::Call)?;
                let Some(last) = batch.last() else { continue };
                at = last.0;
                let envelopes: Vec<String> = batch.into_iter().map(|(_, e)| e).collect();
                let carried = rt.mesh_open(&topic, &envelopes)?.into_iter().flat_map(|r| match r {
                    Ok(items) => items.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                });
                for opened in carried {
                    match opened {
                        Ok(o) if matches!(o.kind, agentcell_host::mesh::EnvelopeKind::Message) => {
                            if !seen.insert(o.id.clone()) {
                                continue;
                            }
                            let payload = String::from_utf8_lossy(&unhex(&o.payload)?).into_owned();
                            let line = serde_json::json!({"id": o.id, "sender": o.sender,
                                "timestamp_ms": o.timestamp_ms, "payload": payload});
                            println!("{line}");
                            printed += 1;
                            if count != 0 && printed >= count {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(r) => eprintln!("refused ({:?}): {}", r.reason, r.message),
                    }
                }
            }
        }
        MeshCommand::CreateList { topic, name } => {
            println!("{}", rt.mesh_create_task_list(&keys, &name, &topic)?)
        }
        MeshCommand::Add { topic, title, description, priority } => {
            catch_up(&rt, &bus, &topic)?;
            println!(
                "{}",
                rt.mesh_change_task_list(&keys, &topic, &TaskOp::Add((title, description, priority)))?
            );
        }
        MeshCommand::Claim { topic, task } => {
            catch_up(&rt, &bus, &topic)?;
            rt.mesh_change_task_list(&keys, &topic, &TaskOp::Claim(task))?;
        }
        MeshCommand::Complete { topic, task } => {
            catch_up(&rt, &bus, &topic)?;
            rt.mesh_change_task_list(&keys, &topic, &TaskOp::Complete(task))?;
        }
        MeshCommand::List { topic } => {
            catch_up(&rt, &bus, &topic)?;
            match rt.mesh_get_task_list(&topic)? {
                Some(view) => println!("{view}"),
                None => {
                    eprintln!("no task list on topic {topic:?}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
