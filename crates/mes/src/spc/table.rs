//! Samples from a CSV table: one row per sample (subgroup), a label per sample, the values
//! of the sample, and optionally its phase.
//!
//! A label column is never read as a measurement. The label column is, in order:
//! the column named by [`TableOptions::label_column`]; else the first column whose header is
//! one of [`LABEL_NAMES`] (`batch`, `sample`, `lot`, `id`, …); else the first column when its
//! cells are not all numbers, or are the integers k, k+1, k+2, … (at least 3 rows and at
//! least one other column). Without a label column the labels are the row numbers 1, 2, …
//! (as qcc labels rows without names).
//!
//! A `phase` column (`I`/`II` or `1`/`2`) or a `trial` column (`TRUE`/`FALSE`, as qcc's data
//! sets mark phase I) gives each sample its phase; phase-I rows must come first. Columns
//! named as metadata ([`IGNORED_NAMES`]: `date`, `time`, …) and further id columns are
//! skipped. Every other column holds values: a cell that is not a finite number is an error
//! naming the file, line, column and value; an empty cell or `NA` is a missing value (the
//! sample is smaller, as in qcc). A first row with any cell that is not a number is the
//! header; lines starting with `#` are comments.

use super::{Phase, SpcError};
use serde::Serialize;

/// Header names that mark a label (id) column.
pub const LABEL_NAMES: &[&str] = &[
    "batch", "sample", "lot", "id", "label", "subgroup", "group", "heat",
];
/// Header names of metadata columns that are neither labels nor values.
pub const IGNORED_NAMES: &[&str] = &[
    "date",
    "time",
    "at",
    "timestamp",
    "datetime",
    "comment",
    "note",
    "notes",
    "operator",
];

/// How a table is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Name of the label column (case-insensitive); `None` = detected.
    pub label_column: Option<String>,
}

/// Samples read from a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleTable {
    /// Source name used in messages (the file path).
    pub source: String,
    /// The label column's header, if there is a label column (otherwise labels are row
    /// numbers).
    pub label_column: Option<String>,
    /// Headers of the value columns (`x1`, `x2`, … without a header row).
    pub value_columns: Vec<String>,
    /// One label per sample (unique).
    pub labels: Vec<String>,
    /// The values of each sample (missing cells left out).
    pub groups: Vec<Vec<f64>>,
    /// The phase of each sample, when the table has a `phase` or `trial` column.
    pub phases: Option<Vec<Phase>>,
    /// 1-based line of each sample in the file.
    pub lines: Vec<usize>,
}

impl SampleTable {
    /// Number of phase-I samples given by the table's phase column (`None` without one).
    /// Phase-I rows must all come before phase-II rows.
    pub fn phase_one_count(&self) -> Result<Option<usize>, SpcError> {
        let Some(phases) = &self.phases else {
            return Ok(None);
        };
        let count = phases.iter().take_while(|p| **p == Phase::One).count();
        if let Some(offset) = phases[count..].iter().position(|p| *p == Phase::One) {
            return Err(SpcError::Csv {
                file: self.source.clone(),
                line: self.lines[count + offset],
                column: String::new(),
                reason: format!(
                    "phase-I sample '{}' after phase-II samples; put the phase-I samples first",
                    self.labels[count + offset]
                ),
            });
        }
        Ok(Some(count))
    }
}

/// 0-based indices of `wanted` labels among the first `phase_one` of `labels`, sorted and
/// unique. A label that is not a phase-I sample is an error naming it.
pub fn resolve_labels(
    labels: &[String],
    phase_one: usize,
    wanted: &[String],
) -> Result<Vec<usize>, SpcError> {
    let phase_one = phase_one.min(labels.len());
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let w = w.trim();
        match labels[..phase_one].iter().position(|l| l == w) {
            Some(i) => out.push(i),
            None => {
                return Err(SpcError::UnknownLabel {
                    label: w.to_string(),
                    count: phase_one,
                    example: match (labels[..phase_one].first(), labels[..phase_one].last()) {
                        (Some(a), Some(b)) => format!("labelled '{a}' … '{b}'"),
                        _ => "none".to_string(),
                    },
                })
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn is_missing(cell: &str) -> bool {
    cell.is_empty() || cell.eq_ignore_ascii_case("na")
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Label,
    Phase,
    Trial,
    Ignored,
    Value,
}

/// Reads a CSV table of samples (see the module documentation).
pub fn parse_csv(text: &str, source: &str, opts: &TableOptions) -> Result<SampleTable, SpcError> {
    let err = |line: usize, column: Option<&str>, reason: String| SpcError::Csv {
        file: source.to_string(),
        line,
        column: column.map_or(String::new(), |c| format!(", column '{c}'")),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, None, format!("not a readable CSV row ({e})"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        rows.push((line, cells));
    }
    if rows.is_empty() {
        return Err(err(0, None, "no rows; give one sample per row".to_string()));
    }
    let header_line = rows[0].0;
    let has_header = rows[0].1.iter().any(|c| parse_number(c).is_none());
    let header: Option<Vec<String>> = has_header.then(|| {
        rows[0]
            .1
            .iter()
            .enumerate()
            .map(|(j, h)| {
                if h.is_empty() {
                    format!("column {}", j + 1)
                } else {
                    h.clone()
                }
            })
            .collect()
    });
    let data: &[(usize, Vec<String>)] = if has_header { &rows[1..] } else { &rows[..] };
    if data.is_empty() {
        return Err(err(
            header_line,
            None,
            "a header but no data rows; give one sample per row".to_string(),
        ));
    }
    let width = match &header {
        Some(h) => h.len(),
        None => data.iter().map(|(_, c)| c.len()).max().unwrap_or(0),
    };
    let names: Vec<String> = match &header {
        Some(h) => h.clone(),
        None => (1..=width).map(|j| format!("x{j}")).collect(),
    };
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let mut roles: Vec<Role> = lower
        .iter()
        .map(|n| match n.as_str() {
            "phase" => Role::Phase,
            "trial" => Role::Trial,
            n if IGNORED_NAMES.contains(&n) || LABEL_NAMES.contains(&n) => Role::Ignored,
            _ => Role::Value,
        })
        .collect();
    let label = match &opts.label_column {
        Some(wanted) => {
            if header.is_none() {
                return Err(err(
                    data[0].0,
                    None,
                    format!(
                        "--label-column '{wanted}' needs a header row naming the columns; this \
                         file has none"
                    ),
                ));
            }
            let w = wanted.trim().to_ascii_lowercase();
            Some(lower.iter().position(|n| *n == w).ok_or_else(|| {
                err(
                    header_line,
                    None,
                    format!(
                        "no column '{wanted}' for the labels; the columns are {}",
                        names.join(", ")
                    ),
                )
            })?)
        }
        None => lower
            .iter()
            .position(|n| LABEL_NAMES.contains(&n.as_str()))
            .or_else(|| {
                let first: Vec<&str> = data
                    .iter()
                    .map(|(_, c)| c.first().map_or("", String::as_str))
                    .collect();
                let free = roles.first() == Some(&Role::Value)
                    && roles.iter().filter(|r| **r == Role::Value).count() > 1;
                let not_numeric = first
                    .iter()
                    .any(|c| !is_missing(c) && parse_number(c).is_none());
                let sequence = first.len() >= 3
                    && first
                        .iter()
                        .map(|c| c.parse::<i64>().ok())
                        .collect::<Option<Vec<_>>>()
                        .is_some_and(|v| v.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])));
                (free && (not_numeric || sequence)).then_some(0)
            }),
    };
    if let Some(j) = label {
        roles[j] = Role::Label;
    }
    let value_columns: Vec<usize> = (0..width).filter(|&j| roles[j] == Role::Value).collect();
    if value_columns.is_empty() {
        return Err(err(
            header_line,
            None,
            format!(
                "no value columns among {}; value columns are the ones not used for labels, \
                 phase or metadata",
                names.join(", ")
            ),
        ));
    }
    let phase_column = roles
        .iter()
        .position(|r| matches!(r, Role::Phase | Role::Trial));
    let mut table = SampleTable {
        source: source.to_string(),
        label_column: label.map(|j| names[j].clone()),
        value_columns: value_columns.iter().map(|&j| names[j].clone()).collect(),
        labels: Vec::with_capacity(data.len()),
        groups: Vec::with_capacity(data.len()),
        phases: phase_column.map(|_| Vec::with_capacity(data.len())),
        lines: Vec::with_capacity(data.len()),
    };
    let mut seen = std::collections::HashMap::new();
    for (row, (line, cells)) in data.iter().enumerate() {
        let line = *line;
        if cells.len() > width {
            return Err(err(
                line,
                None,
                format!(
                    "{} cells but the {} has {width} columns; every row needs the same columns",
                    cells.len(),
                    if header.is_some() {
                        "header"
                    } else {
                        "widest row"
                    }
                ),
            ));
        }
        let cell = |j: usize| cells.get(j).map_or("", String::as_str);
        let label_text = match label {
            Some(j) => {
                let l = cell(j);
                if l.is_empty() {
                    return Err(err(
                        line,
                        Some(&names[j]),
                        "the label is empty; every sample needs a label".to_string(),
                    ));
                }
                l.to_string()
            }
            None => (row + 1).to_string(),
        };
        if let Some(first) = seen.insert(label_text.clone(), line) {
            return Err(err(
                line,
                label.map(|j| names[j].as_str()),
                format!("label '{label_text}' already used on line {first}; labels must be unique"),
            ));
        }
        if let (Some(j), Some(phases)) = (phase_column, table.phases.as_mut()) {
            let v = cell(j);
            let phase = match (roles[j], v.to_ascii_uppercase().as_str()) {
                (Role::Phase, "I" | "1") | (Role::Trial, "TRUE" | "T") => Phase::One,
                (Role::Phase, "II" | "2") | (Role::Trial, "FALSE" | "F") => Phase::Two,
                (Role::Phase, _) => {
                    return Err(err(
                        line,
                        Some(&names[j]),
                        format!("'{v}' is not a phase; allowed: I, II (or 1, 2)"),
                    ))
                }
                _ => {
                    return Err(err(
                        line,
                        Some(&names[j]),
                        format!(
                            "'{v}' is not a trial flag; allowed: TRUE (phase I), FALSE (phase II)"
                        ),
                    ))
                }
            };
            phases.push(phase);
        }
        let mut values = Vec::with_capacity(value_columns.len());
        for &j in &value_columns {
            let c = cell(j);
            if is_missing(c) {
                continue;
            }
            match parse_number(c) {
                Some(v) => values.push(v),
                None => {
                    return Err(err(
                        line,
                        Some(&names[j]),
                        format!(
                            "'{c}' is not a finite number; value columns hold numbers (empty or \
                             NA for a missing value){}",
                            if j == 0 && opts.label_column.is_none() {
                                "; if this column labels the samples, name it batch, sample, \
                                 lot or id, or pass --label-column"
                            } else {
                                ""
                            }
                        ),
                    ))
                }
            }
        }
        if values.is_empty() {
            return Err(err(
                line,
                None,
                format!(
                    "sample '{label_text}' has no values in {}",
                    table.value_columns.join(", ")
                ),
            ));
        }
        table.labels.push(label_text);
        table.groups.push(values);
        table.lines.push(line);
    }
    Ok(table)
}
