//! The cleartext emulation of a whole program (`tfec run --emulate`): every party in this
//! process, every secret placement computed in the clear, in that placement's fixed point (its
//! ring and frac), and every operation whose result would not fit it reported.
//!
//! What it answers is "which ring and frac does my program need", before anyone runs the
//! protocol: a secret value is a ring element of `ring` bits with `frac` fractional bits, so
//! - a result (or a product before its truncation) of magnitude 2^(ring - 1) or more wraps
//!   around: the protocol's result is garbage (an **overflow**);
//! - the truncation after a product fails with probability about |z| / 2^(ring - 1) per element,
//!   where z is the product before truncation in ring units (aby3's and pond's truncations both
//!   fail so, off by about 2^(ring - frac)); the emulation sums these probabilities per operation
//!   (**truncation**: the expected number of failed elements in this run);
//! - a nonzero result smaller than 2^-frac becomes 0 (an **underflow**: the significant bits are
//!   lost).
//!
//! Values are computed by the plaintext kernels (`plain`), in f64, then put on the fixed-point
//! grid where the protocol would: a product truncated (to the nearest multiple of 2^-frac: the
//! protocols' truncation gives the floor or one more, about as often as the fraction says, so
//! nearest is what it gives on average; floor would drift through a chain of products), a
//! party's value encoded when it
//! is shared (round). f64 holds every value of a 64-bit ring with 16 fractional bits exactly;
//! on wider rings it keeps 53 significant bits, which is all the ranges need. A comparison
//! compares; the protocol's sign is exact as long as the difference fits, which the emulation
//! checks. Nothing is secret-shared and no message is sent: the emulation is for a data owner's
//! own testing on their own data (or synthetic data of the same scale); it reveals nothing the
//! program does not, but it runs every party's part on one machine, with every party's files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::ArrayD;
use tfe_ir::{Kernel, Node, Op, OpId, PartyId, Placement, Program, Reg};

use crate::value::{Value, scalar};
use crate::{RunError, csvio, files, plain};

/// An op's truncations are reported when they fail in more than one run in 10,000 (the expected
/// number of failed elements per run, over all its runs in a loop).
pub const TRUNCATION_ALERT: f64 = 1e-4;

/// What went out of range at one op, over every time it ran.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpReport {
    /// Times the op ran, and elements it produced in all.
    pub runs: u64,
    pub elements: u64,
    /// Elements that wrapped around the ring.
    pub overflows: u64,
    /// The largest magnitude seen (of the result; of a product before its truncation).
    pub largest: f64,
    /// The expected number of failed truncations (the sum of each element's probability).
    pub truncation_failures: f64,
    /// Nonzero results rounded to 0.
    pub underflows: u64,
    /// The smallest nonzero magnitude that was rounded to 0.
    pub smallest_lost: f64,
    /// A public operand (a constant) that is 0 in the placement's fixed point though it is not:
    /// its smallest such magnitude.
    pub constant_lost: Option<f64>,
    /// The largest product before its truncation (real value, not ring units).
    pub largest_product: f64,
    /// The smallest nonzero magnitude of an exact result (before rounding), 0 if none.
    pub smallest_nonzero: f64,
}

impl OpReport {
    fn note_smallest(&mut self, t: &ArrayD<f64>) {
        for v in t.iter() {
            let m = v.abs();
            if m > 0.0 && (self.smallest_nonzero == 0.0 || m < self.smallest_nonzero) {
                self.smallest_nonzero = m;
            }
        }
    }
}

/// What a secret placement's values need, over all its ops: the magnitudes that bound the ring
/// and frac a program needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Needs {
    /// The largest result, and the largest product before its truncation (real values).
    pub largest: f64,
    pub largest_product: f64,
    /// The smallest nonzero exact result (0: none).
    pub smallest_nonzero: f64,
}

impl Needs {
    /// The ring bits needed at `frac` fractional bits for every value and product to fit (no
    /// wrap-around): 1 + max(log2 largest + frac, log2 largest product + 2 frac).
    pub fn ring_bits(&self, frac: u32) -> u32 {
        let bits = |m: f64, f: u32| {
            if m > 0.0 {
                (m.log2().floor() as i64 + 1 + i64::from(f)).max(0) as u32
            } else {
                0
            }
        };
        1 + bits(self.largest, frac).max(bits(self.largest_product, 2 * frac))
    }

    /// The fractional bits needed for the smallest nonzero result not to round to 0.
    pub fn frac_bits(&self) -> u32 {
        if self.smallest_nonzero > 0.0 {
            (-self.smallest_nonzero.log2()).ceil().max(0.0) as u32
        } else {
            0
        }
    }
}

impl Report {
    /// What secret placement `s` needs, from every op at it.
    pub fn needs(&self, s: usize) -> Needs {
        let mut n = Needs::default();
        for (at, r) in self.ops.values() {
            if *at != s {
                continue;
            }
            n.largest = n.largest.max(r.largest);
            n.largest_product = n.largest_product.max(r.largest_product);
            if r.smallest_nonzero > 0.0
                && (n.smallest_nonzero == 0.0 || r.smallest_nonzero < n.smallest_nonzero)
            {
                n.smallest_nonzero = r.smallest_nonzero;
            }
        }
        n
    }
}

impl OpReport {
    /// Whether anything is worth reporting: an overflow, an underflow, or truncations that fail
    /// in more than one run in [`TRUNCATION_ALERT`]'s inverse.
    pub fn flagged(&self) -> bool {
        self.overflows > 0
            || self.underflows > 0
            || self.constant_lost.is_some()
            || self.truncation_failures > TRUNCATION_ALERT
    }
}

/// The emulation's findings, by op, for the ops at secret placements.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub ops: BTreeMap<OpId, (usize, OpReport)>,
    pub ops_run: u64,
}

/// Runs `program` (the whole program, not a projection) with party `p`'s files under
/// `data_dirs[p]`; `print` lines go to `out` with the printing party.
pub fn emulate(
    program: &Program,
    data_dirs: &[PathBuf],
    out: &mut dyn FnMut(PartyId, &str),
) -> Result<Report, RunError> {
    let mut e = Emulator {
        program,
        data_dirs,
        regs: vec![None; program.regs.len()],
        out,
        report: Report::default(),
    };
    e.block(&program.body)?;
    Ok(e.report)
}

struct Emulator<'a> {
    program: &'a Program,
    data_dirs: &'a [PathBuf],
    regs: Vec<Option<Value>>,
    out: &'a mut dyn FnMut(PartyId, &str),
    report: Report,
}

impl Emulator<'_> {
    fn get(&self, r: Reg) -> Result<&Value, RunError> {
        self.regs[r as usize].as_ref().ok_or_else(|| {
            RunError::Internal(format!(
                "register %{r} (`{}`) is not set",
                self.program.regs[r as usize].name
            ))
        })
    }

    fn block(&mut self, nodes: &[Node]) -> Result<(), RunError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    /// The ring and frac of secret placement `s`.
    fn format(&self, s: usize) -> (u32, u32) {
        let info = &self.program.secrets[s];
        (info.ring_bits, info.frac_bits)
    }

    fn entry(&mut self, node: &Node, s: usize) -> &mut OpReport {
        &mut self
            .report
            .ops
            .entry(node.id)
            .or_insert_with(|| (s, OpReport::default()))
            .1
    }

    fn node(&mut self, node: &Node) -> Result<(), RunError> {
        self.report.ops_run += 1;
        match &node.op {
            Op::Compute {
                dst,
                at,
                kernel,
                args,
            } => {
                let mut vals: Vec<&Value> = args
                    .iter()
                    .map(|a| self.get(*a))
                    .collect::<Result<_, _>>()?;
                // At a secret placement a public operand is encoded in its fixed point first (a
                // constant too small for it is 0 there).
                let mut lost = OpReport::default();
                let mut encoded: Vec<(usize, Value)> = Vec::new();
                if let Placement::Secret(s) = at {
                    let frac = self.program.secrets[*s].frac_bits;
                    for (i, a) in args.iter().enumerate() {
                        let public =
                            self.program.regs[*a as usize].placement != Placement::Secret(*s);
                        if let (true, Value::F64(t)) = (public, vals[i]) {
                            lost.note_smallest(t);
                            encoded.push((i, Value::F64(encode(&mut lost, t, frac, f64::round))));
                        }
                    }
                }
                for (i, v) in &encoded {
                    vals[*i] = v;
                }
                let scalar_kind = self.program.regs[*dst as usize].scalar;
                // Secret integer arithmetic in f64, so that what the ring would wrap is seen
                // (and wrapped) rather than refused as the plaintext integers' overflow.
                let integer_arithmetic = matches!(at, Placement::Secret(_))
                    && scalar_kind == tfe_ir::Scalar::Int
                    && matches!(
                        kernel,
                        Kernel::Add
                            | Kernel::Sub
                            | Kernel::Neg
                            | Kernel::Mul { .. }
                            | Kernel::MatMul { .. }
                            | Kernel::MatMulCol2Im { .. }
                            | Kernel::Sum { .. }
                    );
                let widened: Vec<Value> = if integer_arithmetic {
                    vals.iter()
                        .map(|v| match v {
                            Value::I64(t) => Value::F64(t.mapv(|x| x as f64)),
                            other => (*other).clone(),
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                if integer_arithmetic {
                    vals = widened.iter().collect();
                }
                let exact = plain::compute(kernel, &vals, scalar_kind)?;
                let differences = comparison_range(kernel, &vals);
                let value = match at {
                    Placement::Secret(s) => {
                        let (ring, frac) = self.format(*s);
                        let r = self.entry(node, *s);
                        if lost.smallest_nonzero > 0.0 {
                            r.note_smallest(&ndarray::arr0(lost.smallest_nonzero).into_dyn());
                        }
                        if lost.underflows > 0 {
                            let m = r
                                .constant_lost
                                .map_or(lost.smallest_lost, |m| m.min(lost.smallest_lost));
                            r.constant_lost = Some(m);
                        }
                        if let Some(d) = differences {
                            fit(r, &d, ring, frac);
                        }
                        fixed_point(r, kernel, exact, integer_arithmetic, ring, frac)
                    }
                    _ => exact,
                };
                self.regs[*dst as usize] = Some(value);
            }
            Op::Share { dst, src, to, .. } => {
                let value = self.get(*src)?.clone();
                let (ring, frac) = self.format(*to);
                let r = self.entry(node, *to);
                let value = match value {
                    Value::F64(t) => {
                        r.runs += 1;
                        r.note_smallest(&t);
                        let q = encode(r, &t, frac, |v| v.round());
                        Value::F64(fit(r, &q, ring, frac))
                    }
                    other => other,
                };
                self.regs[*dst as usize] = Some(value);
            }
            Op::Reveal { dst, src, .. } => {
                let value = self.get(*src)?.clone();
                self.regs[*dst as usize] = Some(value);
            }
            Op::ReadCsv {
                dst,
                party,
                path,
                format,
            } => {
                let info = &self.program.regs[*dst as usize];
                let path = self.data_dirs[*party].join(path);
                self.regs[*dst as usize] =
                    Some(files::read(*format, &path, info.scalar, &info.shape)?);
            }
            Op::WriteCsv {
                src,
                at,
                path,
                format,
            } => {
                let value = self.get(*src)?;
                for p in parties_at(self.program, *at) {
                    files::write(*format, &self.data_dirs[p].join(path), value)?;
                }
            }
            Op::Print { src, at } => {
                let text = csvio::display(self.get(*src)?);
                let p = match at {
                    Placement::Party(p) => *p,
                    _ => 0,
                };
                (self.out)(p, &text);
            }
            Op::StoreShares { .. } => {
                // Nothing is stored: an emulated value is no sharing, and a later run must not
                // load it as one.
            }
            Op::LoadShares { name, .. } => {
                return Err(RunError::Io(format!(
                    "`--emulate` does not load stored shares (`{name}`): it would have to combine \
                     every party's share; emulate the run that computed them instead"
                )));
            }
            Op::For {
                var,
                start,
                end,
                body,
            } => {
                let s = self.get(*start)?.as_index().map_err(RunError::Internal)?;
                let e = self.get(*end)?.as_index().map_err(RunError::Internal)?;
                for i in s..e {
                    self.regs[*var as usize] = Some(Value::I64(scalar(i)));
                    self.block(body)?;
                }
            }
            Op::While {
                cond_body,
                cond,
                body,
            } => loop {
                self.block(cond_body)?;
                if !self.get(*cond)?.as_bool().map_err(RunError::Internal)? {
                    break;
                }
                self.block(body)?;
            },
            Op::If {
                cond,
                then_body,
                else_body,
            } => {
                if self.get(*cond)?.as_bool().map_err(RunError::Internal)? {
                    self.block(then_body)?;
                } else {
                    self.block(else_body)?;
                }
            }
        }
        Ok(())
    }
}

/// The parties that write a file at `at`: its party, or every party for a public value.
fn parties_at(program: &Program, at: Placement) -> Vec<PartyId> {
    match at {
        Placement::Party(p) => vec![p],
        _ => (0..program.parties.len()).collect(),
    }
}

/// The values a comparison's sign is taken of, in the clear: the differences of its operands
/// (a tournament compares pairs, whose differences are at most twice the largest magnitude).
fn comparison_range(kernel: &Kernel, vals: &[&Value]) -> Option<ArrayD<f64>> {
    let fixed = |v: &Value| match v {
        Value::F64(t) => Some(t.clone()),
        _ => None,
    };
    match kernel {
        Kernel::Lt | Kernel::Le | Kernel::Gt | Kernel::Ge => {
            let (a, b) = (fixed(vals[0])?, fixed(vals[1])?);
            crate::ring::zip_with(&a, &b, |x, y| x - y).ok()
        }
        Kernel::Max { .. } | Kernel::ArgMax { .. } | Kernel::MaxOneHot => {
            let a = fixed(vals[0])?;
            let largest = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            Some(ndarray::arr0(2.0 * largest).into_dyn())
        }
        _ => None,
    }
}

/// The result of a kernel at a secret placement in fixed point: a product truncated, a table
/// entry encoded; recorded in `r`.
fn fixed_point(
    r: &mut OpReport,
    kernel: &Kernel,
    exact: Value,
    integer: bool,
    ring: u32,
    frac: u32,
) -> Value {
    r.runs += 1;
    let Value::F64(t) = exact else {
        return exact;
    };
    if integer {
        // An integer's range is the whole ring; kept in i64 as the program's integers are.
        let fitted = fit(r, &t, ring, 0);
        return Value::I64(fitted.mapv(|v| wrap(v, 64) as i64));
    }
    match kernel {
        Kernel::Mul { trunc } | Kernel::MatMul { trunc } | Kernel::MatMulCol2Im { trunc, .. }
            if *trunc > 0 =>
        {
            // Before the truncation the product holds 2 frac fractional bits; what does not fit
            // wraps around, as in the protocol. (A product folded with `col2im` is truncated
            // after the sums, so the sums are what must fit.)
            let scale = 2f64.powi(2 * frac as i32);
            let limit = 2f64.powi(ring as i32 - 1);
            r.largest_product = t.iter().fold(r.largest_product, |m, v| m.max(v.abs()));
            r.largest = r.largest.max(r.largest_product);
            r.note_smallest(&t);
            r.elements += t.len() as u64;
            let wrapped = t.mapv(|v| {
                let z = v * scale;
                if z.abs() >= limit {
                    r.overflows += 1;
                    wrap(z, ring) / scale
                } else {
                    r.truncation_failures += z.abs() / limit;
                    v
                }
            });
            Value::F64(encode(r, &wrapped, frac, f64::round))
        }
        Kernel::Log2Lookup { .. } => {
            r.note_smallest(&t);
            let q = encode(r, &t, frac, f64::round);
            Value::F64(fit(r, &q, ring, frac))
        }
        _ => Value::F64(fit(r, &t, ring, frac)),
    }
}

/// `t` on the fixed-point grid of `frac` bits, rounded by `round` (in units of 2^-frac);
/// nonzero values that become 0 are counted in `r`.
fn encode(r: &mut OpReport, t: &ArrayD<f64>, frac: u32, round: fn(f64) -> f64) -> ArrayD<f64> {
    let scale = 2f64.powi(frac as i32);
    t.mapv(|v| {
        let q = round(v * scale) / scale;
        if q == 0.0 && v != 0.0 {
            r.underflows += 1;
            if r.smallest_lost == 0.0 || v.abs() < r.smallest_lost {
                r.smallest_lost = v.abs();
            }
        }
        q
    })
}

/// `t` as the ring holds it: counts the elements that do not fit `ring` bits with `frac`
/// fractional bits (and notes the largest magnitude), and wraps them around as the ring does.
fn fit(r: &mut OpReport, t: &ArrayD<f64>, ring: u32, frac: u32) -> ArrayD<f64> {
    let limit = 2f64.powi(ring as i32 - 1 - frac as i32);
    let scale = 2f64.powi(frac as i32);
    r.elements += t.len() as u64;
    t.mapv(|v| {
        let m = v.abs();
        r.largest = r.largest.max(m);
        if m >= limit {
            r.overflows += 1;
            wrap(v * scale, ring) / scale
        } else {
            v
        }
    })
}

/// `z` modulo 2^ring, as a signed value in [-2^(ring-1), 2^(ring-1)) (in f64: the low bits of a
/// value beyond 2^53 are already gone, and with them nothing a wrapped result could keep).
fn wrap(z: f64, ring: u32) -> f64 {
    let modulus = 2f64.powi(ring as i32);
    let w = z.rem_euclid(modulus);
    if w >= modulus / 2.0 { w - modulus } else { w }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_is_the_rings() {
        let two = |k: i32| 2f64.powi(k);
        assert_eq!(wrap(5.0, 64), 5.0);
        assert_eq!(wrap(two(64) + two(20), 64), two(20));
        assert_eq!(wrap(two(63), 64), -two(63));
        assert_eq!(wrap(-two(63) - two(12), 64), two(63) - two(12));
        assert_eq!(wrap(two(127) + two(100), 128), -two(127) + two(100));
    }

    #[test]
    fn fitting_counts_and_wraps_what_does_not_fit() {
        let mut r = OpReport::default();
        let t = ndarray::arr1(&[
            1.0,
            -2f64.powi(47),
            2f64.powi(47) - 1.0,
            3.0 * 2f64.powi(47),
        ])
        .into_dyn();
        let fitted = fit(&mut r, &t, 64, 16);
        assert_eq!(r.overflows, 2);
        assert_eq!(r.elements, 4);
        assert_eq!(fitted[0], 1.0);
        assert_eq!(fitted[1], -2f64.powi(47));
        assert_eq!(fitted[2], 2f64.powi(47) - 1.0);
        assert_eq!(fitted[3], -2f64.powi(47));
    }

    #[test]
    fn encoding_counts_nonzero_values_that_become_zero() {
        let mut r = OpReport::default();
        let t = ndarray::arr1(&[0.0, 1e-6, -1e-7, 2f64.powi(-16), 0.75]).into_dyn();
        let q = encode(&mut r, &t, 16, f64::round);
        assert_eq!(
            q.as_slice().unwrap(),
            &[0.0, 0.0, 0.0, 2f64.powi(-16), 0.75]
        );
        assert_eq!(r.underflows, 2);
        assert_eq!(r.smallest_lost, 1e-7);
    }
}
