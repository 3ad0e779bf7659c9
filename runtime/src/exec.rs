//! The executor: runs one party's program.
//!
//! Each op runs with a message key made of its id and how many times this party ran it before;
//! parties run shared ops in the same order (control flow is public, or local to one party), so
//! their keys agree without any coordination. Plaintext kernels are in `plain`, protocol steps in
//! `aby3`; this module only dispatches, moves values between registers, and does the I/O.

use std::path::{Path, PathBuf};

use ndarray::IxDyn;
use tfe_ir::{Kernel, MsgKey, Node, Op, PartyId, Placement, Program, Reg, Scalar};

use crate::aby3::{self, Aby3, Ctx, KeyStore};
use crate::net::{NetStats, Payload, Transport};
use crate::prg::SharedKey;
use crate::ring::{self, RingTensor};
use crate::value::{Rep, Value, scalar};
use crate::{RunError, csvio, plain};

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
}

/// What a party did.
#[derive(Debug, Clone, Default)]
pub struct PartyReport {
    pub net: NetStats,
    pub ops_run: u64,
    /// Wall time from the start of key agreement to the last message flushed.
    pub elapsed: std::time::Duration,
}

/// The op id of key agreement messages (no op of a program has it).
const KEY_AGREEMENT: u32 = u32::MAX;

/// Agrees on a fresh key with every set of two or three parties this party belongs to: the
/// lowest-numbered member of each set draws it from the operating system and sends it to the
/// others over the (authenticated, and with TLS encrypted) channels.
pub fn agree_keys(
    n_parties: usize,
    me: PartyId,
    net: &mut dyn Transport,
    seed: Option<u64>,
) -> Result<KeyStore, RunError> {
    let mut sets: Vec<Vec<PartyId>> = Vec::new();
    for a in 0..n_parties {
        for b in a + 1..n_parties {
            sets.push(vec![a, b]);
            for c in b + 1..n_parties {
                sets.push(vec![a, b, c]);
            }
        }
    }
    let mut store = KeyStore::default();
    let mut pending = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        if !set.contains(&me) {
            continue;
        }
        let key = MsgKey {
            op: KEY_AGREEMENT,
            count: i as u64,
            step: 0,
        };
        if set[0] == me {
            let k = match seed {
                Some(seed) => SharedKey::from_seed(seed, i as u64),
                None => SharedKey::random().map_err(RunError::Io)?,
            };
            for other in &set[1..] {
                net.send(*other, key, Payload::Key(k.0))
                    .map_err(RunError::Net)?;
            }
            store.insert(set.clone(), k);
        } else {
            pending.push((set.clone(), key));
        }
    }
    // The keys this party leads leave now: a leader of every set it is in never waits below.
    net.flush().map_err(RunError::Net)?;
    for (set, key) in pending {
        match net.recv(set[0], key).map_err(RunError::Net)? {
            Payload::Key(k) => store.insert(set, SharedKey(k)),
            other => {
                return Err(RunError::BadMessage {
                    from: set[0],
                    detail: format!("expected a key, got {other:?}"),
                });
            }
        }
    }
    Ok(store)
}

/// Runs `program` (this party's projection) as party `me`. `print` lines go to `out`.
pub fn run_party(
    program: &Program,
    me: PartyId,
    net: &mut dyn Transport,
    config: &PartyConfig,
    out: &mut dyn FnMut(&str),
) -> Result<PartyReport, RunError> {
    let start = std::time::Instant::now();
    let keys = agree_keys(program.parties.len(), me, net, config.seed)?;
    let mut exec = Exec {
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
    };
    exec.block(&program.body)?;
    exec.net.flush().map_err(RunError::Net)?;
    Ok(PartyReport {
        net: exec.net.stats(),
        ops_run: exec.ops_run,
        elapsed: start.elapsed(),
    })
}

struct Exec<'a> {
    program: &'a Program,
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

    fn aby3(&self, s: usize) -> Aby3 {
        let info = &self.program.secrets[s];
        Aby3 {
            members: [info.parties[0], info.parties[1], info.parties[2]],
            frac: info.frac_bits,
        }
    }

    fn block(&mut self, nodes: &[Node]) -> Result<(), RunError> {
        let mut i = 0;
        while i < nodes.len() {
            let from = i;
            i = self.step(nodes, i)?;
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

    /// Runs the op at `nodes[i]`, or a fused chain or a batch of comparisons starting there;
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
            if let Some(batch) = comparison_batch(nodes, i) {
                i = self.comparisons(nodes, i, &batch)?;
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
        let values: Vec<&Value> = chain
            .inputs
            .iter()
            .map(|r| self.get(*r))
            .collect::<Result<_, _>>()?;
        let shape = match values.first() {
            Some(Value::Rep(r)) if chain.shares => r.shape().to_vec(),
            Some(Value::F64(t)) if !chain.shares => t.shape().to_vec(),
            _ => return Ok(false),
        };
        let n: usize = shape.iter().product();
        let mut components: Vec<Vec<&[u64]>> = vec![Vec::new(), Vec::new()];
        for v in &values {
            match v {
                Value::Rep(r) if chain.shares && r.shape() == shape.as_slice() => {
                    let (Some(a), Some(b)) = (r.a.as_slice(), r.b.as_slice()) else {
                        return Ok(false);
                    };
                    components[0].push(a);
                    components[1].push(b);
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
        let runs = if chain.shares { 2 } else { 1 };
        let mut results: Vec<Vec<Vec<u64>>> = Vec::new();
        for inputs in components.iter().take(runs) {
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
                Value::Rep(Rep {
                    a: tensor(std::mem::take(&mut results[0][k]))?,
                    b: tensor(std::mem::take(&mut results[1][k]))?,
                })
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

    /// Runs the comparison at `nodes[first]` together with the later comparisons `batch` of the
    /// same placement (see [`comparison_batch`]): first the local ops between them, in order,
    /// then one sign protocol over all their differences, keyed by the first comparison's op.
    /// Returns the index after the last node run.
    fn comparisons(
        &mut self,
        nodes: &[Node],
        first: usize,
        batch: &[usize],
    ) -> Result<usize, RunError> {
        let last = *batch.last().expect("a batch has members");
        for (k, node) in nodes.iter().enumerate().take(last).skip(first + 1) {
            if !batch.contains(&k) {
                self.node(node)?;
            }
        }
        let members: Vec<&Node> = std::iter::once(first)
            .chain(batch.iter().copied())
            .map(|k| &nodes[k])
            .collect();
        let mut differences = Vec::new();
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
            let aby = self.aby3(*s);
            let vals: Vec<Value> = args
                .iter()
                .map(|a| self.get(*a).cloned())
                .collect::<Result<_, _>>()?;
            let as_rep = |v: &Value| -> Result<Rep, RunError> {
                match v {
                    Value::Rep(r) => Ok(r.clone()),
                    other => aby3::from_public(&aby, self.me, &Self::encode(other, aby.frac)?),
                }
            };
            let (x, y) = (as_rep(&vals[0])?, as_rep(&vals[1])?);
            let (p, q) = if matches!(kernel, Kernel::Lt | Kernel::Ge) {
                (x, y)
            } else {
                (y, x)
            };
            differences.push(aby3::sub(&p, &q)?);
        }
        // One tensor of all differences, flattened.
        let flat = |t: &RingTensor| t.iter().copied().collect::<Vec<u64>>();
        let sizes: Vec<usize> = differences.iter().map(|d| d.a.len()).collect();
        let total: usize = sizes.iter().sum();
        let joined = Rep {
            a: RingTensor::from_shape_vec(
                IxDyn(&[total]),
                differences.iter().flat_map(|d| flat(&d.a)).collect(),
            )
            .map_err(|e| RunError::Shape(e.to_string()))?,
            b: RingTensor::from_shape_vec(
                IxDyn(&[total]),
                differences.iter().flat_map(|d| flat(&d.b)).collect(),
            )
            .map_err(|e| RunError::Shape(e.to_string()))?,
        };
        let aby = self.aby3(s_placement);
        let lead = members[0].id;
        let count = self.counts[lead as usize];
        let mut ctx = Ctx {
            me: self.me,
            session: self.session,
            keys: &self.keys,
            net: &mut *self.net,
            op: lead,
            count,
            step: 0,
        };
        let signs = aby3::msb(&mut ctx, &aby, &joined)?;
        let mut offset = 0;
        for (node, (size, difference)) in members.iter().zip(sizes.iter().zip(&differences)) {
            self.counts[node.id as usize] += 1;
            self.ops_run += 1;
            let Op::Compute { dst, kernel, .. } = &node.op else {
                unreachable!("comparison_batch picks comparisons")
            };
            let part = |t: &RingTensor| {
                RingTensor::from_shape_vec(
                    IxDyn(difference.shape()),
                    t.as_slice().expect("contiguous")[offset..offset + size].to_vec(),
                )
                .map_err(|e| RunError::Shape(e.to_string()))
            };
            let m = Rep {
                a: part(&signs.a)?,
                b: part(&signs.b)?,
            };
            offset += size;
            let bit = if matches!(kernel, Kernel::Le | Kernel::Ge) {
                aby3::not_bit(&aby, self.me, &m)?
            } else {
                m
            };
            self.set(*dst, Value::Rep(bit));
        }
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
            Op::ReadCsv { dst, path, .. } => {
                let info = &self.program.regs[*dst as usize];
                let value = csvio::read(&self.data_dir.join(path), info.scalar, &info.shape)?;
                self.set(*dst, value);
            }
            Op::WriteCsv { src, path, .. } => {
                csvio::write(&self.data_dir.join(path), self.get(*src)?)?;
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
                for i in s..e {
                    if (i - s) % 16 == 15 {
                        self.net.check().map_err(RunError::Net)?;
                    }
                    self.set(*var, Value::I64(scalar(i)));
                    self.block(body)?;
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

    /// A public or a party's plaintext value as ring elements: fixed-point with `frac` bits for
    /// reals, as is for integers, 0/1 for booleans.
    fn encode(value: &Value, frac: u32) -> Result<RingTensor, RunError> {
        Ok(match value {
            Value::F64(t) => ring::encode_fixed(t, frac),
            Value::I64(t) => ring::encode_int(t),
            Value::Bool(t) => t.mapv(u64::from),
            Value::Rep(_) => return Err(RunError::Internal("encoding shares as plaintext".into())),
        })
    }

    fn decode(t: &RingTensor, scalar: Scalar, frac: u32) -> Value {
        match scalar {
            Scalar::Fixed | Scalar::Float => Value::F64(ring::decode_fixed(t, frac)),
            Scalar::Int => Value::I64(ring::decode_int(t)),
            Scalar::Bool => Value::Bool(t.mapv(|v| v != 0)),
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
        let aby = self.aby3(to);
        let frac = aby.frac;
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
                let v = Self::encode(self.get(src)?, frac)?;
                let rep = aby3::from_public(&aby, self.me, &v)?;
                self.set(dst, Value::Rep(rep));
            }
            Placement::Party(owner) => {
                let mine = if self.me == owner {
                    Some(Self::encode(self.get(src)?, frac)?)
                } else {
                    None
                };
                let mut ctx = Ctx {
                    me: self.me,
                    session: self.session,
                    keys: &self.keys,
                    net: &mut *self.net,
                    op,
                    count,
                    step: 0,
                };
                if let Some(rep) =
                    aby3::share(&mut ctx, &aby, owner, mine.as_ref(), known.as_deref())?
                {
                    self.set(dst, Value::Rep(rep));
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
                let aby = self.aby3(s);
                let member = aby.role_of(self.me).is_some();
                let rep = if member {
                    match self.get(src)? {
                        Value::Rep(r) => Some(r.clone()),
                        other => {
                            return Err(RunError::Internal(format!(
                                "revealing {} as shares",
                                other.kind()
                            )));
                        }
                    }
                } else {
                    None
                };
                let mut ctx = Ctx {
                    me: self.me,
                    session: self.session,
                    keys: &self.keys,
                    net: &mut *self.net,
                    op,
                    count,
                    step: 0,
                };
                if let Some(t) = aby3::reveal(&mut ctx, &aby, rep.as_ref(), &targets)? {
                    self.set(dst, Self::decode(&t, scalar, aby.frac));
                }
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
                    let v = payload_value(self.net.recv(q, key).map_err(RunError::Net)?, q)?;
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

    fn secret(
        &mut self,
        s: usize,
        kernel: &Kernel,
        args: &[Reg],
        dst: Reg,
        op: u32,
        count: u64,
    ) -> Result<Value, RunError> {
        let aby = self.aby3(s);
        let frac = aby.frac;
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
        let as_rep = |v: &Value| -> Result<Rep, RunError> {
            match v {
                Value::Rep(r) => Ok(r.clone()),
                other => aby3::from_public(&aby, me, &Self::encode(other, frac)?),
            }
        };
        let mut ctx = Ctx {
            me,
            session: self.session,
            keys: &self.keys,
            net: &mut *self.net,
            op,
            count,
            step: 0,
        };
        let rep = match kernel {
            Kernel::Copy
            | Kernel::Transpose
            | Kernel::Im2Col(_)
            | Kernel::Col2Im(_)
            | Kernel::Reshape
            | Kernel::Index { .. }
            | Kernel::Sum { .. } => {
                let first = match vals[0] {
                    Value::Rep(_) => None,
                    other => Some(Value::Rep(as_rep(other)?)),
                };
                let mut refs = vals.clone();
                if let Some(first) = &first {
                    refs[0] = first;
                }
                return plain::shape_op(kernel, &refs);
            }
            Kernel::Concat { .. } => {
                let parts: Vec<Value> = vals
                    .iter()
                    .map(|v| as_rep(v).map(Value::Rep))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&Value> = parts.iter().collect();
                return plain::shape_op(kernel, &refs);
            }
            Kernel::Max { axis } | Kernel::ArgMax { axis } => {
                // Over all elements: the reduction along the one axis of the flattened tensor.
                let x = rep_of(&aby, me, frac, vals[0])?;
                let (x, axis) = match axis {
                    Some(k) => (x, *k),
                    None => (std::borrow::Cow::Owned(flatten(&x)?), 0),
                };
                if matches!(kernel, Kernel::Max { .. }) {
                    aby3::max_axis(&mut ctx, &aby, &x, axis)?
                } else {
                    aby3::argmax_axis(&mut ctx, &aby, &x, axis)?
                }
            }
            Kernel::Log2Lookup { from, table } => {
                // The entry at the highest bit (bit e + frac for 2^e), encoded: exact, no
                // truncation.
                let table: Vec<u64> = table
                    .iter()
                    .map(|v| ring::encode_fixed(&ndarray::arr0(*v).into_dyn(), frac)[[]])
                    .collect();
                let lo = from + i64::from(frac);
                aby3::highest_bit_lookup(
                    &mut ctx,
                    &aby,
                    &*rep_of(&aby, me, frac, vals[0])?,
                    lo,
                    &table,
                )?
            }
            Kernel::Neg => aby3::neg(&*rep_of(&aby, me, frac, vals[0])?),
            Kernel::Add => aby3::add(
                &*rep_of(&aby, me, frac, vals[0])?,
                &*rep_of(&aby, me, frac, vals[1])?,
            )?,
            Kernel::Sub => aby3::sub(
                &*rep_of(&aby, me, frac, vals[0])?,
                &*rep_of(&aby, me, frac, vals[1])?,
            )?,
            Kernel::Mul { trunc } | Kernel::MatMul { trunc } => {
                let matrix = matches!(kernel, Kernel::MatMul { .. });
                match (&vals[0], &vals[1]) {
                    (Value::Rep(x), Value::Rep(y)) => {
                        if matrix {
                            aby3::matmul(&mut ctx, &aby, x, y, *trunc)?
                        } else {
                            aby3::mul(&mut ctx, &aby, x, y, *trunc)?
                        }
                    }
                    (x, c) | (c, x) if matches!(x, Value::Rep(_)) => {
                        let Value::Rep(x) = x else {
                            unreachable!("matched")
                        };
                        let c = Self::encode(c, frac)?;
                        let product = if !matrix {
                            aby3::mul_public(x, &c)?
                        } else if matches!(vals[0], Value::Rep(_)) {
                            aby3::matmul_public_right(x, &c)?
                        } else {
                            aby3::matmul_public_left(&c, x)?
                        };
                        if *trunc > 0 {
                            aby3::trunc(&mut ctx, &aby, &product, *trunc)?
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
            Kernel::Lt | Kernel::Gt | Kernel::Le | Kernel::Ge => {
                let (x, y) = (
                    rep_of(&aby, me, frac, vals[0])?,
                    rep_of(&aby, me, frac, vals[1])?,
                );
                let (p, q) = if matches!(kernel, Kernel::Lt | Kernel::Ge) {
                    (x, y)
                } else {
                    (y, x)
                };
                let m = aby3::msb(&mut ctx, &aby, &aby3::sub(&p, &q)?)?;
                if matches!(kernel, Kernel::Le | Kernel::Ge) {
                    aby3::not_bit(&aby, me, &m)?
                } else {
                    m
                }
            }
            Kernel::Eq | Kernel::Ne => {
                let (x, y) = (
                    rep_of(&aby, me, frac, vals[0])?,
                    rep_of(&aby, me, frac, vals[1])?,
                );
                let lt = aby3::msb(&mut ctx, &aby, &aby3::sub(&x, &y)?)?;
                let gt = aby3::msb(&mut ctx, &aby, &aby3::sub(&y, &x)?)?;
                let eq = aby3::mul(
                    &mut ctx,
                    &aby,
                    &aby3::not_bit(&aby, me, &lt)?,
                    &aby3::not_bit(&aby, me, &gt)?,
                    0,
                )?;
                if matches!(kernel, Kernel::Ne) {
                    aby3::not_bit(&aby, me, &eq)?
                } else {
                    eq
                }
            }
            Kernel::And => aby3::mul(
                &mut ctx,
                &aby,
                &*rep_of(&aby, me, frac, vals[0])?,
                &*rep_of(&aby, me, frac, vals[1])?,
                0,
            )?,
            Kernel::Or => {
                let (a, b) = (
                    rep_of(&aby, me, frac, vals[0])?,
                    rep_of(&aby, me, frac, vals[1])?,
                );
                let ab = aby3::mul(&mut ctx, &aby, &a, &b, 0)?;
                aby3::sub(&aby3::add(&a, &b)?, &ab)?
            }
            Kernel::Not => aby3::not_bit(&aby, me, &*rep_of(&aby, me, frac, vals[0])?)?,
            Kernel::Select => {
                let (c, a, b) = (
                    &vals[0],
                    rep_of(&aby, me, frac, vals[1])?,
                    rep_of(&aby, me, frac, vals[2])?,
                );
                let d = aby3::sub(&a, &b)?;
                let t = match c {
                    Value::Rep(c) => aby3::mul(&mut ctx, &aby, c, &d, 0)?,
                    public => aby3::mul_public(&d, &Self::encode(public, 0)?)?,
                };
                aby3::add(&b, &t)?
            }
            Kernel::Convert { to: Scalar::Fixed } => {
                let scale = RingTensor::from_elem(IxDyn(&[]), 1u64 << frac);
                aby3::mul_public(&*rep_of(&aby, me, frac, vals[0])?, &scale)?
            }
            other => {
                return Err(RunError::Internal(format!(
                    "`{}` at a secret placement",
                    other.name()
                )));
            }
        };
        Ok(Value::Rep(rep))
    }
}

/// A share argument as it is, a public one encoded as shares.
fn rep_of<'v>(
    aby: &Aby3,
    me: PartyId,
    frac: u32,
    v: &'v Value,
) -> Result<std::borrow::Cow<'v, Rep>, RunError> {
    match v {
        Value::Rep(r) => Ok(std::borrow::Cow::Borrowed(r)),
        other => Ok(std::borrow::Cow::Owned(aby3::from_public(
            aby,
            me,
            &Exec::encode(other, frac)?,
        )?)),
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
fn comparison_batch(nodes: &[Node], i: usize) -> Option<Vec<usize>> {
    let (s, dst, args) = secret_comparison(&nodes[i])?;
    let mut batch = Vec::new();
    // Registers written by the batch so far, and by ops in between.
    let mut batch_writes = vec![dst];
    let mut batch_reads: Vec<Reg> = args.to_vec();
    let mut between_writes: Vec<Reg> = Vec::new();
    let mut between_reads: Vec<Reg> = Vec::new();
    for (k, node) in nodes.iter().enumerate().skip(i + 1) {
        if let Some((s2, dst2, args2)) = secret_comparison(node) {
            let independent = s2 == s
                && !args2.iter().any(|a| batch_writes.contains(a))
                && !between_reads.contains(&dst2)
                && !between_writes.contains(&dst2)
                && !batch_writes.contains(&dst2);
            if independent {
                batch.push(k);
                batch_writes.push(dst2);
                batch_reads.extend(args2.iter().copied());
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
        // An op in between runs before the batch's sign protocol: it must not read a result of
        // the batch, nor overwrite what the batch reads.
        if a.iter().any(|r| batch_writes.contains(r))
            || batch_reads.contains(d)
            || batch_writes.contains(d)
        {
            break;
        }
        between_writes.push(*d);
        between_reads.extend(a.iter().copied());
    }
    (!batch.is_empty()).then_some(batch)
}

/// Shares of a tensor as one axis of all its elements.
fn flatten(x: &Rep) -> Result<Rep, RunError> {
    let n = x.a.len();
    let flat = |t: &RingTensor| {
        t.to_shape(IxDyn(&[n]))
            .map(|v| v.to_owned())
            .map_err(|e| RunError::Shape(e.to_string()))
    };
    Ok(Rep {
        a: flat(&x.a)?,
        b: flat(&x.b)?,
    })
}

fn plaintext_payload(v: &Value) -> Result<Payload, RunError> {
    Ok(match v {
        Value::F64(t) => Payload::F64(t.clone()),
        Value::I64(t) => Payload::I64(t.clone()),
        Value::Bool(t) => Payload::Bool(t.clone()),
        Value::Rep(_) => return Err(RunError::Internal("sending shares as plaintext".into())),
    })
}

fn payload_value(p: Payload, from: PartyId) -> Result<Value, RunError> {
    Ok(match p {
        Payload::F64(t) => Value::F64(t),
        Payload::I64(t) => Value::I64(t),
        Payload::Bool(t) => Value::Bool(t),
        other => {
            return Err(RunError::BadMessage {
                from,
                detail: format!("expected a plaintext tensor, got {other:?}"),
            });
        }
    })
}
