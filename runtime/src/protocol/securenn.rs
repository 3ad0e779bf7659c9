//! securenn: pond's additive sharing between two servers, with the third party as helper in
//! exact comparisons (the original TF Encrypted's third protocol).
//!
//! Reference: Wagh, Gupta, Chandran, "SecureNN: 3-Party Secure Computation for Neural Network
//! Training" (PETS 2019). Its algorithms are written here as the paper's steps: PrivateCompare
//! (Algorithm 1), ShareConvert (Algorithm 2), ComputeMSB (Algorithm 3) and, on them, DReLU
//! (Algorithm 8). Values, products (Beaver triples from the helper), truncation, sharing and
//! revealing are pond's ([`Pond`]); what differs is the sign: instead of a boolean adder whose
//! every AND needs a triple, the servers mask the value and the helper, which learns only
//! uniformly random values, compares bit by bit over Z_67.
//!
//! Notation: `L = 2^64`; P0 and P1 are the servers (roles 0 and 1), P2 the helper (role 2). A
//! value `a` in Z_L is `a_0 + a_1`; shares over the odd ring Z_{L-1} and over Z_p (`p = 67`) are
//! additive likewise. P2's messages to a server carry one share of a value P2 knows; the other
//! share P0 draws from the key it shares with P2, so P2 sends only to P1.
//!
//! The sign of `a` this way is exact for `|a| < 2^62`: DReLU compares `2a` (even, so never
//! `L - 1`, which ShareConvert excludes), whose top bit is `a`'s sign while `|a| < 2^62`.
//!
//! Rounds and messages of the sign of `n` elements (`msb`), per element:
//! - ShareConvert: 4 rounds. Each server sends its masked share `ã_j` to P2 (1 word); P2 sends
//!   P1 its shares of the 64 bits of `ã` over Z_p (64 bytes) and of the wrap `δ` (1 word); each
//!   server sends P2 its 64 masked, rotated PrivateCompare values (64 bytes); P2 sends P1 its
//!   share of `η'` (1 word).
//! - ComputeMSB: 4 rounds. P2 sends P1, ahead of everything, its shares of a random `x` over
//!   Z_{L-1}, of its bits over Z_p and of its lowest bit over Z_L (2 words and 64 bytes); the
//!   servers open `r = 2y + x` (1 word each way); PrivateCompare (64 bytes each to P2); P2
//!   sends P1 its share of `β'` (1 word); one product (pond's: 2 words each way, 1 from P2).
//! - In all 8 rounds; each server sends 4 words and 128 bytes (160 bytes), P2 sends P1 6 words
//!   and 128 bytes (176 bytes). pond's sign by a boolean adder: 8 rounds, 27 words (216 bytes)
//!   per server and 14 words (112 bytes) from its dealer.
//!
//! Two choices where the paper leaves room, both with the paper's guarantees:
//! - PrivateCompare hides where its zero is (if there is one) with a random rotation of the 64
//!   positions rather than a random permutation: at most one position is zero and every other
//!   is uniform on Z_p^* (each is multiplied by its own random `s_i`), so a uniformly random
//!   rotation makes the view exactly as uniform as a permutation would, for one random byte per
//!   element instead of a shuffle.
//! - Max-pooling and its derivative use the tournament of [`super::composite::max_axis`] on this
//!   sign (n - 1 comparisons in ⌈log2 n⌉ rounds of comparisons), not the paper's sequential scan
//!   (Algorithm 9: the same n - 1 comparisons, one after another).
//!
//! Falcon (Wagh, Tople, Benhamouda, Kushilevitz, Mittal, Rabin, PETS 2021) computes the same
//! sign with less communication, but with replicated shares among three parties (aby3's trust
//! model, honest majority), not with this one's two share holders and a helper; it is not
//! implemented here.

use tfe_ir::{MsgKey, PartyId, Role, Size};

use super::pond::Pond;
use super::{And, Ctx, Linear, Product, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::RingTensor;

/// The prime of PrivateCompare's field.
const P: u64 = 67;
/// Bits per value.
const BITS: usize = 64;
const HELPER: usize = 2;

/// A secret placement computing with securenn: the two servers, then the helper.
#[derive(Debug, Clone, Copy)]
pub struct SecureNn {
    pub pond: Pond,
}

fn shape_err(e: String) -> RunError {
    RunError::Shape(e)
}

// ---- Arithmetic in Z_{L-1} and Z_p ------------------------------------------------------------

/// `a` in Z_{L-1} (the one word not in it, L - 1, is 0 there).
fn odd(a: u64) -> u64 {
    if a == u64::MAX { 0 } else { a }
}

fn odd_add(a: u64, b: u64) -> u64 {
    let (s, carry) = odd(a).overflowing_add(odd(b));
    odd(if carry { s + 1 } else { s })
}

fn odd_sub(a: u64, b: u64) -> u64 {
    let (a, b) = (odd(a), odd(b));
    if a >= b {
        a - b
    } else {
        a.wrapping_sub(b).wrapping_sub(1)
    }
}

fn odd_mul(a: u64, k: u64) -> u64 {
    ((u128::from(odd(a)) * u128::from(k)) % u128::from(u64::MAX)) as u64
}

/// Whether `a + b` wraps around 2^64 (the paper's `wrap(a, b, L)`).
fn wraps(a: u64, b: u64) -> u64 {
    u64::from(a.overflowing_add(b).1)
}

fn bit(v: u64, i: usize) -> u64 {
    (v >> i) & 1
}

/// The common random words of `set` for `key`, `n` of them (stream `stream`).
fn draw(
    ctx: &Ctx<'_>,
    set: &[PartyId],
    key: MsgKey,
    stream: u16,
    n: usize,
) -> Result<Vec<u64>, RunError> {
    let t = ctx.draw(set, key, stream, &[n])?;
    Ok(t.into_raw_vec_and_offset().0)
}

/// `n` uniform elements of Z_p (of Z_p^* when `nonzero`) that every party of `set` draws alike:
/// bytes by rejection (a byte below 3p stands for itself mod p), so each is exactly uniform,
/// at about 1.3 random bytes per element. Both parties reject the same bytes; a short draw
/// continues on the next stream (`stream + 256 k`), which the other party reads alike.
fn draw_zp(
    ctx: &Ctx<'_>,
    set: &[PartyId],
    key: MsgKey,
    stream: u16,
    n: usize,
    nonzero: bool,
) -> Result<Vec<u8>, RunError> {
    let (m, offset) = if nonzero { (P - 1, 1) } else { (P, 0) };
    // Each byte below `limit` stands for an element; the others are skipped.
    let mut table = [u8::MAX; 256];
    for (b, t) in table.iter_mut().enumerate().take(3 * m as usize) {
        *t = (b as u64 % m + offset) as u8;
    }
    let mut out = vec![0u8; n];
    let mut filled = 0;
    let mut refill = 0u16;
    while filled < n {
        let need = n - filled;
        let bytes = ctx.draw_bytes(set, key, stream + 256 * refill, need + need / 3 + 64)?;
        for b in bytes {
            let v = table[usize::from(b)];
            // Written always, kept (the position advances) only for an element.
            out[filled] = v;
            filled += usize::from(v != u8::MAX);
            if filled == n {
                break;
            }
        }
        refill += 1;
    }
    Ok(out)
}

/// The message keys of one sign, in the order every party allocates them.
struct Keys {
    /// ShareConvert: the servers' common randomness (r, its shares, η'').
    sc_common: MsgKey,
    /// ShareConvert: `ã_j` to P2.
    sc_masked: MsgKey,
    /// ShareConvert: P1's shares of the bits of `ã` over Z_p (P0's drawn from this key).
    sc_bits: MsgKey,
    /// ShareConvert: P1's share of `δ` over Z_{L-1}.
    sc_delta: MsgKey,
    /// ShareConvert's PrivateCompare.
    sc_compare: MsgKey,
    /// ShareConvert: P1's share of `η'` over Z_{L-1}.
    sc_eta: MsgKey,
    /// ComputeMSB: P1's shares of `x` over Z_{L-1}.
    msb_x: MsgKey,
    /// ComputeMSB: P1's shares of the bits of `x` over Z_p.
    msb_bits: MsgKey,
    /// ComputeMSB: P1's share of `x[0]` over Z_L.
    msb_lsb: MsgKey,
    /// ComputeMSB: the opened `r`, and the servers' common randomness (β, zero shares).
    msb_open: MsgKey,
    /// ComputeMSB's PrivateCompare.
    msb_compare: MsgKey,
    /// ComputeMSB: P1's share of `β'` over Z_L.
    msb_beta: MsgKey,
}

impl Keys {
    fn new(ctx: &mut Ctx<'_>) -> Keys {
        Keys {
            sc_common: ctx.key(),
            sc_masked: ctx.key(),
            sc_bits: ctx.key(),
            sc_delta: ctx.key(),
            sc_compare: ctx.key(),
            sc_eta: ctx.key(),
            msb_x: ctx.key(),
            msb_bits: ctx.key(),
            msb_lsb: ctx.key(),
            msb_open: ctx.key(),
            msb_compare: ctx.key(),
            msb_beta: ctx.key(),
        }
    }
}

impl SecureNn {
    /// Pond, whose primitives securenn forwards to: at 64 bits (securenn's comparison works
    /// in Z_2^64 and Z_67 and is not generic over the ring).
    fn p64(&self) -> &dyn Protocol<u64> {
        &self.pond
    }

    fn server(&self, i: usize) -> PartyId {
        self.pond.members[i]
    }

    fn helper(&self) -> PartyId {
        self.pond.members[HELPER]
    }

    fn servers(&self) -> [PartyId; 2] {
        [self.pond.members[0], self.pond.members[1]]
    }

    fn with_helper(&self, i: usize) -> [PartyId; 2] {
        [self.pond.members[i], self.helper()]
    }

    /// P2 shares `values` over `modulus` between the servers: P0's shares are drawn from the
    /// key it shares with P2, P1's are sent. At a server, returns its shares (P1 receives them).
    fn helper_shares(
        &self,
        ctx: &mut Ctx<'_>,
        key: MsgKey,
        values: Option<&[u64]>,
        n: usize,
        modulus: Modulus,
    ) -> Result<Vec<u64>, RunError> {
        let role = self.pond.role_of(ctx.me).expect("a member");
        match role {
            HELPER => {
                let values = values.ok_or_else(|| RunError::Internal("P2 has no values".into()))?;
                let mine = draw(ctx, &self.with_helper(0), key, 0, n)?;
                let other: Vec<u64> = values
                    .iter()
                    .zip(&mine)
                    .map(|(v, r)| modulus.sub(*v, modulus.reduce(*r)))
                    .collect();
                ctx.send(
                    self.server(1),
                    key,
                    RingTensor::from_shape_vec(ndarray::IxDyn(&[n]), other)
                        .map_err(|e| shape_err(e.to_string()))?,
                )?;
                Ok(Vec::new())
            }
            0 => Ok(draw(ctx, &self.with_helper(0), key, 0, n)?
                .into_iter()
                .map(|r| modulus.reduce(r))
                .collect()),
            _ => Ok(ctx
                .recv_shaped(self.helper(), key, &[n])?
                .into_raw_vec_and_offset()
                .0),
        }
    }

    /// P2 shares the 64 bits of each of `values` over Z_p between the servers, one byte per
    /// bit: P0's shares drawn from the key it shares with P2, P1's sent. At a server, returns
    /// its `n * 64` shares (`[e * 64 + i]`: bit `i` of element `e`).
    fn helper_bits(
        &self,
        ctx: &mut Ctx<'_>,
        key: MsgKey,
        values: Option<&[u64]>,
        n: usize,
    ) -> Result<Vec<u8>, RunError> {
        let role = self.pond.role_of(ctx.me).expect("a member");
        match role {
            HELPER => {
                let values = values.ok_or_else(|| RunError::Internal("P2 has no values".into()))?;
                let mine = draw_zp(ctx, &self.with_helper(0), key, 0, n * BITS, false)?;
                // P1's share of bit b is b - r mod p: a table of the two cases.
                let mut other = vec![0u8; n * BITS];
                for ((v, out), r) in values
                    .iter()
                    .zip(other.chunks_exact_mut(BITS))
                    .zip(mine.chunks_exact(BITS))
                {
                    for i in 0..BITS {
                        let minus_r = (P as u8 - r[i]) % P as u8;
                        out[i] = if bit(*v, i) == 1 {
                            (minus_r + 1) % P as u8
                        } else {
                            minus_r
                        };
                    }
                }
                ctx.send_bytes(self.server(1), key, other)?;
                Ok(Vec::new())
            }
            0 => draw_zp(ctx, &self.with_helper(0), key, 0, n * BITS, false),
            _ => ctx.recv_bytes(self.helper(), key, n * BITS),
        }
    }

    /// Algorithm 1, PrivateCompare: the servers hold shares over Z_p of the bits of `x`
    /// (`x_bits[e * 64 + i]`, bit `i` of element `e`), a common `r` and a common random bit
    /// `beta` per element; P2 learns `beta' = beta ^ (x > r)` per element, and nothing else.
    ///
    /// For `i` from the top bit down, with `w_k = x[k] ^ r[k]` (shared: `x[k] + r[k] - 2 r[k]
    /// x[k]`), `c_i = r[i] - x[i] + 1 + sum_{k > i} w_k` is 0 exactly at the highest bit where
    /// `x` and `r` differ, if `x` has a 1 there: so some `c_i` is 0 iff `x > r`. With `beta = 1`
    /// the same is done for `x < r + 1`; when `r + 1` wraps (`r = 2^64 - 1`, and so `x <= r`)
    /// the `c_i` are random shares of exactly one 0. Each server multiplies `c_i` by common
    /// random `s_i` in Z_p^* and rotates the 64 positions by a common random amount before
    /// sending (see the module header), so P2 sees a zero or not at a uniform position among
    /// uniform non-zero values: that is `beta'`, which `beta` masks.
    fn private_compare(
        &self,
        ctx: &mut Ctx<'_>,
        key: MsgKey,
        input: Option<(&[u8], &[u64], &[u64])>,
        n: usize,
    ) -> Result<Vec<u64>, RunError> {
        let role = self.pond.role_of(ctx.me).expect("a member");
        if role == HELPER {
            let d0 = ctx.recv_bytes(self.server(0), key, n * BITS)?;
            let d1 = ctx.recv_bytes(self.server(1), key, n * BITS)?;
            return Ok(d0
                .chunks_exact(BITS)
                .zip(d1.chunks_exact(BITS))
                .map(|(a, b)| {
                    // Without short-circuit, so that the 64 positions vectorize.
                    let zeros = a.iter().zip(b).fold(0u8, |z, (a, b)| {
                        z | u8::from((u16::from(*a) + u16::from(*b)) % P as u16 == 0)
                    });
                    u64::from(zeros)
                })
                .collect());
        }
        let (x_bits, r, beta) =
            input.ok_or_else(|| RunError::Internal("a server without its inputs".into()))?;
        let j = role as u32;
        let p = P as u32;
        // Common randomness of the servers: s_i in Z_p^*, a rotation per element, and (only
        // if some `r` is 2^64 - 1, almost never) u_i in Z_p^*.
        let s = draw_zp(ctx, &self.servers(), key, 0, n * BITS, true)?;
        let rot = ctx.draw_bytes(&self.servers(), key, 2, n)?;
        let u = if beta.iter().zip(r).any(|(b, r)| *b == 1 && *r == u64::MAX) {
            draw_zp(ctx, &self.servers(), key, 1, n * BITS, true)?
        } else {
            Vec::new()
        };
        let mut d = vec![0u8; n * BITS];
        for (e, out) in d.chunks_exact_mut(BITS).enumerate() {
            let (re, be) = (r[e], beta[e]);
            let xs = &x_bits[e * BITS..(e + 1) * BITS];
            let ss = &s[e * BITS..(e + 1) * BITS];
            let shift = usize::from(rot[e]) % BITS;
            // Compared with r (β = 0) or with r + 1 (β = 1).
            let (t, flip) = if be == 0 {
                (re, false)
            } else {
                (re.wrapping_add(1), true)
            };
            let mut w_sum = 0u32;
            for i in (0..BITS).rev() {
                let xi = u32::from(xs[i]) % p;
                let c = if be == 1 && re == u64::MAX {
                    let ui = u32::from(u[e * BITS + i]);
                    // (1 - j)(u_i + 1) - j u_i at i > 0; ±u_i at i = 0.
                    match (j, i) {
                        (0, 0) => ui,
                        (0, _) => (ui + 1) % p,
                        _ => p - ui,
                    }
                } else {
                    let ti = bit(t, i) as u32;
                    // Shares of w_i = x_i ^ t_i: x_i + j t_i - 2 t_i x_i. Sums are reduced
                    // once, at the product below (all stay far below 2^32 / p).
                    let w = xi + j * ti + 2 * ti * (p - xi);
                    // β = 0: t_i - x_i + 1 + Σ w; β = 1: x_i - t_i + 1 + Σ w (P1 adds the
                    // public t_i and 1).
                    let c = if flip {
                        p - j * ti + xi + j + w_sum
                    } else {
                        j * ti + p - xi + j + w_sum
                    };
                    w_sum += w;
                    c
                };
                out[(i + shift) % BITS] = ((u32::from(ss[i]) * c) % p) as u8;
            }
        }
        ctx.send_bytes(self.helper(), key, d)?;
        Ok(Vec::new())
    }

    /// Algorithm 2, ShareConvert: shares of `a` over Z_L (`a != L - 1`) to shares over Z_{L-1}.
    ///
    /// The servers mask with a common random `r` (its shares `r_j`, and `α = wrap(r_0, r_1)`),
    /// and send `ã_j = a_j + r_j` to P2 (`β_j = wrap(a_j, r_j)`). P2 opens `x = ã_0 + ã_1`, with
    /// `δ = wrap(ã_0, ã_1)`, and shares the bits of `x` over Z_p and `δ` over Z_{L-1};
    /// PrivateCompare tells P2 `η' = η'' ^ (x > r - 1)`, which it shares over Z_{L-1}; then
    /// `η = η' ^ η''`, and `θ = β_0 + β_1 - α - 1 + δ + η` is the wrap of `a`'s shares, so
    /// `y_j = a_j - θ_j` over Z_{L-1} are shares of `a`. (`x > r - 1` is `a + r` not wrapping;
    /// for `r = 0` it reads wrong, with probability 2^-64.)
    fn share_convert(
        &self,
        ctx: &mut Ctx<'_>,
        keys: &Keys,
        a: Option<&[u64]>,
        n: usize,
    ) -> Result<(Vec<u64>, Dealt), RunError> {
        let role = self.pond.role_of(ctx.me).expect("a member");
        if role == HELPER {
            let m0 = ctx.recv_shaped::<u64>(self.server(0), keys.sc_masked, &[n])?;
            let m1 = ctx.recv_shaped(self.server(1), keys.sc_masked, &[n])?;
            let (m0, m1) = (m0.as_slice().unwrap_or(&[]), m1.as_slice().unwrap_or(&[]));
            let x: Vec<u64> = m0.iter().zip(m1).map(|(p, q)| p.wrapping_add(*q)).collect();
            let delta: Vec<u64> = m0.iter().zip(m1).map(|(p, q)| wraps(*p, *q)).collect();
            self.helper_bits(ctx, keys.sc_bits, Some(&x), n)?;
            self.helper_shares(ctx, keys.sc_delta, Some(&delta), n, Modulus::Odd)?;
            let eta_prime = self.private_compare(ctx, keys.sc_compare, None, n)?;
            self.helper_shares(ctx, keys.sc_eta, Some(&eta_prime), n, Modulus::Odd)?;
            return Ok((Vec::new(), Dealt::Helper));
        }
        let a = a.ok_or_else(|| RunError::Internal("a server without its shares".into()))?;
        let j = role;
        // Common randomness: r's two shares, and η''.
        let r0 = draw(ctx, &self.servers(), keys.sc_common, 0, n)?;
        let r1 = draw(ctx, &self.servers(), keys.sc_common, 1, n)?;
        let eta2: Vec<u64> = draw(ctx, &self.servers(), keys.sc_common, 2, n)?
            .into_iter()
            .map(|v| v & 1)
            .collect();
        let r_mine = if j == 0 { &r0 } else { &r1 };
        let masked: Vec<u64> = a
            .iter()
            .zip(r_mine)
            .map(|(p, q)| p.wrapping_add(*q))
            .collect();
        let beta_j: Vec<u64> = a.iter().zip(r_mine).map(|(p, q)| wraps(*p, *q)).collect();
        ctx.send(
            self.helper(),
            keys.sc_masked,
            RingTensor::from_shape_vec(ndarray::IxDyn(&[n]), masked)
                .map_err(|e| shape_err(e.to_string()))?,
        )?;
        // What P2 dealt for ComputeMSB came first on its link: taken first, so that every
        // message from P2 is asked for in the order it was sent (a party holding a message it
        // has not asked for while the run stalls blames its sender: `net::Mailbox::recv`).
        let dealt = Dealt::Server {
            x: self.helper_shares(ctx, keys.msb_x, None, n, Modulus::Odd)?,
            x_bits: self.helper_bits(ctx, keys.msb_bits, None, n)?,
            x_lsb: self.helper_shares(ctx, keys.msb_lsb, None, n, Modulus::Ring)?,
        };
        let x_bits = self.helper_bits(ctx, keys.sc_bits, None, n)?;
        let delta = self.helper_shares(ctx, keys.sc_delta, None, n, Modulus::Odd)?;
        let r_minus_1: Vec<u64> = r0
            .iter()
            .zip(&r1)
            .map(|(p, q)| p.wrapping_add(*q).wrapping_sub(1))
            .collect();
        self.private_compare(ctx, keys.sc_compare, Some((&x_bits, &r_minus_1, &eta2)), n)?;
        let eta_prime = self.helper_shares(ctx, keys.sc_eta, None, n, Modulus::Odd)?;
        let y: Vec<u64> = (0..n)
            .map(|e| {
                let alpha = wraps(r0[e], r1[e]);
                // η_j = η'_j + (1 - j) η'' - 2 η'' η'_j
                let mut eta = eta_prime[e];
                if eta2[e] == 1 {
                    eta = odd_sub(if j == 0 { 1 } else { 0 }, eta);
                }
                // θ_j = β_j + (1 - j)(-α - 1) + δ_j + η_j
                let mut theta = odd_add(odd_add(beta_j[e], delta[e]), eta);
                if j == 0 {
                    theta = odd_sub(theta, alpha + 1);
                }
                odd_sub(a[e], theta)
            })
            .collect();
        Ok((y, dealt))
    }

    /// Algorithm 3, ComputeMSB: shares of `y` over Z_{L-1} to shares of its top bit over Z_L.
    /// Over the odd ring, `MSB(y) = LSB(2y)`; with P2's random `x` (and its bits, and its lowest
    /// bit over Z_L), the servers open `r = 2y + x`, and `LSB(2y) = r[0] ^ x[0] ^ (x > r)`:
    /// PrivateCompare gives P2 `β' = β ^ (x > r)`, which it shares; `γ = β' ^ β`,
    /// `δ = r[0] ^ x[0]`, and `γ ^ δ = γ + δ - 2 γ δ` costs one product.
    fn compute_msb(
        &self,
        ctx: &mut Ctx<'_>,
        keys: &Keys,
        dealt: Dealt,
        y: Option<&[u64]>,
        n: usize,
        shape: &[usize],
    ) -> Result<Shares, RunError> {
        let role = self.pond.role_of(ctx.me).expect("a member");
        if role == HELPER {
            let beta_prime = self.private_compare(ctx, keys.msb_compare, None, n)?;
            self.helper_shares(ctx, keys.msb_beta, Some(&beta_prime), n, Modulus::Ring)?;
            let ghost = Shares::shape_only(shape);
            return self.p64().mul(ctx, &ghost, &ghost, 0);
        }
        let Dealt::Server { x, x_bits, x_lsb } = dealt else {
            return Err(RunError::Internal(
                "a server without P2's randomness".into(),
            ));
        };
        let y = y.ok_or_else(|| RunError::Internal("a server without its shares".into()))?;
        let j = role as u64;
        let other = self.server(1 - role);
        let mine: Vec<u64> = y
            .iter()
            .zip(&x)
            .map(|(v, xv)| odd_add(odd_mul(*v, 2), *xv))
            .collect();
        ctx.send(
            other,
            keys.msb_open,
            RingTensor::from_shape_vec(ndarray::IxDyn(&[n]), mine.clone())
                .map_err(|e| shape_err(e.to_string()))?,
        )?;
        let theirs = ctx.recv_shaped(other, keys.msb_open, &[n])?;
        let r: Vec<u64> = mine
            .iter()
            .zip(theirs.iter())
            .map(|(p, q)| odd_add(*p, *q))
            .collect();
        // Common randomness: β.
        let beta: Vec<u64> = draw(ctx, &self.servers(), keys.msb_open, 1, n)?
            .into_iter()
            .map(|v| v & 1)
            .collect();
        self.private_compare(ctx, keys.msb_compare, Some((&x_bits, &r, &beta)), n)?;
        let beta_prime = self.helper_shares(ctx, keys.msb_beta, None, n, Modulus::Ring)?;
        // γ_j = β'_j + j β - 2 β β'_j; δ_j = x[0]_j + j r[0] - 2 r[0] x[0]_j (over Z_L).
        let flip = |share: u64, b: u64| {
            if b == 1 { j.wrapping_sub(share) } else { share }
        };
        let gamma: Vec<u64> = (0..n).map(|e| flip(beta_prime[e], beta[e])).collect();
        let delta: Vec<u64> = (0..n).map(|e| flip(x_lsb[e], r[e] & 1)).collect();
        let tensor = |v: Vec<u64>| -> Result<Shares, RunError> {
            Ok(Shares::single(
                RingTensor::from_shape_vec(ndarray::IxDyn(shape), v)
                    .map_err(|e| shape_err(e.to_string()))?,
            ))
        };
        let (gamma, delta) = (tensor(gamma)?, tensor(delta)?);
        let theta = self.p64().mul(ctx, &gamma, &delta, 0)?;
        // α = γ + δ - 2θ.
        gamma.add(&delta)?.sub(&theta.add(&theta)?)
    }
}

/// What P2 deals for ComputeMSB before anything else: at a server, its shares of `x` over
/// Z_{L-1}, of `x`'s bits over Z_p and of `x[0]` over Z_L.
enum Dealt {
    Helper,
    Server {
        x: Vec<u64>,
        x_bits: Vec<u8>,
        x_lsb: Vec<u64>,
    },
}

/// The ring of a share P2 deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modulus {
    /// Z_{L-1}.
    Odd,
    /// Z_L.
    Ring,
}

impl Modulus {
    fn reduce(self, v: u64) -> u64 {
        match self {
            Modulus::Odd => v % u64::MAX,
            Modulus::Ring => v,
        }
    }

    fn sub(self, a: u64, b: u64) -> u64 {
        match self {
            Modulus::Odd => odd_sub(a, b),
            Modulus::Ring => a.wrapping_sub(b),
        }
    }
}

impl Protocol for SecureNn {
    fn name(&self) -> &'static str {
        "securenn"
    }

    fn members(&self) -> &[PartyId] {
        self.p64().members()
    }

    fn frac(&self) -> u32 {
        self.p64().frac()
    }

    fn holds(&self, role: usize) -> bool {
        self.p64().holds(role)
    }

    fn public(&self, me: PartyId, c: &RingTensor) -> Result<Shares, RunError> {
        self.p64().public(me, c)
    }

    fn refresh(&self, ctx: &mut Ctx<'_>, x: &Shares) -> Result<Shares, RunError> {
        self.p64().refresh(ctx, x)
    }

    fn share(
        &self,
        ctx: &mut Ctx<'_>,
        owner: PartyId,
        value: Option<&RingTensor>,
        known_shape: Option<&[usize]>,
    ) -> Result<Option<Shares>, RunError> {
        self.p64().share(ctx, owner, value, known_shape)
    }

    fn reveal(
        &self,
        ctx: &mut Ctx<'_>,
        x: Option<&Shares>,
        targets: &[PartyId],
    ) -> Result<Option<RingTensor>, RunError> {
        self.p64().reveal(ctx, x, targets)
    }

    fn mul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares,
        y: &Shares,
        trunc: u32,
    ) -> Result<Shares, RunError> {
        self.p64().mul(ctx, x, y, trunc)
    }

    fn matmul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares,
        y: &Shares,
        trunc: u32,
    ) -> Result<Shares, RunError> {
        self.p64().matmul(ctx, x, y, trunc)
    }

    fn products(
        &self,
        ctx: &mut Ctx<'_>,
        items: &[Product<'_>],
        trunc: u32,
    ) -> Result<Vec<Shares>, RunError> {
        self.p64().products(ctx, items, trunc)
    }

    fn matmul_then(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares,
        y: &Shares,
        trunc: u32,
        post: &Linear<'_>,
    ) -> Result<Shares, RunError> {
        self.p64().matmul_then(ctx, x, y, trunc, post)
    }

    fn trunc(&self, ctx: &mut Ctx<'_>, x: &Shares, d: u32) -> Result<Shares, RunError> {
        self.p64().trunc(ctx, x, d)
    }

    fn bit_addends(&self, ctx: &mut Ctx<'_>, x: &Shares) -> Result<(Shares, Shares), RunError> {
        self.p64().bit_addends(ctx, x)
    }

    fn and(&self, ctx: &mut Ctx<'_>, ands: &[And<'_>]) -> Result<Vec<Shares>, RunError> {
        self.p64().and(ctx, ands)
    }

    fn inject(
        &self,
        ctx: &mut Ctx<'_>,
        b: &Shares,
        lo: i64,
        table: &[u64],
    ) -> Result<Shares, RunError> {
        self.p64().inject(ctx, b, lo, table)
    }

    /// Algorithm 8's DReLU without its final `1 -`: the top bit of `2a` (ShareConvert), by
    /// ComputeMSB. Exact for `|a| < 2^62`.
    fn msb(&self, ctx: &mut Ctx<'_>, x: &Shares) -> Result<Shares, RunError> {
        let keys = Keys::new(ctx);
        let role = self.role(ctx)?;
        let n = x.len();
        let shape = x.shape().to_vec();
        // P2 deals ComputeMSB's randomness first: it depends on nothing, so it travels in the
        // first round, beside the servers' masked shares.
        if role == HELPER {
            // From P2's own key: a value neither server may know.
            let xs: Vec<u64> = draw(ctx, &[self.helper()], keys.msb_x, 7, n)?
                .into_iter()
                .map(|v| v % u64::MAX)
                .collect();
            let lsb: Vec<u64> = xs.iter().map(|v| v & 1).collect();
            self.helper_shares(ctx, keys.msb_x, Some(&xs), n, Modulus::Odd)?;
            self.helper_bits(ctx, keys.msb_bits, Some(&xs), n)?;
            self.helper_shares(ctx, keys.msb_lsb, Some(&lsb), n, Modulus::Ring)?;
        }
        let doubled: Option<Vec<u64>> = if role == HELPER {
            None
        } else {
            let part = x.part(0)?;
            let part = if part.is_standard_layout() {
                std::borrow::Cow::Borrowed(part)
            } else {
                std::borrow::Cow::Owned(part.as_standard_layout().into_owned())
            };
            Some(
                part.as_slice()
                    .unwrap_or(&[])
                    .iter()
                    .map(|v| v.wrapping_mul(2))
                    .collect(),
            )
        };
        let (y, dealt) = self.share_convert(ctx, &keys, doubled.as_deref(), n)?;
        let y = (role != HELPER).then_some(y);
        self.compute_msb(ctx, &keys, dealt, y.as_deref(), n, &shape)
    }

    fn end_op(&self, ctx: &mut Ctx<'_>) -> Result<(), RunError> {
        self.p64().end_op(ctx)
    }

    fn share_table(&self, t: &mut Table, owner: Option<usize>, shape_known: bool) {
        self.p64().share_table(t, owner, shape_known)
    }

    fn reveal_table(&self, t: &mut Table, target: Option<usize>, all: bool) {
        self.p64().reveal_table(t, target, all)
    }

    fn mul_table(&self, t: &mut Table, matrix: bool, trunc: bool, sizes: [Size; 3]) {
        self.p64().mul_table(t, matrix, trunc, sizes)
    }

    fn trunc_table(&self, t: &mut Table, n: Size) {
        self.p64().trunc_table(t, n)
    }

    fn refresh_table(&self, t: &mut Table, n: Size) {
        self.p64().refresh_table(t, n)
    }

    fn bit_addends_table(&self, t: &mut Table, n: Size) {
        self.p64().bit_addends_table(t, n)
    }

    fn and_table(&self, t: &mut Table, n: Size, count: usize) {
        self.p64().and_table(t, n, count)
    }

    fn inject_table(&self, t: &mut Table, n: Size, len: u64) {
        self.p64().inject_table(t, n, len)
    }

    fn msb_table(&self, t: &mut Table, n: Size) {
        let (s0, s1, helper) = (Role::Member(0), Role::Member(1), Role::Member(HELPER));
        let bits = match n {
            Size::Result(m) => Size::ResultBytes(m * BITS as u64, 1),
            Size::ResultFraction(num, den) => Size::ResultBytes(num * BITS as u64, den),
            other => other,
        };
        let [
            _sc_common,
            sc_masked,
            sc_bits,
            sc_delta,
            sc_compare,
            sc_eta,
            msb_x,
            msb_bits,
            msb_lsb,
            msb_open,
            msb_compare,
            msb_beta,
        ] = std::array::from_fn::<u16, 12, _>(|_| t.key());
        // P2 deals ComputeMSB's randomness at once.
        let dealt = [
            t.send(msb_x, helper, s1, n),
            t.send(msb_bits, helper, s1, bits),
            t.send(msb_lsb, helper, s1, n),
        ];
        // ShareConvert.
        let masked = [
            t.send(sc_masked, s0, helper, n),
            t.send(sc_masked, s1, helper, n),
        ];
        masked.into_iter().for_each(|m| t.recv(m));
        dealt.into_iter().for_each(|m| t.recv(m));
        let from_helper = [
            t.send(sc_bits, helper, s1, bits),
            t.send(sc_delta, helper, s1, n),
        ];
        from_helper.into_iter().for_each(|m| t.recv(m));
        let compare = [
            t.send(sc_compare, s0, helper, bits),
            t.send(sc_compare, s1, helper, bits),
        ];
        compare.into_iter().for_each(|m| t.recv(m));
        let eta = t.send(sc_eta, helper, s1, n);
        t.recv(eta);
        // ComputeMSB.
        let open = [t.send(msb_open, s0, s1, n), t.send(msb_open, s1, s0, n)];
        open.into_iter().for_each(|m| t.recv(m));
        let compare = [
            t.send(msb_compare, s0, helper, bits),
            t.send(msb_compare, s1, helper, bits),
        ];
        compare.into_iter().for_each(|m| t.recv(m));
        let beta = t.send(msb_beta, helper, s1, n);
        t.recv(beta);
        self.p64().mul_table(t, false, false, [n, n, n]);
    }

    fn deal(&self, x: &RingTensor, seed: u64) -> Vec<Shares> {
        self.p64().deal(x, seed)
    }

    fn open(&self, shares: &[Shares]) -> RingTensor {
        self.p64().open(shares)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::pond::Pond;
    use crate::protocol::tests::run3;

    /// The bits of `v`, lowest first, as elements of Z_p.
    fn bits_of(v: u64) -> impl Iterator<Item = u8> {
        (0..BITS).map(move |i| bit(v, i) as u8)
    }

    fn securenn() -> SecureNn {
        SecureNn {
            pond: Pond {
                members: [0, 1, 2],
                frac: 16,
            },
        }
    }

    /// PrivateCompare at its edges (x = r, x = r + 1, r = 0, r = 2^64 - 1, where `r + 1`
    /// wraps) and on random pairs, for both β: the helper learns β ^ (x > r).
    #[test]
    fn private_compare_tells_the_helper_beta_xor_greater() {
        let mut cases: Vec<(u64, u64)> = vec![
            (5, 5),
            (6, 5),
            (4, 5),
            (0, 0),
            (1, 0),
            (u64::MAX, u64::MAX),
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (u64::MAX, 0),
            (1 << 63, (1 << 63) - 1),
        ];
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = s;
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Half the pairs share their top 32 bits, so the compare reaches the low bits.
            let r = if s & 1 == 0 {
                s
            } else {
                (x & !0xffff_ffff) | (s >> 32)
            };
            cases.push((x, r));
        }
        for beta in [0u64, 1] {
            let cases = Arc::new(cases.clone());
            let p: Arc<dyn Protocol> = Arc::new(securenn());
            let sn = securenn();
            let n = cases.len();
            let seen = {
                let cases = cases.clone();
                run3(&p, move |ctx, _| {
                    let key = ctx.key();
                    let role = sn.pond.role_of(ctx.me).expect("a member");
                    if role == HELPER {
                        return sn.private_compare(ctx, key, None, n);
                    }
                    // Shares of x's bits over Z_p: P0 holds k, P1 holds bit - k.
                    let bits: Vec<u8> = cases
                        .iter()
                        .enumerate()
                        .flat_map(|(e, (x, _))| {
                            bits_of(*x).enumerate().map(move |(i, b)| {
                                let k = ((e * 31 + i * 7) as u64 % P) as u8;
                                if role == 0 {
                                    k
                                } else {
                                    ((u64::from(b) + P - u64::from(k)) % P) as u8
                                }
                            })
                        })
                        .collect();
                    let r: Vec<u64> = cases.iter().map(|(_, r)| *r).collect();
                    let betas = vec![beta; n];
                    sn.private_compare(ctx, key, Some((&bits, &r, &betas)), n)
                })
            };
            for (e, (x, r)) in cases.iter().enumerate() {
                assert_eq!(
                    seen[HELPER][e],
                    beta ^ u64::from(x > r),
                    "x = {x}, r = {r}, beta = {beta}"
                );
            }
        }
    }

    /// Rejection sampling gives every element of Z_p (of Z_p^*) alike.
    #[test]
    fn draws_in_the_field_are_uniform() {
        let p: Arc<dyn Protocol> = Arc::new(securenn());
        let n = 67 * 3000;
        let drawn = run3(&p, move |ctx, _| {
            let key = ctx.key();
            if ctx.me == HELPER {
                return Ok((Vec::new(), Vec::new()));
            }
            Ok((
                draw_zp(ctx, &[0, 1], key, 0, n, false)?,
                draw_zp(ctx, &[0, 1], key, 1, n, true)?,
            ))
        });
        assert_eq!(drawn[0], drawn[1], "both servers draw alike");
        for (values, nonzero) in [(&drawn[0].0, false), (&drawn[0].1, true)] {
            let mut counts = [0usize; P as usize];
            values.iter().for_each(|v| counts[usize::from(*v)] += 1);
            let range = if nonzero {
                1..P as usize
            } else {
                0..P as usize
            };
            let expected = n as f64 / range.len() as f64;
            for (v, count) in counts.iter().enumerate() {
                if range.contains(&v) {
                    // Within 5 standard deviations of a binomial count.
                    assert!(
                        (*count as f64 - expected).abs() < 5.0 * expected.sqrt(),
                        "{v} drawn {count} times, expected {expected}"
                    );
                } else {
                    assert_eq!(*count, 0, "{v} is not in Z_p^*");
                }
            }
        }
    }
}
