//! Steady-state solve times of the example cascades (`cargo bench -p lodestone-sx`).
//! Targets (issue: sx simulator): V4 < 1 ms; 120 stages × 15 elements, model D < 50 ms.

use lodestone_sx::Case;

fn main() {
    divan::main();
}

fn case(name: &str) -> Case {
    let path = format!("{}/../../examples/sx/{name}", env!("CARGO_MANIFEST_DIR"));
    Case::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[divan::bench(args = [
    "xu-nd-pr.toml",
    "prommis-dehpa-3stage.toml",
    "prommis-fixed-fraction.toml",
    "mass-action-pr-nd.toml",
    "bayan-obo-nd-sm-cut.toml",
], sample_count = 20)]
fn simulate(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    bencher.bench_local(|| divan::black_box(c.simulate().unwrap()));
}
