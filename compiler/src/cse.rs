//! Repeated secret comparisons computed once. A comparison of shares is the expensive op of a
//! training step (a sign protocol: 10 rounds and about 15 words per element per party), and
//! library code repeats them: `relu(h)` in the forward pass and `relu_grad(h)` in the backward
//! pass both compare `h > 0.0`. Within one block, a comparison with the same kernel, placement
//! and operands as an earlier one (the same share registers, not written in between; public
//! constants of the same value) becomes a copy of the earlier result, which is local.
//!
//! Only blocks are scanned, each on its own (a loop body, a branch), so an earlier comparison
//! always ran before the copy does, in every party's projection alike.

use std::collections::HashMap;

use tfe_ir::{Kernel, Literal, Node, Op, Placement, Reg};

/// One operand of a comparison: a register, or a public constant by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Operand {
    Reg(Reg),
    Constant(ConstantKey),
}

/// A constant's value as a hash key: equal constants (`0.0` and `-0.0` included) have equal
/// keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ConstantKey {
    Fixed(u64),
    Int(i64),
    Bool(bool),
}

impl From<Literal> for ConstantKey {
    fn from(literal: Literal) -> ConstantKey {
        match literal {
            // Adding 0.0 turns -0.0 into 0.0, which compares equal to it.
            Literal::Fixed(v) => ConstantKey::Fixed((v + 0.0).to_bits()),
            Literal::Int(v) => ConstantKey::Int(v),
            Literal::Bool(v) => ConstantKey::Bool(v),
        }
    }
}

/// A comparison: its placement, kernel name and operands.
type Key = (Placement, String, Vec<Operand>);

/// The comparisons seen in a block, and for each register the comparisons that a write to it
/// makes stale (those reading it, and the one whose result lives there). Looking up and
/// forgetting cost time in proportion to what is found, so a block of n comparisons takes time
/// linear in n (a scan of every comparison seen at every op was quadratic: 400 library calls took
/// 6 s to lower).
#[derive(Default)]
struct Seen {
    results: HashMap<Key, Reg>,
    stale_on_write: HashMap<Reg, Vec<(Key, Reg)>>,
}

impl Seen {
    fn insert(&mut self, key: Key, result: Reg) {
        for r in key
            .2
            .iter()
            .filter_map(|o| match o {
                Operand::Reg(r) => Some(*r),
                Operand::Constant(_) => None,
            })
            .chain([result])
        {
            self.stale_on_write
                .entry(r)
                .or_default()
                .push((key.clone(), result));
        }
        self.results.insert(key, result);
    }

    fn forget(&mut self, written: Reg) {
        for (key, result) in self.stale_on_write.remove(&written).unwrap_or_default() {
            if self.results.get(&key) == Some(&result) {
                self.results.remove(&key);
            }
        }
    }
}

/// Rewrites repeated comparisons in `body` and every nested block.
pub fn comparisons(body: &mut [Node]) {
    // Registers holding a constant (written once, by a `Const` op in this block), and the
    // comparisons seen: (placement, kernel name, operands) -> the register holding the result.
    let mut constants: HashMap<Reg, Literal> = HashMap::new();
    let mut seen = Seen::default();
    for node in body.iter_mut() {
        for block in node.op.blocks_mut() {
            comparisons(block);
        }
        let written = writes(&node.op);
        if let Op::Compute {
            dst,
            at: at @ Placement::Secret(_),
            kernel: kernel @ (Kernel::Lt | Kernel::Le | Kernel::Gt | Kernel::Ge),
            args,
        } = &node.op
        {
            let key = (
                *at,
                kernel.name(),
                args.iter()
                    .map(|a| match constants.get(a) {
                        Some(c) => Operand::Constant((*c).into()),
                        None => Operand::Reg(*a),
                    })
                    .collect::<Vec<_>>(),
            );
            let earlier = seen.results.get(&key).copied();
            let (dst, at) = (*dst, *at);
            forget(&mut constants, &mut seen, &written);
            if let Some(result) = earlier {
                node.op = Op::Compute {
                    dst,
                    at,
                    kernel: Kernel::Copy,
                    args: vec![result],
                };
            } else if !key.2.contains(&Operand::Reg(dst)) {
                seen.insert(key, dst);
            }
            continue;
        }
        forget(&mut constants, &mut seen, &written);
        if let Op::Compute {
            dst,
            at: Placement::Public,
            kernel: Kernel::Const(c),
            ..
        } = &node.op
        {
            constants.insert(*dst, *c);
        }
    }
}

/// Drops what a write to `written` makes stale: constants held there, and comparisons that read
/// those registers or whose result lives there.
fn forget(constants: &mut HashMap<Reg, Literal>, seen: &mut Seen, written: &[Reg]) {
    for w in written {
        constants.remove(w);
        seen.forget(*w);
    }
}

/// Every register an op writes, its nested blocks included.
fn writes(op: &Op) -> Vec<Reg> {
    let mut out = op.own_regs().1;
    for block in op.blocks() {
        for node in block {
            out.extend(writes(&node.op));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compute(id: u32, dst: Reg, at: Placement, kernel: Kernel, args: &[Reg]) -> Node {
        Node {
            id,
            op: Op::Compute {
                dst,
                at,
                kernel,
                args: args.to_vec(),
            },
        }
    }

    #[test]
    fn a_repeated_comparison_becomes_a_copy_until_its_operand_is_written() {
        let s = Placement::Secret(0);
        let zero = Kernel::Const(Literal::Fixed(0.0));
        let mut body = vec![
            compute(0, 1, Placement::Public, zero.clone(), &[]),
            compute(1, 2, s, Kernel::Gt, &[0, 1]), // h > 0.0
            compute(2, 3, Placement::Public, zero.clone(), &[]),
            compute(3, 4, s, Kernel::Gt, &[0, 3]), // h > 0.0 again: a copy of %2
            compute(4, 5, s, Kernel::Lt, &[0, 3]), // h < 0.0: another comparison
            compute(5, 0, s, Kernel::Neg, &[0]),   // h is written
            compute(6, 6, s, Kernel::Gt, &[0, 3]), // compares the new h
        ];
        comparisons(&mut body);
        let kernel = |i: usize| match &body[i].op {
            Op::Compute { kernel, args, .. } => (kernel.clone(), args.clone()),
            _ => unreachable!(),
        };
        assert_eq!(kernel(1).0, Kernel::Gt);
        assert_eq!(kernel(3), (Kernel::Copy, vec![2]));
        assert_eq!(kernel(4).0, Kernel::Lt);
        assert_eq!(kernel(6).0, Kernel::Gt, "h changed in between");
    }

    /// The first version of this pass, a scan of every comparison seen at every op: quadratic, but
    /// plainly right. The pass must rewrite exactly as it does.
    /// A comparison as the first version held it, with the register of its result.
    type RefSeen = Vec<((Placement, String, Vec<RefOperand>), Reg)>;

    /// An operand as the first version held it: constants compared as `f64`s.
    #[derive(Debug, Clone, PartialEq)]
    enum RefOperand {
        Reg(Reg),
        Constant(Literal),
    }

    fn reference(body: &mut [Node]) {
        let mut constants: HashMap<Reg, Literal> = HashMap::new();
        let mut seen: RefSeen = Vec::new();
        let forget =
            |constants: &mut HashMap<Reg, Literal>, seen: &mut RefSeen, written: &[Reg]| {
                for w in written {
                    constants.remove(w);
                }
                seen.retain(|((_, _, operands), result)| {
                    !written.contains(result)
                        && !operands
                            .iter()
                            .any(|o| matches!(o, RefOperand::Reg(r) if written.contains(r)))
                });
            };
        for node in body.iter_mut() {
            for block in node.op.blocks_mut() {
                reference(block);
            }
            let written = writes(&node.op);
            if let Op::Compute {
                dst,
                at: at @ Placement::Secret(_),
                kernel: kernel @ (Kernel::Lt | Kernel::Le | Kernel::Gt | Kernel::Ge),
                args,
            } = &node.op
            {
                let key = (
                    *at,
                    kernel.name(),
                    args.iter()
                        .map(|a| match constants.get(a) {
                            Some(c) => RefOperand::Constant(*c),
                            None => RefOperand::Reg(*a),
                        })
                        .collect::<Vec<_>>(),
                );
                let earlier = seen.iter().find(|(k, _)| *k == key).map(|(_, r)| *r);
                let (dst, at) = (*dst, *at);
                forget(&mut constants, &mut seen, &written);
                if let Some(result) = earlier {
                    node.op = Op::Compute {
                        dst,
                        at,
                        kernel: Kernel::Copy,
                        args: vec![result],
                    };
                } else if !key.2.contains(&RefOperand::Reg(dst)) {
                    seen.push((key, dst));
                }
                continue;
            }
            forget(&mut constants, &mut seen, &written);
            if let Op::Compute {
                dst,
                at: Placement::Public,
                kernel: Kernel::Const(c),
                ..
            } = &node.op
            {
                constants.insert(*dst, *c);
            }
        }
    }

    #[test]
    fn the_pass_rewrites_as_the_plain_scan_does() {
        // Random blocks over a few registers: constants (0.0, -0.0, 1.0), comparisons, writes,
        // and loops holding blocks of their own.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        fn block(
            next: &mut dyn FnMut(u64) -> u64,
            id: &mut u32,
            len: u64,
            depth: u32,
        ) -> Vec<Node> {
            let s = Placement::Secret(0);
            let mut out = Vec::new();
            for _ in 0..len {
                *id += 1;
                let r = |next: &mut dyn FnMut(u64) -> u64| next(6) as Reg;
                let op = match next(10) {
                    0 | 1 => {
                        let c = [0.0, -0.0, 1.0][next(3) as usize];
                        compute(
                            *id,
                            r(next),
                            Placement::Public,
                            Kernel::Const(Literal::Fixed(c)),
                            &[],
                        )
                        .op
                    }
                    2..=5 => {
                        let k = [Kernel::Lt, Kernel::Gt, Kernel::Le][next(3) as usize].clone();
                        compute(*id, r(next), s, k, &[r(next), r(next)]).op
                    }
                    6 | 7 => compute(*id, r(next), s, Kernel::Neg, &[r(next)]).op,
                    _ if depth < 2 => Op::For {
                        var: r(next),
                        start: r(next),
                        end: r(next),
                        body: {
                            let len = next(6);
                            block(next, id, len, depth + 1)
                        },
                    },
                    _ => compute(*id, r(next), s, Kernel::Copy, &[r(next)]).op,
                };
                out.push(Node { id: *id, op });
            }
            out
        }
        let mut copies = 0;
        for _ in 0..2_000 {
            let mut id = 0;
            let len = next(30);
            let mut a = block(&mut next, &mut id, len, 0);
            let mut b = a.clone();
            comparisons(&mut a);
            reference(&mut b);
            assert_eq!(a, b);
            copies += format!("{a:?}").matches("Copy").count();
        }
        assert!(
            copies > 100,
            "the blocks must exercise the rewrite ({copies} copies)"
        );
    }
}
