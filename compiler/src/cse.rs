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
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Reg(Reg),
    Constant(Literal),
}

/// A comparison: its placement, kernel name and operands.
type Key = (Placement, String, Vec<Operand>);

/// Rewrites repeated comparisons in `body` and every nested block.
pub fn comparisons(body: &mut [Node]) {
    // Registers holding a constant (written once, by a `Const` op in this block), and the
    // comparisons seen: (placement, kernel name, operands) -> the register holding the result.
    let mut constants: HashMap<Reg, Literal> = HashMap::new();
    let mut seen: Vec<(Key, Reg)> = Vec::new();
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
                        Some(c) => Operand::Constant(*c),
                        None => Operand::Reg(*a),
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
            } else if !key.2.contains(&Operand::Reg(dst)) {
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

/// Drops what a write to `written` makes stale: constants held there, and comparisons that read
/// those registers or whose result lives there.
fn forget(constants: &mut HashMap<Reg, Literal>, seen: &mut Vec<(Key, Reg)>, written: &[Reg]) {
    for w in written {
        constants.remove(w);
    }
    seen.retain(|((_, _, operands), result)| {
        !written.contains(result)
            && !operands
                .iter()
                .any(|o| matches!(o, Operand::Reg(r) if written.contains(r)))
    });
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
}
