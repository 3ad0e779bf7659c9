//! [`Word`]: the machine words a ring tensor holds, u64 for Z_2^64 and u128 for Z_2^128.
//!
//! The protocols, their composite steps and the shares are written once, generic over the word;
//! each width is a separate instantiation, so the 64-bit path compiles to the code it had before
//! 128-bit rings existed (its AVX-512 product included, through [`Word::matmul_into`]); fused
//! kernels run at either width ([`Word::run_kernel`]). The executor picks the instantiation
//! from the placement's ring.

use std::fmt::Debug;
use std::hash::Hash;
use std::ops::{BitAnd, BitOr, BitXor, Not, Shl, Shr};

use ndarray::ArrayD;

use crate::net::Payload;
use crate::protocol::{AnyProtocol, Protocol, Shares};
use crate::value::Value;

/// A ring element: wrapping arithmetic modulo 2^`BITS`, and the bit operations of boolean
/// sharings (one independent bit per position).
pub trait Word:
    Copy
    + Default
    + Eq
    + Ord
    + Hash
    + Debug
    + Send
    + Sync
    + 'static
    + BitXor<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
    + std::ops::BitXorAssign
    + std::ops::BitAndAssign
    + bytemuck::Pod
{
    /// Bits per word: the ring is Z_2^BITS.
    const BITS: u32;
    const ZERO: Self;
    const ONE: Self;
    /// All bits set.
    const MAX: Self;

    fn wrapping_add(self, o: Self) -> Self;
    fn wrapping_sub(self, o: Self) -> Self;
    fn wrapping_mul(self, o: Self) -> Self;
    fn wrapping_neg(self) -> Self;
    /// Shift right keeping the sign (two's complement).
    fn sar(self, k: u32) -> Self;

    /// A 64-bit value, zero-extended.
    fn from_u64(v: u64) -> Self;
    /// A 64-bit signed value, sign-extended.
    fn from_i64(v: i64) -> Self;
    /// The low 64 bits as a signed integer (integer results: the program's integers are 64-bit
    /// in plaintext, and the emulation wraps them alike).
    fn to_i64(self) -> i64;
    /// `round(x)` in two's complement (x already scaled); saturating at the ring's range.
    fn from_f64(x: f64) -> Self;
    /// The value read as signed, as a real.
    fn to_f64(self) -> f64;

    /// A tensor of these words as a message.
    fn payload(t: ArrayD<Self>) -> Payload;
    /// The tensor in a message of ring elements of this width, or the message back.
    fn from_payload(p: Payload) -> Result<ArrayD<Self>, Payload>;

    /// This party's shares as a register's value, and back.
    fn value(s: Shares<Self>) -> Value;
    fn shares_of(v: &Value) -> Option<&Shares<Self>>;
    fn into_shares(v: Value) -> Result<Shares<Self>, Value>;

    /// Appends the word's bytes, little-endian (files of shares).
    fn write_le(self, out: &mut Vec<u8>);
    /// A word from `BITS / 8` little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;

    /// The protocol of a placement whose ring has this width.
    fn protocol(p: &AnyProtocol) -> Option<&dyn Protocol<Self>>;

    /// `out = a · b` for row-major `a` (m × k) and `b` (k × n), `out` zeroed.
    fn matmul_into(a: &[Self], b: &[Self], out: &mut [Self], m: usize, k: usize, n: usize);

    /// The type of this word in a fused kernel (tfe-jit): `U64`, or `U128` (a wide kernel).
    const KERNEL_TY: tfe_jit::Ty;
    /// Runs a fused kernel of this width over `inputs` into `outputs` (each of one length).
    fn run_kernel(
        mode: tfe_jit::Mode,
        kernel: &tfe_jit::Kernel,
        inputs: &[&[Self]],
        outputs: &mut [&mut [Self]],
    ) -> Result<(), String>;
}

impl Word for u64 {
    const BITS: u32 = 64;
    const ZERO: u64 = 0;
    const ONE: u64 = 1;
    const MAX: u64 = u64::MAX;

    fn wrapping_add(self, o: u64) -> u64 {
        u64::wrapping_add(self, o)
    }
    fn wrapping_sub(self, o: u64) -> u64 {
        u64::wrapping_sub(self, o)
    }
    fn wrapping_mul(self, o: u64) -> u64 {
        u64::wrapping_mul(self, o)
    }
    fn wrapping_neg(self) -> u64 {
        u64::wrapping_neg(self)
    }
    fn sar(self, k: u32) -> u64 {
        ((self as i64) >> k) as u64
    }
    fn from_u64(v: u64) -> u64 {
        v
    }
    fn from_i64(v: i64) -> u64 {
        v as u64
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_f64(x: f64) -> u64 {
        x.round() as i64 as u64
    }
    fn to_f64(self) -> f64 {
        self as i64 as f64
    }
    fn payload(t: ArrayD<u64>) -> Payload {
        Payload::Ring(t)
    }
    fn from_payload(p: Payload) -> Result<ArrayD<u64>, Payload> {
        match p {
            Payload::Ring(t) => Ok(t),
            other => Err(other),
        }
    }
    fn value(s: Shares<u64>) -> Value {
        Value::Shares(s)
    }
    fn shares_of(v: &Value) -> Option<&Shares<u64>> {
        match v {
            Value::Shares(s) => Some(s),
            _ => None,
        }
    }
    fn into_shares(v: Value) -> Result<Shares<u64>, Value> {
        match v {
            Value::Shares(s) => Ok(s),
            other => Err(other),
        }
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }
    fn protocol(p: &AnyProtocol) -> Option<&dyn Protocol<u64>> {
        p.r64()
    }
    fn matmul_into(a: &[u64], b: &[u64], out: &mut [u64], m: usize, k: usize, n: usize) {
        crate::ring::matmul_kernel(a, b, out, m, k, n)
    }
    const KERNEL_TY: tfe_jit::Ty = tfe_jit::Ty::U64;
    fn run_kernel(
        mode: tfe_jit::Mode,
        kernel: &tfe_jit::Kernel,
        inputs: &[&[u64]],
        outputs: &mut [&mut [u64]],
    ) -> Result<(), String> {
        tfe_jit::kernels().run(mode, kernel, inputs, outputs)
    }
}

impl Word for u128 {
    const BITS: u32 = 128;
    const ZERO: u128 = 0;
    const ONE: u128 = 1;
    const MAX: u128 = u128::MAX;

    fn wrapping_add(self, o: u128) -> u128 {
        u128::wrapping_add(self, o)
    }
    fn wrapping_sub(self, o: u128) -> u128 {
        u128::wrapping_sub(self, o)
    }
    fn wrapping_mul(self, o: u128) -> u128 {
        u128::wrapping_mul(self, o)
    }
    fn wrapping_neg(self) -> u128 {
        u128::wrapping_neg(self)
    }
    fn sar(self, k: u32) -> u128 {
        ((self as i128) >> k) as u128
    }
    fn from_u64(v: u64) -> u128 {
        v as u128
    }
    fn from_i64(v: i64) -> u128 {
        v as i128 as u128
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_f64(x: f64) -> u128 {
        x.round() as i128 as u128
    }
    fn to_f64(self) -> f64 {
        self as i128 as f64
    }
    fn payload(t: ArrayD<u128>) -> Payload {
        Payload::Ring128(t)
    }
    fn from_payload(p: Payload) -> Result<ArrayD<u128>, Payload> {
        match p {
            Payload::Ring128(t) => Ok(t),
            other => Err(other),
        }
    }
    fn value(s: Shares<u128>) -> Value {
        Value::Shares128(s)
    }
    fn shares_of(v: &Value) -> Option<&Shares<u128>> {
        match v {
            Value::Shares128(s) => Some(s),
            _ => None,
        }
    }
    fn into_shares(v: Value) -> Result<Shares<u128>, Value> {
        match v {
            Value::Shares128(s) => Ok(s),
            other => Err(other),
        }
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> u128 {
        u128::from_le_bytes(bytes.try_into().expect("16 bytes"))
    }
    fn protocol(p: &AnyProtocol) -> Option<&dyn Protocol<u128>> {
        p.r128()
    }
    /// With `x = x_lo + 2^64 x_hi`, `a · b mod 2^128 = a_lo · b_lo + 2^64 (a_lo · b_hi + a_hi ·
    /// b_lo mod 2^64)`: the two cross products are 64-bit matrix products (the AVX-512 kernel
    /// where the CPU has it), and the low one is 64×64→128-bit multiply-adds, one `mul` each,
    /// as dot products of `a`'s rows and `b`'s columns (packed as rows) in 2×2 blocks of
    /// registers. A plain loop over u128 takes three multiplies per product and twice the
    /// memory.
    fn matmul_into(a: &[u128], b: &[u128], out: &mut [u128], m: usize, k: usize, n: usize) {
        let lo = |x: &[u128]| -> Vec<u64> { x.iter().map(|v| *v as u64).collect() };
        let hi = |x: &[u128]| -> Vec<u64> { x.iter().map(|v| (*v >> 64) as u64).collect() };
        let (a_lo, a_hi, b_lo, b_hi) = (lo(a), hi(a), lo(b), hi(b));
        let mut cross = vec![0u64; m * n];
        crate::ring::matmul_kernel(&a_lo, &b_hi, &mut cross, m, k, n);
        crate::ring::matmul_kernel(&a_hi, &b_lo, &mut cross, m, k, n);
        // b_lo's columns as rows (n × k).
        let mut bt = vec![0u64; n * k];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = b_lo[p * n + j];
            }
        }
        for i in (0..m).step_by(2) {
            let i2 = (i + 1).min(m - 1);
            let (r0, r1) = (&a_lo[i * k..(i + 1) * k], &a_lo[i2 * k..(i2 + 1) * k]);
            for j in (0..n).step_by(2) {
                let j2 = (j + 1).min(n - 1);
                let (c0, c1) = (&bt[j * k..(j + 1) * k], &bt[j2 * k..(j2 + 1) * k]);
                let (mut s00, mut s01, mut s10, mut s11) = (0u128, 0u128, 0u128, 0u128);
                for (((x0, x1), y0), y1) in r0.iter().zip(r1).zip(c0).zip(c1) {
                    let (x0, x1, y0, y1) = (*x0 as u128, *x1 as u128, *y0 as u128, *y1 as u128);
                    s00 = s00.wrapping_add(x0 * y0);
                    s01 = s01.wrapping_add(x0 * y1);
                    s10 = s10.wrapping_add(x1 * y0);
                    s11 = s11.wrapping_add(x1 * y1);
                }
                // An odd last row or column was computed twice; it is written once.
                let mut put = |r: usize, c: usize, v: u128| {
                    out[r * n + c] = v.wrapping_add((cross[r * n + c] as u128) << 64);
                };
                put(i, j, s00);
                if j2 != j {
                    put(i, j2, s01);
                }
                if i2 != i {
                    put(i2, j, s10);
                    if j2 != j {
                        put(i2, j2, s11);
                    }
                }
            }
        }
    }
    const KERNEL_TY: tfe_jit::Ty = tfe_jit::Ty::U128;
    fn run_kernel(
        mode: tfe_jit::Mode,
        kernel: &tfe_jit::Kernel,
        inputs: &[&[u128]],
        outputs: &mut [&mut [u128]],
    ) -> Result<(), String> {
        tfe_jit::kernels().run128(mode, kernel, inputs, outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::Word;

    /// The 128-bit matrix product (split into 64-bit halves) against a plain loop over u128,
    /// on odd and even sizes and words with every bit in play.
    #[test]
    fn the_128_bit_matrix_product_is_the_plain_one() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut word = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let hi = s;
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (hi as u128) << 64 | s as u128
        };
        for (m, k, n) in [
            (1, 1, 1),
            (2, 3, 2),
            (3, 5, 7),
            (4, 16, 4),
            (5, 33, 6),
            (1, 7, 9),
        ] {
            let a: Vec<u128> = (0..m * k).map(|_| word()).collect();
            let b: Vec<u128> = (0..k * n).map(|_| word()).collect();
            let mut want = vec![0u128; m * n];
            for i in 0..m {
                for p in 0..k {
                    for j in 0..n {
                        want[i * n + j] =
                            want[i * n + j].wrapping_add(a[i * k + p].wrapping_mul(b[p * n + j]));
                    }
                }
            }
            let mut got = vec![0u128; m * n];
            u128::matmul_into(&a, &b, &mut got, m, k, n);
            assert_eq!(got, want, "{m}x{k}x{n}");
        }
    }
}
