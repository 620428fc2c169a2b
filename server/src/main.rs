//! `doudi`: serve, migrate, demo and administration commands.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use doudi_protocol::role::Role;
use doudi_server::accounts::{self, NewAccount};
use doudi_server::config::{MetricsAccess, Settings};
use doudi_server::{app, backup, blobs, db, demo, regions, review};

/// mimalloc instead of the system allocator: under the sync ingest, glibc's malloc and free took
/// about a tenth of the server's CPU (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "doudi",
    version,
    about = "doudi (兜底): social-assistance field work server"
)]
struct Cli {
    /// TOML configuration file (also DOUDI_CONFIG).
    #[arg(long, global = true, env = "DOUDI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080; port 0 picks a free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory (SQLite database when DATABASE_URL is unset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply migrations, then serve the API and console.
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(ServeArgs),
    /// Create or reuse a demo database (default data dir: data/demo), seed it, and serve.
    Demo(ServeArgs),
    /// Region tree commands.
    Region {
        #[command(subcommand)]
        command: RegionCommand,
    },
    /// Region policy commands.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Working-day calendar (工作日) commands.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Projection commands.
    Projections {
        #[command(subcommand)]
        command: ProjectionCommand,
    },
    /// Account commands.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Re-check (复核) and visit (探访) task commands.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Photo and signature storage commands.
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// Back up the embedded SQLite database and the local blob store into DIR (new or empty),
    /// also while the server runs (PostgreSQL and S3: docs/OPERATIONS.md).
    Backup {
        dir: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The sync epoch that tells phones the database was restored.
    Epoch {
        #[command(subcommand)]
        command: EpochCommand,
    },
    /// Restore a backup made by `doudi backup` into the data directory; the server must be
    /// stopped. Checks the whole backup first.
    Restore {
        dir: PathBuf,
        /// Replace a database already in the data directory (it is moved aside, not deleted).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum EpochCommand {
    /// Give the database a new sync epoch, once, after it was recovered to an earlier point
    /// (PostgreSQL point-in-time recovery), with every server stopped; `doudi restore` does it
    /// on its own. Phones that synced after that point then push again what it lacks.
    Renew {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum BlobsCommand {
    /// Remove blobs no document points at, orphan objects and abandoned partial uploads older
    /// than the grace period; print what was removed.
    Gc {
        /// Grace period in hours (default: blobs.gc_grace_hours, 7 days).
        #[arg(long)]
        grace_hours: Option<u64>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TasksCommand {
    /// Create the due re-check and visit tasks of 低保 and 特困 households that do not exist yet
    /// (safe to run repeatedly, e.g. from cron) and print what was done.
    Schedule {
        /// The local date to schedule at (YYYY-MM-DD; default: today in China).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum RegionCommand {
    /// Import regions from a CSV file (code,parent_code,level,name); nothing is imported if any line is bad.
    Import {
        file: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Replace all policy layers with a JSON file `{"layers": [...]}` (docs/RULES.md); nothing
    /// changes if the file is invalid.
    Import {
        file: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CalendarCommand {
    /// Import the holidays and adjusted working days of whole years (`date,kind,name` lines,
    /// docs/RULES.md); each year in the file replaces what doudi had for it. Nothing changes if
    /// the file is invalid.
    Import {
        file: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ProjectionCommand {
    /// Recompute households, members, visits and reports from the stored documents.
    Rebuild {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add an account (e.g. the first admin). The password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// grid_worker, assistant, village_cadre, town_reviewer, county_approver or admin.
        #[arg(long)]
        role: String,
        /// Region code the account works in (repeat for several).
        #[arg(long = "region", required = true)]
        regions: Vec<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn settings(
    cli_config: Option<&PathBuf>,
    args: Option<&ServeArgs>,
    data_dir: Option<&PathBuf>,
) -> Result<Settings, String> {
    let mut s = Settings::load(cli_config.map(PathBuf::as_path)).map_err(|e| e.to_string())?;
    if let Some(a) = args {
        if let Some(l) = a.listen {
            s.listen = l;
        }
        if let Some(d) = &a.data_dir {
            s.data_dir = d.clone();
        }
    }
    if let Some(d) = data_dir {
        s.data_dir = d.clone();
    }
    Ok(s)
}

/// The settings, the text of `file` and the migrated database, for the import commands.
async fn open_with_file(
    cfg: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
    file: &Path,
) -> Result<(Settings, String, sea_orm::DatabaseConnection), String> {
    let s = settings(cfg, None, data_dir)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
    db::migrate(&conn).await.map_err(|e| e.to_string())?;
    Ok((s, text, conn))
}

async fn run(cli: Cli) -> Result<(), String> {
    let cfg = cli.config.as_ref();
    match cli.command {
        Command::Serve(args) => {
            let s = settings(cfg, Some(&args), None)?;
            let listener = TcpListener::bind(s.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            tracing::info!(database = db::backend_name(&s.database_url()), "starting");
            blobs::BlobService::from_settings(&s).map_err(|e| e.to_string())?;
            let (minutes, days) = (s.task_schedule_minutes, s.change_log_days);
            let state = app::prepare(s).await.map_err(|e| e.to_string())?;
            review::recheck::spawn_periodic(state.db.clone(), minutes);
            doudi_server::documents::compact::spawn_periodic(state.db.clone(), days);
            println!("doudi listening on http://{addr}");
            app::serve(state, listener, app::shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate(args) => {
            let s = settings(cfg, Some(&args), None)?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            println!(
                "migrations applied ({})",
                db::backend_name(&s.database_url())
            );
            Ok(())
        }
        Command::Demo(mut args) => {
            if args.data_dir.is_none() {
                args.data_dir = Some(PathBuf::from("data/demo"));
            }
            let mut s = settings(cfg, Some(&args), None)?;
            // The demo serves its metrics to this machine unless configured otherwise.
            let metrics = *s.metrics.get_or_insert(MetricsAccess::Loopback);
            let listener = TcpListener::bind(s.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let where_ = if s.database_url.is_some() {
                "DATABASE_URL".to_string()
            } else {
                s.data_dir.display().to_string()
            };
            let (minutes, days) = (s.task_schedule_minutes, s.change_log_days);
            let state = app::prepare(s).await.map_err(|e| e.to_string())?;
            demo::seed(&state.db, &state.identity, &state.settings)
                .await
                .map_err(|e| e.to_string())?;
            review::recheck::spawn_periodic(state.db.clone(), minutes);
            doudi_server::documents::compact::spawn_periodic(state.db.clone(), days);
            println!("doudi 演示 / demo — data: {where_}");
            println!("  地址 / address:  http://{addr}");
            println!(
                "  控制台 / console: http://{addr}/console   (乡镇、县级审核 / town and county reviewers)"
            );
            println!(
                "  API:             http://{addr}/api/v1   (OpenAPI: http://{addr}/openapi.json)"
            );
            // Listening on every address, this machine asks on loopback.
            let local = match addr.ip().is_unspecified() {
                true => SocketAddr::from(([127, 0, 0, 1], addr.port())),
                false => addr,
            };
            match metrics {
                MetricsAccess::Loopback => println!(
                    "  监控 / metrics:  http://{local}/metrics   (仅本机 / this machine only)"
                ),
                MetricsAccess::Token => println!(
                    "  监控 / metrics:  http://{addr}/metrics   (Authorization: Bearer <metrics_token>)"
                ),
                MetricsAccess::Off => {}
            }
            println!(
                "  演示账号 / demo logins (password: {}):",
                demo::DEMO_PASSWORD
            );
            for (user, name, role, region) in demo::DEMO_ACCOUNTS {
                println!(
                    "    {user:<16} {role:<16} {name} {} ({region})",
                    role.label_zh()
                );
            }
            println!("  Ctrl-C 停止 / to stop");
            app::serve(state, listener, app::shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Policy {
            command: PolicyCommand::Import { file, data_dir },
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let book: doudi_protocol::rules::policy::PolicyBook = serde_json::from_str(&text)
                .map_err(|e| {
                    format!(
                        "{}: invalid policy file: {e}; nothing changed",
                        file.display()
                    )
                })?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let v = doudi_server::policies::import(&conn, &book, None)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "policy imported: {} layers, version {v}",
                book.layers().count()
            );
            Ok(())
        }
        Command::Calendar {
            command: CalendarCommand::Import { file, data_dir },
        } => {
            let (_, text, conn) = open_with_file(cfg, data_dir.as_ref(), &file).await?;
            let (years, days) = review::calendar::import(&conn, &text)
                .await
                .map_err(|e| format!("{}: {e}; 未做任何修改 / nothing changed", file.display()))?;
            let years: Vec<String> = years.iter().map(i32::to_string).collect();
            println!(
                "工作日日历已导入 / calendar imported: {} ({days} days listed)",
                years.join(", ")
            );
            Ok(())
        }
        Command::Tasks {
            command: TasksCommand::Schedule { date, data_dir },
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let today = date
                .or_else(review::deadlines::today)
                .ok_or("cannot tell today's date")?;
            let r = review::recheck::run(&conn, today)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "tasks scheduled for {today}: {} households, {} created ({} unassigned), {} assigned, {} superseded, {} skipped",
                r.households, r.created, r.unassigned, r.assigned_later, r.superseded, r.errors
            );
            Ok(())
        }
        Command::Projections {
            command: ProjectionCommand::Rebuild { data_dir },
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let n = doudi_server::documents::projection::rebuild_all(&conn)
                .await
                .map_err(|e| e.to_string())?;
            println!("projections rebuilt from {n} documents");
            Ok(())
        }
        Command::Region {
            command: RegionCommand::Import { file, data_dir },
        } => {
            let (s, text, conn) = open_with_file(cfg, data_dir.as_ref(), &file).await?;
            match regions::import_csv(&conn, &text, s.max_region_import_rows, None).await {
                Ok(r) => {
                    println!(
                        "imported: {} created, {} renamed, {} unchanged",
                        r.created, r.renamed, r.unchanged
                    );
                    Ok(())
                }
                Err(regions::ImportError::Lines(lines)) => {
                    for l in &lines {
                        eprintln!(
                            "{}:{}: {} ({})",
                            file.display(),
                            l.line,
                            l.message,
                            l.message_en
                        );
                    }
                    Err(format!("{} bad line(s); nothing was imported", lines.len()))
                }
                Err(regions::ImportError::Db(e)) => Err(e.to_string()),
            }
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    display_name,
                    role,
                    regions,
                    data_dir,
                },
        } => {
            let role = Role::parse(&role).ok_or_else(|| format!("unknown role '{role}'"))?;
            let s = settings(cfg, None, data_dir.as_ref())?;
            eprintln!("password for {username} (one line on standard input):");
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| e.to_string())?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let acc = accounts::create(
                &conn,
                NewAccount {
                    username,
                    display_name,
                    role,
                    password,
                    region_codes: regions,
                },
            )
            .await
            .map_err(|e| {
                let b = e.body();
                format!("{}: {} ({})", b.code, b.message, b.message_en)
            })?;
            println!("account {} created with id {}", acc.username, acc.id);
            Ok(())
        }
        Command::Backup { dir, data_dir } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let target = dir.clone();
            let m = tokio::task::spawn_blocking(move || backup::backup(&s, &target))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            println!(
                "backup written to {}: database {} bytes (sha256 {}, feed {}), {} blobs ({} bytes), {} unreferenced blobs gone from the store left out",
                dir.display(),
                m.database.bytes,
                m.database.sha256,
                m.database.feed_seq,
                m.blobs.count,
                m.blobs.bytes,
                m.blobs.left_out.len()
            );
            Ok(())
        }
        Command::Restore {
            dir,
            force,
            data_dir,
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let r = tokio::task::spawn_blocking(move || backup::restore(&s, &dir, force))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            for old in &r.moved_aside {
                println!("moved aside {}", old.display());
            }
            let taken = chrono::DateTime::from_timestamp_millis(r.manifest.created_at_ms)
                .map_or_else(|| r.manifest.created_at_ms.to_string(), |t| t.to_rfc3339());
            println!(
                "restored {} from the backup begun at {taken} (feed {}) with {} blobs ({} bytes); \
                 new sync epoch {}: phones that synced after that time push again what it lacks \
                 (docs/OPERATIONS.md)",
                r.database.display(),
                r.manifest.database.feed_seq,
                r.manifest.blobs.count,
                r.manifest.blobs.bytes,
                r.epoch
                    .map_or_else(|| "at its migration".to_string(), |e| e.to_string())
            );
            Ok(())
        }
        Command::Epoch {
            command: EpochCommand::Renew { data_dir },
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let epoch = doudi_server::sync::epoch::renew(&conn)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "新的同步纪元 / new sync epoch {epoch}: phones that synced after the recovery point push again what the database lacks"
            );
            Ok(())
        }
        Command::Blobs {
            command:
                BlobsCommand::Gc {
                    grace_hours,
                    data_dir,
                },
        } => {
            let s = settings(cfg, None, data_dir.as_ref())?;
            let hours = grace_hours.unwrap_or(s.blobs.gc_grace_hours);
            let service = blobs::BlobService::from_settings(&s).map_err(|e| e.to_string())?;
            let conn = db::connect(&s).await.map_err(|e| e.to_string())?;
            db::migrate(&conn).await.map_err(|e| e.to_string())?;
            let grace_ms = i64::try_from(hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX);
            let r = blobs::gc(&conn, &service, grace_ms)
                .await
                .map_err(|e| e.to_string())?;
            for sha in &r.blobs {
                println!("removed blob {sha}");
            }
            for sha in &r.orphans {
                println!("removed orphan object {sha}");
            }
            for name in &r.partials {
                println!("removed partial upload {name}");
            }
            println!(
                "blobs gc ({} store, grace {hours} h): {} blobs, {} orphan objects, {} partial uploads, {} bytes removed",
                service.store.kind(),
                r.blobs.len(),
                r.orphans.len(),
                r.partials.len(),
                r.bytes
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The log format is a setting; settings that do not load are reported by the command.
    let format = Settings::load(cli.config.as_deref())
        .map(|s| s.log_format)
        .unwrap_or_default();
    if tracing::subscriber::set_global_default(app::log_subscriber(format, std::io::stderr))
        .is_err()
    {
        eprintln!("doudi: cannot set up logging");
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("doudi: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doudi: {e}");
            ExitCode::FAILURE
        }
    }
}
