//! `lodestone mes …`: the MES from the terminal — create a database, load the plant model, run
//! orders and record material, trace lots, and check the audit trail.

mod spc;
mod trace;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_mes::audit::{read_checkpoints, CheckpointKey};
use lodestone_mes::command::{LotQuantity, SignatureInput};
use lodestone_mes::genealogy::Direction;
use lodestone_mes::model::{OrderAction, SignatureMeaning};
use lodestone_mes::{Command, Envelope, Mes, Session};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the MES database is and who is acting.
#[derive(Args)]
pub struct MesArgs {
    /// Database: an SQLite file (default lodestone.db) or a postgres:// URL.
    #[arg(
        long,
        env = "LODESTONE_DB",
        default_value = "lodestone.db",
        global = true
    )]
    db: String,
    /// User to act as (password from LODESTONE_PASSWORD, or asked for on the terminal).
    #[arg(long, env = "LODESTONE_USER", default_value = "admin", global = true)]
    user: String,
    #[command(subcommand)]
    command: MesCommand,
}

/// MES subcommands.
#[derive(Subcommand)]
pub enum MesCommand {
    /// Create a new MES database and its first administrator (--user).
    Init {
        /// Administrator's full name.
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
    /// Load a plant model (equipment, materials, work masters, users) from TOML; all or nothing.
    Load {
        /// Plant file (format: docs/mes-plant-format.md).
        file: PathBuf,
    },
    /// Execute commands from a JSON file ('-' for stdin): one object or an array, as in the
    /// HTTP API (e.g. {"command":"receive-lot","lot":"L1",...}); an array is one transaction.
    Exec {
        /// JSON file.
        file: PathBuf,
    },
    /// Job orders: create, release, dispatch, start, complete, hold, resume, abort, cancel, list.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Lots: receive, show, list, split, merge, ship, hold, release, reject.
    #[command(subcommand)]
    Lot(LotCommand),
    /// Users: add one, or change roles (admin).
    #[command(subcommand)]
    User(UserCommand),
    /// Record a unit's operating state (running, idle, starved, blocked, unplanned_down, setup,
    /// changeover, planned_down, break, not_scheduled) — the basis of OEE.
    State {
        /// Unit.
        equipment: String,
        /// New state.
        state: String,
        /// Downtime cause.
        #[arg(long)]
        cause: Option<String>,
        /// When (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Record material consumed by a running order.
    Consume {
        /// Order id.
        order: String,
        /// Lot drawn on.
        lot: String,
        /// Quantity, kg.
        kg: f64,
    },
    /// Record a lot produced by a running order.
    Produce {
        /// Order id.
        order: String,
        /// New lot id.
        lot: String,
        /// Quantity, kg.
        kg: f64,
        /// Chemistry, e.g. Nd=23.4,Pr=7.5,B=0.95 (wt%).
        #[arg(long)]
        chem: Option<String>,
        /// Material use: produced, by-product, co-product, scrap.
        #[arg(long = "use")]
        material_use: Option<String>,
    },
    /// Trace a lot backward (what went into it) or forward (where it went).
    ///
    /// Prints a tree; --json for machines, --dot for Graphviz, --svg FILE for a drawing.
    Trace {
        /// Lot id.
        lot: String,
        /// Walk forward instead of backward.
        #[arg(long)]
        forward: bool,
        /// Most steps to walk.
        #[arg(long, default_value_t = 100)]
        depth: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print Graphviz DOT.
        #[arg(long)]
        dot: bool,
        /// Write an SVG drawing.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Recall scope of a suspect lot: every lot made from it, the share and kg from it, and
    /// what to do (block stock, notify customers).
    Recall {
        /// Suspect lot.
        lot: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a material definition or a supplier's lot was used: every step that consumed it.
    WhereUsed {
        /// Material definition id or supplier lot id.
        what: String,
        #[arg(long)]
        json: bool,
    },
    /// Work that shared a unit with a lot's processing in overlapping time windows
    /// (contamination and co-processing checks).
    CoProcessed {
        lot: String,
        #[arg(long)]
        json: bool,
    },
    /// Element balance of a step (an order id, split-N, merge-N, continuous-N): kg in, out, lost.
    Balance {
        /// Step id.
        step: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Quality: specifications, lab results (one or a CSV), proposed disposition, sampling due,
    /// nonconformances, certificates of analysis.
    #[command(subcommand)]
    Quality(QualityCommand),
    /// Control chart (I-MR, X̄-R, X̄-S with run rules and capability; EWMA; CUSUM) of lab
    /// results in the MES (--definition, --property) or of a CSV file; SVG with --svg.
    ///
    /// Example: lodestone mes spc --definition N52-flake --property Nd --phase1 25 --svg nd.svg
    /// Example: lodestone mes spc --csv lab.csv --chart ewma --lambda 0.2 --exclude 3,7
    Spc(Box<spc::SpcArgs>),
    /// OEE of a unit over a window, from its recorded states and production.
    Oee(spc::OeeArgs),
    /// The audit trail: verify the hash chain, or list a record's or a user's history.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the current-state tables by replaying every event.
    Rebuild,
}

/// Order subcommands.
#[derive(Subcommand)]
pub enum OrderCommand {
    /// Create an order from the latest version of a work master.
    Create {
        /// Order id.
        id: String,
        /// Work master id.
        #[arg(long)]
        work_master: String,
        /// Planned quantity, kg.
        #[arg(long)]
        kg: f64,
        /// Unit.
        #[arg(long)]
        equipment: Option<String>,
        /// Priority (higher first).
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// Release to the floor.
    Release { id: String },
    /// Dispatch to a unit.
    Dispatch {
        id: String,
        #[arg(long)]
        equipment: Option<String>,
    },
    /// Start.
    Start { id: String },
    /// Complete.
    Complete { id: String },
    /// Hold.
    Hold { id: String },
    /// Resume after a hold.
    Resume { id: String },
    /// Abort.
    Abort { id: String },
    /// Cancel before it starts.
    Cancel { id: String },
    /// Show an order and its material actuals (what it consumed and produced).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List orders.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Lot subcommands.
#[derive(Subcommand)]
pub enum LotCommand {
    /// Receive a lot into stock.
    Receive {
        /// New lot id.
        lot: String,
        /// Material definition.
        #[arg(long)]
        definition: String,
        /// Quantity, kg.
        #[arg(long)]
        kg: f64,
        /// Supplier's lot id.
        #[arg(long)]
        supplier_lot: Option<String>,
        /// Storage location.
        #[arg(long)]
        location: Option<String>,
        /// Certificate chemistry, e.g. Nd=75,Pr=25 (wt%).
        #[arg(long)]
        chem: Option<String>,
    },
    /// Show a lot.
    Show {
        lot: String,
        #[arg(long)]
        json: bool,
    },
    /// List lots, newest first.
    List {
        /// Only this material definition.
        #[arg(long)]
        definition: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Split a lot: --part NEW_ID=KG (repeat).
    Split {
        source: String,
        #[arg(long = "part", required = true)]
        parts: Vec<String>,
    },
    /// Merge lots into a new one: --source ID=KG (repeat) --into NEW_ID.
    Merge {
        #[arg(long = "source", required = true)]
        sources: Vec<String>,
        #[arg(long)]
        into: String,
    },
    /// Ship what remains of a released lot.
    Ship {
        lot: String,
        #[arg(long)]
        customer: String,
    },
    /// Put a lot on QA hold.
    Hold { lot: String },
    /// Release a lot (electronic signature: password from LODESTONE_SIGN_PASSWORD or asked).
    /// Refused while the lot or the lot it was split from fails its specification, misses
    /// results or has an open NCR, unless released under a deviation (--deviation and
    /// --deviation-reason, meaning deviation-approval, role qa-manager or admin).
    Release {
        lot: String,
        /// Meaning of the signature: approval or responsibility; deviation-approval (the
        /// default with --deviation) under a deviation.
        #[arg(long)]
        meaning: Option<String>,
        /// Deviation or concession reference, to release despite failing or missing results
        /// or open NCRs.
        #[arg(long, requires = "deviation_reason")]
        deviation: Option<String>,
        /// Why the material is accepted as it is (with --deviation).
        #[arg(long, requires = "deviation")]
        deviation_reason: Option<String>,
    },
    /// Reject a lot (electronic signature).
    Reject {
        lot: String,
        #[arg(long, default_value = "approval")]
        meaning: String,
    },
}

/// User subcommands.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user (initial password from LODESTONE_NEW_PASSWORD, or asked).
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// Role (repeat): operator, qa, qa-manager, planner, engineer, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Change your own password (the current one is LODESTONE_PASSWORD; the new one from
    /// LODESTONE_NEW_PASSWORD, or asked). 10–256 characters, not the user id, not a common one.
    Passwd,
    /// Set a new password for a user (admin); the user must change it at the next login. The
    /// temporary password comes from LODESTONE_NEW_PASSWORD, or is asked.
    Reset { id: String },
    /// Replace a user's roles, or deactivate the user.
    Roles {
        id: String,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Deactivate: the user can no longer log in or sign.
        #[arg(long)]
        inactive: bool,
    },
}

/// Quality subcommands.
#[derive(Subcommand)]
pub enum QualityCommand {
    /// Show the specification in force for a material definition.
    Spec {
        definition: String,
        #[arg(long)]
        json: bool,
    },
    /// Record one lab result.
    Result {
        lot: String,
        /// Property: element symbol (wt%) or a named property.
        property: String,
        value: f64,
        #[arg(long, default_value = "wt%")]
        unit: String,
        #[arg(long)]
        sample: Option<String>,
        #[arg(long)]
        method: Option<String>,
        /// Why (required when correcting an earlier result, by good practice).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Import lab results from CSV (columns lot, property, value, unit [, sample, method, at]);
    /// the whole file is one transaction.
    Import { file: PathBuf },
    /// Check a lot's latest results against its specification; propose a disposition.
    Evaluate {
        lot: String,
        #[arg(long)]
        json: bool,
    },
    /// Lots waiting for a sample under their sampling plan.
    Due,
    /// Open a nonconformance on a lot (the lot goes on hold).
    Ncr {
        id: String,
        #[arg(long)]
        lot: String,
        #[arg(long)]
        description: String,
        /// minor, major or critical.
        #[arg(long, default_value = "major")]
        severity: String,
    },
    /// Close a nonconformance with a decision (signed): use-as-is, rework, regrade, scrap,
    /// return-to-supplier.
    CloseNcr {
        id: String,
        #[arg(long)]
        decision: String,
        #[arg(long, default_value = "approval")]
        meaning: String,
    },
    /// Write the certificate of analysis of a lot as HTML (print to PDF from a browser).
    Coa {
        lot: String,
        /// Output file.
        #[arg(long)]
        html: PathBuf,
        /// Issuer printed on the certificate.
        #[arg(long, default_value = "Quality department")]
        issuer: String,
    },
}

/// Audit subcommands.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute every event's hash and link; with --checkpoints and --key, also check every
    /// signed checkpoint against the chain (finds truncation, a deleted tail, forged or
    /// re-hashed events up to the last checkpoint); exit 1 if anything does not hold.
    ///
    /// Example: lodestone mes audit verify --checkpoints /mnt/audit/plant.ckpt --key /etc/lodestone/audit.key --from-checkpoint
    Verify {
        /// Checkpoint file written by `audit checkpoint` (one signed line per checkpoint).
        #[arg(long, requires = "key")]
        checkpoints: Option<PathBuf>,
        /// Key file the checkpoints were signed with (keep it off the database host).
        #[arg(long, requires = "checkpoints")]
        key: Option<PathBuf>,
        /// Hash only the events after the newest checkpoint (routine use on a large chain;
        /// run a full check now and then).
        #[arg(long, requires = "checkpoints")]
        from_checkpoint: bool,
        /// Also replay every event into a scratch database and compare the projection tables
        /// (users and roles, lots, orders, …) row by row with this database.
        #[arg(long)]
        deep: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify the chain (from the newest checkpoint in --out, or fully), sign its head with
    /// --key and append the checkpoint to --out; the line is also printed.
    ///
    /// Example: lodestone mes audit checkpoint --key /etc/lodestone/audit.key --out /mnt/audit/plant.ckpt
    Checkpoint {
        /// Key file (at least 32 bytes; `audit keygen` writes one).
        #[arg(long)]
        key: PathBuf,
        /// Checkpoint file to append to (created if missing); keep it off the database host.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a new random checkpoint key (32 bytes, hex) to a file that must not exist yet,
    /// readable by its owner only.
    Keygen {
        /// Key file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// History of a record: lot:ID, order:ID, equipment:ID, user:ID (what was done to it),
    /// or --by USER (what the user did).
    Trail {
        /// Record, e.g. lot:H-0001, order:H-0001, user:qa1, equipment:line-01.
        subject: Option<String>,
        /// Only what this user did.
        #[arg(long)]
        by: Option<String>,
        /// Recorded at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        from: Option<String>,
        /// Recorded before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 10_000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

fn password_for(user: &str, env_var: &str, prompt: &str) -> Result<String> {
    if let Ok(p) = std::env::var(env_var) {
        return Ok(p);
    }
    eprint!("{prompt} for '{user}' (or set {env_var}): ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn parse_pairs(field: &str, text: &str) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("{field}: '{pair}' is not KEY=VALUE"))?;
        let value: f64 = v
            .trim()
            .parse()
            .with_context(|| format!("{field}: '{v}' in '{pair}' is not a number"))?;
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

fn lot_quantities(field: &str, items: &[String]) -> Result<Vec<LotQuantity>> {
    items
        .iter()
        .map(|item| {
            let (lot, kg) = item
                .split_once('=')
                .with_context(|| format!("{field}: '{item}' is not LOT=KG"))?;
            Ok(LotQuantity {
                lot: lot.to_string(),
                quantity_kg: kg.parse().with_context(|| {
                    format!("{field}: '{kg}' in '{item}' is not a number of kg")
                })?,
            })
        })
        .collect()
}

/// Runs a MES subcommand.
pub fn run(args: MesArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn login(mes: &Mes, user: &str) -> Result<Session> {
    let password = password_for(user, "LODESTONE_PASSWORD", "Password")?;
    Ok(mes.login(user, &password).await?)
}

async fn run_async(args: MesArgs) -> Result<ExitCode> {
    // Charting a CSV file needs no database.
    if let MesCommand::Spc(spc_args) = &args.command {
        if spc_args.is_offline() {
            return spc::run_spc(None, spc_args).await;
        }
    }
    if let MesCommand::Init { name } = &args.command {
        let password = password_for(
            &args.user,
            "LODESTONE_PASSWORD",
            "New administrator password",
        )?;
        let mes = Mes::create(&args.db).await?;
        mes.bootstrap_admin(&args.user, name, &password).await?;
        println!(
            "created MES database {} with administrator '{}'",
            args.db, args.user
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let MesCommand::Audit(AuditCommand::Keygen { out }) = &args.command {
        CheckpointKey::generate_file(out)?;
        println!(
            "wrote a new checkpoint key to {} (keep it off the database host)",
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mes = Mes::open(&args.db).await?;
    let result = dispatch(&mes, &args).await;
    mes.close().await;
    result
}

async fn execute(mes: &Mes, session: &Session, command: Command) -> Result<()> {
    let name = command.name();
    let receipt = mes.execute(session, Envelope::from(command)).await?;
    println!(
        "{name}: recorded as event {} ({})",
        receipt.seq, receipt.event
    );
    Ok(())
}

async fn dispatch(mes: &Mes, args: &MesArgs) -> Result<ExitCode> {
    // Every command, reads included, is done by an authenticated user.
    let session = login(mes, &args.user).await?;
    session.require(lodestone_mes::model::Permission::Read, "read MES records")?;
    match &args.command {
        MesCommand::Init { .. } => unreachable!("handled before opening"),
        MesCommand::Load { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let commands =
                lodestone_mes::plant::plant_commands(&file.display().to_string(), &text, |var| {
                    std::env::var(var).ok()
                })?;
            let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
            let receipts = mes.execute_batch(&session, &envelopes).await?;
            println!(
                "loaded {}: {} definitions recorded",
                file.display(),
                receipts.len()
            );
        }
        MesCommand::Exec { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            let items = match value {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            let envelopes = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_value::<Envelope>(v)
                        .with_context(|| format!("{}: command {i}", file.display()))
                })
                .collect::<Result<Vec<_>>>()?;
            let receipts = mes.execute_batch(&session, &envelopes).await?;
            println!("{}", serde_json::to_string_pretty(&receipts)?);
        }
        MesCommand::Order(cmd) => {
            let order_action = |id: &String, action: OrderAction, equipment: Option<String>| {
                Command::OrderAction {
                    order: id.clone(),
                    action,
                    equipment,
                    at: None,
                }
            };
            let command = match cmd {
                OrderCommand::List { json } => {
                    let orders = mes.orders().await?;
                    if *json {
                        println!("{}", serde_json::to_string_pretty(&orders)?);
                    } else {
                        let mut t = Table::new();
                        t.load_preset(UTF8_FULL_CONDENSED).set_header([
                            "order",
                            "state",
                            "work master",
                            "product",
                            "planned kg",
                            "unit",
                            "priority",
                        ]);
                        for o in orders {
                            t.add_row(vec![
                                Cell::new(&o.id),
                                Cell::new(o.state),
                                Cell::new(format!("{} v{}", o.work_master, o.work_master_version)),
                                Cell::new(&o.product),
                                Cell::new(format!("{:.1}", o.planned_kg))
                                    .set_alignment(CellAlignment::Right),
                                Cell::new(o.equipment.as_deref().unwrap_or("")),
                                Cell::new(o.priority),
                            ]);
                        }
                        println!("{t}");
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                OrderCommand::Show { id, json } => {
                    let order = mes.order(id).await?;
                    let actuals = mes.order_actuals(id).await?;
                    if *json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(
                                &serde_json::json!({"order": order, "actuals": actuals})
                            )?
                        );
                    } else {
                        println!(
                            "order {}  {}  {} v{} → {}  planned {:.1} kg  unit {}",
                            order.id,
                            order.state,
                            order.work_master,
                            order.work_master_version,
                            order.product,
                            order.planned_kg,
                            order.equipment.as_deref().unwrap_or("-")
                        );
                        let mut t = Table::new();
                        t.load_preset(UTF8_FULL_CONDENSED).set_header([
                            "use",
                            "lot",
                            "definition",
                            "kg",
                            "at (UTC)",
                        ]);
                        let (mut consumed, mut produced) = (0.0, 0.0);
                        for a in &actuals {
                            if a.material_use == "consumed" {
                                consumed += a.quantity_kg
                            } else {
                                produced += a.quantity_kg
                            }
                            t.add_row(vec![
                                Cell::new(&a.material_use),
                                Cell::new(&a.lot),
                                Cell::new(&a.definition),
                                Cell::new(format!("{:.3}", a.quantity_kg))
                                    .set_alignment(CellAlignment::Right),
                                Cell::new(&a.at),
                            ]);
                        }
                        println!("{t}");
                        println!("consumed {consumed:.3} kg, produced {produced:.3} kg");
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                OrderCommand::Create {
                    id,
                    work_master,
                    kg,
                    equipment,
                    priority,
                } => Command::CreateOrder {
                    id: id.clone(),
                    work_master: work_master.clone(),
                    planned_kg: *kg,
                    equipment: equipment.clone(),
                    priority: *priority,
                },
                OrderCommand::Release { id } => order_action(id, OrderAction::Release, None),
                OrderCommand::Dispatch { id, equipment } => {
                    order_action(id, OrderAction::Dispatch, equipment.clone())
                }
                OrderCommand::Start { id } => order_action(id, OrderAction::Start, None),
                OrderCommand::Complete { id } => order_action(id, OrderAction::Complete, None),
                OrderCommand::Hold { id } => order_action(id, OrderAction::Hold, None),
                OrderCommand::Resume { id } => order_action(id, OrderAction::Resume, None),
                OrderCommand::Abort { id } => order_action(id, OrderAction::Abort, None),
                OrderCommand::Cancel { id } => order_action(id, OrderAction::Cancel, None),
            };
            execute(mes, &session, command).await?;
        }
        MesCommand::Lot(cmd) => return lot_command(mes, args, &session, cmd).await,
        MesCommand::User(cmd) => {
            let parse_roles = |roles: &[String]| -> Result<Vec<lodestone_mes::model::Role>> {
                roles
                    .iter()
                    .map(|r| Ok(lodestone_mes::model::Role::parse("--role", r)?))
                    .collect()
            };
            let command = match cmd {
                UserCommand::Add { id, name, roles } => Command::CreateUser {
                    id: id.clone(),
                    name: name.clone(),
                    roles: parse_roles(roles)?,
                    password: password_for(id, "LODESTONE_NEW_PASSWORD", "Initial password")?,
                },
                UserCommand::Passwd => Command::ChangePassword {
                    current_password: password_for(
                        &args.user,
                        "LODESTONE_PASSWORD",
                        "Current password",
                    )?,
                    new_password: password_for(
                        &args.user,
                        "LODESTONE_NEW_PASSWORD",
                        "New password",
                    )?,
                },
                UserCommand::Reset { id } => Command::ResetPassword {
                    id: id.clone(),
                    new_password: password_for(id, "LODESTONE_NEW_PASSWORD", "Temporary password")?,
                },
                UserCommand::Roles {
                    id,
                    roles,
                    inactive,
                } => Command::SetUserRoles {
                    id: id.clone(),
                    roles: parse_roles(roles)?,
                    active: !inactive,
                },
            };
            execute(mes, &session, command).await?;
        }
        MesCommand::State {
            equipment,
            state,
            cause,
            at,
        } => {
            let state: lodestone_mes::model::EquipmentState =
                serde_json::from_value(serde_json::Value::String(state.clone())).map_err(|_| {
                    anyhow::anyhow!(
                        "state: '{state}' is not allowed; expected running, idle, starved, blocked, unplanned_down, setup, changeover, planned_down, break or not_scheduled"
                    )
                })?;
            execute(
                mes,
                &session,
                Command::SetEquipmentState {
                    equipment: equipment.clone(),
                    state,
                    at: at.clone(),
                    cause: cause.clone(),
                },
            )
            .await?;
        }
        MesCommand::Consume { order, lot, kg } => {
            execute(
                mes,
                &session,
                Command::Consume {
                    order: order.clone(),
                    lot: lot.clone(),
                    quantity_kg: *kg,
                    at: None,
                },
            )
            .await?;
        }
        MesCommand::Produce {
            order,
            lot,
            kg,
            chem,
            material_use,
        } => {
            let composition_wt_pct = match chem {
                Some(c) => parse_pairs("--chem", c)?,
                None => BTreeMap::new(),
            };
            let material_use = material_use
                .as_deref()
                .map(|u| lodestone_mes::model::MaterialUse::parse("--use", u))
                .transpose()?;
            execute(
                mes,
                &session,
                Command::Produce {
                    order: order.clone(),
                    lot: lot.clone(),
                    quantity_kg: *kg,
                    material_use,
                    definition: None,
                    composition_wt_pct,
                    location: None,
                    at: None,
                },
            )
            .await?;
        }
        MesCommand::Trace {
            lot,
            forward,
            depth,
            json,
            dot,
            svg,
        } => {
            let direction = if *forward {
                Direction::Forward
            } else {
                Direction::Backward
            };
            let t = mes.trace(lot, direction, *depth).await?;
            if let Some(path) = svg {
                std::fs::write(path, trace::svg(&t))
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else if *dot {
                print!("{}", trace::dot(&t));
            } else {
                print!("{}", trace::tree(&t));
            }
        }
        MesCommand::Recall { lot, json } => {
            let scope = mes.recall_scope(lot).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&scope)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "lot",
                    "definition",
                    "status",
                    "share from suspect",
                    "suspect kg",
                    "action",
                ]);
                for item in &scope {
                    t.add_row(vec![
                        Cell::new(&item.lot.id),
                        Cell::new(&item.lot.definition),
                        Cell::new(format!("{} / {}", item.lot.status, item.lot.disposition)),
                        Cell::new(format!("{:.3} %", item.fraction * 100.0))
                            .set_alignment(CellAlignment::Right),
                        Cell::new(format!("{:.3}", item.suspect_kg))
                            .set_alignment(CellAlignment::Right),
                        Cell::new(&item.action),
                    ]);
                }
                println!("recall scope of {lot}: {} lots", scope.len());
                println!("{t}");
            }
        }
        MesCommand::WhereUsed { what, json } => {
            let used = mes.where_used(what).await?;
            if *json {
                let rows: Vec<_> = used
                    .iter()
                    .map(|(step, lot, kg)| serde_json::json!({"step": step, "lot": lot, "quantity_kg": kg}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["step", "lot", "kg"]);
                for (step, lot, kg) in &used {
                    t.add_row(vec![
                        Cell::new(step),
                        Cell::new(lot),
                        Cell::new(format!("{kg:.3}")).set_alignment(CellAlignment::Right),
                    ]);
                }
                println!("{what} was used in {} draws", used.len());
                println!("{t}");
            }
        }
        MesCommand::CoProcessed { lot, json } => {
            let co = mes.co_processed(lot).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&co)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["step", "unit", "from", "to", "lots"]);
                for c in &co {
                    t.add_row(vec![
                        Cell::new(&c.step),
                        Cell::new(&c.equipment),
                        Cell::new(&c.started_at),
                        Cell::new(c.ended_at.as_deref().unwrap_or("running")),
                        Cell::new(c.lots.join(", ")),
                    ]);
                }
                println!(
                    "{} steps shared a unit with {lot} in overlapping windows",
                    co.len()
                );
                println!("{t}");
            }
        }
        MesCommand::Balance { step, json } => {
            let b = mes.element_balance(step).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["element", "in kg", "out kg", "loss kg", "loss %"]);
                for (element, f) in &b.elements {
                    let (loss, pct) = match f.loss_kg {
                        None => ("unknown".to_string(), "—".to_string()),
                        Some(loss) if loss < 0.0 => (
                            format!("gain {:.3}", -loss),
                            format!("{:.2}", 100.0 * loss / f.in_kg.max(f64::MIN_POSITIVE)),
                        ),
                        Some(loss) => (
                            format!("{loss:.3}"),
                            format!("{:.2}", 100.0 * loss / f.in_kg.max(f64::MIN_POSITIVE)),
                        ),
                    };
                    t.add_row(vec![
                        Cell::new(element),
                        Cell::new(format!("{:.3}", f.in_kg)).set_alignment(CellAlignment::Right),
                        Cell::new(format!("{:.3}", f.out_kg)).set_alignment(CellAlignment::Right),
                        Cell::new(loss).set_alignment(CellAlignment::Right),
                        Cell::new(pct).set_alignment(CellAlignment::Right),
                    ]);
                }
                println!("step {step}: {:.3} kg in, {:.3} kg out", b.in_kg, b.out_kg);
                println!("{t}");
                if !b.lots_without_chemistry.is_empty() {
                    println!(
                        "losses unknown: no chemistry for {} (record their assay or certificate)",
                        b.lots_without_chemistry.join(", ")
                    );
                }
                if b.elements
                    .values()
                    .any(|f| f.loss_kg.is_some_and(|l| l < 0.0))
                {
                    println!(
                        "a gain is the outputs' assay reading more than the inputs' certificates: within the analytical error when small"
                    );
                }
            }
        }
        MesCommand::Quality(cmd) => return quality_command(mes, args, &session, cmd).await,
        MesCommand::Spc(spc_args) => return spc::run_spc(Some(mes), spc_args).await,
        MesCommand::Oee(oee_args) => return spc::run_oee(mes, oee_args).await,
        MesCommand::Audit(AuditCommand::Verify {
            checkpoints,
            key,
            from_checkpoint,
            deep,
            json,
        }) => return audit_verify(mes, checkpoints, key, *from_checkpoint, *deep, *json).await,
        MesCommand::Audit(AuditCommand::Checkpoint { key, out }) => {
            let key = CheckpointKey::from_file(key)?;
            match mes.write_checkpoint(&key, out).await {
                Ok(cp) => println!("audit checkpoint: {}", cp.to_line()),
                Err(e @ lodestone_mes::MesError::ChainBroken { .. }) => {
                    eprintln!("AUDIT CHAIN BROKEN, no checkpoint written: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e @ lodestone_mes::MesError::Invalid { .. }) => {
                    eprintln!("CHECKPOINT REFUSED, no checkpoint written: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        MesCommand::Audit(AuditCommand::Keygen { .. }) => {
            unreachable!("handled before opening")
        }
        MesCommand::Audit(AuditCommand::Trail {
            subject,
            by,
            from,
            to,
            limit,
            json,
        }) => {
            if subject.is_none() && by.is_none() && from.is_none() && to.is_none() {
                bail!("give a record (e.g. lot:H-0001), --by USER, --from/--to, or a combination");
            }
            let records = mes
                .audit_search(
                    subject.as_deref(),
                    by.as_deref(),
                    from.as_deref(),
                    to.as_deref(),
                    *limit,
                )
                .await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "seq",
                    "recorded (UTC)",
                    "user",
                    "event",
                    "reason",
                    "what happened",
                ]);
                for r in &records {
                    let details =
                        match serde_json::from_str::<lodestone_mes::event::Event>(&r.payload) {
                            Ok(event) => event.summary(),
                            Err(_) => r.payload.clone(),
                        };
                    t.add_row(vec![
                        Cell::new(r.seq),
                        Cell::new(&r.recorded_at),
                        Cell::new(&r.actor),
                        Cell::new(&r.kind),
                        Cell::new(r.reason.as_deref().unwrap_or("")),
                        Cell::new(details),
                    ]);
                }
                println!("{t}");
            }
        }
        MesCommand::Rebuild => {
            session.require(
                lodestone_mes::model::Permission::ManageUsers,
                "rebuild projections",
            )?;
            let n = mes.rebuild_projections().await?;
            println!("projections rebuilt from {n} events");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mes audit verify`: exit 1 when the chain, a checkpoint or (with --deep) a projection table
/// does not hold; exit 2 on unusable arguments.
async fn audit_verify(
    mes: &Mes,
    checkpoints: &Option<PathBuf>,
    key: &Option<PathBuf>,
    from_checkpoint: bool,
    deep: bool,
    json: bool,
) -> Result<ExitCode> {
    let key = key.as_deref().map(CheckpointKey::from_file).transpose()?;
    let checkpoints = match checkpoints {
        Some(path) => read_checkpoints(path)?,
        None => Vec::new(),
    };
    if from_checkpoint && checkpoints.is_empty() {
        bail!("--from-checkpoint: the checkpoint file holds no checkpoint yet; run a full check (without --from-checkpoint)");
    }
    let report = match mes.audit(&checkpoints, key.as_ref(), from_checkpoint).await {
        Ok(report) => report,
        Err(e @ lodestone_mes::MesError::ChainBroken { .. }) => {
            eprintln!("AUDIT CHAIN BROKEN: {e}");
            return Ok(ExitCode::from(1));
        }
        // The key and the file were read above: what is left is a signature that fails.
        Err(e @ lodestone_mes::MesError::Invalid { .. }) => {
            eprintln!("CHECKPOINT REFUSED: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let projections = match deep {
        true => Some(mes.verify_projections().await?),
        false => None,
    };
    let consistent = projections.as_ref().is_none_or(|p| p.consistent());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "chain": report,
                "projections": projections,
            }))?
        );
    } else {
        println!(
            "audit chain intact: {} events, head {} ({} hashed in this check)",
            report.events, report.head_hash, report.hashed
        );
        match &report.last_checkpoint {
            Some(cp) => println!(
                "{} checkpoint(s) hold; the newest ({}, event {}) proves events 1–{} unchanged; \
                 {} later event(s) are covered by no checkpoint yet",
                report.checkpoints,
                cp.at,
                cp.seq,
                cp.seq,
                report.events - cp.seq
            ),
            None => println!(
                "no checkpoints checked: a chain rewritten by the database's owner (tail \
                 deleted, events forged or re-hashed) would pass; use --checkpoints and --key"
            ),
        }
        if let Some(p) = &projections {
            for t in &p.tables {
                if t.differences == 0 {
                    continue;
                }
                eprintln!(
                    "PROJECTION DIFFERS: table {} ({} rows): {} row(s) differ from a replay of the {} events (an edited row counts twice: as found and as expected)",
                    t.table, t.rows, t.differences, p.events
                );
                for row in &t.only_in_database {
                    eprintln!("  in the database, not in the replay: {row}");
                }
                for row in &t.only_in_replay {
                    eprintln!("  in the replay, not in the database: {row}");
                }
            }
            if consistent {
                println!(
                    "projections equal a replay of the {} events ({} tables)",
                    p.events,
                    p.tables.len()
                );
            }
        }
    }
    Ok(if consistent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn lot_command(
    mes: &Mes,
    args: &MesArgs,
    session: &Session,
    cmd: &LotCommand,
) -> Result<ExitCode> {
    let signed = |lot: &String,
                  meaning: &str,
                  reject: bool,
                  deviation: Option<lodestone_mes::command::DeviationInput>|
     -> Result<Command> {
        let meaning = SignatureMeaning::parse("--meaning", meaning)?;
        let password = password_for(
            &args.user,
            "LODESTONE_SIGN_PASSWORD",
            "Signature: re-enter the password",
        )?;
        let signature = Some(SignatureInput {
            user: args.user.clone(),
            password,
            meaning,
        });
        Ok(if reject {
            Command::RejectLot {
                lot: lot.clone(),
                signature,
            }
        } else {
            Command::ReleaseLot {
                lot: lot.clone(),
                signature,
                deviation,
            }
        })
    };
    let command = match cmd {
        LotCommand::Show { lot, json } => {
            let l = mes.lot(lot).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&l)?);
            } else {
                println!(
                    "lot {}  {}  {:.3} kg of {:.3} kg  {} / {}",
                    l.id, l.definition, l.quantity_kg, l.initial_kg, l.status, l.disposition
                );
                if let Some(s) = &l.supplier_lot {
                    println!("supplier lot {s}");
                }
                if !l.composition_wt_pct.is_empty() {
                    let chem: Vec<String> = l
                        .composition_wt_pct
                        .iter()
                        .map(|(e, w)| format!("{e} {w}"))
                        .collect();
                    println!("chemistry (wt%): {}", chem.join(", "));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        LotCommand::List {
            definition,
            limit,
            json,
        } => {
            let lots = mes.lots(definition.as_deref(), *limit).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&lots)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "lot",
                    "definition",
                    "kg on hand",
                    "status",
                    "disposition",
                    "location",
                    "created (UTC)",
                ]);
                for l in lots {
                    t.add_row(vec![
                        Cell::new(&l.id),
                        Cell::new(&l.definition),
                        Cell::new(format!("{:.3}", l.quantity_kg))
                            .set_alignment(CellAlignment::Right),
                        Cell::new(l.status),
                        Cell::new(l.disposition),
                        Cell::new(l.location.as_deref().unwrap_or("")),
                        Cell::new(&l.created_at),
                    ]);
                }
                println!("{t}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        LotCommand::Receive {
            lot,
            definition,
            kg,
            supplier_lot,
            location,
            chem,
        } => Command::ReceiveLot {
            lot: lot.clone(),
            definition: definition.clone(),
            quantity_kg: *kg,
            supplier_lot: supplier_lot.clone(),
            location: location.clone(),
            composition_wt_pct: match chem {
                Some(c) => parse_pairs("--chem", c)?,
                None => BTreeMap::new(),
            },
            disposition: None,
            at: None,
        },
        LotCommand::Split { source, parts } => Command::SplitLot {
            source: source.clone(),
            parts: lot_quantities("--part", parts)?,
            at: None,
        },
        LotCommand::Merge { sources, into } => Command::MergeLots {
            sources: lot_quantities("--source", sources)?,
            lot: into.clone(),
            definition: None,
            location: None,
            at: None,
        },
        LotCommand::Ship { lot, customer } => Command::ShipLot {
            lot: lot.clone(),
            customer: customer.clone(),
            at: None,
        },
        LotCommand::Hold { lot } => Command::HoldLot { lot: lot.clone() },
        LotCommand::Release {
            lot,
            meaning,
            deviation,
            deviation_reason,
        } => {
            let deviation =
                deviation
                    .as_ref()
                    .map(|reference| lodestone_mes::command::DeviationInput {
                        reference: reference.clone(),
                        reason: deviation_reason.clone().unwrap_or_default(),
                    });
            let default_meaning = if deviation.is_some() {
                "deviation-approval"
            } else {
                "approval"
            };
            let meaning = meaning.as_deref().unwrap_or(default_meaning);
            signed(lot, meaning, false, deviation)?
        }
        LotCommand::Reject { lot, meaning } => signed(lot, meaning, true, None)?,
    };
    execute(mes, session, command).await?;
    Ok(ExitCode::SUCCESS)
}

async fn quality_command(
    mes: &Mes,
    args: &MesArgs,
    session: &Session,
    cmd: &QualityCommand,
) -> Result<ExitCode> {
    use lodestone_mes::model::{NonconformanceDecision, Severity};
    use lodestone_mes::quality::Verdict;
    let command = match cmd {
        QualityCommand::Spec { definition, json } => {
            let Some(spec) = mes.specification(definition).await? else {
                bail!("no specification is defined for '{definition}'");
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&spec)?);
            } else {
                println!(
                    "{} — version {} — sample 1 lot in {}",
                    spec.name, spec.version, spec.sampling.every_nth_lot
                );
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["property", "min", "target", "max", "unit"]);
                let show = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
                for l in &spec.limits {
                    t.add_row(vec![
                        Cell::new(&l.property),
                        Cell::new(show(l.min)),
                        Cell::new(show(l.target)),
                        Cell::new(show(l.max)),
                        Cell::new(&l.unit),
                    ]);
                }
                println!("{t}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Evaluate { lot, json } => {
            let e = mes.evaluate(lot).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["property", "min", "max", "result", "unit", "verdict"]);
                let show = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
                for c in &e.checks {
                    let verdict = match c.verdict {
                        Verdict::Pass => "pass",
                        Verdict::Fail => "FAIL",
                        Verdict::Missing => "missing",
                    };
                    t.add_row(vec![
                        Cell::new(&c.limit.property),
                        Cell::new(show(c.limit.min)),
                        Cell::new(show(c.limit.max)),
                        Cell::new(show(c.value)),
                        Cell::new(&c.limit.unit),
                        Cell::new(verdict),
                    ]);
                }
                println!("{t}");
                println!(
                    "proposed disposition of {lot}: {} ({})",
                    e.proposed, e.explanation
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Due => {
            let due = mes.sampling_due().await?;
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_header(["lot", "definition", "sample g"]);
            for (lot, definition, grams) in &due {
                t.add_row(vec![
                    Cell::new(lot),
                    Cell::new(definition),
                    Cell::new(grams.map(|g| g.to_string()).unwrap_or_default()),
                ]);
            }
            println!("{} lots due for sampling", due.len());
            println!("{t}");
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Import { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let commands =
                lodestone_mes::quality::parse_results_csv(&file.display().to_string(), &text)?;
            let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
            let receipts = mes.execute_batch(session, &envelopes).await?;
            println!(
                "imported {} results from {}",
                receipts.len(),
                file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Coa { lot, html, issuer } => {
            let cert = mes.certificate(lot).await?;
            std::fs::write(
                html,
                lodestone_mes::quality::certificate_html(&cert, issuer),
            )
            .with_context(|| format!("writing {}", html.display()))?;
            println!(
                "wrote the certificate of analysis of {lot} to {} ({})",
                html.display(),
                cert.evaluation.explanation
            );
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Result {
            lot,
            property,
            value,
            unit,
            sample,
            method,
            reason,
        } => {
            let mut envelope = Envelope::from(Command::RecordResult {
                lot: lot.clone(),
                sample: sample.clone(),
                property: property.clone(),
                value: *value,
                unit: unit.clone(),
                method: method.clone(),
                at: None,
            });
            envelope.reason = reason.clone();
            let receipt = mes.execute(session, envelope).await?;
            println!("record-result: recorded as event {}", receipt.seq);
            return Ok(ExitCode::SUCCESS);
        }
        QualityCommand::Ncr {
            id,
            lot,
            description,
            severity,
        } => Command::RaiseNonconformance {
            id: id.clone(),
            lot: lot.clone(),
            description: description.clone(),
            severity: Severity::parse("--severity", severity)?,
        },
        QualityCommand::CloseNcr {
            id,
            decision,
            meaning,
        } => {
            let meaning = SignatureMeaning::parse("--meaning", meaning)?;
            let password = password_for(
                &args.user,
                "LODESTONE_SIGN_PASSWORD",
                "Signature: re-enter the password",
            )?;
            Command::CloseNonconformance {
                id: id.clone(),
                decision: NonconformanceDecision::parse("--decision", decision)?,
                signature: Some(SignatureInput {
                    user: args.user.clone(),
                    password,
                    meaning,
                }),
            }
        }
    };
    execute(mes, session, command).await?;
    Ok(ExitCode::SUCCESS)
}
