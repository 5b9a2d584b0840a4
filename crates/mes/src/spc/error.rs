use super::charts::ChartKind;
use super::sigma::StdDevMethod;
use super::Phase;

/// Why an SPC computation was refused. Every message names the offending index or value
/// and says what would be accepted. Indices are 0-based within their phase.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpcError {
    /// Neither phase-I nor phase-II data were given.
    #[error("{chart} chart: no data: give at least one subgroup")]
    NoData {
        /// The chart being built.
        chart: ChartKind,
    },
    /// Limits cannot be estimated: no phase-I data remain and the standard is incomplete.
    #[error(
        "{chart} chart: no phase-I data to estimate {missing} from; give phase-I subgroups \
         (not all excluded) or a standard {missing}"
    )]
    NoPhaseOneData {
        /// The chart being built.
        chart: ChartKind,
        /// What could not be estimated ("centre", "σ", "centre and σ").
        missing: &'static str,
    },
    /// A subgroup has fewer values than the chart needs.
    #[error(
        "{chart} chart: phase {phase} subgroup {index} has {size} value(s); this chart needs at \
         least {min} per subgroup{hint}"
    )]
    SubgroupTooSmall {
        /// The chart being built.
        chart: ChartKind,
        /// Phase of the subgroup.
        phase: Phase,
        /// 0-based index within its phase.
        index: usize,
        /// Its number of values.
        size: usize,
        /// The smallest size accepted.
        min: usize,
        /// Extra advice (may be empty).
        hint: &'static str,
    },
    /// A subgroup is larger than the range constants are tabulated for.
    #[error(
        "{chart} chart: phase {phase} subgroup {index} has {size} values; range-based charts \
         are tabulated for subgroups of at most {max} values — use the S-based charts instead"
    )]
    SubgroupTooLarge {
        /// The chart being built.
        chart: ChartKind,
        /// Phase of the subgroup.
        phase: Phase,
        /// 0-based index within its phase.
        index: usize,
        /// Its number of values.
        size: usize,
        /// The largest size accepted.
        max: usize,
    },
    /// A measurement is NaN or infinite.
    #[error(
        "phase {phase} subgroup {index}, value {position}: {value} is not a finite number; \
         every measurement must be finite"
    )]
    NonFiniteValue {
        /// Phase of the subgroup.
        phase: Phase,
        /// 0-based subgroup index within its phase.
        index: usize,
        /// 0-based position of the value inside the subgroup.
        position: usize,
        /// The value.
        value: f64,
    },
    /// A count is NaN, infinite or negative.
    #[error(
        "{chart} chart: phase {phase} sample {index}: count {count} is not valid; counts must \
         be finite and ≥ 0"
    )]
    InvalidCount {
        /// The chart being built.
        chart: ChartKind,
        /// Phase of the sample.
        phase: Phase,
        /// 0-based index within its phase.
        index: usize,
        /// The count.
        count: f64,
    },
    /// A sample size is NaN, infinite, zero or negative.
    #[error(
        "{chart} chart: phase {phase} sample {index}: size {size} is not valid; sizes must be \
         finite and > 0"
    )]
    InvalidSize {
        /// The chart being built.
        chart: ChartKind,
        /// Phase of the sample.
        phase: Phase,
        /// 0-based index within its phase.
        index: usize,
        /// The size.
        size: f64,
    },
    /// More nonconforming units than units inspected.
    #[error(
        "{chart} chart: phase {phase} sample {index}: count {count} exceeds the sample size \
         {size}; nonconforming units are at most the units inspected"
    )]
    CountExceedsSize {
        /// The chart being built.
        chart: ChartKind,
        /// Phase of the sample.
        phase: Phase,
        /// 0-based index within its phase.
        index: usize,
        /// The count.
        count: f64,
        /// The sample size.
        size: f64,
    },
    /// An excluded index does not name a phase-I subgroup.
    #[error(
        "excluded subgroup {index} does not exist: phase I has {len} subgroups (indices 0..{len})"
    )]
    ExclusionOutOfRange {
        /// The index given.
        index: usize,
        /// Number of phase-I subgroups.
        len: usize,
    },
    /// A numeric parameter is outside its domain.
    #[error("{name} = {value} is not valid: {allowed}")]
    InvalidParameter {
        /// Parameter name as in the API.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What is accepted.
        allowed: &'static str,
    },
    /// A standard σ was given for a chart whose σ follows from its centre.
    #[error(
        "{chart} chart: a standard σ does not apply (σ follows from the centre for attribute \
         charts); give only the standard centre"
    )]
    StdDevNotApplicable {
        /// The chart being built.
        chart: ChartKind,
    },
    /// A run rule number outside its family.
    #[error("{family} has no rule {rule}; rules are numbered 1..={max}")]
    UnknownRule {
        /// Rule family name.
        family: &'static str,
        /// The number given.
        rule: u8,
        /// Highest rule number of the family.
        max: u8,
    },
    /// Statistics and zone limits of different lengths were given to the rule engine.
    #[error("{statistics} statistics but {zones} zone limits; give one zone limit per statistic")]
    LengthMismatch {
        /// Number of statistics.
        statistics: usize,
        /// Number of zone limits.
        zones: usize,
    },
    /// A control-chart constant was requested outside its table.
    #[error("{constant}({n}) is not available: n must be in {min}..={max}")]
    ConstantOutOfRange {
        /// Constant name.
        constant: &'static str,
        /// The subgroup size asked for.
        n: usize,
        /// Smallest n.
        min: usize,
        /// Largest n.
        max: usize,
    },
    /// Capability was asked of a chart that does not chart the process location.
    #[error(
        "capability needs an X̄ or individuals chart (its centre and within σ); got a {chart} chart"
    )]
    NotALocationChart {
        /// The chart given.
        chart: ChartKind,
    },
    /// Data given with a chart do not match the chart's phase-I subgroups.
    #[error(
        "the chart has {expected} phase-I subgroups but {given} were given; pass the phase-I \
         data the chart was built from"
    )]
    DataMismatch {
        /// Phase-I subgroups in the chart.
        expected: usize,
        /// Subgroups given.
        given: usize,
    },
    /// Neither specification limit was given, or they are reversed.
    #[error("specification limits LSL = {lsl:?}, USL = {usl:?} are not valid: {reason}")]
    InvalidSpecLimits {
        /// Lower specification limit.
        lsl: Option<f64>,
        /// Upper specification limit.
        usl: Option<f64>,
        /// What is wrong.
        reason: &'static str,
    },
    /// A σ method qcc does not document for this chart.
    #[error("{chart} chart: σ method {method} is not allowed; use one of {allowed}")]
    StdDevMethodNotAllowed {
        /// The chart being built.
        chart: ChartKind,
        /// The method given.
        method: StdDevMethod,
        /// The methods accepted for this chart.
        allowed: &'static str,
    },
    /// A σ method given by name that does not exist.
    #[error(
        "σ method '{value}' is not known; qcc's methods are UWAVE-R, UWAVE-SD, MVLUE-R, \
         MVLUE-SD, RMSDF (subgroups) and MR, SD (individual values)"
    )]
    UnknownStdDevMethod {
        /// The name given.
        value: String,
    },
    /// Both a σ method and a standard σ were given.
    #[error(
        "σ method {method} and a standard σ were both given; a standard (phase II) σ replaces \
         the estimate, so give one or the other"
    )]
    StdDevMethodWithStandard {
        /// The method given.
        method: StdDevMethod,
    },
    /// A sample label that is not on the chart (exclusions are given by label).
    #[error("sample '{label}' is not among the {count} phase-I samples ({example}); exclude phase-I samples by their label")]
    UnknownLabel {
        /// The label given.
        label: String,
        /// Number of phase-I samples.
        count: usize,
        /// The first and last labels, to show what labels look like.
        example: String,
    },
    /// A CSV file that cannot be read as samples.
    #[error("{file}{at}{column}: {reason}", at = line_text(*line))]
    Csv {
        /// File (or source) name.
        file: String,
        /// 1-based line (0 when the problem is the file as a whole).
        line: usize,
        /// ", column 'NAME'" or empty.
        column: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Capability data have too little spread or too few values.
    #[error("capability: {reason}")]
    DegenerateData {
        /// What is wrong.
        reason: String,
    },
}

fn line_text(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(": line {line}")
    }
}
