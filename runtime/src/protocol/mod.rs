//! The protocols behind one interface.
//!
//! ```text
//! exec (knows no protocol) ──▶ composite (written once: comparisons, bit decomposition, max,
//!                                         argmax, the highest-bit lookup, equality, select)
//!                     │                  │
//!                     ▼                  ▼
//!                   dyn Protocol: the primitives every protocol provides
//!                     ├── aby3      (replicated, three parties, honest majority)
//!                     ├── pond      (additive, two servers and a dealer of correlated randomness)
//!                     └── securenn  (pond's sharing; the dealer also helps in comparisons)
//! ```
//!
//! A protocol is one module that implements [`Protocol`]: moving values in and out (share,
//! reveal), products with truncation, and the few bit-level steps the composites build on (two
//! boolean addends of a value, a round of ANDs, the injection of chosen bits into an arithmetic
//! sharing). Everything linear is the same in every protocol and lives on [`Shares`]. Each
//! protocol also states its messages, step by step ([`Protocol::table`]), and a test runs every
//! op and checks that what goes on the wire is exactly that table.
//!
//! Adding a protocol: a module here implementing [`Protocol`], one arm in [`for_secret`], and
//! its name in the compiler's lowering.

pub mod aby3;
pub mod carry;
pub mod composite;
pub mod context;
pub mod pond;
pub mod securenn;
pub mod shares;
pub mod table;

#[cfg(test)]
mod tests;

use tfe_ir::{PartyId, SecretInfo};

pub use context::{Ctx, KeyStore, agree_keys};
pub use shares::Shares;
pub use table::{Table, messages};

use crate::RunError;
use crate::ring::{RingTensor, Word};

/// An AND of boolean sharings for [`Protocol::and`]: `x & (y << shift)` (the Kogge–Stone adder
/// shifts one operand; doing it inside the AND saves a pass).
#[derive(Debug, Clone, Copy)]
pub struct And<'a, W = u64> {
    pub x: &'a Shares<W>,
    pub y: &'a Shares<W>,
    pub shift: u32,
}

/// One of several products run together ([`Protocol::products`]).
#[derive(Debug, Clone, Copy)]
pub enum Product<'a, W = u64> {
    /// Elementwise, broadcasting.
    Mul(&'a Shares<W>, &'a Shares<W>),
    /// A matrix product.
    MatMul(&'a Shares<W>, &'a Shares<W>),
    /// A sharing to truncate: a product by a public value, already taken locally.
    Trunc(&'a Shares<W>),
}

/// A map of ring tensors that may fail (on shapes).
pub type TensorMap<'a, W> = &'a dyn Fn(&RingTensor<W>) -> Result<RingTensor<W>, RunError>;

/// A public linear map of ring tensors, and the shape it gives a tensor of the shape it is
/// made for ([`Protocol::matmul_then`]).
pub struct Linear<'a, W = u64> {
    pub apply: TensorMap<'a, W>,
    /// The result's shape.
    pub shape: Vec<usize>,
}

impl<W> std::fmt::Debug for Linear<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linear")
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl<W: Word> Linear<'_, W> {
    /// The map on each component of a sharing (a party without components gets the shape).
    pub fn on_shares(&self, s: &Shares<W>) -> Result<Shares<W>, RunError> {
        if !s.holds() {
            return Ok(Shares::shape_only(&self.shape));
        }
        Shares::new(
            s.parts()
                .iter()
                .map(|t| (self.apply)(t))
                .collect::<Result<_, _>>()?,
        )
    }
}

/// The primitives a protocol provides. Shares<W> are [`Shares`] of as many components as the
/// protocol gives each member (a member may hold none: pond's dealer). Arithmetic sharings are
/// over Z_2^64 with `frac` fractional bits for fixed point; boolean sharings hold 64 independent
/// bits per word, combined with `^`.
///
/// Every member of the placement runs every op of it, in the same order, with the same
/// arguments' shapes; each method is called by all of them together.
pub trait Protocol<W: Word = u64>: std::fmt::Debug + Send + Sync {
    /// The protocol's name, as in a program's `secret` line.
    fn name(&self) -> &'static str;

    /// The parties that run the placement's ops, in role order.
    fn members(&self) -> &[PartyId];

    /// Fractional bits of fixed-point values.
    fn frac(&self) -> u32;

    /// The role of `party` in the placement, if it is a member.
    fn role_of(&self, party: PartyId) -> Option<usize> {
        self.members().iter().position(|m| *m == party)
    }

    /// The role of this party, or an internal error (a non-member running the placement's op).
    fn role(&self, ctx: &Ctx<'_>) -> Result<usize, RunError> {
        self.role_of(ctx.me).ok_or_else(|| {
            RunError::Internal(format!(
                "party {} runs a protocol step of a placement it is not in",
                ctx.me
            ))
        })
    }

    /// Whether the member at `role` holds components of sharings (every member but pond's and
    /// securenn's dealer). Only they store shares between runs.
    fn holds(&self, role: usize) -> bool {
        role < self.members().len()
    }

    // ---- Values in and out -----------------------------------------------------------------

    /// The sharing of a public value that every member can make alone (no randomness, no
    /// messages): `me`'s shares of `c`.
    fn public(&self, me: PartyId, c: &RingTensor<W>) -> Result<Shares<W>, RunError>;

    /// Shares<W> a party's value (`value` is `Some` at the owner). Members get their shares; an
    /// owner outside the placement gets `None`. `known_shape` is the shape when the compiler
    /// knows it; otherwise the owner sends it to the members that need it.
    fn share(
        &self,
        ctx: &mut Ctx<'_>,
        owner: PartyId,
        value: Option<&RingTensor<W>>,
        known_shape: Option<&[usize]>,
    ) -> Result<Option<Shares<W>>, RunError>;

    /// Reveals a sharing (`x` is `Some` at the members) to `targets`; each target gets the
    /// value, every other party `None`.
    fn reveal(
        &self,
        ctx: &mut Ctx<'_>,
        x: Option<&Shares<W>>,
        targets: &[PartyId],
    ) -> Result<Option<RingTensor<W>>, RunError>;

    /// A fresh sharing of the same value: shares whose randomness is new, so that the shares a
    /// run computes with are not the ones stored in a file by an earlier run. (Against an
    /// outsider who gets one member's stored shares and another member's new ones; the members
    /// themselves can relate their old and new shares.)
    fn refresh(&self, ctx: &mut Ctx<'_>, x: &Shares<W>) -> Result<Shares<W>, RunError>;

    // ---- Products -----------------------------------------------------------------------------

    /// Elementwise product of two sharings (broadcasting), truncated by `trunc` bits (0 for
    /// integers and bits).
    fn mul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError>;

    /// Matrix product of two sharings, truncated by `trunc` bits.
    fn matmul(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
    ) -> Result<Shares<W>, RunError>;

    /// `post(x · y)`, matrix product, truncated by `trunc` bits, for a public linear map `post`
    /// (local on shares): a protocol that reshares a product's local parts maps them first, so
    /// that only `post`'s result crosses the wire (and is truncated once). By default the
    /// product, then `post` on each component.
    fn matmul_then(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
        y: &Shares<W>,
        trunc: u32,
        post: &Linear<'_, W>,
    ) -> Result<Shares<W>, RunError> {
        let z = self.matmul(ctx, x, y, trunc)?;
        post.on_shares(&z)
    }

    /// Products that do not depend on each other, each truncated by `trunc` bits, in the rounds
    /// of one where the protocol can (aby3: one resharing of all their local parts; pond: every
    /// opening sent before any is received). By default one after the other.
    fn products(
        &self,
        ctx: &mut Ctx<'_>,
        items: &[Product<'_, W>],
        trunc: u32,
    ) -> Result<Vec<Shares<W>>, RunError> {
        items
            .iter()
            .map(|item| match *item {
                Product::Mul(x, y) => self.mul(ctx, x, y, trunc),
                Product::MatMul(x, y) => self.matmul(ctx, x, y, trunc),
                Product::Trunc(x) if trunc > 0 => self.trunc(ctx, x, trunc),
                Product::Trunc(x) => Ok(x.clone()),
            })
            .collect()
    }

    /// A sharing divided by 2^`d` (after a product by a public value).
    fn trunc(&self, ctx: &mut Ctx<'_>, x: &Shares<W>, d: u32) -> Result<Shares<W>, RunError>;

    // ---- Bits ----------------------------------------------------------------------------------

    /// Two boolean sharings `u`, `v` whose sum as words of the ring is the arithmetic sharing `x`:
    /// the inputs of the adder that decomposes `x` into bits ([`composite::a2b`]).
    fn bit_addends(
        &self,
        ctx: &mut Ctx<'_>,
        x: &Shares<W>,
    ) -> Result<(Shares<W>, Shares<W>), RunError>;

    /// The ANDs of boolean sharings, all in one round.
    fn and(&self, ctx: &mut Ctx<'_>, ands: &[And<'_, W>]) -> Result<Vec<Shares<W>>, RunError>;

    /// An arithmetic sharing of `sum_j table[j] · bit_{lo + j}(b)` per element, for a boolean
    /// sharing `b` (bits outside the word, 0..BITS, read as 0). With `lo = BITS - 1, table = [1]`
    /// this injects the top bit; with a longer table it reads a table at a one-hot bit position.
    fn inject(
        &self,
        ctx: &mut Ctx<'_>,
        b: &Shares<W>,
        lo: i64,
        table: &[W],
    ) -> Result<Shares<W>, RunError>;

    /// The most significant bit of each element, as an arithmetic 0/1 sharing: the sign of
    /// two's complement values. By default the carry into the top bit ([`carry`]) and an
    /// injection; a protocol with a cheaper comparison overrides it.
    fn msb(&self, ctx: &mut Ctx<'_>, x: &Shares<W>) -> Result<Shares<W>, RunError> {
        composite::msb(self, ctx, x)
    }

    // ---- Ends of an op -----------------------------------------------------------------------

    /// Called after every op of the placement: a member that only sends (a dealer, which never
    /// waits and so never flushes otherwise) sends what it queued.
    fn end_op(&self, ctx: &mut Ctx<'_>) -> Result<(), RunError> {
        let _ = ctx;
        Ok(())
    }

    // ---- The message table --------------------------------------------------------------------

    /// The messages of [`Protocol::share`]: `owner` is the sharing party's role when it is a
    /// member; `shape_known` whether the compiler knows the shape.
    fn share_table(&self, t: &mut Table, owner: Option<usize>, shape_known: bool);

    /// The messages of [`Protocol::reveal`]: to a member (its role), to one outsider (`None`),
    /// or to every party (`all`).
    fn reveal_table(&self, t: &mut Table, target: Option<usize>, all: bool);

    /// The messages of [`Protocol::refresh`] of a sharing of size `n`.
    fn refresh_table(&self, t: &mut Table, n: tfe_ir::Size);

    /// The messages of [`Protocol::mul`] and [`Protocol::matmul`] (`matrix`); `x` and `y` are
    /// the sizes of the operands, `z` of the result (in the op's terms).
    fn mul_table(&self, t: &mut Table, matrix: bool, trunc: bool, sizes: [tfe_ir::Size; 3]);

    /// The messages of [`Protocol::trunc`] of a sharing of size `n`.
    fn trunc_table(&self, t: &mut Table, n: tfe_ir::Size);

    /// The messages of [`Protocol::bit_addends`].
    fn bit_addends_table(&self, t: &mut Table, n: tfe_ir::Size);

    /// The messages of [`Protocol::and`] of `count` ANDs, each of size `n`.
    fn and_table(&self, t: &mut Table, n: tfe_ir::Size, count: usize);

    /// The messages of [`Protocol::inject`] with a table of `len` entries.
    fn inject_table(&self, t: &mut Table, n: tfe_ir::Size, len: u64);

    /// The messages of [`Protocol::msb`].
    fn msb_table(&self, t: &mut Table, n: tfe_ir::Size) {
        composite::msb_table(self, t, n)
    }

    // ---- For tests and benchmarks ----------------------------------------------------------

    /// Every member's shares of `x`, made from `seed` by whoever knows the plaintext: tests and
    /// benchmarks start from them. Index `r` is role `r`'s.
    fn deal(&self, x: &RingTensor<W>, seed: u64) -> Vec<Shares<W>>;

    /// The value of every member's shares (index `r` is role `r`'s).
    fn open(&self, shares: &[Shares<W>]) -> RingTensor<W>;
}

/// A secret placement's protocol, at its ring's width: the executor picks the instantiation of
/// its generic code from this.
#[derive(Debug)]
pub enum AnyProtocol {
    R64(Box<dyn Protocol<u64>>),
    R128(Box<dyn Protocol<u128>>),
}

impl AnyProtocol {
    /// Bits of the ring.
    pub fn bits(&self) -> u32 {
        match self {
            AnyProtocol::R64(_) => 64,
            AnyProtocol::R128(_) => 128,
        }
    }

    /// The 64-bit protocol, if the ring is Z_2^64.
    pub fn r64(&self) -> Option<&dyn Protocol<u64>> {
        match self {
            AnyProtocol::R64(p) => Some(&**p),
            AnyProtocol::R128(_) => None,
        }
    }

    /// The 128-bit protocol, if the ring is Z_2^128.
    pub fn r128(&self) -> Option<&dyn Protocol<u128>> {
        match self {
            AnyProtocol::R128(p) => Some(&**p),
            AnyProtocol::R64(_) => None,
        }
    }
}

/// The protocol of a secret placement over Z_2^64 (`ring = 64`, the default).
pub fn for_secret(info: &SecretInfo) -> Result<Box<dyn Protocol>, RunError> {
    if info.protocol == tfe_ir::Protocol::SecureNn {
        return match info.parties.as_slice() {
            [a, b, helper] => Ok(Box::new(securenn::SecureNn {
                pond: pond::Pond {
                    members: [*a, *b, *helper],
                    frac: info.frac_bits,
                },
            })),
            _ => Err(members_error(info)),
        };
    }
    for_secret_at(info)
}

/// The protocol of a secret placement at its ring's width.
pub fn any_for_secret(info: &SecretInfo) -> Result<AnyProtocol, RunError> {
    match info.ring_bits {
        64 => Ok(AnyProtocol::R64(for_secret(info)?)),
        128 => Ok(AnyProtocol::R128(for_secret_at(info)?)),
        bits => Err(RunError::Internal(format!(
            "placement `{}` has a ring of {bits} bits",
            info.name
        ))),
    }
}

/// The protocol of an aby3 or pond placement, instantiated at the word `W`. (securenn's
/// comparison works in Z_2^64 and Z_67: [`for_secret`] makes it, at 64 bits only; the compiler
/// refuses it with a larger ring.)
fn for_secret_at<W: Word>(info: &SecretInfo) -> Result<Box<dyn Protocol<W>>, RunError> {
    let parties = &info.parties;
    Ok(match info.protocol {
        tfe_ir::Protocol::Aby3 => match parties.as_slice() {
            [a, b, c] => Box::new(aby3::Aby3 {
                members: [*a, *b, *c],
                frac: info.frac_bits,
            }),
            _ => return Err(members_error(info)),
        },
        tfe_ir::Protocol::Pond => match parties.as_slice() {
            [a, b, dealer] => Box::new(pond::Pond {
                members: [*a, *b, *dealer],
                frac: info.frac_bits,
            }),
            _ => return Err(members_error(info)),
        },
        tfe_ir::Protocol::SecureNn => {
            return Err(RunError::Internal(format!(
                "placement `{}`: securenn runs in Z_2^64 only",
                info.name
            )));
        }
    })
}

fn members_error(info: &SecretInfo) -> RunError {
    RunError::Internal(format!(
        "placement `{}` of {} has {} members",
        info.name,
        info.protocol.name(),
        info.parties.len()
    ))
}
