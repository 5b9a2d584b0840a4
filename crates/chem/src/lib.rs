//! Chemistry primitives for rare-earth separation and NdFeB alloy plants.
//!
//! * [`Element`]: the 17 rare earths plus the reagent, impurity and alloy
//!   elements met in the plant, with symbol, name, atomic number, molar mass
//!   and usual aqueous charge.
//! * [`Species`]: ions and molecules used by solvent-extraction models (H⁺,
//!   HSO₄⁻, SO₄²⁻, Cl⁻, NO₃⁻, ...), with charge and molar mass.
//! * [`Oxide`]: standard rare-earth oxides (La₂O₃, CeO₂, Pr₆O₁₁, Nd₂O₃,
//!   Tb₄O₇, RE₂O₃) and REO factors.
//! * [`convert`]: mol/L ↔ mg/L ↔ g/L REO, mole ↔ mass fractions, wt% ↔ at%,
//!   and [`ConcentrationUnit`] for unit strings found in data files.
//! * [`Composition`]: an alloy or product composition in wt%, convertible to
//!   atomic fractions.
//!
//! All data are atomic weights: the IUPAC 2021 standard atomic weights
//! (CIAAW, Prohaska et al., *Pure Appl. Chem.* 94 (2022) 573–600), abridged
//! to the precision used (full table digits for single-value elements, the
//! conventional value for interval elements such as O = 15.999, and 145 for
//! Pm). Everything is pure computation: no I/O and no global mutable state.
//! Fallible operations return [`ChemError`], whose messages name the
//! offending value and what is allowed.
//!
//! ```
//! use lodestone_chem::{Element, Oxide, reo_g_per_l_from_mol_per_l};
//!
//! let nd2o3 = Oxide::standard(Element::Nd)?;
//! assert_eq!(nd2o3.formula(), "Nd2O3");
//! assert!((nd2o3.oxide_per_metal_mass() - 1.1664).abs() < 1e-4);
//! // 0.1 mol/L Nd³⁺ is 16.82 g/L as Nd2O3.
//! let reo = reo_g_per_l_from_mol_per_l(Element::Nd, 0.1)?;
//! assert!((reo - 16.824).abs() < 1e-3);
//! # Ok::<(), lodestone_chem::ChemError>(())
//! ```

#![warn(missing_docs)]

/// Implements `Serialize` through `Display` and `Deserialize` through
/// `FromStr`, so the type appears in files as its string form.
macro_rules! serde_via_str {
    ($ty:ty, $expecting:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StrVisitor;

                impl serde::de::Visitor<'_> for StrVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(StrVisitor)
            }
        }
    };
}

mod composition;
pub mod convert;
mod element;
mod error;
mod oxide;
mod species;

pub use composition::Composition;
pub use convert::{
    at_pct_from_wt_pct, mass_fractions_from_mole, mg_per_l_from_mol_per_l, mol_per_l_from_mg_per_l,
    mol_per_l_from_reo_g_per_l, mole_fractions, mole_fractions_from_mass,
    reo_g_per_l_from_mol_per_l, wt_pct_from_at_pct, ConcentrationUnit,
};
pub use element::Element;
pub use error::ChemError;
pub use oxide::Oxide;
pub use species::Species;
