//! The kernel IR: a fused chain of elementwise operations over equally long arrays.
//!
//! A kernel reads `inputs` arrays of `n` words each, evaluates its instructions once per
//! element, and writes one word per element to each of its outputs. Words are `u64` ring
//! elements with wrapping arithmetic, bit-sliced booleans (64 per word: `and`, `xor`, `not`,
//! shifts), or the bits of an `f64` (party-local plaintext work); or, in a wide kernel (its
//! inputs [`Ty::U128`]), `u128` elements of a 128-bit ring with the same integer operations.
//! Every instruction has one meaning on every element, so the interpreter and the compiled code
//! agree bit for bit.

/// A value of the kernel: the index of the instruction that computes it.
pub type Val = u32;

/// What a word holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    U64,
    F64,
    /// A 128-bit ring element (wide kernels only: no `f64` and no constants there).
    U128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inst {
    /// Element `i` of input array `k`.
    Input(u32),
    /// A constant word (an `f64`'s bits for an `F64` value).
    Const(u64, Ty),
    /// Wrapping integer arithmetic (`u64`, or `u128` in a wide kernel).
    Add(Val, Val),
    Sub(Val, Val),
    Mul(Val, Val),
    Neg(Val),
    /// Bitwise, on integer words (bit-sliced booleans).
    And(Val, Val),
    Or(Val, Val),
    Xor(Val, Val),
    Not(Val),
    /// Shifts by a constant below the word's width: logical left and right, arithmetic right.
    Shl(Val, u8),
    Shr(Val, u8),
    Sar(Val, u8),
    /// IEEE double arithmetic.
    FAdd(Val, Val),
    FSub(Val, Val),
    FMul(Val, Val),
    FDiv(Val, Val),
    FNeg(Val),
}

impl Inst {
    /// The type of the value this instruction computes, given its operands' types.
    pub fn ty(&self, types: &[Ty]) -> Ty {
        match *self {
            Inst::Input(_) => Ty::U64, // fixed by the kernel's input types, see Kernel::types
            Inst::Const(_, t) => t,
            Inst::FAdd(..) | Inst::FSub(..) | Inst::FMul(..) | Inst::FDiv(..) | Inst::FNeg(_) => {
                Ty::F64
            }
            // An integer operation has its first operand's type (`check` makes them agree).
            _ => self
                .operands()
                .first()
                .and_then(|v| types.get(*v as usize))
                .copied()
                .unwrap_or(Ty::U64),
        }
    }

    fn operands(&self) -> Vec<Val> {
        match *self {
            Inst::Input(_) | Inst::Const(..) => vec![],
            Inst::Neg(a)
            | Inst::Not(a)
            | Inst::FNeg(a)
            | Inst::Shl(a, _)
            | Inst::Shr(a, _)
            | Inst::Sar(a, _) => vec![a],
            Inst::Add(a, b)
            | Inst::Sub(a, b)
            | Inst::Mul(a, b)
            | Inst::And(a, b)
            | Inst::Or(a, b)
            | Inst::Xor(a, b)
            | Inst::FAdd(a, b)
            | Inst::FSub(a, b)
            | Inst::FMul(a, b)
            | Inst::FDiv(a, b) => vec![a, b],
        }
    }
}

/// A fused elementwise kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// The type of each input array.
    pub inputs: Vec<Ty>,
    pub body: Vec<Inst>,
    /// The values written to the output arrays, in order.
    pub outputs: Vec<Val>,
}

impl Kernel {
    /// Checks that operands come before their use, inputs and shifts are in range, and every
    /// operation gets operands of its type. Returns the type of every value.
    pub fn check(&self) -> Result<Vec<Ty>, String> {
        let wide = self.is_wide();
        if wide && self.inputs.iter().any(|t| *t != Ty::U128) {
            return Err("a wide kernel's inputs are all U128".into());
        }
        let mut types: Vec<Ty> = Vec::with_capacity(self.body.len());
        for (i, inst) in self.body.iter().enumerate() {
            for v in inst.operands() {
                if v as usize >= i {
                    return Err(format!(
                        "instruction {i} uses value {v} before it is computed"
                    ));
                }
            }
            let bits = if wide { 128 } else { 64 };
            let t = match *inst {
                Inst::Input(k) => *self.inputs.get(k as usize).ok_or_else(|| {
                    format!("instruction {i} reads input {k} of {}", self.inputs.len())
                })?,
                Inst::Shl(_, s) | Inst::Shr(_, s) | Inst::Sar(_, s) if u32::from(s) >= bits => {
                    return Err(format!("instruction {i} shifts by {s}"));
                }
                Inst::Const(..) if wide => {
                    return Err(format!("instruction {i}: a wide kernel has no constants"));
                }
                Inst::Const(_, Ty::U128) => {
                    return Err(format!("instruction {i}: a U128 constant"));
                }
                other => other.ty(&types),
            };
            let want = match inst {
                Inst::FAdd(..)
                | Inst::FSub(..)
                | Inst::FMul(..)
                | Inst::FDiv(..)
                | Inst::FNeg(_) => Some(Ty::F64),
                Inst::Input(_) | Inst::Const(..) => None,
                _ if wide => Some(Ty::U128),
                _ => Some(Ty::U64),
            };
            if let Some(want) = want {
                for v in inst.operands() {
                    if types[v as usize] != want {
                        return Err(format!(
                            "instruction {i} ({inst:?}) takes {want:?} operands"
                        ));
                    }
                }
            }
            types.push(t);
        }
        for &o in &self.outputs {
            if o as usize >= self.body.len() {
                return Err(format!("output value {o} does not exist"));
            }
        }
        Ok(types)
    }

    /// Whether the kernel works on 128-bit words (its inputs are [`Ty::U128`]; its arrays hold
    /// `u128`).
    pub fn is_wide(&self) -> bool {
        self.inputs.contains(&Ty::U128)
    }
}

/// Evaluates one instruction on words.
#[inline(always)]
pub fn eval(inst: Inst, values: &[u64], inputs: &[&[u64]], i: usize) -> u64 {
    let v = |x: Val| values[x as usize];
    let f = |x: Val| f64::from_bits(values[x as usize]);
    match inst {
        Inst::Input(k) => inputs[k as usize][i],
        Inst::Const(c, _) => c,
        Inst::Add(a, b) => v(a).wrapping_add(v(b)),
        Inst::Sub(a, b) => v(a).wrapping_sub(v(b)),
        Inst::Mul(a, b) => v(a).wrapping_mul(v(b)),
        Inst::Neg(a) => v(a).wrapping_neg(),
        Inst::And(a, b) => v(a) & v(b),
        Inst::Or(a, b) => v(a) | v(b),
        Inst::Xor(a, b) => v(a) ^ v(b),
        Inst::Not(a) => !v(a),
        Inst::Shl(a, s) => v(a) << s,
        Inst::Shr(a, s) => v(a) >> s,
        Inst::Sar(a, s) => ((v(a) as i64) >> s) as u64,
        Inst::FAdd(a, b) => (f(a) + f(b)).to_bits(),
        Inst::FSub(a, b) => (f(a) - f(b)).to_bits(),
        Inst::FMul(a, b) => (f(a) * f(b)).to_bits(),
        Inst::FDiv(a, b) => (f(a) / f(b)).to_bits(),
        Inst::FNeg(a) => (-f(a)).to_bits(),
    }
}

/// Evaluates one instruction on 128-bit words (a wide kernel: integer operations only).
#[inline(always)]
pub fn eval128(inst: Inst, values: &[u128], inputs: &[&[u128]], i: usize) -> u128 {
    let v = |x: Val| values[x as usize];
    match inst {
        Inst::Input(k) => inputs[k as usize][i],
        Inst::Const(c, _) => u128::from(c),
        Inst::Add(a, b) => v(a).wrapping_add(v(b)),
        Inst::Sub(a, b) => v(a).wrapping_sub(v(b)),
        Inst::Mul(a, b) => v(a).wrapping_mul(v(b)),
        Inst::Neg(a) => v(a).wrapping_neg(),
        Inst::And(a, b) => v(a) & v(b),
        Inst::Or(a, b) => v(a) | v(b),
        Inst::Xor(a, b) => v(a) ^ v(b),
        Inst::Not(a) => !v(a),
        Inst::Shl(a, s) => v(a) << s,
        Inst::Shr(a, s) => v(a) >> s,
        Inst::Sar(a, s) => ((v(a) as i128) >> s) as u128,
        // `check` refuses floating point in a wide kernel.
        Inst::FAdd(..) | Inst::FSub(..) | Inst::FMul(..) | Inst::FDiv(..) | Inst::FNeg(_) => 0,
    }
}

/// [`interpret`] of a wide kernel: `inputs` are `n` 128-bit words each.
pub fn interpret128(kernel: &Kernel, inputs: &[&[u128]], n: usize) -> Vec<Vec<u128>> {
    element_by_element(kernel, inputs, n, eval128)
}

/// The reference: runs `kernel` element by element. `inputs` are `n` words each; returns the
/// outputs.
pub fn interpret(kernel: &Kernel, inputs: &[&[u64]], n: usize) -> Vec<Vec<u64>> {
    element_by_element(kernel, inputs, n, eval)
}

/// Every instruction of `kernel` for element 0, then 1, … by `eval`, over words `T`.
fn element_by_element<T: Copy + Default>(
    kernel: &Kernel,
    inputs: &[&[T]],
    n: usize,
    eval: impl Fn(Inst, &[T], &[&[T]], usize) -> T,
) -> Vec<Vec<T>> {
    let mut outputs = vec![vec![T::default(); n]; kernel.outputs.len()];
    let mut values = vec![T::default(); kernel.body.len()];
    for i in 0..n {
        for (j, inst) in kernel.body.iter().enumerate() {
            values[j] = eval(*inst, &values, inputs, i);
        }
        for (out, &o) in outputs.iter_mut().zip(&kernel.outputs) {
            out[i] = values[o as usize];
        }
    }
    outputs
}
