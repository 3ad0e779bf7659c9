//! aby3: replicated secret sharing among three parties, semi-honest, honest majority.
//!
//! References: Araki, Furukawa, Lindell, Nof, Ohara, "High-throughput semi-honest secure
//! three-party computation with an honest majority" (CCS 2016); Mohassel, Rindal, "ABY3"
//! (CCS 2018); Mohassel, Zhang, "SecureML" (S&P 2017) for local truncation.
//!
//! A value `x` in Z_2^64 is split as `x = x_0 + x_1 + x_2`; the party in role `i` holds
//! `(x_i, x_{i+1})` (indices mod 3), so any two parties can reconstruct and any one learns
//! nothing. Boolean shares use `^` in place of `+` (64 independent bits per word). Fixed-point
//! values carry `frac` fractional bits.
//!
//! Randomness comes from keys shared by sets of parties ([`crate::prg`]): zero-sharings cost no
//! messages, and every message is one ring element per element of the op's result.
//!
//! Rounds and messages (per result element, one ring element each):
//! - add, sub, neg, products by public values without truncation, shape ops: local;
//! - multiply / matmul (integer): 1 round, each party sends 1 (resharing);
//! - multiply / matmul (fixed point, with truncation): 1 round, three messages (role 0 → 2,
//!   1 → 2, 2 → 1), see [`trunc_reshare`];
//! - share from a member: 1 message (owner → one member); from an outside party: 2 messages;
//! - reveal to one party: 1 message (to a member) or 2 (to an outsider);
//! - most significant bit / comparison: 10 rounds ([`msb`]).

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use tfe_ir::{MsgKey, OpId, PartyId};

use crate::RunError;
use crate::net::{Payload, Transport};
use crate::prg::{self, SharedKey};
use crate::ring::{self, RingTensor};
use crate::value::Rep;

/// The keys this party shares with each set of parties it belongs to (pairs and triples),
/// agreed at session start.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: HashMap<Vec<PartyId>, SharedKey>,
}

impl KeyStore {
    pub fn insert(&mut self, mut set: Vec<PartyId>, key: SharedKey) {
        set.sort_unstable();
        self.keys.insert(set, key);
    }

    pub fn get(&self, set: &[PartyId]) -> Result<&SharedKey, RunError> {
        let mut set = set.to_vec();
        set.sort_unstable();
        set.dedup();
        self.keys
            .get(&set)
            .ok_or_else(|| RunError::Internal(format!("no shared key for parties {set:?}")))
    }
}

/// What a protocol step needs: who we are, the keys, the network, and the op being run (whose
/// id and run count key its messages and draws).
#[allow(missing_debug_implementations, reason = "holds a `dyn Transport`")]
pub struct Ctx<'a> {
    pub me: PartyId,
    pub session: u64,
    pub keys: &'a KeyStore,
    pub net: &'a mut dyn Transport,
    pub op: OpId,
    pub count: u64,
    pub step: u16,
}

impl Ctx<'_> {
    /// A fresh message key for the next protocol step. Every role calls this in the same order,
    /// whatever its part in the step, so the keys agree.
    pub fn key(&mut self) -> MsgKey {
        let k = MsgKey {
            op: self.op,
            count: self.count,
            step: self.step,
        };
        self.step += 1;
        k
    }

    fn draw(
        &self,
        set: &[PartyId],
        key: MsgKey,
        stream: u16,
        shape: &[usize],
    ) -> Result<RingTensor, RunError> {
        let n: usize = shape.iter().product();
        let data = prg::draw(self.keys.get(set)?, self.session, key, stream, n);
        Ok(ArrayD::from_shape_vec(IxDyn(shape), data).expect("n elements"))
    }

    fn send(&mut self, to: PartyId, key: MsgKey, t: RingTensor) -> Result<(), RunError> {
        self.net
            .send(to, key, Payload::Ring(t))
            .map_err(RunError::Net)
    }

    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<RingTensor, RunError> {
        match self.net.recv(from, key).map_err(RunError::Net)? {
            Payload::Ring(t) => Ok(t),
            other => Err(RunError::BadMessage {
                from,
                detail: format!("expected shares, got {other:?}"),
            }),
        }
    }

    fn send_shape(&mut self, to: PartyId, key: MsgKey, shape: &[usize]) -> Result<(), RunError> {
        self.net
            .send(to, key, Payload::Shape(shape.to_vec()))
            .map_err(RunError::Net)
    }

    fn recv_shape(&mut self, from: PartyId, key: MsgKey) -> Result<Vec<usize>, RunError> {
        match self.net.recv(from, key).map_err(RunError::Net)? {
            Payload::Shape(s) => Ok(s),
            other => Err(RunError::BadMessage {
                from,
                detail: format!("expected a shape, got {other:?}"),
            }),
        }
    }
}

/// A secret placement computing with aby3: its three members, in role order.
#[derive(Debug, Clone, Copy)]
pub struct Aby3 {
    pub members: [PartyId; 3],
    pub frac: u32,
}

impl Aby3 {
    pub fn role_of(&self, party: PartyId) -> Option<usize> {
        self.members.iter().position(|m| *m == party)
    }

    fn role(&self, ctx: &Ctx<'_>) -> Result<usize, RunError> {
        self.role_of(ctx.me).ok_or_else(|| {
            RunError::Internal(format!(
                "party {} runs a protocol step of a placement it is not in",
                ctx.me
            ))
        })
    }

    fn at(&self, role: usize) -> PartyId {
        self.members[role % 3]
    }

    /// The pair of parties in roles `i` and `i + 1`.
    fn pair(&self, i: usize) -> [PartyId; 2] {
        [self.at(i), self.at(i + 1)]
    }
}

// ---- Local operations -----------------------------------------------------------------------

pub fn add(x: &Rep, y: &Rep) -> Result<Rep, RunError> {
    Ok(Rep {
        a: ring::add(&x.a, &y.a).map_err(RunError::Shape)?,
        b: ring::add(&x.b, &y.b).map_err(RunError::Shape)?,
    })
}

pub fn sub(x: &Rep, y: &Rep) -> Result<Rep, RunError> {
    Ok(Rep {
        a: ring::sub(&x.a, &y.a).map_err(RunError::Shape)?,
        b: ring::sub(&x.b, &y.b).map_err(RunError::Shape)?,
    })
}

pub fn neg(x: &Rep) -> Rep {
    Rep {
        a: ring::neg(&x.a),
        b: ring::neg(&x.b),
    }
}

/// The trivial sharing of a public value: component 0 is the value, the others are zero.
pub fn from_public(aby: &Aby3, me: PartyId, c: &RingTensor) -> Result<Rep, RunError> {
    let zero = RingTensor::zeros(IxDyn(c.shape()));
    Ok(match aby.role_of(me) {
        Some(0) => Rep {
            a: c.clone(),
            b: zero,
        },
        Some(1) => Rep {
            a: zero.clone(),
            b: zero,
        },
        Some(2) => Rep {
            a: zero,
            b: c.clone(),
        },
        _ => return Err(RunError::Internal("a non-member holds shares".into())),
    })
}

/// `x + c` for a public `c` (added to component 0).
pub fn add_public(aby: &Aby3, me: PartyId, x: &Rep, c: &RingTensor) -> Result<Rep, RunError> {
    let c_rep = from_public(aby, me, c)?;
    add(x, &c_rep)
}

/// `x · c` for a public `c`, componentwise (no truncation).
pub fn mul_public(x: &Rep, c: &RingTensor) -> Result<Rep, RunError> {
    x.map(|t| ring::mul(t, c)).map_err(RunError::Shape)
}

pub fn matmul_public_right(x: &Rep, c: &RingTensor) -> Result<Rep, RunError> {
    x.map(|t| ring::matmul(t, c)).map_err(RunError::Shape)
}

pub fn matmul_public_left(c: &RingTensor, x: &Rep) -> Result<Rep, RunError> {
    x.map(|t| ring::matmul(c, t)).map_err(RunError::Shape)
}

// ---- Protocols ------------------------------------------------------------------------------

/// A fresh zero-sharing: `alpha_i = F(k_{i,i+1}) - F(k_{i-1,i})`, so that the three sum to 0.
fn zero_share(ctx: &mut Ctx<'_>, aby: &Aby3, shape: &[usize]) -> Result<RingTensor, RunError> {
    let key = ctx.key();
    let i = aby.role(ctx)?;
    let mine = ctx.draw(&aby.pair(i), key, 0, shape)?;
    let prev = ctx.draw(&aby.pair(i + 2), key, 0, shape)?;
    ring::sub(&mine, &prev).map_err(RunError::Shape)
}

/// The XOR analogue of [`zero_share`] for boolean shares.
fn zero_share_xor(ctx: &mut Ctx<'_>, aby: &Aby3, shape: &[usize]) -> Result<RingTensor, RunError> {
    let key = ctx.key();
    let i = aby.role(ctx)?;
    let mine = ctx.draw(&aby.pair(i), key, 0, shape)?;
    let prev = ctx.draw(&aby.pair(i + 2), key, 0, shape)?;
    ring::zip_with(&mine, &prev, |a, b| a ^ b).map_err(RunError::Shape)
}

/// From a 3-out-of-3 sharing (`z_i` at role `i`, masked by a zero-sharing) back to replicated
/// shares: each role sends `z_i` to role `i - 1`. One round.
fn reshare(ctx: &mut Ctx<'_>, aby: &Aby3, z: RingTensor) -> Result<Rep, RunError> {
    let key = ctx.key();
    let i = aby.role(ctx)?;
    ctx.send(aby.at(i + 2), key, z.clone())?;
    let next = ctx.recv(aby.at(i + 1), key)?;
    Ok(Rep { a: z, b: next })
}

/// From a masked 3-out-of-3 sharing of `z` to replicated shares of `z / 2^d` (truncated), in
/// one round and three messages.
///
/// Roles 1 and 2 exchange their parts, so both know `b = z_1 + z_2`; with role 0's `z_0` this is
/// a two-party sharing `z = z_0 + b`, which SecureML's local truncation turns into a sharing of
/// `z / 2^d`: `z_0 >> d` (role 0) and `-((-b) >> d)` (roles 1 and 2, identically). Role 0 masks
/// its part with `r` from the key it shares with role 1 and sends it to role 2. The new shares
/// are `(z_0' - r, r, b')`: role 0 holds the first two, role 1 the last two, role 2 the last and
/// the first.
///
/// Error: the result is `floor(z / 2^d)` or one more (so at most one unit of the last
/// fractional bit), except with probability at most `2^(k + 1 - 64)` per element, where `|z| <
/// 2^k`, when it is off by about 2^(64 - d) (SecureML, Theorem 1). For fixed-point values with 16
/// fractional bits and `|x · y| < 2^8` this is below 2^-23 per element; `ring = 128` in a program
/// makes it negligible (not yet supported by this runtime).
fn trunc_reshare(ctx: &mut Ctx<'_>, aby: &Aby3, z: RingTensor, d: u32) -> Result<Rep, RunError> {
    let key = ctx.key();
    let i = aby.role(ctx)?;
    let shape = z.shape().to_vec();
    match i {
        0 => {
            let r = ctx.draw(&aby.pair(0), key, 1, &shape)?;
            let z0 = z.mapv(|v| v >> d);
            let s0 = ring::sub(&z0, &r).map_err(RunError::Shape)?;
            ctx.send(aby.at(2), key, s0.clone())?;
            Ok(Rep { a: s0, b: r })
        }
        1 => {
            let r = ctx.draw(&aby.pair(0), key, 1, &shape)?;
            ctx.send(aby.at(2), key, z.clone())?;
            let z2 = ctx.recv(aby.at(2), key)?;
            let b = ring::add(&z, &z2).map_err(RunError::Shape)?;
            Ok(Rep {
                a: r,
                b: b.mapv(|v| (v.wrapping_neg() >> d).wrapping_neg()),
            })
        }
        _ => {
            ctx.send(aby.at(1), key, z.clone())?;
            let z1 = ctx.recv(aby.at(1), key)?;
            let s0 = ctx.recv(aby.at(0), key)?;
            let b = ring::add(&z1, &z).map_err(RunError::Shape)?;
            Ok(Rep {
                a: b.mapv(|v| (v.wrapping_neg() >> d).wrapping_neg()),
                b: s0,
            })
        }
    }
}

/// The local part of a product: `x_i y_i + x_i y_{i+1} + x_{i+1} y_i`.
fn mul_local(x: &Rep, y: &Rep) -> Result<RingTensor, RunError> {
    let sum_y = ring::add(&y.a, &y.b).map_err(RunError::Shape)?;
    let t = ring::mul(&x.a, &sum_y).map_err(RunError::Shape)?;
    let u = ring::mul(&x.b, &y.a).map_err(RunError::Shape)?;
    ring::add(&t, &u).map_err(RunError::Shape)
}

fn matmul_local(x: &Rep, y: &Rep) -> Result<RingTensor, RunError> {
    let sum_y = ring::add(&y.a, &y.b).map_err(RunError::Shape)?;
    let t = ring::matmul(&x.a, &sum_y).map_err(RunError::Shape)?;
    let u = ring::matmul(&x.b, &y.a).map_err(RunError::Shape)?;
    ring::add(&t, &u).map_err(RunError::Shape)
}

/// Elementwise product of two secrets, truncated by `trunc` bits (0 for integers). One round.
pub fn mul(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep, y: &Rep, trunc: u32) -> Result<Rep, RunError> {
    if x.shape() == y.shape() {
        // Same shapes: the local part and the mask in one fused pass (crate::fused).
        let alpha = zero_share(ctx, aby, x.shape())?;
        let z = match crate::fused::product_local(&x.a, &x.b, &y.a, &y.b, &alpha) {
            Some(z) => z,
            None => ring::add(&mul_local(x, y)?, &alpha).map_err(RunError::Shape)?,
        };
        return finish_masked(ctx, aby, z, trunc);
    }
    let z = mul_local(x, y)?;
    finish_product(ctx, aby, z, trunc)
}

/// Matrix product of two secrets, truncated by `trunc` bits. One round; each party sends one
/// ring element per element of the result.
pub fn matmul(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    x: &Rep,
    y: &Rep,
    trunc: u32,
) -> Result<Rep, RunError> {
    let z = matmul_local(x, y)?;
    finish_product(ctx, aby, z, trunc)
}

fn finish_product(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    z: RingTensor,
    trunc: u32,
) -> Result<Rep, RunError> {
    let alpha = zero_share(ctx, aby, z.shape())?;
    let z = ring::add(&z, &alpha).map_err(RunError::Shape)?;
    finish_masked(ctx, aby, z, trunc)
}

/// The round of a product whose local part is already masked by its zero-share.
fn finish_masked(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    z: RingTensor,
    trunc: u32,
) -> Result<Rep, RunError> {
    if trunc == 0 {
        reshare(ctx, aby, z)
    } else {
        trunc_reshare(ctx, aby, z, trunc)
    }
}

/// Truncation of a replicated sharing by `d` bits (after a product by a public value). One
/// round; same error as [`trunc_reshare`].
pub fn trunc(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep, d: u32) -> Result<Rep, RunError> {
    let alpha = zero_share(ctx, aby, x.shape())?;
    let z = ring::add(&x.a, &alpha).map_err(RunError::Shape)?;
    trunc_reshare(ctx, aby, z, d)
}

/// Shares a party's value (`value` is `Some` at the owner) into the placement. Members get
/// their shares; an owner outside the placement gets `None`.
///
/// From a member in role `i`: `x_{i+2}` comes from the key of the three members and `x_{i+1}`
/// from the key of roles `i, i+1`, so the owner sends only `x_i` (to role `i + 2`). From an outside
/// owner: `x_0` and `x_1` come from keys it shares with roles {0, 2} and {0, 1}; it sends `x_2` to
/// roles 1 and 2. Parties that derive their shares learn the shape from the owner when it is not
/// known in advance.
pub fn share(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    owner: PartyId,
    value: Option<&RingTensor>,
    known_shape: Option<&[usize]>,
) -> Result<Option<Rep>, RunError> {
    let key = ctx.key();
    let shape_key = ctx.key();
    let triple = aby.members;
    match aby.role_of(owner) {
        Some(i) => {
            let me = aby.role_of(ctx.me);
            if ctx.me == owner {
                let v = value
                    .ok_or_else(|| RunError::Internal("the owner has no value to share".into()))?;
                let shape = v.shape().to_vec();
                let x2 = ctx.draw(&triple, key, 0, &shape)?;
                let x1 = ctx.draw(&aby.pair(i), key, 1, &shape)?;
                let x0 = ring::sub(&ring::sub(v, &x1).map_err(RunError::Shape)?, &x2)
                    .map_err(RunError::Shape)?;
                ctx.send(aby.at(i + 2), key, x0.clone())?;
                if known_shape.is_none() {
                    ctx.send_shape(aby.at(i + 1), shape_key, &shape)?;
                }
                Ok(Some(Rep { a: x0, b: x1 }))
            } else if me == Some((i + 1) % 3) {
                let shape = match known_shape {
                    Some(s) => s.to_vec(),
                    None => ctx.recv_shape(owner, shape_key)?,
                };
                let x1 = ctx.draw(&aby.pair(i), key, 1, &shape)?;
                let x2 = ctx.draw(&triple, key, 0, &shape)?;
                Ok(Some(Rep { a: x1, b: x2 }))
            } else {
                let x0 = ctx.recv(owner, key)?;
                let x2 = ctx.draw(&triple, key, 0, x0.shape())?;
                Ok(Some(Rep { a: x2, b: x0 }))
            }
        }
        None => {
            let set_a = [owner, aby.at(0), aby.at(2)];
            let set_b = [owner, aby.at(0), aby.at(1)];
            match aby.role_of(ctx.me) {
                None => {
                    let v = value.ok_or_else(|| {
                        RunError::Internal("the owner has no value to share".into())
                    })?;
                    let shape = v.shape().to_vec();
                    let x0 = ctx.draw(&set_a, key, 0, &shape)?;
                    let x1 = ctx.draw(&set_b, key, 1, &shape)?;
                    let x2 = ring::sub(&ring::sub(v, &x0).map_err(RunError::Shape)?, &x1)
                        .map_err(RunError::Shape)?;
                    ctx.send(aby.at(1), key, x2.clone())?;
                    ctx.send(aby.at(2), key, x2)?;
                    if known_shape.is_none() {
                        ctx.send_shape(aby.at(0), shape_key, &shape)?;
                    }
                    Ok(None)
                }
                Some(0) => {
                    let shape = match known_shape {
                        Some(s) => s.to_vec(),
                        None => ctx.recv_shape(owner, shape_key)?,
                    };
                    Ok(Some(Rep {
                        a: ctx.draw(&set_a, key, 0, &shape)?,
                        b: ctx.draw(&set_b, key, 1, &shape)?,
                    }))
                }
                Some(1) => {
                    let x2 = ctx.recv(owner, key)?;
                    let x1 = ctx.draw(&set_b, key, 1, x2.shape())?;
                    Ok(Some(Rep { a: x1, b: x2 }))
                }
                Some(_) => {
                    let x2 = ctx.recv(owner, key)?;
                    let x0 = ctx.draw(&set_a, key, 0, x2.shape())?;
                    Ok(Some(Rep { a: x2, b: x0 }))
                }
            }
        }
    }
}

/// Reveals a secret to `targets` (parties). Members pass their shares (`Some`); every target
/// gets the value. A member target needs one component (from the next role); an outside target
/// gets `x_0 + x_1` from role 0 and `x_2` from role 1.
pub fn reveal(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    x: Option<&Rep>,
    targets: &[PartyId],
) -> Result<Option<RingTensor>, RunError> {
    let key = ctx.key();
    let me_role = aby.role_of(ctx.me);
    // Senders first: every message of the round leaves before anyone waits.
    if let (Some(i), Some(x)) = (me_role, x) {
        for &t in targets {
            match aby.role_of(t) {
                Some(j) if (j + 1) % 3 == i => ctx.send(t, key, x.b.clone())?,
                Some(_) => {}
                None if i == 0 => {
                    ctx.send(t, key, ring::add(&x.a, &x.b).map_err(RunError::Shape)?)?
                }
                None if i == 1 => ctx.send(t, key, x.b.clone())?,
                None => {}
            }
        }
    }
    if !targets.contains(&ctx.me) {
        return Ok(None);
    }
    let value = match (me_role, x) {
        (Some(j), Some(x)) => {
            let missing = ctx.recv(aby.at(j + 1), key)?;
            ring::add(&ring::add(&x.a, &x.b).map_err(RunError::Shape)?, &missing)
                .map_err(RunError::Shape)?
        }
        _ => {
            let a = ctx.recv(aby.at(0), key)?;
            let b = ctx.recv(aby.at(1), key)?;
            ring::add(&a, &b).map_err(RunError::Shape)?
        }
    };
    Ok(Some(value))
}

// ---- Comparison -----------------------------------------------------------------------------

/// Starts a boolean AND of two boolean-shared words (64 ANDs each): computes and sends this
/// role's masked part. Finish it with [`and_finish`]; starting several before finishing any
/// puts them in one round.
fn and_start(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    x: &Rep,
    y: &Rep,
) -> Result<(MsgKey, RingTensor), RunError> {
    and_start_shifted(ctx, aby, x, y, 0)
}

/// [`and_start`] of `x` and `y << shift` (the shift is fused into the kernel).
fn and_start_shifted(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    x: &Rep,
    y: &Rep,
    shift: u32,
) -> Result<(MsgKey, RingTensor), RunError> {
    let beta = zero_share_xor(ctx, aby, x.shape())?;
    let key = ctx.key();
    let i = aby.role(ctx)?;
    if let Some(z) = crate::fused::and_local(&x.a, &x.b, &y.a, &y.b, &beta, shift) {
        ctx.send(aby.at(i + 2), key, z.clone())?;
        return Ok((key, z));
    }
    let shifted;
    let y = if shift == 0 {
        y
    } else {
        shifted = shl(y, shift);
        &shifted
    };
    let t1 = ring::zip_with(&x.a, &y.a, |p, q| p & q).map_err(RunError::Shape)?;
    let t2 = ring::zip_with(&x.a, &y.b, |p, q| p & q).map_err(RunError::Shape)?;
    let t3 = ring::zip_with(&x.b, &y.a, |p, q| p & q).map_err(RunError::Shape)?;
    let z = ring::zip_with(
        &ring::zip_with(&t1, &t2, |p, q| p ^ q).map_err(RunError::Shape)?,
        &t3,
        |p, q| p ^ q,
    )
    .map_err(RunError::Shape)?;
    let z = ring::zip_with(&z, &beta, |p, q| p ^ q).map_err(RunError::Shape)?;
    ctx.send(aby.at(i + 2), key, z.clone())?;
    Ok((key, z))
}

fn and_finish(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    started: (MsgKey, RingTensor),
) -> Result<Rep, RunError> {
    let (key, z) = started;
    let i = aby.role(ctx)?;
    let next = ctx.recv(aby.at(i + 1), key)?;
    Ok(Rep { a: z, b: next })
}

fn xor(x: &Rep, y: &Rep) -> Result<Rep, RunError> {
    Ok(Rep {
        a: ring::zip_with(&x.a, &y.a, |p, q| p ^ q).map_err(RunError::Shape)?,
        b: ring::zip_with(&x.b, &y.b, |p, q| p ^ q).map_err(RunError::Shape)?,
    })
}

fn shl(x: &Rep, k: u32) -> Rep {
    Rep {
        a: x.a.mapv(|v| v << k),
        b: x.b.mapv(|v| v << k),
    }
}

/// Shares a value known to role 0 only, arithmetically (`xor == false`) or as bits: components
/// 2 and 1 come from the members' common key and the key of roles 0 and 1, and role 0 sends
/// component 0 to role 2. One message.
fn share_from_role0(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    value: Option<RingTensor>,
    shape: &[usize],
    xor: bool,
) -> Result<Rep, RunError> {
    let key = ctx.key();
    let i = aby.role(ctx)?;
    let c2 = ctx.draw(&aby.members, key, 0, shape)?;
    match i {
        0 => {
            let c1 = ctx.draw(&aby.pair(0), key, 1, shape)?;
            let v = value.ok_or_else(|| RunError::Internal("role 0 has no value".into()))?;
            let c0 = if xor {
                ring::zip_with(
                    &ring::zip_with(&v, &c1, |p, q| p ^ q).map_err(RunError::Shape)?,
                    &c2,
                    |p, q| p ^ q,
                )
            } else {
                ring::sub(&ring::sub(&v, &c1).map_err(RunError::Shape)?, &c2)
            }
            .map_err(RunError::Shape)?;
            ctx.send(aby.at(2), key, c0.clone())?;
            Ok(Rep { a: c0, b: c1 })
        }
        1 => Ok(Rep {
            a: ctx.draw(&aby.pair(0), key, 1, shape)?,
            b: c2,
        }),
        _ => {
            let c0 = ctx.recv(aby.at(0), key)?;
            Ok(Rep { a: c2, b: c0 })
        }
    }
}

/// The bits of a secret as a boolean sharing (arithmetic to binary, A2B), in 8 rounds.
///
/// `x = (x_0 + x_1) + x_2`: role 0 bit-shares `u = x_0 + x_1` (1 round), `v = x_2` is already
/// bit-shared (roles 1 and 2 hold it). A Kogge–Stone carry-lookahead adder over the 64-bit words
/// computes every carry (1 round for the generate bits, then 6 levels of two ANDs each, one round
/// per level); the sum is `u ^ v ^ (carries << 1)`. Per element each party sends 14 words.
fn a2b(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep) -> Result<Rep, RunError> {
    let i = aby.role(ctx)?;
    let shape = x.shape().to_vec();
    let u_value = (i == 0)
        .then(|| ring::add(&x.a, &x.b))
        .transpose()
        .map_err(RunError::Shape)?;
    let u = share_from_role0(ctx, aby, u_value, &shape, true)?;
    let v = component2(aby, ctx, x, &shape)?;
    let p0 = xor(&u, &v)?;
    let started = and_start(ctx, aby, &u, &v)?;
    let mut g = and_finish(ctx, aby, started)?;
    let mut p = p0.clone();
    for k in [1u32, 2, 4, 8, 16, 32] {
        let pg = and_start_shifted(ctx, aby, &p, &g, k)?;
        let pp = and_start_shifted(ctx, aby, &p, &p, k)?;
        let pg = and_finish(ctx, aby, pg)?;
        let pp = and_finish(ctx, aby, pp)?;
        g = xor(&g, &pg)?;
        p = pp;
    }
    // g holds the group generate of bits 0..=k at bit k: the carry into bit k + 1.
    xor(&p0, &shl(&g, 1))
}

/// Component 2 of a sharing alone, as a sharing of its own (the other components 0): roles 1
/// and 2 hold it, so it costs nothing.
fn component2(aby: &Aby3, ctx: &Ctx<'_>, x: &Rep, shape: &[usize]) -> Result<Rep, RunError> {
    let zero = RingTensor::zeros(IxDyn(shape));
    Ok(match aby.role(ctx)? {
        0 => Rep {
            a: zero.clone(),
            b: zero,
        },
        1 => Rep {
            a: zero,
            b: x.b.clone(),
        },
        _ => Rep {
            a: x.a.clone(),
            b: zero,
        },
    })
}

/// Boolean-shared bits (each word's bit 0, the others 0) to an arithmetic 0/1 sharing (bit
/// injection), in 2 rounds: role 0 knows two of the three components and shares their XOR `t`
/// (1 round), and `t ^ b_2 = t + b_2 - 2 t b_2` costs one product (1 round).
fn b2a_bits(ctx: &mut Ctx<'_>, aby: &Aby3, m: &Rep) -> Result<Rep, RunError> {
    let i = aby.role(ctx)?;
    let shape = m.shape().to_vec();
    let t_value = (i == 0)
        .then(|| ring::zip_with(&m.a, &m.b, |a, b| a ^ b))
        .transpose()
        .map_err(RunError::Shape)?;
    let t = share_from_role0(ctx, aby, t_value, &shape, false)?;
    let m2 = component2(aby, ctx, m, &shape)?;
    let tm = mul(ctx, aby, &t, &m2, 0)?;
    // t + m2 - 2 t m2
    let two_tm = add(&tm, &tm)?;
    sub(&add(&t, &m2)?, &two_tm)
}

/// The most significant bit of a secret (its sign, for two's complement values of magnitude
/// below 2^63), as an arithmetic sharing of 0 or 1: bit 63 of [`a2b`] (8 rounds), injected by
/// [`b2a_bits`] (2 rounds). 10 rounds in all.
pub fn msb(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep) -> Result<Rep, RunError> {
    let bits = a2b(ctx, aby, x)?;
    let top = bits
        .map(|t| Ok(t.mapv(|v| v >> 63)))
        .map_err(RunError::Shape)?;
    b2a_bits(ctx, aby, &top)
}

/// A public table read at each element's highest set bit: `table[j]` where the highest set bit
/// of the element is `lo + j`, and 0 where it lies outside `lo .. lo + len` (so for 0, and for
/// negative values, whose bit 63 is set). Positions below 0 or above 62 are never read. The
/// result is exact (no truncation): it is a sum of table entries, which are ring elements.
///
/// [`a2b`] (8 rounds), then a prefix OR from the top, `y |= y >> s` for s = 1, 2, …, 32 (6 rounds,
/// one AND each, as `a | b = a ^ b ^ (a & b)`), whose differences `h = y ^ (y >> 1)` mark the
/// highest bit. The lookup is `sum_j table[j] h_j` with `h = t ^ s`, where role 0 knows
/// `t = h_0 ^ h_1` and roles 1 and 2 know `s = h_2`: since `t ^ s = s + t (1 - 2 s)`, role 0 splits
/// each wanted bit of `t` additively between roles 1 and 2 (role 1's part from the key it shares
/// with role 0, role 2's part sent: 1 round), each of them sums its part of the table entries
/// locally, and a resharing gives replicated shares (1 round). 16 rounds; per element, role 0
/// sends 21 + `len` words, roles 1 and 2 send 20.
pub fn highest_bit_lookup(
    ctx: &mut Ctx<'_>,
    aby: &Aby3,
    x: &Rep,
    lo: i64,
    table: &[u64],
) -> Result<Rep, RunError> {
    let mut y = a2b(ctx, aby, x)?;
    for s in [1u32, 2, 4, 8, 16, 32] {
        let ys = y.map(|t| Ok(t.mapv(|v| v >> s))).map_err(RunError::Shape)?;
        let started = and_start(ctx, aby, &y, &ys)?;
        let both = and_finish(ctx, aby, started)?;
        y = xor(&xor(&y, &ys)?, &both)?;
    }
    let below = y.map(|t| Ok(t.mapv(|v| v >> 1))).map_err(RunError::Shape)?;
    let top = xor(&y, &below)?
        .map(|t| Ok(t.as_standard_layout().into_owned()))
        .map_err(RunError::Shape)?;
    let len = table.len();
    let bit = |w: u64, j: usize| -> u64 {
        let at = lo + j as i64;
        if (0..63).contains(&at) {
            (w >> at) & 1
        } else {
            0
        }
    };
    let shape = x.shape().to_vec();
    let mut wide = shape.clone();
    wide.push(len);
    // `top` is in standard layout (made so above): its words as a slice, not copied.
    fn words(t: &RingTensor) -> &[u64] {
        t.as_slice().unwrap_or(&[])
    }
    // This role's additive part of the lookup, `sum_j c_j part_j` with `c_j = table[j] (1 - 2 s_j)`.
    let signed = |s: u64, j: usize| {
        if bit(s, j) == 1 {
            table[j].wrapping_neg()
        } else {
            table[j]
        }
    };
    let key = ctx.key();
    let part: Vec<u64> = match aby.role(ctx)? {
        0 => {
            let r = ctx.draw(&aby.pair(0), key, 1, &wide)?;
            let r = r.as_slice().unwrap_or(&[]);
            let t: Vec<u64> = words(&top.a)
                .iter()
                .zip(words(&top.b))
                .map(|(p, q)| p ^ q)
                .collect();
            let d: Vec<u64> = t
                .iter()
                .enumerate()
                .flat_map(|(e, w)| (0..len).map(move |j| (e, j, *w)))
                .map(|(e, j, w)| bit(w, j).wrapping_sub(r[e * len + j]))
                .collect();
            let d = RingTensor::from_shape_vec(IxDyn(&wide), d)
                .map_err(|e| RunError::Shape(e.to_string()))?;
            ctx.send(aby.at(2), key, d)?;
            vec![0; t.len()]
        }
        1 => {
            let r = ctx.draw(&aby.pair(0), key, 1, &wide)?;
            let r = r.as_slice().unwrap_or(&[]);
            words(&top.b)
                .iter()
                .enumerate()
                .map(|(e, s)| {
                    (0..len).fold(0u64, |acc, j| {
                        acc.wrapping_add(table[j].wrapping_mul(bit(*s, j)))
                            .wrapping_add(signed(*s, j).wrapping_mul(r[e * len + j]))
                    })
                })
                .collect()
        }
        _ => {
            let d = ctx.recv(aby.at(0), key)?;
            let d = d.as_standard_layout();
            let d = d.as_slice().unwrap_or(&[]);
            words(&top.a)
                .iter()
                .enumerate()
                .map(|(e, s)| {
                    (0..len).fold(0u64, |acc, j| {
                        acc.wrapping_add(signed(*s, j).wrapping_mul(d[e * len + j]))
                    })
                })
                .collect()
        }
    };
    let part = RingTensor::from_shape_vec(IxDyn(&shape), part)
        .map_err(|e| RunError::Shape(e.to_string()))?;
    let masked = ring::add(&part, &zero_share(ctx, aby, &shape)?).map_err(RunError::Shape)?;
    reshare(ctx, aby, masked)
}

/// The maximum along `axis` (which disappears from the shape): a tournament of ⌈log2 n⌉ levels.
/// Each level compares the first half of the remaining candidates with the second half in one
/// [`msb`] over all pairs at once, and keeps the larger by one product (an odd one out waits
/// for the next level): 11 rounds per level, n - 1 comparisons in all.
pub fn max_axis(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep, axis: usize) -> Result<Rep, RunError> {
    use ndarray::{Axis, Slice, concatenate};
    if axis >= x.shape().len() || x.shape()[axis] == 0 {
        return Err(RunError::Shape(format!(
            "the maximum along axis {axis} of a tensor of shape {:?}",
            x.shape()
        )));
    }
    let part = |t: &RingTensor, from: usize, to: usize| {
        t.slice_axis(Axis(axis), Slice::from(from..to)).to_owned()
    };
    let mut cur = x.clone();
    loop {
        let n = cur.shape()[axis];
        if n == 1 {
            break;
        }
        let h = n / 2;
        let lo = Rep {
            a: part(&cur.a, 0, h),
            b: part(&cur.b, 0, h),
        };
        let hi = Rep {
            a: part(&cur.a, h, 2 * h),
            b: part(&cur.b, h, 2 * h),
        };
        // lo < hi where the sign of lo - hi is set; then lo + [lo < hi] (hi - lo).
        let less = msb(ctx, aby, &sub(&lo, &hi)?)?;
        let step = mul(ctx, aby, &less, &sub(&hi, &lo)?, 0)?;
        let best = add(&lo, &step)?;
        cur = if n % 2 == 1 {
            let join = |a: &RingTensor, b: &RingTensor| {
                concatenate(Axis(axis), &[a.view(), b.view()])
                    .map_err(|e| RunError::Shape(e.to_string()))
            };
            Rep {
                a: join(&best.a, &part(&cur.a, n - 1, n))?,
                b: join(&best.b, &part(&cur.b, n - 1, n))?,
            }
        } else {
            best
        };
    }
    Ok(Rep {
        a: cur.a.index_axis_move(ndarray::Axis(axis), 0),
        b: cur.b.index_axis_move(ndarray::Axis(axis), 0),
    })
}

/// The index of a maximum along `axis` (which disappears), as a shared integer: the tournament
/// of [`max_axis`] carrying each candidate's index, both chosen by the same comparison and one
/// product per level (values and indices multiplied together). On ties, the index of one of the
/// maxima (not necessarily the first). 11 rounds per level.
pub fn argmax_axis(ctx: &mut Ctx<'_>, aby: &Aby3, x: &Rep, axis: usize) -> Result<Rep, RunError> {
    use ndarray::{Axis, Slice, concatenate};
    let shape = x.shape().to_vec();
    if axis >= shape.len() || shape[axis] == 0 {
        return Err(RunError::Shape(format!(
            "the argmax along axis {axis} of a tensor of shape {shape:?}"
        )));
    }
    let index = RingTensor::from_shape_fn(IxDyn(&shape), |i| i[axis] as u64);
    let mut idx = from_public(aby, ctx.me, &index)?;
    let mut cur = x.clone();
    let part = |t: &RingTensor, from: usize, to: usize| {
        t.slice_axis(Axis(axis), Slice::from(from..to)).to_owned()
    };
    let join = |a: &RingTensor, b: &RingTensor| {
        concatenate(Axis(axis), &[a.view(), b.view()]).map_err(|e| RunError::Shape(e.to_string()))
    };
    let halves = |r: &Rep, h: usize| {
        (
            Rep {
                a: part(&r.a, 0, h),
                b: part(&r.b, 0, h),
            },
            Rep {
                a: part(&r.a, h, 2 * h),
                b: part(&r.b, h, 2 * h),
            },
        )
    };
    loop {
        let n = cur.shape()[axis];
        if n == 1 {
            break;
        }
        let h = n / 2;
        let (lo, hi) = halves(&cur, h);
        let (lo_i, hi_i) = halves(&idx, h);
        let less = msb(ctx, aby, &sub(&lo, &hi)?)?;
        let (dv, di) = (sub(&hi, &lo)?, sub(&hi_i, &lo_i)?);
        let both = |p: &Rep, q: &Rep| -> Result<Rep, RunError> {
            Ok(Rep {
                a: join(&p.a, &q.a)?,
                b: join(&p.b, &q.b)?,
            })
        };
        let step = mul(ctx, aby, &both(&less, &less)?, &both(&dv, &di)?, 0)?;
        let (tv, ti) = halves(&step, h);
        let (best_v, best_i) = (add(&lo, &tv)?, add(&lo_i, &ti)?);
        if n % 2 == 1 {
            let last = |r: &Rep| Rep {
                a: part(&r.a, n - 1, n),
                b: part(&r.b, n - 1, n),
            };
            cur = both(&best_v, &last(&cur))?;
            idx = both(&best_i, &last(&idx))?;
        } else {
            cur = best_v;
            idx = best_i;
        }
    }
    Ok(Rep {
        a: idx.a.index_axis_move(ndarray::Axis(axis), 0),
        b: idx.b.index_axis_move(ndarray::Axis(axis), 0),
    })
}

/// `1 - b` for an arithmetic 0/1 sharing.
pub fn not_bit(aby: &Aby3, me: PartyId, b: &Rep) -> Result<Rep, RunError> {
    let one = RingTensor::from_elem(IxDyn(b.shape()), 1);
    add_public(aby, me, &neg(b), &one)
}

#[cfg(test)]
mod tests;
