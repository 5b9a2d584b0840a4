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
    estimate(
        "line availability".into(),
        "",
        runs.iter()
            .map(|r| line_mean(r, |l| l.availability))
            .collect(),
    );
    estimate(
        "line OEE".into(),
        "",
        runs.iter().map(|r| line_mean(r, |l| l.oee)).collect(),
    );
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
        "lead time, order to finished goods".into(),
        "h",
        runs.iter().map(|r| r.mean_lead_time_h).collect(),
    );
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
