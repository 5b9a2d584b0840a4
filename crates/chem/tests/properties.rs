//! Property tests: conversions round-trip and fractions are normalised.

use lodestone_chem::{
    mass_fractions_from_mole, mg_per_l_from_mol_per_l, mol_per_l_from_mg_per_l,
    mol_per_l_from_reo_g_per_l, mole_fractions, mole_fractions_from_mass,
    reo_g_per_l_from_mol_per_l, Composition, ConcentrationUnit, Element, Species,
};
use proptest::prelude::*;

fn element() -> impl Strategy<Value = Element> {
    proptest::sample::select(Element::ALL)
}

fn rare_earth() -> impl Strategy<Value = Element> {
    proptest::sample::select(Element::RARE_EARTHS)
}

fn unit() -> impl Strategy<Value = ConcentrationUnit> {
    proptest::sample::select(ConcentrationUnit::ALL)
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

/// Up to 10 distinct elements with non-negative amounts, at least one > 0.
fn amounts() -> impl Strategy<Value = Vec<(Element, f64)>> {
    proptest::sample::subsequence(Element::ALL, 1..=10)
        .prop_flat_map(|els| {
            let n = els.len();
            (Just(els), proptest::collection::vec(0.0f64..1e3, n))
        })
        .prop_filter("needs a positive total", |(_, v)| {
            v.iter().sum::<f64>() > 1e-6
        })
        .prop_map(|(els, v)| els.into_iter().zip(v).collect())
}

proptest! {
    #[test]
    fn mg_per_l_round_trip(c in 0.0f64..10.0, e in element()) {
        let m = e.molar_mass_g_per_mol();
        let back = mol_per_l_from_mg_per_l(mg_per_l_from_mol_per_l(c, m), m);
        prop_assert!(rel_close(back, c), "{c} -> {back}");
    }

    #[test]
    fn reo_round_trip(c in 0.0f64..10.0, e in rare_earth()) {
        let g = reo_g_per_l_from_mol_per_l(e, c).unwrap();
        let back = mol_per_l_from_reo_g_per_l(e, g).unwrap();
        prop_assert!(rel_close(back, c), "{c} -> {back}");
        // REO mass always exceeds metal mass.
        prop_assert!(g >= c * e.molar_mass_g_per_mol());
    }

    #[test]
    fn unit_round_trip(v in 0.0f64..1e4, u in unit(), e in rare_earth()) {
        let sp = Species::Metal(e);
        let m = sp.molar_mass_g_per_mol();
        let c = u.to_mol_per_l(v, &sp, m).unwrap();
        let back = u.from_mol_per_l(c, &sp, m).unwrap();
        prop_assert!(rel_close(back, v), "{v} {u} -> {c} mol/L -> {back}");
    }

    #[test]
    fn fractions_sum_to_one_and_round_trip(a in amounts()) {
        let x = mole_fractions(&a);
        prop_assert!((x.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let w = mass_fractions_from_mole(&x);
        prop_assert!((w.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let x2 = mole_fractions_from_mass(&w);
        for ((e1, x1), (e2, x2)) in x.iter().zip(&x2) {
            prop_assert_eq!(e1, e2);
            prop_assert!((x1 - x2).abs() < 1e-12, "{e1}: {x1} vs {x2}");
        }
    }

    #[test]
    fn composition_round_trip(a in amounts()) {
        let c = Composition::from_atomic_fraction(a.clone()).unwrap();
        prop_assert!((c.total_wt_pct() - 100.0).abs() < 1e-9);
        let x = c.to_atomic_fraction().unwrap();
        let expected = mole_fractions(&a);
        for (e, xe) in expected {
            prop_assert!((x[&e] - xe).abs() < 1e-12, "{e}");
        }
    }

    #[test]
    fn species_charged_symbol_round_trip(e in element()) {
        let sp = Species::from(e);
        prop_assert_eq!(Species::from_symbol(&sp.charged_symbol()), Ok(sp));
        prop_assert_eq!(Species::from_symbol(&sp.charged_symbol().to_lowercase()), Ok(sp));
    }
}
