//! Rare-earth oxides as sold and assayed (REO basis).
//!
//! Molar masses are summed from [`Element::molar_mass_g_per_mol`] (IUPAC 2021
//! standard atomic weights, abridged to the precision used there).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::element::Element;
use crate::error::ChemError;

/// An oxide `M_mO_n` of one element, e.g. Nd₂O₃ (`metal_atoms` 2,
/// `oxygen_atoms` 3).
///
/// [`Oxide::standard`] gives the standard oxide in which a rare earth is
/// sold and assayed: La₂O₃, CeO₂, Pr₆O₁₁, Nd₂O₃, Tb₄O₇, and RE₂O₃ for the
/// others (Sc₂O₃, Y₂O₃, Sm₂O₃, ...). The fields are public; values built by
/// hand should have non-zero counts (see [`Oxide::new`]), otherwise the mass
/// ratios are infinite or zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Oxide {
    /// The metal.
    pub element: Element,
    /// Metal atoms per formula unit (m in M_mO_n).
    pub metal_atoms: u8,
    /// Oxygen atoms per formula unit (n in M_mO_n).
    pub oxygen_atoms: u8,
}

impl Oxide {
    /// An oxide `element_{metal_atoms} O_{oxygen_atoms}`.
    ///
    /// # Errors
    /// [`ChemError::InvalidOxide`] if either count is zero or `element` is O.
    pub fn new(element: Element, metal_atoms: u8, oxygen_atoms: u8) -> Result<Oxide, ChemError> {
        if metal_atoms == 0 || oxygen_atoms == 0 || element == Element::O {
            return Err(ChemError::InvalidOxide {
                element,
                metal_atoms,
                oxygen_atoms,
            });
        }
        Ok(Oxide {
            element,
            metal_atoms,
            oxygen_atoms,
        })
    }

    /// Standard oxide of a rare earth as sold and assayed: CeO₂, Pr₆O₁₁,
    /// Tb₄O₇, and RE₂O₃ for the other 14 (La₂O₃, Nd₂O₃, Sc₂O₃, Y₂O₃, ...).
    ///
    /// # Errors
    /// [`ChemError::NotRareEarth`] if `e` is not one of
    /// [`Element::RARE_EARTHS`].
    pub fn standard(e: Element) -> Result<Oxide, ChemError> {
        let (metal_atoms, oxygen_atoms) = match e {
            Element::Ce => (1, 2),
            Element::Pr => (6, 11),
            Element::Tb => (4, 7),
            e if e.is_rare_earth() => (2, 3),
            e => {
                return Err(ChemError::NotRareEarth {
                    symbol: e.symbol().to_owned(),
                    context: "standard oxide",
                })
            }
        };
        Ok(Oxide {
            element: e,
            metal_atoms,
            oxygen_atoms,
        })
    }

    /// Parses a formula such as `"Nd2O3"`, `"CeO2"`, `"Pr6O11"` or
    /// `"Fe2O3"` (symbols case-sensitive; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`ChemError::InvalidOxideFormula`] if the text is not
    /// `<symbol>[count]O[count]`; [`ChemError::InvalidOxide`] if a count is
    /// zero or the metal is O.
    pub fn from_formula(s: &str) -> Result<Oxide, ChemError> {
        let bad = || ChemError::InvalidOxideFormula {
            formula: s.to_owned(),
        };
        let t = s.trim();
        let element = [2, 1]
            .into_iter()
            .filter_map(|n| t.get(..n))
            .find_map(|head| Element::ALL.iter().find(|e| e.symbol() == head))
            .copied()
            .ok_or_else(bad)?;
        let rest = &t[element.symbol().len()..];
        let (metal_atoms, rest) = take_count(rest).ok_or_else(bad)?;
        let rest = rest.strip_prefix('O').ok_or_else(bad)?;
        let (oxygen_atoms, rest) = take_count(rest).ok_or_else(bad)?;
        if !rest.is_empty() {
            return Err(bad());
        }
        Oxide::new(element, metal_atoms, oxygen_atoms)
    }

    /// Chemical formula with counts of 1 omitted, e.g. `"Nd2O3"`, `"CeO2"`,
    /// `"Pr6O11"`.
    pub fn formula(&self) -> String {
        let count = |n: u8| if n == 1 { String::new() } else { n.to_string() };
        format!(
            "{}{}O{}",
            self.element.symbol(),
            count(self.metal_atoms),
            count(self.oxygen_atoms)
        )
    }

    /// Molar mass of the formula unit in g/mol, e.g. Nd₂O₃ 336.481 g/mol.
    pub fn molar_mass_g_per_mol(&self) -> f64 {
        f64::from(self.metal_atoms) * self.element.molar_mass_g_per_mol()
            + f64::from(self.oxygen_atoms) * Element::O.molar_mass_g_per_mol()
    }

    /// Grams of oxide per gram of contained metal (the REO factor), e.g.
    /// 1.1664 for Nd₂O₃.
    pub fn oxide_per_metal_mass(&self) -> f64 {
        self.molar_mass_g_per_mol()
            / (f64::from(self.metal_atoms) * self.element.molar_mass_g_per_mol())
    }

    /// Grams of metal per gram of oxide, the reciprocal of
    /// [`Oxide::oxide_per_metal_mass`], e.g. 0.8574 for Nd₂O₃.
    pub fn metal_per_oxide_mass(&self) -> f64 {
        1.0 / self.oxide_per_metal_mass()
    }
}

/// Splits an optional decimal count (default 1) off the front of `s`.
fn take_count(s: &str) -> Option<(u8, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return Some((1, s));
    }
    s[..end].parse().ok().map(|n| (n, &s[end..]))
}

impl FromStr for Oxide {
    type Err = ChemError;

    /// Same as [`Oxide::from_formula`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Oxide::from_formula(s)
    }
}

impl fmt::Display for Oxide {
    /// Writes [`Oxide::formula`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formula())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: f64 = 15.999;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn standard_formulas() {
        let formulas: Vec<_> = Element::RARE_EARTHS
            .iter()
            .map(|&e| Oxide::standard(e).unwrap().formula())
            .collect();
        assert_eq!(
            formulas,
            [
                "Sc2O3", "Y2O3", "La2O3", "CeO2", "Pr6O11", "Nd2O3", "Pm2O3", "Sm2O3", "Eu2O3",
                "Gd2O3", "Tb4O7", "Dy2O3", "Ho2O3", "Er2O3", "Tm2O3", "Yb2O3", "Lu2O3"
            ]
        );
    }

    #[test]
    fn nd2o3_reo_factor() {
        let ox = Oxide::standard(Element::Nd).unwrap();
        let expected_mass = 2.0 * 144.242 + 3.0 * O;
        assert!(close(ox.molar_mass_g_per_mol(), expected_mass));
        assert!(close(ox.molar_mass_g_per_mol(), 336.481));
        let factor = expected_mass / (2.0 * 144.242);
        assert!(close(ox.oxide_per_metal_mass(), factor));
        assert!((ox.oxide_per_metal_mass() - 1.1664).abs() < 5e-5);
        assert!(close(ox.metal_per_oxide_mass(), 1.0 / factor));
        assert!((ox.metal_per_oxide_mass() - 0.8574).abs() < 5e-5);
    }

    #[test]
    fn pr6o11_molar_mass() {
        let ox = Oxide::standard(Element::Pr).unwrap();
        let expected = 6.0 * 140.90766 + 11.0 * O;
        assert!(close(ox.molar_mass_g_per_mol(), expected));
        assert!(close(ox.molar_mass_g_per_mol(), 1021.43496));
        // Commonly quoted as 1021.44 g/mol (with O = 15.9994); agrees to 0.01.
        assert!((ox.molar_mass_g_per_mol() - 1021.44).abs() < 0.01);
        assert!(close(
            ox.oxide_per_metal_mass(),
            expected / (6.0 * 140.90766)
        ));
        assert!((ox.oxide_per_metal_mass() - 1.2082).abs() < 5e-5);
    }

    #[test]
    fn ceo2_and_tb4o7() {
        let ce = Oxide::standard(Element::Ce).unwrap();
        assert!(close(ce.molar_mass_g_per_mol(), 140.116 + 2.0 * O));
        assert!((ce.molar_mass_g_per_mol() - 172.11).abs() < 0.005);
        assert!((ce.oxide_per_metal_mass() - 1.2284).abs() < 5e-5);
        let tb = Oxide::standard(Element::Tb).unwrap();
        assert!(close(tb.molar_mass_g_per_mol(), 4.0 * 158.925354 + 7.0 * O));
        assert!((tb.molar_mass_g_per_mol() - 747.6944).abs() < 1e-4);
        assert!((tb.oxide_per_metal_mass() - 1.1762).abs() < 5e-5);
    }

    #[test]
    fn other_reo_factors() {
        // Textbook REO factors (4 decimals) from IUPAC 2021 weights.
        let expected = [
            (Element::La, 1.1728),
            (Element::Y, 1.2699),
            (Element::Sc, 1.5338),
            (Element::Dy, 1.1477),
            (Element::Sm, 1.1596),
            (Element::Lu, 1.1372),
        ];
        for (e, f) in expected {
            let ox = Oxide::standard(e).unwrap();
            let m = e.molar_mass_g_per_mol();
            assert!(close(
                ox.oxide_per_metal_mass(),
                (2.0 * m + 3.0 * O) / (2.0 * m)
            ));
            assert!((ox.oxide_per_metal_mass() - f).abs() < 5e-5, "{e}");
        }
    }

    #[test]
    fn non_rare_earth_has_no_standard_oxide() {
        let err = Oxide::standard(Element::Fe).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Fe is not a rare-earth element: standard oxide is defined only for Sc, Y and La to Lu"
        );
    }

    #[test]
    fn new_validates_counts() {
        assert!(Oxide::new(Element::Fe, 2, 3).is_ok());
        for (e, m, n) in [(Element::Fe, 0, 3), (Element::Fe, 2, 0), (Element::O, 1, 1)] {
            assert_eq!(
                Oxide::new(e, m, n),
                Err(ChemError::InvalidOxide {
                    element: e,
                    metal_atoms: m,
                    oxygen_atoms: n
                })
            );
        }
    }

    #[test]
    fn parse_formulas() {
        for &e in Element::RARE_EARTHS {
            let ox = Oxide::standard(e).unwrap();
            assert_eq!(ox.formula().parse::<Oxide>(), Ok(ox));
            assert_eq!(ox.to_string(), ox.formula());
        }
        assert_eq!(
            Oxide::from_formula(" Fe2O3 "),
            Ok(Oxide {
                element: Element::Fe,
                metal_atoms: 2,
                oxygen_atoms: 3
            })
        );
        assert_eq!(Oxide::from_formula("CO2").unwrap().element, Element::C);
        assert_eq!(Oxide::from_formula("Co3O4").unwrap().element, Element::Co);
        assert_eq!(Oxide::from_formula("CaO").unwrap().formula(), "CaO");
        for bad in [
            "", "Nd", "Nd2", "Nd2O3x", "nd2O3", "Xx2O3", "Nd2Cl3", "Nd999O3",
        ] {
            assert_eq!(
                Oxide::from_formula(bad),
                Err(ChemError::InvalidOxideFormula {
                    formula: bad.into()
                }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Oxide::from_formula("Nd0O3"),
            Err(ChemError::InvalidOxide { .. })
        ));
    }
}
