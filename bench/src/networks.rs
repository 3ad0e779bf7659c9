//! TF Encrypted's benchmark networks B, C and D and its logistic regression on MNIST relabelled
//! digit > 4, trained on shares (`bench/programs/*.tfe`, batch 128; SGD with momentum, Adam and
//! AMSGrad, chosen by the programs' `OPTIMIZER`) on the MNIST images of `examples/data`. Each
//! program runs for 1 and for k batches (4 to 31): a batch's time is the median lap of the
//! training loop in the run of k (its first batch left out), its rounds and bytes per party the
//! difference of the two runs over k - 1 (the time by difference is printed too). Reading and
//! sharing the data set and revealing the model are left out. Every optimizer runs on aby3, SGD also on pond and securenn (the programs
//! switched by their `secret` line, s2 dealing). Network A is the `examples` workload
//! (`mnist_train`, `mnist_train_adam`; SGD also on pond and securenn).
//! The analyst's starting weights are He-uniform, drawn here with a fixed seed and written to a
//! scratch copy of `examples/data`.
//!
//! Then each network with SGD on aby3 (network A too) in three settings, one batch's time, rounds
//! and bytes in each: every party in this process; each party its own process over gRPC on
//! loopback (MP-SPDZ's setting: its figures here were measured with three processes); and over an
//! emulated WAN (rtt 40 ms, 352 Mbit/s, the original system's WAN), next to the original
//! system's WAN column. There a batch's time is the median lap of the training loop (every
//! batch but each run's first, runs in process and over gRPC taken in turn), not a difference of
//! two runs: reading the data varies between runs by more than a small network's batch takes.
//! `bench networks-settings-NAME` runs only the networks whose name contains NAME.
//!
//! `bench networks-epoch` trains every network for a whole epoch (31 batches) with each optimizer
//! and prints the analyst's held-out accuracy (about 15 minutes).

use std::path::Path;

use crate::network::{embedded, networked, per_batch};
use crate::workloads::{PROTOCOLS, copy_dir, on_protocol, run_in_child};

/// The original system's WAN link (its README: 352 Mbit/s, rtt 40 ms).
const WAN: &str = "rtt=40ms,bandwidth=352mbit";

/// Per network with SGD: its source, the batches of the runs in process and over gRPC and how
/// many times each setting runs (in turn; every lap but the first of every run counts, and the
/// median is the figure), MP-SPDZ's seconds per batch measured on this machine kind (issue #16:
/// replicated ring, `-R 64 trunc_pr split3`, three processes on loopback), and the original
/// system's WAN column (TF Encrypted, seconds per batch).
const SETTINGS: &[(&str, &str, usize, usize, &str, f64)] = &[
    (
        "network_a",
        include_str!("../../examples/mnist_train.tfe"),
        11,
        3,
        "0.428",
        5.075,
    ),
    (
        "network_b",
        include_str!("../programs/network_b.tfe"),
        4,
        2,
        "9.60",
        25.300,
    ),
    (
        "network_c",
        include_str!("../programs/network_c.tfe"),
        4,
        2,
        "18.35",
        37.678,
    ),
    (
        "network_d",
        include_str!("../programs/network_d.tfe"),
        11,
        3,
        "0.610",
        6.112,
    ),
    (
        "lr_mnist",
        include_str!("../programs/lr_mnist.tfe"),
        31,
        3,
        "-",
        0.760,
    ),
];

/// Each network of [`SETTINGS`] in process, over gRPC and over the emulated WAN.
fn settings(scratch: &Path, which: &str) {
    for (name, src, batches, runs, mp_spdz, wan_theirs) in SETTINGS {
        if !name.contains(which) {
            continue;
        }
        let program = |k: usize| crate::derived::with_batches(src, k);
        let local = |s: &str| embedded(s, scratch, None);
        let grpc = |s: &str| networked(s, scratch, None);
        let [(local, l0, l1), (grpc, g0, g1)] =
            per_batch(*runs, *batches, program, &[&local, &grpc])[..]
        else {
            unreachable!("two settings")
        };
        // Over the WAN a batch takes seconds: one run of 3 batches, two laps.
        let wan = |s: &str| networked(s, scratch, Some(WAN));
        let (wan, w0, w1) = per_batch(1, 3, program, &[&wan])[0];
        println!(
            "bench grpc-train-{name}-sgd {:.4} {} {}  (per batch of 128, the median lap, laps {g0:.4}–{g1:.4} s; each party its own process over gRPC on loopback; in process {:.4} s, laps {l0:.4}–{l1:.4} s, {} rounds, {} B: ratio {:.2}; MP-SPDZ here, three processes: {mp_spdz} s)",
            grpc.seconds,
            grpc.rounds,
            grpc.bytes,
            local.seconds,
            local.rounds,
            local.bytes,
            grpc.seconds / local.seconds,
        );
        println!(
            "bench wan-train-{name}-sgd {:.4} {} {}  (per batch of 128, laps {w0:.3}–{w1:.3} s, over an emulated WAN, {WAN}, each party its own process over gRPC; the original system's WAN column: {wan_theirs:.3} s, half of it {:.3} s)",
            wan.seconds,
            wan.rounds,
            wan.bytes,
            wan_theirs / 2.0,
        );
    }
}

/// (program, its source, the original system's seconds per batch on LAN from its README table
/// for SGD, Adam and AMSGrad, starting weights as (file, rows, columns), batches of the longer
/// run).
pub(crate) type Network = (
    &'static str,
    &'static str,
    [&'static str; 3],
    &'static [(&'static str, usize, usize)],
    usize,
);

/// The programs' `OPTIMIZER` values, in the order of the figures above.
const OPTIMIZERS: [(&str, i64); 3] = [("sgd", 0), ("adam", 1), ("amsgrad", 2)];

pub(crate) const NETWORKS: &[Network] = &[
    (
        "network_b",
        include_str!("../programs/network_b.tfe"),
        [
            "0.571 (MP-SPDZ), 4.000 (TF Encrypted)",
            "0.772 (MP-SPDZ), 4.075 (TF Encrypted)",
            "0.680 (MP-SPDZ), 4.170 (TF Encrypted)",
        ],
        &[
            ("net_b_k1", 25, 16),
            ("net_b_k2", 400, 16),
            ("net_b_w3", 256, 100),
            ("net_b_w4", 100, 10),
        ],
        4,
    ),
    (
        "network_c",
        include_str!("../programs/network_c.tfe"),
        [
            "1.175 (MP-SPDZ), 6.223 (TF Encrypted)",
            "2.825 (MP-SPDZ), 6.858 (TF Encrypted)",
            "1.568 (MP-SPDZ), 7.336 (TF Encrypted)",
        ],
        &[
            ("net_c_k1", 25, 20),
            ("net_c_k2", 500, 50),
            ("net_c_w3", 800, 500),
            ("net_c_w4", 500, 10),
        ],
        4,
    ),
    (
        "network_d",
        include_str!("../programs/network_d.tfe"),
        [
            "0.134 (MP-SPDZ), 0.355 (TF Encrypted)",
            "0.293 (MP-SPDZ), 0.605 (TF Encrypted)",
            "0.228 (MP-SPDZ), 0.682 (TF Encrypted)",
        ],
        &[
            ("net_d_k1", 25, 5),
            ("net_d_w2", 980, 100),
            ("net_d_w3", 100, 10),
        ],
        6,
    ),
    (
        "lr_mnist",
        include_str!("../programs/lr_mnist.tfe"),
        [
            "0.012 (TF Encrypted)",
            "0.021 (TF Encrypted)",
            "0.025 (TF Encrypted)",
        ],
        &[],
        31,
    ),
];

/// He-uniform weights: uniform in ±sqrt(6 / rows), from a fixed xorshift stream.
pub(crate) fn write_weights(dir: &Path, name: &str, rows: usize, cols: usize, seed: u64) {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let limit = (6.0 / rows as f64).sqrt();
    let mut text = String::new();
    for _ in 0..rows {
        let row: Vec<String> = (0..cols)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                format!("{:.6}", (2.0 * u - 1.0) * limit)
            })
            .collect();
        text += &row.join(",");
        text.push('\n');
    }
    std::fs::write(dir.join("analyst").join(format!("{name}.csv")), text).expect("scratch");
}

fn with_optimizer(src: &str, optimizer: i64) -> String {
    let line = "const OPTIMIZER: int = 0;";
    assert!(src.contains(line), "the program sets OPTIMIZER");
    src.replace(line, &format!("const OPTIMIZER: int = {optimizer};"))
}

fn with_batches(src: &str, batches: usize) -> String {
    let line = "const BATCHES: int = 31;";
    assert!(src.contains(line), "the program sets BATCHES");
    src.replace(line, &format!("const BATCHES: int = {batches};"))
}

pub fn run_all(filter: &str) {
    let epoch = filter == "networks-epoch";
    // `bench networks-settings`: only the in-process / gRPC / WAN comparison; with a suffix
    // (`networks-settings-network_c`), only the networks whose name contains it.
    let settings_of = filter.strip_prefix("networks-settings");
    let only_settings = settings_of.is_some();
    if !("networks".contains(filter) || epoch || only_settings) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data");
    let scratch = std::env::temp_dir().join(format!("tfe-bench-networks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&root, &scratch);
    for (name, src, theirs, weights, many) in NETWORKS {
        let theirs = theirs.iter();
        for (k, (file, rows, cols)) in weights.iter().enumerate() {
            write_weights(&scratch, file, *rows, *cols, 17 + k as u64);
        }
        if epoch {
            for (optimizer, value) in OPTIMIZERS {
                let r = run_in_child(&with_optimizer(src, value), &scratch);
                let correct = r
                    .printed
                    .iter()
                    .find(|(p, _)| p == "analyst")
                    .map_or("?".to_string(), |(_, l)| l.clone());
                println!(
                    "bench epoch-{name}-{optimizer} {:.3} {} {}  (one epoch of 31 batches of 128; held-out accuracy {correct}/1000; peak resident {})",
                    r.seconds,
                    r.rounds.iter().max().unwrap_or(&0),
                    r.bytes.iter().max().unwrap_or(&0),
                    r.peak_rss.map_or("unknown".to_string(), |p| format!(
                        "{:.0} MB",
                        p as f64 / 1e6
                    )),
                );
            }
            continue;
        }
        if only_settings {
            continue;
        }
        // Every optimizer on aby3; SGD on the other protocols too.
        let runs = OPTIMIZERS
            .iter()
            .zip(theirs)
            .map(|(o, t)| {
                let note = format!(
                    "the original system's table, seconds per batch on three 4-core machines: {t}"
                );
                ("aby3", o, note)
            })
            .chain(PROTOCOLS[1..].iter().map(|p| {
                let note = format!("on {p}, s2 dealing; compare with the aby3 SGD row");
                (*p, &OPTIMIZERS[0], note)
            }));
        for (protocol, (optimizer, value), theirs) in runs {
            let src = on_protocol(&with_optimizer(src, *value), protocol);
            let label = match protocol {
                "aby3" => format!("train-{name}-{optimizer}"),
                other => format!("{other}-train-{name}-{optimizer}"),
            };
            // Each in a process of its own, so that its peak memory is its own.
            let one = run_in_child(&with_batches(&src, 1), &scratch);
            let three = run_in_child(&with_batches(&src, *many), &scratch);
            let extra = (*many - 1) as f64;
            let per = |a: &[u64], b: &[u64]| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| y.saturating_sub(*x) / (*many as u64 - 1))
                    .max()
                    .unwrap_or(0)
            };
            let difference = (three.seconds - one.seconds) / extra;
            println!(
                "bench {label} {:.4} {} {}  (per batch of 128, the median lap of {many} batches; from the difference of runs of 1 and {many} batches ({:.2} s and {:.2} s): {difference:.4} s; peak resident {}; {theirs})",
                crate::network::median(&three.laps).unwrap_or(difference),
                per(&one.rounds, &three.rounds),
                per(&one.bytes, &three.bytes),
                one.seconds,
                three.seconds,
                three.peak_rss.map_or("unknown".to_string(), |p| format!(
                    "{:.0} MB",
                    p as f64 / 1e6
                )),
            );
        }
    }
    if !epoch {
        let which = settings_of.unwrap_or_default().trim_start_matches('-');
        settings(&scratch, which);
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
