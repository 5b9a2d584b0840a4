//! `lodestone`: the command line of Lodestone. One subcommand family per capability.

mod alloy;
mod mes;
mod plot;
mod serve;
mod sx;
mod twin;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Lodestone — software that runs and designs rare-earth plants.
#[derive(Parser)]
#[command(
    name = "lodestone",
    version,
    about = "Lodestone — software that runs and designs rare-earth plants: solvent-extraction cascades, NdFeB alloy batching and strip casting, and the MES that runs the plant",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solvent extraction: simulate cascades, design fractional extraction.
    #[command(subcommand)]
    Sx(sx::SxCommand),
    /// NdFeB alloy: charge heats to grade, correct after assay, melt losses, strip casting.
    #[command(subcommand)]
    Alloy(alloy::AlloyCommand),
    /// MES: plant model, orders, lots and genealogy, quality, audit trail (SQLite or PostgreSQL).
    Mes(mes::MesArgs),
    /// Plant twin: discrete-event simulation of the alloy plant (capacity studies).
    #[command(subcommand)]
    Twin(twin::TwinCommand),
    /// Web server: the MES's JSON API and dashboard; `--demo` runs a live plant.
    ///
    /// Example: lodestone serve --demo
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sx(cmd) => sx::run(cmd),
        Command::Alloy(cmd) => alloy::run(cmd),
        Command::Mes(args) => mes::run(args),
        Command::Twin(cmd) => twin::run(cmd),
        Command::Serve(args) => serve::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// `lodestone … | head` should end quietly like any Unix tool, not panic on a closed pipe:
/// Rust ignores SIGPIPE by default, which turns a closed stdout into a failed `println!`.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default at start-up, before any threads.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
