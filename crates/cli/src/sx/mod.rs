//! `lodestone sx …`: cascade simulation and design.

mod simulate;

use clap::Subcommand;
use std::process::ExitCode;

/// SX subcommands.
#[derive(Subcommand)]
pub enum SxCommand {
    /// Simulate a cascade case file to steady state (from a cold start).
    ///
    /// Prints the products (flow, composition, purity, recovery) and a stage-profile summary.
    /// Case format: docs/sx-case-format.md; examples in examples/sx/.
    Simulate(simulate::SimulateArgs),
}

/// Runs an SX subcommand.
pub fn run(cmd: SxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SxCommand::Simulate(args) => simulate::run(args),
    }
}
