//! The compiled code against the interpreter: random kernels on random data, bit for bit,
//! including wrap-around, shifts by 0 and 63 (127 in wide kernels), NaNs and infinities, and
//! empty arrays; 64-bit kernels and wide (128-bit) ones.

use proptest::prelude::*;
use tfe_jit::{Inst, Kernel, Mode, Ty, interpret, interpret128, kernels};

/// A random well-typed kernel: `inputs` input types, then random instructions over earlier
/// values of the right type.
fn kernel_strategy() -> impl Strategy<Value = Kernel> {
    (
        prop::collection::vec(prop::bool::ANY, 1..4),
        prop::collection::vec((0u8..18, any::<u32>(), any::<u32>(), any::<u64>()), 1..24),
        prop::collection::vec(any::<u32>(), 1..3),
    )
        .prop_map(|(input_f64, ops, outs)| {
            let inputs: Vec<Ty> = input_f64
                .iter()
                .map(|f| if *f { Ty::F64 } else { Ty::U64 })
                .collect();
            let mut body: Vec<Inst> = Vec::new();
            let mut types: Vec<Ty> = Vec::new();
            for (k, t) in inputs.iter().enumerate() {
                body.push(Inst::Input(k as u32));
                types.push(*t);
            }
            // Make sure both types exist to pick from.
            body.push(Inst::Const(0x8000_0000_0000_0001, Ty::U64));
            types.push(Ty::U64);
            body.push(Inst::Const(1.5f64.to_bits(), Ty::F64));
            types.push(Ty::F64);
            for (op, a, b, c) in ops {
                let pick = |ty: Ty, seed: u32| -> u32 {
                    let candidates: Vec<u32> = (0..types.len() as u32)
                        .filter(|&v| types[v as usize] == ty)
                        .collect();
                    candidates[seed as usize % candidates.len()]
                };
                let shift = [0u8, 1, 13, 31, 32, 63][(c % 6) as usize];
                let (inst, ty) = match op {
                    0 => (Inst::Add(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    1 => (Inst::Sub(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    2 => (Inst::Mul(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    3 => (Inst::Neg(pick(Ty::U64, a)), Ty::U64),
                    4 => (Inst::And(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    5 => (Inst::Or(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    6 => (Inst::Xor(pick(Ty::U64, a), pick(Ty::U64, b)), Ty::U64),
                    7 => (Inst::Not(pick(Ty::U64, a)), Ty::U64),
                    8 => (Inst::Shl(pick(Ty::U64, a), shift), Ty::U64),
                    9 => (Inst::Shr(pick(Ty::U64, a), shift), Ty::U64),
                    10 => (Inst::Sar(pick(Ty::U64, a), shift), Ty::U64),
                    11 => (Inst::Const(c, Ty::U64), Ty::U64),
                    12 => (Inst::FAdd(pick(Ty::F64, a), pick(Ty::F64, b)), Ty::F64),
                    13 => (Inst::FSub(pick(Ty::F64, a), pick(Ty::F64, b)), Ty::F64),
                    14 => (Inst::FMul(pick(Ty::F64, a), pick(Ty::F64, b)), Ty::F64),
                    15 => (Inst::FDiv(pick(Ty::F64, a), pick(Ty::F64, b)), Ty::F64),
                    16 => (Inst::FNeg(pick(Ty::F64, a)), Ty::F64),
                    _ => (Inst::Const(f64::from_bits(c).to_bits(), Ty::F64), Ty::F64),
                };
                body.push(inst);
                types.push(ty);
            }
            let n = body.len() as u32;
            let outputs = outs.iter().map(|o| n - 1 - (o % n.min(4))).collect();
            Kernel {
                inputs,
                body,
                outputs,
            }
        })
}

/// A random wide kernel: 128-bit inputs and the integer instructions over them.
fn wide_kernel_strategy() -> impl Strategy<Value = Kernel> {
    (
        1usize..5,
        prop::collection::vec((0u8..11, any::<u32>(), any::<u32>(), any::<u8>()), 1..24),
        prop::collection::vec(any::<u32>(), 1..3),
    )
        .prop_map(|(n_inputs, ops, outs)| {
            let inputs = vec![Ty::U128; n_inputs];
            let mut body: Vec<Inst> = (0..n_inputs as u32).map(Inst::Input).collect();
            for (op, a, b, c) in ops {
                let m = body.len() as u32;
                let (x, y) = (a % m, b % m);
                let shift = [0u8, 1, 13, 63, 64, 65, 100, 127][(c % 8) as usize];
                body.push(match op {
                    0 => Inst::Add(x, y),
                    1 => Inst::Sub(x, y),
                    2 => Inst::Mul(x, y),
                    3 => Inst::Neg(x),
                    4 => Inst::And(x, y),
                    5 => Inst::Or(x, y),
                    6 => Inst::Xor(x, y),
                    7 => Inst::Not(x),
                    8 => Inst::Shl(x, shift),
                    9 => Inst::Shr(x, shift),
                    _ => Inst::Sar(x, shift),
                });
            }
            let n = body.len() as u32;
            let outputs = outs.iter().map(|o| n - 1 - (o % n.min(4))).collect();
            Kernel {
                inputs,
                body,
                outputs,
            }
        })
}

fn data_strategy() -> impl Strategy<Value = (usize, Vec<u64>)> {
    (
        prop::sample::select(vec![0usize, 1, 3, 4, 5, 7, 64, 101]),
        prop::collection::vec(
            prop_oneof![
                any::<u64>(),
                Just(0u64),
                Just(u64::MAX),
                Just(1u64 << 63),
                Just(f64::NAN.to_bits()),
                Just(f64::INFINITY.to_bits()),
                Just((-0.0f64).to_bits()),
                (-1e6f64..1e6).prop_map(f64::to_bits),
            ],
            4 * 101,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn compiled_kernels_match_the_interpreter(kernel in kernel_strategy(), (n, words) in data_strategy()) {
        kernel.check().unwrap();
        let inputs: Vec<Vec<u64>> = (0..kernel.inputs.len())
            .map(|k| words[k * 101..k * 101 + n].to_vec())
            .collect();
        let refs: Vec<&[u64]> = inputs.iter().map(|v| v.as_slice()).collect();
        let expected = interpret(&kernel, &refs, n);
        let mut got = vec![vec![0u64; n]; kernel.outputs.len()];
        {
            let mut outs: Vec<&mut [u64]> = got.iter_mut().map(|v| v.as_mut_slice()).collect();
            kernels().run(Mode::Jit, &kernel, &refs, &mut outs).unwrap();
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn compiled_wide_kernels_match_the_interpreter(kernel in wide_kernel_strategy(), (n, words) in data_strategy(), high in any::<u64>()) {
        kernel.check().unwrap();
        // 128-bit words from the 64-bit data: each with another word as its high half (the
        // extremes among them), or with `high`.
        let word = |i: usize| (words[(i * 7 + 3) % words.len()] as u128) << 64 | (words[i] ^ high) as u128;
        let inputs: Vec<Vec<u128>> = (0..kernel.inputs.len())
            .map(|k| (k * 101..k * 101 + n).map(word).collect())
            .collect();
        let refs: Vec<&[u128]> = inputs.iter().map(|v| v.as_slice()).collect();
        let expected = interpret128(&kernel, &refs, n);
        for mode in [Mode::Jit, Mode::Interpret] {
            let mut got = vec![vec![0u128; n]; kernel.outputs.len()];
            {
                let mut outs: Vec<&mut [u128]> = got.iter_mut().map(|v| v.as_mut_slice()).collect();
                kernels().run128(mode, &kernel, &refs, &mut outs).unwrap();
            }
            prop_assert_eq!(&got, &expected, "{:?}", mode);
        }
    }
}

/// A wide kernel is refused on 64-bit words and a 64-bit one on 128-bit words; a wide kernel
/// has no floating point and no constants, and shifts below 128.
#[test]
fn wide_kernels_are_checked() {
    let wide = Kernel {
        inputs: vec![Ty::U128, Ty::U128],
        body: vec![
            Inst::Input(0),
            Inst::Input(1),
            Inst::Shl(0, 127),
            Inst::Add(2, 1),
        ],
        outputs: vec![3],
    };
    wide.check().unwrap();
    let mut out = vec![0u64; 1];
    assert!(
        kernels()
            .run(Mode::Jit, &wide, &[&[1], &[2]], &mut [&mut out])
            .is_err()
    );
    let narrow = Kernel {
        inputs: vec![Ty::U64],
        body: vec![Inst::Input(0)],
        outputs: vec![0],
    };
    let mut out = vec![0u128; 1];
    assert!(
        kernels()
            .run128(Mode::Jit, &narrow, &[&[1]], &mut [&mut out])
            .is_err()
    );
    for body in [
        vec![Inst::Input(0), Inst::Shl(0, 128)],
        vec![Inst::Input(0), Inst::FAdd(0, 0)],
        vec![Inst::Input(0), Inst::Const(1, Ty::U64)],
    ] {
        let bad = Kernel {
            inputs: vec![Ty::U128],
            body,
            outputs: vec![1],
        };
        assert!(bad.check().is_err(), "{bad:?}");
    }
    let mixed = Kernel {
        inputs: vec![Ty::U128, Ty::U64],
        body: vec![Inst::Input(0)],
        outputs: vec![0],
    };
    assert!(mixed.check().is_err());
    // The largest shifts, compiled.
    let mut out = vec![0u128; 3];
    let a = [u128::MAX, 1u128 << 127, 3];
    let shifts = Kernel {
        inputs: vec![Ty::U128],
        body: vec![Inst::Input(0), Inst::Sar(0, 127), Inst::Shr(1, 64)],
        outputs: vec![2],
    };
    kernels()
        .run128(Mode::Jit, &shifts, &[&a], &mut [&mut out])
        .unwrap();
    assert_eq!(out, vec![u128::MAX >> 64, u128::MAX >> 64, 0]);
}

#[test]
fn large_arrays_split_across_threads_give_the_same_words() {
    let kernel = Kernel {
        inputs: vec![Ty::U64, Ty::U64],
        body: vec![
            Inst::Input(0),
            Inst::Input(1),
            Inst::Mul(0, 1),
            Inst::Shr(2, 16),
            Inst::Add(3, 0),
            Inst::Xor(4, 1),
        ],
        outputs: vec![5, 2],
    };
    let n = 300_001;
    let a: Vec<u64> = (0..n as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let b: Vec<u64> = (0..n as u64).map(|i| i ^ 0xdead_beef).collect();
    let expected = interpret(&kernel, &[&a, &b], n);
    for mode in [Mode::Jit, Mode::Interpret] {
        let mut o1 = vec![0u64; n];
        let mut o2 = vec![0u64; n];
        kernels()
            .run(mode, &kernel, &[&a, &b], &mut [&mut o1, &mut o2])
            .unwrap();
        assert_eq!(vec![o1, o2], expected, "{mode:?}");
    }
}

#[test]
fn ill_formed_kernels_are_refused() {
    let bad = Kernel {
        inputs: vec![Ty::U64],
        body: vec![Inst::Input(0), Inst::Shl(0, 64)],
        outputs: vec![1],
    };
    assert!(bad.check().unwrap_err().contains("shifts by 64"));
    let bad = Kernel {
        inputs: vec![Ty::U64],
        body: vec![Inst::Input(0), Inst::FAdd(0, 0)],
        outputs: vec![1],
    };
    assert!(bad.check().is_err());
    let mut out = vec![0u64; 2];
    let ok = Kernel {
        inputs: vec![Ty::U64],
        body: vec![Inst::Input(0)],
        outputs: vec![0],
    };
    assert!(
        kernels()
            .run(Mode::Jit, &ok, &[&[1, 2, 3]], &mut [&mut out])
            .is_err()
    );
}
