//! One furnace, batches arriving at random, served first in first out: the model the engine
//! is measured on against SimPy (`scripts/peer/twin_fifo_simpy.py` is the same model).
//! Exponential inter-arrival and service times make it an M/M/1 queue, so the long-run
//! statistics are known in closed form and test the engine.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::engine::{EventQueue, Request, Resource, Seconds};

/// Inputs of the single-furnace run.
#[derive(Debug, Clone, Copy)]
pub struct FifoInputs {
    /// Batches to process.
    pub batches: u64,
    /// Mean time between arrivals, s.
    pub mean_interarrival_s: f64,
    /// Mean melt time per batch, s.
    pub mean_service_s: f64,
    /// Random seed.
    pub seed: u64,
}

/// What the run measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FifoResult {
    /// Batches completed.
    pub completed: u64,
    /// Time of the last completion, s.
    pub end_s: Seconds,
    /// Furnace utilisation.
    pub utilisation: f64,
    /// Mean wait in the queue, s.
    pub mean_wait_s: f64,
    /// Mean queue length.
    pub mean_queue: f64,
    /// Events processed.
    pub events: u64,
}

enum Event {
    Arrival(u64),
    Done,
}

/// Runs the single-furnace model.
pub fn run(inputs: &FifoInputs) -> FifoResult {
    let mut rng = Pcg64Mcg::seed_from_u64(inputs.seed);
    let arrivals = Exp::new(1.0 / inputs.mean_interarrival_s).expect("positive mean");
    let service = Exp::new(1.0 / inputs.mean_service_s).expect("positive mean");
    let mut queue = EventQueue::new();
    let mut furnace: Resource<u64> = Resource::new(1, 0.0);
    let mut completed = 0;
    queue.schedule_at(0.0, Event::Arrival(0));
    while let Some((now, event)) = queue.pop() {
        match event {
            Event::Arrival(n) => {
                if n + 1 < inputs.batches {
                    queue.schedule_in(arrivals.sample(&mut rng), Event::Arrival(n + 1));
                }
                if let Request::Granted(_) = furnace.request(now, n) {
                    queue.schedule_in(service.sample(&mut rng), Event::Done);
                }
            }
            Event::Done => {
                completed += 1;
                if furnace.release(now).is_some() {
                    queue.schedule_in(service.sample(&mut rng), Event::Done);
                }
            }
        }
    }
    let end_s = queue.now();
    FifoResult {
        completed,
        end_s,
        utilisation: furnace.utilisation(end_s),
        mean_wait_s: furnace.waits().mean(),
        mean_queue: furnace.mean_queue(end_s),
        events: queue.events_processed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_m_m_1_queue_and_is_deterministic() {
        // M/M/1 with mean service S = 80 s and inter-arrival 100 s: ρ = 0.8, mean wait in the
        // queue Wq = ρ·S/(1 − ρ) = 0.8·80/0.2 = 320 s, Lq = λ·Wq = 3.2 (Little's law). A run of
        // 200,000 batches lands within a few per cent.
        let inputs = FifoInputs {
            batches: 200_000,
            mean_interarrival_s: 100.0,
            mean_service_s: 80.0,
            seed: 7,
        };
        let r = run(&inputs);
        assert_eq!(r.completed, 200_000);
        assert_eq!(r.events, 400_000);
        assert!((r.utilisation - 0.8).abs() < 0.01, "{r:?}");
        assert!((r.mean_wait_s - 320.0).abs() / 320.0 < 0.08, "{r:?}");
        assert!((r.mean_queue - 3.2).abs() / 3.2 < 0.08, "{r:?}");
        assert_eq!(run(&inputs), r, "same seed, same run");
        let other = run(&FifoInputs { seed: 8, ..inputs });
        assert_ne!(other.mean_wait_s, r.mean_wait_s);
    }
}
