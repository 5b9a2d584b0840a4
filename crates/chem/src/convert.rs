//! Concentration and fraction conversions.
//!
//! Molar masses come from [`Element::molar_mass_g_per_mol`],
//! [`Species::molar_mass_g_per_mol`] and [`Oxide::molar_mass_g_per_mol`]
//! (IUPAC 2021 standard atomic weights, abridged to the precision used
//! there). "g/L REO" means grams per litre of the element's standard oxide
//! ([`Oxide::standard`]): Nd₂O₃ for Nd, CeO₂ for Ce, Pr₆O₁₁ for Pr, ...

use std::fmt;
use std::str::FromStr;

use crate::element::Element;
use crate::error::{finite, positive_molar_mass, ChemError};
use crate::oxide::Oxide;
use crate::species::Species;

/// mg/L from mol/L: `conc_mol_per_l × molar_mass_g_per_mol × 1000`.
///
/// No validation: a non-positive or non-finite molar mass gives a
/// meaningless result (use [`ConcentrationUnit`] for checked conversions).
pub fn mg_per_l_from_mol_per_l(conc_mol_per_l: f64, molar_mass_g_per_mol: f64) -> f64 {
    conc_mol_per_l * molar_mass_g_per_mol * 1000.0
}

/// mol/L from mg/L: `conc_mg_per_l / (molar_mass_g_per_mol × 1000)`.
///
/// No validation: a zero molar mass gives an infinite or NaN result (use
/// [`ConcentrationUnit`] for checked conversions).
pub fn mol_per_l_from_mg_per_l(conc_mg_per_l: f64, molar_mass_g_per_mol: f64) -> f64 {
    conc_mg_per_l / (molar_mass_g_per_mol * 1000.0)
}

/// The standard oxide of a rare earth, with the error context "g/L REO".
fn reo_oxide(e: Element) -> Result<Oxide, ChemError> {
    if !e.is_rare_earth() {
        return Err(ChemError::NotRareEarth {
            symbol: e.symbol().to_owned(),
            context: "g/L REO",
        });
    }
    Oxide::standard(e)
}

/// g/L of standard oxide (REO) carried by `conc_mol_per_l` of a rare earth.
///
/// One mole of metal gives `1 / metal_atoms` moles of oxide, so for Nd
/// this is `c × M(Nd₂O₃) / 2`.
///
/// # Errors
/// [`ChemError::NotRareEarth`] if `e` is not a rare earth.
pub fn reo_g_per_l_from_mol_per_l(e: Element, conc_mol_per_l: f64) -> Result<f64, ChemError> {
    let ox = reo_oxide(e)?;
    Ok(conc_mol_per_l * ox.molar_mass_g_per_mol() / f64::from(ox.metal_atoms))
}

/// mol/L of a rare earth from g/L of its standard oxide (REO); inverse of
/// [`reo_g_per_l_from_mol_per_l`].
///
/// # Errors
/// [`ChemError::NotRareEarth`] if `e` is not a rare earth.
pub fn mol_per_l_from_reo_g_per_l(e: Element, reo_g_per_l: f64) -> Result<f64, ChemError> {
    let ox = reo_oxide(e)?;
    Ok(reo_g_per_l * f64::from(ox.metal_atoms) / ox.molar_mass_g_per_mol())
}

/// Scales `values` so they sum to `scale`, keeping order and elements.
/// If the sum is zero, every value becomes 0.
fn normalise(values: Vec<(Element, f64)>, scale: f64) -> Vec<(Element, f64)> {
    let total: f64 = values.iter().map(|&(_, v)| v).sum();
    values
        .into_iter()
        .map(|(e, v)| (e, if total == 0.0 { 0.0 } else { v / total * scale }))
        .collect()
}

/// Normalises amounts (mol, mol/L, or any mole-proportional quantity) to
/// mole fractions that sum to 1.
///
/// Order and repeated elements are kept as given (repeats are not merged).
/// If the amounts sum to zero (including an empty slice), every fraction is
/// 0 rather than an error. NaN propagates.
pub fn mole_fractions(amounts: &[(Element, f64)]) -> Vec<(Element, f64)> {
    normalise(amounts.to_vec(), 1.0)
}

/// Mass fractions (sum 1) from mole amounts or mole fractions:
/// `wᵢ = nᵢ Mᵢ / Σ nⱼ Mⱼ`.
///
/// Same conventions as [`mole_fractions`]: order kept, zero total gives
/// zeros.
pub fn mass_fractions_from_mole(amounts_mol: &[(Element, f64)]) -> Vec<(Element, f64)> {
    let masses = amounts_mol
        .iter()
        .map(|&(e, n)| (e, n * e.molar_mass_g_per_mol()))
        .collect();
    normalise(masses, 1.0)
}

/// Mole fractions (sum 1) from masses or mass fractions:
/// `xᵢ = (mᵢ / Mᵢ) / Σ (mⱼ / Mⱼ)`.
///
/// Same conventions as [`mole_fractions`]: order kept, zero total gives
/// zeros.
pub fn mole_fractions_from_mass(amounts_g: &[(Element, f64)]) -> Vec<(Element, f64)> {
    let moles = amounts_g
        .iter()
        .map(|&(e, m)| (e, m / e.molar_mass_g_per_mol()))
        .collect();
    normalise(moles, 1.0)
}

/// wt% (sum 100) from at% or any mole-proportional amounts.
///
/// Same conventions as [`mole_fractions`]: order kept, zero total gives
/// zeros.
pub fn wt_pct_from_at_pct(at_pct: &[(Element, f64)]) -> Vec<(Element, f64)> {
    scale(mass_fractions_from_mole(at_pct), 100.0)
}

/// at% (sum 100) from wt% or any mass-proportional amounts.
///
/// Same conventions as [`mole_fractions`]: order kept, zero total gives
/// zeros.
pub fn at_pct_from_wt_pct(wt_pct: &[(Element, f64)]) -> Vec<(Element, f64)> {
    scale(mole_fractions_from_mass(wt_pct), 100.0)
}

fn scale(values: Vec<(Element, f64)>, factor: f64) -> Vec<(Element, f64)> {
    values.into_iter().map(|(e, v)| (e, v * factor)).collect()
}

/// A concentration unit as written in data files.
///
/// Parsed from and displayed as `"mol/L"`, `"mmol/L"`, `"mg/L"`, `"g/L"`,
/// `"g/L REO"` (parsing ignores case and extra spaces, and also accepts
/// `"g REO/L"`); serialised as the same strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcentrationUnit {
    /// Moles of species per litre of solution.
    MolPerL,
    /// Millimoles of species per litre.
    MmolPerL,
    /// Milligrams of species per litre.
    MgPerL,
    /// Grams of species per litre.
    GPerL,
    /// Grams of the rare earth's standard oxide ([`Oxide::standard`]) per
    /// litre; only defined for rare earths.
    GReoPerL,
}

impl ConcentrationUnit {
    /// Every unit, in declaration order.
    pub const ALL: &'static [ConcentrationUnit] = &[
        ConcentrationUnit::MolPerL,
        ConcentrationUnit::MmolPerL,
        ConcentrationUnit::MgPerL,
        ConcentrationUnit::GPerL,
        ConcentrationUnit::GReoPerL,
    ];

    /// Canonical text: `"mol/L"`, `"mmol/L"`, `"mg/L"`, `"g/L"`, `"g/L REO"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcentrationUnit::MolPerL => "mol/L",
            ConcentrationUnit::MmolPerL => "mmol/L",
            ConcentrationUnit::MgPerL => "mg/L",
            ConcentrationUnit::GPerL => "g/L",
            ConcentrationUnit::GReoPerL => "g/L REO",
        }
    }

    /// Converts `value` in this unit to mol/L of `species`.
    ///
    /// `molar_mass_g_per_mol` is the molar mass of the species on the basis
    /// the value is reported in (usually [`Species::molar_mass_g_per_mol`]);
    /// it is used, and checked, only for mg/L and g/L. g/L REO uses the
    /// standard oxide of the species' element and ignores it.
    ///
    /// # Errors
    /// [`ChemError::InvalidValue`] if `value` is not finite, or the molar mass
    /// is needed and is not finite and > 0; [`ChemError::NotRareEarth`] for
    /// g/L REO when `species` is not a rare-earth ion.
    pub fn to_mol_per_l(
        self,
        value: f64,
        species: &Species,
        molar_mass_g_per_mol: f64,
    ) -> Result<f64, ChemError> {
        let value = finite("concentration", value)?;
        Ok(match self {
            ConcentrationUnit::MolPerL => value,
            ConcentrationUnit::MmolPerL => value / 1000.0,
            ConcentrationUnit::MgPerL => {
                mol_per_l_from_mg_per_l(value, positive_molar_mass(molar_mass_g_per_mol)?)
            }
            ConcentrationUnit::GPerL => value / positive_molar_mass(molar_mass_g_per_mol)?,
            ConcentrationUnit::GReoPerL => {
                mol_per_l_from_reo_g_per_l(reo_element(species)?, value)?
            }
        })
    }

    /// Converts `conc_mol_per_l` of `species` to this unit; inverse of
    /// [`ConcentrationUnit::to_mol_per_l`], with the same arguments and
    /// errors.
    ///
    /// # Errors
    /// As [`ConcentrationUnit::to_mol_per_l`].
    pub fn from_mol_per_l(
        self,
        conc_mol_per_l: f64,
        species: &Species,
        molar_mass_g_per_mol: f64,
    ) -> Result<f64, ChemError> {
        let c = finite("concentration (mol/L)", conc_mol_per_l)?;
        Ok(match self {
            ConcentrationUnit::MolPerL => c,
            ConcentrationUnit::MmolPerL => c * 1000.0,
            ConcentrationUnit::MgPerL => {
                mg_per_l_from_mol_per_l(c, positive_molar_mass(molar_mass_g_per_mol)?)
            }
            ConcentrationUnit::GPerL => c * positive_molar_mass(molar_mass_g_per_mol)?,
            ConcentrationUnit::GReoPerL => reo_g_per_l_from_mol_per_l(reo_element(species)?, c)?,
        })
    }
}

/// The rare earth a g/L REO value refers to.
fn reo_element(species: &Species) -> Result<Element, ChemError> {
    match species {
        Species::Metal(e) if e.is_rare_earth() => Ok(*e),
        other => Err(ChemError::NotRareEarth {
            symbol: other.symbol(),
            context: "g/L REO",
        }),
    }
}

impl FromStr for ConcentrationUnit {
    type Err = ChemError;

    /// Parses `"mol/L"`, `"mmol/L"`, `"mg/L"`, `"g/L"`, `"g/L REO"` or
    /// `"g REO/L"`, ignoring case and extra whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = key.to_ascii_lowercase();
        Ok(match key.as_str() {
            "mol/l" => ConcentrationUnit::MolPerL,
            "mmol/l" => ConcentrationUnit::MmolPerL,
            "mg/l" => ConcentrationUnit::MgPerL,
            "g/l" => ConcentrationUnit::GPerL,
            "g/l reo" | "g reo/l" => ConcentrationUnit::GReoPerL,
            _ => {
                return Err(ChemError::UnknownUnit { unit: s.to_owned() });
            }
        })
    }
}

impl fmt::Display for ConcentrationUnit {
    /// Writes [`ConcentrationUnit::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(
    ConcentrationUnit,
    "a concentration unit: mol/L, mmol/L, mg/L, g/L or g/L REO"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn mg_per_l_round_numbers() {
        // 0.01 mol/L Nd = 1442.42 mg/L.
        assert!(close(
            mg_per_l_from_mol_per_l(0.01, 144.242),
            1442.42,
            1e-12
        ));
        assert!(close(
            mol_per_l_from_mg_per_l(1442.42, 144.242),
            0.01,
            1e-12
        ));
        // 1000 mg/L sulfate = 10.4106 mmol/L.
        let m = Species::Sulfate.molar_mass_g_per_mol();
        assert!((mol_per_l_from_mg_per_l(1000.0, m) * 1000.0 - 10.41059).abs() < 1e-4);
    }

    #[test]
    fn reo_conversions() {
        // 0.1 mol/L Nd3+ -> 0.05 mol/L Nd2O3 -> 16.82405 g/L.
        let g = reo_g_per_l_from_mol_per_l(Element::Nd, 0.1).unwrap();
        assert!((g - 0.05 * (2.0 * 144.242 + 3.0 * 15.999)).abs() < 1e-4);
        assert!((g - 16.82405).abs() < 1e-4);
        // 1 g/L Pr6O11 carries 6/1021.43496 mol/L Pr.
        let c = mol_per_l_from_reo_g_per_l(Element::Pr, 1.0).unwrap();
        assert!((c - 6.0 / 1021.43496).abs() < 1e-9);
        // 1 g/L CeO2 carries 1/172.114 mol/L Ce.
        let c = mol_per_l_from_reo_g_per_l(Element::Ce, 1.0).unwrap();
        assert!((c - 1.0 / 172.114).abs() < 1e-9);
        // g/L REO = g/L metal × REO factor.
        for &e in Element::RARE_EARTHS {
            let g_metal = 0.2 * e.molar_mass_g_per_mol();
            let g_reo = reo_g_per_l_from_mol_per_l(e, 0.2).unwrap();
            let factor = Oxide::standard(e).unwrap().oxide_per_metal_mass();
            assert!(close(g_reo, g_metal * factor, 1e-12), "{e}");
            let back = mol_per_l_from_reo_g_per_l(e, g_reo).unwrap();
            assert!(close(back, 0.2, 1e-12), "{e}");
        }
    }

    #[test]
    fn reo_rejects_non_rare_earths() {
        let err = reo_g_per_l_from_mol_per_l(Element::Fe, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Fe is not a rare-earth element: g/L REO is defined only for Sc, Y and La to Lu"
        );
        assert!(mol_per_l_from_reo_g_per_l(Element::Al, 1.0).is_err());
    }

    #[test]
    fn mole_fraction_normalisation() {
        let x = mole_fractions(&[(Element::Pr, 1.0), (Element::Nd, 3.0)]);
        assert_eq!(x, vec![(Element::Pr, 0.25), (Element::Nd, 0.75)]);
        let zero = mole_fractions(&[(Element::Pr, 0.0), (Element::Nd, 0.0)]);
        assert_eq!(zero, vec![(Element::Pr, 0.0), (Element::Nd, 0.0)]);
        assert!(mole_fractions(&[]).is_empty());
    }

    #[test]
    fn nd2fe14b_mass_and_mole_fractions() {
        let (nd, fe, b) = (144.242, 55.845, 10.81);
        let total = 2.0 * nd + 14.0 * fe + b;
        let w =
            mass_fractions_from_mole(&[(Element::Nd, 2.0), (Element::Fe, 14.0), (Element::B, 1.0)]);
        assert!((w[0].1 - 2.0 * nd / total).abs() < 1e-12);
        assert!((w[0].1 - 0.266837).abs() < 1e-6);
        assert!((w[1].1 - 14.0 * fe / total).abs() < 1e-12);
        assert!((w[2].1 - b / total).abs() < 1e-12);
        let x = mole_fractions_from_mass(&w);
        for ((e, xi), n) in x.iter().zip([2.0, 14.0, 1.0]) {
            assert!((xi - n / 17.0).abs() < 1e-12, "{e}");
        }
        let wt = wt_pct_from_at_pct(&[
            (Element::Nd, 2.0 / 17.0 * 100.0),
            (Element::Fe, 14.0 / 17.0 * 100.0),
            (Element::B, 1.0 / 17.0 * 100.0),
        ]);
        assert!((wt[0].1 - 26.6837).abs() < 1e-4);
        assert!((wt[1].1 - 72.3164).abs() < 1e-4);
        assert!((wt[2].1 - 0.99989).abs() < 1e-4);
        let at = at_pct_from_wt_pct(&wt);
        assert!((at[2].1 - 100.0 / 17.0).abs() < 1e-9);
        assert_eq!(
            wt_pct_from_at_pct(&[(Element::Nd, 0.0)]),
            [(Element::Nd, 0.0)]
        );
    }

    #[test]
    fn unit_strings() {
        for &u in ConcentrationUnit::ALL {
            assert_eq!(u.to_string().parse::<ConcentrationUnit>(), Ok(u));
        }
        let parsed: Vec<_> = ["mol/L", "mmol/L", "mg/L", "g/L", "g/L REO"]
            .iter()
            .map(|s| s.parse::<ConcentrationUnit>().unwrap())
            .collect();
        assert_eq!(parsed, ConcentrationUnit::ALL);
        assert_eq!("  G/l   reo ".parse(), Ok(ConcentrationUnit::GReoPerL));
        assert_eq!("g REO/L".parse(), Ok(ConcentrationUnit::GReoPerL));
        assert_eq!("MG/L".parse(), Ok(ConcentrationUnit::MgPerL));
        let err = "ppb".parse::<ConcentrationUnit>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown concentration unit \"ppb\": expected one of mol/L, mmol/L, mg/L, g/L, g/L REO"
        );
    }

    #[test]
    fn unit_conversions() {
        let nd = Species::Metal(Element::Nd);
        let m = nd.molar_mass_g_per_mol();
        let cases = [
            (ConcentrationUnit::MolPerL, 0.05),
            (ConcentrationUnit::MmolPerL, 50.0),
            (ConcentrationUnit::MgPerL, 7212.1),
            (ConcentrationUnit::GPerL, 7.2121),
            (ConcentrationUnit::GReoPerL, 8.412025),
        ];
        for (u, v) in cases {
            let c = u.to_mol_per_l(v, &nd, m).unwrap();
            assert!(close(c, 0.05, 1e-9), "{u}: {c}");
            let back = u.from_mol_per_l(0.05, &nd, m).unwrap();
            assert!(close(back, v, 1e-9), "{u}: {back}");
        }
        // Molar mass is not needed (nor checked) for molar units and REO.
        assert_eq!(
            ConcentrationUnit::MmolPerL.to_mol_per_l(3.0, &Species::Sulfate, 0.0),
            Ok(0.003)
        );
        assert!(ConcentrationUnit::GReoPerL
            .to_mol_per_l(1.0, &nd, f64::NAN)
            .is_ok());
    }

    #[test]
    fn unit_conversion_errors() {
        let so4 = Species::Sulfate;
        let m = so4.molar_mass_g_per_mol();
        let err = ConcentrationUnit::GReoPerL
            .to_mol_per_l(1.0, &so4, m)
            .unwrap_err();
        assert_eq!(
            err,
            ChemError::NotRareEarth {
                symbol: "SO4".into(),
                context: "g/L REO"
            }
        );
        let fe = Species::Metal(Element::Fe);
        assert!(ConcentrationUnit::GReoPerL
            .from_mol_per_l(1.0, &fe, 55.845)
            .is_err());
        let err = ConcentrationUnit::MgPerL
            .to_mol_per_l(10.0, &so4, 0.0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid molar mass (g/mol) 0: expected a finite number > 0"
        );
        let err = ConcentrationUnit::MolPerL
            .to_mol_per_l(f64::NAN, &so4, m)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid concentration NaN: expected a finite number"
        );
        assert!(ConcentrationUnit::GPerL
            .from_mol_per_l(f64::INFINITY, &so4, m)
            .is_err());
    }
}
