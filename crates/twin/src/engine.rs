//! The discrete-event core: a future-event list (binary heap ordered by time, then by the order
//! events were scheduled, so equal times resolve deterministically), resources with FIFO queues,
//! and time-weighted statistics. No processes or coroutines: the plant model is a state
//! machine that reacts to each event it pops and schedules the next ones.

use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Simulation time in seconds from the start of the run.
pub type Seconds = f64;

struct Entry<E> {
    at_s: Seconds,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at_s
            .total_cmp(&self.at_s)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The future-event list and the clock.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    now_s: Seconds,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now_s: 0.0,
            popped: 0,
        }
    }

    /// The current time.
    pub fn now(&self) -> Seconds {
        self.now_s
    }

    /// Moves the clock to `t_s` when no event is due before it (a stepped run waiting for
    /// real time); never backwards.
    pub fn advance_clock(&mut self, t_s: Seconds) {
        let next = self.peek_time().unwrap_or(f64::INFINITY);
        if t_s.is_finite() && t_s > self.now_s && t_s <= next {
            self.now_s = t_s;
        }
    }

    /// Schedules `event` after `delay_s` (negative or non-finite delays count as zero: the
    /// model validates its inputs, and time never runs backwards).
    pub fn schedule_in(&mut self, delay_s: Seconds, event: E) {
        let delay = if delay_s.is_finite() && delay_s > 0.0 {
            delay_s
        } else {
            0.0
        };
        self.push(self.now_s + delay, event);
    }

    /// Schedules `event` at an absolute time (not before now).
    pub fn schedule_at(&mut self, at_s: Seconds, event: E) {
        let at = if at_s.is_finite() && at_s > self.now_s {
            at_s
        } else {
            self.now_s
        };
        self.push(at, event);
    }

    fn push(&mut self, at_s: Seconds, event: E) {
        self.heap.push(Entry {
            at_s,
            seq: self.next_seq,
            event,
        });
        self.next_seq += 1;
    }

    /// Takes the earliest event and advances the clock to it.
    pub fn pop(&mut self) -> Option<(Seconds, E)> {
        let entry = self.heap.pop()?;
        self.now_s = entry.at_s;
        self.popped += 1;
        Some((entry.at_s, entry.event))
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<Seconds> {
        self.heap.peek().map(|e| e.at_s)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.popped
    }
}

/// A quantity whose time average matters (queue length, units busy, WIP).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeWeighted {
    value: f64,
    since_s: Seconds,
    integral: f64,
    start_s: Seconds,
    max: f64,
}

impl TimeWeighted {
    /// Starts at `value` at time `start_s`.
    pub fn new(start_s: Seconds, value: f64) -> Self {
        TimeWeighted {
            value,
            since_s: start_s,
            integral: 0.0,
            start_s,
            max: value,
        }
    }

    /// Changes the value at time `now_s`.
    pub fn set(&mut self, now_s: Seconds, value: f64) {
        self.integral += self.value * (now_s - self.since_s);
        self.since_s = now_s;
        self.value = value;
        self.max = self.max.max(value);
    }

    /// Adds `delta` at time `now_s`.
    pub fn add(&mut self, now_s: Seconds, delta: f64) {
        self.set(now_s, self.value + delta);
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Largest value seen.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Time average from the start to `now_s`.
    pub fn mean(&self, now_s: Seconds) -> f64 {
        let span = now_s - self.start_s;
        if span <= 0.0 {
            return self.value;
        }
        (self.integral + self.value * (now_s - self.since_s)) / span
    }

    /// Restarts the average at `now_s` (end of a warm-up), keeping the value.
    pub fn reset(&mut self, now_s: Seconds) {
        self.integral = 0.0;
        self.since_s = now_s;
        self.start_s = now_s;
        self.max = self.value;
    }
}

/// Count, mean, variance (Welford), min and max of observations (waiting times, cycle times).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Tally {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Tally {
    /// Records one observation.
    pub fn record(&mut self, x: f64) {
        self.count += 1;
        if self.count == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation (0 with fewer than two observations).
    pub fn std_dev(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            (self.m2 / (self.count - 1) as f64).sqrt()
        }
    }

    /// Smallest observation.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Largest observation.
    pub fn max(&self) -> f64 {
        self.max
    }
}

/// A resource of `capacity` identical servers with a FIFO queue of waiting jobs `J`, and its
/// busy and queue-length statistics.
pub struct Resource<J> {
    capacity: usize,
    /// Servers staffed now (≤ capacity): off shift it is 0 and no job starts.
    staffed: usize,
    busy: usize,
    queue: VecDeque<(Seconds, J)>,
    busy_stat: TimeWeighted,
    queue_stat: TimeWeighted,
    wait: Tally,
}

/// Outcome of a request.
#[derive(Debug, PartialEq)]
pub enum Request<J> {
    /// A server was free: the job starts now.
    Granted(J),
    /// All servers busy: the job waits in the queue.
    Queued,
}

impl<J> Resource<J> {
    /// A resource with `capacity` servers (≥ 1) at time `now_s`.
    pub fn new(capacity: usize, now_s: Seconds) -> Self {
        Resource {
            capacity: capacity.max(1),
            staffed: capacity.max(1),
            busy: 0,
            queue: VecDeque::new(),
            busy_stat: TimeWeighted::new(now_s, 0.0),
            queue_stat: TimeWeighted::new(now_s, 0.0),
            wait: Tally::default(),
        }
    }

    /// Asks for a server for `job` at `now_s`.
    pub fn request(&mut self, now_s: Seconds, job: J) -> Request<J> {
        if self.busy < self.staffed {
            self.busy += 1;
            self.busy_stat.set(now_s, self.busy as f64);
            self.wait.record(0.0);
            Request::Granted(job)
        } else {
            self.queue.push_back((now_s, job));
            self.queue_stat.set(now_s, self.queue.len() as f64);
            Request::Queued
        }
    }

    /// Frees a server at `now_s`; returns the next waiting job, which now holds the server.
    pub fn release(&mut self, now_s: Seconds) -> Option<J> {
        if self.busy > self.staffed {
            // Off shift: the server stops once its job is done.
            self.busy -= 1;
            self.busy_stat.set(now_s, self.busy as f64);
            return None;
        }
        match self.queue.pop_front() {
            Some((since, job)) => {
                self.queue_stat.set(now_s, self.queue.len() as f64);
                self.wait.record(now_s - since);
                Some(job)
            }
            None => {
                self.busy = self.busy.saturating_sub(1);
                self.busy_stat.set(now_s, self.busy as f64);
                None
            }
        }
    }

    /// Queues a job ahead of every waiting job (a priority request); it starts at once if a
    /// server is free.
    pub fn request_first(&mut self, now_s: Seconds, job: J) -> Request<J> {
        if self.busy < self.staffed {
            return self.request(now_s, job);
        }
        self.queue.push_front((now_s, job));
        self.queue_stat.set(now_s, self.queue.len() as f64);
        Request::Queued
    }

    /// Sets the servers staffed at `now_s` (a shift change), at most the capacity. Jobs in
    /// progress finish; when servers come on, waiting jobs start and are returned.
    pub fn set_staffed(&mut self, now_s: Seconds, staffed: usize) -> Vec<J> {
        self.staffed = staffed.min(self.capacity);
        let mut started = Vec::new();
        while self.busy < self.staffed {
            let Some((since, job)) = self.queue.pop_front() else {
                break;
            };
            self.busy += 1;
            self.wait.record(now_s - since);
            started.push(job);
        }
        self.busy_stat.set(now_s, self.busy as f64);
        self.queue_stat.set(now_s, self.queue.len() as f64);
        started
    }

    /// Servers in use.
    pub fn busy(&self) -> usize {
        self.busy
    }

    /// Jobs waiting.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Number of servers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Mean fraction of servers busy up to `now_s`.
    pub fn utilisation(&self, now_s: Seconds) -> f64 {
        self.busy_stat.mean(now_s) / self.capacity as f64
    }

    /// Mean queue length up to `now_s`.
    pub fn mean_queue(&self, now_s: Seconds) -> f64 {
        self.queue_stat.mean(now_s)
    }

    /// Waiting times of granted jobs.
    pub fn waits(&self) -> &Tally {
        &self.wait
    }

    /// Restarts the statistics at `now_s` (end of a warm-up), keeping the current state.
    pub fn reset_stats(&mut self, now_s: Seconds) {
        self.busy_stat.reset(now_s);
        self.queue_stat.reset(now_s);
        self.wait = Tally::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_in_time_order_and_ties_in_schedule_order() {
        let mut q = EventQueue::new();
        q.schedule_at(5.0, "c");
        q.schedule_at(1.0, "a");
        q.schedule_at(5.0, "d");
        q.schedule_in(1.0, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1.0, "a"), (1.0, "b"), (5.0, "c"), (5.0, "d")]);
        assert_eq!(q.now(), 5.0);
        q.schedule_in(-3.0, "never before now");
        assert_eq!(q.pop(), Some((5.0, "never before now")));
    }

    #[test]
    fn a_single_server_queue_matches_hand_computed_statistics() {
        // Jobs arrive at 0, 1, 2; each takes 2 s: starts at 0, 2, 4; waits 0, 1, 2.
        let mut r = Resource::new(1, 0.0);
        assert_eq!(r.request(0.0, 'a'), Request::Granted('a'));
        assert_eq!(r.request(1.0, 'b'), Request::Queued);
        assert_eq!(r.request(2.0, 'c'), Request::Queued);
        assert_eq!(r.release(2.0), Some('b'));
        assert_eq!(r.release(4.0), Some('c'));
        assert_eq!(r.release(6.0), None);
        assert_eq!(r.utilisation(6.0), 1.0);
        assert_eq!(r.utilisation(12.0), 0.5);
        assert!((r.waits().mean() - 1.0).abs() < 1e-12);
        // Queue length: 1 on [1,2), 2 on [2,2)… 1 on [2,4), 0 after: integral 1 + 2 = 3 over 6 s.
        assert!((r.mean_queue(6.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn off_shift_no_job_starts_and_jobs_wait_for_the_next_shift() {
        let mut r = Resource::new(2, 0.0);
        assert_eq!(r.request(0.0, 'a'), Request::Granted('a'));
        // Shift ends at 1: 'a' finishes, nothing new starts.
        assert!(r.set_staffed(1.0, 0).is_empty());
        assert_eq!(r.request(2.0, 'b'), Request::Queued);
        assert_eq!(r.request_first(2.5, 'c'), Request::Queued);
        assert_eq!(r.release(3.0), None);
        assert_eq!(r.busy(), 0);
        // Next shift at 10: both servers on; the priority job 'c' goes first.
        assert_eq!(r.set_staffed(10.0, 5), vec!['c', 'b']);
        assert_eq!(r.busy(), 2);
        assert!((r.waits().mean() - (0.0 + 7.5 + 8.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn tally_and_time_weighted_statistics() {
        let mut t = Tally::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            t.record(x);
        }
        assert_eq!((t.count(), t.mean(), t.min(), t.max()), (8, 5.0, 2.0, 9.0));
        assert!((t.std_dev() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let mut w = TimeWeighted::new(0.0, 0.0);
        w.set(10.0, 4.0);
        w.add(15.0, -2.0);
        assert!((w.mean(20.0) - (4.0 * 5.0 + 2.0 * 5.0) / 20.0).abs() < 1e-12);
        assert_eq!(w.max(), 4.0);
    }
}
