//! Serde representations used in data files.

use std::collections::BTreeMap;

use lodestone_chem::{Composition, ConcentrationUnit, Element, Oxide, Species};

#[test]
fn element_as_symbol_string() {
    assert_eq!(serde_json::to_string(&Element::Nd).unwrap(), "\"Nd\"");
    for &e in Element::ALL {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Element>(&json).unwrap(), e);
    }
    let err = serde_json::from_str::<Element>("\"Xx\"").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown element \"Xx\": expected one of"),
        "{err}"
    );
    assert!(serde_json::from_str::<Element>("60").is_err());
}

#[test]
fn element_as_map_key() {
    let mut m = BTreeMap::new();
    m.insert(Element::Pr, 0.25);
    m.insert(Element::Nd, 0.75);
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(json, r#"{"Pr":0.25,"Nd":0.75}"#);
    let back: BTreeMap<Element, f64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn species_as_symbol_string() {
    assert_eq!(
        serde_json::to_string(&Species::Bisulfate).unwrap(),
        "\"HSO4\""
    );
    assert_eq!(
        serde_json::to_string(&Species::Metal(Element::Dy)).unwrap(),
        "\"Dy\""
    );
    let v: Vec<Species> = serde_json::from_str(r#"["H+", "SO4", "Nd3+", "Cl"]"#).unwrap();
    assert_eq!(
        v,
        [
            Species::Proton,
            Species::Sulfate,
            Species::Metal(Element::Nd),
            Species::Chloride
        ]
    );
    assert!(serde_json::from_str::<Species>("\"Nd2+\"").is_err());
}

#[test]
fn unit_as_string() {
    assert_eq!(
        serde_json::to_string(&ConcentrationUnit::GReoPerL).unwrap(),
        "\"g/L REO\""
    );
    let u: ConcentrationUnit = serde_json::from_str("\"mg/L\"").unwrap();
    assert_eq!(u, ConcentrationUnit::MgPerL);
    let err = serde_json::from_str::<ConcentrationUnit>("\"ppm\"").unwrap_err();
    assert!(err
        .to_string()
        .contains("unknown concentration unit \"ppm\""));
}

#[test]
fn oxide_as_struct() {
    let ox = Oxide::standard(Element::Pr).unwrap();
    let json = serde_json::to_string(&ox).unwrap();
    assert_eq!(
        json,
        r#"{"element":"Pr","metal_atoms":6,"oxygen_atoms":11}"#
    );
    assert_eq!(serde_json::from_str::<Oxide>(&json).unwrap(), ox);
}

#[test]
fn composition_as_wt_pct_map() {
    let c = Composition::from_wt_pct([(Element::Nd, 30.0), (Element::Fe, 69.0), (Element::B, 1.0)])
        .unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(json, r#"{"B":1.0,"Fe":69.0,"Nd":30.0}"#);
    assert_eq!(serde_json::from_str::<Composition>(&json).unwrap(), c);
    let err = serde_json::from_str::<Composition>(r#"{"Nd": -5.0}"#).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid amount of Nd: -5 wt%"),
        "{err}"
    );
}
