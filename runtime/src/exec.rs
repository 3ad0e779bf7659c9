//! The executor: runs one party's program.
//!
//! Each op runs with a message key made of its id and how many times this party ran it before;
//! parties run shared ops in the same order (control flow is public, or local to one party), so
//! their keys agree without any coordination. Plaintext kernels are in `plain`, protocol steps
//! behind [`crate::protocol::Protocol`] (and the composites written once over it); this module
//! knows no protocol: it only dispatches, moves values between registers, and does the I/O.

use std::path::{Path, PathBuf};

use ndarray::IxDyn;
use tfe_ir::{Kernel, MsgKey, Node, Op, PartyId, Placement, Program, Reg, Scalar};

use crate::net::{NetStats, Payload, Transport};
use crate::protocol::{self, AnyProtocol, Ctx, KeyStore, Linear, Protocol, Shares, composite};
use crate::ring::{self, RingTensor, Word};
use crate::value::{Value, scalar};
use crate::{RunError, csvio, files, plain};

pub use crate::protocol::agree_keys;

/// What a party needs besides its program.
#[derive(Debug, Clone)]
pub struct PartyConfig {
    /// Where `read_csv` and `write_csv` paths of this party start.
    pub data_dir: PathBuf,
    /// The session: the same for all parties of one run, fresh for each run.
    pub session: u64,
    /// With a seed, the shared keys are derived from it instead of drawn from the operating
    /// system, so a run can be repeated exactly (tests, benchmarks). Never for real data.
    pub seed: Option<u64>,
    /// Record each op's time, bytes and rounds ([`PartyReport::profile`]).
    pub profile: bool,
    /// Told after each iteration of the outermost loop of more than one iteration that is
    /// running: what a progress display shows.
    pub progress: Option<Progress>,
}

/// A progress callback: `(iterations done, iterations in all)` of the outermost loop running.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// What one op cost this party, over every time it ran (`tfec run --profile`). A fused chain of
/// ops, or a batch of comparisons or products run as one, is counted at its first op.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpProfile {
    pub runs: u64,
    /// Wall time, waiting for peers included.
    pub time: std::time::Duration,
    pub bytes: u64,
    pub rounds: u64,
}

/// What a party did.
#[derive(Debug, Clone, Default)]
pub struct PartyReport {
    pub net: NetStats,
    pub ops_run: u64,
    /// Wall time from the start of key agreement to the last message flushed.
    pub elapsed: std::time::Duration,
    /// With [`PartyConfig::profile`], each op's cost, by op id (empty otherwise).
    pub profile: Vec<OpProfile>,
    /// With [`PartyConfig::profile`], each run of an op (the first [`MAX_TRACE`]): a timeline.
    pub trace: Vec<TraceEvent>,
}

/// One run of an op at this party: its id, when it started and how long it took, from the
/// party's start, and what it sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceEvent {
    pub op: tfe_ir::OpId,
    pub start: std::time::Duration,
    pub time: std::time::Duration,
    pub bytes: u64,
    pub rounds: u64,
}

/// The most trace events a party keeps (40 MB); the profile counts every run regardless.
pub const MAX_TRACE: usize = 1 << 20;

/// Runs `program` (this party's projection) as party `me`. `print` lines go to `out`.
pub fn run_party(
    program: &Program,
    me: PartyId,
    net: &mut dyn Transport,
    config: &PartyConfig,
    out: &mut dyn FnMut(&str),
) -> Result<PartyReport, RunError> {
    let start = std::time::Instant::now();
    let protocols: Vec<AnyProtocol> = program
        .secrets
        .iter()
        .map(protocol::any_for_secret)
        .collect::<Result<_, _>>()?;
    let keys = agree_keys(program.parties.len(), me, net, config.seed)?;
    let mut exec = Exec {
        protocols,
        program,
        me,
        regs: vec![None; program.regs.len()],
        counts: vec![0; program.n_ops as usize],
        net,
        keys,
        session: config.session,
        data_dir: &config.data_dir,
        out,
        ops_run: 0,
        plan: crate::fuse::plan(program),
        frees: crate::liveness::plan(program),
        profile: if config.profile {
            vec![OpProfile::default(); program.n_ops as usize]
        } else {
            Vec::new()
        },
        trace: Vec::new(),
        start,
        progress: config.progress.clone(),
        progress_shown: None,
    };
    exec.block(&program.body)?;
    exec.net.flush().map_err(RunError::Net)?;
    Ok(PartyReport {
        net: exec.net.stats(),
        ops_run: exec.ops_run,
        elapsed: start.elapsed(),
        profile: exec.profile,
        trace: exec.trace,
    })
}

/// A protocol context built from the executor's fields (a macro, so that the borrow of the
/// transport does not hold all of `self`).
macro_rules! ctx {
    ($exec:expr, $op:expr, $count:expr) => {
        Ctx {
            me: $exec.me,
            session: $exec.session,
            keys: &$exec.keys,
            net: &mut *$exec.net,
            op: $op,
            count: $count,
            step: 0,
            result: None,
        }
    };
}

/// Calls `self.method::<W>(args)` with `W` the word of secret placement `s`'s ring.
macro_rules! at_width {
    ($exec:expr, $s:expr, $method:ident ( $($arg:expr),* )) => {
        match $exec.protocols[$s].bits() {
            64 => $exec.$method::<u64>($($arg),*),
            _ => $exec.$method::<u128>($($arg),*),
        }
    };
}

/// The protocol of secret placement `s` at the word `W` (the executor picked `W` from it).
fn protocol_at<W: Word>(protocols: &[AnyProtocol], s: usize) -> Result<&dyn Protocol<W>, RunError> {
    W::protocol(&protocols[s]).ok_or_else(|| {
        RunError::Internal(format!(
            "placement #{s} has a {}-bit ring, not {}",
            protocols[s].bits(),
            W::BITS
        ))
    })
}

struct Exec<'a> {
    program: &'a Program,
    /// The protocol of each secret placement, at its ring's width.
    protocols: Vec<AnyProtocol>,
    me: PartyId,
    regs: Vec<Option<Value>>,
    counts: Vec<u64>,
    net: &'a mut dyn Transport,
    keys: KeyStore,
    session: u64,
    data_dir: &'a Path,
    out: &'a mut dyn FnMut(&str),
    ops_run: u64,
    /// Chains of elementwise ops run as one kernel each.
    plan: crate::fuse::Plan,
    /// Registers to drop once a block has moved past an op, by op id ([`crate::liveness`]).
    frees: Vec<Vec<Reg>>,
    /// Each op's cost when profiling (empty otherwise).
    profile: Vec<OpProfile>,
    trace: Vec<TraceEvent>,
    /// When this party started.
    start: std::time::Instant,
    progress: Option<Progress>,
    /// The loop whose progress is being shown, if any.
    progress_shown: Option<tfe_ir::OpId>,
}

impl Exec<'_> {
    fn get(&self, r: Reg) -> Result<&Value, RunError> {
        self.regs[r as usize].as_ref().ok_or_else(|| {
            let info = &self.program.regs[r as usize];
            RunError::Internal(format!(
                "register %{r} (`{}`) is not set at party {}",
                info.name, self.program.parties[self.me]
            ))
        })
    }

    fn set(&mut self, r: Reg, v: Value) {
        self.regs[r as usize] = Some(v);
    }

    fn block(&mut self, nodes: &[Node]) -> Result<(), RunError> {
        let mut i = 0;
        while i < nodes.len() {
            let from = i;
            // Loops and branches are not counted themselves: the ops inside them are.
            let measured = !self.profile.is_empty()
                && !matches!(
                    nodes[i].op,
                    Op::For { .. } | Op::While { .. } | Op::If { .. }
                );
            let before = measured.then(|| (std::time::Instant::now(), self.net.stats()));
            i = self.step(nodes, i)?;
            if let Some((t, net)) = before {
                let after = self.net.stats();
                let time = t.elapsed();
                let p = &mut self.profile[nodes[from].id as usize];
                p.runs += 1;
                p.time += time;
                p.bytes += after.bytes_sent - net.bytes_sent;
                p.rounds += after.rounds - net.rounds;
                if self.trace.len() < MAX_TRACE {
                    self.trace.push(TraceEvent {
                        op: nodes[from].id,
                        start: t - self.start,
                        time,
                        bytes: after.bytes_sent - net.bytes_sent,
                        rounds: after.rounds - net.rounds,
                    });
                }
            }
            for node in &nodes[from..i] {
                if let Some(dead) = self.frees.get(node.id as usize) {
                    for r in dead {
                        self.regs[*r as usize] = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the op at `nodes[i]`, or a fused chain or a batch of comparisons or products there;
    /// returns the index of the next op to run.
    fn step(&mut self, nodes: &[Node], mut i: usize) -> Result<usize, RunError> {
        {
            if let Some(chain) = self.plan.chains.get(&nodes[i].id).cloned() {
                if self.chain(&chain)? {
                    for node in &nodes[i..i + chain.len] {
                        self.counts[node.id as usize] += 1;
                    }
                    self.ops_run += chain.len as u64;
                } else {
                    for node in &nodes[i..i + chain.len] {
                        self.node(node)?;
                    }
                }
                i += chain.len;
                return Ok(i);
            }
            if let Some(batch) = comparison_batch(self.program, nodes, i) {
                i = self.comparisons(nodes, i, &batch)?;
            } else if let Some(batch) = product_batch(self.program, nodes, i) {
                i = self.products(nodes, i, &batch)?;
            } else {
                self.node(&nodes[i])?;
                i += 1;
            }
        }
        Ok(i)
    }

    /// Runs a chain of elementwise ops as one kernel; `false` (nothing done) when its operands
    /// are not of one shape, or fused kernels are off.
    fn chain(&mut self, chain: &crate::fuse::Chain) -> Result<bool, RunError> {
        let Some(mode) = crate::fused::current_mode() else {
            return Ok(false);
        };
        if chain.kernel.is_wide() {
            return self.wide_chain::<u128>(chain, mode);
        }
        let values: Vec<&Value> = chain
            .inputs
            .iter()
            .map(|r| self.get(*r))
            .collect::<Result<_, _>>()?;
        let shape = match values.first() {
            Some(Value::Shares(r)) if chain.shares => r.shape().to_vec(),
            Some(Value::F64(t)) if !chain.shares => t.shape().to_vec(),
            _ => return Ok(false),
        };
        let n: usize = shape.iter().product();
        // The inputs of each kernel run: one run per share component (none at a member that
        // holds no component), or one on plaintext.
        let runs = match values.first() {
            Some(Value::Shares(r)) => r.parts().len(),
            _ => 1,
        };
        let mut components: Vec<Vec<&[u64]>> = vec![Vec::new(); runs];
        for v in &values {
            match v {
                Value::Shares(r)
                    if chain.shares && r.shape() == shape.as_slice() && r.parts().len() == runs =>
                {
                    for (c, part) in r.parts().iter().enumerate() {
                        let Some(words) = part.as_slice() else {
                            return Ok(false);
                        };
                        components[c].push(words);
                    }
                }
                Value::F64(t) if !chain.shares && t.shape() == shape.as_slice() => {
                    let Some(s) = t.as_slice() else {
                        return Ok(false);
                    };
                    components[0].push(bytemuck::cast_slice(s));
                }
                _ => return Ok(false),
            }
        }
        let mut results: Vec<Vec<Vec<u64>>> = Vec::new();
        for inputs in &components {
            let mut outs = vec![vec![0u64; n]; chain.outputs.len()];
            {
                let mut refs: Vec<&mut [u64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                tfe_jit::kernels()
                    .run(mode, &chain.kernel, inputs, &mut refs)
                    .map_err(RunError::Internal)?;
            }
            results.push(outs);
        }
        let tensor = |words: Vec<u64>| {
            RingTensor::from_shape_vec(IxDyn(&shape), words)
                .map_err(|e| RunError::Shape(e.to_string()))
        };
        for (k, reg) in chain.outputs.iter().enumerate() {
            let value = if chain.shares {
                if runs == 0 {
                    Value::Shares(Shares::shape_only(&shape))
                } else {
                    let parts: Vec<RingTensor> = results
                        .iter_mut()
                        .map(|r| tensor(std::mem::take(&mut r[k])))
                        .collect::<Result<_, _>>()?;
                    Value::Shares(Shares::new(parts)?)
                }
            } else {
                let words = std::mem::take(&mut results[0][k]);
                let reals: Vec<f64> = words.into_iter().map(f64::from_bits).collect();
                Value::F64(
                    ndarray::ArrayD::from_shape_vec(IxDyn(&shape), reals)
                        .map_err(|e| RunError::Shape(e.to_string()))?,
                )
            };
            self.set(*reg, value);
        }
        Ok(true)
    }

    /// [`Exec::chain`] of a wide kernel: shares of a 128-bit ring, one kernel run per component
    /// (none at a member that holds no component). `Ok(false)` where an input is not such shares
    /// of the chain's shape, in place (the ops then run one by one).
    fn wide_chain<W: Word>(
        &mut self,
        chain: &crate::fuse::Chain,
        mode: tfe_jit::Mode,
    ) -> Result<bool, RunError> {
        let values: Vec<&Shares<W>> = match chain
            .inputs
            .iter()
            .map(|r| self.get(*r).map(W::shares_of))
            .collect::<Result<Option<Vec<_>>, _>>()?
        {
            Some(v) => v,
            None => return Ok(false),
        };
        let Some(first) = values.first() else {
            return Ok(false);
        };
        let (shape, runs) = (first.shape().to_vec(), first.parts().len());
        let mut components: Vec<Vec<&[W]>> = vec![Vec::new(); runs];
        for v in &values {
            if v.shape() != shape.as_slice() || v.parts().len() != runs {
                return Ok(false);
            }
            for (c, part) in v.parts().iter().enumerate() {
                let Some(words) = part.as_slice() else {
                    return Ok(false);
                };
                components[c].push(words);
            }
        }
        let n: usize = shape.iter().product();
        let mut results: Vec<Vec<Vec<W>>> = Vec::new();
        for inputs in &components {
            let mut outs = vec![vec![W::ZERO; n]; chain.outputs.len()];
            {
                let mut refs: Vec<&mut [W]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                W::run_kernel(mode, &chain.kernel, inputs, &mut refs)
                    .map_err(RunError::Internal)?;
            }
            results.push(outs);
        }
        for (k, reg) in chain.outputs.iter().enumerate() {
            let shares = if runs == 0 {
                Shares::shape_only(&shape)
            } else {
                let parts: Vec<RingTensor<W>> = results
                    .iter_mut()
                    .map(|r| {
                        RingTensor::from_shape_vec(IxDyn(&shape), std::mem::take(&mut r[k]))
                            .map_err(|e| RunError::Shape(e.to_string()))
                    })
                    .collect::<Result<_, _>>()?;
                Shares::new(parts)?
            };
            self.set(*reg, W::value(shares));
        }
        Ok(true)
    }

    /// Runs the comparison at `nodes[first]` together with the later comparisons of `batch` of
    /// the same placement (see [`comparison_batch`]): first the local ops between them that do
    /// not read their results, in order, then one sign protocol over all their differences,
    /// keyed by the first comparison's op, then the deferred ops.
    /// Returns the index after the last node run.
    fn comparisons(
        &mut self,
        nodes: &[Node],
        first: usize,
        batch: &Batch,
    ) -> Result<usize, RunError> {
        let Op::Compute {
            at: Placement::Secret(s),
            ..
        } = &nodes[first].op
        else {
            unreachable!("comparison_batch picks comparisons")
        };
        at_width!(self, *s, comparisons_at(nodes, first, batch))
    }

    fn comparisons_at<W: Word>(
        &mut self,
        nodes: &[Node],
        first: usize,
        batch: &Batch,
    ) -> Result<usize, RunError> {
        let last = self.before_batch(nodes, first, batch)?;
        let members: Vec<&Node> = std::iter::once(first)
            .chain(batch.members.iter().copied())
            .map(|k| &nodes[k])
            .collect();
        let mut differences: Vec<Shares<W>> = Vec::new();
        let mut s_placement = 0;
        for node in &members {
            let Op::Compute {
                at: Placement::Secret(s),
                kernel,
                args,
                ..
            } = &node.op
            else {
                unreachable!("comparison_batch picks comparisons")
            };
            s_placement = *s;
            let p = protocol_at::<W>(&self.protocols, *s)?;
            let x = rep_of(p, self.me, self.get(args[0])?)?;
            let y = rep_of(p, self.me, self.get(args[1])?)?;
            let (a, b) = if matches!(kernel, Kernel::Lt | Kernel::Ge) {
                (x, y)
            } else {
                (y, x)
            };
            differences.push(a.sub(&b)?);
        }
        // One tensor of all differences, flattened.
        let flat: Vec<Shares<W>> = differences
            .iter()
            .map(Shares::flatten)
            .collect::<Result<_, _>>()?;
        let joined = Shares::concat(&flat.iter().collect::<Vec<_>>(), 0)?;
        let lead = members[0].id;
        let count = self.counts[lead as usize];
        let me = self.me;
        let p = protocol_at::<W>(&self.protocols, s_placement)?;
        let mut ctx = ctx!(self, lead, count);
        let signs = p.msb(&mut ctx, &joined);
        p.end_op(&mut ctx)?;
        let signs = signs?;
        let mut offset = 0;
        let mut results = Vec::new();
        for (node, difference) in members.iter().zip(&differences) {
            let size = difference.len();
            let Op::Compute { dst, kernel, .. } = &node.op else {
                unreachable!("comparison_batch picks comparisons")
            };
            let shape = difference.shape().to_vec();
            let part = signs.slice_axis(0, offset, offset + size).map_with(
                |t| crate::value::reshape(t, &shape),
                |t| crate::value::reshape(t, &shape),
            )?;
            offset += size;
            let bit = if matches!(kernel, Kernel::Le | Kernel::Ge) {
                composite::not_bit(p, me, &part)?
            } else {
                part
            };
            results.push((node.id, *dst, bit));
        }
        for (id, dst, bit) in results {
            self.counts[id as usize] += 1;
            self.ops_run += 1;
            self.set(dst, W::value(bit));
        }
        self.after_batch(nodes, batch)?;
        Ok(last + 1)
    }

    /// Runs the ops among a batch's members that run before its protocol call; returns the
    /// index of its last member.
    fn before_batch(
        &mut self,
        nodes: &[Node],
        first: usize,
        batch: &Batch,
    ) -> Result<usize, RunError> {
        let last = *batch.members.last().expect("a batch has members");
        for (k, node) in nodes.iter().enumerate().take(last).skip(first + 1) {
            if !batch.members.contains(&k) && !batch.deferred.contains(&k) {
                self.node(node)?;
            }
        }
        Ok(last)
    }

    /// Runs the ops a batch deferred ([`Batch::deferred`]), in their order.
    fn after_batch(&mut self, nodes: &[Node], batch: &Batch) -> Result<(), RunError> {
        for k in &batch.deferred {
            self.node(&nodes[*k])?;
        }
        Ok(())
    }

    /// Runs the product at `nodes[first]` together with the later products of `batch` (see
    /// [`product_batch`]): first the local ops between them that do not read their results, in
    /// order, then one [`Protocol::products`] keyed by the first product's op, then the
    /// deferred ops. Returns the index after the last member.
    fn products(&mut self, nodes: &[Node], first: usize, batch: &Batch) -> Result<usize, RunError> {
        let Some(((s, _), _, _)) = round_product(self.program, &nodes[first]) else {
            unreachable!("product_batch picks products")
        };
        at_width!(self, s, products_at(nodes, first, batch))
    }

    fn products_at<W: Word>(
        &mut self,
        nodes: &[Node],
        first: usize,
        batch: &Batch,
    ) -> Result<usize, RunError> {
        let last = self.before_batch(nodes, first, batch)?;
        let members: Vec<&Node> = std::iter::once(first)
            .chain(batch.members.iter().copied())
            .map(|k| &nodes[k])
            .collect();
        let Some(((s, trunc), _, _)) = round_product(self.program, members[0]) else {
            unreachable!("product_batch picks products")
        };
        let me = self.me;
        let p = protocol_at::<W>(&self.protocols, s)?;
        let frac = p.frac();
        let (regs, program) = (&self.regs, self.program);
        // Products by a public value are taken here (locally); the protocol truncates them.
        let mut local: Vec<Option<Shares<W>>> = Vec::with_capacity(members.len());
        let mut factors = Vec::with_capacity(members.len());
        for node in &members {
            let Op::Compute { kernel, args, .. } = &node.op else {
                unreachable!("product_batch picks products")
            };
            let matrix = matches!(kernel, Kernel::MatMul { .. });
            let (a, b) = (
                register(regs, program, me, args[0])?,
                register(regs, program, me, args[1])?,
            );
            local.push(match (W::shares_of(a), W::shares_of(b)) {
                (Some(_), Some(_)) => None,
                (Some(x), None) => Some(if matrix {
                    x.matmul_public_right(&encode(b, frac)?)?
                } else {
                    x.mul_public(&encode(b, frac)?)?
                }),
                (None, Some(y)) => Some(if matrix {
                    y.matmul_public_left(&encode(a, frac)?)?
                } else {
                    y.mul_public(&encode(a, frac)?)?
                }),
                _ => {
                    return Err(RunError::Internal(
                        "a product of two public values at a secret placement".into(),
                    ));
                }
            });
            factors.push((matrix, a, b));
        }
        let items: Vec<protocol::Product<'_, W>> = factors
            .iter()
            .zip(&local)
            .map(
                |((matrix, a, b), own)| match (own, W::shares_of(a), W::shares_of(b)) {
                    (Some(x), _, _) => protocol::Product::Trunc(x),
                    (None, Some(x), Some(y)) if *matrix => protocol::Product::MatMul(x, y),
                    (None, Some(x), Some(y)) => protocol::Product::Mul(x, y),
                    _ => unreachable!("a product without a local part has two shares"),
                },
            )
            .collect();
        let lead = members[0].id;
        let count = self.counts[lead as usize];
        let mut ctx = ctx!(self, lead, count);
        let results = p.products(&mut ctx, &items, trunc);
        p.end_op(&mut ctx)?;
        let results = results?;
        drop(items);
        for (node, result) in members.iter().zip(results) {
            let Op::Compute { dst, .. } = &node.op else {
                unreachable!("product_batch picks products")
            };
            self.counts[node.id as usize] += 1;
            self.ops_run += 1;
            self.set(*dst, W::value(result));
        }
        self.after_batch(nodes, batch)?;
        Ok(last + 1)
    }

    fn node(&mut self, node: &Node) -> Result<(), RunError> {
        let count = self.counts[node.id as usize];
        self.counts[node.id as usize] += 1;
        self.ops_run += 1;
        match &node.op {
            Op::Compute {
                dst,
                at,
                kernel,
                args,
            } => {
                let value = match at {
                    Placement::Secret(s) => self.secret(*s, kernel, args, *dst, node.id, count)?,
                    _ => {
                        let vals: Vec<&Value> = args
                            .iter()
                            .map(|a| self.get(*a))
                            .collect::<Result<_, _>>()?;
                        plain::compute(kernel, &vals, self.program.regs[*dst as usize].scalar)?
                    }
                };
                self.set(*dst, value);
            }
            Op::Share { dst, src, from, to } => {
                self.share(*dst, *src, *from, *to, node.id, count)?
            }
            Op::Reveal { dst, src, from, to } => {
                self.reveal(*dst, *src, *from, *to, node.id, count)?
            }
            Op::ReadCsv {
                dst, path, format, ..
            } => {
                let info = &self.program.regs[*dst as usize];
                let path = self.data_dir.join(path);
                let value = files::read(*format, &path, info.scalar, &info.shape)?;
                self.set(*dst, value);
            }
            Op::WriteCsv {
                src, path, format, ..
            } => {
                files::write(*format, &self.data_dir.join(path), self.get(*src)?)?;
            }
            Op::StoreShares {
                srcs,
                secret,
                name,
                ty,
            }
            | Op::LoadShares {
                dsts: srcs,
                secret,
                name,
                ty,
            } => {
                let site = crate::stored::Site {
                    program: self.program,
                    secret: *secret,
                    name,
                    ty,
                    regs: srcs,
                    data_dir: self.data_dir,
                };
                let load = matches!(node.op, Op::LoadShares { .. });
                at_width!(self, *secret, stored_at(&site, load, node.id, count))?;
            }
            Op::Print { src, at } => {
                // A public value is printed once, by the first party.
                if *at != Placement::Public || self.me == 0 {
                    let text = csvio::display(self.get(*src)?);
                    (self.out)(&text);
                }
            }
            Op::For {
                var,
                start,
                end,
                body,
            } => {
                let s = self.get(*start)?.as_index().map_err(RunError::Internal)?;
                let e = self.get(*end)?.as_index().map_err(RunError::Internal)?;
                // The outermost loop of more than one iteration is the one whose progress is
                // shown (an `EPOCHS = 1` loop around the batches is looked through).
                let progress = (self.progress_shown.is_none() && e - s > 1)
                    .then(|| self.progress.clone())
                    .flatten();
                if progress.is_some() {
                    self.progress_shown = Some(node.id);
                }
                for i in s..e {
                    if (i - s) % 16 == 15 {
                        self.net.check().map_err(RunError::Net)?;
                    }
                    self.set(*var, Value::I64(scalar(i)));
                    self.block(body)?;
                    if let Some(p) = &progress {
                        (p.0)((i - s + 1) as u64, (e - s) as u64);
                    }
                }
                if progress.is_some() {
                    self.progress_shown = None;
                }
            }
            Op::While {
                cond_body,
                cond,
                body,
            } => loop {
                self.net.check().map_err(RunError::Net)?;
                self.block(cond_body)?;
                if !self.get(*cond)?.as_bool().map_err(RunError::Internal)? {
                    break;
                }
                self.block(body)?;
            },
            Op::If {
                cond,
                then_body,
                else_body,
            } => {
                if self.get(*cond)?.as_bool().map_err(RunError::Internal)? {
                    self.block(then_body)?;
                } else {
                    self.block(else_body)?;
                }
            }
        }
        Ok(())
    }

    /// Ring elements revealed, as the plaintext value of `scalar`.
    fn decode<W: Word>(t: &RingTensor<W>, scalar: Scalar, frac: u32) -> Value {
        match scalar {
            Scalar::Fixed | Scalar::Float => Value::F64(ring::decode_fixed(t, frac)),
            Scalar::Int => Value::I64(ring::decode_int(t)),
            Scalar::Bool => Value::Bool(t.mapv(|v| v != W::ZERO)),
        }
    }

    fn share(
        &mut self,
        dst: Reg,
        src: Reg,
        from: Placement,
        to: usize,
        op: u32,
        count: u64,
    ) -> Result<(), RunError> {
        at_width!(self, to, share_at(dst, src, from, to, op, count))
    }

    fn share_at<W: Word>(
        &mut self,
        dst: Reg,
        src: Reg,
        from: Placement,
        to: usize,
        op: u32,
        count: u64,
    ) -> Result<(), RunError> {
        let p = protocol_at::<W>(&self.protocols, to)?;
        let frac = p.frac();
        let info = &self.program.regs[dst as usize];
        let known: Option<Vec<usize>> = info
            .shape
            .iter()
            .map(|d| match d {
                tfe_ir::Dim::Known(n) => Some(*n as usize),
                tfe_ir::Dim::Runtime => None,
            })
            .collect();
        match from {
            Placement::Public => {
                let v = encode(self.get(src)?, frac)?;
                let shares = p.public(self.me, &v)?;
                self.set(dst, W::value(shares));
            }
            Placement::Party(owner) => {
                let mine = if self.me == owner {
                    Some(encode(self.get(src)?, frac)?)
                } else {
                    None
                };
                let mut ctx = ctx!(self, op, count);
                let shares = p.share(&mut ctx, owner, mine.as_ref(), known.as_deref())?;
                if p.role_of(self.me).is_some() {
                    p.end_op(&mut ctx)?;
                }
                if let Some(shares) = shares {
                    if self.me != owner && !fits(shares.shape(), &info.shape) {
                        return Err(RunError::BadMessage {
                            from: owner,
                            detail: format!(
                                "its shares for {} are of shape {:?}, where the program says {}",
                                MsgKey { op, count, step: 0 },
                                shares.shape(),
                                pattern(&info.shape)
                            ),
                        });
                    }
                    self.set(dst, W::value(shares));
                }
            }
            Placement::Secret(_) => {
                return Err(RunError::Internal(
                    "sharing between secret placements".into(),
                ));
            }
        }
        Ok(())
    }

    fn reveal(
        &mut self,
        dst: Reg,
        src: Reg,
        from: Placement,
        to: Option<PartyId>,
        op: u32,
        count: u64,
    ) -> Result<(), RunError> {
        let targets: Vec<PartyId> = match to {
            Some(p) => vec![p],
            None => (0..self.program.parties.len()).collect(),
        };
        let scalar = self.program.regs[dst as usize].scalar;
        let key = MsgKey { op, count, step: 0 };
        match from {
            Placement::Secret(s) => {
                at_width!(self, s, reveal_at(dst, src, s, &targets, op, count))?;
            }
            Placement::Party(q) => {
                if self.me == q {
                    let v = self.get(src)?.clone();
                    for &t in &targets {
                        if t != q {
                            self.net
                                .send(t, key, plaintext_payload(&v)?)
                                .map_err(RunError::Net)?;
                        }
                    }
                    if targets.contains(&q) {
                        self.set(dst, v);
                    }
                } else if targets.contains(&self.me) {
                    let v = payload_value(self.net.recv(q, key).map_err(RunError::Net)?, q, key)?;
                    let info = &self.program.regs[dst as usize];
                    let kind = match scalar {
                        Scalar::Fixed | Scalar::Float => "f64",
                        Scalar::Int => "i64",
                        Scalar::Bool => "bool",
                    };
                    if v.kind() != kind || !fits(v.shape(), &info.shape) {
                        return Err(RunError::BadMessage {
                            from: q,
                            detail: format!(
                                "it revealed {} of shape {:?} for {key}, where the program says {} {}",
                                v.kind(),
                                v.shape(),
                                scalar.name(),
                                pattern(&info.shape)
                            ),
                        });
                    }
                    self.set(dst, v);
                }
            }
            Placement::Public => {
                let v = self.get(src)?.clone();
                self.set(dst, v);
            }
        }
        Ok(())
    }

    /// `read_shares` (`load`) or `write_shares` at `site`'s placement, whose ring has words `W`.
    fn stored_at<W: Word>(
        &mut self,
        site: &crate::stored::Site<'_>,
        load: bool,
        op: u32,
        count: u64,
    ) -> Result<(), RunError> {
        let p = protocol_at::<W>(&self.protocols, site.secret)?;
        if load {
            let mut ctx = ctx!(self, op, count);
            let loaded = crate::stored::load(p, &mut ctx, site);
            p.end_op(&mut ctx)?;
            for (r, shares) in site.regs.iter().zip(loaded?) {
                self.set(*r, W::value(shares));
            }
            return Ok(());
        }
        let (regs, program, me) = (&self.regs, self.program, self.me);
        let values: Vec<&Shares<W>> = site
            .regs
            .iter()
            .map(|r| {
                let v = register(regs, program, me, *r)?;
                W::shares_of(v)
                    .ok_or_else(|| RunError::Internal(format!("write_shares of {}", v.kind())))
            })
            .collect::<Result<_, _>>()?;
        let mut ctx = ctx!(self, op, count);
        let stored = crate::stored::store(p, &mut ctx, site, &values);
        p.end_op(&mut ctx)?;
        stored
    }

    /// [`Exec::reveal`] from secret placement `s`, whose ring has words `W`.
    fn reveal_at<W: Word>(
        &mut self,
        dst: Reg,
        src: Reg,
        s: usize,
        targets: &[PartyId],
        op: u32,
        count: u64,
    ) -> Result<(), RunError> {
        let scalar = self.program.regs[dst as usize].scalar;
        let p = protocol_at::<W>(&self.protocols, s)?;
        let member = p.role_of(self.me).is_some();
        let shares = if member {
            match self.regs[src as usize].as_ref() {
                Some(v) => Some(W::shares_of(v).ok_or_else(|| {
                    RunError::Internal(format!("revealing {} as shares", v.kind()))
                })?),
                None => return Err(self.unset(src)),
            }
        } else {
            None
        };
        let program = self.program;
        let mut ctx = ctx!(self, op, count);
        ctx.result = Some(&program.regs[dst as usize].shape);
        let value = p.reveal(&mut ctx, shares, targets)?;
        if member {
            p.end_op(&mut ctx)?;
        }
        if let Some(v) = value {
            let v = Self::decode(&v, scalar, p.frac());
            self.set(dst, v);
        }
        Ok(())
    }

    /// The error for reading register `r` before it is set (a bug).
    fn unset(&self, r: Reg) -> RunError {
        let info = &self.program.regs[r as usize];
        RunError::Internal(format!(
            "register %{r} (`{}`) is not set at party {}",
            info.name, self.program.parties[self.me]
        ))
    }

    fn secret(
        &mut self,
        s: usize,
        kernel: &Kernel,
        args: &[Reg],
        dst: Reg,
        op: u32,
        count: u64,
    ) -> Result<Value, RunError> {
        at_width!(self, s, secret_at(s, kernel, args, dst, op, count))
    }

    fn secret_at<W: Word>(
        &mut self,
        s: usize,
        kernel: &Kernel,
        args: &[Reg],
        dst: Reg,
        op: u32,
        count: u64,
    ) -> Result<Value, RunError> {
        let me = self.me;
        // The arguments by reference (borrowing the registers only, so that the context below
        // can borrow the transport): copying a share tensor per use was a fifth of a training
        // run's time.
        let (regs, program) = (&self.regs, self.program);
        let vals: Vec<&Value> = args
            .iter()
            .map(|a| register(regs, program, me, *a))
            .collect::<Result<_, _>>()?;
        // Plaintext kernels at a secret placement: sizes and shapes of shares.
        if matches!(kernel, Kernel::Rows | Kernel::Shape) {
            return plain::compute(kernel, &vals, self.program.regs[dst as usize].scalar);
        }
        let p = protocol_at::<W>(&self.protocols, s)?;
        let mut ctx = ctx!(self, op, count);
        let result = secret_kernel(p, &mut ctx, kernel, &vals);
        p.end_op(&mut ctx)?;
        Ok(W::value(result?))
    }
}

/// A kernel at a secret placement, on this party's shares (public arguments are encoded and
/// shared trivially where the kernel needs shares).
fn secret_kernel<W: Word>(
    p: &dyn Protocol<W>,
    ctx: &mut Ctx<'_>,
    kernel: &Kernel,
    vals: &[&Value],
) -> Result<Shares<W>, RunError> {
    let me = ctx.me;
    let frac = p.frac();
    let arg = |i: usize| rep_of(p, me, vals[i]);
    Ok(match kernel {
        Kernel::Copy
        | Kernel::Transpose
        | Kernel::Im2Col(_)
        | Kernel::Col2Im(_)
        | Kernel::Reshape
        | Kernel::Index { .. }
        | Kernel::Sum { .. } => {
            let first = match W::shares_of(vals[0]) {
                Some(_) => None,
                None => Some(W::value(rep_of(p, me, vals[0])?.into_owned())),
            };
            let mut refs = vals.to_vec();
            if let Some(first) = &first {
                refs[0] = first;
            }
            return shares_of(plain::shape_op(kernel, &refs)?);
        }
        Kernel::Concat { .. } => {
            let parts: Vec<Value> = vals
                .iter()
                .map(|v| rep_of(p, me, v).map(|r| W::value(r.into_owned())))
                .collect::<Result<_, _>>()?;
            let refs: Vec<&Value> = parts.iter().collect();
            return shares_of(plain::shape_op(kernel, &refs)?);
        }
        Kernel::Max { axis } | Kernel::ArgMax { axis } => {
            // Over all elements: the reduction along the one axis of the flattened tensor.
            let x = arg(0)?;
            let (x, axis) = match axis {
                Some(k) => (x, *k),
                None => (std::borrow::Cow::Owned(x.flatten()?), 0),
            };
            if matches!(kernel, Kernel::Max { .. }) {
                composite::max_axis(p, ctx, &x, axis)?
            } else {
                composite::argmax_axis(p, ctx, &x, axis)?
            }
        }
        Kernel::MaxOneHot => {
            let one = ring::encode_fixed(&ndarray::arr0(1.0).into_dyn(), frac)[[]];
            composite::max_onehot(p, ctx, &*arg(0)?, one)?
        }
        Kernel::Log2Lookup { from, table } => {
            // The entry at the highest bit (bit e + frac for 2^e), encoded: exact, no
            // truncation.
            let table: Vec<W> = table
                .iter()
                .map(|v| ring::encode_fixed(&ndarray::arr0(*v).into_dyn(), frac)[[]])
                .collect();
            let lo = from + i64::from(frac);
            composite::highest_bit_lookup(p, ctx, &*arg(0)?, lo, &table)?
        }
        Kernel::Neg => arg(0)?.neg(),
        Kernel::Add => arg(0)?.add(&*arg(1)?)?,
        Kernel::Sub => arg(0)?.sub(&*arg(1)?)?,
        Kernel::Mul { trunc } | Kernel::MatMul { trunc } => {
            let matrix = matches!(kernel, Kernel::MatMul { .. });
            match (W::shares_of(vals[0]), W::shares_of(vals[1])) {
                (Some(x), Some(y)) => {
                    if matrix {
                        p.matmul(ctx, x, y, *trunc)?
                    } else {
                        p.mul(ctx, x, y, *trunc)?
                    }
                }
                (Some(_), None) | (None, Some(_)) => {
                    let left = W::shares_of(vals[0]).is_some();
                    let (x, c) = match (W::shares_of(vals[0]), W::shares_of(vals[1])) {
                        (Some(x), _) => (x, vals[1]),
                        (_, Some(y)) => (y, vals[0]),
                        _ => unreachable!("one factor is shares"),
                    };
                    let c = encode(c, frac)?;
                    let product = if !matrix {
                        x.mul_public(&c)?
                    } else if left {
                        x.matmul_public_right(&c)?
                    } else {
                        x.matmul_public_left(&c)?
                    };
                    if *trunc > 0 {
                        p.trunc(ctx, &product, *trunc)?
                    } else {
                        product
                    }
                }
                _ => {
                    return Err(RunError::Internal(
                        "a product of two public values at a secret placement".into(),
                    ));
                }
            }
        }
        Kernel::MatMulCol2Im { trunc, window } => {
            let apply = |t: &RingTensor<W>| {
                crate::value::col2im(t, window, W::wrapping_add).map_err(RunError::Shape)
            };
            let shape_after = |product: &[usize]| -> Result<Vec<usize>, RunError> {
                let ghost = crate::protocol::shares::ghost(product);
                Ok(crate::value::col2im(&ghost, window, |_, _| ())
                    .map_err(RunError::Shape)?
                    .shape()
                    .to_vec())
            };
            match (W::shares_of(vals[0]), W::shares_of(vals[1])) {
                (Some(x), Some(y)) => {
                    let product = crate::protocol::shares::matmul_shape(x.shape(), y.shape())?;
                    let post = Linear {
                        apply: &apply,
                        shape: shape_after(&product)?,
                    };
                    p.matmul_then(ctx, x, y, *trunc, &post)?
                }
                (Some(_), None) | (None, Some(_)) => {
                    // A public factor: the product is local, then mapped and truncated.
                    let product = match (W::shares_of(vals[0]), W::shares_of(vals[1])) {
                        (Some(x), _) => x.matmul_public_right(&encode(vals[1], frac)?)?,
                        (_, Some(y)) => y.matmul_public_left(&encode(vals[0], frac)?)?,
                        _ => unreachable!("one factor is shares"),
                    };
                    let post = Linear {
                        apply: &apply,
                        shape: shape_after(product.shape())?,
                    };
                    let images = post.on_shares(&product)?;
                    if *trunc > 0 {
                        p.trunc(ctx, &images, *trunc)?
                    } else {
                        images
                    }
                }
                _ => {
                    return Err(RunError::Internal(
                        "a product of two public values at a secret placement".into(),
                    ));
                }
            }
        }
        Kernel::Lt | Kernel::Gt | Kernel::Le | Kernel::Ge => {
            let (x, y) = (arg(0)?, arg(1)?);
            match kernel {
                Kernel::Lt => composite::less(p, ctx, &x, &y, true)?,
                Kernel::Gt => composite::less(p, ctx, &y, &x, true)?,
                Kernel::Le => composite::less(p, ctx, &x, &y, false)?,
                _ => composite::less(p, ctx, &y, &x, false)?,
            }
        }
        Kernel::Eq | Kernel::Ne => {
            let eq = composite::equal(p, ctx, &*arg(0)?, &*arg(1)?)?;
            if matches!(kernel, Kernel::Ne) {
                composite::not_bit(p, me, &eq)?
            } else {
                eq
            }
        }
        Kernel::And => p.mul(ctx, &*arg(0)?, &*arg(1)?, 0)?,
        Kernel::Or => composite::or(p, ctx, &*arg(0)?, &*arg(1)?)?,
        Kernel::Not => composite::not_bit(p, me, &*arg(0)?)?,
        Kernel::Select => {
            let (a, b) = (arg(1)?, arg(2)?);
            match W::shares_of(vals[0]) {
                Some(c) => composite::select(p, ctx, c, &a, &b)?,
                None => {
                    let d = a.sub(&b)?;
                    b.add(&d.mul_public(&encode(vals[0], 0)?)?)?
                }
            }
        }
        Kernel::Refresh => p.refresh(ctx, &*arg(0)?)?,
        Kernel::Convert { to: Scalar::Fixed } => {
            let scale = RingTensor::from_elem(IxDyn(&[]), W::ONE << frac);
            arg(0)?.mul_public(&scale)?
        }
        other => {
            return Err(RunError::Internal(format!(
                "`{}` at a secret placement",
                other.name()
            )));
        }
    })
}

/// The shares a shape operation returned.
fn shares_of<W: Word>(v: Value) -> Result<Shares<W>, RunError> {
    match W::into_shares(v) {
        Ok(s) => Ok(s),
        Err(other) => Err(RunError::Internal(format!(
            "a shape operation on shares gave {}",
            other.kind()
        ))),
    }
}

/// A public or a party's plaintext value as ring elements: fixed-point with `frac` bits for
/// reals, as is for integers, 0/1 for booleans.
fn encode<W: Word>(value: &Value, frac: u32) -> Result<RingTensor<W>, RunError> {
    Ok(match value {
        Value::F64(t) => ring::encode_fixed(t, frac),
        Value::I64(t) => ring::encode_int(t),
        Value::Bool(t) => t.mapv(|b| if b { W::ONE } else { W::ZERO }),
        Value::Shares(_) | Value::Shares128(_) => {
            return Err(RunError::Internal("encoding shares as plaintext".into()));
        }
    })
}

/// A share argument as it is, a public one encoded as shares.
fn rep_of<'v, W: Word>(
    p: &dyn Protocol<W>,
    me: PartyId,
    v: &'v Value,
) -> Result<std::borrow::Cow<'v, Shares<W>>, RunError> {
    match W::shares_of(v) {
        Some(r) => Ok(std::borrow::Cow::Borrowed(r)),
        None => Ok(std::borrow::Cow::Owned(
            p.public(me, &encode(v, p.frac())?)?,
        )),
    }
}

/// Register `r` of `regs` (the executor's registers), or an error naming it if it is not set.
fn register<'v>(
    regs: &'v [Option<Value>],
    program: &Program,
    me: PartyId,
    r: Reg,
) -> Result<&'v Value, RunError> {
    regs[r as usize].as_ref().ok_or_else(|| {
        let info = &program.regs[r as usize];
        RunError::Internal(format!(
            "register %{r} (`{}`) is not set at party {}",
            info.name, program.parties[me]
        ))
    })
}

/// Is `nodes[i]` a sign comparison (`<`, `>`, `<=`, `>=`) at a secret placement?
fn secret_comparison(node: &Node) -> Option<(usize, Reg, &[Reg])> {
    match &node.op {
        Op::Compute {
            dst,
            at: Placement::Secret(s),
            kernel: Kernel::Lt | Kernel::Gt | Kernel::Le | Kernel::Ge,
            args,
        } => Some((*s, *dst, args)),
        _ => None,
    }
}

/// Whether `node` runs without messages: plaintext work, and the local ops on shares.
fn is_local(node: &Node) -> bool {
    match &node.op {
        Op::Compute { at, kernel, .. } => match at {
            Placement::Secret(_) => matches!(
                kernel,
                Kernel::Const(_)
                    | Kernel::Copy
                    | Kernel::Add
                    | Kernel::Sub
                    | Kernel::Neg
                    | Kernel::Transpose
                    | Kernel::Im2Col(_)
                    | Kernel::Col2Im(_)
                    | Kernel::Reshape
                    | Kernel::Index { .. }
                    | Kernel::Sum { .. }
                    | Kernel::Concat { .. }
                    | Kernel::Rows
                    | Kernel::Shape
            ),
            _ => true,
        },
        _ => false,
    }
}

/// Comparisons that can share the rounds of the one at `nodes[i]`: later comparisons of the same
/// placement in the same block, reached through local ops only, that do not depend on an earlier
/// comparison of the batch, and whose running early does not change what any op in between
/// reads. (The sign protocol is 10 rounds whatever its size, so k independent comparisons cost
/// the rounds of one.) The decision depends only on ops every member of the placement runs in
/// the same order, so all members batch alike.
fn comparison_batch(program: &Program, nodes: &[Node], i: usize) -> Option<Batch> {
    independent_batch(program, nodes, i, |node| {
        secret_comparison(node).map(|(s, dst, args)| (s, (), dst, args))
    })
}

/// Products that can share the round of the one at `nodes[i]` ([`round_product`]): later ones
/// of the same placement and truncation, under the conditions of [`comparison_batch`]. (The
/// optimizer's updates of every parameter, a layer's weight and input gradients: one round
/// instead of one each.)
fn product_batch(program: &Program, nodes: &[Node], i: usize) -> Option<Batch> {
    independent_batch(program, nodes, i, |node| {
        round_product(program, node).map(|((s, trunc), dst, args)| (s, trunc, dst, args))
    })
}

/// A batch of ops that run as one protocol call: the later members (the first is the op it
/// starts at), and the local ops among them that read a member's result, directly or through
/// another such op, which run after the call (a product's sum with the next term, in the
/// optimizer's updates of every parameter). Every other op among them runs before the call.
#[derive(Debug)]
struct Batch {
    members: Vec<usize>,
    deferred: Vec<usize>,
}

/// The later ops of `nodes` that can run together with `nodes[i]`: each picked by `pick` (which
/// gives the secret placement, a key, the destination and the arguments) with the same placement
/// and key as `nodes[i]`, reached through local ops only, and not reading a result of the batch.
/// The local ops in between are split into those that run before the call (they must not write
/// what the batch or a deferred op reads or writes) and those that read the batch's results and
/// run after it ([`Batch::deferred`]).
///
/// Every member of the placement must decide alike, but each sees only its own projection: an
/// op in which not every member takes part (a party's own work, a print, a loop over its data)
/// is in some members' programs only. Such an op is passed over as if absent (it runs before the
/// call): it cannot touch the placement's registers, which only ops of all its members write.
fn independent_batch<'n, K: PartialEq>(
    program: &Program,
    nodes: &'n [Node],
    i: usize,
    pick: impl Fn(&'n Node) -> Option<(usize, K, Reg, &'n [Reg])>,
) -> Option<Batch> {
    let (s, key, dst, args) = pick(&nodes[i])?;
    let members = &program.secrets[s].parties;
    let seen_by_all = |node: &Node| {
        let takes_part = tfe_ir::participants(program, node);
        members.iter().all(|m| takes_part[*m])
    };
    let key = (s, key);
    let mut members = Vec::new();
    let mut deferred = Vec::new();
    // What the members read and write, what the ops running before the call (early) and after
    // it (late) read and write.
    let mut member_writes = vec![dst];
    let mut member_reads: Vec<Reg> = args.to_vec();
    let (mut early_writes, mut early_reads): (Vec<Reg>, Vec<Reg>) = (Vec::new(), Vec::new());
    let (mut late_writes, mut late_reads): (Vec<Reg>, Vec<Reg>) = (Vec::new(), Vec::new());
    for (k, node) in nodes.iter().enumerate().skip(i + 1) {
        if !seen_by_all(node) {
            continue;
        }
        if let Some((s2, key2, dst2, args2)) = pick(node) {
            let joins = (s2, key2) == key
                && !args2
                    .iter()
                    .any(|a| member_writes.contains(a) || late_writes.contains(a))
                && ![
                    &member_writes,
                    &early_reads,
                    &early_writes,
                    &late_reads,
                    &late_writes,
                ]
                .iter()
                .any(|set| set.contains(&dst2));
            if joins {
                members.push(k);
                member_writes.push(dst2);
                member_reads.extend(args2.iter().copied());
                continue;
            }
            break;
        }
        if !is_local(node) {
            break;
        }
        let Op::Compute {
            dst: d, args: a, ..
        } = &node.op
        else {
            break;
        };
        if a.iter()
            .any(|r| member_writes.contains(r) || late_writes.contains(r))
        {
            // Reads the batch's result: runs after the call, where its order among the other
            // late ops is kept and the early ops cannot see it.
            deferred.push(k);
            late_writes.push(*d);
            late_reads.extend(a.iter().copied());
            continue;
        }
        // Runs before the call: it must not change what the batch or a late op reads, nor write
        // what they write (the original order would leave theirs).
        if [&member_reads, &member_writes, &late_reads, &late_writes]
            .iter()
            .any(|set| set.contains(d))
        {
            break;
        }
        early_writes.push(*d);
        early_reads.extend(a.iter().copied());
    }
    let last = *members.last()?;
    deferred.retain(|k| *k < last);
    Some(Batch { members, deferred })
}

/// Is `node` a product at a secret placement that takes a round: of two shares (`*`,
/// `matmul`), or of a share and a public value with a truncation after it? Its placement and
/// truncation (the batch's key), destination and arguments.
fn round_product<'n>(program: &Program, node: &'n Node) -> Option<((usize, u32), Reg, &'n [Reg])> {
    match &node.op {
        Op::Compute {
            dst,
            at: Placement::Secret(s),
            kernel: Kernel::Mul { trunc } | Kernel::MatMul { trunc },
            args,
        } if args.len() == 2 => {
            let secret = |r: Reg| program.regs[r as usize].placement == Placement::Secret(*s);
            let (a, b) = (secret(args[0]), secret(args[1]));
            ((a && b) || ((a || b) && *trunc > 0)).then_some(((*s, *trunc), *dst, args.as_slice()))
        }
        _ => None,
    }
}

/// Whether a value of `shape` may live in a register of shape `pattern`: the same rank, and
/// every dimension the compiler knows the same. A peer's message is checked against it, since
/// a value of another shape would fail later with an error that blames no one.
fn fits(shape: &[usize], pattern: &[tfe_ir::Dim]) -> bool {
    shape.len() == pattern.len()
        && shape.iter().zip(pattern).all(|(n, d)| match d {
            tfe_ir::Dim::Known(k) => *n as u64 == *k,
            tfe_ir::Dim::Runtime => true,
        })
}

/// A register's shape as the program writes it: `[_, 2]`.
pub(crate) fn pattern(shape: &[tfe_ir::Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            tfe_ir::Dim::Known(k) => k.to_string(),
            tfe_ir::Dim::Runtime => "_".to_string(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn plaintext_payload(v: &Value) -> Result<Payload, RunError> {
    Ok(match v {
        Value::F64(t) => Payload::F64(t.clone()),
        Value::I64(t) => Payload::I64(t.clone()),
        Value::Bool(t) => Payload::Bool(t.clone()),
        Value::Shares(_) | Value::Shares128(_) => {
            return Err(RunError::Internal("sending shares as plaintext".into()));
        }
    })
}

fn payload_value(p: Payload, from: PartyId, key: MsgKey) -> Result<Value, RunError> {
    Ok(match p {
        Payload::F64(t) => Value::F64(t),
        Payload::I64(t) => Value::I64(t),
        Payload::Bool(t) => Value::Bool(t),
        other => {
            return Err(RunError::BadMessage {
                from,
                detail: format!(
                    "expected a plaintext tensor for {key}, got {}",
                    other.describe()
                ),
            });
        }
    })
}
