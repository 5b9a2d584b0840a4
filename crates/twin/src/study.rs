//! Replications with different seeds and 95 % confidence intervals (Student t) of the main
//! results: the capacity study's numbers.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::model::{run_replication, Replication};
use crate::plant::Plant;

/// A result across replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// What it is.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Mean over replications.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval (0 with one replication).
    pub ci95: f64,
}

/// A capacity study: every replication and the estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Study {
    /// Plant name.
    pub plant: String,
    /// Days measured per replication.
    pub days: f64,
    /// The replications.
    pub replications: Vec<Replication>,
    /// Mean and 95 % interval of the main results.
    pub estimates: Vec<Estimate>,
}

/// Mean and 95 % half-width of `values`.
pub fn mean_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

/// Runs `replications` replications (seeds seed, seed+1, …), calling `progress` after each.
pub fn run_study(plant: &Plant, replications: usize, mut progress: impl FnMut(usize)) -> Study {
    let mut runs = Vec::with_capacity(replications);
    for i in 0..replications.max(1) {
        runs.push(run_replication(plant, plant.simulation.seed + i as u64));
        progress(i + 1);
    }
    let mut estimates = Vec::new();
    let mut estimate = |name: String, unit: &str, values: Vec<f64>| {
        let (mean, ci95) = mean_ci95(&values);
        estimates.push(Estimate {
            name,
            unit: unit.to_string(),
            mean,
            ci95,
        });
    };
    estimate(
        "output".into(),
        "t/yr",
        runs.iter().map(|r| r.output_t_per_yr).collect(),
    );
    for grade in &plant.grade {
        estimate(
            format!("output {}", grade.name),
            "t/yr",
            runs.iter()
                .map(|r| r.output_t_by_grade[&grade.name] * 365.0 / r.days)
                .collect(),
        );
    }
    let line_mean = |r: &Replication, f: fn(&crate::model::LineStats) -> f64| {
        r.lines.iter().map(f).sum::<f64>() / r.lines.len() as f64
    };
    // Line OEE by the MES's definition (docs/mes.md, "OEE"); utilisation is the share of time
    // with work planned, outside OEE.
    type Factor = fn(&crate::model::LineStats) -> f64;
    let line_factors: [(&str, Factor); 6] = [
        ("line utilisation", |l| l.utilisation),
        ("line availability", |l| l.availability),
        ("line performance", |l| l.performance),
        ("line quality", |l| l.quality),
        ("line OEE", |l| l.oee),
        ("line TEEP", |l| l.teep),
    ];
    for (name, factor) in line_factors {
        estimate(
            name.into(),
            "",
            runs.iter().map(|r| line_mean(r, factor)).collect(),
        );
    }
    estimate(
        "batching utilisation".into(),
        "",
        runs.iter().map(|r| r.batching.utilisation).collect(),
    );
    estimate(
        "AGV utilisation".into(),
        "",
        runs.iter().map(|r| r.agv.utilisation).collect(),
    );
    estimate(
        "lab utilisation".into(),
        "",
        runs.iter().map(|r| r.lab.utilisation).collect(),
    );
    estimate(
        "lead time, order release to finished goods".into(),
        "h",
        runs.iter().map(|r| r.mean_lead_time_h).collect(),
    );
    estimate(
        "flow time, charge dispatch to finished goods".into(),
        "h",
        runs.iter().map(|r| r.mean_flow_time_h).collect(),
    );
    estimate(
        "heats out of specification (held for QA)".into(),
        "%",
        runs.iter()
            .map(|r| 100.0 * r.heats_out_of_spec as f64 / (r.heats_analysed.max(1)) as f64)
            .collect(),
    );
    estimate(
        "flake held out of specification".into(),
        "t/yr",
        runs.iter().map(|r| r.rejected_t * 365.0 / r.days).collect(),
    );
    estimate(
        "mean flake thickness".into(),
        "mm",
        runs.iter().map(|r| r.mean_thickness_mm).collect(),
    );
    if plant.hydrogen_decrepitation.is_some() {
        estimate(
            "HD furnace utilisation".into(),
            "",
            runs.iter()
                .map(|r| {
                    r.hydrogen_decrepitation
                        .as_ref()
                        .map_or(0.0, |h| h.utilisation)
                })
                .collect(),
        );
    }
    estimate(
        "WIP".into(),
        "heats",
        runs.iter().map(|r| r.mean_wip_heats).collect(),
    );
    estimate(
        "backlog at end".into(),
        "heats",
        runs.iter().map(|r| r.backlog_heats as f64).collect(),
    );
    Study {
        plant: plant.name.clone(),
        days: plant.simulation.days,
        replications: runs,
        estimates,
    }
}

/// A resource that can be given one more unit of capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expandable {
    /// Melting and casting lines.
    Lines,
    /// Batching stations.
    BatchingStations,
    /// AGVs.
    Agvs,
    /// Lab analysts.
    LabAnalysts,
    /// Hydrogen decrepitation furnaces (plants that have them).
    HdFurnaces,
}

impl Expandable {
    /// All candidates.
    pub const ALL: [Expandable; 5] = [
        Expandable::Lines,
        Expandable::BatchingStations,
        Expandable::Agvs,
        Expandable::LabAnalysts,
        Expandable::HdFurnaces,
    ];

    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Expandable::Lines => "melting lines",
            Expandable::BatchingStations => "batching stations",
            Expandable::Agvs => "AGVs",
            Expandable::LabAnalysts => "lab analysts",
            Expandable::HdFurnaces => "HD furnaces",
        }
    }

    /// The plant's capacity of this resource, if it has the resource.
    fn capacity(self, plant: &mut Plant) -> Option<&mut usize> {
        Some(match self {
            Expandable::Lines => &mut plant.lines.count,
            Expandable::BatchingStations => &mut plant.batching.stations,
            Expandable::Agvs => &mut plant.agv.fleet,
            Expandable::LabAnalysts => &mut plant.lab.analysts,
            Expandable::HdFurnaces => &mut plant.hydrogen_decrepitation.as_mut()?.furnaces,
        })
    }
}

/// Output with one more unit of one resource, against the base plant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// The resource expanded.
    pub resource: Expandable,
    /// Its capacity before and after.
    pub from: usize,
    /// Capacity in the experiment.
    pub to: usize,
    /// Mean output, t/yr.
    pub output_t_per_yr: f64,
    /// Mean gain over the base plant (paired by seed), t/yr.
    pub gain_t_per_yr: f64,
    /// 95 % half-width of the gain.
    pub gain_ci95: f64,
}

/// Which resource holds throughput back, found by experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    /// Demand multiplier used so that supply, not demand, limits output.
    pub demand_scale: f64,
    /// Base output, t/yr (mean and 95 % half-width).
    pub base_output_t_per_yr: (f64, f64),
    /// One experiment per resource, largest gain first.
    pub experiments: Vec<Experiment>,
    /// The resource whose added unit raises output most, if any gain is significant.
    pub bottleneck: Option<Expandable>,
}

/// Scales demand by `demand_scale` (so the plant runs flat out), then adds one unit of each
/// resource in turn and measures the output gain over the same seeds (common random numbers).
pub fn find_bottleneck(
    plant: &Plant,
    replications: usize,
    demand_scale: f64,
    mut progress: impl FnMut(usize, usize),
) -> Bottleneck {
    let mut base = plant.clone();
    for g in &mut base.grade {
        g.demand_t_per_month *= demand_scale;
    }
    let candidates: Vec<Expandable> = Expandable::ALL
        .into_iter()
        .filter(|r| r.capacity(&mut base).is_some())
        .collect();
    let total = replications * (1 + candidates.len());
    let mut done = 0;
    let mut outputs = |p: &Plant| -> Vec<f64> {
        (0..replications.max(1))
            .map(|i| {
                let r = run_replication(p, p.simulation.seed + i as u64).output_t_per_yr;
                done += 1;
                progress(done, total);
                r
            })
            .collect()
    };
    let base_outputs = outputs(&base);
    let mut experiments = Vec::new();
    for resource in candidates {
        let mut p = base.clone();
        let Some(capacity) = resource.capacity(&mut p) else {
            continue;
        };
        let from = *capacity;
        *capacity = from + 1;
        let out = outputs(&p);
        let gains: Vec<f64> = out.iter().zip(&base_outputs).map(|(a, b)| a - b).collect();
        let (gain, ci) = mean_ci95(&gains);
        experiments.push(Experiment {
            resource,
            from,
            to: from + 1,
            output_t_per_yr: mean_ci95(&out).0,
            gain_t_per_yr: gain,
            gain_ci95: ci,
        });
    }
    experiments.sort_by(|a, b| b.gain_t_per_yr.total_cmp(&a.gain_t_per_yr));
    let bottleneck = experiments
        .first()
        .filter(|e| e.gain_t_per_yr > e.gain_ci95 && e.gain_t_per_yr > 0.0)
        .map(|e| e.resource);
    Bottleneck {
        demand_scale,
        base_output_t_per_yr: mean_ci95(&base_outputs),
        experiments,
        bottleneck,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_uses_student_t() {
        // Values 1..=5: mean 3, s = 1.5811, t(0.975, 4) = 2.7764 → half-width 1.9632.
        let (mean, ci) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(mean, 3.0);
        assert!(
            (ci - 2.776_445 * (2.5f64 / 5.0).sqrt()).abs() < 1e-5,
            "{ci}"
        );
        assert_eq!(mean_ci95(&[7.0]), (7.0, 0.0));
    }
}
