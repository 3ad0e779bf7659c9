//! Fused elementwise kernels for the tfe runtime.
//!
//! Secure computation spends much of its local time in chains of elementwise ring arithmetic
//! (the local part of a replicated product, truncation, polynomials, the adder of comparisons).
//! Done op by op, each step is a pass over memory; a [`Kernel`] is the whole chain, run as one
//! loop.
//!
//! ```text
//! Kernel (kernel.rs) -[Kernels::run]-> cached machine code (codegen.rs, Cranelift)
//!                                   \-> the interpreter (kernel.rs), the reference and --no-jit
//! ```
//!
//! The interpreter and the compiled code agree bit for bit (differential tests in
//! `tests/differential.rs`). Very large arrays are split in two halves run on two threads.

pub mod codegen;
pub mod kernel;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use kernel::{Inst, Kernel, Ty, Val, interpret, interpret128};

use codegen::{Jit, KernelFn};

/// The reference evaluation of a kernel over words `T` ([`interpret`], [`interpret128`]).
type Interpreter<T> = fn(&Kernel, &[&[T]], usize) -> Vec<Vec<T>>;

/// How kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compiled with Cranelift (the default where it wins).
    Jit,
    /// The interpreter (`--no-jit`).
    Interpret,
}

/// Arrays at least this long are split between two threads.
/// (Measured on 2 cores: a 6-op chain over 10^6 words gains nothing from a second thread, and
/// with three parties in one process the extra threads only contend.)
const PARALLEL_MIN: usize = 1 << 22;

/// Compiled kernels, each compiled once per process (keyed by the kernel's structure).
pub struct Kernels {
    jit: Mutex<Option<Jit>>,
    cache: Mutex<HashMap<Kernel, Compiled>>,
}

#[derive(Clone, Copy)]
struct Compiled(KernelFn);

// The function pointers point into code owned by the `Jit` inside the process-wide `Kernels`,
// which is never dropped, so they stay valid for the life of the process.

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").finish_non_exhaustive()
    }
}

/// The process-wide kernel cache.
pub fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(|| Kernels {
        jit: Mutex::new(Jit::new().ok()),
        cache: Mutex::new(HashMap::new()),
    })
}

impl Kernels {
    /// The compiled code of `kernel`, compiling it the first time; `None` where this machine has
    /// no JIT.
    fn compiled(&self, kernel: &Kernel) -> Result<Option<KernelFn>, String> {
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(kernel)
        {
            return Ok(Some(c.0));
        }
        let types = kernel.check()?;
        let mut jit = self.jit.lock().unwrap_or_else(|p| p.into_inner());
        let Some(jit) = jit.as_mut() else {
            return Ok(None);
        };
        let f = jit.compile(kernel, &types)?;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kernel.clone(), Compiled(f));
        Ok(Some(f))
    }

    /// Runs `kernel` over `inputs` (each `n` words) into `outputs` (each `n` words).
    pub fn run(
        &self,
        mode: Mode,
        kernel: &Kernel,
        inputs: &[&[u64]],
        outputs: &mut [&mut [u64]],
    ) -> Result<(), String> {
        if kernel.is_wide() {
            return Err("a wide kernel run on 64-bit words".into());
        }
        self.run_words(mode, kernel, inputs, outputs, interpret)
    }

    /// [`Kernels::run`] of a wide kernel (inputs [`Ty::U128`]) over 128-bit words.
    pub fn run128(
        &self,
        mode: Mode,
        kernel: &Kernel,
        inputs: &[&[u128]],
        outputs: &mut [&mut [u128]],
    ) -> Result<(), String> {
        if !kernel.is_wide() {
            return Err("a 64-bit kernel run on 128-bit words".into());
        }
        self.run_words(mode, kernel, inputs, outputs, interpret128)
    }

    fn run_words<T: Copy + Send + Sync>(
        &self,
        mode: Mode,
        kernel: &Kernel,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
        interpret: Interpreter<T>,
    ) -> Result<(), String> {
        let n = outputs.first().map_or(0, |o| o.len());
        if inputs.len() != kernel.inputs.len()
            || outputs.len() != kernel.outputs.len()
            || inputs.iter().any(|i| i.len() != n)
            || outputs.iter().any(|o| o.len() != n)
        {
            return Err(format!(
                "a kernel of {} inputs and {} outputs called with {} and {} arrays of unequal lengths",
                kernel.inputs.len(),
                kernel.outputs.len(),
                inputs.len(),
                outputs.len()
            ));
        }
        let f = match mode {
            Mode::Jit => self.compiled(kernel)?,
            Mode::Interpret => None,
        };
        let run_chunk = |inputs: &[&[T]], outputs: &mut [&mut [T]]| match f {
            Some(f) => call(f, inputs, outputs),
            None => {
                kernel.check().map(|_| ())?;
                let m = outputs.first().map_or(0, |o| o.len());
                let result = interpret(kernel, inputs, m);
                for (o, r) in outputs.iter_mut().zip(result) {
                    o.copy_from_slice(&r);
                }
                Ok(())
            }
        };
        if n < PARALLEL_MIN {
            return run_chunk(inputs, outputs);
        }
        // Two halves on two threads (this machine kind has two cores).
        let half = n / 2;
        let (lo_in, hi_in): (Vec<&[T]>, Vec<&[T]>) =
            inputs.iter().map(|i| i.split_at(half)).unzip();
        let mut lo_out = Vec::new();
        let mut hi_out = Vec::new();
        for o in outputs.iter_mut() {
            let (a, b) = o.split_at_mut(half);
            lo_out.push(a);
            hi_out.push(b);
        }
        let result = Arc::new(Mutex::new(Ok(())));
        std::thread::scope(|s| {
            let r = result.clone();
            let run_chunk = &run_chunk;
            s.spawn(move || {
                let out = run_chunk(&hi_in, &mut hi_out);
                if out.is_err() {
                    *r.lock().unwrap_or_else(|p| p.into_inner()) = out;
                }
            });
            let out = run_chunk(&lo_in, &mut lo_out);
            if out.is_err() {
                *result.lock().unwrap_or_else(|p| p.into_inner()) = out;
            }
        });
        result.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn call<T>(f: KernelFn, inputs: &[&[T]], outputs: &mut [&mut [T]]) -> Result<(), String> {
    let n = outputs.first().map_or(0, |o| o.len());
    // The code addresses the arrays by the kernel's word size (8 or 16 bytes), which `run`
    // and `run128` match to `T`.
    let ins: Vec<*const u64> = inputs.iter().map(|i| i.as_ptr().cast()).collect();
    let outs: Vec<*mut u64> = outputs.iter_mut().map(|o| o.as_mut_ptr().cast()).collect();
    // SAFETY: `f` was compiled from a checked kernel with exactly `ins.len()` inputs and
    // `outs.len()` outputs (checked by `run`); it reads elements 0..n of each input and writes
    // elements 0..n of each output, and every array has `n` elements. Outputs are distinct
    // `&mut` slices, so nothing aliases a write.
    #[allow(unsafe_code, reason = "calling generated code")]
    unsafe {
        f(ins.as_ptr(), outs.as_ptr(), n as u64)
    };
    Ok(())
}
