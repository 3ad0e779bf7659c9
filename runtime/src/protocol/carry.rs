//! The sign of an arithmetic sharing from the carry into its top bit, computed on bit planes.
//!
//! With `x = u + v` (the protocol's two boolean addends, [`Protocol::bit_addends`]), bit 63 of
//! `x` is `u_63 ^ v_63 ^ c`, where `c` is the carry into bit 63: the group generate of bits
//! `0..=62`. A full bit decomposition ([`super::composite::a2b`], a Kogge–Stone adder) computes
//! every carry, 13 word ANDs per element; a comparison needs only this one, which a tree of
//! (generate, propagate) pairs gives in the same 7 rounds: level 0 the 63 generates `u_j & v_j`,
//! then six levels that merge adjacent groups, `G = G_hi ^ (P_hi & G_lo)` and
//! `P = P_hi & P_lo` (the lowest group never needs its `P`). That is 63 + 61 + 31 + 15 + 7 + 3
//! + 1 = 181 ANDs of single bits per element instead of 13 · 64 = 832.
//!
//! Single bits are packed by transposing the elements' words into bit planes, 64 elements at a
//! time: plane `j` holds bit `j` of 64 elements in one word, so each level ANDs whole planes
//! (181 / 64 ≈ 2.8 words per element) and the choice of bits is a choice of planes, with no
//! shuffling inside words. The transposition is GF(2)-linear, so each party applies it to its
//! components of a boolean sharing.
//!
//! (That is the 64-bit ring. In a 128-bit ring the same code reads bit 127: 127 low bits, planes
//! of 128 elements in a 128-bit word, seven merging levels, 127 + 125 + 63 + 31 + 15 + 7 + 3 +
//! 1 = 372 single-bit ANDs per element in 8 rounds.)

use ndarray::IxDyn;
use tfe_ir::Size;

use super::{And, Ctx, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::{RingTensor, Word};

/// Bits below the top one, whose carry the tree computes: 63 in Z_2^64, 127 in Z_2^128.
fn low_bits<W: Word>() -> usize {
    W::BITS as usize - 1
}

/// The most significant bit of each element of `x` as an arithmetic 0/1 sharing.
pub fn msb<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    let (u, v) = p.bit_addends(ctx, x)?;
    let n = x.len();
    let (u, v) = (planes(&u)?, planes(&v)?);
    let nw = n.div_ceil(W::BITS as usize);
    let low_bits = low_bits::<W>();
    let low: Vec<(usize, usize)> = (0..low_bits).map(|j| (0, j)).collect();
    let (u_low, v_low) = (rows(&[&u], &low, nw)?, rows(&[&v], &low, nw)?);
    // Level 0: group j is bit j alone, G = u_j & v_j and P = u_j ^ v_j; `props` holds the P of
    // groups 1.. (row i is group i + 1's).
    let mut gens = and1(p, ctx, &u_low, &v_low)?;
    let props = u_low.xor(&v_low)?;
    let mut props = rows(
        &[&props],
        &(1..low_bits).map(|j| (0, j)).collect::<Vec<_>>(),
        nw,
    )?;
    let mut k = low_bits;
    while k > 1 {
        let h = k / 2;
        // Pair j merges groups 2j (lo) and 2j + 1 (hi). One AND over the planes of all pairs:
        // P_hi & G_lo for every pair, then P_hi & P_lo for the pairs above the lowest.
        let mut left: Vec<(usize, usize)> = (0..h).map(|j| (0, 2 * j)).collect();
        left.extend((1..h).map(|j| (0, 2 * j)));
        let mut right: Vec<(usize, usize)> = (0..h).map(|j| (0, 2 * j)).collect();
        right.extend((1..h).map(|j| (1, 2 * j - 1)));
        let both = and1(
            p,
            ctx,
            &rows(&[&props], &left, nw)?,
            &rows(&[&gens, &props], &right, nw)?,
        )?;
        let hi_gens = rows(
            &[&gens],
            &(0..h).map(|j| (0, 2 * j + 1)).collect::<Vec<_>>(),
            nw,
        )?;
        let merged = hi_gens.xor(&rows(
            &[&both],
            &(0..h).map(|j| (0, j)).collect::<Vec<_>>(),
            nw,
        )?)?;
        let mut next_props: Vec<(usize, usize)> = (1..h).map(|j| (0, h + j - 1)).collect();
        let mut next_gens: Vec<(usize, usize)> = (0..h).map(|j| (0, j)).collect();
        if k % 2 == 1 {
            // The odd group out (the top one) waits for the next level as it is.
            next_gens.push((1, k - 1));
            next_props.push((1, k - 2));
        }
        gens = rows(&[&merged, &gens], &next_gens, nw)?;
        props = rows(&[&both, &props], &next_props, nw)?;
        k -= h;
    }
    // gens holds one plane: the carry into bit 63.
    let top = rows(&[&u, &v], &[(0, low_bits), (1, low_bits)], nw)?;
    let sign = rows(&[&top], &[(0, 0)], nw)?
        .xor(&rows(&[&top], &[(0, 1)], nw)?)?
        .xor(&gens)?;
    let bits = unplane(&sign, x.shape())?;
    p.inject(ctx, &bits, 0, &[W::ONE])
}

/// The messages of [`msb`] of `n` elements (a size of one word per element).
pub fn msb_table<W: Word, P: Protocol<W> + ?Sized>(p: &P, t: &mut Table, n: Size) {
    let low_bits = low_bits::<W>();
    let planes = |k: u64| {
        n.planes(k, W::BITS as u64)
            .expect("a comparison is sized by its result's elements")
    };
    p.bit_addends_table(t, n);
    p.and_table(t, planes(low_bits as u64), 1);
    let mut k = low_bits as u64;
    while k > 1 {
        let h = k / 2;
        p.and_table(t, planes(2 * h - 1), 1);
        k -= h;
    }
    p.inject_table(t, n, 1);
}

fn and1<W: Word, P: Protocol<W> + ?Sized>(
    p: &P,
    ctx: &mut Ctx<'_>,
    x: &Shares<W>,
    y: &Shares<W>,
) -> Result<Shares<W>, RunError> {
    Ok(p.and(ctx, &[And { x, y, shift: 0 }])?.remove(0))
}

/// A boolean sharing's words as 64 bit planes `[64, ⌈n / 64⌉]`: bit `b` of word `w` of plane
/// `j` is bit `j` of element `64 w + b` (in the tensor's logical order; missing elements of
/// the last block are 0).
fn planes<W: Word>(s: &Shares<W>) -> Result<Shares<W>, RunError> {
    let bits = W::BITS as usize;
    let nw = s.len().div_ceil(bits);
    s.map_with(
        |t| {
            let mut out = vec![W::ZERO; bits * nw];
            // On the stack (the widest word's block): a small heap block between the planes'
            // large buffers changed how the allocator reused them (a third more page faults).
            let mut storage = [W::ZERO; 128];
            let block = &mut storage[..bits];
            let mut words = t.iter();
            for w in 0..nw {
                for slot in block.iter_mut() {
                    *slot = words.next().copied().unwrap_or(W::ZERO);
                }
                transpose(block);
                for (j, plane) in block.iter().enumerate() {
                    out[j * nw + w] = *plane;
                }
            }
            RingTensor::from_shape_vec(IxDyn(&[bits, nw]), out)
                .map_err(|e| RunError::Internal(e.to_string()))
        },
        |_| Ok::<_, RunError>(super::shares::ghost(&[bits, nw])),
    )
}

/// One plane `[1, ⌈n / 64⌉]` as a tensor of `shape` whose words are the planes' bits (0 or 1).
fn unplane<W: Word>(s: &Shares<W>, shape: &[usize]) -> Result<Shares<W>, RunError> {
    let n: usize = shape.iter().product();
    s.map_with(
        |t| {
            let plane = t
                .as_slice()
                .ok_or_else(|| RunError::Internal("a bit plane not in place".into()))?;
            let w = W::BITS as usize;
            let bits = (0..n)
                .map(|e| (plane[e / w] >> (e % w) as u32) & W::ONE)
                .collect();
            RingTensor::from_shape_vec(IxDyn(shape), bits)
                .map_err(|e| RunError::Internal(e.to_string()))
        },
        |_| Ok::<_, RunError>(super::shares::ghost(shape)),
    )
}

/// `[picks.len(), nw]`: row `r` is row `picks[r].1` of `sources[picks[r].0]` (planes of one
/// protocol, each `[_, nw]` in standard layout).
fn rows<W: Word>(
    sources: &[&Shares<W>],
    picks: &[(usize, usize)],
    nw: usize,
) -> Result<Shares<W>, RunError> {
    if !sources[0].holds() {
        return Ok(Shares::shape_only(&[picks.len(), nw]));
    }
    let k = sources[0].parts().len();
    let parts = (0..k)
        .map(|c| {
            let mut out = Vec::with_capacity(picks.len() * nw);
            for &(s, r) in picks {
                let words = sources[s]
                    .part(c)?
                    .as_slice()
                    .ok_or_else(|| RunError::Internal("bit planes not in place".into()))?;
                out.extend_from_slice(&words[r * nw..(r + 1) * nw]);
            }
            RingTensor::from_shape_vec(IxDyn(&[picks.len(), nw]), out)
                .map_err(|e| RunError::Internal(e.to_string()))
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    Shares::new(parts)
}

/// Transposes a square bit matrix of `W::BITS` words in place: afterwards bit `i` of `a[j]` is
/// what bit `j` of `a[i]` was. log2(BITS) rounds of swapping blocks across the diagonal,
/// halving the block each time (Hacker's Delight, section 7-3).
fn transpose<W: Word>(a: &mut [W]) {
    let n = W::BITS as usize;
    debug_assert_eq!(a.len(), n);
    let mut width = n / 2;
    let mut mask = W::MAX >> (W::BITS / 2);
    while width != 0 {
        let mut k = 0;
        while k < n {
            // Rows k and k + width: the high `width` bits of row k's blocks swap with the low
            // `width` bits of row k + width's.
            let t = ((a[k] >> width as u32) ^ a[k + width]) & mask;
            a[k] ^= t << width as u32;
            a[k + width] ^= t;
            k = (k + width + 1) & !width;
        }
        width >>= 1;
        mask = mask ^ (mask << width as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_moves_bit_i_of_row_j_to_bit_j_of_row_i() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut a = [0u64; 64];
        for w in a.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *w = state;
        }
        let before = a;
        transpose(&mut a);
        for (i, row) in before.iter().enumerate() {
            for (j, column) in a.iter().enumerate() {
                assert_eq!((column >> i) & 1, (row >> j) & 1, "bit {i} of row {j}");
            }
        }
        // And 128×128, from pairs of the words above.
        let mut b: Vec<u128> = (0..128)
            .map(|i| (before[i % 64] as u128) << 64 | before[(i * 7 + 3) % 64] as u128)
            .collect();
        let rows = b.clone();
        transpose(&mut b);
        for (i, row) in rows.iter().enumerate() {
            for (j, column) in b.iter().enumerate() {
                assert_eq!(
                    (column >> i) & 1,
                    (row >> j) & 1,
                    "bit {i} of row {j} (128)"
                );
            }
        }
    }
}
