//! Dead code: computations whose results nothing reads are dropped. The pass after `cse`.
//!
//! The gradient pass derives a function returning a loss's value and its gradient; where only
//! the gradient is used (`grad`), the value's computation is dead (for a cross-entropy, its
//! logarithms: 40 rounds on shares). Likewise an unused value of `value_and_grad`.
//!
//! A register is live if any op anywhere reads it (in any block: a loop may read in one
//! iteration what it wrote in the one before). A `Compute` or `Share` op whose destination is
//! not live is dropped, repeatedly until none is. Everything else stays: reveals (each is a
//! declassification the source states), file reads and writes, prints, and control flow.
//! Every party drops the same ops, so parties still agree on every message.

use std::collections::HashMap;

use tfe_ir::{Node, Op, Reg};

/// Drops the dead ops of `body` and its nested blocks.
pub fn dead_code(body: &mut Vec<Node>) {
    let mut reads: HashMap<Reg, usize> = HashMap::new();
    count_reads(body, &mut reads);
    // Each round drops the ops no op reads, and the reads they made; what they alone read is
    // dropped in the next round.
    while drop_dead(body, &mut reads) > 0 {}
}

fn count_reads(body: &[Node], reads: &mut HashMap<Reg, usize>) {
    for node in body {
        for r in node.op.own_regs().0 {
            *reads.entry(r).or_default() += 1;
        }
        for block in node.op.blocks() {
            count_reads(block, reads);
        }
    }
}

/// Whether an op only computes its destination.
fn pure_dst(op: &Op) -> Option<Reg> {
    match op {
        Op::Compute { dst, .. } | Op::Share { dst, .. } => Some(*dst),
        Op::Reveal { .. }
        | Op::ReadCsv { .. }
        | Op::WriteCsv { .. }
        | Op::Print { .. }
        | Op::StoreShares { .. }
        | Op::LoadShares { .. }
        | Op::For { .. }
        | Op::While { .. }
        | Op::If { .. } => None,
    }
}

fn drop_dead(body: &mut Vec<Node>, reads: &mut HashMap<Reg, usize>) -> usize {
    let mut dropped = 0;
    for node in body.iter_mut() {
        for block in node.op.blocks_mut() {
            dropped += drop_dead(block, reads);
        }
    }
    body.retain(|node| {
        let dead = pure_dst(&node.op).is_some_and(|dst| reads.get(&dst).copied().unwrap_or(0) == 0);
        if dead {
            for r in node.op.own_regs().0 {
                if let Some(n) = reads.get_mut(&r) {
                    *n -= 1;
                }
            }
            dropped += 1;
        }
        !dead
    });
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfe_ir::{Kernel, Literal, Placement};

    fn compute(id: u32, dst: Reg, kernel: Kernel, args: &[Reg]) -> Node {
        Node {
            id,
            op: Op::Compute {
                dst,
                at: Placement::Secret(0),
                kernel,
                args: args.to_vec(),
            },
        }
    }

    #[test]
    fn unread_chains_are_dropped_and_loop_state_is_kept() {
        let mut body = vec![
            compute(0, 0, Kernel::Const(Literal::Fixed(1.0)), &[]),
            compute(1, 1, Kernel::Neg, &[0]), // read only by 2, which is dead
            compute(2, 2, Kernel::Neg, &[1]), // read by nothing
            compute(3, 3, Kernel::Const(Literal::Fixed(2.0)), &[]),
            Node {
                id: 4,
                op: Op::For {
                    var: 4,
                    start: 5,
                    end: 5,
                    // %3 is read in the loop before it is written: loop state, kept.
                    body: vec![compute(5, 3, Kernel::Neg, &[3])],
                },
            },
            Node {
                id: 6,
                op: Op::Print {
                    src: 3,
                    at: Placement::Public,
                },
            },
        ];
        dead_code(&mut body);
        let ids: Vec<u32> = body.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![3, 4, 6]);
        match &body[1].op {
            Op::For { body, .. } => assert_eq!(body.len(), 1),
            _ => unreachable!(),
        }
    }
}
