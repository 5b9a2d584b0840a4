//! `lodestone sx …`: cascade simulation and design.

mod design;
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
    /// Xu's optimum design of a two-outlet fractional extraction, checked by simulation.
    ///
    /// Gives the outlet fraction, mixed extraction ratios, extraction and scrub amounts (S, W),
    /// their minima and the stage numbers, then simulates the rounded-up design with model B.
    /// Example: lodestone sx design --beta 1.5 --feed-a 0.75 --purity-a 0.995 --purity-b 0.99
    Design(design::DesignArgs),
}

/// Runs an SX subcommand.
pub fn run(cmd: SxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SxCommand::Simulate(args) => simulate::run(args),
        SxCommand::Design(args) => design::run(args),
    }
}
