//! `lodestone sx design`: Xu's optimum fractional-extraction design, checked by simulation.

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_chem::Element;
use lodestone_sx::design::{design, search, DesignInput, SimulatedDesign};
use lodestone_sx::Phase;
use std::process::ExitCode;

/// Arguments of `sx design`.
#[derive(Args)]
pub struct DesignArgs {
    /// Separation factor β = D_A / D_B of the key pair (> 1), e.g. 1.5 for Nd/Pr in P507–HCl.
    #[arg(long)]
    pub beta: f64,
    /// Mole fraction of A (the more extractable element) among the feed's rare earths.
    #[arg(long = "feed-a")]
    pub feed_a: f64,
    /// Target A purity of the organic product (mole fraction, e.g. 0.995).
    #[arg(long = "purity-a")]
    pub purity_a: f64,
    /// Target B purity of the raffinate (mole fraction, e.g. 0.99).
    #[arg(long = "purity-b")]
    pub purity_b: f64,
    /// Phase the feed enters in.
    #[arg(long = "feed-phase", value_enum, default_value = "aqueous")]
    pub feed_phase: FeedPhase,
    /// Find the smallest cascade whose simulation meets both targets (the formulas under-count
    /// stages at high purity).
    #[arg(long)]
    pub search: bool,
    /// Element A, for labels (e.g. Nd).
    #[arg(long)]
    pub a: Option<Element>,
    /// Element B, for labels (e.g. Pr).
    #[arg(long)]
    pub b: Option<Element>,
    /// Print the design as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Feed phase on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FeedPhase {
    /// Aqueous feed entering the last extraction stage n.
    Aqueous,
    /// Loaded-organic feed entering the first scrub stage n + 1.
    Organic,
}

/// Runs the command.
pub fn run(args: DesignArgs) -> Result<ExitCode> {
    let input = DesignInput {
        beta: args.beta,
        feed_a: args.feed_a,
        purity_a: args.purity_a,
        purity_b: args.purity_b,
        feed_phase: match args.feed_phase {
            FeedPhase::Aqueous => Phase::Aqueous,
            FeedPhase::Organic => Phase::Organic,
        },
        // The simulation needs two distinct elements; only the labels depend on the choice.
        element_a: args.a.unwrap_or(Element::Nd),
        element_b: args.b.unwrap_or(if args.a == Some(Element::Pr) {
            Element::Nd
        } else {
            Element::Pr
        }),
    };
    let mut d = design(&input).context("designing the cascade")?;
    if args.search {
        d.searched = Some(search(&input, &d, 2000).context("searching for the smallest cascade")?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (a, b) = (
        args.a.map_or("A", |e| e.symbol()),
        args.b.map_or("B", |e| e.symbol()),
    );
    println!(
        "Xu optimum fractional extraction: β({a}/{b}) = {}, feed {a} {:.4}, targets P_{a} {} (organic product), P_{b} {} (raffinate)",
        args.beta, args.feed_a, args.purity_a, args.purity_b
    );
    println!(
        "The {} section controls the optimum.",
        d.controlling_section
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["quantity", "value", "meaning"]);
    let rows: [(&str, String, String); 11] = [
        (
            "f'_A",
            format!("{:.6}", d.f_a_out),
            format!("fraction of the feed leaving as the {a} product"),
        ),
        (
            "E_M",
            format!("{:.6}", d.e_m),
            "mixed extraction ratio, extraction section".into(),
        ),
        (
            "E'_M",
            format!("{:.6}", d.e_m_scrub),
            "mixed extraction ratio, scrub section".into(),
        ),
        (
            "S",
            format!("{:.6}", d.s),
            "extraction amount: REE in the organic per unit feed".into(),
        ),
        (
            "W",
            format!("{:.6}", d.w),
            "scrub amount: REE in the scrub aqueous per unit feed".into(),
        ),
        (
            "S_min",
            format!("{:.6}", d.s_min),
            "minimum extraction amount (pinch)".into(),
        ),
        (
            "W_min",
            format!("{:.6}", d.w_min),
            "minimum scrub amount (pinch)".into(),
        ),
        (
            "n",
            format!("{:.4}", d.n),
            "extraction stages (formula)".into(),
        ),
        ("m", format!("{:.4}", d.m), "scrub stages (formula)".into()),
        (
            "Y_A",
            format!("{:.6}", d.recovery_a),
            format!("{a} recovery at the targets"),
        ),
        (
            "Y_B",
            format!("{:.6}", d.recovery_b),
            format!("{b} recovery at the targets"),
        ),
    ];
    for (q, v, m) in rows {
        t.add_row(vec![
            Cell::new(q),
            Cell::new(v).set_alignment(CellAlignment::Right),
            Cell::new(m),
        ]);
    }
    println!("{t}");
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "simulated (model B)",
        "n",
        "m",
        "stages",
        "P_A",
        "P_B",
        "Y_A",
        "Y_B",
        "meets targets",
    ]);
    let mut add = |label: &str, s: &SimulatedDesign| {
        let meets = s.purity_a >= args.purity_a && s.purity_b >= args.purity_b;
        t.add_row(vec![
            Cell::new(label),
            Cell::new(s.n),
            Cell::new(s.m),
            Cell::new(s.n + s.m),
            Cell::new(format!("{:.6}", s.purity_a)),
            Cell::new(format!("{:.6}", s.purity_b)),
            Cell::new(format!("{:.6}", s.recovery_a)),
            Cell::new(format!("{:.6}", s.recovery_b)),
            Cell::new(if meets { "yes" } else { "no" }),
        ]);
    };
    add("formula, rounded up", &d.simulated);
    if let Some(s) = &d.searched {
        add("smallest meeting targets", s);
    }
    println!("{t}");
    let rounded_meets =
        d.simulated.purity_a >= args.purity_a && d.simulated.purity_b >= args.purity_b;
    if !args.search && !rounded_meets {
        println!("The rounded design misses a target: run with --search for the smallest cascade that meets both.");
    }
    Ok(ExitCode::SUCCESS)
}
