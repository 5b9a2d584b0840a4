//! Bayan Obo-type 15-element chloride feed, Nd/Sm group cut with Xu's optimum amounts for the
//! key pair Sm/Nd (β = 8) at 99 % / 99.999 % group purity (examples/sx/bayan-obo-nd-sm-cut.toml).

use lodestone_sx::Case;

#[test]
fn splits_light_from_medium_and_heavy_group() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/bayan-obo-nd-sm-cut.toml"
    );
    let r = Case::from_toml(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .simulate()
        .unwrap();
    assert!(r.converged, "{:?}", r.convergence);
    assert_eq!(r.stages.len(), 105);
    assert_eq!(r.balance.by_element.len(), 15);
    assert!(
        r.balance.max_relative_error <= 1e-10,
        "closure {}",
        r.balance.max_relative_error
    );
    let light_elements = ["La", "Ce", "Pr", "Nd"];
    let light = r.product("La-Nd light group").unwrap();
    let heavy = r.product("Sm and heavier").unwrap();
    let light_purity: f64 = light_elements
        .iter()
        .map(|e| light.ree_mole_fraction[*e])
        .sum();
    let heavy_impurity: f64 = light_elements
        .iter()
        .map(|e| heavy.ree_mole_fraction[*e])
        .sum();
    // Targets of the design: light group ≥ 99.999 % La–Nd, heavy group ≥ 99 % Sm and heavier.
    assert!(light_purity >= 0.99999, "light-group purity {light_purity}");
    assert!(
        1.0 - heavy_impurity >= 0.99,
        "heavy-group purity {}",
        1.0 - heavy_impurity
    );
    // 50 extraction stages at β(Sm/Nd) = 8 leave almost nothing of the heavy group behind.
    let heavy_in_light: f64 = light
        .ree_mole_fraction
        .iter()
        .filter(|(e, _)| !light_elements.contains(&e.as_str()))
        .map(|(_, v)| v)
        .sum();
    assert!(
        heavy_in_light < 1e-20,
        "heavy group in the light product {heavy_in_light}"
    );
    // Mass-balance caps of Xu's theory hold (sx.md V9): P ≤ f / f'.
    assert!(1.0 - heavy_impurity <= 0.02485 / heavy.flow + 1e-12);
}
