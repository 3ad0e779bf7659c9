//! How fused kernels (tfe-jit) run in this process: compiled (the default) or interpreted
//! (`--no-jit`, [`set_jit`]), or not at all (benchmarks, [`set_unfused`]). The protocols' local
//! chains (e.g. `protocol::aby3`'s product and AND kernels) and the program's chains
//! (`crate::fuse`) run through here: one pass over memory where op-by-op ndarray code makes one
//! per operation (and allocates one array per operation).
//!
//! [`run`] returns `None` when its inputs are not equally shaped contiguous arrays (a broadcast,
//! a view); the caller then runs its op-by-op code, which gives the same words.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::IxDyn;
use tfe_jit::{Kernel, Mode};

use crate::ring::{RingTensor, Word};

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

/// Runs `kernel` (one output; a wide kernel for 128-bit words) on `inputs` if they are all
/// contiguous arrays of one shape.
pub(crate) fn run<W: Word>(kernel: &Kernel, inputs: &[&RingTensor<W>]) -> Option<RingTensor<W>> {
    if UNFUSED.load(Ordering::SeqCst) {
        return None;
    }
    let shape = inputs.first()?.shape();
    if inputs.iter().any(|t| t.shape() != shape) {
        return None;
    }
    let slices: Vec<&[W]> = inputs.iter().map(|t| t.as_slice()).collect::<Option<_>>()?;
    let mut out = vec![W::ZERO; slices[0].len()];
    W::run_kernel(mode(), kernel, &slices, &mut [&mut out]).ok()?;
    RingTensor::from_shape_vec(IxDyn(shape), out).ok()
}
