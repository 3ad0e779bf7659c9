//! When a register's value can be dropped: after the last op of its block that touches it, for
//! registers that live inside one block (every op that reads or writes them is in that block or
//! nested in it) and that the block writes before it reads them. A training loop's body makes
//! hundreds of temporaries per batch (each op of each inlined library call has its own
//! register); without this they all stay alive until overwritten in the next iteration, and
//! network B's party held 1.3 GB of dead shares.
//!
//! The executor runs a block's ops in order, or a few of them at once (a fused chain, a batch of
//! comparisons, which only run later comparisons early); it drops the registers listed for every
//! op once it has moved past that op, which is after every read of them in the block.

use std::collections::HashMap;

use tfe_ir::{Node, OpId, Program, Reg};

/// For each op (by id), the registers to drop once the block has moved past it.
pub fn plan(program: &Program) -> Vec<Vec<Reg>> {
    let mut total = HashMap::new();
    count_block(&program.body, &mut total);
    let mut frees = HashMap::new();
    plan_block(&program.body, &total, &mut frees);
    let mut by_op = vec![Vec::new(); program.n_ops as usize];
    for (op, regs) in frees {
        if let Some(slot) = by_op.get_mut(op as usize) {
            *slot = regs;
        }
    }
    by_op
}

/// Adds every access in `nodes` (nested blocks included) to `counts`.
fn count_block(nodes: &[Node], counts: &mut HashMap<Reg, usize>) {
    for node in nodes {
        count_node(node, counts);
    }
}

fn count_node(node: &Node, counts: &mut HashMap<Reg, usize>) {
    let (reads, writes) = node.op.own_regs();
    for r in reads.into_iter().chain(writes) {
        *counts.entry(r).or_default() += 1;
    }
    for block in node.op.blocks() {
        count_block(block, counts);
    }
}

fn plan_block(nodes: &[Node], total: &HashMap<Reg, usize>, frees: &mut HashMap<OpId, Vec<Reg>>) {
    // Per register: accesses within this block, the first node touching it, the last.
    let mut within: HashMap<Reg, usize> = HashMap::new();
    let mut first: HashMap<Reg, usize> = HashMap::new();
    let mut last: HashMap<Reg, usize> = HashMap::new();
    for (k, node) in nodes.iter().enumerate() {
        let mut counts = HashMap::new();
        count_node(node, &mut counts);
        for (r, c) in counts {
            *within.entry(r).or_default() += c;
            first.entry(r).or_insert(k);
            last.insert(r, k);
        }
    }
    for (r, c) in &within {
        if total.get(r) != Some(c) {
            continue; // touched outside this block too
        }
        // The block's first touch must be a plain write: not a read, not inside a nested block.
        let node = &nodes[first[r]];
        let (reads, writes) = node.op.own_regs();
        if !node.op.blocks().is_empty() || reads.contains(r) || !writes.contains(r) {
            continue;
        }
        frees.entry(nodes[last[r]].id).or_default().push(*r);
    }
    for node in nodes {
        for block in node.op.blocks() {
            plan_block(block, total, frees);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfe_ir::{Kernel, Op, Placement};

    fn compute(id: OpId, dst: Reg, args: &[Reg]) -> Node {
        Node {
            id,
            op: Op::Compute {
                dst,
                at: Placement::Public,
                kernel: Kernel::Add,
                args: args.to_vec(),
            },
        }
    }

    #[test]
    fn temporaries_die_after_their_last_use_and_loop_state_survives() {
        // r0 = start, r1 = end, r2 = state (outside); loop body: r3 = r2 + r2; r4 = r3 + r3;
        // r2 = r4 + r4 (loop state); after the loop: print r2.
        let body = vec![
            compute(3, 3, &[2, 2]),
            compute(4, 4, &[3, 3]),
            compute(5, 2, &[4, 4]),
        ];
        let program_body = vec![
            compute(0, 2, &[]),
            Node {
                id: 1,
                op: Op::For {
                    var: 5,
                    start: 0,
                    end: 1,
                    body,
                },
            },
            Node {
                id: 2,
                op: Op::Print {
                    src: 2,
                    at: Placement::Public,
                },
            },
        ];
        let mut total = HashMap::new();
        count_block(&program_body, &mut total);
        let mut frees = HashMap::new();
        plan_block(&program_body, &total, &mut frees);
        assert_eq!(frees.get(&4), Some(&vec![3]), "r3 dies after its last read");
        assert_eq!(frees.get(&5), Some(&vec![4]), "r4 dies after its last read");
        // r2 is read before it is written in the body and lives outside: never dropped in the
        // loop; at the top level its last use is the print.
        assert_eq!(frees.get(&2), Some(&vec![2]));
        assert!(frees.get(&3).is_none_or(|v| !v.contains(&2)));
    }
}
