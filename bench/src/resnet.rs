//! `bench resnet50`: ResNet-50 v1 imported from ONNX (`tfe_import`) and private inference of
//! one 224×224 image with every party in this process: the import's and the compile's times,
//! the run's seconds, rounds, bytes per party and peak memory, and the logits' error against
//! onnxruntime's.
//!
//! The model is made by `bench/tools/resnet50.py DIR` (torchvision's ResNet-50 with random
//! weights, an image and onnxruntime's logits); `TFE_RESNET50=DIR` points here. Without it the
//! workload says how to make it and is skipped.

use std::path::Path;
use std::time::Instant;

use crate::workloads::run;

pub fn run_all(filter: &str) {
    if !"resnet50".contains(filter) {
        return;
    }
    let Some(dir) = std::env::var_os("TFE_RESNET50") else {
        println!(
            "bench resnet50 - - -  (skipped: make the model with `python3 bench/tools/resnet50.py DIR` and set TFE_RESNET50=DIR)"
        );
        return;
    };
    let dir = Path::new(&dir);
    let bytes = std::fs::read(dir.join("resnet50.onnx")).expect("DIR/resnet50.onnx");
    let scratch = std::env::temp_dir().join(format!("tfe-bench-resnet50-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);

    // Import: ONNX bytes to the program and the parameter files, written as `tfec import` does.
    let t = Instant::now();
    let imported = tfe_import::import(&bytes, &tfe_import::Options::default()).expect("import");
    let translate = t.elapsed().as_secs_f64();
    drop(bytes);
    let owner = scratch.join("owner");
    let client = scratch.join("client");
    std::fs::create_dir_all(&owner).unwrap();
    std::fs::create_dir_all(&client).unwrap();
    for (name, data) in &imported.files {
        std::fs::write(owner.join(name), data).unwrap();
    }
    let import_seconds = t.elapsed().as_secs_f64();
    std::fs::copy(dir.join("input.csv"), client.join("input.csv")).unwrap();
    let program = imported.program.clone();
    let summary = imported.summary.clone();
    drop(imported);

    // Compile: every pass of the pipeline and each party's projection (the median of 3).
    let mut compile = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let ir = tfe_compiler::compile(&program, &tfe_compiler::Options::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        let programs: Vec<_> = (0..ir.parties.len())
            .map(|p| tfe_ir::project(&ir, p))
            .collect();
        compile.push(t.elapsed().as_secs_f64());
        drop(programs);
    }
    compile.sort_by(f64::total_cmp);

    let r = run(&program, &scratch);
    let got = read_row(&client.join("output.csv"));
    let want = read_row(&dir.join("expected.csv"));
    assert_eq!(got.len(), want.len(), "logits");
    let diff: f64 = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
    let max_abs = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    };
    println!(
        "bench resnet50 {:.3} {} {}  (one 224x224 image, all parties in one process; {} layers, {} parameters; import {:.2} s ({:.2} s translating, the rest writing {} .npy files); compile {:.3} s (median of 3); peak resident {}; logits vs onnxruntime: relative L2 error {:.2e}, max abs {:.2e}, top-1 {}; the original system: 13.55 s per image, 57.79 s to build the graph, three 4-core machines)",
        r.seconds,
        r.rounds.iter().max().unwrap_or(&0),
        r.bytes.iter().max().unwrap_or(&0),
        summary.layers,
        summary.parameters,
        import_seconds,
        translate,
        program.matches("read_npy(").count(),
        compile[1],
        r.peak_rss.map_or("unknown".to_string(), |p| format!(
            "{:.2} GB",
            p as f64 / 1e9
        )),
        diff / norm,
        max_abs,
        if argmax(&got) == argmax(&want) {
            "agrees"
        } else {
            "differs"
        },
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

fn read_row(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split([',', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect()
}
