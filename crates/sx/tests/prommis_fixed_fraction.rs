//! V2: PrOMMiS 0.7.0 fixed-fraction cascade (research notes sx.md §1.5; PrOMMiS 0.7.0
//! tests/test_sx_model_steady.py). Tolerance rel 1e-4; traces ~1e-10 mg/L with abs 1e-12.

use lodestone_sx::Case;

#[test]
fn outlets_match_prommis_0_7() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/prommis-fixed-fraction.toml"
    );
    let r = Case::from_toml(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .simulate()
        .unwrap();
    assert!(r.converged, "{:?}", r.convergence);
    let aq = &r.product("raffinate").unwrap().concentration;
    let org = &r.product("loaded organic").unwrap().concentration;
    let expected_aq = [
        ("La", 0.39313),
        ("Ce", 0.5368),
        ("Pr", 0.091292),
        ("Nd", 1.173e-7),
        ("Sm", 9.6992e-11),
        ("Gd", 0.066625),
        ("Dy", 1.4421e-3),
        ("Y", 1.239e-10),
        ("Sc", 1.9984e-4),
        ("Al", 362.132),
        ("Ca", 81.724),
        ("Fe", 454.049),
    ];
    let expected_org = [
        ("La", 0.59296),
        ("Ce", 1.7405),
        ("Pr", 0.211744),
        ("Nd", 0.9461),
        ("Sm", 0.097017),
        ("Gd", 0.1918),
        ("Dy", 0.045565),
        ("Y", 0.12402),
        ("Sc", 1.7658),
        ("Al", 60.242),
        ("Ca", 27.817),
        ("Fe", 234.216),
    ];
    for (phase, got, expected) in [
        ("aqueous", aq, &expected_aq),
        ("organic", org, &expected_org),
    ] {
        for &(sp, v) in expected.iter() {
            let g = got[sp];
            assert!(
                (g - v).abs() <= 1e-4 * v.abs() + 1e-12,
                "{phase} {sp}: got {g}, expected {v}"
            );
        }
    }
    // Non-transferring species pass through unchanged.
    assert!((aq["HSO4"] - 693.459).abs() < 1e-9);
    assert!(
        r.balance.max_relative_error <= 1e-10,
        "closure {}",
        r.balance.max_relative_error
    );
}
