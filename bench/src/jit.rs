//! The JIT against op-by-op ndarray on a 6-op elementwise chain over 10^6 u64 (the local part of
//! a replicated product with its zero-share and a truncation step), and both against this
//! machine's memory bandwidth (a memcpy of the same bytes); and the compile time of a kernel.

use std::time::Instant;

use ndarray::Array1;
use tfe_jit::{Inst, Kernel, Mode, Ty, kernels};

use crate::median_time;

/// z = (x0 * (y0 + y1) + x1 * y0 + alpha) >> 16: 6 operations, 5 inputs, 1 output.
fn chain() -> Kernel {
    Kernel {
        inputs: vec![Ty::U64; 5],
        body: vec![
            Inst::Input(0), // x0
            Inst::Input(1), // x1
            Inst::Input(2), // y0
            Inst::Input(3), // y1
            Inst::Input(4), // alpha
            Inst::Add(2, 3),
            Inst::Mul(0, 5),
            Inst::Mul(1, 2),
            Inst::Add(6, 7),
            Inst::Add(8, 4),
            Inst::Shr(9, 16),
        ],
        outputs: vec![10],
    }
}

pub fn run() {
    let n = 1_000_000;
    let arrays: Vec<Vec<u64>> = (0..5u64)
        .map(|k| {
            (0..n as u64)
                .map(|i| (i ^ k).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect()
        })
        .collect();
    let kernel = chain();

    // Compile time: a fresh kernel (a different constant shift each time) per sample.
    let mut compile = Vec::new();
    for s in 0..20u8 {
        let mut k = kernel.clone();
        k.body[10] = Inst::Shr(9, 17 + s);
        let one = [0u64; 1];
        let ins: Vec<&[u64]> = vec![&one; 5];
        let mut out = [0u64; 1];
        let t = Instant::now();
        kernels()
            .run(Mode::Jit, &k, &ins, &mut [&mut out])
            .expect("compiles");
        compile.push(t.elapsed());
    }
    compile.sort();
    let compile_us = compile[compile.len() / 2].as_secs_f64() * 1e6;

    let ins: Vec<&[u64]> = arrays.iter().map(|a| a.as_slice()).collect();
    let mut out = vec![0u64; n];
    let (jit, _) = median_time(10, || {
        kernels()
            .run(Mode::Jit, &kernel, &ins, &mut [&mut out])
            .expect("runs");
    });
    let (interp, _) = median_time(3, || {
        kernels()
            .run(Mode::Interpret, &kernel, &ins, &mut [&mut out])
            .expect("runs");
    });
    let nd: Vec<Array1<u64>> = arrays.iter().map(|a| Array1::from(a.clone())).collect();
    let (op_by_op, _) = median_time(10, || {
        let s = &nd[2] + &nd[3];
        let t = &nd[0] * &s;
        let u = &nd[1] * &nd[2];
        let v = &t + &u;
        let w = &v + &nd[4];
        w.mapv(|x| x >> 16)
    });
    // ndarray's `*` and `+` on u64 panic on overflow in debug builds only; the benchmark is a
    // release build, where they wrap like the ring.
    // memcpy moving as many bytes as the kernel (48 MB: 24 MB read, 24 MB written), so that
    // neither fits in the caches more than the other.
    let src: Vec<u64> = arrays.iter().take(3).flatten().copied().collect();
    let mut dst = vec![0u64; src.len()];
    let (memcpy, _) = median_time(10, || {
        dst.copy_from_slice(&src);
        dst[0]
    });
    let bytes = (6 * 8 * n) as f64; // 5 arrays read, 1 written
    let memcpy_gbs = (2 * 8 * src.len()) as f64 / memcpy.as_secs_f64() / 1e9;
    let jit_gbs = bytes / jit.as_secs_f64() / 1e9;
    println!(
        "bench jit-chain6-1e6 {:.6} - -  (JIT {:.2} GB/s over 48 MB; op-by-op ndarray {:.6} s: {:.1}x slower; interpreter {:.6} s; memcpy {:.1} GB/s: JIT at {:.0}% of it; compile {:.0} us per kernel)",
        jit.as_secs_f64(),
        jit_gbs,
        op_by_op.as_secs_f64(),
        op_by_op.as_secs_f64() / jit.as_secs_f64(),
        interp.as_secs_f64(),
        memcpy_gbs,
        100.0 * jit_gbs / memcpy_gbs,
        compile_us,
    );
}

/// The same chain and an AND of the carry tree (shift 0) as wide kernels over 10^6 u128 words,
/// against op-by-op ndarray on u128.
pub fn run_wide() {
    let n = 1_000_000;
    let arrays: Vec<Vec<u128>> = (0..5u128)
        .map(|k| {
            (0..n as u128)
                .map(|i| (i ^ k).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834))
                .collect()
        })
        .collect();
    let mut chain = chain();
    chain.inputs = vec![Ty::U128; 5];
    let and = Kernel {
        inputs: vec![Ty::U128; 5],
        body: vec![
            Inst::Input(0),
            Inst::Input(1),
            Inst::Input(2),
            Inst::Input(3),
            Inst::Input(4),
            Inst::Xor(2, 3),
            Inst::And(0, 5),
            Inst::And(1, 2),
            Inst::Xor(6, 7),
            Inst::Xor(8, 4),
        ],
        outputs: vec![9],
    };
    let ins: Vec<&[u128]> = arrays.iter().map(|a| a.as_slice()).collect();
    let nd: Vec<Array1<u128>> = arrays.iter().map(|a| Array1::from(a.clone())).collect();
    let mut out = vec![0u128; n];
    for (name, kernel) in [("chain6", &chain), ("and", &and)] {
        let (jit, _) = median_time(10, || {
            kernels()
                .run128(Mode::Jit, kernel, &ins, &mut [&mut out])
                .expect("runs");
        });
        let (op_by_op, _) = median_time(10, || {
            if name == "and" {
                let s = &nd[2] ^ &nd[3];
                let t = &nd[0] & &s;
                let u = &nd[1] & &nd[2];
                let v = &t ^ &u;
                &v ^ &nd[4]
            } else {
                let s = &nd[2] + &nd[3];
                let t = &nd[0] * &s;
                let u = &nd[1] * &nd[2];
                let v = &t + &u;
                let w = &v + &nd[4];
                w.mapv(|x| x >> 16)
            }
        });
        println!(
            "bench jit-wide-{name}-1e6 {:.6} - -  (a wide kernel over 10^6 u128; op-by-op ndarray {:.6} s: {:.2}x)",
            jit.as_secs_f64(),
            op_by_op.as_secs_f64(),
            op_by_op.as_secs_f64() / jit.as_secs_f64()
        );
    }
}
