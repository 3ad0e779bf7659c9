//! The protocols' local chains as fused kernels (tfe-jit): one pass over memory where op-by-op
//! ndarray code makes one per operation (and allocates one array per operation).
//!
//! Each function returns `None` when its inputs are not equally shaped contiguous arrays (a
//! broadcast, a view); the caller then runs its op-by-op code, which gives the same words.
//! `--no-jit` ([`set_jit`]) runs the same kernels through the interpreter instead.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::IxDyn;
use tfe_jit::{Inst, Kernel, Mode, Ty, kernels};

use crate::ring::RingTensor;

static NO_JIT: AtomicBool = AtomicBool::new(false);
static UNFUSED: AtomicBool = AtomicBool::new(false);

/// Turns the JIT on (the default) or off (`--no-jit`: the interpreter runs the kernels) for
/// this process.
pub fn set_jit(on: bool) {
    NO_JIT.store(!on, Ordering::SeqCst);
}

/// For benchmarks: skip the kernels altogether and run the op-by-op ndarray code.
pub fn set_unfused(on: bool) {
    UNFUSED.store(on, Ordering::SeqCst);
}

/// How kernels run now; `None` when fused kernels are off (op by op).
pub(crate) fn current_mode() -> Option<Mode> {
    (!UNFUSED.load(Ordering::SeqCst)).then(mode)
}

fn mode() -> Mode {
    if NO_JIT.load(Ordering::SeqCst) {
        Mode::Interpret
    } else {
        Mode::Jit
    }
}

/// Runs `kernel` (one output) on `inputs` if they are all contiguous arrays of one shape.
fn run(kernel: &Kernel, inputs: &[&RingTensor]) -> Option<RingTensor> {
    if UNFUSED.load(Ordering::SeqCst) {
        return None;
    }
    let shape = inputs.first()?.shape();
    if inputs.iter().any(|t| t.shape() != shape) {
        return None;
    }
    let slices: Vec<&[u64]> = inputs.iter().map(|t| t.as_slice()).collect::<Option<_>>()?;
    let mut out = vec![0u64; slices[0].len()];
    kernels()
        .run(mode(), kernel, &slices, &mut [&mut out])
        .ok()?;
    RingTensor::from_shape_vec(IxDyn(shape), out).ok()
}

/// The local part of a replicated product plus its zero-share:
/// `x_a (y_a + y_b) + x_b y_a + alpha`.
pub fn product_local(
    xa: &RingTensor,
    xb: &RingTensor,
    ya: &RingTensor,
    yb: &RingTensor,
    alpha: &RingTensor,
) -> Option<RingTensor> {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    let kernel = KERNEL.get_or_init(|| Kernel {
        inputs: vec![Ty::U64; 5],
        body: vec![
            Inst::Input(0),
            Inst::Input(1),
            Inst::Input(2),
            Inst::Input(3),
            Inst::Input(4),
            Inst::Add(2, 3),
            Inst::Mul(0, 5),
            Inst::Mul(1, 2),
            Inst::Add(6, 7),
            Inst::Add(8, 4),
        ],
        outputs: vec![9],
    });
    run(kernel, &[xa, xb, ya, yb, alpha])
}

/// The local part of a boolean AND of bit-sliced words, with `y` shifted left by `shift` and a
/// zero-share `beta`: `(x_a & (y_a' ^ y_b')) ^ (x_b & y_a') ^ beta`.
pub fn and_local(
    xa: &RingTensor,
    xb: &RingTensor,
    ya: &RingTensor,
    yb: &RingTensor,
    beta: &RingTensor,
    shift: u32,
) -> Option<RingTensor> {
    static KERNELS: OnceLock<Vec<Kernel>> = OnceLock::new();
    let kernels = KERNELS.get_or_init(|| {
        (0..64u8)
            .map(|s| Kernel {
                inputs: vec![Ty::U64; 5],
                body: vec![
                    Inst::Input(0),
                    Inst::Input(1),
                    Inst::Input(2),
                    Inst::Input(3),
                    Inst::Input(4),
                    Inst::Shl(2, s),
                    Inst::Shl(3, s),
                    Inst::Xor(5, 6),
                    Inst::And(0, 7),
                    Inst::And(1, 5),
                    Inst::Xor(8, 9),
                    Inst::Xor(10, 4),
                ],
                outputs: vec![11],
            })
            .collect()
    });
    run(kernels.get(shift as usize)?, &[xa, xb, ya, yb, beta])
}
