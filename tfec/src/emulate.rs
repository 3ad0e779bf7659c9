//! `tfec run --emulate`: the cleartext emulation of a program (`tfe_runtime::clear`), and its
//! report of the operations whose results would not fit their placement's fixed point, by line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tfe_ir::Program;
use tfe_runtime::clear::OpReport;

use crate::Failure;

/// Runs `ir` in the clear with the parties' data under `data` (default: `data/` beside the
/// program), prints what the parties print, and reports on stderr.
pub fn emulate(file: &Path, data: Option<&Path>, ir: &Program, src: &str) -> Result<(), Failure> {
    let root = match data {
        Some(dir) => dir.to_path_buf(),
        None => file
            .parent()
            .map_or_else(|| PathBuf::from("data"), |p| p.join("data")),
    };
    let data_dirs: Vec<PathBuf> = ir.parties.iter().map(|p| root.join(p)).collect();
    let start = Instant::now();
    let mut print = |party: usize, line: &str| println!("[{}] {line}", ir.parties[party]);
    let report = tfe_runtime::clear::emulate(ir, &data_dirs, &mut print).map_err(|e| {
        eprintln!("error: the emulation failed: {}", e.describe(&ir.parties));
        Failure::Run
    })?;
    eprintln!(
        "{}: emulated in cleartext in {:.2} s ({} operations; nothing was secret-shared or sent)",
        file.display(),
        start.elapsed().as_secs_f64(),
        report.ops_run
    );
    eprint!("{}", render(ir, src, &report));
    Ok(())
}

/// The report: per secret placement, its fixed point's ranges, then each flagged operation by
/// line.
pub fn render(ir: &Program, src: &str, report: &tfe_runtime::clear::Report) -> String {
    let mut out = String::new();
    for (s, info) in ir.secrets.iter().enumerate() {
        let (ring, frac) = (info.ring_bits as i32, info.frac_bits as i32);
        out.push_str(&format!(
            "{} = {}, ring {ring}, frac {frac}: values within ±2^{}, resolution 2^-{frac}, products within ±2^{} before truncation\n",
            info.name,
            info.protocol.name(),
            ring - 1 - frac,
            ring - 1 - 2 * frac
        ));
        let mut flagged: Vec<(usize, String)> = report
            .ops
            .iter()
            .filter(|(_, (at, r))| *at == s && r.flagged())
            .map(|(op, (_, r))| {
                let (line, text) = source(ir, src, *op);
                (line, finding(line, &text, r, ring, frac))
            })
            .collect();
        flagged.sort();
        if flagged.is_empty() {
            out.push_str("  every operation fits\n");
        }
        for (_, text) in flagged {
            out.push_str(&text);
        }
        let needs = report.needs(s);
        if needs.largest > 0.0 {
            let log = |m: f64| {
                if m > 0.0 {
                    format!("2^{:.1}", m.log2())
                } else {
                    "0".into()
                }
            };
            let bits = needs.ring_bits(frac as u32);
            out.push_str(&format!(
                "  needs: values up to {}, products up to {} before truncation: a ring of >= {bits} bits at frac {frac} ({} for truncations that fail under 1 in 10^6 products)",
                log(needs.largest),
                log(needs.largest_product),
                bits + 20,
            ));
            let f = needs.frac_bits();
            if f > frac as u32 {
                out.push_str(&format!(
                    "; its smallest nonzero value, {:.1e}, needs frac >= {f} (then a ring of >= {} bits, {})",
                    needs.smallest_nonzero,
                    needs.ring_bits(f),
                    needs.ring_bits(f) + 20
                ));
            }
            out.push('\n');
        }
    }
    out
}

/// The line of op `op` and its source text (one line, at most 60 characters).
fn source(ir: &Program, src: &str, op: u32) -> (usize, String) {
    match ir.sources.get(op as usize).copied().flatten() {
        Some((start, end)) => {
            let (start, end) = (start as usize, (end as usize).min(src.len()));
            let line = src[..start].matches('\n').count() + 1;
            let text: String = src
                .get(start..end)
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let text = if text.chars().count() > 60 {
                format!("{}…", text.chars().take(59).collect::<String>())
            } else {
                text
            };
            (line, text)
        }
        None => (0, String::new()),
    }
}

fn finding(line: usize, text: &str, r: &OpReport, ring: i32, frac: i32) -> String {
    let mut out = String::new();
    let at = if line > 0 {
        format!("line {line}: `{text}`")
    } else {
        "(no source line)".to_string()
    };
    let runs = if r.runs == 1 {
        "in its one run".to_string()
    } else {
        format!("over its {} runs", r.runs)
    };
    if r.overflows > 0 {
        out.push_str(&format!(
            "  {at}: overflow: {} of {} results {runs} wrapped around the ring (largest magnitude {:.4e}): the run's result would be wrong; use a wider ring or scale the values down\n",
            r.overflows, r.elements, r.largest
        ));
    }
    if r.truncation_failures > tfe_runtime::clear::TRUNCATION_ALERT {
        out.push_str(&format!(
            "  {at}: truncation: {:.3e} failed truncations expected {runs} (of {} products; largest magnitude {:.4e}): each failure is off by about 2^{}; use a wider ring\n",
            r.truncation_failures,
            r.elements,
            r.largest_product,
            ring - frac
        ));
    }
    if let Some(c) = r.constant_lost {
        out.push_str(&format!(
            "  {at}: underflow: the public operand {c:.4e} is 0 in this fixed point (below 2^-{}): raise frac or scale the values\n",
            frac + 1
        ));
    }
    if r.underflows > 0 {
        out.push_str(&format!(
            "  {at}: underflow: {} nonzero result{} {runs} became 0 (the smallest {:.4e} < 2^-{frac}): raise frac or scale the values up\n",
            r.underflows,
            if r.underflows == 1 { "" } else { "s" },
            r.smallest_lost
        ));
    }
    out
}
