//! The progress display of a long run: on a terminal, a bar over the program's outermost loop of
//! more than one iteration (iterations, rate, time left; indicatif draws it); elsewhere a line
//! every few seconds. One party reports: the one that takes part in most of the program's
//! top-level loops.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tfe_ir::{Op, PartyId, Program};
use tfe_runtime::exec::Progress;

/// How often a line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// The party whose loops the display follows: the one with the most work inside the program's
/// top-level loops (ops at a secret placement it is a member of, or its own; public ops, which
/// every party runs at once without waiting, do not count), the last on a tie (aby3's first
/// member sends before it waits and may run ahead of the others); `None` for a program without
/// such work.
pub fn reporter(ir: &Program) -> Option<PartyId> {
    fn count(ir: &Program, body: &[tfe_ir::Node], counts: &mut [usize]) {
        for n in body {
            if n.op.blocks().is_empty() {
                let public = matches!(
                    n.op,
                    Op::Compute {
                        at: tfe_ir::Placement::Public,
                        ..
                    }
                );
                if !public {
                    for (p, part) in tfe_ir::participants(ir, n).into_iter().enumerate() {
                        counts[p] += usize::from(part);
                    }
                }
            }
            for block in n.op.blocks() {
                count(ir, block, counts);
            }
        }
    }
    let mut counts = vec![0usize; ir.parties.len()];
    for n in ir.body.iter().filter(|n| matches!(n.op, Op::For { .. })) {
        for block in n.op.blocks() {
            count(ir, block, &mut counts);
        }
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    counts.iter().rposition(|c| *c == best && best > 0)
}

/// The display: a bar on a terminal, otherwise `prefix` and a line every few seconds. Drop it
/// (or call [`Display::finish`]) to clear the bar.
pub struct Display {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<State>>,
}

struct State {
    /// When the current loop started, its size, and when a line was last printed.
    started: Instant,
    total: u64,
    last_line: Instant,
}

impl Display {
    /// A display; `prefix` starts its bar or lines (`[s0] ` for one party of several).
    pub fn new(prefix: String) -> Display {
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            // Hidden until the first iteration ends.
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template("{prefix}{bar:30} {pos}/{len} iterations{msg}")
                    .expect("a valid template"),
            );
            bar.set_prefix(prefix.clone());
            bar
        });
        let now = Instant::now();
        Display {
            bar,
            state: Arc::new(Mutex::new(State {
                started: now,
                total: 0,
                last_line: now,
            })),
        }
    }

    /// The callback the runtime calls after each iteration of an outermost loop.
    pub fn callback(&self, prefix: String) -> Progress {
        let bar = self.bar.clone();
        let state = self.state.clone();
        Progress(Arc::new(move |done, total| {
            let Ok(mut s) = state.lock() else { return };
            let now = Instant::now();
            if done == 1 || total != s.total {
                // A new loop.
                s.started = now;
                s.last_line = now;
                s.total = total;
                if let Some(bar) = &bar {
                    bar.reset();
                    bar.set_length(total);
                    if bar.is_hidden() {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                    }
                }
            }
            // The rate since the loop started (its first iteration included: `started` is the
            // first callback, so it counts from the second).
            let elapsed = now.duration_since(s.started).as_secs_f64();
            let rate = (done - 1) as f64 / elapsed.max(1e-9);
            let timing = if done > 1 {
                format!(
                    ", {rate:.2}/s, {:.0} s left",
                    (total - done) as f64 / rate.max(1e-9)
                )
            } else {
                String::new()
            };
            match &bar {
                Some(bar) => {
                    bar.set_message(timing);
                    bar.set_position(done);
                }
                None => {
                    if now.duration_since(s.last_line) >= LINE_EVERY && done < total {
                        s.last_line = now;
                        eprintln!("{prefix}progress: {done}/{total} iterations{timing}");
                    }
                }
            }
        }))
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::reporter;

    fn compile(src: &str) -> tfe_ir::Program {
        tfe_compiler::compile(src, &tfe_compiler::Options::default()).unwrap()
    }

    #[test]
    fn the_reporter_is_a_party_that_does_the_loops_work() {
        // alice's data is shared before the loop, and every party runs the loop's public index
        // arithmetic: the work inside is the members'; the last of them reports.
        let ir = compile(
            "party alice, analyst;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
             fn main() {\n    let xa: fixed[4] @alice = ones([4]);\n    let mut x: fixed[4] @rep = xa;\n\
                 for i in 0..10 { x = x * x + 1.0; }\n    print(reveal(x, to: analyst));\n}\n",
        );
        assert_eq!(reporter(&ir).map(|p| ir.parties[p].as_str()), Some("s2"));
        // A party's own loop: that party.
        let ir = compile(
            "party alice, bob;\nfn main() {\n    let mut t: fixed @bob = 0.0;\n\
                 on bob { for i in 0..10 { t = t + 1.0; } };\n    print(t);\n}\n",
        );
        assert_eq!(reporter(&ir).map(|p| ir.parties[p].as_str()), Some("bob"));
        let ir = compile("party alice;\nfn main() {\n    print(1);\n}\n");
        assert_eq!(reporter(&ir), None);
    }
}
