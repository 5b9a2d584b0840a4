//! Cascade topology: stages, feeds, side draws and the phase flows they imply.
//!
//! **Convention** (Xu Guangxian's, used in Chinese plant practice): stages are numbered 1..N;
//! the organic enters at stage 1 and flows 1 → N; the aqueous flows N → 1 and leaves stage 1
//! as the raffinate. A feed may enter any stage in either phase; a side draw takes part of a
//! stage's outflow of one phase. Flows are per hour in the case's flow unit (L/h), or REE
//! molar flows normalised to the feed in Xu's form.

use crate::error::SxError;
use serde::{Deserialize, Serialize};

/// Aqueous or organic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The aqueous phase (flows N → 1).
    Aqueous,
    /// The organic phase (flows 1 → N).
    Organic,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Aqueous => "aqueous",
            Phase::Organic => "organic",
        })
    }
}

/// A stream entering a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// Name used in reports.
    pub name: String,
    /// Phase of the stream.
    pub phase: Phase,
    /// 1-based stage it enters.
    pub stage: usize,
    /// Phase flow (L/h, or normalised REE flow).
    pub flow: f64,
    /// Concentration of each species of the model's phase, in model units (mol/L or mole
    /// fraction), in the model's species order.
    pub concentration: Vec<f64>,
}

/// Part of a stage's outflow taken off as a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// Product name.
    pub name: String,
    /// Phase drawn.
    pub phase: Phase,
    /// 1-based stage whose outflow is drawn.
    pub stage: usize,
    /// Flow drawn (same unit as feeds).
    pub flow: f64,
}

/// A labelled range of stages (extraction, scrubbing, stripping), for reports only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Section name.
    pub name: String,
    /// First stage (1-based).
    pub first: usize,
    /// Last stage (1-based, inclusive).
    pub last: usize,
}

/// A countercurrent cascade with its feeds, draws and the outflow of each phase from each stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    stages: usize,
    feeds: Vec<Feed>,
    draws: Vec<Draw>,
    aqueous_outflow: Vec<f64>,
    organic_outflow: Vec<f64>,
    /// Name of the aqueous leaving stage 1.
    pub raffinate_name: String,
    /// Name of the organic leaving stage N.
    pub extract_name: String,
    /// Section labels.
    pub sections: Vec<Section>,
}

impl Cascade {
    /// A cascade whose phase flows follow from the feeds and draws (volumetric flows constant
    /// across a stage unless a feed or draw changes them).
    pub fn from_feeds(stages: usize, feeds: Vec<Feed>, draws: Vec<Draw>) -> Result<Self, SxError> {
        check_topology(stages, &feeds, &draws)?;
        let mut aq = vec![0.0; stages];
        let mut org = vec![0.0; stages];
        for s in (0..stages).rev() {
            let from_above = if s + 1 < stages {
                aq[s + 1] - drawn(&draws, Phase::Aqueous, s + 2)
            } else {
                0.0
            };
            aq[s] = from_above + fed(&feeds, Phase::Aqueous, s + 1);
        }
        for s in 0..stages {
            let from_below = if s > 0 {
                org[s - 1] - drawn(&draws, Phase::Organic, s)
            } else {
                0.0
            };
            org[s] = from_below + fed(&feeds, Phase::Organic, s + 1);
        }
        Self::with_outflows(stages, aq, org, feeds, draws)
    }

    /// A cascade with explicitly given outflows (Xu's normalised REE-flow form, where the
    /// phase flows are REE flows fixed by the extraction and scrub amounts).
    pub fn with_outflows(
        stages: usize,
        aqueous_outflow: Vec<f64>,
        organic_outflow: Vec<f64>,
        feeds: Vec<Feed>,
        draws: Vec<Draw>,
    ) -> Result<Self, SxError> {
        check_topology(stages, &feeds, &draws)?;
        for (i, d) in draws.iter().enumerate() {
            let out = match d.phase {
                Phase::Aqueous => aqueous_outflow[d.stage - 1],
                Phase::Organic => organic_outflow[d.stage - 1],
            };
            let total: f64 = draws
                .iter()
                .filter(|e| e.phase == d.phase && e.stage == d.stage)
                .map(|e| e.flow)
                .sum();
            if total > out * (1.0 + 1e-12) {
                return Err(SxError::invalid(
                    &format!("draw[{i}].flow"),
                    &d.flow.to_string(),
                    &format!(
                        "at most the {} flow out of stage {} ({out}), which is what the {} feeds \
                         at or {} that stage bring less the draws on the way; lower the draw or \
                         raise those feeds",
                        d.phase,
                        d.stage,
                        d.phase,
                        if d.phase == Phase::Aqueous {
                            "above"
                        } else {
                            "below"
                        },
                    ),
                ));
            }
        }
        for (phase, flows) in [
            (Phase::Aqueous, &aqueous_outflow),
            (Phase::Organic, &organic_outflow),
        ] {
            for (s, &q) in flows.iter().enumerate() {
                if !(q.is_finite() && q > 0.0) {
                    return Err(SxError::invalid(
                        &format!("{phase} flow out of stage {}", s + 1),
                        &q.to_string(),
                        &format!(
                            "a positive flow: every stage needs both phases; add an {phase} feed at or \
                             {} stage {} or reduce the draws",
                            if phase == Phase::Aqueous { "above" } else { "below" },
                            s + 1
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            stages,
            feeds,
            draws,
            aqueous_outflow,
            organic_outflow,
            raffinate_name: "raffinate".into(),
            extract_name: "loaded organic".into(),
            sections: Vec::new(),
        })
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.stages
    }
    /// Feeds.
    pub fn feeds(&self) -> &[Feed] {
        &self.feeds
    }
    /// Side draws.
    pub fn draws(&self) -> &[Draw] {
        &self.draws
    }
    /// Outflow of the phase from stage `stage` (1-based), before side draws.
    pub fn outflow(&self, phase: Phase, stage: usize) -> f64 {
        match phase {
            Phase::Aqueous => self.aqueous_outflow[stage - 1],
            Phase::Organic => self.organic_outflow[stage - 1],
        }
    }
    /// Flow of the phase passed on from stage `stage` to the next stage (after side draws).
    pub fn onward_flow(&self, phase: Phase, stage: usize) -> f64 {
        self.outflow(phase, stage) - drawn(&self.draws, phase, stage)
    }
}

fn fed(feeds: &[Feed], phase: Phase, stage: usize) -> f64 {
    feeds
        .iter()
        .filter(|f| f.phase == phase && f.stage == stage)
        .map(|f| f.flow)
        .sum()
}

fn drawn(draws: &[Draw], phase: Phase, stage: usize) -> f64 {
    draws
        .iter()
        .filter(|d| d.phase == phase && d.stage == stage)
        .map(|d| d.flow)
        .sum()
}

fn check_topology(stages: usize, feeds: &[Feed], draws: &[Draw]) -> Result<(), SxError> {
    if stages == 0 || stages > 100_000 {
        return Err(SxError::invalid(
            "cascade.stages",
            &stages.to_string(),
            "a stage count from 1 to 100000",
        ));
    }
    for (i, f) in feeds.iter().enumerate() {
        if f.stage == 0 || f.stage > stages {
            return Err(SxError::invalid(
                &format!("feed[{i}].stage (\"{}\")", f.name),
                &f.stage.to_string(),
                &format!("a stage from 1 to {stages}"),
            ));
        }
        if !(f.flow.is_finite() && f.flow >= 0.0) {
            return Err(SxError::invalid(
                &format!("feed[{i}].flow (\"{}\")", f.name),
                &f.flow.to_string(),
                "a flow ≥ 0",
            ));
        }
        if let Some(c) = f
            .concentration
            .iter()
            .find(|c| !(c.is_finite() && **c >= 0.0))
        {
            return Err(SxError::invalid(
                &format!("feed[{i}].concentration (\"{}\")", f.name),
                &c.to_string(),
                "concentrations ≥ 0",
            ));
        }
    }
    for (i, d) in draws.iter().enumerate() {
        if d.stage == 0 || d.stage > stages {
            return Err(SxError::invalid(
                &format!("draw[{i}].stage (\"{}\")", d.name),
                &d.stage.to_string(),
                &format!("a stage from 1 to {stages}"),
            ));
        }
        let end = match d.phase {
            Phase::Aqueous => 1,
            Phase::Organic => stages,
        };
        if d.stage == end {
            return Err(SxError::invalid(
                &format!("draw[{i}].stage (\"{}\")", d.name),
                &d.stage.to_string(),
                &format!(
                    "a stage other than {end}: all of the {} leaving stage {end} is already a product",
                    d.phase
                ),
            ));
        }
        if !(d.flow.is_finite() && d.flow > 0.0) {
            return Err(SxError::invalid(
                &format!("draw[{i}].flow (\"{}\")", d.name),
                &d.flow.to_string(),
                "a flow > 0",
            ));
        }
    }
    Ok(())
}
