//! Chemical elements met in rare-earth separation and NdFeB alloy plants.
//!
//! Atomic weights are the IUPAC 2021 standard atomic weights (CIAAW; Prohaska
//! et al., *Pure Appl. Chem.* 94 (2022) 573–600), abridged to the precision
//! used here:
//!
//! * elements with a single-value standard atomic weight carry every digit of
//!   the 2021 table (uncertainty dropped), e.g. Nd 144.242, Pr 140.90766;
//! * elements whose standard atomic weight is an interval (H, B, C, N, O, Mg,
//!   Si, S, Cl) carry the IUPAC conventional value, e.g. O 15.999, S 32.06;
//! * promethium has no stable isotope and carries 145, the mass number of its
//!   longest-lived isotope ¹⁴⁵Pm.

use std::fmt;
use std::str::FromStr;

use crate::error::ChemError;

/// A chemical element: the 17 rare earths (Sc, Y, La–Lu) plus the other
/// elements found in leach liquors, reagents, impurities and alloys.
///
/// Variants are declared in order of atomic number, so the derived `Ord`
/// sorts by atomic number. Data (symbol, name, atomic weight) come from the
/// IUPAC 2021 standard atomic weights, abridged to the precision used (see
/// [`Element::molar_mass_g_per_mol`]). Displays, serialises and deserialises
/// as its symbol string, e.g. `"Nd"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Element {
    /// Hydrogen, Z = 1.
    H,
    /// Boron, Z = 5.
    B,
    /// Carbon, Z = 6.
    C,
    /// Nitrogen, Z = 7.
    N,
    /// Oxygen, Z = 8.
    O,
    /// Sodium, Z = 11.
    Na,
    /// Magnesium, Z = 12.
    Mg,
    /// Aluminium, Z = 13.
    Al,
    /// Silicon, Z = 14.
    Si,
    /// Phosphorus, Z = 15.
    P,
    /// Sulfur, Z = 16.
    S,
    /// Chlorine, Z = 17.
    Cl,
    /// Potassium, Z = 19.
    K,
    /// Calcium, Z = 20.
    Ca,
    /// Scandium, Z = 21.
    Sc,
    /// Titanium, Z = 22.
    Ti,
    /// Vanadium, Z = 23.
    V,
    /// Chromium, Z = 24.
    Cr,
    /// Manganese, Z = 25.
    Mn,
    /// Iron, Z = 26.
    Fe,
    /// Cobalt, Z = 27.
    Co,
    /// Nickel, Z = 28.
    Ni,
    /// Copper, Z = 29.
    Cu,
    /// Zinc, Z = 30.
    Zn,
    /// Gallium, Z = 31.
    Ga,
    /// Yttrium, Z = 39.
    Y,
    /// Zirconium, Z = 40.
    Zr,
    /// Niobium, Z = 41.
    Nb,
    /// Molybdenum, Z = 42.
    Mo,
    /// Lanthanum, Z = 57.
    La,
    /// Cerium, Z = 58.
    Ce,
    /// Praseodymium, Z = 59.
    Pr,
    /// Neodymium, Z = 60.
    Nd,
    /// Promethium, Z = 61.
    Pm,
    /// Samarium, Z = 62.
    Sm,
    /// Europium, Z = 63.
    Eu,
    /// Gadolinium, Z = 64.
    Gd,
    /// Terbium, Z = 65.
    Tb,
    /// Dysprosium, Z = 66.
    Dy,
    /// Holmium, Z = 67.
    Ho,
    /// Erbium, Z = 68.
    Er,
    /// Thulium, Z = 69.
    Tm,
    /// Ytterbium, Z = 70.
    Yb,
    /// Lutetium, Z = 71.
    Lu,
    /// Tungsten, Z = 74.
    W,
    /// Thorium, Z = 90.
    Th,
    /// Uranium, Z = 92.
    U,
}

/// Per-element data; one row per variant, in declaration order.
struct Data {
    symbol: &'static str,
    name: &'static str,
    atomic_number: u8,
    /// IUPAC 2021 standard atomic weight (abridged, see module docs).
    molar_mass_g_per_mol: f64,
    aqueous_charge: i8,
}

const fn d(
    symbol: &'static str,
    name: &'static str,
    atomic_number: u8,
    molar_mass_g_per_mol: f64,
    aqueous_charge: i8,
) -> Data {
    Data {
        symbol,
        name,
        atomic_number,
        molar_mass_g_per_mol,
        aqueous_charge,
    }
}

/// Indexed by `Element as usize`; the order must match the enum declaration
/// (checked by a unit test).
///
/// Charges: the simple aquo-ion charge in acidic sulfate/chloride/nitrate SX
/// liquors. Non-metals that occur as oxyacids or oxyanions (B, C, N, O, Si, P,
/// S) are 0: their ions are modelled as [`crate::Species`]. Elements that
/// really form oxo-cations or oxyanions carry their usual oxidation state:
/// Ti(IV), V(IV), Zr(IV), Nb(V), Mo(VI), W(VI), Th(IV), U(VI).
const DATA: [Data; 47] = [
    d("H", "hydrogen", 1, 1.008, 1),
    d("B", "boron", 5, 10.81, 0),
    d("C", "carbon", 6, 12.011, 0),
    d("N", "nitrogen", 7, 14.007, 0),
    d("O", "oxygen", 8, 15.999, 0),
    d("Na", "sodium", 11, 22.989_769_28, 1),
    d("Mg", "magnesium", 12, 24.305, 2),
    d("Al", "aluminium", 13, 26.981_538_4, 3),
    d("Si", "silicon", 14, 28.085, 0),
    d("P", "phosphorus", 15, 30.973_761_998, 0),
    d("S", "sulfur", 16, 32.06, 0),
    d("Cl", "chlorine", 17, 35.45, -1),
    d("K", "potassium", 19, 39.098_3, 1),
    d("Ca", "calcium", 20, 40.078, 2),
    d("Sc", "scandium", 21, 44.955_907, 3),
    d("Ti", "titanium", 22, 47.867, 4),
    d("V", "vanadium", 23, 50.941_5, 4),
    d("Cr", "chromium", 24, 51.996_1, 3),
    d("Mn", "manganese", 25, 54.938_043, 2),
    d("Fe", "iron", 26, 55.845, 3),
    d("Co", "cobalt", 27, 58.933_194, 2),
    d("Ni", "nickel", 28, 58.693_4, 2),
    d("Cu", "copper", 29, 63.546, 2),
    d("Zn", "zinc", 30, 65.38, 2),
    d("Ga", "gallium", 31, 69.723, 3),
    d("Y", "yttrium", 39, 88.905_838, 3),
    d("Zr", "zirconium", 40, 91.224, 4),
    d("Nb", "niobium", 41, 92.906_37, 5),
    d("Mo", "molybdenum", 42, 95.95, 6),
    d("La", "lanthanum", 57, 138.905_47, 3),
    d("Ce", "cerium", 58, 140.116, 3),
    d("Pr", "praseodymium", 59, 140.907_66, 3),
    d("Nd", "neodymium", 60, 144.242, 3),
    d("Pm", "promethium", 61, 145.0, 3),
    d("Sm", "samarium", 62, 150.36, 3),
    d("Eu", "europium", 63, 151.964, 3),
    d("Gd", "gadolinium", 64, 157.25, 3),
    d("Tb", "terbium", 65, 158.925_354, 3),
    d("Dy", "dysprosium", 66, 162.500, 3),
    d("Ho", "holmium", 67, 164.930_329, 3),
    d("Er", "erbium", 68, 167.259, 3),
    d("Tm", "thulium", 69, 168.934_219, 3),
    d("Yb", "ytterbium", 70, 173.045, 3),
    d("Lu", "lutetium", 71, 174.966_8, 3),
    d("W", "tungsten", 74, 183.84, 6),
    d("Th", "thorium", 90, 232.037_7, 4),
    d("U", "uranium", 92, 238.028_91, 6),
];

impl Element {
    /// Every supported element, in order of atomic number.
    pub const ALL: &'static [Element] = &[
        Element::H,
        Element::B,
        Element::C,
        Element::N,
        Element::O,
        Element::Na,
        Element::Mg,
        Element::Al,
        Element::Si,
        Element::P,
        Element::S,
        Element::Cl,
        Element::K,
        Element::Ca,
        Element::Sc,
        Element::Ti,
        Element::V,
        Element::Cr,
        Element::Mn,
        Element::Fe,
        Element::Co,
        Element::Ni,
        Element::Cu,
        Element::Zn,
        Element::Ga,
        Element::Y,
        Element::Zr,
        Element::Nb,
        Element::Mo,
        Element::La,
        Element::Ce,
        Element::Pr,
        Element::Nd,
        Element::Pm,
        Element::Sm,
        Element::Eu,
        Element::Gd,
        Element::Tb,
        Element::Dy,
        Element::Ho,
        Element::Er,
        Element::Tm,
        Element::Yb,
        Element::Lu,
        Element::W,
        Element::Th,
        Element::U,
    ];

    /// The 17 rare-earth elements (IUPAC definition), in the order
    /// Sc, Y, La, Ce, Pr, Nd, Pm, Sm, Eu, Gd, Tb, Dy, Ho, Er, Tm, Yb, Lu.
    pub const RARE_EARTHS: &'static [Element] = &[
        Element::Sc,
        Element::Y,
        Element::La,
        Element::Ce,
        Element::Pr,
        Element::Nd,
        Element::Pm,
        Element::Sm,
        Element::Eu,
        Element::Gd,
        Element::Tb,
        Element::Dy,
        Element::Ho,
        Element::Er,
        Element::Tm,
        Element::Yb,
        Element::Lu,
    ];

    fn data(self) -> &'static Data {
        &DATA[self as usize]
    }

    /// IUPAC chemical symbol, e.g. `"Nd"`.
    pub fn symbol(self) -> &'static str {
        self.data().symbol
    }

    /// IUPAC English name in lower case, e.g. `"neodymium"`, `"aluminium"`.
    pub fn name(self) -> &'static str {
        self.data().name
    }

    /// Atomic number Z, e.g. 60 for Nd.
    pub fn atomic_number(self) -> u8 {
        self.data().atomic_number
    }

    /// Molar mass in g/mol: the IUPAC 2021 standard atomic weight, abridged
    /// (conventional value for interval elements such as O = 15.999; 145 for
    /// Pm, which has no stable isotope).
    pub fn molar_mass_g_per_mol(self) -> f64 {
        self.data().molar_mass_g_per_mol
    }

    /// True for the 17 rare earths: Sc, Y and the lanthanides La–Lu.
    pub fn is_rare_earth(self) -> bool {
        matches!(self, Element::Sc | Element::Y) || (Element::La..=Element::Lu).contains(&self)
    }

    /// Usual charge of the element's simple ion in acidic SX liquors.
    ///
    /// Rare earths +3 (Ce as Ce(III), Eu as Eu(III)); Na, K, H +1; Mg, Ca, Mn,
    /// Co, Ni, Cu, Zn +2; Al, Cr, Fe (Fe(III)), Ga +3; Ti, V, Zr, Th +4; Nb +5;
    /// Mo, W, U +6 (for oxo-ions such as VO²⁺ or UO₂²⁺ this is the oxidation
    /// state, not the ion charge); Cl −1; B, C, N, O, Si, P, S 0, because they
    /// occur as oxyacids or oxyanions, which are modelled by
    /// [`crate::Species`].
    pub fn aqueous_charge(self) -> i8 {
        self.data().aqueous_charge
    }

    /// Parses an element symbol.
    ///
    /// Surrounding whitespace is ignored. An exact (case-sensitive) match is
    /// tried first, then a case-insensitive one, so `"nd"` and `"ND"` give
    /// [`Element::Nd`].
    ///
    /// # Errors
    /// [`ChemError::UnknownElement`] if the symbol is not one of
    /// [`Element::ALL`].
    pub fn from_symbol(s: &str) -> Result<Element, ChemError> {
        let t = s.trim();
        Element::ALL
            .iter()
            .find(|e| e.symbol() == t)
            .or_else(|| {
                Element::ALL
                    .iter()
                    .find(|e| e.symbol().eq_ignore_ascii_case(t))
            })
            .copied()
            .ok_or_else(|| ChemError::UnknownElement {
                symbol: s.to_owned(),
            })
    }
}

/// Comma-separated list of every supported symbol, for error messages.
pub(crate) fn supported_symbols() -> String {
    Element::ALL
        .iter()
        .map(|e| e.symbol())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Element {
    type Err = ChemError;

    /// Same as [`Element::from_symbol`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Element::from_symbol(s)
    }
}

impl fmt::Display for Element {
    /// Writes the symbol, e.g. `Nd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

serde_via_str!(Element, "an element symbol such as \"Nd\"");

/// In OpenAPI documents an element is its symbol, one of [`Element::ALL`].
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Element {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Element symbol"))
            .enum_values(Some(Element::ALL.iter().map(|e| e.symbol())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Element {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_enum_order() {
        assert_eq!(Element::ALL.len(), DATA.len());
        for (i, e) in Element::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i, "{e:?} out of place in ALL");
            assert_eq!(format!("{e:?}"), e.symbol(), "DATA row {i}");
        }
    }

    #[test]
    fn all_is_sorted_by_atomic_number_and_unique() {
        for w in Element::ALL.windows(2) {
            assert!(w[0].atomic_number() < w[1].atomic_number());
            assert!(w[0] < w[1]);
        }
    }

    #[test]
    fn rare_earths_are_the_17_in_order() {
        let symbols: Vec<_> = Element::RARE_EARTHS.iter().map(|e| e.symbol()).collect();
        assert_eq!(
            symbols,
            [
                "Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er",
                "Tm", "Yb", "Lu"
            ]
        );
        let flagged: Vec<_> = Element::ALL
            .iter()
            .copied()
            .filter(|e| e.is_rare_earth())
            .collect();
        assert_eq!(flagged, Element::RARE_EARTHS);
        // Lanthanides are Z = 57..=71 without gaps.
        for (e, z) in Element::RARE_EARTHS[2..].iter().zip(57u8..) {
            assert_eq!(e.atomic_number(), z);
        }
        assert_eq!(Element::Sc.atomic_number(), 21);
        assert_eq!(Element::Y.atomic_number(), 39);
    }

    #[test]
    fn rare_earths_are_trivalent() {
        for e in Element::RARE_EARTHS {
            assert_eq!(e.aqueous_charge(), 3, "{e}");
        }
    }

    #[test]
    fn selected_charges() {
        use Element::*;
        let expected = [
            (H, 1),
            (Na, 1),
            (K, 1),
            (Mg, 2),
            (Ca, 2),
            (Al, 3),
            (Fe, 3),
            (Ti, 4),
            (Th, 4),
            (Cl, -1),
            (S, 0),
            (O, 0),
        ];
        for (e, z) in expected {
            assert_eq!(e.aqueous_charge(), z, "{e}");
        }
    }

    #[test]
    fn iupac_2021_atomic_weights() {
        use Element::*;
        let expected = [
            (H, 1.008),
            (O, 15.999),
            (S, 32.06),
            (Cl, 35.45),
            (Fe, 55.845),
            (B, 10.81),
            (Sc, 44.955907),
            (Y, 88.905838),
            (La, 138.90547),
            (Ce, 140.116),
            (Pr, 140.90766),
            (Nd, 144.242),
            (Pm, 145.0),
            (Sm, 150.36),
            (Eu, 151.964),
            (Gd, 157.25),
            (Tb, 158.925354),
            (Dy, 162.5),
            (Ho, 164.930329),
            (Er, 167.259),
            (Tm, 168.934219),
            (Yb, 173.045),
            (Lu, 174.9668),
            (Th, 232.0377),
            (U, 238.02891),
        ];
        for (e, m) in expected {
            assert!((e.molar_mass_g_per_mol() - m).abs() < 1e-9, "{e}");
        }
        // Atomic weight rises with Z except for the well-known Co/Ni inversion.
        for w in Element::ALL.windows(2) {
            if w == [Co, Ni] {
                assert!(Co.molar_mass_g_per_mol() > Ni.molar_mass_g_per_mol());
                continue;
            }
            assert!(
                w[0].molar_mass_g_per_mol() < w[1].molar_mass_g_per_mol(),
                "{} vs {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(Element::Nd.name(), "neodymium");
        assert_eq!(Element::Al.name(), "aluminium");
        assert_eq!(Element::Pr.name(), "praseodymium");
        assert_eq!(Element::W.name(), "tungsten");
    }

    #[test]
    fn parse_symbols() {
        for e in Element::ALL {
            assert_eq!(Element::from_symbol(e.symbol()), Ok(*e));
            assert_eq!(e.symbol().parse::<Element>(), Ok(*e));
            assert_eq!(e.to_string(), e.symbol());
        }
        assert_eq!(Element::from_symbol("nd"), Ok(Element::Nd));
        assert_eq!(Element::from_symbol("DY"), Ok(Element::Dy));
        assert_eq!(Element::from_symbol(" La "), Ok(Element::La));
    }

    #[test]
    fn unknown_symbol_error_names_value_and_choices() {
        let err = Element::from_symbol("Xx").unwrap_err();
        assert_eq!(
            err,
            ChemError::UnknownElement {
                symbol: "Xx".into()
            }
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("unknown element \"Xx\": expected one of H, B,"),
            "{msg}"
        );
        assert!(msg.contains("La, Ce, Pr, Nd"), "{msg}");
        assert!(Element::from_symbol("").is_err());
        assert!(Element::from_symbol("Neodymium").is_err());
    }
}
