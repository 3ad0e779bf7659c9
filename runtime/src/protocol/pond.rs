//! pond: additive secret sharing between two servers, with a third party that deals correlated
//! randomness (the original TF Encrypted's first protocol; its "crypto producer").
//!
//! References: Dahl, Mancuso, Dupis, Decoste, Giraud, Livingstone, Patriquin, Uhma, "Private
//! Machine Learning in TensorFlow using Secure Computation" (2018); Beaver, "Efficient multiparty
//! protocols using circuit randomization" (CRYPTO 1991); Mohassel, Zhang, "SecureML" (S&P 2017),
//! for matrix triples and the local truncation.
//!
//! A value `x` in Z_2^64 is `x = x_0 + x_1`: server `i` (role `i`) holds `x_i`, and either
//! share alone is uniformly random (but a public value's, `(x, 0)`, which hides nothing).
//! Boolean sharings use `^`. The dealer (role 2) holds no share: it knows every value's shape
//! and deals, for each product, a triple `c = a · b` whose parts the servers mostly derive
//! themselves. It shares a key with each server, so each server draws its part of `a` and `b`
//! (and server 0 its part of `c`) from that key; the dealer draws the same words and sends only
//! `c_1 = a · b - c_0` to server 1. The dealer receives nothing from the servers (only the
//! shapes of values whose size is known when the program runs, from the party that shares
//! them), so it learns nothing but public shapes; security assumes it does not collude with a
//! server (semi-honest).
//!
//! Messages, in ring elements (words) per element:
//! - share from a server: none (its peer draws its share from their common key); from another
//!   party: one message to server 1;
//! - refresh (a fresh sharing of loaded shares): none (a mask from the servers' common key);
//! - reveal: each server sends its share to each target (a server target needs only the
//!   other's);
//! - product `x · y` (elementwise, broadcasting) or matrix product: 1 round; each server sends
//!   `x - a` and `y - b` (the operands' sizes, not the result's: for a matrix product the bytes
//!   grow with the operands); the dealer sends one word per element of the result to server 1;
//! - truncation: local (SecureML's: server 0 shifts its share, server 1 negates, shifts and
//!   negates back, both shifts arithmetic on the shares read as signed words); the result is
//!   `floor(x / 2^d)` or one more, except with probability `2^(k + 1 - R)` per element in a ring
//!   of R bits where `|x| < 2^k` and the shares are uniformly random, when it is off by about
//!   2^(R - d). The shares of a public value (the value at server 0, zero at server 1) never
//!   fail;
//! - AND of boolean sharings (one bit per bit of a word): 1 round, each server sends 2 words,
//!   the dealer 1;
//! - injection of bits into an arithmetic sharing: 1 round, each server sends 1 word, the dealer
//!   one per wanted bit;
//! - the sign ([`super::composite::msb`]): 8 rounds, each server sends 27 words per element and
//!   the dealer 14.

use ndarray::IxDyn;
use tfe_ir::{PartyId, Role, Size};

use super::shares::matmul_shape;
use super::{And, Ctx, Linear, Product, Protocol, Shares, Table};
use crate::RunError;
use crate::ring::{self, RingTensor, Word};

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

/// A tensor's words in order (it must be contiguous: see [`contiguous`]).
fn words<W: Word>(t: &RingTensor<W>) -> &[W] {
    t.as_slice().unwrap_or(&[])
}

/// `t` in standard layout, borrowed when it already is.
fn contiguous<W: Word>(t: &RingTensor<W>) -> std::borrow::Cow<'_, RingTensor<W>> {
    if t.is_standard_layout() {
        std::borrow::Cow::Borrowed(t)
    } else {
        std::borrow::Cow::Owned(t.as_standard_layout().into_owned())
    }
}

fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, RunError> {
    ring::broadcast_shape(a, b)
        .ok_or_else(|| RunError::Shape(format!("shapes {a:?} and {b:?} do not broadcast")))
}

/// A product whose first half ran ([`Pond::start`]).
struct Started<'x, W: Word> {
    kind: Kind,
    /// The triple's key and the two openings'.
    keys: [tfe_ir::MsgKey; 3],
    x_shape: Vec<usize>,
    y_shape: Vec<usize>,
    z_shape: Vec<usize>,
    /// What a server keeps for the second half (none at the dealer).
    server: Option<ServerPart<'x, W>>,
}

/// A server's triple part `(a, b)` and its operands.
struct ServerPart<'x, W: Word> {
    a: RingTensor<W>,
    b: RingTensor<W>,
    xi: std::borrow::Cow<'x, RingTensor<W>>,
    yi: std::borrow::Cow<'x, RingTensor<W>>,
}

/// `t` through the map after a product, if any.
fn mapped<W: Word>(
    post: Option<&Linear<'_, W>>,
    t: RingTensor<W>,
) -> Result<RingTensor<W>, RunError> {
    match post {
        Some(l) => (l.apply)(&t),
        None => Ok(t),
    }
}

/// What a product is: elementwise or a matrix product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Elementwise,
    Matrix,
}

impl Kind {
    fn shape(self, a: &[usize], b: &[usize]) -> Result<Vec<usize>, RunError> {
        match self {
            Kind::Elementwise => broadcast(a, b),
            Kind::Matrix => matmul_shape(a, b),
        }
    }

    fn apply<W: Word>(
        self,
        a: &RingTensor<W>,
        b: &RingTensor<W>,
    ) -> Result<RingTensor<W>, RunError> {
        match self {
            Kind::Elementwise => ring::mul(a, b),
            Kind::Matrix => ring::matmul(a, b),
        }
        .map_err(shape_err)
    }
}

impl Pond {
    /// The role of `party` ([`Protocol::role_of`], the same at every ring width).
    pub(super) fn role_of(&self, party: PartyId) -> Option<usize> {
        self.members.iter().position(|m| *m == party)
    }

    /// This party's role ([`Protocol::role`]).
    pub(super) fn role(&self, ctx: &Ctx<'_>) -> Result<usize, RunError> {
        Protocol::<u64>::role(self, ctx)
    }

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
    fn mine<'s, W: Word>(&self, x: &'s Shares<W>) -> Result<&'s RingTensor<W>, RunError> {
        x.part(0)
    }

    /// A product with a triple from the dealer (Beaver): the servers open `e = x - a` and
    /// `f = y - b`, and `z_i = c_i + e (b_i + f) + a_i f` at server 0, `c_i + e b_i + a_i f` at
    /// server 1 (so that `z_0 + z_1 = c + e b + a f + e f = x y`). Then the local truncation.
    fn product<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        kind: Kind,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
        post: Option<&Linear<'_, W>>,
    ) -> Result<Shares<W>, RunError> {
        let started = self.start(ctx, kind, x, y, post)?;
        self.finish(ctx, started, trunc, post)
    }

    /// The first half of [`Pond::product`]: the dealer deals, the servers send their openings
    /// (so that several products started before any finishes share one round).
    fn start<'x, W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        kind: Kind,
        x: &'x Shares<W>,
        y: &'x Shares<W>,
        post: Option<&Linear<'_, W>>,
    ) -> Result<Started<'x, W>, RunError> {
        let triple = ctx.key();
        let open_e = ctx.key();
        let open_f = ctx.key();
        let product_shape = kind.shape(x.shape(), y.shape())?;
        // With a map after the product, the dealer maps its `c` too and deals it in the map's
        // shape: a server's `post(z_i)` is `post(c)_i + post(the rest of z_i)`.
        let z_shape = post.map_or_else(|| product_shape.clone(), |l| l.shape.clone());
        let role = self.role(ctx)?;
        let mut started = Started {
            kind,
            keys: [triple, open_e, open_f],
            x_shape: x.shape().to_vec(),
            y_shape: y.shape().to_vec(),
            z_shape,
            server: None,
        };
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
            let c = mapped(post, kind.apply(&a, &b)?)?;
            let c0 = ctx.draw(&self.with_dealer(0), triple, 2, &started.z_shape)?;
            ctx.send(
                self.server(1),
                triple,
                ring::sub(&c, &c0).map_err(shape_err)?,
            )?;
            return Ok(started);
        }
        let other = self.server(1 - role);
        let key = self.with_dealer(role);
        let a = ctx.draw(&key, triple, 0, x.shape())?;
        let b = ctx.draw(&key, triple, 1, y.shape())?;
        let (xi, yi) = (contiguous(self.mine(x)?), contiguous(self.mine(y)?));
        ctx.send(other, open_e, ring::sub(&xi, &a).map_err(shape_err)?)?;
        ctx.send(other, open_f, ring::sub(&yi, &b).map_err(shape_err)?)?;
        started.server = Some(ServerPart { a, b, xi, yi });
        Ok(started)
    }

    /// The second half of [`Pond::product`]: a server receives the other's openings (and
    /// server 1 its `c` from the dealer) and combines; the dealer has the shape only.
    fn finish<W: Word>(
        &self,
        ctx: &mut Ctx<'_>,
        started: Started<'_, W>,
        trunc: u32,
        post: Option<&Linear<'_, W>>,
    ) -> Result<Shares<W>, RunError> {
        let Started {
            kind,
            keys: [triple, open_e, open_f],
            x_shape,
            y_shape,
            z_shape,
            server,
        } = started;
        let Some(ServerPart { a, b, xi, yi }) = server else {
            return Ok(Shares::shape_only(&z_shape));
        };
        let role = self.role(ctx)?;
        let other = self.server(1 - role);
        let key = self.with_dealer(role);
        let mut c = if role == 0 {
            ctx.draw(&key, triple, 2, &z_shape)?
        } else {
            ctx.recv_shaped(self.dealer(), triple, &z_shape)?
        };
        let e_theirs = ctx.recv_shaped(other, open_e, &x_shape)?;
        let f_theirs = ctx.recv_shaped(other, open_f, &y_shape)?;
        if kind == Kind::Elementwise && x_shape == y_shape && post.is_none() {
            // One pass: e and f opened, z = c + e (b + f) + a f (server 0) or c + e b + a f,
            // truncated.
            let (xs, ys, aw, bw) = (words(&xi), words(&yi), words(&a), words(&b));
            let (te, tf) = (words(&e_theirs), words(&f_theirs));
            let zs: &mut [W] = c
                .as_slice_mut()
                .ok_or_else(|| RunError::Internal("a triple not contiguous".into()))?;
            let own = if role == 0 { W::ONE } else { W::ZERO };
            for i in 0..zs.len() {
                let e = xs[i].wrapping_sub(aw[i]).wrapping_add(te[i]);
                let f = ys[i].wrapping_sub(bw[i]).wrapping_add(tf[i]);
                let z = zs[i]
                    .wrapping_add(e.wrapping_mul(bw[i].wrapping_add(f.wrapping_mul(own))))
                    .wrapping_add(aw[i].wrapping_mul(f));
                zs[i] = truncate_word(role, z, trunc);
            }
            return Ok(Shares::single(c));
        }
        let e = ring::add(&ring::sub(&xi, &a).map_err(shape_err)?, &e_theirs).map_err(shape_err)?;
        let f = ring::add(&ring::sub(&yi, &b).map_err(shape_err)?, &f_theirs).map_err(shape_err)?;
        let b_side = if role == 0 {
            ring::add(&b, &f).map_err(shape_err)?
        } else {
            b
        };
        let rest = ring::add(&kind.apply(&e, &b_side)?, &kind.apply(&a, &f)?).map_err(shape_err)?;
        let z = ring::add(&c, &mapped(post, rest)?).map_err(shape_err)?;
        Ok(Shares::single(self.truncate(role, z, trunc)))
    }

    /// SecureML's local truncation of an additive sharing by `d` bits (see the module header
    /// for its error).
    fn truncate<W: Word>(&self, role: usize, mut z: RingTensor<W>, d: u32) -> RingTensor<W> {
        if d > 0 {
            z.mapv_inplace(|v| truncate_word(role, v, d));
        }
        z
    }
}

/// SecureML's local truncation of one word of server `role`'s share by `d` bits, the shares
/// read as signed words: server 0 takes `floor(x_0 / 2^d)`, server 1 `-floor(-x_1 / 2^d)`.
/// Read as unsigned words (as SecureML writes it) the shares `(c, 0)` of a public negative `c`
/// (see [`Protocol::public`]) always fall in the failing case; read as signed they never do,
/// and uniformly random shares fail no more often.
fn truncate_word<W: Word>(role: usize, v: W, d: u32) -> W {
    if d == 0 {
        v
    } else if role == 0 {
        v.sar(d)
    } else {
        v.wrapping_neg().sar(d).wrapping_neg()
    }
}

impl<W: Word> Protocol<W> for Pond {
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
    fn public(&self, me: PartyId, c: &RingTensor<W>) -> Result<Shares<W>, RunError> {
        Ok(match self.role_of(me) {
            Some(0) => Shares::single(c.clone()),
            Some(1) => Shares::single(RingTensor::from_elem(IxDyn(c.shape()), W::ZERO)),
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
        value: Option<&RingTensor<W>>,
        known_shape: Option<&[usize]>,
    ) -> Result<Option<Shares<W>>, RunError> {
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
        x: Option<&Shares<W>>,
        targets: &[PartyId],
    ) -> Result<Option<RingTensor<W>>, RunError> {
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
                let a = ctx.recv_result(self.server(0), key)?;
                let b = ctx.recv_agreeing(self.server(1), key, self.server(0), &a)?;
                ring::add(&a, &b).map_err(shape_err)?
            }
        };
        Ok(Some(value))
    }

    fn holds(&self, role: usize) -> bool {
        role != DEALER
    }

    /// The servers add and subtract a mask drawn from their common key: no messages, and the
    /// dealer (which never sees the key) learns nothing.
    fn refresh(&self, ctx: &mut Ctx<'_>, x: &Shares<W>) -> Result<Shares<W>, RunError> {
        let key = ctx.key();
        let role = self.role(ctx)?;
        if role == DEALER {
            return Ok(Shares::shape_only(x.shape()));
        }
        let r = ctx.draw(&self.servers(), key, 0, x.shape())?;
        let mine = self.mine(x)?;
        let part = if role == 0 {
            ring::add(mine, &r)
        } else {
            ring::sub(mine, &r)
        }
        .map_err(shape_err)?;
        Ok(Shares::single(part))
    }

    fn mul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        self.product(ctx, Kind::Elementwise, x, y, trunc, None)
    }

    fn matmul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError> {
        self.product(ctx, Kind::Matrix, x, y, trunc, None)
    }

    /// Every product's openings are sent before any is received: the rounds of one. (A
    /// truncation of a product by a public value is local.)
    fn products(
        &self,
        ctx: &mut Ctx<'_>,
        items: &[Product<'_, W>],
        trunc: u32,
    ) -> Result<Vec<Shares<W>>, RunError> {
        let mut started = Vec::with_capacity(items.len());
        for item in items {
            started.push(match *item {
                Product::Mul(x, y) => Some(self.start(ctx, Kind::Elementwise, x, y, None)?),
                Product::MatMul(x, y) => Some(self.start(ctx, Kind::Matrix, x, y, None)?),
                Product::Trunc(_) => None,
            });
        }
        items
            .iter()
            .zip(started)
            .map(|(item, s)| match (item, s) {
                (_, Some(s)) => self.finish(ctx, s, trunc, None),
                (Product::Trunc(x), None) => self.trunc(ctx, x, trunc),
                _ => unreachable!("products and truncations start as above"),
            })
            .collect()
    }

    /// The dealer maps its product, the servers their local parts: the dealer's message is the
    /// map's result; the servers' openings are the operands, as in any product.
    fn matmul_then(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
        post: &Linear<'_, W>,
    ) -> Result<Shares<W>, RunError> {
        self.product(ctx, Kind::Matrix, x, y, trunc, Some(post))
    }

    /// Local: no messages.
    fn trunc(&self, ctx: &mut Ctx<'_>, x: &Shares<W>, d: u32) -> Result<Shares<W>, RunError> {
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
    fn bit_addends(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
    ) -> Result<(Shares<W>, Shares<W>), RunError> {
        let role = self.role(ctx)?;
        if role == DEALER {
            return Ok((x.clone(), x.clone()));
        }
        let mine = self.mine(x)?;
        let zero = RingTensor::from_elem(IxDyn(x.shape()), W::ZERO);
        Ok(if role == 0 {
            (Shares::single(mine.clone()), Shares::single(zero))
        } else {
            (Shares::single(zero), Shares::single(mine.clone()))
        })
    }

    /// Boolean Beaver triples: the servers open `d = x ^ a` and `e = y ^ b` (one message of
    /// both to each other), and `z_i = c_i ^ (d & b_i) ^ (e & a_i)`, with `^ (d & e)` at server
    /// 0. The dealer sends `c_1` to server 1.
    fn and(&self, ctx: &mut Ctx<'_>, ands: &[And<'_, W>]) -> Result<Vec<Shares<W>>, RunError> {
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
            let n = and.x.len();
            let triple = ctx.key();
            let open = ctx.key();
            if role == DEALER {
                let d0 = self.with_dealer(0);
                let d1 = self.with_dealer(1);
                let (a0, a1) = (
                    ctx.draw(&d0, triple, 0, &[n])?,
                    ctx.draw(&d1, triple, 0, &[n])?,
                );
                let (b0, b1) = (
                    ctx.draw(&d0, triple, 1, &[n])?,
                    ctx.draw(&d1, triple, 1, &[n])?,
                );
                let mut c1: RingTensor<W> = ctx.draw(&d0, triple, 2, &shape)?;
                let words = |t: &RingTensor<W>| t.as_slice().map(<[W]>::to_vec).unwrap_or_default();
                let (a0, a1, b0, b1) = (words(&a0), words(&a1), words(&b0), words(&b1));
                if let Some(c) = c1.as_slice_mut() {
                    for i in 0..n {
                        c[i] ^= (a0[i] ^ a1[i]) & (b0[i] ^ b1[i]);
                    }
                }
                ctx.send(self.server(1), triple, c1)?;
                started.push(None);
                continue;
            }
            let key = self.with_dealer(role);
            let a = ctx.draw(&key, triple, 0, &[n])?;
            let b = ctx.draw(&key, triple, 1, &[n])?;
            let x = contiguous(self.mine(and.x)?);
            let y = contiguous(self.mine(and.y)?);
            let (xs, ys) = (words(&x), words(&y));
            let (aw, bw) = (words(&a), words(&b));
            // This server's masked operands, d = x ^ a and e = (y << shift) ^ b, in one message.
            let mut both = vec![W::ZERO; 2 * n];
            let (d_part, e_part) = both.split_at_mut(n);
            for i in 0..n {
                d_part[i] = xs[i] ^ aw[i];
                e_part[i] = (ys[i] << and.shift) ^ bw[i];
            }
            let both = RingTensor::from_shape_vec(IxDyn(&[2 * n]), both)
                .map_err(|e| shape_err(e.to_string()))?;
            ctx.send(self.server(1 - role), open, both)?;
            started.push(Some((triple, open, shape, n, a, b, x, y, and.shift)));
        }
        let mut out = Vec::new();
        for s in started {
            let Some((triple, open, shape, n, a, b, x, y, shift)) = s else {
                continue;
            };
            let mut z = if role == 0 {
                ctx.draw(&self.with_dealer(0), triple, 2, &shape)?
            } else {
                ctx.recv_shaped(self.dealer(), triple, &shape)?
            };
            let theirs = ctx.recv_shaped(self.server(1 - role), open, &[2 * n])?;
            let (td, te) = words(&theirs).split_at(n);
            let (xs, ys, aw, bw) = (words(&x), words(&y), words(&a), words(&b));
            let zs = z
                .as_slice_mut()
                .ok_or_else(|| RunError::Internal("a drawn tensor not contiguous".into()))?;
            // z = c ^ (d & b) ^ (e & a), and ^ (d & e) at server 0, with the opened d and e.
            let own = if role == 0 { W::MAX } else { W::ZERO };
            for i in 0..n {
                let d = xs[i] ^ aw[i] ^ td[i];
                let e = (ys[i] << shift) ^ bw[i] ^ te[i];
                zs[i] ^= (d & bw[i]) ^ (e & aw[i]) ^ (d & e & own);
            }
            out.push(Shares::single(z));
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
        b: &Shares<W>,
        lo: i64,
        table: &[W],
    ) -> Result<Shares<W>, RunError> {
        let deal = ctx.key();
        let open = ctx.key();
        let role = self.role(ctx)?;
        let shape = b.shape().to_vec();
        let n = b.len();
        let len = table.len();
        let position = |j: usize| -> Option<u32> {
            let at = lo + j as i64;
            (0..W::BITS as i64).contains(&at).then_some(at as u32)
        };
        if role == DEALER {
            let r = ring::zip_with(
                &ctx.draw(&self.with_dealer(0), deal, 0, &shape)?,
                &ctx.draw(&self.with_dealer(1), deal, 0, &shape)?,
                |p: W, q: W| p ^ q,
            )
            .map_err(shape_err)?;
            let r0 = ctx.draw(&self.with_dealer(0), deal, 1, &[n * len])?;
            let r0 = r0.as_slice().unwrap_or(&[]);
            let r = r.as_standard_layout();
            let r1: Vec<W> = r
                .iter()
                .enumerate()
                .flat_map(|(e, w)| {
                    (0..len).map(move |j| {
                        let bit = position(j).map_or(W::ZERO, |at| (*w >> at) & W::ONE);
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
        let c_mine = ring::zip_with(self.mine(b)?, &r, |p: W, q: W| p ^ q).map_err(shape_err)?;
        ctx.send(self.server(1 - role), open, c_mine.clone())?;
        let ra = if role == 0 {
            ctx.draw(&key, deal, 1, &[n * len])?
        } else {
            ctx.recv_shaped(self.dealer(), deal, &[n * len])?
        };
        let theirs = ctx.recv_shaped(self.server(1 - role), open, &shape)?;
        let c = ring::zip_with(&c_mine, &theirs, |p: W, q: W| p ^ q).map_err(shape_err)?;
        let c = c.as_standard_layout();
        let ra: &[W] = ra.as_slice().unwrap_or(&[]);
        let part: Vec<W> = c
            .iter()
            .enumerate()
            .map(|(e, w)| {
                (0..len).fold(W::ZERO, |acc, j| {
                    let cj = position(j).map_or(W::ZERO, |at| (*w >> at) & W::ONE);
                    // c_j (server 0 only) + r_j (1 - 2 c_j)
                    let own = if role == 0 { cj } else { W::ZERO };
                    let r_part = if cj == W::ONE {
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

    fn refresh_table(&self, t: &mut Table, _n: Size) {
        let _mask = t.key();
    }

    fn bit_addends_table(&self, _t: &mut Table, _n: Size) {}

    fn and_table(&self, t: &mut Table, n: Size, count: usize) {
        let two = n.times(2);
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
        let wide = n.times(len);
        let sent = [
            t.send(open, Role::Member(0), Role::Member(1), n),
            t.send(open, Role::Member(1), Role::Member(0), n),
            t.send(deal, Role::Member(DEALER), Role::Member(1), wide),
        ];
        for m in sent {
            t.recv(m);
        }
    }

    fn deal(&self, x: &RingTensor<W>, seed: u64) -> Vec<Shares<W>> {
        let x0 = super::shares::random_like(x, seed);
        let x1 = ring::sub(x, &x0).expect("same shape");
        vec![
            Shares::single(x0),
            Shares::single(x1),
            Shares::shape_only(x.shape()),
        ]
    }

    fn open(&self, shares: &[Shares<W>]) -> RingTensor<W> {
        ring::add(&shares[0].parts()[0], &shares[1].parts()[0]).expect("shape")
    }
}
