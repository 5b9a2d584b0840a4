//! The plant-size model-B cascade (`benches/data/bayan-obo-120x15-separation-factor.toml`:
//! 120 stages × 15 rare earths). Newton from the cold start stalls on it; the solver then
//! continues in the separation (every element alike, then the separation factors restored step
//! by step), which must reach the same converged, closed steady state as the pseudo-transient
//! path did, in far fewer iterations (177 before the continuation).

use lodestone_sx::Case;

const CASE: &str = include_str!("../benches/data/bayan-obo-120x15-separation-factor.toml");

#[test]
fn the_120_stage_model_b_cut_converges_through_continuation() {
    let r = Case::from_toml(CASE).unwrap().simulate().unwrap();
    assert!(
        r.converged,
        "not converged: {} iterations, max residual {:.3e}",
        r.iterations, r.max_residual
    );
    assert!(r.max_residual <= 1e-12, "{}", r.max_residual);
    assert!(
        r.balance.max_relative_error <= 1e-10,
        "closure {:?}",
        r.balance.by_element
    );
    assert!(r.iterations < 100, "{} iterations", r.iterations);
    // The cut: Nd stays with the light group, Sm goes with the heavy group.
    let raffinate = r
        .products
        .iter()
        .find(|p| p.name == "LaCePrNd raffinate")
        .unwrap();
    let organic = r
        .products
        .iter()
        .find(|p| p.name == "SmEuGd loaded organic")
        .unwrap();
    assert!(raffinate.recovery["Nd"] > 0.99, "{:?}", raffinate.recovery);
    assert!(organic.recovery["Sm"] > 0.99, "{:?}", organic.recovery);
    let light: f64 = ["La", "Ce", "Pr", "Nd"]
        .iter()
        .map(|e| raffinate.ree_mole_fraction[*e])
        .sum();
    assert!(
        light > 0.9999,
        "light-group purity of the raffinate {light}"
    );
}
