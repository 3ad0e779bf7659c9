//! Derived gradients against hand-written backward passes. Every training program of the
//! examples and of the benchmark networks states a struct for its model and takes `grad` of a
//! loss; `bench/programs/handwritten/` keeps each one's version from before, with its backward
//! pass written out. Both run on the same data and starting weights, alternately, in one run:
//!
//! - `bench derived`: the cost of one batch of each (from runs of 1 and k batches, as `bench
//!   networks` measures), and the ratios derived / hand-written of seconds, rounds and bytes;
//! - `bench derived-epoch`: one epoch of each, and the analyst's held-out accuracy of both
//!   (about 40 minutes).

use std::path::Path;

use crate::networks::{NETWORKS, write_weights};
use crate::workloads::{Run, copy_dir, run};

/// (name, derived program, hand-written program, the source edits that pick each optimizer
/// variant, batches of the longer run).
type Pair = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Option<(&'static str, &'static str)>)],
    usize,
);

const OPTIMIZER: &str = "const OPTIMIZER: int = 0;";

const VARIANTS: &[(&str, Option<(&str, &str)>)] = &[
    ("sgd", None),
    ("adam", Some((OPTIMIZER, "const OPTIMIZER: int = 1;"))),
    ("amsgrad", Some((OPTIMIZER, "const OPTIMIZER: int = 2;"))),
];

const PAIRS: &[Pair] = &[
    (
        "network_a",
        include_str!("../../examples/mnist_train.tfe"),
        include_str!("../programs/handwritten/network_a.tfe"),
        &[("sgd", None)],
        4,
    ),
    (
        "network_a",
        include_str!("../../examples/mnist_train_adam.tfe"),
        include_str!("../programs/handwritten/network_a_adam.tfe"),
        &[
            ("adam", None),
            (
                "amsgrad",
                Some((
                    "const AMSGRAD: bool = false;",
                    "const AMSGRAD: bool = true;",
                )),
            ),
        ],
        4,
    ),
    (
        "network_b",
        include_str!("../programs/network_b.tfe"),
        include_str!("../programs/handwritten/network_b.tfe"),
        VARIANTS,
        3,
    ),
    (
        "network_c",
        include_str!("../programs/network_c.tfe"),
        include_str!("../programs/handwritten/network_c.tfe"),
        VARIANTS,
        3,
    ),
    (
        "network_d",
        include_str!("../programs/network_d.tfe"),
        include_str!("../programs/handwritten/network_d.tfe"),
        VARIANTS,
        6,
    ),
    (
        "lr_mnist",
        include_str!("../programs/lr_mnist.tfe"),
        include_str!("../programs/handwritten/lr_mnist.tfe"),
        VARIANTS,
        16,
    ),
];

fn edit(src: &str, from: &str, to: &str) -> String {
    assert!(src.contains(from), "the program has `{from}`");
    src.replace(from, to)
}

/// The program running `batches` batches: the networks' `BATCHES`, network A's loop bound.
pub(crate) fn with_batches(src: &str, batches: usize) -> String {
    if src.contains("const BATCHES: int = 31;") {
        edit(
            src,
            "const BATCHES: int = 31;",
            &format!("const BATCHES: int = {batches};"),
        )
    } else {
        edit(
            src,
            "for i in 0..rows(x) / BATCH {",
            &format!("for i in 0..{batches} {{"),
        )
    }
}

fn accuracy(r: &Run) -> String {
    r.printed
        .iter()
        .find(|(p, _)| p == "analyst")
        .map_or("?".to_string(), |(_, l)| l.clone())
}

/// The largest per-party difference of two runs' counters, over `batches` batches.
fn per_batch(one: &[u64], many: &[u64], batches: usize) -> u64 {
    one.iter()
        .zip(many)
        .map(|(a, b)| b.saturating_sub(*a) / batches as u64)
        .max()
        .unwrap_or(0)
}

pub fn run_all(filter: &str) {
    let epoch = filter == "derived-epoch";
    if !("derived".contains(filter) || epoch) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data");
    let scratch = std::env::temp_dir().join(format!("tfe-bench-derived-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&root, &scratch);
    // The networks' starting weights, as `bench networks` draws them.
    for (_, _, _, weights, _) in NETWORKS {
        for (k, (file, rows, cols)) in weights.iter().enumerate() {
            write_weights(&scratch, file, *rows, *cols, 17 + k as u64);
        }
    }
    // A first run warms the process (page faults of fresh memory, the JIT's kernels) so that the
    // first pair measured does not pay for it: without it, network A's first one-batch run took
    // most of the four-batch run's extra time, and its per-batch cost came out 4x too low.
    if !epoch {
        let (_, _, handwritten, _, _) = PAIRS[0];
        run(&with_batches(handwritten, 1), &scratch);
    }
    for (name, derived, handwritten, variants, many) in PAIRS {
        for (variant, change) in *variants {
            let [d, h] = [derived, handwritten].map(|src| match change {
                Some((from, to)) => edit(src, from, to),
                None => src.to_string(),
            });
            if epoch {
                let (hr, dr) = (run(&h, &scratch), run(&d, &scratch));
                println!(
                    "bench derived-epoch-{name}-{variant} {:.3} {} {}  (one epoch; held-out correct of 1000: derived {}, hand-written {}; seconds, rounds, bytes derived / hand-written: {:.3}, {:.3}, {:.3})",
                    dr.seconds,
                    dr.rounds.iter().max().unwrap_or(&0),
                    dr.bytes.iter().max().unwrap_or(&0),
                    accuracy(&dr),
                    accuracy(&hr),
                    dr.seconds / hr.seconds,
                    *dr.rounds.iter().max().unwrap_or(&0) as f64
                        / *hr.rounds.iter().max().unwrap_or(&1) as f64,
                    *dr.bytes.iter().max().unwrap_or(&0) as f64
                        / *hr.bytes.iter().max().unwrap_or(&1) as f64,
                );
                continue;
            }
            // Alternately, so that both see the same load.
            let h1 = run(&with_batches(&h, 1), &scratch);
            let d1 = run(&with_batches(&d, 1), &scratch);
            let hk = run(&with_batches(&h, *many), &scratch);
            let dk = run(&with_batches(&d, *many), &scratch);
            let extra = *many - 1;
            let seconds = |one: &Run, k: &Run| (k.seconds - one.seconds) / extra as f64;
            let (ds, hs) = (seconds(&d1, &dk), seconds(&h1, &hk));
            let (dr, hr) = (
                per_batch(&d1.rounds, &dk.rounds, extra),
                per_batch(&h1.rounds, &hk.rounds, extra),
            );
            let (db, hb) = (
                per_batch(&d1.bytes, &dk.bytes, extra),
                per_batch(&h1.bytes, &hk.bytes, extra),
            );
            println!(
                "bench derived-{name}-{variant} {ds:.4} {dr} {db}  (per batch of 128, runs of 1 and {many} batches; hand-written: {hs:.4} s, {hr} rounds, {hb} bytes; derived / hand-written: seconds {:.3}, rounds {:.3}, bytes {:.3})",
                ds / hs,
                dr as f64 / hr as f64,
                db as f64 / hb as f64,
            );
        }
    }
}
