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
//! Rounds and messages (per result element, one ring element each; [`Protocol::table`]
//! states them exactly and a test checks the wire against it):
//! - add, sub, neg, products by public values without truncation, shape ops: local;
//! - multiply / matmul (integer): 1 round, each party sends 1 (resharing);
//! - multiply / matmul (fixed point, with truncation): 1 round, three messages (role 0 → 2,
//!   1 → 2, 2 → 1), see [`trunc_reshare`];
//! - refresh (a fresh sharing of loaded shares): 1 round, each party sends 1;
//! - share from a member: 1 message (owner → one member); from an outside party: 2 messages;
//! - reveal to one party: 1 message (to a member) or 2 (to an outsider);
//! - the bits of a value ([`Protocol::bit_addends`] and the adder of
//!   [`super::composite::a2b`]): 8 rounds; the sign: 10 rounds.

use ndarray::IxDyn;
use tfe_ir::{PartyId, Role, Size};

use super::{And, Ctx, Linear, Product, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::{self, RingTensor, Word};

/// A secret placement computing with aby3: its three members, in role order.
#[derive(Debug, Clone, Copy)]
pub struct Aby3 {
    pub members: [PartyId; 3],
    pub frac: u32,
}

fn shape_err(e: String) -> RunError {
    RunError::Shape(e)
}

/// The two components a member holds: `(x_i, x_{i+1})`.
fn ab<W: Word>(x: &Shares<W>) -> Result<(&RingTensor<W>, &RingTensor<W>), RunError> {
    Ok((x.part(0)?, x.part(1)?))
}

impl Aby3 {
    /// The role of `party` ([`Protocol::role_of`], the same at every ring width).
    fn role_of(&self, party: PartyId) -> Option<usize> {
        self.members.iter().position(|m| *m == party)
    }

    /// This party's role ([`Protocol::role`]).
    fn role(&self, ctx: &Ctx<'_>) -> Result<usize, RunError> {
        Protocol::<u64>::role(self, ctx)
    }

    fn at(&self, role: usize) -> PartyId {
        self.members[role % 3]
    }

    /// The pair of parties in roles `i` and `i + 1`.
    fn pair(&self, i: usize) -> [PartyId; 2] {
        [self.at(i), self.at(i + 1)]
    }

    /// A fresh zero-sharing: `alpha_i = F(k_{i,i+1}) - F(k_{i-1,i})`, so that the three sum to 0.
    fn zero_share<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        shape: &[usize],
    ) -> Result<RingTensor<W>, RunError> {
        let key = ctx.key();
        let i = self.role(ctx)?;
        let mut mine = ctx.draw(&self.pair(i), key, 0, shape)?;
        // The other pair's draw is subtracted as it is made: one buffer fewer to map and fill.
        ctx.draw_into(&self.pair(i + 2), key, 0, &mut mine, W::wrapping_sub)?;
        Ok(mine)
    }

    /// The XOR analogue of [`Aby3::zero_share`] for boolean shares.
    fn zero_share_xor<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        shape: &[usize],
    ) -> Result<RingTensor<W>, RunError> {
        let key = ctx.key();
        let i = self.role(ctx)?;
        let mut mine = ctx.draw(&self.pair(i), key, 0, shape)?;
        ctx.draw_into(&self.pair(i + 2), key, 0, &mut mine, |a: W, b: W| a ^ b)?;
        Ok(mine)
    }

    /// From a 3-out-of-3 sharing (`z_i` at role `i`, masked by a zero-sharing) back to
    /// replicated shares: each role sends `z_i` to role `i - 1`. One round.
    fn reshare<W: Word>(&self, ctx: &mut Ctx<'_>, z: RingTensor<W>) -> Result<Shares<W>, RunError> {
        let key = ctx.key();
        let i = self.role(ctx)?;
        let shape = z.shape().to_vec();
        ctx.send(self.at(i + 2), key, z.clone())?;
        let next = ctx.recv_shaped(self.at(i + 1), key, &shape)?;
        Ok(Shares::pair(z, next))
    }

    fn reshare_table(&self, t: &mut Table, n: Size) {
        let step = t.key();
        let sent: Vec<usize> = (0..3)
            .map(|i| t.send(step, Role::Member(i), Role::Member((i + 2) % 3), n))
            .collect();
        for m in sent {
            t.recv(m);
        }
    }

    /// From a masked 3-out-of-3 sharing of `z` to replicated shares of `z / 2^d` (truncated), in
    /// one round and three messages.
    ///
    /// Roles 1 and 2 exchange their parts, so both know `b = z_1 + z_2`; with role 0's `z_0`
    /// this is a two-party sharing `z = z_0 + b`, which SecureML's local truncation turns into a
    /// sharing of `z / 2^d`: `z_0 >> d` (role 0) and `-((-b) >> d)` (roles 1 and 2,
    /// identically). Role 0 masks its part with `r` from the key it shares with role 1 and sends
    /// it to role 2. The new shares are `(z_0' - r, r, b')`: role 0 holds the first two, role 1
    /// the last two, role 2 the last and the first.
    ///
    /// Error: the result is `floor(z / 2^d)` or one more (so at most one unit of the last
    /// fractional bit), except with probability at most `2^(k + 1 - R)` per element in a ring of
    /// R bits, where `|z| < 2^k`, when it is off by about 2^(R - d) (SecureML, Theorem 1). For
    /// fixed-point values with 16 fractional bits and `|x · y| < 2^8` in a 64-bit ring this is
    /// below 2^-23 per element; with 32 fractional bits in a 128-bit ring and `|x · y| < 2^31`,
    /// below 2^-32.
    fn trunc_reshare<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        z: RingTensor<W>,
        d: u32,
    ) -> Result<Shares<W>, RunError> {
        let key = ctx.key();
        let i = self.role(ctx)?;
        let shape = z.shape().to_vec();
        match i {
            // Each step in place where the buffer is this party's own: fresh buffers of a large
            // product cost their page faults.
            0 => {
                let r = ctx.draw(&self.pair(0), key, 1, &shape)?;
                let mut s0 = z;
                s0.zip_mut_with(&r, |v: &mut W, r: &W| *v = (*v >> d).wrapping_sub(*r));
                ctx.send(self.at(2), key, s0.clone())?;
                Ok(Shares::pair(s0, r))
            }
            1 => {
                let r = ctx.draw(&self.pair(0), key, 1, &shape)?;
                ctx.send(self.at(2), key, z.clone())?;
                let mut b = ctx.recv_shaped(self.at(2), key, &shape)?;
                b.zip_mut_with(&z, |v: &mut W, z: &W| {
                    *v = (v.wrapping_add(*z).wrapping_neg() >> d).wrapping_neg()
                });
                Ok(Shares::pair(r, b))
            }
            _ => {
                ctx.send(self.at(1), key, z.clone())?;
                let mut b = ctx.recv_shaped(self.at(1), key, &shape)?;
                let s0 = ctx.recv_shaped(self.at(0), key, &shape)?;
                b.zip_mut_with(&z, |v: &mut W, z: &W| {
                    *v = (v.wrapping_add(*z).wrapping_neg() >> d).wrapping_neg()
                });
                Ok(Shares::pair(b, s0))
            }
        }
    }

    fn trunc_reshare_table(&self, t: &mut Table, n: Size) {
        let step = t.key();
        let from0 = t.send(step, Role::Member(0), Role::Member(2), n);
        let from1 = t.send(step, Role::Member(1), Role::Member(2), n);
        let from2 = t.send(step, Role::Member(2), Role::Member(1), n);
        t.recv(from2);
        t.recv(from1);
        t.recv(from0);
    }

    /// The round of a product whose local part is already masked by its zero-share.
    fn finish_masked<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        z: RingTensor<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        if trunc == 0 {
            self.reshare(ctx, z)
        } else {
            self.trunc_reshare(ctx, z, trunc)
        }
    }

    fn finish_product<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        z: RingTensor<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        let alpha = self.zero_share(ctx, z.shape())?;
        let z = ring::add(&z, &alpha).map_err(shape_err)?;
        self.finish_masked(ctx, z, trunc)
    }

    /// Shares<W> a value known to role 0 only, arithmetically (`xor == false`) or as bits:
    /// components 2 and 1 come from the members' common key and the key of roles 0 and 1, and
    /// role 0 sends component 0 to role 2. One message.
    fn share_from_role0<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        value: Option<RingTensor<W>>,
        shape: &[usize],
        xor: bool,
    ) -> Result<Shares<W>, RunError> {
        let key = ctx.key();
        let i = self.role(ctx)?;
        let c2 = ctx.draw(&self.members, key, 0, shape)?;
        match i {
            0 => {
                let c1 = ctx.draw(&self.pair(0), key, 1, shape)?;
                let v = value.ok_or_else(|| RunError::Internal("role 0 has no value".into()))?;
                let c0 = if xor {
                    ring::zip_with(
                        &ring::zip_with(&v, &c1, |p, q| p ^ q).map_err(shape_err)?,
                        &c2,
                        |p, q| p ^ q,
                    )
                } else {
                    ring::sub(&ring::sub(&v, &c1).map_err(shape_err)?, &c2)
                }
                .map_err(shape_err)?;
                ctx.send(self.at(2), key, c0.clone())?;
                Ok(Shares::pair(c0, c1))
            }
            1 => Ok(Shares::pair(ctx.draw(&self.pair(0), key, 1, shape)?, c2)),
            _ => {
                let c0 = ctx.recv_shaped(self.at(0), key, shape)?;
                Ok(Shares::pair(c2, c0))
            }
        }
    }

    /// Component 2 of a sharing alone, as a sharing of its own (the other components 0): roles
    /// 1 and 2 hold it, so it costs nothing.
    fn component2<W: Word>(&self, ctx: &Ctx<'_>, x: &Shares<W>) -> Result<Shares<W>, RunError> {
        let zero = RingTensor::from_elem(IxDyn(x.shape()), W::ZERO);
        let (a, b) = ab(x)?;
        Ok(match self.role(ctx)? {
            0 => Shares::pair(zero.clone(), zero),
            1 => Shares::pair(zero, b.clone()),
            _ => Shares::pair(a.clone(), zero),
        })
    }

    /// Starts a boolean AND of `x` and `y << shift` (64 ANDs per word): computes and sends this
    /// role's masked part, `(x_a & (y_a' ^ y_b')) ^ (x_b & y_a') ^ beta`. Several started before
    /// any finishes go in one round.
    fn and_start<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        and: &And<'_, W>,
    ) -> Result<(tfe_ir::MsgKey, RingTensor<W>), RunError> {
        let (x, y, shift) = (and.x, and.y, and.shift);
        let beta = self.zero_share_xor(ctx, x.shape())?;
        let key = ctx.key();
        let i = self.role(ctx)?;
        let (xa, xb) = ab(x)?;
        let (ya, yb) = ab(y)?;
        if let Some(z) = kernels::and_local(xa, xb, ya, yb, &beta, shift) {
            ctx.send(self.at(i + 2), key, z.clone())?;
            return Ok((key, z));
        }
        let shifted = |t: &RingTensor<W>| t.mapv(|v| v << shift);
        let (ya, yb) = (shifted(ya), shifted(yb));
        let and = |p: &RingTensor<W>, q: &RingTensor<W>| ring::zip_with(p, q, |a, b| a & b);
        let xor = |p: &RingTensor<W>, q: &RingTensor<W>| ring::zip_with(p, q, |a, b| a ^ b);
        let t1 = and(xa, &ya).map_err(shape_err)?;
        let t2 = and(xa, &yb).map_err(shape_err)?;
        let t3 = and(xb, &ya).map_err(shape_err)?;
        let z = xor(&xor(&t1, &t2).map_err(shape_err)?, &t3).map_err(shape_err)?;
        let z = xor(&z, &beta).map_err(shape_err)?;
        ctx.send(self.at(i + 2), key, z.clone())?;
        Ok((key, z))
    }

    fn and_finish<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        started: (tfe_ir::MsgKey, RingTensor<W>),
    ) -> Result<Shares<W>, RunError> {
        let (key, z) = started;
        let i = self.role(ctx)?;
        let shape = z.shape().to_vec();
        let next = ctx.recv_shaped(self.at(i + 1), key, &shape)?;
        Ok(Shares::pair(z, next))
    }
}

impl<W: Word> Protocol<W> for Aby3 {
    fn name(&self) -> &'static str {
        "aby3"
    }

    fn members(&self) -> &[PartyId] {
        &self.members
    }

    fn frac(&self) -> u32 {
        self.frac
    }

    /// The trivial sharing of a public value: component 0 is the value, the others are zero.
    fn public(&self, me: PartyId, c: &RingTensor<W>) -> Result<Shares<W>, RunError> {
        let zero = RingTensor::from_elem(IxDyn(c.shape()), W::ZERO);
        Ok(match self.role_of(me) {
            Some(0) => Shares::pair(c.clone(), zero),
            Some(1) => Shares::pair(zero.clone(), zero),
            Some(2) => Shares::pair(zero, c.clone()),
            _ => return Err(RunError::Internal("a non-member holds shares".into())),
        })
    }

    /// From a member in role `i`: `x_{i+2}` comes from the key of the three members and
    /// `x_{i+1}` from the key of roles `i, i+1`, so the owner sends only `x_i` (to role
    /// `i + 2`). From an outside owner: `x_0` and `x_1` come from keys it shares with roles
    /// {0, 2} and {0, 1}; it sends `x_2` to roles 1 and 2. Parties that derive their shares
    /// learn the shape from the owner when it is not known in advance.
    fn share(
        &self,
        ctx: &mut Ctx<'_>,
        owner: PartyId,
        value: Option<&RingTensor<W>>,
        known_shape: Option<&[usize]>,
    ) -> Result<Option<Shares<W>>, RunError> {
        let key = ctx.key();
        let shape_key = ctx.key();
        let triple = self.members;
        let owner_value =
            || value.ok_or_else(|| RunError::Internal("the owner has no value to share".into()));
        match self.role_of(owner) {
            Some(i) => {
                let me = self.role_of(ctx.me);
                if ctx.me == owner {
                    let v = owner_value()?;
                    let shape = v.shape().to_vec();
                    let x2 = ctx.draw(&triple, key, 0, &shape)?;
                    let x1 = ctx.draw(&self.pair(i), key, 1, &shape)?;
                    let x0 = ring::sub(&ring::sub(v, &x1).map_err(shape_err)?, &x2)
                        .map_err(shape_err)?;
                    ctx.send(self.at(i + 2), key, x0.clone())?;
                    if known_shape.is_none() {
                        ctx.send_shape(self.at(i + 1), shape_key, &shape)?;
                    }
                    Ok(Some(Shares::pair(x0, x1)))
                } else if me == Some((i + 1) % 3) {
                    let shape = match known_shape {
                        Some(s) => s.to_vec(),
                        None => ctx.recv_shape(owner, shape_key)?,
                    };
                    let x1 = ctx.draw(&self.pair(i), key, 1, &shape)?;
                    let x2 = ctx.draw(&triple, key, 0, &shape)?;
                    Ok(Some(Shares::pair(x1, x2)))
                } else {
                    let x0 = match known_shape {
                        Some(s) => ctx.recv_shaped(owner, key, s)?,
                        None => ctx.recv(owner, key)?,
                    };
                    let x2 = ctx.draw(&triple, key, 0, x0.shape())?;
                    Ok(Some(Shares::pair(x2, x0)))
                }
            }
            None => {
                let set_a = [owner, self.at(0), self.at(2)];
                let set_b = [owner, self.at(0), self.at(1)];
                let recv = |ctx: &mut Ctx<'_>| match known_shape {
                    Some(s) => ctx.recv_shaped(owner, key, s),
                    None => ctx.recv(owner, key),
                };
                match self.role_of(ctx.me) {
                    None => {
                        let v = owner_value()?;
                        let shape = v.shape().to_vec();
                        let x0 = ctx.draw(&set_a, key, 0, &shape)?;
                        let x1 = ctx.draw(&set_b, key, 1, &shape)?;
                        let x2 = ring::sub(&ring::sub(v, &x0).map_err(shape_err)?, &x1)
                            .map_err(shape_err)?;
                        ctx.send(self.at(1), key, x2.clone())?;
                        ctx.send(self.at(2), key, x2)?;
                        if known_shape.is_none() {
                            ctx.send_shape(self.at(0), shape_key, &shape)?;
                        }
                        Ok(None)
                    }
                    Some(0) => {
                        let shape = match known_shape {
                            Some(s) => s.to_vec(),
                            None => ctx.recv_shape(owner, shape_key)?,
                        };
                        Ok(Some(Shares::pair(
                            ctx.draw(&set_a, key, 0, &shape)?,
                            ctx.draw(&set_b, key, 1, &shape)?,
                        )))
                    }
                    Some(1) => {
                        let x2 = recv(ctx)?;
                        let x1 = ctx.draw(&set_b, key, 1, x2.shape())?;
                        Ok(Some(Shares::pair(x1, x2)))
                    }
                    Some(_) => {
                        let x2 = recv(ctx)?;
                        let x0 = ctx.draw(&set_a, key, 0, x2.shape())?;
                        Ok(Some(Shares::pair(x2, x0)))
                    }
                }
            }
        }
    }

    /// Members pass their shares; a member target needs one component (from the next role); an
    /// outside target gets `x_0 + x_1` from role 0 and `x_2` from role 1.
    fn reveal(
        &self,
        ctx: &mut Ctx<'_>,
        x: Option<&Shares<W>>,
        targets: &[PartyId],
    ) -> Result<Option<RingTensor<W>>, RunError> {
        let key = ctx.key();
        let me_role = self.role_of(ctx.me);
        // Senders first: every message of the round leaves before anyone waits.
        if let (Some(i), Some(x)) = (me_role, x) {
            let (xa, xb) = ab(x)?;
            for &t in targets {
                match self.role_of(t) {
                    Some(j) if (j + 1) % 3 == i => ctx.send(t, key, xb.clone())?,
                    Some(_) => {}
                    None if i == 0 => ctx.send(t, key, ring::add(xa, xb).map_err(shape_err)?)?,
                    None if i == 1 => ctx.send(t, key, xb.clone())?,
                    None => {}
                }
            }
        }
        if !targets.contains(&ctx.me) {
            return Ok(None);
        }
        let value = match (me_role, x) {
            (Some(j), Some(x)) => {
                let (xa, xb) = ab(x)?;
                let missing = ctx.recv_shaped(self.at(j + 1), key, x.shape())?;
                ring::add(&ring::add(xa, xb).map_err(shape_err)?, &missing).map_err(shape_err)?
            }
            _ => {
                let a = ctx.recv_result(self.at(0), key)?;
                let b = ctx.recv_agreeing(self.at(1), key, self.at(0), &a)?;
                ring::add(&a, &b).map_err(shape_err)?
            }
        };
        Ok(Some(value))
    }

    /// `x_i + alpha_i` from a fresh zero-sharing, then a resharing: new shares of the same value.
    /// An outsider who holds one member's old shares and another member's new ones learns
    /// nothing (each new component carries a mask that only the members know); a member itself
    /// can relate its old and new shares (it learns `alpha_{i+1}` from `x_{i+1} + alpha_{i+1}`),
    /// as in any refresh among the holders alone. One round, one word per element each.
    fn refresh(&self, ctx: &mut Ctx<'_>, x: &Shares<W>) -> Result<Shares<W>, RunError> {
        let (xa, _) = ab(x)?;
        let alpha = self.zero_share(ctx, x.shape())?;
        let z = ring::add(xa, &alpha).map_err(shape_err)?;
        self.reshare(ctx, z)
    }

    /// The local part `x_i y_i + x_i y_{i+1} + x_{i+1} y_i` plus a zero-share, then one round
    /// (a resharing, or the truncating one of [`Aby3::trunc_reshare`]).
    fn mul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        let (xa, xb) = ab(x)?;
        let (ya, yb) = ab(y)?;
        if x.shape() == y.shape() {
            // Same shapes: the local part and the mask in one fused pass (kernels::product_local).
            let alpha = self.zero_share(ctx, x.shape())?;
            let z = match kernels::product_local(xa, xb, ya, yb, &alpha) {
                Some(z) => z,
                None => ring::add(&mul_local(xa, xb, ya, yb)?, &alpha).map_err(shape_err)?,
            };
            return self.finish_masked(ctx, z, trunc);
        }
        let z = mul_local(xa, xb, ya, yb)?;
        self.finish_product(ctx, z, trunc)
    }

    /// One round; each party sends one ring element per element of the result.
    fn matmul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        self.finish_product(ctx, matmul_local(x, y)?, trunc)
    }

    /// The local part of the product, mapped, then its round: one word per element of the
    /// map's result.
    fn matmul_then(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
        post: &Linear<'_, W>,
    ) -> Result<Shares<W>, RunError> {
        let z = (post.apply)(&matmul_local(x, y)?)?;
        self.finish_product(ctx, z, trunc)
    }

    /// Every item's local part (3-out-of-3), joined into one tensor under one zero-share and
    /// reshared (and truncated) in one round: one word per element of each result, as apart.
    fn products(
        &self,
        ctx: &mut Ctx<'_>,
        items: &[Product<'_, W>],
        trunc: u32,
    ) -> Result<Vec<Shares<W>>, RunError> {
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            parts.push(match *item {
                Product::Mul(x, y) => {
                    let (xa, xb) = ab(x)?;
                    let (ya, yb) = ab(y)?;
                    mul_local(xa, xb, ya, yb)?
                }
                Product::MatMul(x, y) => matmul_local(x, y)?,
                Product::Trunc(x) => x.part(0)?.clone(),
            });
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut words = Vec::with_capacity(total);
        for part in &parts {
            match part.as_slice() {
                Some(w) => words.extend_from_slice(w),
                None => words.extend(part.iter().copied()),
            }
        }
        let z = RingTensor::from_shape_vec(IxDyn(&[total]), words)
            .map_err(|e| RunError::Shape(e.to_string()))?;
        let joined = self.finish_product(ctx, z, trunc)?;
        let mut out = Vec::with_capacity(parts.len());
        let mut offset = 0;
        for part in &parts {
            let shape = part.shape().to_vec();
            let n = part.len();
            out.push(joined.slice_axis(0, offset, offset + n).map_with(
                |t| crate::value::reshape(t, &shape),
                |t| crate::value::reshape(t, &shape),
            )?);
            offset += n;
        }
        Ok(out)
    }

    /// One round; same error as [`Aby3::trunc_reshare`].
    fn trunc(&self, ctx: &mut Ctx<'_>, x: &Shares<W>, d: u32) -> Result<Shares<W>, RunError> {
        let alpha = self.zero_share(ctx, x.shape())?;
        let z = ring::add(x.part(0)?, &alpha).map_err(shape_err)?;
        self.trunc_reshare(ctx, z, d)
    }

    /// `x = (x_0 + x_1) + x_2`: role 0 bit-shares `u = x_0 + x_1` (1 round); `v = x_2` is
    /// already bit-shared (roles 1 and 2 hold it).
    fn bit_addends(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
    ) -> Result<(Shares<W>, Shares<W>), RunError> {
        let i = self.role(ctx)?;
        let (xa, xb) = ab(x)?;
        let u_value = (i == 0)
            .then(|| ring::add(xa, xb))
            .transpose()
            .map_err(shape_err)?;
        let u = self.share_from_role0(ctx, u_value, x.shape(), true)?;
        let v = self.component2(ctx, x)?;
        Ok((u, v))
    }

    fn and(&self, ctx: &mut Ctx<'_>, ands: &[And<'_, W>]) -> Result<Vec<Shares<W>>, RunError> {
        let started: Vec<_> = ands
            .iter()
            .map(|a| self.and_start(ctx, a))
            .collect::<Result<_, _>>()?;
        started
            .into_iter()
            .map(|s| self.and_finish(ctx, s))
            .collect()
    }

    /// `h = t ^ s`, where role 0 knows `t = h_0 ^ h_1` and roles 1 and 2 know `s = h_2`: since
    /// `t ^ s = s + t (1 - 2 s)`, role 0 splits each wanted bit of `t` additively between roles
    /// 1 and 2 (role 1's part from the key it shares with role 0, role 2's part sent: 1 round,
    /// `len` words per element), and each of them sums its part `p_1`, `p_2` of the table
    /// entries locally. Replicated shares of `p_1 + p_2` follow in one more message each from
    /// roles 1 and 2: `x_0 = m_0` (from the key of roles 2 and 0), `x_1 = p_1 + m_12` (from the
    /// key of roles 1 and 2; role 1 sends it to role 0, which cannot unmask it) and
    /// `x_2 = p_2 - m_0 - m_12` (role 2 sends it to role 1, which does not know `m_0`). Role 0
    /// sends `len` words per element, roles 1 and 2 one; 2 rounds.
    fn inject(
        &self,
        ctx: &mut Ctx<'_>,
        b: &Shares<W>,
        lo: i64,
        table: &[W],
    ) -> Result<Shares<W>, RunError> {
        let b = if b.parts().iter().all(|p| p.is_standard_layout()) {
            std::borrow::Cow::Borrowed(b)
        } else {
            std::borrow::Cow::Owned(b.clone().standard_layout())
        };
        let len = table.len();
        let bit = |w: W, j: usize| -> W {
            let at = lo + j as i64;
            if (0..W::BITS as i64).contains(&at) {
                (w >> at as u32) & W::ONE
            } else {
                W::ZERO
            }
        };
        let shape = b.shape().to_vec();
        let n = b.len();
        // The parts of `b` are in standard layout (made so above): their words as slices.
        fn words<W: Word>(t: &RingTensor<W>) -> &[W] {
            t.as_slice().unwrap_or(&[])
        }
        // This role's additive part of the lookup, `sum_j c_j part_j` with
        // `c_j = table[j] (1 - 2 s_j)`.
        let signed = |s: W, j: usize| {
            if bit(s, j) == W::ONE {
                table[j].wrapping_neg()
            } else {
                table[j]
            }
        };
        let (ba, bb) = ab(&b)?;
        let key = ctx.key();
        let mask = ctx.key();
        let reshare = ctx.key();
        let tensor = |words: Vec<W>| {
            RingTensor::from_shape_vec(IxDyn(&shape), words)
                .map_err(|e| RunError::Shape(e.to_string()))
        };
        match self.role(ctx)? {
            0 => {
                let r = ctx.draw(&self.pair(0), key, 1, &[n * len])?;
                let r = r.as_slice().unwrap_or(&[]);
                let d: Vec<W> = words(ba)
                    .iter()
                    .zip(words(bb))
                    .enumerate()
                    .flat_map(|(e, (p, q))| (0..len).map(move |j| (e, j, *p ^ *q)))
                    .map(|(e, j, t)| bit(t, j).wrapping_sub(r[e * len + j]))
                    .collect();
                let d = RingTensor::from_shape_vec(IxDyn(&[n * len]), d)
                    .map_err(|e| RunError::Shape(e.to_string()))?;
                ctx.send(self.at(2), key, d)?;
                let x0 = ctx.draw(&self.pair(2), mask, 0, &shape)?;
                let x1 = ctx.recv_shaped(self.at(1), reshare, &shape)?;
                Ok(Shares::pair(x0, x1))
            }
            1 => {
                let r = ctx.draw(&self.pair(0), key, 1, &[n * len])?;
                let r = r.as_slice().unwrap_or(&[]);
                let p1 = tensor(
                    words(bb)
                        .iter()
                        .enumerate()
                        .map(|(e, s)| {
                            (0..len).fold(W::ZERO, |acc, j| {
                                acc.wrapping_add(table[j].wrapping_mul(bit(*s, j)))
                                    .wrapping_add(signed(*s, j).wrapping_mul(r[e * len + j]))
                            })
                        })
                        .collect(),
                )?;
                let m12 = ctx.draw(&self.pair(1), mask, 0, &shape)?;
                let x1 = ring::add(&p1, &m12).map_err(shape_err)?;
                ctx.send(self.at(0), reshare, x1.clone())?;
                let x2 = ctx.recv_shaped(self.at(2), reshare, &shape)?;
                Ok(Shares::pair(x1, x2))
            }
            _ => {
                let d = ctx.recv_shaped(self.at(0), key, &[n * len])?;
                let d = d.as_slice().unwrap_or(&[]);
                let p2 = tensor(
                    words(ba)
                        .iter()
                        .enumerate()
                        .map(|(e, s)| {
                            (0..len).fold(W::ZERO, |acc, j| {
                                acc.wrapping_add(signed(*s, j).wrapping_mul(d[e * len + j]))
                            })
                        })
                        .collect(),
                )?;
                let x0 = ctx.draw(&self.pair(2), mask, 0, &shape)?;
                let m12 = ctx.draw(&self.pair(1), mask, 0, &shape)?;
                let x2 = ring::zip_with(&p2, &ring::add(&x0, &m12).map_err(shape_err)?, |p, m| {
                    p.wrapping_sub(m)
                })
                .map_err(shape_err)?;
                ctx.send(self.at(1), reshare, x2.clone())?;
                Ok(Shares::pair(x2, x0))
            }
        }
    }

    // ---- The message table --------------------------------------------------------------------

    fn share_table(&self, t: &mut Table, owner: Option<usize>, shape_known: bool) {
        let step = t.key();
        let shape_step = t.key();
        match owner {
            Some(i) => {
                let m = t.send(
                    step,
                    Role::Member(i),
                    Role::Member((i + 2) % 3),
                    Size::Result(1),
                );
                if !shape_known {
                    let s = t.send(
                        shape_step,
                        Role::Member(i),
                        Role::Member((i + 1) % 3),
                        Size::Shape,
                    );
                    t.recv(s);
                }
                t.recv(m);
            }
            None => {
                let m1 = t.send(step, Role::Owner, Role::Member(1), Size::Result(1));
                let m2 = t.send(step, Role::Owner, Role::Member(2), Size::Result(1));
                if !shape_known {
                    let s = t.send(shape_step, Role::Owner, Role::Member(0), Size::Shape);
                    t.recv(s);
                }
                t.recv(m1);
                t.recv(m2);
            }
        }
    }

    fn reveal_table(&self, t: &mut Table, target: Option<usize>, all: bool) {
        let step = t.key();
        let mut sent = Vec::new();
        if all || target.is_some() {
            for j in 0..3 {
                if all || target == Some(j) {
                    sent.push(t.send(
                        step,
                        Role::Member((j + 1) % 3),
                        Role::Member(j),
                        Size::Result(1),
                    ));
                }
            }
        }
        if all || target.is_none() {
            let to = if all { Role::Outsiders } else { Role::Target };
            sent.push(t.send(step, Role::Member(0), to, Size::Result(1)));
            sent.push(t.send(step, Role::Member(1), to, Size::Result(1)));
        }
        for m in sent {
            t.recv(m);
        }
    }

    fn refresh_table(&self, t: &mut Table, n: Size) {
        let _zero_share = t.key();
        self.reshare_table(t, n);
    }

    fn mul_table(&self, t: &mut Table, _matrix: bool, trunc: bool, sizes: [Size; 3]) {
        let _zero_share = t.key();
        if trunc {
            self.trunc_reshare_table(t, sizes[2]);
        } else {
            self.reshare_table(t, sizes[2]);
        }
    }

    fn trunc_table(&self, t: &mut Table, n: Size) {
        let _zero_share = t.key();
        self.trunc_reshare_table(t, n);
    }

    fn bit_addends_table(&self, t: &mut Table, n: Size) {
        let step = t.key();
        let m = t.send(step, Role::Member(0), Role::Member(2), n);
        t.recv(m);
    }

    fn and_table(&self, t: &mut Table, n: Size, count: usize) {
        let mut sent = Vec::new();
        for _ in 0..count {
            let _beta = t.key();
            let step = t.key();
            let ms: Vec<usize> = (0..3)
                .map(|i| t.send(step, Role::Member(i), Role::Member((i + 2) % 3), n))
                .collect();
            sent.push(ms);
        }
        for ms in sent {
            for m in ms {
                t.recv(m);
            }
        }
    }

    fn inject_table(&self, t: &mut Table, n: Size, len: u64) {
        let step = t.key();
        let _mask = t.key();
        let reshare = t.key();
        let (r0, r1, r2) = (Role::Member(0), Role::Member(1), Role::Member(2));
        let d = t.send(step, r0, r2, n.times(len));
        let x1 = t.send(reshare, r1, r0, n);
        t.recv(d);
        let x2 = t.send(reshare, r2, r1, n);
        t.recv(x1);
        t.recv(x2);
    }

    fn deal(&self, x: &RingTensor<W>, seed: u64) -> Vec<Shares<W>> {
        let x0 = super::shares::random_like(x, seed);
        let x1 = super::shares::random_like(x, seed ^ 0x5bd1_e995);
        let x2 = ring::sub(&ring::sub(x, &x0).expect("same shape"), &x1).expect("same shape");
        vec![
            Shares::pair(x0.clone(), x1.clone()),
            Shares::pair(x1, x2.clone()),
            Shares::pair(x2, x0),
        ]
    }

    fn open(&self, shares: &[Shares<W>]) -> RingTensor<W> {
        let s0 = &shares[0].parts();
        let s1 = &shares[1].parts();
        ring::add(&ring::add(&s0[0], &s0[1]).expect("shape"), &s1[1]).expect("shape")
    }
}

/// The local part of a matrix product: `x_i (y_i + y_{i+1}) + x_{i+1} y_i`.
fn matmul_local<W: Word>(x: &Shares<W>, y: &Shares<W>) -> Result<RingTensor<W>, RunError> {
    let (xa, xb) = ab(x)?;
    let (ya, yb) = ab(y)?;
    let sum_y = ring::add(ya, yb).map_err(shape_err)?;
    let t = ring::matmul(xa, &sum_y).map_err(shape_err)?;
    let u = ring::matmul(xb, ya).map_err(shape_err)?;
    ring::add(&t, &u).map_err(shape_err)
}

/// The local part of a product: `x_i y_i + x_i y_{i+1} + x_{i+1} y_i` (broadcasting).
fn mul_local<W: Word>(
    xa: &RingTensor<W>,
    xb: &RingTensor<W>,
    ya: &RingTensor<W>,
    yb: &RingTensor<W>,
) -> Result<RingTensor<W>, RunError> {
    let sum_y = ring::add(ya, yb).map_err(shape_err)?;
    let t = ring::mul(xa, &sum_y).map_err(shape_err)?;
    let u = ring::mul(xb, ya).map_err(shape_err)?;
    ring::add(&t, &u).map_err(shape_err)
}

/// aby3's local chains as fused kernels (tfe-jit): one pass over memory where op-by-op code
/// makes one per operation. Each returns `None` when its inputs are not equally shaped
/// contiguous arrays; the caller then runs its op-by-op code, which gives the same words.
mod kernels {
    use std::sync::OnceLock;

    use tfe_jit::{Inst, Kernel, Ty};

    use crate::fused::run;
    use crate::ring::{RingTensor, Word};

    /// The local part of a replicated product plus its zero-share:
    /// `x_a (y_a + y_b) + x_b y_a + alpha`.
    pub fn product_local<W: Word>(
        xa: &RingTensor<W>,
        xb: &RingTensor<W>,
        ya: &RingTensor<W>,
        yb: &RingTensor<W>,
        alpha: &RingTensor<W>,
    ) -> Option<RingTensor<W>> {
        // One kernel per width (a static in a generic function is shared by every width).
        static KERNELS: [OnceLock<Kernel>; 2] = [OnceLock::new(), OnceLock::new()];
        let kernel = KERNELS[usize::from(W::KERNEL_TY == Ty::U128)].get_or_init(|| Kernel {
            inputs: vec![W::KERNEL_TY; 5],
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

    /// The local part of a boolean AND of bit-sliced words, with `y` shifted left by `shift`
    /// and a zero-share `beta`: `(x_a & (y_a' ^ y_b')) ^ (x_b & y_a') ^ beta`.
    pub fn and_local<W: Word>(
        xa: &RingTensor<W>,
        xb: &RingTensor<W>,
        ya: &RingTensor<W>,
        yb: &RingTensor<W>,
        beta: &RingTensor<W>,
        shift: u32,
    ) -> Option<RingTensor<W>> {
        // One set per width, a kernel per shift.
        static KERNELS: [OnceLock<Vec<Kernel>>; 2] = [OnceLock::new(), OnceLock::new()];
        let kernels = KERNELS[usize::from(W::KERNEL_TY == Ty::U128)].get_or_init(|| {
            (0..W::BITS as u8)
                .map(|s| {
                    let mut body: Vec<Inst> = (0..5).map(Inst::Input).collect();
                    // y_a' and y_b': shifted, or the inputs themselves for a shift by 0 (the
                    // carry tree's ANDs; a 128-bit shift costs several instructions even by 0).
                    let (ya, yb) = if s == 0 {
                        (2, 3)
                    } else {
                        body.extend([Inst::Shl(2, s), Inst::Shl(3, s)]);
                        (5, 6)
                    };
                    let n = body.len() as u32;
                    body.extend([
                        Inst::Xor(ya, yb),
                        Inst::And(0, n),
                        Inst::And(1, ya),
                        Inst::Xor(n + 1, n + 2),
                        Inst::Xor(n + 3, 4),
                    ]);
                    Kernel {
                        inputs: vec![W::KERNEL_TY; 5],
                        outputs: vec![n + 4],
                        body,
                    }
                })
                .collect()
        });
        run(kernels.get(shift as usize)?, &[xa, xb, ya, yb, beta])
    }
}
