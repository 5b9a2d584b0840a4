//! Aqueous and organic-phase species used by solvent-extraction (SX) models.
//!
//! Molar masses are summed from the element atomic weights in
//! [`Element::molar_mass_g_per_mol`] (IUPAC 2021 standard atomic weights,
//! abridged to the precision used there); the electron mass of ions is
//! neglected, as is usual in process chemistry.

use std::fmt;
use std::str::FromStr;

use crate::element::Element;
use crate::error::ChemError;

/// Aqueous and organic species used by SX models, beyond bare metal ions.
///
/// [`Species::Metal`] is the simple ion of any [`Element`] with the charge
/// [`Element::aqueous_charge`] (e.g. Nd³⁺, Fe³⁺). The canonical species for
/// hydrogen is [`Species::Proton`] and for chlorine [`Species::Chloride`]:
/// [`Species::from_symbol`] and `From<Element>` return those, never
/// `Metal(H)` or `Metal(Cl)`. Displays and serialises as
/// [`Species::symbol`]; deserialises as [`Species::from_symbol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Species {
    /// Simple ion of an element, charge [`Element::aqueous_charge`].
    Metal(Element),
    /// H⁺, symbol `"H"`.
    Proton,
    /// OH⁻, symbol `"OH"`.
    Hydroxide,
    /// H₂O, symbol `"H2O"`.
    Water,
    /// HSO₄⁻, symbol `"HSO4"`.
    Bisulfate,
    /// SO₄²⁻, symbol `"SO4"`.
    Sulfate,
    /// Cl⁻, symbol `"Cl"`.
    Chloride,
    /// NO₃⁻, symbol `"NO3"`.
    Nitrate,
    /// NH₄⁺, symbol `"NH4"`.
    Ammonium,
    /// CO₃²⁻, symbol `"CO3"`.
    Carbonate,
    /// C₂O₄²⁻ (oxalate, the usual rare-earth precipitant), symbol `"C2O4"`.
    Oxalate,
}

use Element as E;

/// Symbol, name, charge and formula of a species.
struct Info {
    symbol: &'static str,
    name: &'static str,
    charge: i8,
    /// Atoms per formula unit; empty for [`Species::Metal`] (one atom of the
    /// element).
    formula: &'static [(Element, u8)],
}

const fn info(
    symbol: &'static str,
    name: &'static str,
    charge: i8,
    formula: &'static [(Element, u8)],
) -> Info {
    Info {
        symbol,
        name,
        charge,
        formula,
    }
}

impl Species {
    /// Data of this species; see [`Info`].
    fn info(self) -> Info {
        match self {
            Species::Metal(e) => info(e.symbol(), e.name(), e.aqueous_charge(), &[]),
            Species::Proton => info("H", "proton", 1, &[(E::H, 1)]),
            Species::Hydroxide => info("OH", "hydroxide", -1, &[(E::O, 1), (E::H, 1)]),
            Species::Water => info("H2O", "water", 0, &[(E::H, 2), (E::O, 1)]),
            Species::Bisulfate => info("HSO4", "bisulfate", -1, &[(E::H, 1), (E::S, 1), (E::O, 4)]),
            Species::Sulfate => info("SO4", "sulfate", -2, &[(E::S, 1), (E::O, 4)]),
            Species::Chloride => info("Cl", "chloride", -1, &[(E::Cl, 1)]),
            Species::Nitrate => info("NO3", "nitrate", -1, &[(E::N, 1), (E::O, 3)]),
            Species::Ammonium => info("NH4", "ammonium", 1, &[(E::N, 1), (E::H, 4)]),
            Species::Carbonate => info("CO3", "carbonate", -2, &[(E::C, 1), (E::O, 3)]),
            Species::Oxalate => info("C2O4", "oxalate", -2, &[(E::C, 2), (E::O, 4)]),
        }
    }

    /// Every species other than [`Species::Metal`].
    pub const NAMED: &'static [Species] = &[
        Species::Proton,
        Species::Hydroxide,
        Species::Water,
        Species::Bisulfate,
        Species::Sulfate,
        Species::Chloride,
        Species::Nitrate,
        Species::Ammonium,
        Species::Carbonate,
        Species::Oxalate,
    ];

    /// Symbol without charge: the element symbol for a metal (`"Nd"`), else
    /// the formula (`"H"`, `"OH"`, `"H2O"`, `"HSO4"`, `"SO4"`, `"Cl"`,
    /// `"NO3"`, `"NH4"`, `"CO3"`, `"C2O4"`).
    pub fn symbol(&self) -> String {
        self.symbol_str().to_owned()
    }

    fn symbol_str(&self) -> &'static str {
        self.info().symbol
    }

    /// Lower-case English name: the element name for a metal
    /// (`"neodymium"`), else e.g. `"bisulfate"`.
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// Ionic charge: [`Element::aqueous_charge`] for a metal, else the charge
    /// of the ion (H⁺ +1, HSO₄⁻ −1, SO₄²⁻ −2, H₂O 0, ...).
    pub fn charge(&self) -> i8 {
        self.info().charge
    }

    /// The element this species is the simple ion of, if it is a
    /// [`Species::Metal`].
    pub fn element(&self) -> Option<Element> {
        match self {
            Species::Metal(e) => Some(*e),
            _ => None,
        }
    }

    /// Atoms per formula unit, e.g. HSO₄⁻ → `[(H, 1), (S, 1), (O, 4)]`.
    pub fn atoms(&self) -> Vec<(Element, u8)> {
        match self {
            Species::Metal(e) => vec![(*e, 1)],
            other => other.info().formula.to_vec(),
        }
    }

    /// Molar mass in g/mol, summed from IUPAC 2021 standard atomic weights
    /// (electron mass neglected), e.g. SO₄²⁻ 96.056 g/mol.
    pub fn molar_mass_g_per_mol(&self) -> f64 {
        self.atoms()
            .iter()
            .map(|&(e, n)| f64::from(n) * e.molar_mass_g_per_mol())
            .sum()
    }

    /// Symbol followed by the charge, e.g. `"Nd3+"`, `"H+"`, `"Cl-"`,
    /// `"H2O"`; a space separates a formula ending in a digit from its
    /// charge: `"SO4 2-"`, `"NO3 -"`. [`Species::from_symbol`] parses it back.
    pub fn charged_symbol(&self) -> String {
        let symbol = self.symbol_str();
        let z = self.charge();
        if z == 0 {
            return symbol.to_owned();
        }
        let sign = if z > 0 { '+' } else { '-' };
        let magnitude = z.unsigned_abs();
        let sep = if symbol.ends_with(|c: char| c.is_ascii_digit()) {
            " "
        } else {
            ""
        };
        if magnitude == 1 {
            format!("{symbol}{sep}{sign}")
        } else {
            format!("{symbol}{sep}{magnitude}{sign}")
        }
    }

    /// Parses a species symbol, optionally followed by its charge.
    ///
    /// Accepts any element symbol (giving [`Species::Metal`], except `"H"` →
    /// [`Species::Proton`] and `"Cl"` → [`Species::Chloride`]) and the
    /// symbols of [`Species::NAMED`]. A charge suffix may follow, optionally
    /// after a space or `^`: `"Nd3+"`, `"H+"`, `"SO4 2-"`, `"SO4^2-"`,
    /// `"SO4--"`, `"Fe+3"`; it must equal [`Species::charge`]. Surrounding
    /// whitespace is ignored; exact case is tried before a case-insensitive
    /// match.
    ///
    /// # Errors
    /// [`ChemError::UnknownSpecies`] if nothing matches;
    /// [`ChemError::ChargeMismatch`] if the symbol matches but the charge
    /// suffix differs from the species' charge (e.g. `"Nd2+"`).
    pub fn from_symbol(s: &str) -> Result<Species, ChemError> {
        let t = s.trim();
        let candidates = Species::NAMED.iter().copied().chain(
            Element::ALL
                .iter()
                .filter(|e| !matches!(e, Element::H | Element::Cl))
                .map(|&e| Species::Metal(e)),
        );
        let mut mismatch = None;
        for case_sensitive in [true, false] {
            for sp in candidates.clone() {
                let sym = sp.symbol_str();
                let Some(head) = t.get(..sym.len()) else {
                    continue;
                };
                let matched = if case_sensitive {
                    head == sym
                } else {
                    head.eq_ignore_ascii_case(sym)
                };
                if !matched {
                    continue;
                }
                match parse_charge_suffix(&t[sym.len()..]) {
                    Some(None) => return Ok(sp),
                    Some(Some(z)) if z == sp.charge() => return Ok(sp),
                    Some(Some(z)) => {
                        mismatch.get_or_insert(ChemError::ChargeMismatch {
                            symbol: s.to_owned(),
                            given: z,
                            species: sym.to_owned(),
                            expected: sp.charge(),
                        });
                    }
                    None => {}
                }
            }
        }
        Err(mismatch.unwrap_or_else(|| ChemError::UnknownSpecies {
            symbol: s.to_owned(),
        }))
    }
}

/// Parses the part after a species symbol. `Some(None)`: nothing there;
/// `Some(Some(z))`: a charge; `None`: not a charge.
fn parse_charge_suffix(rest: &str) -> Option<Option<i8>> {
    if rest.is_empty() {
        return Some(None);
    }
    let r = rest.trim_start();
    let r = r.strip_prefix('^').unwrap_or(r);
    let sign_of = |c: char| match c {
        '+' => Some(1i8),
        '-' => Some(-1i8),
        _ => None,
    };
    let first = r.chars().next()?;
    let last = r.chars().next_back()?;
    // "+", "++", "---"
    if let Some(sign) = sign_of(first) {
        if r.chars().all(|c| c == first) {
            return i8::try_from(r.len()).ok().map(|n| Some(sign * n));
        }
    }
    // "3+" or "+3"
    let (sign, digits) = match (sign_of(first), sign_of(last)) {
        (None, Some(sign)) => (sign, &r[..r.len() - 1]),
        (Some(sign), None) => (sign, &r[1..]),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i8>().ok().map(|n| Some(sign * n))
}

/// Species list for error messages.
pub(crate) fn named_symbols() -> String {
    Species::NAMED
        .iter()
        .map(|s| s.symbol_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<Element> for Species {
    /// The canonical species of an element: [`Species::Proton`] for H,
    /// [`Species::Chloride`] for Cl, else [`Species::Metal`].
    fn from(e: Element) -> Species {
        match e {
            Element::H => Species::Proton,
            Element::Cl => Species::Chloride,
            e => Species::Metal(e),
        }
    }
}

impl FromStr for Species {
    type Err = ChemError;

    /// Same as [`Species::from_symbol`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Species::from_symbol(s)
    }
}

impl fmt::Display for Species {
    /// Writes [`Species::symbol`] (no charge), e.g. `HSO4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol_str())
    }
}

serde_via_str!(Species, "a species symbol such as \"Nd\", \"H\" or \"SO4\"");

#[cfg(test)]
mod tests {
    use super::*;

    fn all_species() -> Vec<Species> {
        Species::NAMED
            .iter()
            .copied()
            .chain(Element::ALL.iter().map(|&e| Species::from(e)))
            .collect()
    }

    #[test]
    fn symbols_and_charges() {
        let expected = [
            (Species::Proton, "H", 1),
            (Species::Bisulfate, "HSO4", -1),
            (Species::Sulfate, "SO4", -2),
            (Species::Chloride, "Cl", -1),
            (Species::Nitrate, "NO3", -1),
            (Species::Ammonium, "NH4", 1),
            (Species::Hydroxide, "OH", -1),
            (Species::Water, "H2O", 0),
            (Species::Carbonate, "CO3", -2),
            (Species::Oxalate, "C2O4", -2),
            (Species::Metal(Element::Nd), "Nd", 3),
            (Species::Metal(Element::Ce), "Ce", 3),
            (Species::Metal(Element::Na), "Na", 1),
        ];
        for (sp, sym, z) in expected {
            assert_eq!(sp.symbol(), sym);
            assert_eq!(sp.to_string(), sym);
            assert_eq!(sp.charge(), z, "{sym}");
        }
    }

    #[test]
    fn molar_masses_from_atomic_weights() {
        let (h, o, s, n, c, cl) = (1.008, 15.999, 32.06, 14.007, 12.011, 35.45);
        let expected = [
            (Species::Proton, h),
            (Species::Hydroxide, o + h),
            (Species::Water, 2.0 * h + o),
            (Species::Bisulfate, h + s + 4.0 * o),
            (Species::Sulfate, s + 4.0 * o),
            (Species::Chloride, cl),
            (Species::Nitrate, n + 3.0 * o),
            (Species::Ammonium, n + 4.0 * h),
            (Species::Carbonate, c + 3.0 * o),
            (Species::Oxalate, 2.0 * c + 4.0 * o),
            (Species::Metal(Element::Nd), 144.242),
        ];
        for (sp, m) in expected {
            assert!((sp.molar_mass_g_per_mol() - m).abs() < 1e-9, "{sp}");
        }
        assert!((Species::Sulfate.molar_mass_g_per_mol() - 96.056).abs() < 1e-4);
        assert!((Species::Bisulfate.molar_mass_g_per_mol() - 97.064).abs() < 1e-4);
        assert!((Species::Water.molar_mass_g_per_mol() - 18.015).abs() < 1e-4);
    }

    #[test]
    fn charge_equals_sum_of_atom_charges_for_simple_ions() {
        for e in Element::ALL {
            assert_eq!(Species::Metal(*e).charge(), e.aqueous_charge());
            assert_eq!(Species::Metal(*e).atoms(), vec![(*e, 1)]);
        }
    }

    #[test]
    fn parse_plain_symbols() {
        for sp in all_species() {
            assert_eq!(Species::from_symbol(&sp.symbol()), Ok(sp), "{sp}");
            assert_eq!(sp.symbol().parse::<Species>(), Ok(sp));
        }
        assert_eq!(Species::from_symbol("H"), Ok(Species::Proton));
        assert_eq!(Species::from_symbol("Cl"), Ok(Species::Chloride));
        assert_eq!(Species::from_symbol("Co"), Ok(Species::Metal(Element::Co)));
        assert_eq!(Species::from_symbol("CO3"), Ok(Species::Carbonate));
        assert_eq!(Species::from_symbol("hso4"), Ok(Species::Bisulfate));
        assert_eq!(
            Species::from_symbol(" nd "),
            Ok(Species::Metal(Element::Nd))
        );
    }

    #[test]
    fn parse_with_charge_suffix() {
        let ok = [
            ("H+", Species::Proton),
            ("Nd3+", Species::Metal(Element::Nd)),
            ("Nd^3+", Species::Metal(Element::Nd)),
            ("Fe+3", Species::Metal(Element::Fe)),
            ("Ca++", Species::Metal(Element::Ca)),
            ("SO4 2-", Species::Sulfate),
            ("SO42-", Species::Sulfate),
            ("SO4^2-", Species::Sulfate),
            ("SO4--", Species::Sulfate),
            ("HSO4-", Species::Bisulfate),
            ("Cl-", Species::Chloride),
            ("OH-", Species::Hydroxide),
            ("NH4+", Species::Ammonium),
            ("co3 2-", Species::Carbonate),
        ];
        for (text, sp) in ok {
            assert_eq!(Species::from_symbol(text), Ok(sp), "{text}");
        }
        for sp in all_species() {
            assert_eq!(Species::from_symbol(&sp.charged_symbol()), Ok(sp), "{sp}");
        }
        assert_eq!(Species::Metal(Element::Nd).charged_symbol(), "Nd3+");
        assert_eq!(Species::Sulfate.charged_symbol(), "SO4 2-");
        assert_eq!(Species::Proton.charged_symbol(), "H+");
        assert_eq!(Species::Water.charged_symbol(), "H2O");
    }

    #[test]
    fn charge_mismatch_is_reported() {
        let err = Species::from_symbol("Nd2+").unwrap_err();
        assert_eq!(
            err,
            ChemError::ChargeMismatch {
                symbol: "Nd2+".into(),
                given: 2,
                species: "Nd".into(),
                expected: 3,
            }
        );
        assert_eq!(
            err.to_string(),
            "species \"Nd2+\" has charge +2, but Nd carries +3 in this model: \
             expected charge +3 or no charge suffix"
        );
        assert!(matches!(
            Species::from_symbol("SO4-"),
            Err(ChemError::ChargeMismatch { given: -1, .. })
        ));
    }

    #[test]
    fn unknown_species() {
        for bad in ["", "Xx", "SO5", "Nd3", "Nd+-", "Nd 3", "H2O+x", "+"] {
            let err = Species::from_symbol(bad).unwrap_err();
            assert_eq!(
                err,
                ChemError::UnknownSpecies { symbol: bad.into() },
                "{bad:?}"
            );
        }
        let msg = Species::from_symbol("Xx").unwrap_err().to_string();
        assert!(msg.starts_with("unknown species \"Xx\": expected"), "{msg}");
        assert!(msg.contains("HSO4"), "{msg}");
    }

    #[test]
    fn from_element_is_canonical() {
        assert_eq!(Species::from(Element::H), Species::Proton);
        assert_eq!(Species::from(Element::Cl), Species::Chloride);
        assert_eq!(Species::from(Element::Nd), Species::Metal(Element::Nd));
        assert_eq!(Species::Metal(Element::Dy).element(), Some(Element::Dy));
        assert_eq!(Species::Sulfate.element(), None);
        assert_eq!(Species::Bisulfate.name(), "bisulfate");
        assert_eq!(Species::Metal(Element::Nd).name(), "neodymium");
    }
}
