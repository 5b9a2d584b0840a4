//! `lodestone serve`: the MES over HTTP with the web dashboard; `--demo` runs the reference
//! plant's twin live against a fresh database.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use lodestone_server::auth::{SessionPolicy, Sessions};
use lodestone_server::limits::Limits;
use lodestone_server::{demo, AppState};

/// Arguments of `lodestone serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// MES database: a SQLite file path or `sqlite:PATH`, or a `postgres://` URL (created
    /// with `lodestone mes init`). Not with --demo.
    #[arg(long, env = "LODESTONE_DB", conflicts_with = "demo")]
    db: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Demo: a fresh database with the reference plant (in a temporary directory, or
    /// --demo-dir), its twin running at --speed, and demo logins.
    #[arg(long)]
    demo: bool,
    /// Where the demo keeps its database (default: a temporary directory removed at exit).
    #[arg(long, requires = "demo")]
    demo_dir: Option<PathBuf>,
    /// Demo speed, simulated seconds per real second (3600: an hour per second; change it
    /// live on the dashboard).
    #[arg(long, default_value_t = demo::DEFAULT_SPEED, requires = "demo")]
    speed: f64,
    /// Request log on stderr: `json` (one object per line, for log shippers), `text`, or
    /// `off`.
    #[arg(long, default_value = "text", value_parser = ["json", "text", "off"])]
    log: String,
    /// Minutes without a request after which a login session ends (default 480: a shift).
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..=10_080))]
    session_idle_min: u64,
    /// Hours after login at which a session ends however much it is used (default 12).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=168))]
    session_lifetime_h: u64,
    /// The server is reached over HTTPS through a TLS-terminating reverse proxy: the session
    /// cookie is marked `Secure` (docs/security.md).
    #[arg(long)]
    behind_tls: bool,
    /// Connections served at once; more wait in the listen backlog. Keep it below the
    /// process's open-file limit (`ulimit -n`).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_connections: u64,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_s: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout_s: u64,
    /// Seconds a request may take (not the event stream or the computations); past it 503.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_s: u64,
    /// Largest request body, KiB (the login body is capped at 4 KiB).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    max_body_kib: u64,
    /// SX simulations and alloy charges running at once; beyond it 503 with Retry-After.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    max_computations: u64,
    /// Seconds one SX simulation or alloy charge may take before it is stopped.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    compute_timeout_s: u64,
    /// Audit-chain checks (`/api/audit/verify`) running at once; beyond it 503.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    max_chain_checks: u64,
    /// Seconds one audit-chain check may take before it is stopped.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    chain_check_timeout_s: u64,
    /// Password checks (logins) running at once, each an argon2 verification (tens of ms of
    /// CPU, 19 MiB) on a request thread; a login waits up to 2 s for a slot, then 503.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    max_logins: u64,
    /// Sign audit checkpoints with this key file (`lodestone mes audit keygen`; keep it off
    /// the database host) and append them to --checkpoint-file every --checkpoint-every-min.
    #[arg(long, requires = "checkpoint_file")]
    checkpoint_key: Option<PathBuf>,
    /// File the audit checkpoints are appended to (keep it off the database host); check
    /// them with `lodestone mes audit verify --checkpoints FILE --key FILE`.
    #[arg(long, requires = "checkpoint_key")]
    checkpoint_file: Option<PathBuf>,
    /// Minutes between audit checkpoints (the first is written at start).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1440))]
    checkpoint_every_min: u64,
    /// Print the API's OpenAPI 3.1 document (JSON) and exit, e.g. to generate a client;
    /// needs no database.
    #[arg(long, conflicts_with_all = ["db", "demo"])]
    print_openapi: bool,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if args.print_openapi {
        let doc = lodestone_server::openapi()
            .to_pretty_json()
            .context("serialising the OpenAPI document")?;
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    if !(args.speed >= 0.0 && args.speed <= demo::MAX_SPEED) {
        anyhow::bail!(
            "--speed: {} is not allowed; expected 0 to {} simulated seconds per second",
            args.speed,
            demo::MAX_SPEED
        );
    }
    match args.log.as_str() {
        "json" => tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .init(),
        "text" => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init(),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen: cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let mut _temp = None;
    let (mes, demo) = if args.demo {
        let dir = match &args.demo_dir {
            Some(d) => {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
                d.clone()
            }
            None => {
                let t = tempfile::tempdir().context("creating a temporary directory")?;
                let path = t.path().to_path_buf();
                _temp = Some(t);
                path
            }
        };
        let db = dir.join(format!(
            "demo-{}.db",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        let url = db.display().to_string();
        let (mes, demo) = demo::Demo::start(&url, args.speed)
            .await
            .with_context(|| format!("creating the demo plant in {url}"))?;
        eprintln!("demo plant database: {url}");
        (mes, Some(demo))
    } else {
        let url = args
            .db
            .as_deref()
            .context("give --db (or LODESTONE_DB), or --demo for a demo plant")?;
        let mes = lodestone_mes::Mes::open(url)
            .await
            .with_context(|| format!("opening the MES {url}"))?;
        (mes, None)
    };
    // In the database: a restart keeps logins, and servers on one database share them.
    let sessions = Sessions::in_database(
        SessionPolicy {
            idle: Duration::from_secs(args.session_idle_min * 60),
            lifetime: Duration::from_secs(args.session_lifetime_h * 3600),
            secure_cookie: args.behind_tls,
        },
        mes.db().pool().clone(),
    );
    let limits = Limits {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_secs(args.header_timeout_s),
        body_timeout: Duration::from_secs(args.body_timeout_s),
        request_timeout: Duration::from_secs(args.request_timeout_s),
        max_body_bytes: args.max_body_kib as usize * 1024,
        max_computations: args.max_computations as usize,
        compute_timeout: Duration::from_secs(args.compute_timeout_s),
        max_chain_checks: args.max_chain_checks as usize,
        chain_check_timeout: Duration::from_secs(args.chain_check_timeout_s),
        max_logins: args.max_logins as usize,
    };
    let checkpoints = match (&args.checkpoint_key, &args.checkpoint_file) {
        (Some(key), Some(file)) => {
            let key =
                lodestone_mes::audit::CheckpointKey::from_file(key).context("--checkpoint-key")?;
            let policy = lodestone_server::checkpoint::CheckpointPolicy {
                key,
                file: file.clone(),
                every: Duration::from_secs(args.checkpoint_every_min * 60),
            };
            Some(lodestone_server::checkpoint::spawn(mes.clone(), policy))
        }
        _ => None,
    };
    let state = Arc::new(AppState::new(mes, sessions, demo, limits));
    println!("Lodestone is serving http://{address}/");
    if state.demo.is_some() {
        println!("demo logins (user / password):");
        for (user, name, _, password) in demo::USERS {
            println!("  {user:9} / {password:19} {name}");
        }
        let (twin, twin_password) = demo::TWIN_USER;
        println!("  {twin:9} / {twin_password:19} the plant twin's own account (admin; it records the plant)");
        println!(
            "the plant runs at {} simulated seconds per real second; Ctrl-C stops it",
            args.speed
        );
    }
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminate = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    };
    lodestone_server::serve(listener, state.clone(), shutdown).await?;
    if let Some(task) = checkpoints {
        task.abort();
    }
    // Requests have finished; the twin writes what it buffered before the database closes.
    if let Some(demo) = &state.demo {
        let events = demo.stop()?;
        eprintln!("the twin stopped after recording {events} events");
    }
    state.mes.close().await;
    Ok(ExitCode::SUCCESS)
}
