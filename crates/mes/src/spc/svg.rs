//! Hand-written SVG rendering of control charts.
//!
//! The output is a standalone, well-formed XML document: the statistic as a line with a
//! circle per point (red when a rule is violated, hollow when excluded from the estimates,
//! with a `<title>` tooltip naming the subgroup, value and violated rule), the centre line,
//! the control limits (stepped when they vary), optional zone lines at 1/3 and 2/3 of the
//! limits, a dotted divider between phase I and phase II, axis ticks, labels and a title.
//! Subgroups are labelled 1-based on the x axis.

use super::charts::{ChartKind, ControlChart};
use super::rules::RuleFamily;
use super::timeweighted::CusumChart;
use super::Phase;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Rendering options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SvgOptions {
    /// Image width in px.
    pub width: f64,
    /// Image height in px.
    pub height: f64,
    /// Title (default: the chart kind).
    pub title: Option<String>,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label (default: the statistic).
    pub y_label: Option<String>,
    /// Draw the zone lines at nsigmas·1/3 and 2/3.
    pub show_zones: bool,
    /// Draw the phase I / phase II divider.
    pub show_phase_divider: bool,
    /// The samples' labels (lot ids, the CSV's label column) by point index, for the
    /// tooltips; empty = numbered 1, 2, ….
    pub labels: Vec<String>,
}

impl SvgOptions {
    fn label(&self, index: usize) -> String {
        self.labels
            .get(index)
            .cloned()
            .unwrap_or_else(|| (index + 1).to_string())
    }
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            width: 800.0,
            height: 420.0,
            title: None,
            x_label: "Subgroup".to_string(),
            y_label: None,
            show_zones: true,
            show_phase_divider: true,
            labels: Vec::new(),
        }
    }
}

/// Fill of a point that violates a rule.
pub const VIOLATION_FILL: &str = "red";

#[derive(Clone, Copy)]
enum LineStyle {
    Center,
    Limit,
    Zone,
}

struct StepLine {
    ys: Vec<f64>,
    style: LineStyle,
    label: Option<&'static str>,
}

struct Marker {
    x: f64,
    y: f64,
    excluded: bool,
    tooltip: String,
    violation: bool,
}

struct Plot {
    title: String,
    y_label: String,
    x_label: String,
    xs: Vec<f64>,
    steps: Vec<StepLine>,
    series: Vec<Vec<Marker>>,
    divider: Option<f64>,
}

fn statistic_name(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::XbarR | ChartKind::XbarS => "Subgroup mean",
        ChartKind::R => "Subgroup range",
        ChartKind::S => "Subgroup standard deviation",
        ChartKind::Individuals => "Individual value",
        ChartKind::MovingRange => "Moving range",
        ChartKind::P => "Fraction nonconforming",
        ChartKind::Np => "Number nonconforming",
        ChartKind::C => "Nonconformities",
        ChartKind::U => "Nonconformities per unit",
        ChartKind::Ewma => "EWMA",
        ChartKind::Cusum => "Cumulative sum",
    }
}

fn rule_text(family: RuleFamily, rule: u8) -> String {
    let family_name = match family {
        RuleFamily::WesternElectric => "Western Electric",
        RuleFamily::Nelson => "Nelson",
    };
    format!(
        "{family_name} rule {rule}: {}",
        family.describe(rule).unwrap_or("violated")
    )
}

fn divider_between(phases: impl Iterator<Item = (f64, Phase)>) -> Option<f64> {
    let mut last_one = None;
    for (x, phase) in phases {
        match phase {
            Phase::One => last_one = Some(x),
            Phase::Two => return last_one.map(|l| (l + x) / 2.0),
        }
    }
    None
}

/// Renders a Shewhart or EWMA chart as an SVG document.
pub fn render_svg(chart: &ControlChart, options: &SvgOptions) -> String {
    let xs: Vec<f64> = chart.points.iter().map(|p| p.index as f64 + 1.0).collect();
    let k = chart.nsigmas;
    let mut steps = vec![
        StepLine {
            ys: chart.points.iter().map(|p| p.ucl).collect(),
            style: LineStyle::Limit,
            label: Some("UCL"),
        },
        StepLine {
            ys: chart.points.iter().map(|p| p.center).collect(),
            style: LineStyle::Center,
            label: Some("CL"),
        },
        StepLine {
            ys: chart.points.iter().map(|p| p.lcl).collect(),
            style: LineStyle::Limit,
            label: Some("LCL"),
        },
    ];
    if options.show_zones && chart.kind != ChartKind::Ewma {
        for frac in [1.0 / 3.0, 2.0 / 3.0] {
            let zone: Vec<(f64, f64)> =
                chart.points.iter().map(|p| p.limits_at(k * frac)).collect();
            steps.push(StepLine {
                ys: zone.iter().map(|z| z.0).collect(),
                style: LineStyle::Zone,
                label: None,
            });
            steps.push(StepLine {
                ys: zone.iter().map(|z| z.1).collect(),
                style: LineStyle::Zone,
                label: None,
            });
        }
    }
    let markers = chart
        .points
        .iter()
        .zip(&xs)
        .map(|(p, &x)| {
            let mut tooltip = format!(
                "Subgroup {}: {}",
                options.label(p.index),
                format_value(p.statistic)
            );
            if p.excluded {
                tooltip.push_str(" (excluded from the limits)");
            }
            if let Some(rule) = p.violation {
                let family = if chart.kind == ChartKind::Ewma {
                    RuleFamily::WesternElectric
                } else {
                    chart.rules.family
                };
                let _ = write!(tooltip, " — {}", rule_text(family, rule));
            }
            Marker {
                x,
                y: p.statistic,
                excluded: p.excluded,
                tooltip,
                violation: p.violation.is_some(),
            }
        })
        .collect();
    let divider = if options.show_phase_divider {
        divider_between(chart.points.iter().zip(&xs).map(|(p, &x)| (x, p.phase)))
    } else {
        None
    };
    let title = options.title.clone().unwrap_or_else(|| match chart.lambda {
        Some(l) => format!("EWMA chart (λ = {l})"),
        None => format!("{} chart", chart.kind),
    });
    let plot = Plot {
        title,
        y_label: options
            .y_label
            .clone()
            .unwrap_or_else(|| statistic_name(chart.kind).to_string()),
        x_label: options.x_label.clone(),
        xs,
        steps,
        series: vec![markers],
        divider,
    };
    draw(&plot, options)
}

/// Renders a CUSUM chart (upper and lower sums, decision interval ±h) as an SVG document.
pub fn render_cusum_svg(chart: &CusumChart, options: &SvgOptions) -> String {
    let xs: Vec<f64> = chart.points.iter().map(|p| p.index as f64 + 1.0).collect();
    let n = chart.points.len();
    let h = chart.decision_interval;
    let steps = vec![
        StepLine {
            ys: vec![h; n],
            style: LineStyle::Limit,
            label: Some("UDB"),
        },
        StepLine {
            ys: vec![0.0; n],
            style: LineStyle::Center,
            label: None,
        },
        StepLine {
            ys: vec![-h; n],
            style: LineStyle::Limit,
            label: Some("LDB"),
        },
    ];
    let side = |upper: bool| -> Vec<Marker> {
        chart
            .points
            .iter()
            .zip(&xs)
            .map(|(p, &x)| {
                let (y, violation) = if upper {
                    (p.upper, p.upper_violation)
                } else {
                    (p.lower, p.lower_violation)
                };
                let mut tooltip = format!(
                    "Subgroup {}: {} sum {}",
                    options.label(p.index),
                    if upper { "upper" } else { "lower" },
                    format_value(y)
                );
                if violation {
                    tooltip.push_str(" — beyond the decision interval");
                }
                Marker {
                    x,
                    y,
                    excluded: p.excluded,
                    tooltip,
                    violation,
                }
            })
            .collect()
    };
    let divider = if options.show_phase_divider {
        divider_between(chart.points.iter().zip(&xs).map(|(p, &x)| (x, p.phase)))
    } else {
        None
    };
    let series = vec![side(true), side(false)];
    let plot = Plot {
        title: options
            .title
            .clone()
            .unwrap_or_else(|| "CUSUM chart".to_string()),
        y_label: options
            .y_label
            .clone()
            .unwrap_or_else(|| "Cumulative sum".to_string()),
        x_label: options.x_label.clone(),
        xs,
        steps,
        series,
        divider,
    };
    draw(&plot, options)
}

/// Escapes text for XML and HTML content and attribute values (shared by the SVG charts and
/// the certificate of analysis).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e7).contains(&a) {
        format!("{v:.6e}")
    } else {
        let s = format!("{v:.7}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// A "nice" step (1, 2 or 5 × 10^k) near `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let frac = raw / base;
    let nice = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

fn tick_label(v: f64, step: f64) -> String {
    let a = v.abs().max(step.abs());
    if a >= 1e7 || (step < 1e-6 && v.abs() < 1e-6) {
        return format!("{v:.3e}");
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{:.*}", decimals.min(12), v)
}

/// Keeps pixel coordinates printable when data are extreme.
fn px(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(-1e6, 1e6)
    } else {
        0.0
    }
}

fn draw(plot: &Plot, options: &SvgOptions) -> String {
    let width = if options.width.is_finite() && options.width >= 200.0 {
        options.width
    } else {
        800.0
    };
    let height = if options.height.is_finite() && options.height >= 150.0 {
        options.height
    } else {
        420.0
    };
    let (left, right, top, bottom) = (78.0, 52.0, 40.0, 52.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;

    // Data range over everything drawn.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let finite_ys = plot
        .steps
        .iter()
        .flat_map(|s| s.ys.iter().copied())
        .chain(plot.series.iter().flat_map(|s| s.iter().map(|m| m.y)))
        .filter(|v| v.is_finite());
    for y in finite_ys {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !(lo.is_finite() && hi.is_finite()) {
        lo = -1.0;
        hi = 1.0;
    }
    let mut span = hi - lo;
    if !span.is_finite() {
        // Values near ±f64::MAX: keep the middle of the range drawable.
        lo /= 2.0;
        hi /= 2.0;
        span = hi - lo;
    }
    if span == 0.0 {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    } else {
        lo -= span * 0.06;
        hi += span * 0.06;
    }
    let span = hi - lo;
    let x_min = plot.xs.iter().copied().fold(f64::INFINITY, f64::min);
    let x_max = plot.xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x_min, x_max) = if x_min.is_finite() {
        (x_min - 0.5, x_max + 0.5)
    } else {
        (0.5, 1.5)
    };
    let sx = |x: f64| px(left + (x - x_min) / (x_max - x_min) * plot_w);
    let sy = |y: f64| px(top + (hi - y) / span * plot_h);

    let mut svg = String::new();
    let _ = writeln!(svg, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        width / 2.0,
        escape(&plot.title)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
    );

    // y ticks
    let step = nice_step(span / 6.0);
    let mut v = (lo / step).ceil() * step;
    let mut ticks = 0;
    while v <= hi && ticks < 100 {
        let y = sy(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{:.2}" y1="{y:.2}" x2="{left}" y2="{y:.2}" stroke="#444"/><text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"##,
            left - 5.0,
            left - 8.0,
            y + 4.0,
            // Snap accumulated rounding (e.g. −1e-18) to a clean 0.
            escape(&tick_label(
                if v.abs() < step * 1e-6 { 0.0 } else { v },
                step
            ))
        );
        v += step;
        ticks += 1;
    }
    // x ticks (integers)
    let n_x = plot.xs.len().max(1) as f64;
    let x_step = nice_step(n_x / 12.0).max(1.0);
    let mut xv = ((x_min + 0.5) / x_step).ceil() * x_step;
    let mut ticks = 0;
    while xv <= x_max && ticks < 100 {
        let x = sx(xv);
        let bottom_y = top + plot_h;
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.2}" y1="{bottom_y}" x2="{x:.2}" y2="{:.2}" stroke="#444"/><text x="{x:.2}" y="{:.2}" text-anchor="middle">{}</text>"##,
            bottom_y + 5.0,
            bottom_y + 18.0,
            escape(&format!("{xv:.0}"))
        );
        xv += x_step;
        ticks += 1;
    }
    // axis labels
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        height - 10.0,
        escape(&plot.x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(&plot.y_label)
    );

    // phase divider
    if let Some(d) = plot.divider {
        let x = sx(d);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.2}" y1="{top}" x2="{x:.2}" y2="{:.2}" stroke="#666" stroke-dasharray="2,3"/>"##,
            top + plot_h
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.2}" y="{:.2}" text-anchor="end" fill="#666">Phase I</text><text x="{:.2}" y="{:.2}" fill="#666">Phase II</text>"##,
            x - 4.0,
            top + 12.0,
            x + 4.0,
            top + 12.0
        );
    }

    // stepped lines: each point's value spans [x − ½, x + ½]
    for line in &plot.steps {
        let (stroke, dash, w) = match line.style {
            LineStyle::Center => ("#222", "", 1.2),
            LineStyle::Limit => ("#b22222", "6,4", 1.2),
            LineStyle::Zone => ("#999", "2,3", 0.8),
        };
        let mut d = String::new();
        let mut open = false;
        for (&x, &y) in plot.xs.iter().zip(&line.ys) {
            if !y.is_finite() {
                open = false;
                continue;
            }
            let (x0, x1, py) = (sx(x - 0.5), sx(x + 0.5), sy(y));
            if open {
                let _ = write!(d, " V{py:.2} H{x1:.2}");
            } else {
                let _ = write!(d, " M{x0:.2},{py:.2} H{x1:.2}");
                open = true;
            }
        }
        if !d.is_empty() {
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            let _ = writeln!(
                svg,
                r#"<path d="{}" fill="none" stroke="{stroke}" stroke-width="{w}"{dash_attr}/>"#,
                d.trim_start()
            );
        }
        if let (Some(label), Some(&y)) = (line.label, line.ys.last()) {
            if y.is_finite() {
                let _ = writeln!(
                    svg,
                    r##"<text x="{:.2}" y="{:.2}" fill="#444">{label}</text>"##,
                    left + plot_w + 4.0,
                    sy(y) + 4.0
                );
            }
        }
    }

    // series: line then points
    for series in &plot.series {
        let mut segments: Vec<String> = Vec::new();
        let mut current = String::new();
        for m in series {
            if m.y.is_finite() {
                let _ = write!(current, "{:.2},{:.2} ", sx(m.x), sy(m.y));
            } else if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            segments.push(current);
        }
        for seg in segments {
            let _ = writeln!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="#1f4e79" stroke-width="1.3"/>"##,
                seg.trim_end()
            );
        }
        for m in series.iter().filter(|m| m.y.is_finite()) {
            let (fill, stroke) = if m.violation {
                (VIOLATION_FILL, VIOLATION_FILL)
            } else if m.excluded {
                ("white", "#777")
            } else {
                ("#1f4e79", "#1f4e79")
            };
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.2}" cy="{:.2}" r="3.5" fill="{fill}" stroke="{stroke}"><title>{}</title></circle>"#,
                sx(m.x),
                sy(m.y),
                escape(&m.tooltip)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
