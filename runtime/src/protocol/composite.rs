//! What every protocol gets from the primitives of [`Protocol`], written once: the bits of a
//! value, comparison, equality, select, logic on 0/1 sharings, the maximum and argmax along an
//! axis, and the lookup at the highest bit. Each has its message table beside it, composed the
//! same way from the primitives' tables.

use ndarray::IxDyn;
use tfe_ir::Size;

use super::{And, Ctx, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::{RingTensor, Word};

/// The shifts of a Kogge–Stone adder or a prefix OR over `W`'s words: 1, 2, 4, … below
/// `W::BITS` (6 levels for 64 bits, 7 for 128).
fn levels<W: Word>() -> impl Iterator<Item = u32> {
    (0..W::BITS.trailing_zeros()).map(|i| 1 << i)
}

/// The bits of an arithmetic sharing as a boolean sharing (A2B): the protocol's two boolean
/// addends, summed by a Kogge–Stone carry-lookahead adder over the ring's words. The generate
/// bits take one round of ANDs, then 6 levels (7 for 128 bits) of two ANDs each, one round per
/// level; the sum is `u ^ v ^ (carries << 1)`.
pub fn a2b<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let (u, v) = p.bit_addends(ctx, x)?;
    let p0 = u.xor(&v)?;
    let mut g = p
        .and(
            ctx,
            &[And {
                x: &u,
                y: &v,
                shift: 0,
            }],
        )?
        .remove(0);
    let mut prop = p0.clone();
    for k in levels::<W>() {
        let mut both = p.and(
            ctx,
            &[
                And {
                    x: &prop,
                    y: &g,
                    shift: k,
                },
                And {
                    x: &prop,
                    y: &prop,
                    shift: k,
                },
            ],
        )?;
        let pp = both.pop().expect("two ANDs");
        let pg = both.pop().expect("two ANDs");
        g = g.xor(&pg)?;
        prop = pp;
    }
    // g holds the group generate of bits 0..=k at bit k: the carry into bit k + 1.
    p0.xor(&g.shl(1))
}

pub fn a2b_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table, n: Size) {
    p.bit_addends_table(t, n);
    p.and_table(t, n, 1);
    for _ in levels::<W>() {
        p.and_table(t, n, 2);
    }
}

/// The most significant bit (the sign of two's complement values of magnitude below 2^63), as
/// an arithmetic 0/1 sharing: the carry into bit 63 alone, on bit planes ([`super::carry`]),
/// rather than every bit of [`a2b`].
pub fn msb<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    super::carry::msb(p, ctx, x)
}

pub fn msb_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table, n: Size) {
    super::carry::msb_table(p, t, n)
}

/// A public table read at each element's highest set bit: `table[j]` where the highest set bit
/// of the element is `lo + j`, and 0 where it lies outside `lo .. lo + len` (so for 0, and for
/// negative values, whose bit 63 is set). Positions below 0 or above 62 are never read. The
/// result is exact (no truncation): a sum of table entries, which are ring elements.
///
/// [`a2b`], then a prefix OR from the top, `y |= y >> s` for s = 1, 2, …, 32 (6 rounds, one
/// AND each, as `a | b = a ^ b ^ (a & b)`), whose differences `h = y ^ (y >> 1)` mark the
/// highest bit, and the protocol's injection of the wanted bits of `h` weighted by the table.
pub fn highest_bit_lookup<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    lo: i64,
    table: &[W],
) -> Result<Shares<W>, RunError> {
    let mut y = a2b(p, ctx, x)?;
    for s in levels::<W>() {
        let ys = y.shr(s);
        let both = p
            .and(
                ctx,
                &[And {
                    x: &y,
                    y: &ys,
                    shift: 0,
                }],
            )?
            .remove(0);
        y = y.xor(&ys)?.xor(&both)?;
    }
    let top = y.xor(&y.shr(1))?;
    // The top bit is the highest bit of negative values only: it reads as 0.
    let top_bit = W::BITS as i64 - 1;
    let clipped: Vec<W> = table
        .iter()
        .enumerate()
        .map(|(j, v)| {
            if lo + (j as i64) < top_bit {
                *v
            } else {
                W::ZERO
            }
        })
        .collect();
    p.inject(ctx, &top, lo, &clipped)
}

pub fn highest_bit_lookup_table<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    t: &mut Table,
    n: Size,
    len: u64,
) {
    a2b_table(p, t, n);
    for _ in levels::<W>() {
        p.and_table(t, n, 1);
    }
    p.inject_table(t, n, len);
}

/// `1 - b` for an arithmetic 0/1 sharing.
pub fn not_bit<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    me: usize,
    b: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let one = RingTensor::from_elem(IxDyn(&[]), W::ONE);
    p.public(me, &one)?.sub(b)
}

/// `x + c` for a public `c`.
pub fn add_public<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    me: usize,
    x: &Shares<W>,
    c: &RingTensor<W>,
) -> Result<Shares<W>, RunError> {
    x.add(&p.public(me, c)?)
}

/// `x < y` (`strict`) or `x <= y` as a 0/1 sharing: the sign of `x - y`, or 1 minus the sign
/// of `y - x`.
pub fn less<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    y: &Shares<W>,
    strict: bool,
) -> Result<Shares<W>, RunError> {
    if strict {
        p.msb(ctx, &x.sub(y)?)
    } else {
        not_bit(p, ctx.me, &p.msb(ctx, &y.sub(x)?)?)
    }
}

/// `x == y` as a 0/1 sharing: neither `x < y` nor `y < x`. Both signs in one [`Protocol::msb`]
/// (the rounds of one comparison), then one product.
pub fn equal<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    y: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let (d, e) = (x.sub(y)?, y.sub(x)?);
    let shape = d.shape().to_vec();
    let both = Shares::concat(&[&d.flatten()?, &e.flatten()?], 0)?;
    let signs = p.msb(ctx, &both)?;
    let n = d.len();
    let reshape = |s: Shares<W>| {
        s.map_with(
            |t| crate::value::reshape(t, &shape),
            |g| crate::value::reshape(g, &shape),
        )
    };
    let lt = reshape(signs.slice_axis(0, 0, n))?;
    let gt = reshape(signs.slice_axis(0, n, 2 * n))?;
    p.mul(ctx, &not_bit(p, ctx.me, &lt)?, &not_bit(p, ctx.me, &gt)?, 0)
}

pub fn equal_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table) {
    p.msb_table(t, Size::Result(2));
    p.mul_table(
        t,
        false,
        false,
        [Size::Result(1), Size::Result(1), Size::Result(1)],
    );
}

/// `a | b` of 0/1 sharings: `a + b - a b`.
pub fn or<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    a: &Shares<W>,
    b: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let ab = p.mul(ctx, a, b, 0)?;
    a.add(b)?.sub(&ab)
}

/// `c ? a : b` for a 0/1 sharing `c`: `b + c (a - b)`, one product. `a - b` is made the
/// result's shape first, so the product's sizes are the result's.
pub fn select<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    c: &Shares<W>,
    a: &Shares<W>,
    b: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let d = a.sub(b)?;
    let shape = crate::ring::broadcast_shape(c.shape(), d.shape()).ok_or_else(|| {
        RunError::Shape(format!(
            "select of shapes {:?} and {:?}",
            c.shape(),
            d.shape()
        ))
    })?;
    let widen = |s: &Shares<W>| -> Result<Shares<W>, RunError> {
        if s.shape() == shape.as_slice() {
            return Ok(s.clone());
        }
        s.map_with(
            |t| {
                t.broadcast(IxDyn(&shape))
                    .map(|v| v.to_owned())
                    .ok_or_else(|| {
                        RunError::Shape(format!("broadcast of {:?} to {shape:?}", t.shape()))
                    })
            },
            |_| Ok(super::shares::ghost(&shape)),
        )
    };
    let t = p.mul(ctx, &widen(c)?, &widen(&d)?, 0)?;
    b.add(&t)
}

/// The maximum along `axis` (which disappears from the shape): a tournament of ⌈log2 n⌉
/// levels. Each level compares the first half of the remaining candidates with the second half
/// in one [`Protocol::msb`] over all pairs at once, and keeps the larger by one product (an odd
/// one out waits for the next level): n - 1 comparisons in all.
pub fn max_axis<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    axis: usize,
) -> Result<Shares<W>, RunError> {
    check_axis(x, axis, "maximum")?;
    if all_pairs_fit(x.shape()[axis] as u64, (x.len() / x.shape()[axis]) as u64) {
        return all_pairs(p, ctx, x, axis, false);
    }
    max_tournament(p, ctx, x, axis)
}

/// [`max_axis`] by the tournament, whatever the sizes.
pub(super) fn max_tournament<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    axis: usize,
) -> Result<Shares<W>, RunError> {
    let mut cur = x.clone();
    loop {
        let n = cur.shape()[axis];
        if n == 1 {
            break;
        }
        let h = n / 2;
        let lo = cur.slice_axis(axis, 0, h);
        let hi = cur.slice_axis(axis, h, 2 * h);
        // lo < hi where the sign of lo - hi is set; then lo + [lo < hi] (hi - lo).
        let less = p.msb(ctx, &lo.sub(&hi)?)?;
        let step = p.mul(ctx, &less, &hi.sub(&lo)?, 0)?;
        let best = lo.add(&step)?;
        cur = if n % 2 == 1 {
            Shares::concat(&[&best, &cur.slice_axis(axis, n - 1, n)], axis)?
        } else {
            best
        };
    }
    Ok(cur.index_axis(axis, 0))
}

/// The index of a maximum along `axis` (which disappears), as a shared integer: the tournament
/// of [`max_axis`] carrying each candidate's index, both chosen by the same comparison and one
/// product per level (values and indices multiplied together). On ties, the index of one of
/// the maxima (not necessarily the first).
pub fn argmax_axis<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    axis: usize,
) -> Result<Shares<W>, RunError> {
    check_axis(x, axis, "argmax")?;
    if all_pairs_fit(x.shape()[axis] as u64, (x.len() / x.shape()[axis]) as u64) {
        return all_pairs(p, ctx, x, axis, true);
    }
    argmax_tournament(p, ctx, x, axis)
}

/// [`argmax_axis`] by the tournament, whatever the sizes.
pub(super) fn argmax_tournament<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    axis: usize,
) -> Result<Shares<W>, RunError> {
    let shape = x.shape().to_vec();
    let index = RingTensor::from_shape_fn(IxDyn(&shape), |i| W::from_u64(i[axis] as u64));
    let mut idx = if x.holds() {
        p.public(ctx.me, &index)?
    } else {
        Shares::shape_only(&shape)
    };
    let mut cur = x.clone();
    loop {
        let n = cur.shape()[axis];
        if n == 1 {
            break;
        }
        let h = n / 2;
        let (lo, hi) = (cur.slice_axis(axis, 0, h), cur.slice_axis(axis, h, 2 * h));
        let (lo_i, hi_i) = (idx.slice_axis(axis, 0, h), idx.slice_axis(axis, h, 2 * h));
        let less = p.msb(ctx, &lo.sub(&hi)?)?;
        let (dv, di) = (hi.sub(&lo)?, hi_i.sub(&lo_i)?);
        let step = p.mul(
            ctx,
            &Shares::concat(&[&less, &less], axis)?,
            &Shares::concat(&[&dv, &di], axis)?,
            0,
        )?;
        let (tv, ti) = (step.slice_axis(axis, 0, h), step.slice_axis(axis, h, 2 * h));
        let (best_v, best_i) = (lo.add(&tv)?, lo_i.add(&ti)?);
        if n % 2 == 1 {
            cur = Shares::concat(&[&best_v, &cur.slice_axis(axis, n - 1, n)], axis)?;
            idx = Shares::concat(&[&best_i, &idx.slice_axis(axis, n - 1, n)], axis)?;
        } else {
            cur = best_v;
            idx = best_i;
        }
    }
    Ok(idx.index_axis(axis, 0))
}

/// The most comparisons [`all_pairs`] makes in one call.
pub const ALL_PAIRS_COMPARISONS: u64 = 1 << 16;

/// Whether the maximum along an axis of `n` entries, `rows` times, is taken by [`all_pairs`]
/// (rather than a tournament): for 3 to 16 entries, when all pairs of all rows make at most
/// [`ALL_PAIRS_COMPARISONS`] comparisons. Over a WAN, rounds are the cost: the tournament takes
/// ⌈log2 n⌉ levels of a comparison and a product (44 rounds for n = 10), all pairs one comparison
/// and ⌈log2(n − 1)⌉ + 1 rounds of products (15), for n(n − 1)/2 comparisons instead of n − 1
/// (5 times the bytes for n = 10). The limit keeps that price to small reductions (a softmax's
/// maximum over classes) and leaves the large ones (max-pooling a batch of images) to the
/// tournament.
pub fn all_pairs_fit(n: u64, rows: u64) -> bool {
    (3..=16).contains(&n) && rows.saturating_mul(n * (n - 1) / 2) <= ALL_PAIRS_COMPARISONS
}

/// The maximum (or with `index`, the index of the first maximum, as a shared integer) along
/// `axis`, which disappears, from one batch of comparisons of every pair of entries: entry `i`
/// wins against `j` when `x_i > x_j` for `j < i` and `x_i >= x_j` for `j > i`, so exactly one
/// entry (the first maximal one) wins all its n − 1 matches. Its 0/1 indicator is the product of
/// its n − 1 results, taken in ⌈log2(n − 1)⌉ rounds of products over all entries and rows at
/// once; the maximum is `Σ w_i x_i` (one more product), the index `Σ w_i i` (local).
pub(super) fn all_pairs<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    axis: usize,
    index: bool,
) -> Result<Shares<W>, RunError> {
    let n = x.shape()[axis];
    if n == 1 {
        let only = x.clone().index_axis(axis, 0);
        return if index {
            only.mul_public(&RingTensor::from_elem(IxDyn(&[]), W::ZERO))
        } else {
            Ok(only)
        };
    }
    let mut result_shape = x.shape().to_vec();
    result_shape.remove(axis);
    let rows = x.len() / n;
    // Entry j of every row, as a vector of `rows`.
    let entries: Vec<Shares<W>> = (0..n)
        .map(|j| x.slice_axis(axis, j, j + 1).flatten())
        .collect::<Result<_, _>>()?;
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let differences: Vec<Shares<W>> = pairs
        .iter()
        .map(|&(i, j)| entries[i].sub(&entries[j]))
        .collect::<Result<_, _>>()?;
    // less[(i, j)] = [x_i < x_j] for i < j, all pairs in one sign protocol.
    let less = p.msb(
        ctx,
        &Shares::concat(&differences.iter().collect::<Vec<_>>(), 0)?,
    )?;
    let result_of = |k: usize| less.slice_axis(0, k * rows, (k + 1) * rows);
    let me = ctx.me;
    // factors[i]: the results of entry i's matches.
    let mut factors: Vec<Vec<Shares<W>>> = vec![Vec::new(); n];
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let b = result_of(k);
        factors[i].push(not_bit(p, me, &b)?);
        factors[j].push(b);
    }
    // A product tree over every entry's factors, one round per level.
    while factors[0].len() > 1 {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for f in &factors {
            for pair in f.chunks_exact(2) {
                left.push(&pair[0]);
                right.push(&pair[1]);
            }
        }
        let products = p.mul(
            ctx,
            &Shares::concat(&left, 0)?,
            &Shares::concat(&right, 0)?,
            0,
        )?;
        let mut next: Vec<Vec<Shares<W>>> = Vec::with_capacity(n);
        let mut k = 0;
        for f in &factors {
            let mut g: Vec<Shares<W>> = (0..f.len() / 2)
                .map(|m| products.slice_axis(0, (k + m) * rows, (k + m + 1) * rows))
                .collect();
            k += f.len() / 2;
            if f.len() % 2 == 1 {
                g.push(f[f.len() - 1].clone());
            }
            next.push(g);
        }
        factors = next;
    }
    let wins: Vec<Shares<W>> = factors.into_iter().map(|mut f| f.remove(0)).collect();
    let total = if index {
        // Σ w_i · i: products by public integers, local.
        let mut acc = wins[0].mul_public(&RingTensor::from_elem(IxDyn(&[]), W::ZERO))?;
        for (i, w) in wins.iter().enumerate().skip(1) {
            acc =
                acc.add(&w.mul_public(&RingTensor::from_elem(IxDyn(&[]), W::from_u64(i as u64)))?)?;
        }
        acc
    } else {
        let chosen = p.mul(
            ctx,
            &Shares::concat(&wins.iter().collect::<Vec<_>>(), 0)?,
            &Shares::concat(&entries.iter().collect::<Vec<_>>(), 0)?,
            0,
        )?;
        let mut acc = chosen.slice_axis(0, 0, rows);
        for i in 1..n {
            acc = acc.add(&chosen.slice_axis(0, i * rows, (i + 1) * rows))?;
        }
        acc
    };
    reshape(&total.standard_layout(), &result_shape)
}

/// The messages of [`all_pairs`] over `n` entries; sizes per element of the result.
pub fn all_pairs_table<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    t: &mut Table,
    n: u64,
    index: bool,
) {
    p.msb_table(t, Size::Result(n * (n - 1) / 2));
    let mut m = n - 1;
    while m > 1 {
        let h = m / 2;
        let w = Size::Result(n * h);
        p.mul_table(t, false, false, [w, w, w]);
        m -= h;
    }
    if !index {
        let w = Size::Result(n);
        p.mul_table(t, false, false, [w, w, w]);
    }
}

/// The maximum of each row of a matrix `[r, n]` and the one-hot of its first maximal entry,
/// from one tournament: `[r, n + 1]`, the one-hot (fixed-point 1.0, the value `one`) in columns
/// `0 .. n` and the maximum in column `n`.
///
/// Adjacent candidates meet (the first and the second, the third and the fourth, …) in one
/// comparison over all pairs; a tie keeps the earlier one, and an odd one out waits for the next
/// level. So each candidate stands for a contiguous run of entries and holds its first maximal
/// one, and the winner is the row's first maximal entry (PyTorch's and TensorFlow's max-pooling
/// choose the same). Beside the values, each entry keeps a 0/1 flag "still in the running": a
/// level multiplies the flags of a pair's earlier run by `1 − b` and of its later run by `b`
/// (`b` the pair's comparison, 1 where the later one wins), in the same product as the values'
/// choice. So ⌈log2 n⌉ levels of a comparison and a product, as [`max_axis`], with h words per
/// row for the h pairs' values plus n for the flags (none at the first level, where the flags
/// are the comparisons themselves). Every step reads and writes whole rows in place
/// ([`gather_columns`]): no strided copies.
pub fn max_onehot<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    one: W,
) -> Result<Shares<W>, RunError> {
    let (r, n) = match x.shape() {
        [r, n] if *n > 0 => (*r, *n),
        other => {
            return Err(RunError::Shape(format!(
                "the row maxima of a tensor of shape {other:?}"
            )));
        }
    };
    let (me, holds) = (ctx.me, x.holds());
    let public = |shape: &[usize], v: W| -> Result<Shares<W>, RunError> {
        if holds {
            p.public(me, &RingTensor::from_elem(IxDyn(shape), v))
        } else {
            Ok(Shares::shape_only(shape))
        }
    };
    // Each candidate's run of entries [start, end), the same for every row.
    let mut runs: Vec<(usize, usize)> = (0..n).map(|j| (j, j + 1)).collect();
    let mut cur = x.clone().standard_layout();
    // The flags of the entries still in the running; `None` while all are (before level 1).
    let mut flags: Option<Shares<W>> = None;
    while runs.len() > 1 {
        let m = runs.len();
        let h = m / 2;
        let lo = gather_columns(&[&cur], &(0..h).map(|k| (0, 2 * k)).collect::<Vec<_>>(), r)?;
        let hi = gather_columns(
            &[&cur],
            &(0..h).map(|k| (0, 2 * k + 1)).collect::<Vec<_>>(),
            r,
        )?;
        // b = [lo < hi] (the sign of lo - hi): the later one wins; on a tie the earlier stays.
        let b = p.msb(ctx, &lo.sub(&hi)?)?.standard_layout();
        let not_b = public(&[r, h], W::ONE)?.sub(&b)?;
        let ones = public(&[r, 1], W::ONE)?;
        // Per entry: its pair's 1 − b (earlier run), b (later run), or 1 (the odd one out).
        let mut picks = vec![(2, 0); n];
        for k in 0..h {
            for (side, run) in [(0, runs[2 * k]), (1, runs[2 * k + 1])] {
                for pick in &mut picks[run.0..run.1] {
                    *pick = (side, k);
                }
            }
        }
        let factors = gather_columns(&[&not_b, &b, &ones], &picks, r)?;
        let diff = hi.sub(&lo)?;
        let (step, next_flags) = match &flags {
            None => (p.mul(ctx, &b, &diff, 0)?, factors),
            Some(f) => {
                // One product for both: the values' choice and the flags, end to end.
                let both = p.mul(
                    ctx,
                    &Shares::concat(&[&b.flatten()?, &f.flatten()?], 0)?,
                    &Shares::concat(&[&diff.flatten()?, &factors.flatten()?], 0)?,
                    0,
                )?;
                (
                    reshape(&both.slice_axis(0, 0, r * h), &[r, h])?,
                    reshape(&both.slice_axis(0, r * h, r * (h + n)), &[r, n])?,
                )
            }
        };
        flags = Some(next_flags);
        let best = lo.add(&step)?.standard_layout();
        let mut next_runs: Vec<(usize, usize)> =
            (0..h).map(|k| (runs[2 * k].0, runs[2 * k + 1].1)).collect();
        cur = if m % 2 == 1 {
            next_runs.push(runs[m - 1]);
            let mut picks: Vec<(usize, usize)> = (0..h).map(|k| (0, k)).collect();
            picks.push((1, m - 1));
            gather_columns(&[&best, &cur], &picks, r)?
        } else {
            best
        };
        runs = next_runs;
    }
    // The flags are 0/1 integers: as fixed-point, times `one` (local, exact).
    let onehot = match flags {
        Some(f) => f.mul_public(&RingTensor::from_elem(IxDyn(&[]), one))?,
        None => public(&[r, 1], one)?,
    }
    .standard_layout();
    let mut picks: Vec<(usize, usize)> = (0..n).map(|j| (0, j)).collect();
    picks.push((1, 0));
    gather_columns(&[&onehot, &cur], &picks, r)
}

/// `[r, picks.len()]`: column `c` is column `picks[c].1` of the matrix `sources[picks[c].0]`
/// (each `[r, _]`, in standard layout, of one protocol), built row by row.
fn gather_columns<W: Word>(
    sources: &[&Shares<W>],
    picks: &[(usize, usize)],
    r: usize,
) -> Result<Shares<W>, RunError> {
    let width = picks.len();
    if !sources[0].holds() {
        return Ok(Shares::shape_only(&[r, width]));
    }
    let k = sources[0].parts().len();
    let parts = (0..k)
        .map(|c| {
            let cols: Vec<(&[W], usize)> = sources
                .iter()
                .map(|s| {
                    let t = s.part(c)?;
                    let w = t.shape().get(1).copied().unwrap_or(1);
                    t.as_slice().map(|v| (v, w)).ok_or_else(|| {
                        RunError::Internal("a tournament's rows not in place".into())
                    })
                })
                .collect::<Result<_, RunError>>()?;
            let mut out = Vec::with_capacity(r * width);
            for i in 0..r {
                for &(s, j) in picks {
                    let (v, w) = cols[s];
                    out.push(v[i * w + j]);
                }
            }
            RingTensor::from_shape_vec(IxDyn(&[r, width]), out)
                .map_err(|e| RunError::Internal(e.to_string()))
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    Shares::new(parts)
}

/// A sharing in standard layout, reshaped.
fn reshape<W: Word>(s: &Shares<W>, shape: &[usize]) -> Result<Shares<W>, RunError> {
    let shape = shape.to_vec();
    s.map_with(
        |t| {
            t.to_shape(IxDyn(&shape))
                .map(|v| v.into_owned())
                .map_err(|e| RunError::Shape(e.to_string()))
        },
        |_| Ok(super::shares::ghost(&shape)),
    )
}

/// The messages of [`max_onehot`] over rows of `n` entries; sizes per element of the result
/// (`n + 1` per row).
pub fn max_onehot_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table, n: u64) {
    let mut m = n;
    let mut first = true;
    while m > 1 {
        let h = m / 2;
        p.msb_table(t, Size::ResultFraction(h, n + 1));
        let w = Size::ResultFraction(if first { h } else { h + n }, n + 1);
        p.mul_table(t, false, false, [w, w, w]);
        first = false;
        m = m.div_ceil(2);
    }
}

fn check_axis<W: Word>(x: &Shares<W>, axis: usize, what: &str) -> Result<(), RunError> {
    if axis >= x.shape().len() || x.shape()[axis] == 0 {
        return Err(RunError::Shape(format!(
            "the {what} along axis {axis} of a tensor of shape {:?}",
            x.shape()
        )));
    }
    Ok(())
}

/// The messages of [`max_axis`] (or [`argmax_axis`]: `indices`) along an axis of length `n`;
/// sizes are per element of the result (one per tournament).
pub fn max_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table, n: u64, indices: bool) {
    let mut m = n;
    while m > 1 {
        let h = m / 2;
        p.msb_table(t, Size::Result(h));
        let w = if indices { 2 * h } else { h };
        p.mul_table(
            t,
            false,
            false,
            [Size::Result(w), Size::Result(w), Size::Result(w)],
        );
        m = m.div_ceil(2);
    }
}
