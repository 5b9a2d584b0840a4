//! Rendering a genealogy trace: a terminal tree, Graphviz DOT, and a layered SVG.

use crate::plot::escape_xml as escape;
use lodestone_mes::genealogy::{Direction, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Neighbours of each lot in the walking direction: (next lot, step, fraction, kg).
fn adjacency(trace: &Trace) -> BTreeMap<&str, Vec<(&str, &str, f64, f64)>> {
    let mut next: BTreeMap<&str, Vec<(&str, &str, f64, f64)>> = BTreeMap::new();
    for e in &trace.edges {
        match trace.direction {
            Direction::Backward => next.entry(e.child.as_str()).or_default().push((
                e.parent.as_str(),
                e.step.as_str(),
                e.fraction,
                e.parent_kg,
            )),
            Direction::Forward => next.entry(e.parent.as_str()).or_default().push((
                e.child.as_str(),
                e.step.as_str(),
                e.fraction,
                e.parent_kg,
            )),
        }
    }
    next
}

/// The trace as an indented tree; a lot reached twice is printed once and referred to after.
pub fn tree(trace: &Trace) -> String {
    let lots: BTreeMap<&str, _> = trace.lots.iter().map(|(l, _)| (l.id.as_str(), l)).collect();
    let next = adjacency(trace);
    let mut out = String::new();
    let describe = |id: &str| match lots.get(id) {
        Some(l) => format!(
            "{id}  {} {:.3} kg {} {}",
            l.definition, l.initial_kg, l.status, l.disposition
        ),
        None => id.to_string(),
    };
    let _ = writeln!(out, "{}", describe(&trace.root));
    let mut printed = BTreeSet::new();
    printed.insert(trace.root.clone());
    fn walk(
        id: &str,
        prefix: &str,
        next: &BTreeMap<&str, Vec<(&str, &str, f64, f64)>>,
        describe: &dyn Fn(&str) -> String,
        printed: &mut BTreeSet<String>,
        out: &mut String,
        direction: Direction,
    ) {
        let Some(children) = next.get(id) else { return };
        for (i, (child, step, fraction, kg)) in children.iter().enumerate() {
            let last = i + 1 == children.len();
            let branch = if last { "└─ " } else { "├─ " };
            let share = match direction {
                Direction::Backward => format!("{kg:.3} kg in, {:.1} % of it", fraction * 100.0),
                Direction::Forward => {
                    format!("{kg:.3} kg in, {:.1} % of its inputs", fraction * 100.0)
                }
            };
            let seen = !printed.insert(child.to_string());
            let _ = writeln!(
                out,
                "{prefix}{branch}{}  [{step}: {share}]{}",
                describe(child),
                if seen { "  (shown above)" } else { "" }
            );
            if !seen {
                let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
                walk(child, &deeper, next, describe, printed, out, direction);
            }
        }
    }
    walk(
        &trace.root,
        "",
        &next,
        &describe,
        &mut printed,
        &mut out,
        trace.direction,
    );
    out
}

/// Graphviz DOT, inputs on the left.
pub fn dot(trace: &Trace) -> String {
    let mut out = String::from(
        "digraph genealogy {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n",
    );
    for (lot, _) in &trace.lots {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\\n{:.3} kg\"{}];",
            lot.id.replace('"', "\\\""),
            lot.id.replace('"', "\\\""),
            lot.definition.replace('"', "\\\""),
            lot.initial_kg,
            if lot.id == trace.root {
                ", style=bold"
            } else {
                ""
            }
        );
    }
    for e in &trace.edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{} {:.3} kg\"];",
            e.parent.replace('"', "\\\""),
            e.child.replace('"', "\\\""),
            e.step.replace('"', "\\\""),
            e.parent_kg
        );
    }
    out.push_str("}\n");
    out
}

/// A layered drawing: one column per depth, inputs on the left, edges as lines labelled kg.
pub fn svg(trace: &Trace) -> String {
    let max_depth = trace.lots.iter().map(|(_, d)| *d).max().unwrap_or(0);
    let mut columns: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (lot, depth) in &trace.lots {
        columns.entry(*depth).or_default().push(&lot.id);
    }
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let (box_w, box_h, col_gap, row_gap, margin) = (170.0, 44.0, 90.0, 16.0, 20.0);
    let width = margin * 2.0 + (max_depth + 1) as f64 * (box_w + col_gap) - col_gap;
    let height = margin * 2.0 + rows as f64 * (box_h + row_gap) - row_gap + 24.0;
    // Backward traces put the root on the right (inputs flow left to right).
    let x_of = |depth: i64| match trace.direction {
        Direction::Backward => margin + (max_depth - depth) as f64 * (box_w + col_gap),
        Direction::Forward => margin + depth as f64 * (box_w + col_gap),
    };
    let mut pos: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (depth, ids) in &columns {
        for (row, id) in ids.iter().enumerate() {
            pos.insert(
                id,
                (x_of(*depth), margin + 24.0 + row as f64 * (box_h + row_gap)),
            );
        }
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"{margin}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{} trace of {}</text>\n",
        match trace.direction {
            Direction::Backward => "Backward",
            Direction::Forward => "Forward",
        },
        escape(&trace.root)
    );
    for e in &trace.edges {
        let (Some(&(px, py)), Some(&(cx, cy))) =
            (pos.get(e.parent.as_str()), pos.get(e.child.as_str()))
        else {
            continue;
        };
        let (x1, x2) = if px < cx {
            (px + box_w, cx)
        } else {
            (px, cx + box_w)
        };
        let _ = writeln!(
            out,
            "<line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x2:.1}\" y2=\"{:.1}\" stroke=\"#888\"><title>{} → {} via {}: {:.3} kg ({:.1} %)</title></line>",
            py + box_h / 2.0,
            cy + box_h / 2.0,
            escape(&e.parent),
            escape(&e.child),
            escape(&e.step),
            e.parent_kg,
            e.fraction * 100.0
        );
    }
    for (lot, _) in &trace.lots {
        let (x, y) = pos[lot.id.as_str()];
        let stroke = if lot.id == trace.root { "#b00" } else { "#345" };
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"4\" fill=\"#f4f7fb\" stroke=\"{stroke}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{} · {:.1} kg</text>",
            x + 6.0,
            y + 17.0,
            escape(&lot.id),
            x + 6.0,
            y + 34.0,
            escape(&lot.definition),
            lot.initial_kg
        );
    }
    out.push_str("</svg>\n");
    out
}
