//! Dependency-free SVG line charts for the `lodestone` command line.
//!
//! A [`LineChart`] renders one or more [`Series`] of `(x, y)` points as a standalone SVG 1.1
//! document: "nice" 1-2-5 ticks on linear axes, decade ticks (`1e-6`, …, `0.1`, `1`, `10`) on a
//! base-10 logarithmic y axis, shaded and labelled x ranges (for example the extraction,
//! scrubbing and stripping sections of a cascade) and a legend at the right.
//!
//! Rendering is a pure function of the chart value (no I/O, no clocks, no randomness), so equal
//! charts give byte-identical SVG.
//!
//! Robustness rules, applied silently:
//! - non-finite coordinates are skipped, and so are non-positive y values on a log axis; a skipped
//!   point breaks the line into separate pieces;
//! - magnitudes above 1e300 are treated like non-finite values, and magnitudes below 1e-300 as
//!   zero (linear axes only), which keeps all arithmetic finite;
//! - no points, a single point, all-equal values and empty series still give a valid chart.

use std::fmt::Write as _;

/// Okabe–Ito colour-blind-friendly palette, ordered for contrast on white (yellow last).
const PALETTE: [&str; 8] = [
    "#0072B2", // blue
    "#D55E00", // vermillion
    "#009E73", // bluish green
    "#CC79A7", // reddish purple
    "#E69F00", // orange
    "#56B4E9", // sky blue
    "#000000", // black
    "#F0E442", // yellow
];

/// Dash patterns, cycled each time the palette runs out (`""` is a solid line).
const DASHES: [&str; 4] = ["", "7 4", "2 3", "9 3 2 3"];

/// Series with at most this many points get a marker on every point.
const MARKER_MAX_POINTS: usize = 60;

/// Magnitudes above this are treated as non-finite.
const LIMIT: f64 = 1e300;

/// Magnitudes below this are treated as zero on linear axes.
const TINY: f64 = 1e-300;

const FONT_PX: f64 = 12.0;
const TICK_FONT_PX: f64 = 11.0;
const TITLE_FONT_PX: f64 = 15.0;
const LEGEND_ROW_PX: f64 = 18.0;
const LEGEND_SAMPLE_PX: f64 = 24.0;
const LEGEND_MAX_CHARS: usize = 32;

/// How the y axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YScale {
    /// Linear axis with 1-2-5 ticks.
    #[default]
    Linear,
    /// Base-10 logarithmic axis with decade ticks; non-positive y values are skipped.
    Log10,
}

/// One line of the chart: a label for the legend and its `(x, y)` points, joined in the given
/// order (they are not sorted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend text (escaped on output; long labels are shortened with `…`).
    pub label: String,
    /// Points as `(x, y)`, joined by straight lines in this order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart that renders to a standalone SVG document with [`LineChart::to_svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title drawn above the plot area (may be empty).
    pub title: String,
    /// Label under the x axis (may be empty).
    pub x_label: String,
    /// Label left of the y axis, drawn rotated (may be empty).
    pub y_label: String,
    /// Linear or logarithmic y axis.
    pub y_scale: YScale,
    /// The lines; each gets its own colour (and, after the eight palette colours, a dash pattern).
    pub series: Vec<Series>,
    /// Shaded x ranges `(from, to, label)`, e.g. `(0.5, 17.5, "extraction")`, drawn as light
    /// alternating bands with the label above the plot area. The x axis always covers them.
    pub x_bands: Vec<(f64, f64, String)>,
    /// Width of the SVG in pixels (clamped to 320..=20000).
    pub width_px: u32,
    /// Height of the SVG in pixels (clamped to 200..=20000).
    pub height_px: u32,
}

impl LineChart {
    /// A chart with the given title and axis labels, a linear y axis, no series, no bands and a
    /// size of 800 × 480 pixels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            y_scale: YScale::Linear,
            series: Vec::new(),
            x_bands: Vec::new(),
            width_px: 800,
            height_px: 480,
        }
    }

    /// Renders the chart as a standalone SVG 1.1 document (with XML declaration, `xmlns` and
    /// `viewBox`). Never panics and never writes `NaN` or infinite numbers.
    pub fn to_svg(&self) -> String {
        render(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Data preparation
// ---------------------------------------------------------------------------------------------

/// A finite, bounded value for a linear axis (tiny magnitudes flushed to zero).
fn linear_value(v: f64) -> Option<f64> {
    if !v.is_finite() || v.abs() > LIMIT {
        None
    } else if v.abs() < TINY {
        Some(0.0)
    } else {
        Some(v)
    }
}

/// `log10(v)` for a positive, finite, bounded value.
fn log_value(v: f64) -> Option<f64> {
    if !(v > 0.0) || !v.is_finite() || v > LIMIT {
        None
    } else {
        Some(v.log10())
    }
}

/// Series points in axis space (`log10(y)` on a log axis); `None` marks a skipped point.
fn axis_points(series: &Series, scale: YScale) -> Vec<Option<(f64, f64)>> {
    series
        .points
        .iter()
        .map(|&(x, y)| {
            let x = linear_value(x)?;
            let y = match scale {
                YScale::Linear => linear_value(y)?,
                YScale::Log10 => log_value(y)?,
            };
            Some((x, y))
        })
        .collect()
}

/// Bands with finite, ordered ends.
fn clean_bands(bands: &[(f64, f64, String)]) -> Vec<(f64, f64, &str)> {
    bands
        .iter()
        .filter_map(|(a, b, label)| {
            let (a, b) = (linear_value(*a)?, linear_value(*b)?);
            Some((a.min(b), a.max(b), label.as_str()))
        })
        .collect()
}

/// Extends a running `(min, max)` with `v`.
fn extend(range: &mut Option<(f64, f64)>, v: f64) {
    *range = Some(match *range {
        None => (v, v),
        Some((lo, hi)) => (lo.min(v), hi.max(v)),
    });
}

// ---------------------------------------------------------------------------------------------
// Axes and ticks
// ---------------------------------------------------------------------------------------------

/// An axis in axis space (`log10` units for a log axis) with labelled and unlabelled ticks.
struct Axis {
    lo: f64,
    hi: f64,
    major: Vec<(f64, String)>,
    minor: Vec<f64>,
}

impl Axis {
    /// Widens the range by `frac` of its span on each side (ticks stay put), so that data
    /// on the extreme ticks does not sit on the frame.
    fn padded(mut self, frac: f64) -> Self {
        let pad = (self.hi - self.lo) * frac;
        if pad.is_finite() && self.lo - pad < self.hi + pad {
            self.lo -= pad;
            self.hi += pad;
        }
        self
    }

    /// Fraction `0..=1` of the way from `lo` to `hi`.
    fn frac(&self, v: f64) -> f64 {
        let t = (v - self.lo) / (self.hi - self.lo);
        if t.is_finite() {
            t
        } else {
            0.5
        }
    }
}

/// The smallest "nice" step (1, 2 or 5 times a power of ten) that is at least `raw`.
/// Returns 1 for a non-positive or non-finite `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0) || !raw.is_finite() {
        return 1.0;
    }
    let mut exp = raw.log10().floor();
    let mut base = 10f64.powf(exp);
    // Correct log10 rounding so that `base <= raw < 10 * base`.
    if base > raw {
        exp -= 1.0;
        base = 10f64.powf(exp);
    } else if base * 10.0 <= raw {
        exp += 1.0;
        base = 10f64.powf(exp);
    }
    if !(base > 0.0) || !base.is_finite() {
        return raw;
    }
    let f = raw / base;
    let mult = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    mult * base
}

/// Multiples of a nice step inside `[lo, hi]`, aiming at about `target` ticks; the step is at
/// least `min_step`. Returns the step and the ticks (exact zero where a tick hits zero).
fn nice_ticks(lo: f64, hi: f64, target: usize, min_step: f64) -> (f64, Vec<f64>) {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let span = hi - lo;
    let mut step = nice_step(span / target.max(1) as f64);
    if step < min_step {
        step = min_step;
    }
    // Rounding the step up can leave fewer than two ticks inside the range: step down.
    for _ in 0..8 {
        let smaller = step_down(step);
        if tick_count(lo, hi, step) >= 2.0 || !(smaller > 0.0) || smaller < min_step {
            break;
        }
        step = smaller;
    }
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !first.is_finite() || !last.is_finite() || last - first > 1000.0 || last < first {
        return (step, vec![lo, hi]);
    }
    let ticks = (0..=(last - first) as i64)
        .map(|i| {
            let v = (first + i as f64) * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect();
    (step, ticks)
}

/// The next smaller nice step: 10 → 5 → 2 → 1 (times a power of ten).
fn step_down(step: f64) -> f64 {
    let base = 10f64.powi(step_exponent(step));
    let mantissa = (step / base).round();
    let smaller = if mantissa >= 5.0 {
        2.0 * base
    } else if mantissa >= 2.0 {
        base
    } else {
        0.5 * base
    };
    if smaller > 0.0 && smaller.is_finite() {
        smaller
    } else {
        0.0
    }
}

/// How many multiples of `step` lie in `[lo, hi]`.
fn tick_count(lo: f64, hi: f64, step: f64) -> f64 {
    let n = (hi / step + 1e-9).floor() - (lo / step - 1e-9).ceil() + 1.0;
    if n.is_finite() {
        n
    } else {
        0.0
    }
}

/// Decimal exponent of a nice step (exact for 1/2/5 × 10^k).
fn step_exponent(step: f64) -> i32 {
    (step.log10() + 1e-9).floor() as i32
}

/// Labels for linear ticks, formatted consistently for the whole axis.
fn linear_labels(ticks: &[f64], step: f64) -> Vec<String> {
    let k = step_exponent(step);
    let max_abs = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scientific = max_abs >= 1e6 || k < -4;
    ticks
        .iter()
        .map(|&v| {
            if v == 0.0 {
                "0".to_string()
            } else if scientific {
                let e = (v.abs().log10() + 1e-9).floor() as i32;
                let precision = (e - k).clamp(0, 15) as usize;
                trim_scientific(&format!("{v:.precision$e}"))
            } else {
                let decimals = (-k).clamp(0, 15) as usize;
                format!("{v:.decimals$}")
            }
        })
        .collect()
}

/// `1.50e6` → `1.5e6`, `2.0e-7` → `2e-7`.
fn trim_scientific(s: &str) -> String {
    match s.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        _ => s.to_string(),
    }
}

/// Label of the decade `10^e`: plain for 0.1 … 100, otherwise `1e<e>`.
fn decade_label(e: i64) -> String {
    match e {
        -1 => "0.1".to_string(),
        0 => "1".to_string(),
        1 => "10".to_string(),
        2 => "100".to_string(),
        _ => format!("1e{e}"),
    }
}

/// Widens a degenerate (or numerically negligible) range so that `lo < hi`.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let mag = lo.abs().max(hi.abs());
    if hi - lo > mag * 1e-9 {
        return (lo, hi);
    }
    let centre = lo / 2.0 + hi / 2.0;
    if centre == 0.0 {
        (-1.0, 1.0)
    } else {
        let pad = (centre.abs() * 0.1).max(TINY);
        (centre - pad, centre + pad)
    }
}

/// A linear axis over `range` (default `0..1`). With `expand` the ends move out to the
/// neighbouring ticks; `integer` forces a step of at least 1.
fn linear_axis(range: Option<(f64, f64)>, target: usize, expand: bool, integer: bool) -> Axis {
    let (mut lo, mut hi) = match range {
        Some((a, b)) => widen(a, b),
        None => (0.0, 1.0),
    };
    let min_step = if integer { 1.0 } else { 0.0 };
    let (step, _) = nice_ticks(lo, hi, target, min_step);
    if expand {
        let (elo, ehi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if elo.is_finite() && ehi.is_finite() && ehi > elo {
            (lo, hi) = (elo, ehi);
        }
    }
    let (step, ticks) = nice_ticks(lo, hi, target, min_step.max(step));
    let labels = linear_labels(&ticks, step);
    Axis {
        lo,
        hi,
        major: ticks.into_iter().zip(labels).collect(),
        minor: Vec::new(),
    }
}

/// A log axis over a `log10` range (default one decade from 1 to 10), extended to whole decades.
fn log_axis(range: Option<(f64, f64)>, target: usize) -> Axis {
    let (lo, hi) = match range {
        Some((a, b)) => (a.floor(), b.ceil()),
        None => (0.0, 1.0),
    };
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let (elo, ehi) = (lo as i64, hi as i64);
    let decades = ehi - elo;
    let every = ((decades as f64 / target.max(1) as f64).ceil() as i64).max(1);
    let mut major = Vec::new();
    let mut minor = Vec::new();
    for e in elo..=ehi {
        if e.rem_euclid(every) == 0 {
            major.push((e as f64, decade_label(e)));
        } else if decades <= 200 {
            minor.push(e as f64);
        }
    }
    if every == 1 && decades <= 8 {
        for e in elo..ehi {
            for m in 2..=9 {
                minor.push(e as f64 + f64::from(m).log10());
            }
        }
    }
    Axis {
        lo,
        hi,
        major,
        minor,
    }
}

// ---------------------------------------------------------------------------------------------
// SVG output helpers
// ---------------------------------------------------------------------------------------------

/// Escapes text for XML content and attribute values; drops characters XML 1.0 forbids.
pub(crate) fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most two decimals; non-finite values become 0.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Shortens `s` to at most `max_chars` characters, ending in `…` when cut.
fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(max_chars - 1).collect();
    t.push('…');
    t
}

/// Rough rendered width of `chars` characters of sans-serif text.
fn text_width(chars: usize, font_px: f64) -> f64 {
    chars as f64 * font_px * 0.6
}

/// Appends a `<text>` element.
fn text(out: &mut String, x: f64, y: f64, anchor: &str, attrs: &str, content: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="{anchor}"{attrs}>{}</text>"#,
        num(x),
        num(y),
        escape_xml(content)
    );
}

/// Appends a `<line>` element.
fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &str) {
    let _ = writeln!(
        out,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {attrs}/>"#,
        num(x1),
        num(y1),
        num(x2),
        num(y2)
    );
}

/// Appends a marker circle.
fn marker(out: &mut String, x: f64, y: f64, colour: &str) {
    let _ = writeln!(
        out,
        r#"<circle cx="{}" cy="{}" r="2.6" fill="{colour}"/>"#,
        num(x),
        num(y)
    );
}

/// Colour and dash pattern of series `i`.
fn style(i: usize) -> (&'static str, &'static str) {
    (
        PALETTE[i % PALETTE.len()],
        DASHES[(i / PALETTE.len()) % DASHES.len()],
    )
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

fn render(chart: &LineChart) -> String {
    let width = f64::from(chart.width_px.clamp(320, 20_000));
    let height = f64::from(chart.height_px.clamp(200, 20_000));

    // Data in axis space.
    let series_pts: Vec<Vec<Option<(f64, f64)>>> = chart
        .series
        .iter()
        .map(|s| axis_points(s, chart.y_scale))
        .collect();
    let bands = clean_bands(&chart.x_bands);
    let mut x_range = None;
    let mut y_range = None;
    let mut any_point = false;
    let mut integer_x = true;
    for &(x, y) in series_pts.iter().flatten().flatten() {
        extend(&mut x_range, x);
        extend(&mut y_range, y);
        any_point = true;
        integer_x &= x.fract() == 0.0;
    }
    for &(a, b, _) in &bands {
        extend(&mut x_range, a);
        extend(&mut x_range, b);
    }
    let integer_x = integer_x && any_point;

    // Vertical layout.
    let has_title = !chart.title.trim().is_empty();
    let has_bands = !bands.is_empty();
    let top = 14.0 + if has_title { 24.0 } else { 0.0 } + if has_bands { 16.0 } else { 0.0 };
    let bottom = 30.0
        + if chart.x_label.trim().is_empty() {
            0.0
        } else {
            20.0
        };
    let plot_h = (height - top - bottom).max(40.0);
    let (plot_top, plot_bottom) = (top, top + plot_h);

    let y_axis = match chart.y_scale {
        YScale::Linear => linear_axis(
            y_range,
            ((plot_h / 50.0) as usize).clamp(2, 10),
            true,
            false,
        ),
        YScale::Log10 => log_axis(y_range, ((plot_h / 28.0) as usize).clamp(2, 15)),
    }
    .padded(0.02);

    // Horizontal layout.
    let y_tick_chars = y_axis
        .major
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(1);
    let has_y_label = !chart.y_label.trim().is_empty();
    let left = 10.0
        + if has_y_label { 22.0 } else { 0.0 }
        + text_width(y_tick_chars, TICK_FONT_PX).min(100.0)
        + 10.0;
    let legend_chars = chart
        .series
        .iter()
        .map(|s| s.label.chars().count().min(LEGEND_MAX_CHARS))
        .max();
    let legend_w = match legend_chars {
        None => 0.0,
        Some(c) => {
            (LEGEND_SAMPLE_PX + 8.0 + text_width(c.max(1), FONT_PX) + 16.0).min(width * 0.35)
        }
    };
    let plot_w = (width - left - legend_w - 16.0).max(40.0);
    let (plot_left, plot_right) = (left, left + plot_w);

    let x_axis = linear_axis(
        x_range,
        ((plot_w / 90.0) as usize).clamp(2, 10),
        false,
        integer_x,
    )
    .padded(if has_bands { 0.0 } else { 0.02 });

    let px = |x: f64| plot_left + x_axis.frac(x) * plot_w;
    let py = |y: f64| plot_bottom - y_axis.frac(y) * plot_h;

    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="{FONT_PX}">"#,
        w = num(width),
        h = num(height),
    );
    if has_title {
        let _ = writeln!(out, "<title>{}</title>", escape_xml(&chart.title));
    }
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        num(width),
        num(height)
    );

    // Shaded x bands, labels above the plot area.
    for (i, &(a, b, label)) in bands.iter().enumerate() {
        let x1 = px(a).clamp(plot_left, plot_right);
        let x2 = px(b).clamp(plot_left, plot_right);
        let fill = if i % 2 == 0 { "#ececec" } else { "#f6f6f6" };
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"/>"#,
            num(x1),
            num(plot_top),
            num(x2 - x1),
            num(plot_h)
        );
        let max_chars = ((x2 - x1) / (TICK_FONT_PX * 0.6)).floor() as usize;
        let label = truncate(label.trim(), max_chars);
        if !label.is_empty() {
            text(
                &mut out,
                (x1 + x2) / 2.0,
                plot_top - 5.0,
                "middle",
                &format!(r##" font-size="{TICK_FONT_PX}" fill="#444444""##),
                &label,
            );
        }
    }

    // Grid lines and ticks.
    let grid = r##"stroke="#d9d9d9" stroke-width="1""##;
    let tick = r##"stroke="#333333" stroke-width="1""##;
    let tick_text = format!(r##" font-size="{TICK_FONT_PX}" fill="#333333""##);
    for (v, label) in &y_axis.major {
        let y = py(*v);
        line(&mut out, (plot_left, y), (plot_right, y), grid);
        line(&mut out, (plot_left - 5.0, y), (plot_left, y), tick);
        text(&mut out, plot_left - 8.0, y + 4.0, "end", &tick_text, label);
    }
    for v in &y_axis.minor {
        let y = py(*v);
        line(&mut out, (plot_left - 3.0, y), (plot_left, y), tick);
    }
    for (v, label) in &x_axis.major {
        let x = px(*v);
        line(&mut out, (x, plot_top), (x, plot_bottom), grid);
        line(&mut out, (x, plot_bottom), (x, plot_bottom + 5.0), tick);
        text(&mut out, x, plot_bottom + 18.0, "middle", &tick_text, label);
    }
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333333" stroke-width="1"/>"##,
        num(plot_left),
        num(plot_top),
        num(plot_w),
        num(plot_h)
    );

    // Series.
    for (i, (series, pts)) in chart.series.iter().zip(&series_pts).enumerate() {
        let (colour, dash) = style(i);
        let markers = series.points.len() <= MARKER_MAX_POINTS;
        let _ = writeln!(out, "<g>");
        let _ = writeln!(out, "<title>{}</title>", escape_xml(&series.label));
        for piece in pts.split(Option::is_none) {
            let piece: Vec<(f64, f64)> = piece
                .iter()
                .flatten()
                .map(|&(x, y)| (px(x), py(y)))
                .collect();
            if piece.len() >= 2 {
                let mut d = String::new();
                for (j, (x, y)) in piece.iter().enumerate() {
                    let cmd = if j == 0 { 'M' } else { 'L' };
                    let _ = write!(d, "{}{} {}", if j == 0 { "" } else { " " }, cmd, num(*x));
                    let _ = write!(d, " {}", num(*y));
                }
                let _ = writeln!(
                    out,
                    r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8" stroke-linejoin="round"{}/>"#,
                    dash_attr(dash)
                );
            }
            if markers || piece.len() == 1 {
                for &(x, y) in &piece {
                    marker(&mut out, x, y, colour);
                }
            }
        }
        let _ = writeln!(out, "</g>");
    }
    if !any_point {
        text(
            &mut out,
            plot_left + plot_w / 2.0,
            plot_top + plot_h / 2.0,
            "middle",
            r##" fill="#777777""##,
            "no data",
        );
    }

    // Legend.
    if !chart.series.is_empty() {
        let lx = plot_right + 16.0;
        let label_chars = (((legend_w - LEGEND_SAMPLE_PX - 8.0 - 16.0) / (FONT_PX * 0.6)).floor()
            as usize)
            .clamp(1, LEGEND_MAX_CHARS);
        let rows = (((height - plot_top - 8.0) / LEGEND_ROW_PX).floor() as usize).max(1);
        let shown = if chart.series.len() > rows {
            rows - 1
        } else {
            chart.series.len()
        };
        for (i, series) in chart.series.iter().take(shown).enumerate() {
            let (colour, dash) = style(i);
            let y = plot_top + 6.0 + i as f64 * LEGEND_ROW_PX;
            line(
                &mut out,
                (lx, y),
                (lx + LEGEND_SAMPLE_PX, y),
                &format!(r#"stroke="{colour}" stroke-width="1.8"{}"#, dash_attr(dash)),
            );
            if series.points.len() <= MARKER_MAX_POINTS {
                marker(&mut out, lx + LEGEND_SAMPLE_PX / 2.0, y, colour);
            }
            text(
                &mut out,
                lx + LEGEND_SAMPLE_PX + 6.0,
                y + 4.0,
                "start",
                "",
                &truncate(&series.label, label_chars),
            );
        }
        if shown < chart.series.len() {
            let y = plot_top + 6.0 + shown as f64 * LEGEND_ROW_PX;
            text(
                &mut out,
                lx,
                y + 4.0,
                "start",
                r##" fill="#555555""##,
                &format!("+{} more", chart.series.len() - shown),
            );
        }
    }

    // Title and axis labels.
    if has_title {
        text(
            &mut out,
            width / 2.0,
            22.0,
            "middle",
            &format!(r#" font-size="{TITLE_FONT_PX}" font-weight="bold""#),
            &truncate(chart.title.trim(), (width / (TITLE_FONT_PX * 0.6)) as usize),
        );
    }
    if !chart.x_label.trim().is_empty() {
        text(
            &mut out,
            plot_left + plot_w / 2.0,
            plot_bottom + 40.0,
            "middle",
            "",
            chart.x_label.trim(),
        );
    }
    if has_y_label {
        let (x, y) = (16.0, plot_top + plot_h / 2.0);
        let _ = writeln!(
            out,
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
            num(x),
            num(y),
            escape_xml(chart.y_label.trim())
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimal well-formedness check: balanced tags, quoted attributes, escaped text, one root,
    /// no NaN or infinities.
    fn assert_valid(svg: &str) {
        assert!(svg.starts_with("<?xml"), "missing XML declaration");
        assert_eq!(svg.matches("<svg").count(), 1, "one <svg> root");
        assert_eq!(svg.matches("</svg>").count(), 1, "one </svg>");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert!(!svg.contains("NaN"), "NaN in output");
        assert!(!svg.to_lowercase().contains("inf"), "infinity in output");

        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('>').expect("unterminated tag");
            let tag = &after[..close];
            assert!(!tag.contains('<'), "'<' inside tag: {tag}");
            if let Some(decl) = tag.strip_prefix('?') {
                assert!(decl.ends_with('?'));
            } else if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else {
                assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
                let name: String = tag
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect();
                assert!(!name.is_empty());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &after[close + 1..];
        }
        check_text(rest);
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    fn check_text(t: &str) {
        assert!(!t.contains('>'), "raw '>' in text: {t}");
        for (i, _) in t.match_indices('&') {
            let ent = &t[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bare '&' in text: {t}"
            );
        }
    }

    fn series(label: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.to_string(),
            points,
        }
    }

    fn profile_chart() -> LineChart {
        let mut c = LineChart::new("Nd/Pr cascade", "stage", "aqueous mole fraction");
        c.series.push(series(
            "Nd",
            (1..=40).map(|s| (s as f64, s as f64 / 40.0)).collect(),
        ));
        c.series.push(series(
            "Pr",
            (1..=40)
                .map(|s| (s as f64, 1.0 - s as f64 / 40.0))
                .collect(),
        ));
        c.x_bands = vec![
            (0.5, 17.5, "extraction".into()),
            (17.5, 30.5, "scrubbing".into()),
            (30.5, 40.5, "stripping".into()),
        ];
        c
    }

    /// Tick labels of the x axis (`anchor == "middle"`) or the y axis (`"end"`).
    fn tick_labels(svg: &str, anchor: &str) -> Vec<String> {
        let wanted = format!(r##"text-anchor="{anchor}" font-size="11" fill="#333333""##);
        svg.lines()
            .filter(|l| l.starts_with("<text") && l.contains(&wanted))
            .map(|l| {
                let start = l.find('>').unwrap() + 1;
                let end = l.rfind("</text>").unwrap();
                l[start..end].to_string()
            })
            .collect()
    }

    #[test]
    fn typical_chart_is_valid() {
        let c = profile_chart();
        let svg = c.to_svg();
        assert_valid(&svg);
        assert!(svg.contains(">extraction<"));
        assert!(svg.contains(">scrubbing<"));
        assert!(svg.contains(">stripping<"));
        assert!(svg.contains("#ececec") && svg.contains("#f6f6f6"));
        assert!(svg.contains(">Nd<") && svg.contains(">Pr<"));
        assert_eq!(svg, c.to_svg(), "deterministic");
    }

    #[test]
    fn text_is_escaped() {
        let mut c = LineChart::new(r#"a & b <c> "d" 'e'"#, "x < 1 & y > 2", "\"q\"\u{1}");
        c.series
            .push(series("<script>&", vec![(0.0, 1.0), (1.0, 2.0)]));
        c.x_bands.push((0.0, 1.0, "A&B".into()));
        let svg = c.to_svg();
        assert_valid(&svg);
        assert!(svg.contains("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;"));
        assert!(svg.contains("x &lt; 1 &amp; y &gt; 2"));
        assert!(svg.contains("&lt;script&gt;&amp;"));
        assert!(svg.contains(">A&amp;B<"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains('\u{1}'));
        assert_eq!(escape_xml("&<>\"'"), "&amp;&lt;&gt;&quot;&apos;");
    }

    #[test]
    fn log_ticks_cover_all_decades() {
        let mut c = LineChart::new("log", "stage", "c / M");
        c.y_scale = YScale::Log10;
        c.series.push(series(
            "Dy",
            (0..=18)
                .map(|i| (i as f64, 10f64.powf(-(i as f64) / 2.0)))
                .collect(),
        ));
        let svg = c.to_svg();
        assert_valid(&svg);
        let labels = tick_labels(&svg, "end");
        for want in [
            "1e-9", "1e-8", "1e-7", "1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "0.1", "1",
        ] {
            assert!(
                labels.iter().any(|l| l == want),
                "missing {want} in {labels:?}"
            );
        }
        assert!(!labels.iter().any(|l| l == "1e-10" || l == "10"));
    }

    #[test]
    fn log_axis_thins_labels_for_many_decades() {
        let axis = log_axis(Some((-300.0, 300.0)), 10);
        assert!(axis.major.len() <= 11, "{}", axis.major.len());
        assert!(axis.major.iter().any(|(_, l)| l == "1"));
        let axis = log_axis(Some((-2.3, -2.1)), 10);
        assert_eq!((axis.lo, axis.hi), (-3.0, -2.0));
        let labels: Vec<_> = axis.major.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1e-3", "1e-2"]);
        assert_eq!(axis.minor.len(), 8);
    }

    #[test]
    fn log_scale_skips_bad_values() {
        let mut c = LineChart::new("log", "x", "y");
        c.y_scale = YScale::Log10;
        c.series.push(series(
            "bad",
            vec![
                (1.0, 0.0),
                (2.0, -1.0),
                (3.0, f64::NAN),
                (4.0, f64::INFINITY),
                (5.0, 1e-3),
                (6.0, 1e-2),
                (f64::NAN, 1.0),
                (8.0, f64::MIN_POSITIVE),
                (9.0, 5e-324),
            ],
        ));
        c.series
            .push(series("all bad", vec![(1.0, 0.0), (2.0, -3.0)]));
        let svg = c.to_svg();
        assert_valid(&svg);
        assert!(svg.contains("<path"));

        let mut c = LineChart::new("log", "x", "y");
        c.y_scale = YScale::Log10;
        c.series.push(series("zeros", vec![(1.0, 0.0), (2.0, 0.0)]));
        let svg = c.to_svg();
        assert_valid(&svg);
        assert!(svg.contains("no data"));
    }

    #[test]
    fn nice_steps_are_1_2_5() {
        for &(lo, hi) in &[
            (0.0, 1.0),
            (0.0, 0.73),
            (-3.2, 17.9),
            (1.0, 40.0),
            (1e-7, 3e-7),
            (123_456.0, 987_654.0),
            (-1e12, 1e12),
            (0.999, 1.001),
            (-5.0, -4.0),
        ] {
            for target in [2usize, 5, 7, 10] {
                let (step, ticks) = nice_ticks(lo, hi, target, 0.0);
                let k = step_exponent(step);
                let mantissa = step / 10f64.powi(k);
                assert!(
                    [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9),
                    "step {step} for {lo}..{hi}"
                );
                assert!(ticks.len() >= 2 && ticks.len() <= 3 * target, "{ticks:?}");
                for t in &ticks {
                    let q = t / step;
                    assert!((q - q.round()).abs() < 1e-6, "{t} not a multiple of {step}");
                    let eps = step * 1e-6;
                    assert!(*t >= lo - eps && *t <= hi + eps, "{t} outside {lo}..{hi}");
                }
            }
        }
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn linear_labels_are_clean() {
        let axis = linear_axis(Some((0.0, 0.73)), 8, true, false);
        let labels: Vec<_> = axis.major.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"]
        );
        let axis = linear_axis(Some((0.0, 3e6)), 4, true, false);
        let labels: Vec<_> = axis.major.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "1e6", "2e6", "3e6"]);
        let axis = linear_axis(Some((1e-7, 3e-7)), 3, true, false);
        assert!(
            axis.major.iter().all(|(_, l)| l.contains('e')),
            "{:?}",
            axis.major
        );
        let axis = linear_axis(Some((-1.0, 1.0)), 4, true, false);
        assert!(axis.major.iter().all(|(_, l)| l != "-0" && l != "-0.0"));
    }

    #[test]
    fn integer_x_gets_integer_ticks() {
        let mut c = LineChart::new("few stages", "stage", "y");
        c.series.push(series(
            "a",
            vec![(1.0, 0.1), (2.0, 0.5), (3.0, 0.2), (4.0, 0.4)],
        ));
        let svg = c.to_svg();
        assert_valid(&svg);
        let labels = tick_labels(&svg, "middle");
        for want in ["1", "2", "3", "4"] {
            assert!(labels.iter().any(|l| l == want), "{labels:?}");
        }
        assert!(!labels.iter().any(|l| l == "1.5"), "{labels:?}");
    }

    #[test]
    fn degenerate_inputs_give_valid_svg() {
        let mut charts = Vec::new();
        charts.push(LineChart::new("", "", ""));
        let mut c = LineChart::new("empty series", "x", "y");
        c.series.push(series("", vec![]));
        charts.push(c);
        let mut c = LineChart::new("one point", "x", "y");
        c.series.push(series("p", vec![(3.0, 7.0)]));
        charts.push(c);
        let mut c = LineChart::new("flat", "x", "y");
        c.series
            .push(series("flat", vec![(0.0, 2.5), (1.0, 2.5), (2.0, 2.5)]));
        charts.push(c);
        let mut c = LineChart::new("flat zero", "x", "y");
        c.series.push(series("z", vec![(0.0, 0.0), (1.0, 0.0)]));
        charts.push(c);
        let mut c = LineChart::new("one x", "x", "y");
        c.series
            .push(series("v", vec![(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]));
        charts.push(c);
        let mut c = LineChart::new("extremes", "x", "y");
        c.series.push(series(
            "e",
            vec![
                (f64::MAX, f64::MAX),
                (-1e300, 1e300),
                (1e300, -1e300),
                (f64::MIN_POSITIVE, 5e-324),
                (f64::NEG_INFINITY, f64::NAN),
            ],
        ));
        charts.push(c);
        let mut c = LineChart::new("close values", "x", "y");
        c.series
            .push(series("c", vec![(1.0, 1.0), (1.0 + 1e-15, 1.0 + 1e-15)]));
        charts.push(c);
        let mut c = LineChart::new("bands only", "x", "y");
        c.x_bands = vec![
            (5.0, 1.0, "reversed".into()),
            (f64::NAN, 3.0, "nan".into()),
            (2.0, 2.0, "empty".into()),
        ];
        c.width_px = 0;
        c.height_px = 0;
        charts.push(c);
        let mut c = LineChart::new("log single", "x", "y");
        c.y_scale = YScale::Log10;
        c.series.push(series("s", vec![(1.0, 1.0)]));
        charts.push(c);
        let mut c = LineChart::new("huge size", "x", "y");
        c.width_px = u32::MAX;
        c.height_px = u32::MAX;
        charts.push(c);
        for c in &charts {
            let svg = c.to_svg();
            assert_valid(&svg);
            assert!(svg.contains("<svg"), "{}", c.title);
        }
        // A lone point is still visible.
        assert!(charts[2].to_svg().contains("<circle"));
    }

    #[test]
    fn styles_cycle_colours_then_dashes() {
        let mut c = LineChart::new("many", "x", "y");
        for i in 0..20 {
            c.series.push(series(
                &format!("s{i}"),
                vec![(0.0, i as f64), (1.0, i as f64 + 1.0)],
            ));
        }
        let svg = c.to_svg();
        assert_valid(&svg);
        let colours: std::collections::HashSet<_> = (0..8).map(|i| style(i).0).collect();
        assert_eq!(colours.len(), 8);
        assert_eq!(style(0).1, "");
        assert_eq!(style(8).0, style(0).0);
        assert_ne!(style(8).1, style(0).1);
        assert_ne!(style(16).1, style(8).1);
        for colour in PALETTE {
            assert!(svg.contains(&format!(r#"stroke="{colour}""#)), "{colour}");
        }
        assert!(svg.contains("stroke-dasharray"));
    }

    #[test]
    fn markers_only_for_short_series() {
        let mut c = LineChart::new("m", "x", "y");
        c.series
            .push(series("short", (0..60).map(|i| (i as f64, 1.0)).collect()));
        assert_eq!(c.to_svg().matches("<circle").count(), 61); // 60 points + legend sample
        c.series[0].points.push((60.0, 1.0));
        assert_eq!(c.to_svg().matches("<circle").count(), 0);
        // An isolated point between gaps gets a marker even in a long series.
        c.series[0].points[10].1 = f64::NAN;
        c.series[0].points[12].1 = f64::NAN;
        assert_eq!(c.to_svg().matches("<circle").count(), 1);
    }

    #[test]
    fn gaps_break_the_line() {
        let mut c = LineChart::new("gap", "x", "y");
        c.series.push(series(
            "g",
            vec![
                (0.0, 1.0),
                (1.0, 2.0),
                (2.0, f64::NAN),
                (3.0, 2.0),
                (4.0, 1.0),
            ],
        ));
        let svg = c.to_svg();
        assert_valid(&svg);
        assert_eq!(svg.matches("<path").count(), 2);
    }

    #[test]
    fn many_series_legend_overflows_gracefully() {
        let mut c = LineChart::new("legend", "x", "y");
        c.height_px = 200;
        for i in 0..40 {
            c.series.push(series(
                &format!("a very long series label number {i} that goes on"),
                vec![(0.0, 0.0), (1.0, 1.0)],
            ));
        }
        let svg = c.to_svg();
        assert_valid(&svg);
        assert!(svg.contains(" more<"));
        assert!(svg.contains('…'));
    }
}
