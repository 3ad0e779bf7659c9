//! The fusion pass: finds chains of elementwise ops in a party's program and runs each chain as
//! one kernel (tfe-jit) instead of one pass over memory per op.
//!
//! A chain is a run of consecutive ops in one block, at one placement, each an elementwise
//! `+ - * / neg` on plaintext reals at a party or in public, or `+ - neg` on shares of one
//! secret placement (each share component is one kernel run), and each reading a value the chain
//! computed. A temporary the chain computes is kept in registers only when nothing else reads
//! it: it is written once in the whole program and read once, inside the chain. Every other
//! value the chain writes is stored as the ops would have stored it. At run time the operands
//! must have one shape (no broadcasting); otherwise the chain's ops run one by one, as without
//! the pass. Either way the results are the same, bit for bit.

use std::collections::HashMap;

use tfe_ir::{Kernel as IrKernel, Literal, Node, Op, Placement, Program, Reg, Scalar};
use tfe_jit::{Inst, Kernel, Ty};

/// One chain: the ops `start .. start + len` of a block, as a kernel.
#[derive(Debug, Clone)]
pub struct Chain {
    pub len: usize,
    pub kernel: Kernel,
    /// The registers read, in kernel input order.
    pub inputs: Vec<Reg>,
    /// The registers written, in kernel output order.
    pub outputs: Vec<Reg>,
    /// Shares (two components each) or plaintext reals.
    pub shares: bool,
}

/// The chains of a program, keyed by the id of their first op.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub chains: HashMap<u32, Chain>,
}

/// Counts reads and writes of every register in the whole program.
fn count_uses(nodes: &[Node], reads: &mut [u32], writes: &mut [u32]) {
    for node in nodes {
        match &node.op {
            Op::Compute { dst, args, .. } => {
                writes[*dst as usize] += 1;
                for a in args {
                    reads[*a as usize] += 1;
                }
            }
            Op::Share { dst, src, .. } | Op::Reveal { dst, src, .. } => {
                writes[*dst as usize] += 1;
                reads[*src as usize] += 1;
            }
            Op::ReadCsv { dst, .. } => writes[*dst as usize] += 1,
            Op::WriteCsv { src, .. } | Op::Print { src, .. } => reads[*src as usize] += 1,
            Op::StoreShares { srcs, .. } => srcs.iter().for_each(|r| reads[*r as usize] += 1),
            Op::LoadShares { dsts, .. } => dsts.iter().for_each(|r| writes[*r as usize] += 1),
            Op::For {
                var,
                start,
                end,
                body,
            } => {
                writes[*var as usize] += 1;
                reads[*start as usize] += 1;
                reads[*end as usize] += 1;
                count_uses(body, reads, writes);
            }
            Op::While {
                cond_body,
                cond,
                body,
            } => {
                count_uses(cond_body, reads, writes);
                reads[*cond as usize] += 2;
                count_uses(body, reads, writes);
            }
            Op::If {
                cond,
                then_body,
                else_body,
            } => {
                reads[*cond as usize] += 1;
                count_uses(then_body, reads, writes);
                count_uses(else_body, reads, writes);
            }
        }
    }
}

/// Whether `node` can be in a chain: `Some((placement, is_shares))`.
fn fusable(program: &Program, node: &Node) -> Option<(Placement, bool)> {
    let Op::Compute {
        dst,
        at,
        kernel,
        args,
    } = &node.op
    else {
        return None;
    };
    let real = |r: &Reg| {
        matches!(
            program.regs[*r as usize].scalar,
            Scalar::Fixed | Scalar::Float
        )
    };
    match at {
        Placement::Secret(s) => {
            let ok = matches!(kernel, IrKernel::Add | IrKernel::Sub | IrKernel::Neg)
                && args
                    .iter()
                    .chain([dst])
                    .all(|r| program.regs[*r as usize].placement == Placement::Secret(*s));
            ok.then_some((*at, true))
        }
        _ => {
            let ok = matches!(
                kernel,
                IrKernel::Add
                    | IrKernel::Sub
                    | IrKernel::Mul { trunc: 0 }
                    | IrKernel::Div
                    | IrKernel::Neg
            ) && args.iter().chain([dst]).all(real);
            ok.then_some((*at, false))
        }
    }
}

/// Plans the chains of `program` (one party's projection).
pub fn plan(program: &Program) -> Plan {
    let mut reads = vec![0u32; program.regs.len()];
    let mut writes = vec![0u32; program.regs.len()];
    count_uses(&program.body, &mut reads, &mut writes);
    let mut plan = Plan::default();
    plan_block(program, &program.body, &reads, &writes, &mut plan);
    plan
}

fn plan_block(program: &Program, nodes: &[Node], reads: &[u32], writes: &[u32], plan: &mut Plan) {
    let mut i = 0;
    while i < nodes.len() {
        match &nodes[i].op {
            Op::For { body, .. } => plan_block(program, body, reads, writes, plan),
            Op::While {
                cond_body, body, ..
            } => {
                plan_block(program, cond_body, reads, writes, plan);
                plan_block(program, body, reads, writes, plan);
            }
            Op::If {
                then_body,
                else_body,
                ..
            } => {
                plan_block(program, then_body, reads, writes, plan);
                plan_block(program, else_body, reads, writes, plan);
            }
            Op::Compute { .. } => {
                if let Some(chain) = chain_at(program, nodes, i, reads, writes) {
                    let len = chain.len;
                    plan.chains.insert(nodes[i].id, chain);
                    i += len;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// A real constant (at `at`, or public) whose value is used once, by a later op: it can join a chain as a
/// constant of the kernel (broadcast for free).
fn constant(
    program: &Program,
    node: &Node,
    at: Placement,
    reads: &[u32],
    writes: &[u32],
) -> Option<f64> {
    match &node.op {
        Op::Compute {
            dst,
            at: a,
            kernel: IrKernel::Const(Literal::Fixed(v)),
            ..
        } if (*a == at || *a == Placement::Public)
            && writes[*dst as usize] == 1
            && reads[*dst as usize] == 1
            && program.regs[*dst as usize].shape.is_empty() =>
        {
            Some(*v)
        }
        _ => None,
    }
}

fn chain_at(
    program: &Program,
    nodes: &[Node],
    start: usize,
    reads: &[u32],
    writes: &[u32],
) -> Option<Chain> {
    let (at, shares) = fusable(program, &nodes[start])?;
    // Extend over fusable ops that read a value of the chain, and over single-use constants
    // (plaintext chains only: a constant added to shares is not elementwise on components).
    let mut len = 1;
    let mut ops_in_chain = 1;
    let mut defined: Vec<Reg> = vec![dst_of(&nodes[start])];
    for (k, node) in nodes.iter().enumerate().skip(start + 1) {
        if !shares && constant(program, node, at, reads, writes).is_some() {
            defined.push(dst_of(node));
            continue;
        }
        if fusable(program, node) != Some((at, shares)) {
            break;
        }
        let Op::Compute { dst, args, .. } = &node.op else {
            break;
        };
        if !args.iter().any(|a| defined.contains(a)) {
            break;
        }
        defined.push(*dst);
        len = k - start + 1;
        ops_in_chain += 1;
    }
    if ops_in_chain < 2 {
        return None;
    }
    let ops = &nodes[start..start + len];
    // Every constant of the chain must be read inside it.
    let read_inside = |r: Reg| {
        ops.iter().any(|n| match &n.op {
            Op::Compute { args, .. } => args.contains(&r),
            _ => false,
        })
    };
    let ty = match at {
        // A wide kernel at a 128-bit placement.
        Placement::Secret(s) if program.secrets[s].ring_bits == 128 => Ty::U128,
        _ if shares => Ty::U64,
        _ => Ty::F64,
    };
    let mut inputs: Vec<Reg> = Vec::new();
    let mut body: Vec<Inst> = Vec::new();
    let mut current: HashMap<Reg, u32> = HashMap::new();
    let mut outputs: Vec<Reg> = Vec::new();
    for node in ops {
        if let Some(v) = constant(program, node, at, reads, writes) {
            let dst = dst_of(node);
            if !read_inside(dst) {
                return None;
            }
            current.insert(dst, body.len() as u32);
            body.push(Inst::Const(v.to_bits(), Ty::F64));
            continue;
        }
        let Op::Compute {
            dst, kernel, args, ..
        } = &node.op
        else {
            return None;
        };
        for a in args {
            if !current.contains_key(a) {
                current.insert(*a, body.len() as u32);
                body.push(Inst::Input(inputs.len() as u32));
                inputs.push(*a);
            }
        }
        let v = |r: &Reg| current[r];
        let inst = match (kernel, shares) {
            (IrKernel::Add, true) => Inst::Add(v(&args[0]), v(&args[1])),
            (IrKernel::Sub, true) => Inst::Sub(v(&args[0]), v(&args[1])),
            (IrKernel::Neg, true) => Inst::Neg(v(&args[0])),
            (IrKernel::Add, false) => Inst::FAdd(v(&args[0]), v(&args[1])),
            (IrKernel::Sub, false) => Inst::FSub(v(&args[0]), v(&args[1])),
            (IrKernel::Mul { .. }, false) => Inst::FMul(v(&args[0]), v(&args[1])),
            (IrKernel::Div, false) => Inst::FDiv(v(&args[0]), v(&args[1])),
            (IrKernel::Neg, false) => Inst::FNeg(v(&args[0])),
            _ => return None,
        };
        current.insert(*dst, body.len() as u32);
        body.push(inst);
        // A temporary (written once in the program, read once, by a later op of the chain)
        // stays in the kernel; any other value is stored.
        let temporary = writes[*dst as usize] == 1
            && reads[*dst as usize] == 1
            && ops
                .iter()
                .skip_while(|n| dst_of(n) != *dst)
                .skip(1)
                .any(|n| match &n.op {
                    Op::Compute { args, .. } => args.contains(dst),
                    _ => false,
                });
        if !temporary && !outputs.contains(dst) {
            outputs.push(*dst);
        }
    }
    if outputs.is_empty() {
        return None;
    }
    let output_values = outputs.iter().map(|r| current[r]).collect();
    let kernel = Kernel {
        inputs: vec![ty; inputs.len()],
        body,
        outputs: output_values,
    };
    kernel.check().ok()?;
    Some(Chain {
        len,
        kernel,
        inputs,
        outputs,
        shares,
    })
}

fn dst_of(node: &Node) -> Reg {
    match &node.op {
        Op::Compute { dst, .. } => *dst,
        _ => unreachable!("chains start at a compute"),
    }
}
