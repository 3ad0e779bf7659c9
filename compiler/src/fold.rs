//! Folding: a matrix product on shares read only by a `col2im` becomes one op,
//! [`Kernel::MatMulCol2Im`]. The pass after `cse`, before `dce` (which drops the product).
//!
//! A convolution's gradient with respect to its input is `col2im(dy · kᵀ)`: the product has one
//! row per window (`[n · oh · ow, kh · kw · c]`), `col2im` sums the windows back into images
//! (`[n, h · w · c]`). On shares, a product's local parts are reshared (one word per element of
//! the product) and `col2im` is local; since `col2im` is linear it can run on the local parts
//! first, and only the images are reshared: kh·kw/stride² times fewer words (25 for a 5×5
//! convolution of stride 1: 26 MB of network B's 124 MB per batch and party).
//!
//! The fold applies where the product's result is written once and read by that `col2im` alone,
//! both at the same secret placement in the same block, and neither operand is written between
//! the two (the fused op reads them where the `col2im` stood). Every party folds the same ops,
//! so they still agree on every message.

use std::collections::HashMap;

use tfe_ir::{Kernel, Node, Op, Placement, Reg};

/// Folds the product-then-`col2im` pairs of `body` and its nested blocks.
pub fn col2im_products(body: &mut [Node]) {
    let mut reads: HashMap<Reg, usize> = HashMap::new();
    let mut writes: HashMap<Reg, usize> = HashMap::new();
    count(body, &mut reads, &mut writes);
    fold_block(body, &reads, &writes);
}

fn count(body: &[Node], reads: &mut HashMap<Reg, usize>, writes: &mut HashMap<Reg, usize>) {
    for node in body {
        let (r, w) = node.op.own_regs();
        for r in r {
            *reads.entry(r).or_default() += 1;
        }
        for w in w {
            *writes.entry(w).or_default() += 1;
        }
        for block in node.op.blocks() {
            count(block, reads, writes);
        }
    }
}

/// Whether `node` (or anything nested in it) writes one of `regs`.
fn writes_any(node: &Node, regs: &[Reg]) -> bool {
    node.op.own_regs().1.iter().any(|w| regs.contains(w))
        || node
            .op
            .blocks()
            .iter()
            .any(|b| b.iter().any(|n| writes_any(n, regs)))
}

fn fold_block(body: &mut [Node], reads: &HashMap<Reg, usize>, writes: &HashMap<Reg, usize>) {
    for node in body.iter_mut() {
        for block in node.op.blocks_mut() {
            fold_block(block, reads, writes);
        }
    }
    // Where each register read by a `col2im` was computed by a secret matrix product in this
    // block: (index, placement, trunc, operands).
    let mut products: HashMap<Reg, (usize, Placement, u32, Vec<Reg>)> = HashMap::new();
    for i in 0..body.len() {
        let fused = match &body[i].op {
            Op::Compute {
                dst,
                at: at @ Placement::Secret(_),
                kernel: Kernel::MatMul { trunc },
                args,
            } if args.len() == 2 => {
                products.insert(*dst, (i, *at, *trunc, args.clone()));
                None
            }
            Op::Compute {
                dst,
                at,
                kernel: Kernel::Col2Im(window),
                args,
            } if args.len() == 1 => {
                let m = args[0];
                products
                    .get(&m)
                    .filter(|(j, pat, _, operands)| {
                        pat == at
                            && reads.get(&m) == Some(&1)
                            && writes.get(&m) == Some(&1)
                            && !body[j + 1..i].iter().any(|n| writes_any(n, operands))
                    })
                    .map(|(_, _, trunc, operands)| Op::Compute {
                        dst: *dst,
                        at: *at,
                        kernel: Kernel::MatMulCol2Im {
                            trunc: *trunc,
                            window: *window,
                        },
                        args: operands.clone(),
                    })
            }
            _ => None,
        };
        if let Some(op) = fused {
            body[i].op = op;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfe_ir::Window;

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

    fn window() -> Window {
        Window {
            h: 4,
            w: 4,
            c: 1,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 0,
        }
    }

    fn kernels(body: &[Node]) -> Vec<String> {
        body.iter()
            .map(|n| match &n.op {
                Op::Compute { kernel, args, .. } => format!("{} {args:?}", kernel.name()),
                _ => "other".into(),
            })
            .collect()
    }

    const SECRET: Placement = Placement::Secret(0);

    #[test]
    fn a_product_read_only_by_col2im_is_folded() {
        let mut body = vec![
            compute(0, 2, SECRET, Kernel::MatMul { trunc: 16 }, &[0, 1]),
            compute(1, 3, SECRET, Kernel::Col2Im(window()), &[2]),
        ];
        col2im_products(&mut body);
        assert_eq!(
            kernels(&body),
            vec![
                "matmul.trunc16 [0, 1]",
                "matmul.trunc16.col2im.4x4x1.k3x3.s1.p0 [0, 1]"
            ]
        );
    }

    #[test]
    fn products_read_elsewhere_public_or_with_rewritten_operands_stay() {
        // %2 is read twice; %5 is a public product; %8's operand %6 is rewritten in between.
        let mut body = vec![
            compute(0, 2, SECRET, Kernel::MatMul { trunc: 16 }, &[0, 1]),
            compute(1, 3, SECRET, Kernel::Col2Im(window()), &[2]),
            compute(2, 4, SECRET, Kernel::Neg, &[2]),
            compute(
                3,
                5,
                Placement::Public,
                Kernel::MatMul { trunc: 0 },
                &[0, 1],
            ),
            compute(4, 9, Placement::Public, Kernel::Col2Im(window()), &[5]),
            compute(5, 8, SECRET, Kernel::MatMul { trunc: 16 }, &[6, 7]),
            compute(6, 6, SECRET, Kernel::Neg, &[7]),
            compute(7, 10, SECRET, Kernel::Col2Im(window()), &[8]),
        ];
        let before = kernels(&body);
        col2im_products(&mut body);
        assert_eq!(kernels(&body), before);
    }
}
