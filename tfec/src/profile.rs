//! `tfec run --profile`: where each party's time, rounds and bytes went, per source line and per
//! protocol op under it; and `--trace FILE.json`, the same as Chrome trace events.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use tfe_ir::{Node, Op, OpId, Program};
use tfe_runtime::exec::{OpProfile, PartyReport};

/// How many source lines, and ops under each, a party's profile shows.
const LINES: usize = 12;
const OPS_PER_LINE: usize = 3;

/// The line of each op id (0: none), from the IR's sources.
fn lines(ir: &Program, src: &str) -> Vec<usize> {
    ir.sources
        .iter()
        .map(|s| {
            s.map_or(0, |(start, _)| {
                src[..(start as usize).min(src.len())].matches('\n').count() + 1
            })
        })
        .collect()
}

/// A line of the source, whitespace collapsed, at most 56 characters.
fn line_text(src: &str, line: usize) -> String {
    let text: String = src
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > 56 {
        format!("{}…", text.chars().take(55).collect::<String>())
    } else {
        text
    }
}

/// Each op's short name: its kernel, or what it does.
fn op_names(ir: &Program) -> BTreeMap<OpId, String> {
    fn walk(ir: &Program, body: &[Node], out: &mut BTreeMap<OpId, String>) {
        for n in body {
            let name = match &n.op {
                Op::Compute { kernel, at, .. } => {
                    format!("{} @{}", kernel.name(), ir.placement_name(*at))
                }
                Op::Share { to, .. } => format!("share to {}", ir.secrets[*to].name),
                Op::Reveal { to, .. } => format!(
                    "reveal to {}",
                    to.map_or("everyone".to_string(), |p| ir.parties[p].clone())
                ),
                Op::ReadCsv { format, .. } => format!("read_{}", format.name()),
                Op::WriteCsv { format, .. } => format!("write_{}", format.name()),
                Op::Print { .. } => "print".into(),
                Op::StoreShares { .. } => "store_shares".into(),
                Op::LoadShares { .. } => "load_shares".into(),
                Op::For { .. } | Op::While { .. } | Op::If { .. } => "control".into(),
            };
            out.insert(n.id, name);
            for block in n.op.blocks() {
                walk(ir, block, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(ir, &ir.body, &mut out);
    out
}

use crate::run::human_bytes as bytes;

#[derive(Default)]
struct Line {
    cost: OpProfile,
    ops: Vec<(OpId, OpProfile)>,
}

/// Each party's profile: its costliest source lines, and the costliest ops of each.
pub fn render(ir: &Program, src: &str, names: &[String], reports: &[&PartyReport]) -> String {
    let line_of = lines(ir, src);
    let op_name = op_names(ir);
    let mut out = String::new();
    for (name, report) in names.iter().zip(reports) {
        let mut by_line: BTreeMap<usize, Line> = BTreeMap::new();
        for (op, cost) in report.profile.iter().enumerate() {
            if cost.runs == 0 {
                continue;
            }
            let line = by_line
                .entry(line_of.get(op).copied().unwrap_or(0))
                .or_default();
            line.cost.runs += cost.runs;
            line.cost.time += cost.time;
            line.cost.bytes += cost.bytes;
            line.cost.rounds += cost.rounds;
            line.ops.push((op as OpId, *cost));
        }
        if by_line.is_empty() {
            continue;
        }
        let total: f64 = by_line.values().map(|l| l.cost.time.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "profile of {name}: {:.3} s in ops, {} rounds, {} sent (per source line, costliest first; a loop's lines count every iteration)",
            total,
            report.net.rounds,
            bytes(report.net.bytes_sent)
        );
        let _ = writeln!(
            out,
            "  {:>9} {:>6} {:>8} {:>10}  where",
            "time (s)", "%", "rounds", "sent"
        );
        let mut lines: Vec<(usize, Line)> = by_line.into_iter().collect();
        lines.sort_by_key(|l| std::cmp::Reverse(l.1.cost.time));
        let shown = lines.len().min(LINES);
        for (line, mut l) in lines.drain(..shown) {
            let share = if total > 0.0 {
                100.0 * l.cost.time.as_secs_f64() / total
            } else {
                0.0
            };
            let at = if line == 0 {
                "(no source line: the run's own steps)".to_string()
            } else {
                format!("line {line}: {}", line_text(src, line))
            };
            let _ = writeln!(
                out,
                "  {:>9.3} {:>5.1}% {:>8} {:>10}  {at}",
                l.cost.time.as_secs_f64(),
                share,
                l.cost.rounds,
                bytes(l.cost.bytes)
            );
            l.ops.sort_by_key(|o| std::cmp::Reverse(o.1.time));
            if l.ops.len() > 1 {
                for (op, cost) in l.ops.iter().take(OPS_PER_LINE) {
                    let _ = writeln!(
                        out,
                        "  {:>9.3} {:>6} {:>8} {:>10}      {} (op {op}, {} run{})",
                        cost.time.as_secs_f64(),
                        "",
                        cost.rounds,
                        bytes(cost.bytes),
                        op_name.get(op).map_or("?", String::as_str),
                        cost.runs,
                        if cost.runs == 1 { "" } else { "s" }
                    );
                }
                if l.ops.len() > OPS_PER_LINE {
                    let _ = writeln!(
                        out,
                        "  {:>9} {:>6} {:>8} {:>10}      … and {} more ops",
                        "",
                        "",
                        "",
                        "",
                        l.ops.len() - OPS_PER_LINE
                    );
                }
            }
        }
        if !lines.is_empty() {
            let rest: f64 = lines.iter().map(|(_, l)| l.cost.time.as_secs_f64()).sum();
            let _ = writeln!(
                out,
                "  {rest:>9.3} {:>5.1}% {:>8} {:>10}  {} more lines",
                if total > 0.0 {
                    100.0 * rest / total
                } else {
                    0.0
                },
                "",
                "",
                lines.len()
            );
        }
    }
    out
}

/// Writes the parties' runs of ops as Chrome trace events (`ph: X`, microseconds), one thread per
/// party, named after it; each event named by its op and line.
pub fn write_trace(
    path: &Path,
    ir: &Program,
    src: &str,
    parties: &[(usize, &PartyReport)],
) -> std::io::Result<()> {
    let line_of = lines(ir, src);
    let op_name = op_names(ir);
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    let mut first = true;
    let mut push = |out: &mut String, event: String| {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&event);
    };
    for (p, report) in parties {
        push(
            &mut out,
            format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{p},\"args\":{{\"name\":{}}}}}",
                json_string(&ir.parties[*p])
            ),
        );
        for e in &report.trace {
            let line = line_of.get(e.op as usize).copied().unwrap_or(0);
            let name = op_name.get(&e.op).map_or("?", String::as_str);
            push(
                &mut out,
                format!(
                    "{{\"name\":{},\"cat\":\"op\",\"ph\":\"X\",\"pid\":1,\"tid\":{p},\"ts\":{:.3},\"dur\":{:.3},\"args\":{{\"op\":{},\"line\":{line},\"bytes\":{},\"rounds\":{}}}}}",
                    json_string(&format!("line {line}: {name}")),
                    e.start.as_secs_f64() * 1e6,
                    e.time.as_secs_f64() * 1e6,
                    e.op,
                    e.bytes,
                    e.rounds
                ),
            );
        }
    }
    out.push_str("\n]}\n");
    tfe_runtime::csvio::write_atomic(path, out.as_bytes(), false)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
