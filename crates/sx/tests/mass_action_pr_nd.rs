//! Model D on a saponified P507 Pr/Nd line: cold-start convergence, closure, loading typical of
//! plants, the separation factor carried by the K ratio, and aqueous electroneutrality (which
//! follows from the balances when the inlets are neutral: sx-models.md, model D).

use lodestone_sx::{Case, SimulationResult};

fn simulate() -> SimulationResult {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/mass-action-pr-nd.toml"
    );
    Case::from_toml(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .simulate()
        .unwrap()
}

#[test]
fn converges_from_cold_start_with_closure() {
    let r = simulate();
    assert!(r.converged, "{:?}", r.convergence);
    assert!(r.max_residual <= 1e-12);
    assert!(
        r.balance.max_relative_error <= 1e-10,
        "closure {}",
        r.balance.max_relative_error
    );
}

#[test]
fn separates_pr_from_nd() {
    let r = simulate();
    let pr = r.product("Pr raffinate").unwrap();
    let nd = r.product("Nd strip liquor").unwrap();
    assert!(
        pr.ree_mole_fraction["Pr"] > 0.995,
        "Pr purity {}",
        pr.ree_mole_fraction["Pr"]
    );
    assert!(
        nd.ree_mole_fraction["Nd"] > 0.995,
        "Nd purity {}",
        nd.ree_mole_fraction["Nd"]
    );
    assert!(nd.recovery["Nd"] > 0.99 && pr.recovery["Pr"] > 0.98);
    // The stripped organic returns almost barren.
    let stripped = r.product("stripped organic").unwrap();
    assert!(stripped.concentration["Nd"] < 1e-3);
}

#[test]
fn organic_loading_is_typical_of_plants() {
    // sx.md §4: organic REE loading ~0.15–0.2 mol/L in P507 plants.
    let r = simulate();
    for st in &r.stages[1..44] {
        let ree = st.organic["Nd"] + st.organic["Pr"];
        assert!(
            (0.15..=0.2).contains(&ree),
            "stage {} organic REE {ree} mol/L",
            st.stage
        );
        let loading = st.loading.unwrap();
        assert!(
            loading > 0.3 && loading < 0.37,
            "stage {} loading {loading}",
            st.stage
        );
    }
}

#[test]
fn separation_factor_equals_k_ratio_in_every_stage() {
    let r = simulate();
    for st in &r.stages {
        let beta = st.distribution_ratio["Nd"] / st.distribution_ratio["Pr"];
        assert!(
            (beta - 10f64.powf(-4.13 + 4.306)).abs() < 1e-9,
            "stage {} β {beta}",
            st.stage
        );
    }
}

#[test]
fn aqueous_phase_is_electroneutral_in_every_stage() {
    let r = simulate();
    for st in &r.stages {
        let a = &st.aqueous;
        let positive = 3.0 * (a["Nd"] + a["Pr"]) + a["H"] + a["NH4"];
        let negative = a["Cl"];
        assert!(
            ((positive - negative) / negative).abs() < 1e-9,
            "stage {} charge {positive} vs {negative}",
            st.stage
        );
    }
}
