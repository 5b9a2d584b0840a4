//! One FIFO furnace, 100,000 batches (DEPENDENCIES.md: SimPy 1.5 s, simu-des 0.07 s, nexosim
//! 1.9–8.6 s on the same model). `scripts/peer/twin_fifo_simpy.py` runs SimPy here.

use lodestone_twin::fifo::{run, FifoInputs};

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 20)]
fn fifo_furnace_100k_batches() -> u64 {
    let r = run(divan::black_box(&FifoInputs {
        batches: 100_000,
        mean_interarrival_s: 100.0,
        mean_service_s: 80.0,
        seed: 1,
    }));
    r.completed
}
