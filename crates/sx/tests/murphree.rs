//! Organic-phase Murphree efficiency: y_out = y_in + E (y*(x_out) − y_in).

use lodestone_sx::Case;

/// One stage, aluminium with a constant distribution ratio K = 0.5 (model C), fresh organic:
/// the balance gives x_out = x_f / (1 + E·K·Qo/Qa) in closed form.
fn single_stage(efficiency: f64) -> String {
    format!(
        r#"
title = "one stage, constant D"
[model]
type = "distribution"
extractant_molar_mass_g_per_mol = 322.431
extractant_density_g_per_l = 975.8
[model.constant_d]
Al = 0.5
[cascade]
stages = 1
efficiency = {efficiency}
[[feed]]
name = "aq"
phase = "aqueous"
stage = 1
flow = 100.0
[feed.concentration]
Al = 0.01
H = 0.1
Cl = 0.13
[[feed]]
name = "org"
phase = "organic"
stage = 1
flow = 50.0
[feed.concentration]
DEHPA = 0.5
"#
    )
}

#[test]
fn single_stage_matches_closed_form() {
    for e in [1.0, 0.8, 0.5, 0.2] {
        let r = Case::from_toml(&single_stage(e))
            .unwrap()
            .simulate()
            .unwrap();
        assert!(r.converged, "E = {e}: {:?}", r.convergence);
        let x = r.product("raffinate").unwrap().concentration["Al"];
        let expected = 0.01 / (1.0 + e * 0.5 * 50.0 / 100.0);
        assert!(
            ((x - expected) / expected).abs() < 1e-10,
            "E = {e}: {x} vs {expected}"
        );
        assert!(r.balance.max_relative_error < 1e-10);
    }
}

fn with_efficiency(path: &str, e: &str) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/../../examples/sx/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    text.replacen(
        "flow_unit = \"L/h\"",
        &format!("flow_unit = \"L/h\"\nefficiency = {e}"),
        1,
    )
}

#[test]
fn unit_efficiency_reproduces_the_ideal_cascade() {
    let ideal = Case::from_toml(
        &with_efficiency("prommis-dehpa-3stage.toml", "1.0").replace("efficiency = 1.0\n", ""),
    )
    .unwrap()
    .simulate()
    .unwrap();
    let murphree = Case::from_toml(&with_efficiency("prommis-dehpa-3stage.toml", "1.0"))
        .unwrap()
        .simulate()
        .unwrap();
    for (sp, v) in &ideal.product("raffinate").unwrap().concentration {
        let w = murphree.product("raffinate").unwrap().concentration[sp];
        assert!((v - w).abs() <= 1e-9 * v.abs() + 1e-15, "{sp}: {v} vs {w}");
    }
}

#[test]
fn lower_efficiency_costs_purity_on_the_pr_nd_line() {
    let ideal = Case::from_toml(&with_efficiency("mass-action-pr-nd.toml", "1.0"))
        .unwrap()
        .simulate()
        .unwrap();
    let real = Case::from_toml(&with_efficiency("mass-action-pr-nd.toml", "0.9"))
        .unwrap()
        .simulate()
        .unwrap();
    assert!(
        ideal.converged && real.converged,
        "{:?} {:?}",
        ideal.convergence,
        real.convergence
    );
    let purity = |r: &lodestone_sx::SimulationResult| {
        r.product("Nd strip liquor").unwrap().ree_mole_fraction["Nd"]
    };
    assert!(
        purity(&real) < purity(&ideal),
        "{} vs {}",
        purity(&real),
        purity(&ideal)
    );
    assert!(real.balance.max_relative_error < 1e-10);
    // Extractant sites are conserved through the Murphree relation (linear in the organic).
    for st in &real.stages[..44] {
        let sites =
            st.organic["HA"] + st.organic["NH4A"] + 3.0 * (st.organic["Nd"] + st.organic["Pr"]);
        assert!(
            (sites - 1.5).abs() < 1e-9,
            "stage {} sites {sites}",
            st.stage
        );
    }
}

#[test]
fn efficiency_is_refused_where_it_has_no_meaning() {
    let xu = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/xu-nd-pr.toml"
    ))
    .unwrap();
    let err = Case::from_toml(&xu.replace(
        "feed_phase = \"aqueous\"",
        "feed_phase = \"aqueous\"\nefficiency = 0.9",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("xu.efficiency"), "{err}");
    let ff = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/sx/prommis-fixed-fraction.toml"
    ))
    .unwrap();
    let err = Case::from_toml(&ff.replace(
        "flow_unit = \"L/h\"",
        "flow_unit = \"L/h\"\nefficiency = 0.9",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cascade.efficiency") && err.contains("fixed-fraction"),
        "{err}"
    );
    let err = Case::from_toml(&with_efficiency("prommis-dehpa-3stage.toml", "1.2"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cascade.efficiency") && err.contains("(0, 1]"),
        "{err}"
    );
}
