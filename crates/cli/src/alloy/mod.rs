//! `lodestone alloy …`: charge heats to grade.

mod advise;
mod batch;
mod campaign;
mod cast;
mod fit;
mod grade_check;

use clap::Subcommand;
use std::process::ExitCode;

/// Alloy subcommands.
#[derive(Subcommand)]
pub enum AlloyCommand {
    /// Charge a heat to grade at least cost from the released lots in stock.
    ///
    /// Prints the weigh list (lot, kg, pieces, cost) and the predicted composition against the
    /// aim and tolerance band; explains which element or rule cannot be met when the grade is
    /// out of reach. Plan format: docs/alloy-plan-format.md; example: examples/alloy/.
    Batch(batch::BatchArgs),
    /// Trim an off-aim melt back into its band at least cost, after assay.
    ///
    /// Same plan format: [heel] is the assayed melt (mass_kg, composition_wt_pct) and
    /// output_kg the most the crucible holds. Prints the trim additions and the new composition.
    Correct(batch::BatchArgs),
    /// Check an assay against its grade: per-element bands, total RE, impurities, rules, and the
    /// best GB/T 29655 quality grade met.
    GradeCheck(grade_check::GradeCheckArgs),
    /// Charge many heats in order from one inventory (a shift's or a month's batching), with a
    /// progress bar; each heat takes what the ones before it left.
    Campaign(campaign::CampaignArgs),
    /// Strip casting: flake thickness from pour rate and wheel speed, cooling through the
    /// freezing range, microstructure (columnar share, lamellar spacing, α-Fe risk).
    ///
    /// Example: lodestone alloy cast --wheel-speed 1.5 --pour-rate 3.4 --h 5000 --svg flake.svg
    Cast(cast::CastArgs),
    /// Strip-casting setpoint advisor: the wheel speed (or pour rate) for a target flake
    /// thickness and microstructure window, within the equipment limits.
    ///
    /// Example: lodestone alloy advise --hold-pour-rate 3.4 --target-thickness 0.30
    Advise(advise::AdviseArgs),
    /// Fit each furnace's recovery factors from its heat history (least squares on assays),
    /// printed as the [recovery] table of batch plans, so the optimiser learns each furnace.
    FitRecovery(fit::FitArgs),
}

/// Runs an alloy subcommand.
pub fn run(cmd: AlloyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AlloyCommand::Batch(args) => batch::run(args, false),
        AlloyCommand::Correct(args) => batch::run(args, true),
        AlloyCommand::GradeCheck(args) => grade_check::run(args),
        AlloyCommand::Campaign(args) => campaign::run(args),
        AlloyCommand::Cast(args) => cast::run(args),
        AlloyCommand::Advise(args) => advise::run(args),
        AlloyCommand::FitRecovery(args) => fit::run(args),
    }
}
