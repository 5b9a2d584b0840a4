//! Alloy and product compositions by element (wt% basis).
//!
//! Conversions to atomic fractions use [`Element::molar_mass_g_per_mol`]
//! (IUPAC 2021 standard atomic weights, abridged to the precision used there).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::convert::{mass_fractions_from_mole, mole_fractions_from_mass};
use crate::element::Element;
use crate::error::ChemError;

/// A composition keyed by element, stored as wt% (mass basis).
///
/// Amounts are finite and ≥ 0; they need not sum to 100 (assays rarely do)
/// until [`Composition::normalised`] is called. Serialises as a map from
/// symbol to wt%, e.g. `{"B": 1.0, "Fe": 66.0, "Nd": 33.0}`; deserialising
/// validates the amounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<Element, f64>", into = "BTreeMap<Element, f64>")]
pub struct Composition {
    wt_pct: BTreeMap<Element, f64>,
}

fn check(element: Element, value: f64, unit: &'static str) -> Result<f64, ChemError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ChemError::InvalidAmount {
            element,
            value,
            unit,
        })
    }
}

fn collect_unique(
    entries: impl IntoIterator<Item = (Element, f64)>,
    unit: &'static str,
) -> Result<Vec<(Element, f64)>, ChemError> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (e, v) in entries {
        if seen.insert(e, ()).is_some() {
            return Err(ChemError::DuplicateElement {
                element: e,
                what: "composition",
            });
        }
        out.push((e, check(e, v, unit)?));
    }
    Ok(out)
}

impl Composition {
    /// A composition from (element, wt%) pairs, kept as given (not
    /// normalised).
    ///
    /// # Errors
    /// [`ChemError::InvalidAmount`] for a NaN, infinite or negative wt%;
    /// [`ChemError::DuplicateElement`] if an element appears twice.
    pub fn from_wt_pct(
        entries: impl IntoIterator<Item = (Element, f64)>,
    ) -> Result<Composition, ChemError> {
        Ok(Composition {
            wt_pct: collect_unique(entries, "wt%")?.into_iter().collect(),
        })
    }

    /// A composition from (element, atomic fraction) pairs, converted to wt%
    /// summing to 100. The amounts may be at%, mole fractions or moles: only
    /// their ratios matter.
    ///
    /// # Errors
    /// As [`Composition::from_wt_pct`], plus [`ChemError::ZeroTotal`] if the
    /// amounts sum to zero.
    pub fn from_atomic_fraction(
        entries: impl IntoIterator<Item = (Element, f64)>,
    ) -> Result<Composition, ChemError> {
        let moles = collect_unique(entries, "mol")?;
        let total = moles.iter().fold(0.0, |a, &(_, n)| a + n);
        if total <= 0.0 {
            return Err(ChemError::ZeroTotal {
                what: "atomic fractions",
                total,
            });
        }
        Ok(Composition {
            wt_pct: mass_fractions_from_mole(&moles)
                .into_iter()
                .map(|(e, w)| (e, w * 100.0))
                .collect(),
        })
    }

    /// wt% of `e`; 0 if `e` is not listed.
    pub fn wt_pct(&self, e: Element) -> f64 {
        self.wt_pct.get(&e).copied().unwrap_or(0.0)
    }

    /// Sum of all wt% values (100 for a normalised composition).
    pub fn total_wt_pct(&self) -> f64 {
        // fold from +0.0: `sum` of no floats is -0.0, which prints as "-0".
        self.wt_pct.values().fold(0.0, |a, b| a + b)
    }

    /// Sum of the rare-earth wt% values (TREM, total rare-earth metals).
    pub fn total_rare_earth_wt_pct(&self) -> f64 {
        self.iter()
            .filter(|(e, _)| e.is_rare_earth())
            .fold(0.0, |a, (_, w)| a + w)
    }

    /// The same composition scaled to a total of 100 wt%.
    ///
    /// # Errors
    /// [`ChemError::ZeroTotal`] if the total is zero (or the composition is
    /// empty).
    pub fn normalised(&self) -> Result<Composition, ChemError> {
        let total = self.total_wt_pct();
        if total <= 0.0 {
            return Err(ChemError::ZeroTotal {
                what: "composition (wt%)",
                total,
            });
        }
        Ok(Composition {
            wt_pct: self.iter().map(|(e, w)| (e, w / total * 100.0)).collect(),
        })
    }

    /// Atomic (mole) fractions summing to 1, computed from the wt% values
    /// (normalised first, so the total need not be 100).
    ///
    /// # Errors
    /// [`ChemError::ZeroTotal`] if the total is zero (or the composition is
    /// empty).
    pub fn to_atomic_fraction(&self) -> Result<BTreeMap<Element, f64>, ChemError> {
        let total = self.total_wt_pct();
        if total <= 0.0 {
            return Err(ChemError::ZeroTotal {
                what: "composition (wt%)",
                total,
            });
        }
        let masses: Vec<_> = self.iter().collect();
        Ok(mole_fractions_from_mass(&masses).into_iter().collect())
    }

    /// (element, wt%) pairs in order of atomic number.
    pub fn iter(&self) -> impl Iterator<Item = (Element, f64)> + '_ {
        self.wt_pct.iter().map(|(&e, &w)| (e, w))
    }

    /// Number of elements listed.
    pub fn len(&self) -> usize {
        self.wt_pct.len()
    }

    /// True if no element is listed.
    pub fn is_empty(&self) -> bool {
        self.wt_pct.is_empty()
    }
}

impl TryFrom<BTreeMap<Element, f64>> for Composition {
    type Error = ChemError;

    /// Validates a map of wt% values, as [`Composition::from_wt_pct`].
    fn try_from(map: BTreeMap<Element, f64>) -> Result<Self, Self::Error> {
        Composition::from_wt_pct(map)
    }
}

impl From<Composition> for BTreeMap<Element, f64> {
    /// The wt% map.
    fn from(c: Composition) -> Self {
        c.wt_pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Element::*;

    #[test]
    fn nd2fe14b_from_atomic_fraction() {
        let c = Composition::from_atomic_fraction([(Nd, 2.0), (Fe, 14.0), (B, 1.0)]).unwrap();
        let total = 2.0 * 144.242 + 14.0 * 55.845 + 10.81;
        assert!((c.wt_pct(Nd) - 100.0 * 2.0 * 144.242 / total).abs() < 1e-9);
        assert!((c.wt_pct(Nd) - 26.6837).abs() < 1e-4);
        assert!((c.wt_pct(Fe) - 72.3164).abs() < 1e-4);
        assert!((c.wt_pct(B) - 0.99989).abs() < 1e-4);
        assert!((c.total_wt_pct() - 100.0).abs() < 1e-9);
        assert_eq!(c.wt_pct(Dy), 0.0);
        let x = c.to_atomic_fraction().unwrap();
        assert!((x[&Nd] - 2.0 / 17.0).abs() < 1e-12);
        assert!((x[&Fe] - 14.0 / 17.0).abs() < 1e-12);
        assert!((x[&B] - 1.0 / 17.0).abs() < 1e-12);
    }

    #[test]
    fn assay_not_summing_to_100() {
        // A typical sintered-magnet assay: Nd 23.0, Pr 6.5, Dy 1.0, B 0.98,
        // Fe balance reported as 68.0 (total 99.48 wt%).
        let c = Composition::from_wt_pct([(Nd, 23.0), (Pr, 6.5), (Dy, 1.0), (B, 0.98), (Fe, 68.0)])
            .unwrap();
        assert!((c.total_wt_pct() - 99.48).abs() < 1e-12);
        assert!((c.total_rare_earth_wt_pct() - 30.5).abs() < 1e-12);
        let n = c.normalised().unwrap();
        assert!((n.total_wt_pct() - 100.0).abs() < 1e-9);
        assert!((n.wt_pct(Nd) - 23.0 / 99.48 * 100.0).abs() < 1e-9);
        let x = c.to_atomic_fraction().unwrap();
        let moles = [
            (Nd, 23.0 / 144.242),
            (Pr, 6.5 / 140.90766),
            (Dy, 1.0 / 162.5),
            (B, 0.98 / 10.81),
            (Fe, 68.0 / 55.845),
        ];
        let total: f64 = moles.iter().map(|(_, n)| n).sum();
        for (e, n) in moles {
            assert!((x[&e] - n / total).abs() < 1e-12, "{e}");
        }
        assert!((x.values().sum::<f64>() - 1.0).abs() < 1e-12);
        for (e, xn) in n.to_atomic_fraction().unwrap() {
            assert!((x[&e] - xn).abs() < 1e-12, "{e}");
        }
        let order: Vec<_> = c.iter().map(|(e, _)| e).collect();
        assert_eq!(order, [B, Fe, Pr, Nd, Dy]);
        assert_eq!(c.len(), 5);
        assert!(!c.is_empty());
    }

    #[test]
    fn validation() {
        assert_eq!(
            Composition::from_wt_pct([(Nd, -1.0)]),
            Err(ChemError::InvalidAmount {
                element: Nd,
                value: -1.0,
                unit: "wt%"
            })
        );
        assert_eq!(
            Composition::from_wt_pct([(Nd, -1.0)])
                .unwrap_err()
                .to_string(),
            "invalid amount of Nd: -1 wt%, expected a finite number >= 0"
        );
        assert!(Composition::from_wt_pct([(Fe, f64::NAN)]).is_err());
        let dup = Composition::from_wt_pct([(Nd, 1.0), (Nd, 2.0)]).unwrap_err();
        assert_eq!(
            dup.to_string(),
            "element Nd is listed more than once in composition: expected each element at most once"
        );
        assert!(Composition::from_atomic_fraction([(Nd, f64::INFINITY)]).is_err());
    }

    #[test]
    fn zero_totals_are_errors() {
        let empty = Composition::default();
        assert!(empty.is_empty());
        assert_eq!(empty.total_wt_pct(), 0.0);
        let err = empty.normalised().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot normalise composition (wt%): the total is 0, expected a total > 0"
        );
        assert!(Composition::from_wt_pct([(Nd, 0.0)])
            .unwrap()
            .to_atomic_fraction()
            .is_err());
        assert!(Composition::from_atomic_fraction([(Nd, 0.0), (Fe, 0.0)]).is_err());
    }
}
