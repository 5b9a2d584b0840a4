//! A library of example grades, N35 … 35EH. **Indicative**: per-grade recipes are proprietary;
//! these are mid-points of the ranges compiled in the research notes (alloy.md §1.1, "Indicative
//! per-grade compositions [U]", built from patent windows and maker pages; GB/T 13560-2017
//! Annex C is the authoritative source to replace them). Total rare earth is split Nd:Pr = 75:25
//! (the traded PrNd benchmark) after the heavy rare earth, taken as Dy.

use crate::spec::{Grade, QualityGrade};
use lodestone_chem::Element::{self, *};
use std::collections::BTreeMap;

/// One library row: name, then wt% of total RE, heavy RE (as Dy), B, Co, Cu, Al, Ga, Zr.
type Row = (&'static str, f64, f64, f64, f64, f64, f64, f64, f64);

const TABLE: [Row; 6] = [
    ("N35", 31.5, 0.25, 1.00, 0.50, 0.100, 0.25, 0.05, 0.10),
    ("N42", 31.0, 0.25, 0.975, 0.75, 0.125, 0.20, 0.15, 0.10),
    ("N52", 29.5, 0.0, 0.925, 1.25, 0.150, 0.05, 0.30, 0.10),
    ("42SH", 31.0, 2.25, 0.95, 1.50, 0.150, 0.20, 0.30, 0.15),
    ("38UH", 31.5, 5.0, 0.975, 2.00, 0.150, 0.30, 0.30, 0.20),
    ("35EH", 32.0, 7.5, 0.975, 2.50, 0.150, 0.30, 0.30, 0.20),
];

/// Every library grade, at GB/T 29655 quality grade 045001.
pub fn library() -> Vec<Grade> {
    TABLE
        .iter()
        .map(|&(name, tre, hre, b, co, cu, al, ga, zr)| {
            let light = tre - hre;
            let mut aim: BTreeMap<Element, f64> = BTreeMap::from([
                (Nd, 0.75 * light),
                (Pr, 0.25 * light),
                (B, b),
                (Co, co),
                (Cu, cu),
                (Al, al),
                (Ga, ga),
                (Zr, zr),
            ]);
            if hre > 0.0 {
                aim.insert(Dy, hre);
            }
            Grade {
                name: format!("{name} (indicative)"),
                aim_wt_pct: aim,
                balance: Fe,
                quality: QualityGrade::G045001,
                tolerance_wt_pct: BTreeMap::new(),
                impurity_max_wt_pct: BTreeMap::new(),
                rules: vec![],
            }
        })
        .collect()
}

/// The library grade called `name` (case-insensitive, "N52" or "n52").
pub fn by_name(name: &str) -> Option<Grade> {
    library().into_iter().find(|g| {
        g.name
            .split(' ')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// Names of the library grades.
pub fn names() -> Vec<&'static str> {
    TABLE.iter().map(|t| t.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_grades_are_valid_and_inside_the_published_ranges() {
        for g in library() {
            g.validate().unwrap();
            // alloy.md §0: TRE 28–35, Fe 60–70, B 0.8–1.2 wt%.
            let tre = g.rare_earth_aim_wt_pct();
            assert!((28.0..=35.0).contains(&tre), "{}: TRE {tre}", g.name);
            assert!(
                (60.0..=70.0).contains(&g.balance_aim_wt_pct()),
                "{}: Fe {}",
                g.name,
                g.balance_aim_wt_pct()
            );
            assert!((0.8..=1.2).contains(&g.aim_wt_pct[&B]), "{}", g.name);
        }
        assert!(by_name("n52").is_some() && by_name("N99").is_none());
    }
}
