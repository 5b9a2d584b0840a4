//! V4: ideal constant-β fractional extraction of Nd/Pr (research notes sx.md §3.3, Validation V4).

use lodestone_sx::Case;

fn case() -> Case {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/xu-nd-pr.toml"
    ))
    .unwrap();
    Case::from_toml(&text).unwrap()
}

#[test]
fn reproduces_published_purities_and_recoveries() {
    let r = case().simulate().unwrap();
    assert!(r.converged, "{:?}", r.convergence);
    let a = r.product("Nd loaded organic").unwrap();
    let b = r.product("Pr raffinate").unwrap();
    // sx.md V4: P_A = 0.994792, P_B = 0.989371 (abs 1e-6); Y_A = 0.99648, Y_B = 0.98435.
    assert!(
        (a.ree_mole_fraction["Nd"] - 0.994792).abs() < 1e-6,
        "P_A = {}",
        a.ree_mole_fraction["Nd"]
    );
    assert!(
        (b.ree_mole_fraction["Pr"] - 0.989371).abs() < 1e-6,
        "P_B = {}",
        b.ree_mole_fraction["Pr"]
    );
    assert!(
        (a.recovery["Nd"] - 0.99648).abs() < 1e-5,
        "Y_A = {}",
        a.recovery["Nd"]
    );
    assert!(
        (b.recovery["Pr"] - 0.98435).abs() < 1e-5,
        "Y_B = {}",
        b.recovery["Pr"]
    );
    assert!(
        r.balance.max_relative_error <= 1e-10,
        "closure {}",
        r.balance.max_relative_error
    );
}
