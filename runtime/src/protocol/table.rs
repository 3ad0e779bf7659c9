//! The message table of every op: what each protocol sends, step by step, and in which round.
//!
//! Each protocol states its primitives' messages ([`Protocol::share_table`] and the like) in
//! the order its code sends and receives them; the composites compose those the way they
//! compose the primitives. The round of a message is its depth: a message sent after its sender
//! received a message of round `r` of the same op is of round `r + 1` (round 0 if its sender
//! received nothing of the op yet). `tfec build --emit protocol` prints the tables, and a test
//! runs every op of every protocol and checks that the wire carries exactly these messages.

use std::collections::HashMap;

use tfe_ir::{Dim, Kernel, Message, Node, Op, Placement, Program, Role, Size};

use super::{AnyProtocol, Protocol, any_for_secret, composite};
use crate::ring::Word;

/// An op's messages as they are built.
#[derive(Debug, Default)]
pub struct Table {
    pub messages: Vec<Message>,
    step: u16,
    /// The round of the next message each party sends.
    ready: HashMap<Role, u16>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// The next protocol step, as [`super::Ctx::key`] numbers them.
    pub fn key(&mut self) -> u16 {
        let s = self.step;
        self.step += 1;
        s
    }

    /// A message sent now by `from`; returns its index for [`Table::recv`].
    pub fn send(&mut self, step: u16, from: Role, to: Role, size: Size) -> usize {
        let round = self.ready.get(&from).copied().unwrap_or(0);
        self.messages.push(Message {
            round,
            step,
            from,
            to,
            size,
        });
        self.messages.len() - 1
    }

    /// Its receiver has message `index` now: what it sends next is a round later.
    pub fn recv(&mut self, index: usize) {
        let m = self.messages[index];
        let r = self.ready.entry(m.to).or_insert(0);
        *r = (*r).max(m.round + 1);
    }

    /// The rounds of the op: the largest round plus one.
    pub fn rounds(&self) -> u16 {
        self.messages.iter().map(|m| m.round + 1).max().unwrap_or(0)
    }
}

/// The messages of `node` of `program`, under the protocol of the placement it runs at.
pub fn messages(program: &Program, node: &Node) -> Result<Vec<Message>, String> {
    let mut t = Table::new();
    let protocol = |s: usize| any_for_secret(&program.secrets[s]).map_err(|e| e.to_string());
    // `$body` with `$p` the placement's protocol at its ring's width.
    macro_rules! on {
        ($any:expr, $p:ident => $body:expr) => {
            match $any {
                AnyProtocol::R64($p) => $body,
                AnyProtocol::R128($p) => $body,
            }
        };
    }
    let known = |r: u32| {
        program.regs[r as usize]
            .shape
            .iter()
            .all(|d| matches!(d, Dim::Known(_)))
    };
    match &node.op {
        Op::Share {
            dst,
            from: Placement::Party(owner),
            to,
            ..
        } => {
            on!(protocol(*to)?, p => p.share_table(&mut t, p.role_of(*owner), known(*dst)));
        }
        Op::Reveal {
            from: Placement::Secret(s),
            to,
            ..
        } => {
            on!(protocol(*s)?, p => match to {
                Some(target) => p.reveal_table(&mut t, p.role_of(*target), false),
                None => p.reveal_table(&mut t, None, true),
            })
        }
        Op::Reveal {
            from: Placement::Party(_),
            to,
            ..
        } => {
            let step = t.key();
            let to = if to.is_some() {
                Role::Target
            } else {
                Role::Outsiders
            };
            t.send(step, Role::Owner, to, Size::Result(1));
        }
        Op::Compute {
            at: Placement::Secret(s),
            kernel,
            args,
            ..
        } => {
            let secret = |i: usize| {
                args.get(i)
                    .is_some_and(|r| program.regs[*r as usize].placement == Placement::Secret(*s))
            };
            let shape = |i: usize| args.get(i).map(|r| program.regs[*r as usize].shape.clone());
            on!(protocol(*s)?, p => compute_table(&*p, &mut t, kernel, secret(0), secret(1), shape))?;
        }
        Op::StoreShares { secret, .. } => {
            on!(protocol(*secret)?, p => crate::stored::store_table(&*p, &mut t))
        }
        Op::LoadShares { secret, dsts, .. } => {
            let ranks = dsts
                .iter()
                .map(|r| program.regs[*r as usize].shape.len() as u64)
                .sum();
            let runtime = dsts.iter().any(|r| !known(*r));
            on!(protocol(*secret)?, p => crate::stored::load_table(&*p, &mut t, ranks, runtime))
        }
        _ => {}
    }
    Ok(t.messages)
}

/// The messages of a kernel at a secret placement; `secret0` and `secret1` say whether the
/// first two arguments are shares (not public values), `arg_shape(i)` gives argument `i`'s shape.
fn compute_table<W: Word>(
    p: &dyn Protocol<W>,
    t: &mut Table,
    kernel: &Kernel,
    secret0: bool,
    secret1: bool,
    arg_shape: impl Fn(usize) -> Option<Vec<Dim>>,
) -> Result<(), String> {
    let unit = Size::Result(1);
    match kernel {
        Kernel::Mul { trunc } | Kernel::MatMul { trunc } | Kernel::MatMulCol2Im { trunc, .. } => {
            if secret0 && secret1 {
                // For `MatMulCol2Im`, the result (the images) is what the product's messages
                // carry in every protocol.
                p.mul_table(
                    t,
                    !matches!(kernel, Kernel::Mul { .. }),
                    *trunc > 0,
                    [Size::Arg(0, 1), Size::Arg(1, 1), unit],
                );
            } else if *trunc > 0 {
                p.trunc_table(t, unit);
            }
        }
        Kernel::And | Kernel::Or => p.mul_table(t, false, false, [unit, unit, unit]),
        Kernel::Select => {
            if secret0 {
                p.mul_table(t, false, false, [unit, unit, unit]);
            }
        }
        Kernel::Lt | Kernel::Gt | Kernel::Le | Kernel::Ge => p.msb_table(t, unit),
        Kernel::Eq | Kernel::Ne => composite::equal_table(p, t),
        Kernel::Log2Lookup { table, .. } => {
            composite::highest_bit_lookup_table(p, t, unit, table.len() as u64)
        }
        Kernel::Max { axis } | Kernel::ArgMax { axis } => {
            let shape = arg_shape(0).unwrap_or_default();
            let known = |d: &Dim| match d {
                Dim::Known(n) => Some(*n),
                Dim::Runtime => None,
            };
            // Entries along the axis, and how many times (1 over all elements).
            let (n, rows): (Option<u64>, Option<u64>) = match axis {
                Some(k) => (
                    shape.get(*k).and_then(known),
                    shape
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i != k)
                        .map(|(_, d)| known(d))
                        .product(),
                ),
                None => (shape.iter().map(known).product(), Some(1)),
            };
            let n = n.ok_or_else(|| {
                "a tournament along an axis whose length is known only at run time: \
                 ⌈log2 n⌉ levels of a comparison and a product"
                    .to_string()
            })?;
            let index = matches!(kernel, Kernel::ArgMax { .. });
            match rows {
                Some(rows) if composite::all_pairs_fit(n, rows) => {
                    composite::all_pairs_table(p, t, n, index)
                }
                Some(_) => composite::max_table(p, t, n, index),
                None if (3..=16).contains(&n) => {
                    return Err(format!(
                        "all {} pairs of the {n} entries in one comparison and ⌈log2 {}⌉ + 1 \
                         rounds of products when rows × {} ≤ {}, else a tournament of \
                         ⌈log2 {n}⌉ levels: the rows are known only at run time",
                        n * (n - 1) / 2,
                        n - 1,
                        n * (n - 1) / 2,
                        composite::ALL_PAIRS_COMPARISONS
                    ));
                }
                None => composite::max_table(p, t, n, index),
            }
        }
        Kernel::MaxOneHot => {
            let n = match arg_shape(0).unwrap_or_default().get(1) {
                Some(Dim::Known(n)) => *n,
                _ => {
                    return Err(
                        "a tournament over rows whose length is known only at run time: \
                                ⌈log2 n⌉ levels of a comparison and a product"
                            .to_string(),
                    );
                }
            };
            composite::max_onehot_table(p, t, n);
        }
        Kernel::Const(_)
        | Kernel::Copy
        | Kernel::Add
        | Kernel::Sub
        | Kernel::Neg
        | Kernel::Not
        | Kernel::Convert { .. }
        | Kernel::Transpose
        | Kernel::Im2Col(_)
        | Kernel::Col2Im(_)
        | Kernel::Reshape
        | Kernel::Index { .. }
        | Kernel::Sum { .. }
        | Kernel::Concat { .. }
        | Kernel::Rows
        | Kernel::Shape
        | Kernel::Zeros
        | Kernel::Ones
        | Kernel::Div
        | Kernel::Rem => {}
        Kernel::Refresh => p.refresh_table(t, unit),
    }
    Ok(())
}
