//! Overall equipment effectiveness (OEE) from equipment state periods and counts.
//!
//! One definition, used by the MES ([`crate::performance`]) and the plant twin
//! (`lodestone_twin::model::LineStats`); ISO 22400-2 and Nakajima's six big losses, worked
//! example in docs/mes.md ("OEE"):
//!
//! - calendar time = the whole window (`total_time_s`);
//! - not scheduled = time in [`EquipmentState::NotScheduled`]: nothing to run (no orders). It
//!   is no availability loss; it is reported as **utilisation** = planned production time /
//!   calendar time (TEEP's loading), with TEEP = utilisation × OEE;
//! - planned downtime = [`EquipmentState::PlannedDown`] and [`EquipmentState::Break`];
//! - planned production time = calendar time − not scheduled − planned downtime;
//! - run time = time in [`EquipmentState::Running`];
//! - availability A = run time / planned production time — every other state (idle,
//!   starved, blocked, unplanned down, setup, changeover) is availability loss;
//! - performance P = ideal cycle time × total count / run time. The ideal cycle is the unit's
//!   stated `ideal_cycle_s`. A P above 1 means the stated ideal is slower than the unit
//!   really runs: it is reported as computed, never clamped, with a warning when it is clearly
//!   above 1 ([`performance_above_ideal`]: more than [`PERFORMANCE_TOLERANCE`] above after
//!   discounting the one unit a window's edge can add);
//! - quality Q = good count / total count, where the count is units of the product only
//!   (residues and by-products are not units) and a reject is any unit not good first time;
//! - OEE = A × P × Q = good count × ideal cycle time / planned production time (run time and
//!   total count cancel). OEE is computed by the right-hand form, with fewer roundings.
//!
//! Loss breakdown in seconds: availability loss per state (planned production time − run
//! time), speed loss = run time − ideal cycle time × total count, quality loss = ideal
//! cycle time × reject count, fully productive time = ideal cycle time × good count; the
//! four add up to the planned production time.
//!
//! Pure computation: no clocks — timestamps are plain seconds chosen by the caller.

use serde::{Deserialize, Serialize};
use std::fmt;

/// State of a piece of equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EquipmentState {
    /// Producing.
    Running,
    /// Available but not producing, no cause recorded.
    Idle,
    /// Waiting for input material.
    Starved,
    /// Output blocked downstream.
    Blocked,
    /// Breakdown or unplanned stop.
    UnplannedDown,
    /// Setup before a run.
    Setup,
    /// Changeover between products.
    Changeover,
    /// Planned shutdown or maintenance window: excluded from planned production time.
    PlannedDown,
    /// Scheduled break: excluded from planned production time.
    Break,
    /// Nothing scheduled (no orders to run): excluded from planned production time and
    /// reported as the utilisation loss, not as availability loss.
    NotScheduled,
}

impl EquipmentState {
    /// True for states outside planned production time.
    pub fn is_planned_downtime(self) -> bool {
        matches!(self, EquipmentState::PlannedDown | EquipmentState::Break)
    }

    /// True for states outside planned production time: planned downtime and time with
    /// nothing scheduled.
    pub fn is_outside_planned_production(self) -> bool {
        self.is_planned_downtime() || self == EquipmentState::NotScheduled
    }
}

impl fmt::Display for EquipmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EquipmentState::Running => "running",
            EquipmentState::Idle => "idle",
            EquipmentState::Starved => "starved",
            EquipmentState::Blocked => "blocked",
            EquipmentState::UnplannedDown => "unplanned down",
            EquipmentState::Setup => "setup",
            EquipmentState::Changeover => "changeover",
            EquipmentState::PlannedDown => "planned down",
            EquipmentState::Break => "break",
            EquipmentState::NotScheduled => "not scheduled",
        })
    }
}

/// A state change: the equipment entered `state` at `start_s` (seconds on any clock).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StateEvent {
    /// The state entered.
    pub state: EquipmentState,
    /// When, in seconds.
    pub start_s: f64,
}

/// A span of time in one state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatePeriod {
    /// The state.
    pub state: EquipmentState,
    /// How long, in seconds.
    pub duration_s: f64,
}

/// Units produced in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductionCounts {
    /// All units started and finished, good or not.
    pub total: u64,
    /// Units good first time.
    pub good: u64,
}

impl ProductionCounts {
    /// Counts from a total and a number of good units.
    pub fn new(total: u64, good: u64) -> Result<Self, OeeError> {
        if good > total {
            return Err(OeeError::GoodExceedsTotal { good, total });
        }
        Ok(ProductionCounts { total, good })
    }

    /// Counts from a total and a number of rejects (good = total − rejects).
    pub fn from_rejects(total: u64, rejects: u64) -> Result<Self, OeeError> {
        if rejects > total {
            return Err(OeeError::RejectsExceedTotal { rejects, total });
        }
        Ok(ProductionCounts {
            total,
            good: total - rejects,
        })
    }

    /// Units that were not good.
    pub fn rejects(&self) -> u64 {
        self.total.saturating_sub(self.good)
    }
}

/// Why an OEE computation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OeeError {
    /// No periods or events.
    #[error("no equipment states given: give at least one state period or event")]
    NoStates,
    /// A period's duration is negative or not finite.
    #[error("state period {index} ({state}): duration {duration_s} s is not valid; durations must be finite and ≥ 0")]
    InvalidDuration {
        /// 0-based period index.
        index: usize,
        /// Its state.
        state: EquipmentState,
        /// The duration.
        duration_s: f64,
    },
    /// An event time is negative or not finite.
    #[error("state event {index} ({state}): start {start_s} s is not valid; times must be finite and ≥ 0")]
    InvalidTime {
        /// 0-based event index.
        index: usize,
        /// Its state.
        state: EquipmentState,
        /// The time.
        start_s: f64,
    },
    /// Events are not in time order.
    #[error("state event {index} starts at {start_s} s, before event {previous} at {previous_start_s} s; events must be in time order")]
    OutOfOrder {
        /// 0-based index of the offending event.
        index: usize,
        /// Its start.
        start_s: f64,
        /// The event before it.
        previous: usize,
        /// That event's start.
        previous_start_s: f64,
    },
    /// The end of the observation window is before the last event.
    #[error("end time {end_s} s is before the last event's start {last_start_s} s; the window must end at or after the last event")]
    EndBeforeLastEvent {
        /// End given.
        end_s: f64,
        /// Last event start.
        last_start_s: f64,
    },
    /// More good units than units made.
    #[error("good count {good} exceeds total count {total}; good units are part of the total")]
    GoodExceedsTotal {
        /// Good count.
        good: u64,
        /// Total count.
        total: u64,
    },
    /// More rejects than units made.
    #[error("reject count {rejects} exceeds total count {total}")]
    RejectsExceedTotal {
        /// Reject count.
        rejects: u64,
        /// Total count.
        total: u64,
    },
    /// Ideal cycle time not positive.
    #[error("ideal cycle time {value} s is not valid: it must be finite and > 0")]
    InvalidCycleTime {
        /// The value.
        value: f64,
    },
    /// The durations add up beyond the range of f64.
    #[error("the state durations add up to {total_s} s, beyond the range of numbers; check the durations")]
    TimeOverflow {
        /// The (infinite) sum.
        total_s: f64,
    },
    /// Nothing was planned.
    #[error("planned production time is zero (total {total_s} s, all planned downtime or not scheduled); OEE is undefined")]
    ZeroPlannedTime {
        /// Total time in the periods.
        total_s: f64,
    },
    /// Units counted with no run time.
    #[error(
        "{total} units counted but run time is zero; record the running state or check the counts"
    )]
    CountWithoutRunTime {
        /// Total count.
        total: u64,
    },
}

/// Time lost to one state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateLoss {
    /// The state.
    pub state: EquipmentState,
    /// Seconds in it.
    pub duration_s: f64,
}

/// Where the planned production time went, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OeeLosses {
    /// Availability loss per non-running state within planned production time, in the
    /// order of [`EquipmentState`] (states with no time are left out).
    pub availability_by_state: Vec<StateLoss>,
    /// Total availability loss = planned production time − run time.
    pub availability_loss_s: f64,
    /// Speed (performance) loss = run time − ideal cycle time × total count.
    pub speed_loss_s: f64,
    /// Quality loss = ideal cycle time × rejects.
    pub quality_loss_s: f64,
    /// Fully productive time = ideal cycle time × good count.
    pub fully_productive_time_s: f64,
}

/// OEE and its factors.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Oee {
    /// Calendar time: the sum of all periods.
    pub total_time_s: f64,
    /// Time with nothing scheduled (no orders): the utilisation loss.
    pub not_scheduled_s: f64,
    /// Planned downtime (planned down, breaks).
    pub planned_downtime_s: f64,
    /// Total time − not scheduled − planned downtime.
    pub planned_production_time_s: f64,
    /// Time running.
    pub run_time_s: f64,
    /// Ideal cycle time per unit.
    pub ideal_cycle_time_s: f64,
    /// Total count.
    pub total_count: u64,
    /// Good count.
    pub good_count: u64,
    /// Reject count.
    pub reject_count: u64,
    /// Planned production time / calendar time: how much of the window had production
    /// planned (TEEP's loading). Time with no orders and planned downtime are its losses.
    pub utilisation: f64,
    /// Run time / planned production time.
    pub availability: f64,
    /// Ideal cycle time × total count / run time (0 when nothing ran and nothing was made;
    /// above 1 means the ideal cycle time is slower than the machine really runs).
    pub performance: f64,
    /// Good / total (0 when nothing was made).
    pub quality: f64,
    /// Good × ideal cycle time / planned production time (= A × P × Q).
    pub oee: f64,
    /// Good × ideal cycle time / calendar time (= utilisation × OEE).
    pub teep: f64,
    /// Why a figure is suspect: a performance clearly above 1 ([`performance_above_ideal`]:
    /// the ideal cycle is slower than the unit really runs). Empty when the figures are sound.
    pub warnings: Vec<String>,
    /// Loss breakdown.
    pub losses: OeeLosses,
}

/// How far above 1 a performance may read, after discounting one unit, before it is taken to
/// mean the ideal cycle is wrong: cycle-to-cycle variation around a stated standard cycle
/// reads a few tenths of a per cent either way over a month (the reference plant's lines:
/// 99.1–101.0 %). The twin (`lodestone_twin::model`) uses the same rule.
pub const PERFORMANCE_TOLERANCE: f64 = 0.02;

/// True when the count is clearly more than the run time allows at the ideal cycle: even
/// without one unit (a unit finished in the window but started before it is counted whole),
/// ideal × count exceeds the run time by more than [`PERFORMANCE_TOLERANCE`].
pub fn performance_above_ideal(ideal_cycle_time_s: f64, total: u64, run_time_s: f64) -> bool {
    total > 0
        && ideal_cycle_time_s * (total - 1) as f64 > (1.0 + PERFORMANCE_TOLERANCE) * run_time_s
}

/// The warning for a performance above 1 (the twin words it the same way).
pub fn performance_warning(performance: f64, ideal_cycle_time_s: f64) -> String {
    format!(
        "performance {:.1} % is above 100 %: the unit made more than its ideal cycle of {ideal_cycle_time_s} s allows, so the ideal cycle is too slow; set the unit's real best cycle (ideal_cycle_s)",
        100.0 * performance
    )
}

/// Turns time-ordered state events into periods; the last lasts until `end_s`.
pub fn periods_from_events(
    events: &[StateEvent],
    end_s: f64,
) -> Result<Vec<StatePeriod>, OeeError> {
    if events.is_empty() {
        return Err(OeeError::NoStates);
    }
    for (index, e) in events.iter().enumerate() {
        if !(e.start_s.is_finite() && e.start_s >= 0.0) {
            return Err(OeeError::InvalidTime {
                index,
                state: e.state,
                start_s: e.start_s,
            });
        }
        if index > 0 && e.start_s < events[index - 1].start_s {
            return Err(OeeError::OutOfOrder {
                index,
                start_s: e.start_s,
                previous: index - 1,
                previous_start_s: events[index - 1].start_s,
            });
        }
    }
    let last = events[events.len() - 1].start_s;
    if !(end_s.is_finite() && end_s >= last) {
        return Err(OeeError::EndBeforeLastEvent {
            end_s,
            last_start_s: last,
        });
    }
    let ends = events
        .iter()
        .skip(1)
        .map(|e| e.start_s)
        .chain(std::iter::once(end_s));
    Ok(events
        .iter()
        .zip(ends)
        .map(|(e, end)| StatePeriod {
            state: e.state,
            duration_s: end - e.start_s,
        })
        .collect())
}

/// OEE from state periods, counts and the ideal cycle time (seconds per unit).
pub fn oee(
    periods: &[StatePeriod],
    counts: &ProductionCounts,
    ideal_cycle_time_s: f64,
) -> Result<Oee, OeeError> {
    if periods.is_empty() {
        return Err(OeeError::NoStates);
    }
    for (index, p) in periods.iter().enumerate() {
        if !(p.duration_s.is_finite() && p.duration_s >= 0.0) {
            return Err(OeeError::InvalidDuration {
                index,
                state: p.state,
                duration_s: p.duration_s,
            });
        }
    }
    let ProductionCounts { total, good } = *counts;
    if good > total {
        return Err(OeeError::GoodExceedsTotal { good, total });
    }
    if !(ideal_cycle_time_s.is_finite() && ideal_cycle_time_s > 0.0) {
        return Err(OeeError::InvalidCycleTime {
            value: ideal_cycle_time_s,
        });
    }
    let time_in = |pred: &dyn Fn(EquipmentState) -> bool| -> f64 {
        periods
            .iter()
            .filter(|p| pred(p.state))
            .map(|p| p.duration_s)
            .sum()
    };
    let total_time_s = time_in(&|_| true);
    let not_scheduled_s = time_in(&|s| s == EquipmentState::NotScheduled);
    let planned_downtime_s = time_in(&|s| s.is_planned_downtime());
    let planned_production_time_s = time_in(&|s| !s.is_outside_planned_production());
    let run_time_s = time_in(&|s| s == EquipmentState::Running);
    if !total_time_s.is_finite() {
        return Err(OeeError::TimeOverflow {
            total_s: total_time_s,
        });
    }
    if !(planned_production_time_s > 0.0) {
        return Err(OeeError::ZeroPlannedTime {
            total_s: total_time_s,
        });
    }
    if run_time_s == 0.0 && total > 0 {
        return Err(OeeError::CountWithoutRunTime { total });
    }
    let rejects = total - good;
    let (total_f, good_f) = (total as f64, good as f64);
    let availability = run_time_s / planned_production_time_s;
    let performance = if total == 0 {
        0.0
    } else {
        ideal_cycle_time_s * total_f / run_time_s
    };
    let quality = if total == 0 { 0.0 } else { good_f / total_f };
    let oee = good_f * ideal_cycle_time_s / planned_production_time_s;
    let mut warnings = Vec::new();
    if performance_above_ideal(ideal_cycle_time_s, total, run_time_s) {
        warnings.push(performance_warning(performance, ideal_cycle_time_s));
    }

    let mut states: Vec<EquipmentState> = periods
        .iter()
        .map(|p| p.state)
        .filter(|s| *s != EquipmentState::Running && !s.is_outside_planned_production())
        .collect();
    states.sort();
    states.dedup();
    let availability_by_state = states
        .into_iter()
        .map(|state| StateLoss {
            state,
            duration_s: time_in(&|s| s == state),
        })
        .filter(|l| l.duration_s > 0.0)
        .collect();
    Ok(Oee {
        total_time_s,
        not_scheduled_s,
        planned_downtime_s,
        planned_production_time_s,
        run_time_s,
        ideal_cycle_time_s,
        total_count: total,
        good_count: good,
        reject_count: rejects,
        utilisation: planned_production_time_s / total_time_s,
        availability,
        performance,
        quality,
        oee,
        teep: good_f * ideal_cycle_time_s / total_time_s,
        warnings,
        losses: OeeLosses {
            availability_by_state,
            availability_loss_s: planned_production_time_s - run_time_s,
            speed_loss_s: run_time_s - ideal_cycle_time_s * total_f,
            quality_loss_s: ideal_cycle_time_s * rejects as f64,
            fully_productive_time_s: ideal_cycle_time_s * good_f,
        },
    })
}

/// OEE from time-ordered state events ending at `end_s`.
pub fn oee_from_events(
    events: &[StateEvent],
    end_s: f64,
    counts: &ProductionCounts,
    ideal_cycle_time_s: f64,
) -> Result<Oee, OeeError> {
    oee(
        &periods_from_events(events, end_s)?,
        counts,
        ideal_cycle_time_s,
    )
}
