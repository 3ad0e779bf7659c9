//! The fusion pass: chains of elementwise ops at a party and on shares are found and run as one
//! kernel, compiled or interpreted (`--no-jit`), with the results of running them op by op.
//! Under each protocol.

#[macro_use]
mod support;

use std::process::Command;

use support::Protocol;

per_protocol!(
    chains_are_planned_at_parties_and_on_shares,
    fused_chains_compute_what_the_ops_compute,
);

const PROGRAM: &str = "
party alice, bob, s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let x: fixed[6, 2] @alice = read_csv(\"x.csv\");
    let y: fixed[6, 2] @alice = read_csv(\"y.csv\");
    let z: fixed[6, 2] @alice = (x - y) * x + y / 4.0 - x;
    print(z);
    let xs: fixed[6, 2] @rep = x;
    let ys: fixed[6, 2] @rep = y;
    let w = xs + ys - (xs - ys) + xs;
    print(reveal(w, to: bob));
}
";

fn compile(protocol: Protocol) -> tfe_ir::Program {
    support::wire::compile(&protocol.switch(PROGRAM))
}

fn chains_are_planned_at_parties_and_on_shares(protocol: Protocol) {
    let ir = compile(protocol);
    let alice = ir.parties.iter().position(|p| p == "alice").unwrap();
    let s0 = ir.parties.iter().position(|p| p == "s0").unwrap();
    let at_alice = tfe_runtime::fuse::plan(&tfe_ir::project(&ir, alice));
    assert!(
        at_alice.chains.values().any(|c| !c.shares && c.len >= 4),
        "{at_alice:?}"
    );
    let at_s0 = tfe_runtime::fuse::plan(&tfe_ir::project(&ir, s0));
    assert!(
        at_s0.chains.values().any(|c| c.shares && c.len >= 3),
        "{at_s0:?}"
    );
    // At a 128-bit placement, the chain on shares is a wide kernel (over u128 words).
    for c in at_s0.chains.values().filter(|c| c.shares) {
        assert_eq!(c.kernel.is_wide(), protocol.base() != protocol, "{c:?}");
    }
    // Temporaries stay in the kernel: fewer outputs than ops.
    for c in at_alice.chains.values().chain(at_s0.chains.values()) {
        assert!(c.outputs.len() < c.len, "{c:?}");
    }
}

fn fused_chains_compute_what_the_ops_compute(protocol: Protocol) {
    let dir = std::env::temp_dir().join(format!(
        "tfe-fusion-{}-{}",
        std::process::id(),
        protocol.name()
    ));
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let x: Vec<f64> = (0..12).map(|i| i as f64 * 0.75 - 3.0).collect();
    let y: Vec<f64> = (0..12).map(|i| 2.5 - i as f64 * 0.5).collect();
    let csv = |v: &[f64]| {
        let rows: String = v
            .chunks(2)
            .map(|r| format!("{},{}\n", r[0], r[1]))
            .collect();
        format!("a,b\n{rows}")
    };
    std::fs::write(dir.join("data/alice/x.csv"), csv(&x)).unwrap();
    std::fs::write(dir.join("data/alice/y.csv"), csv(&y)).unwrap();
    std::fs::write(dir.join("fuse.tfe"), protocol.switch(PROGRAM)).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
            .arg("run")
            .arg(dir.join("fuse.tfe"))
            .args(["--seed", "4"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let jit = run(&[]);
    assert_eq!(
        jit,
        run(&["--no-jit"]),
        "compiled and interpreted kernels agree"
    );
    let lines: Vec<Vec<f64>> = jit
        .lines()
        .map(|l| {
            l.split("] ")
                .nth(1)
                .unwrap()
                .split(", ")
                .map(|v| v.trim_matches(|c| c == '[' || c == ']').parse().unwrap())
                .collect()
        })
        .collect();
    let z: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b) * a + b / 4.0 - a)
        .collect();
    assert_eq!(
        lines[0], z,
        "plaintext: the same IEEE operations in the same order"
    );
    let w: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b - (a - b) + a).collect();
    for (g, e) in lines[1].iter().zip(&w) {
        assert!((g - e).abs() <= 2f64.powi(-15), "{g} vs {e}");
    }
}
