//! pond: additive secret sharing between two servers, with a third party that deals correlated
//! randomness (the original TF Encrypted's first protocol; its "crypto producer").
//!
//! References: Dahl, Mancuso, Dupis, Decoste, Giraud, Livingstone, Patriquin, Uhma, "Private
//! Machine Learning in TensorFlow using Secure Computation" (2018); Beaver, "Efficient multiparty
//! protocols using circuit randomization" (CRYPTO 1991); Mohassel, Zhang, "SecureML" (S&P 2017),
//! for matrix triples and the local truncation.
//!
//! A value `x` in Z_2^64 is `x = x_0 + x_1`: server `i` (role `i`) holds `x_i`, and either
//! share alone is uniformly random. Boolean sharings use `^`. The dealer (role 2) holds no
//! share: it knows every value's shape and deals, for each product, a triple `c = a · b` whose
//! parts the servers mostly derive themselves. It shares a key with each server, so each
//! server draws its part of `a` and `b` (and server 0 its part of `c`) from that key; the dealer
//! draws the same words and sends only `c_1 = a · b - c_0` to server 1. The dealer receives
//! nothing from the servers (only the shapes of values whose size is known when the program
//! runs, from the party that shares them), so it learns nothing but public shapes; security
//! assumes it does not collude with a server (semi-honest).
//!
//! Messages, in ring elements (words) per element:
//! - share from a server: none (its peer draws its share from their common key); from another
//!   party: one message to server 1;
//! - reveal: each server sends its share to each target (a server target needs only the
//!   other's);
//! - product `x · y` (elementwise, broadcasting) or matrix product: 1 round; each server sends
//!   `x - a` and `y - b` (the operands' sizes, not the result's: for a matrix product the bytes
//!   grow with the operands); the dealer sends one word per element of the result to server 1;
//! - truncation: local (SecureML's: server 0 shifts its share, server 1 negates, shifts and
//!   negates back); the result is `floor(x / 2^d)` or one more, except with probability
//!   `2^(k + 1 - 64)` per element where `|x| < 2^k`, when it is off by about 2^(64 - d);
//! - AND of boolean sharings (64 per word): 1 round, each server sends 2 words, the dealer 1;
//! - injection of bits into an arithmetic sharing: 1 round, each server sends 1 word, the dealer
//!   one per wanted bit;
//! - the sign ([`super::composite::msb`]): 8 rounds, each server sends 27 words per element and
//!   the dealer 14.

use ndarray::IxDyn;
use tfe_ir::{PartyId, Role, Size};

use super::shares::matmul_shape;
use super::{And, Ctx, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::{self, RingTensor};

/// A secret placement computing with pond: the two servers, then the dealer.
#[derive(Debug, Clone, Copy)]
pub struct Pond {
    pub members: [PartyId; 3],
    pub frac: u32,
}

const DEALER: usize = 2;

fn shape_err(e: String) -> RunError {
    RunError::Shape(e)
}

fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, RunError> {
    ring::broadcast_shape(a, b)
        .ok_or_else(|| RunError::Shape(format!("shapes {a:?} and {b:?} do not broadcast")))
}

/// What a product is: elementwise or a matrix product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Product {
    Elementwise,
    Matrix,
}

impl Product {
    fn shape(self, a: &[usize], b: &[usize]) -> Result<Vec<usize>, RunError> {
        match self {
            Product::Elementwise => broadcast(a, b),
            Product::Matrix => matmul_shape(a, b),
        }
    }

    fn apply(self, a: &RingTensor, b: &RingTensor) -> Result<RingTensor, RunError> {
        match self {
            Product::Elementwise => ring::mul(a, b),
            Product::Matrix => ring::matmul(a, b),
        }
        .map_err(shape_err)
    }
}

impl Pond {
    fn server(&self, i: usize) -> PartyId {
        self.members[i]
    }

    fn dealer(&self) -> PartyId {
        self.members[DEALER]
    }

    /// The key server `i` shares with the dealer.
    fn with_dealer(&self, i: usize) -> [PartyId; 2] {
        [self.members[i], self.dealer()]
    }

    fn servers(&self) -> [PartyId; 2] {
        [self.members[0], self.members[1]]
    }

    /// Server `i`'s share, or an internal error at the dealer.
    fn mine<'s>(&self, x: &'s Shares) -> Result<&'s RingTensor, RunError> {
        x.part(0)
    }

    /// A product with a triple from the dealer (Beaver): the servers open `e = x - a` and
    /// `f = y - b`, and `z_i = c_i + e (b_i + f) + a_i f` at server 0, `c_i + e b_i + a_i f` at
    /// server 1 (so that `z_0 + z_1 = c + e b + a f + e f = x y`). Then the local truncation.
    fn product(
        &self,
        ctx: &mut Ctx<'_>,
        kind: Product,
        x: &Shares,
        y: &Shares,
        trunc: u32,
    ) -> Result<Shares, RunError> {
        let triple = ctx.key();
        let open_e = ctx.key();
        let open_f = ctx.key();
        let z_shape = kind.shape(x.shape(), y.shape())?;
        let role = self.role(ctx)?;
        if role == DEALER {
            let a = ring::add(
                &ctx.draw(&self.with_dealer(0), triple, 0, x.shape())?,
                &ctx.draw(&self.with_dealer(1), triple, 0, x.shape())?,
            )
            .map_err(shape_err)?;
            let b = ring::add(
                &ctx.draw(&self.with_dealer(0), triple, 1, y.shape())?,
                &ctx.draw(&self.with_dealer(1), triple, 1, y.shape())?,
            )
            .map_err(shape_err)?;
            let c = kind.apply(&a, &b)?;
            let c0 = ctx.draw(&self.with_dealer(0), triple, 2, &z_shape)?;
            ctx.send(
                self.server(1),
                triple,
                ring::sub(&c, &c0).map_err(shape_err)?,
            )?;
            return Ok(Shares::shape_only(&z_shape));
        }
        let other = self.server(1 - role);
        let key = self.with_dealer(role);
        let a = ctx.draw(&key, triple, 0, x.shape())?;
        let b = ctx.draw(&key, triple, 1, y.shape())?;
        let (xi, yi) = (self.mine(x)?, self.mine(y)?);
        let e_mine = ring::sub(xi, &a).map_err(shape_err)?;
        let f_mine = ring::sub(yi, &b).map_err(shape_err)?;
        ctx.send(other, open_e, e_mine.clone())?;
        ctx.send(other, open_f, f_mine.clone())?;
        let c = if role == 0 {
            ctx.draw(&key, triple, 2, &z_shape)?
        } else {
            ctx.recv_shaped(self.dealer(), triple, &z_shape)?
        };
        let e =
            ring::add(&e_mine, &ctx.recv_shaped(other, open_e, x.shape())?).map_err(shape_err)?;
        let f =
            ring::add(&f_mine, &ctx.recv_shaped(other, open_f, y.shape())?).map_err(shape_err)?;
        let b_side = if role == 0 {
            ring::add(&b, &f).map_err(shape_err)?
        } else {
            b
        };
        let z = ring::add(
            &ring::add(&c, &kind.apply(&e, &b_side)?).map_err(shape_err)?,
            &kind.apply(&a, &f)?,
        )
        .map_err(shape_err)?;
        Ok(Shares::single(self.truncate(role, z, trunc)))
    }

    /// SecureML's local truncation of an additive sharing by `d` bits (see the module header
    /// for its error).
    fn truncate(&self, role: usize, z: RingTensor, d: u32) -> RingTensor {
        if d == 0 {
            z
        } else if role == 0 {
            z.mapv(|v| v >> d)
        } else {
            z.mapv(|v| (v.wrapping_neg() >> d).wrapping_neg())
        }
    }
}

impl Protocol for Pond {
    fn name(&self) -> &'static str {
        "pond"
    }

    fn members(&self) -> &[PartyId] {
        &self.members
    }

    fn frac(&self) -> u32 {
        self.frac
    }

    /// Server 0 holds the value, server 1 zeros, the dealer the shape.
    fn public(&self, me: PartyId, c: &RingTensor) -> Result<Shares, RunError> {
        Ok(match self.role_of(me) {
            Some(0) => Shares::single(c.clone()),
            Some(1) => Shares::single(RingTensor::zeros(IxDyn(c.shape()))),
            Some(_) => Shares::shape_only(c.shape()),
            None => return Err(RunError::Internal("a non-member holds shares".into())),
        })
    }

    /// From server `i`: the other server's share comes from the key the servers share, so
    /// nothing is sent. From anyone else: server 0's share comes from the key the owner shares
    /// with it, and the owner sends `x - x_0` to server 1. When the shape is known only now, the
    /// owner sends it to the members that derive or deal (server 0 or the other server, and the
    /// dealer).
    fn share(
        &self,
        ctx: &mut Ctx<'_>,
        owner: PartyId,
        value: Option<&RingTensor>,
        known_shape: Option<&[usize]>,
    ) -> Result<Option<Shares>, RunError> {
        let key = ctx.key();
        let shape_key = ctx.key();
        let owner_role = self.role_of(owner).filter(|r| *r != DEALER);
        let me_role = self.role_of(ctx.me);
        // Who derives its share (or, the dealer, deals) without receiving it, and so needs the
        // shape: the other server (from a server) or server 0 (from anyone else), and the dealer.
        let deriving = match owner_role {
            Some(i) => 1 - i,
            None => 0,
        };
        if ctx.me == owner {
            let v = value
                .ok_or_else(|| RunError::Internal("the owner has no value to share".into()))?;
            let shape = v.shape().to_vec();
            if known_shape.is_none() {
                ctx.send_shape(self.server(deriving), shape_key, &shape)?;
                if me_role != Some(DEALER) {
                    ctx.send_shape(self.dealer(), shape_key, &shape)?;
                }
            }
            return Ok(match owner_role {
                Some(_) => {
                    let other = ctx.draw(&self.servers(), key, 0, &shape)?;
                    Some(Shares::single(ring::sub(v, &other).map_err(shape_err)?))
                }
                None => {
                    let x0 = ctx.draw(&[owner, self.server(0)], key, 0, &shape)?;
                    ctx.send(self.server(1), key, ring::sub(v, &x0).map_err(shape_err)?)?;
                    if me_role == Some(DEALER) {
                        ctx.flush()?;
                        Some(Shares::shape_only(&shape))
                    } else {
                        None
                    }
                }
            });
        }
        let shape = |ctx: &mut Ctx<'_>| -> Result<Vec<usize>, RunError> {
            match known_shape {
                Some(s) => Ok(s.to_vec()),
                None => ctx.recv_shape(owner, shape_key),
            }
        };
        Ok(Some(match me_role {
            Some(DEALER) => Shares::shape_only(&shape(ctx)?),
            Some(i) if i == deriving => {
                let shape = shape(ctx)?;
                let set: [PartyId; 2] = if owner_role.is_some() {
                    self.servers()
                } else {
                    [owner, self.server(0)]
                };
                Shares::single(ctx.draw(&set, key, 0, &shape)?)
            }
            Some(_) => Shares::single(match known_shape {
                Some(s) => ctx.recv_shaped(owner, key, s)?,
                None => ctx.recv(owner, key)?,
            }),
            None => return Err(RunError::Internal("a non-member receives shares".into())),
        }))
    }

    /// Each server sends its share to each target (to a server target, the other's share is
    /// enough).
    fn reveal(
        &self,
        ctx: &mut Ctx<'_>,
        x: Option<&Shares>,
        targets: &[PartyId],
    ) -> Result<Option<RingTensor>, RunError> {
        let key = ctx.key();
        let me_role = self.role_of(ctx.me).filter(|r| *r != DEALER);
        if let (Some(_), Some(x)) = (me_role, x) {
            let mine = self.mine(x)?;
            for &t in targets {
                if t != ctx.me {
                    ctx.send(t, key, mine.clone())?;
                }
            }
        }
        if !targets.contains(&ctx.me) {
            return Ok(None);
        }
        let value = match (me_role, x) {
            (Some(i), Some(x)) => {
                let other = ctx.recv_shaped(self.server(1 - i), key, x.shape())?;
                ring::add(self.mine(x)?, &other).map_err(shape_err)?
            }
            _ => {
                let a = ctx.recv(self.server(0), key)?;
                let b = ctx.recv_shaped(self.server(1), key, a.shape())?;
                ring::add(&a, &b).map_err(shape_err)?
            }
        };
        Ok(Some(value))
    }

    fn mul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares,
        y: &Shares,
        trunc: u32,
    ) -> Result<Shares, RunError> {
        self.product(ctx, Product::Elementwise, x, y, trunc)
    }

    fn matmul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares,
        y: &Shares,
        trunc: u32,
    ) -> Result<Shares, RunError> {
        self.product(ctx, Product::Matrix, x, y, trunc)
    }

    /// Local: no messages.
    fn trunc(&self, ctx: &mut Ctx<'_>, x: &Shares, d: u32) -> Result<Shares, RunError> {
        let role = self.role(ctx)?;
        if role == DEALER {
            return Ok(x.clone());
        }
        Ok(Shares::single(self.truncate(
            role,
            self.mine(x)?.clone(),
            d,
        )))
    }

    /// `x = x_0 + x_1` where server 0 knows `x_0` and server 1 `x_1`: each is a boolean sharing
    /// already (the other server's part 0). No messages.
    fn bit_addends(&self, ctx: &mut Ctx<'_>, x: &Shares) -> Result<(Shares, Shares), RunError> {
        let role = self.role(ctx)?;
        if role == DEALER {
            return Ok((x.clone(), x.clone()));
        }
        let mine = self.mine(x)?;
        let zero = RingTensor::zeros(IxDyn(x.shape()));
        Ok(if role == 0 {
            (Shares::single(mine.clone()), Shares::single(zero))
        } else {
            (Shares::single(zero), Shares::single(mine.clone()))
        })
    }

    /// Boolean Beaver triples: the servers open `d = x ^ a` and `e = y ^ b` (one message of
    /// both to each other), and `z_i = c_i ^ (d & b_i) ^ (e & a_i)`, with `^ (d & e)` at server
    /// 0. The dealer sends `c_1` to server 1.
    fn and(&self, ctx: &mut Ctx<'_>, ands: &[And<'_>]) -> Result<Vec<Shares>, RunError> {
        let role = self.role(ctx)?;
        let mut started = Vec::new();
        for and in ands {
            let shape = and.x.shape().to_vec();
            if and.y.shape() != shape.as_slice() {
                return Err(RunError::Internal(format!(
                    "an AND of shapes {shape:?} and {:?}",
                    and.y.shape()
                )));
            }
            let triple = ctx.key();
            let open = ctx.key();
            if role == DEALER {
                let draw = |ctx: &Ctx<'_>, stream| -> Result<RingTensor, RunError> {
                    ring::zip_with(
                        &ctx.draw(&self.with_dealer(0), triple, stream, &shape)?,
                        &ctx.draw(&self.with_dealer(1), triple, stream, &shape)?,
                        |p, q| p ^ q,
                    )
                    .map_err(shape_err)
                };
                let (a, b) = (draw(ctx, 0)?, draw(ctx, 1)?);
                let c0 = ctx.draw(&self.with_dealer(0), triple, 2, &shape)?;
                let c1 = ring::zip_with(
                    &ring::zip_with(&a, &b, |p, q| p & q).map_err(shape_err)?,
                    &c0,
                    |p, q| p ^ q,
                )
                .map_err(shape_err)?;
                ctx.send(self.server(1), triple, c1)?;
                started.push(None);
                continue;
            }
            let key = self.with_dealer(role);
            let a = ctx.draw(&key, triple, 0, &shape)?;
            let b = ctx.draw(&key, triple, 1, &shape)?;
            let x = self.mine(and.x)?;
            let y = self.mine(and.y)?.mapv(|v| v << and.shift);
            let d = ring::zip_with(x, &a, |p, q| p ^ q).map_err(shape_err)?;
            let e = ring::zip_with(&y, &b, |p, q| p ^ q).map_err(shape_err)?;
            let both = crate::value::concat(
                &[
                    &d.clone().insert_axis(ndarray::Axis(0)),
                    &e.clone().insert_axis(ndarray::Axis(0)),
                ],
                0,
            )
            .map_err(shape_err)?;
            ctx.send(self.server(1 - role), open, both)?;
            started.push(Some((triple, open, shape, a, b, d, e)));
        }
        let mut out = Vec::new();
        for s in started {
            let Some((triple, open, shape, a, b, d, e)) = s else {
                continue;
            };
            let c = if role == 0 {
                ctx.draw(&self.with_dealer(0), triple, 2, &shape)?
            } else {
                ctx.recv_shaped(self.dealer(), triple, &shape)?
            };
            let mut wide = vec![2];
            wide.extend_from_slice(&shape);
            let theirs = ctx.recv_shaped(self.server(1 - role), open, &wide)?;
            let d = ring::zip_with(
                &d,
                &theirs.index_axis(ndarray::Axis(0), 0).to_owned(),
                |p, q| p ^ q,
            )
            .map_err(shape_err)?;
            let e = ring::zip_with(
                &e,
                &theirs.index_axis(ndarray::Axis(0), 1).to_owned(),
                |p, q| p ^ q,
            )
            .map_err(shape_err)?;
            let mut z: Vec<u64> = Vec::with_capacity(d.len());
            let (cs, ds, es, as_, bs) = (c.iter(), d.iter(), e.iter(), a.iter(), b.iter());
            for ((((c, d), e), a), b) in cs.zip(ds).zip(es).zip(as_).zip(bs) {
                let mut v = c ^ (d & b) ^ (e & a);
                if role == 0 {
                    v ^= d & e;
                }
                z.push(v);
            }
            out.push(Shares::single(
                RingTensor::from_shape_vec(IxDyn(&shape), z)
                    .map_err(|e| shape_err(e.to_string()))?,
            ));
        }
        if role == DEALER {
            return Ok(ands.iter().map(|a| a.x.clone()).collect());
        }
        Ok(out)
    }

    /// With a random word `r` from the dealer, boolean-shared (each server draws its part from
    /// its key) and, for each wanted bit, arithmetically shared (server 0's part drawn, server
    /// 1's sent by the dealer): the servers open `c = b ^ r` (one word per element each), and
    /// `bit_j(b) = c_j ^ r_j = c_j + r_j (1 - 2 c_j)`, a local sum.
    fn inject(
        &self,
        ctx: &mut Ctx<'_>,
        b: &Shares,
        lo: i64,
        table: &[u64],
    ) -> Result<Shares, RunError> {
        let deal = ctx.key();
        let open = ctx.key();
        let role = self.role(ctx)?;
        let shape = b.shape().to_vec();
        let n = b.len();
        let len = table.len();
        let position = |j: usize| -> Option<u32> {
            let at = lo + j as i64;
            (0..64).contains(&at).then_some(at as u32)
        };
        if role == DEALER {
            let r = ring::zip_with(
                &ctx.draw(&self.with_dealer(0), deal, 0, &shape)?,
                &ctx.draw(&self.with_dealer(1), deal, 0, &shape)?,
                |p, q| p ^ q,
            )
            .map_err(shape_err)?;
            let r0 = ctx.draw(&self.with_dealer(0), deal, 1, &[n * len])?;
            let r0 = r0.as_slice().unwrap_or(&[]);
            let r = r.as_standard_layout();
            let r1: Vec<u64> = r
                .iter()
                .enumerate()
                .flat_map(|(e, w)| {
                    (0..len).map(move |j| {
                        let bit = position(j).map_or(0, |at| (w >> at) & 1);
                        bit.wrapping_sub(r0[e * len + j])
                    })
                })
                .collect();
            ctx.send(
                self.server(1),
                deal,
                RingTensor::from_shape_vec(IxDyn(&[n * len]), r1)
                    .map_err(|e| shape_err(e.to_string()))?,
            )?;
            return Ok(Shares::shape_only(&shape));
        }
        let key = self.with_dealer(role);
        let r = ctx.draw(&key, deal, 0, &shape)?;
        let c_mine = ring::zip_with(self.mine(b)?, &r, |p, q| p ^ q).map_err(shape_err)?;
        ctx.send(self.server(1 - role), open, c_mine.clone())?;
        let ra = if role == 0 {
            ctx.draw(&key, deal, 1, &[n * len])?
        } else {
            ctx.recv_shaped(self.dealer(), deal, &[n * len])?
        };
        let theirs = ctx.recv_shaped(self.server(1 - role), open, &shape)?;
        let c = ring::zip_with(&c_mine, &theirs, |p, q| p ^ q).map_err(shape_err)?;
        let c = c.as_standard_layout();
        let ra = ra.as_slice().unwrap_or(&[]);
        let part: Vec<u64> = c
            .iter()
            .enumerate()
            .map(|(e, w)| {
                (0..len).fold(0u64, |acc, j| {
                    let cj = position(j).map_or(0, |at| (w >> at) & 1);
                    // c_j (server 0 only) + r_j (1 - 2 c_j)
                    let own = if role == 0 { cj } else { 0 };
                    let r_part = if cj == 1 {
                        ra[e * len + j].wrapping_neg()
                    } else {
                        ra[e * len + j]
                    };
                    acc.wrapping_add(table[j].wrapping_mul(own.wrapping_add(r_part)))
                })
            })
            .collect();
        Ok(Shares::single(
            RingTensor::from_shape_vec(IxDyn(&shape), part)
                .map_err(|e| shape_err(e.to_string()))?,
        ))
    }

    /// The dealer never waits, so nothing else would send what it queued.
    fn end_op(&self, ctx: &mut Ctx<'_>) -> Result<(), RunError> {
        if self.role_of(ctx.me) == Some(DEALER) {
            ctx.flush()?;
        }
        Ok(())
    }

    // ---- The message table --------------------------------------------------------------------

    fn share_table(&self, t: &mut Table, owner: Option<usize>, shape_known: bool) {
        let step = t.key();
        let shape_step = t.key();
        let owner_role = owner.filter(|r| *r != DEALER);
        let from = match owner {
            Some(r) => Role::Member(r),
            None => Role::Owner,
        };
        let deriving = owner_role.map_or(0, |i| 1 - i);
        let mut sent = Vec::new();
        if !shape_known {
            sent.push(t.send(shape_step, from, Role::Member(deriving), Size::Shape));
            if owner != Some(DEALER) {
                sent.push(t.send(shape_step, from, Role::Member(DEALER), Size::Shape));
            }
        }
        if owner_role.is_none() {
            sent.push(t.send(step, from, Role::Member(1), Size::Result(1)));
        }
        for m in sent {
            t.recv(m);
        }
    }

    fn reveal_table(&self, t: &mut Table, target: Option<usize>, all: bool) {
        let step = t.key();
        let mut sent = Vec::new();
        for i in 0..2 {
            if all {
                sent.push(t.send(step, Role::Member(i), Role::Member(1 - i), Size::Result(1)));
                sent.push(t.send(step, Role::Member(i), Role::Member(DEALER), Size::Result(1)));
                sent.push(t.send(step, Role::Member(i), Role::Outsiders, Size::Result(1)));
            } else {
                match target {
                    Some(j) if j == i => {}
                    Some(j) => {
                        sent.push(t.send(step, Role::Member(i), Role::Member(j), Size::Result(1)))
                    }
                    None => sent.push(t.send(step, Role::Member(i), Role::Target, Size::Result(1))),
                }
            }
        }
        for m in sent {
            t.recv(m);
        }
    }

    fn mul_table(&self, t: &mut Table, _matrix: bool, _trunc: bool, sizes: [Size; 3]) {
        let triple = t.key();
        let open_e = t.key();
        let open_f = t.key();
        let c1 = t.send(triple, Role::Member(DEALER), Role::Member(1), sizes[2]);
        let mut sent = Vec::new();
        for i in 0..2 {
            sent.push(t.send(open_e, Role::Member(i), Role::Member(1 - i), sizes[0]));
            sent.push(t.send(open_f, Role::Member(i), Role::Member(1 - i), sizes[1]));
        }
        t.recv(c1);
        for m in sent {
            t.recv(m);
        }
    }

    fn trunc_table(&self, _t: &mut Table, _n: Size) {}

    fn bit_addends_table(&self, _t: &mut Table, _n: Size) {}

    fn and_table(&self, t: &mut Table, n: Size, count: usize) {
        let two = match n {
            Size::Result(k) => Size::Result(2 * k),
            Size::Arg(i, k) => Size::Arg(i, 2 * k),
            Size::Shape => Size::Shape,
        };
        let mut sent = Vec::new();
        for _ in 0..count {
            let triple = t.key();
            let open = t.key();
            sent.push(t.send(triple, Role::Member(DEALER), Role::Member(1), n));
            sent.push(t.send(open, Role::Member(0), Role::Member(1), two));
            sent.push(t.send(open, Role::Member(1), Role::Member(0), two));
        }
        for m in sent {
            t.recv(m);
        }
    }

    fn inject_table(&self, t: &mut Table, n: Size, len: u64) {
        let deal = t.key();
        let open = t.key();
        let wide = match n {
            Size::Result(k) => Size::Result(k * len),
            Size::Arg(i, k) => Size::Arg(i, k * len),
            Size::Shape => Size::Shape,
        };
        let sent = [
            t.send(open, Role::Member(0), Role::Member(1), n),
            t.send(open, Role::Member(1), Role::Member(0), n),
            t.send(deal, Role::Member(DEALER), Role::Member(1), wide),
        ];
        for m in sent {
            t.recv(m);
        }
    }

    fn deal(&self, x: &RingTensor, seed: u64) -> Vec<Shares> {
        let x0 = super::shares::random_like(x, seed);
        let x1 = ring::sub(x, &x0).expect("same shape");
        vec![
            Shares::single(x0),
            Shares::single(x1),
            Shares::shape_only(x.shape()),
        ]
    }

    fn open(&self, shares: &[Shares]) -> RingTensor {
        ring::add(&shares[0].parts()[0], &shares[1].parts()[0]).expect("shape")
    }
}
