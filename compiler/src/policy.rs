//! The privacy policy of a checked program (`tfec policy`): for each party, where the data it
//! reads can flow (into which secret placements, to which parties through which reveals), and
//! every declassification with its line.
//!
//! Shares kept between runs are listed too: each `write_shares` (not a declassification: every
//! member keeps its own share) with the data it depends on, and each `read_shares`, whose
//! values count as a source of their own (the data of the run that stored them), so that a
//! reveal of something computed from a stored model says so.
//!
//! The analysis follows the data from each `read_csv` through the program. It is conservative:
//! a value depends on every input any of its operands depends on, a loop's variables on what
//! any iteration gives them, a function's result on all its arguments. Only the user's program
//! is reported on: library functions take no party's data on their own and never reveal (the
//! checker guarantees both), so every flow shows at a line of the program.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use tfe_grammar::{LineIndex, Span};

use crate::hir::*;

type Sources = BTreeSet<PartyId>;

/// A party's `read_csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    pub party: PartyId,
    pub path: String,
    pub span: Span,
}

/// Data of some parties entering a secret placement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShareFlow {
    pub to: SecretId,
    pub sources: Sources,
    pub span: Span,
}

/// A declassification: a value revealed to a party (`to: Some`) or to everyone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Declassification {
    pub to: Option<PartyId>,
    /// What is revealed (the span of the revealed expression).
    pub value: Span,
    pub span: Span,
    /// Where the value held it before: a secret placement or a party.
    pub from: Placement,
    pub sources: Sources,
}

/// A `write_shares`: a secret value kept as shares under `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Store {
    pub name: String,
    pub at: SecretId,
    /// What is stored (the span of the stored expression).
    pub value: Span,
    pub span: Span,
    pub sources: Sources,
}

/// A `read_shares`: shares stored by an earlier run, loaded into a secret placement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Load {
    pub name: String,
    pub at: SecretId,
    pub span: Span,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub inputs: BTreeSet<Input>,
    pub shares: BTreeSet<ShareFlow>,
    pub declassifications: BTreeSet<Declassification>,
    pub stores: BTreeSet<Store>,
    pub loads: BTreeSet<Load>,
    /// The names of the stored shares the program loads; in [`Sources`], the one at index `k`
    /// is the source `parties + k`.
    pub stored: Vec<String>,
}

/// Computes the policy of a checked program.
pub fn analyze(program: &Program) -> Policy {
    let n = program.functions.len();
    // Every stored value the program loads: a source of its own.
    let mut stored: Vec<String> = Vec::new();
    for f in &program.functions {
        visit_block(&f.body, &mut |e| {
            if let ExprKind::Builtin {
                builtin: Builtin::ReadShares { name },
                ..
            } = &e.kind
                && !stored.contains(name)
            {
                stored.push(name.clone());
            }
        });
    }
    let sources = Origins {
        parties: program.parties.len(),
        stored: &stored,
    };
    // Bottom-up: which parties' files each function reads, itself or through its callees.
    let mut internal_reads: Vec<Sources> = vec![Sources::new(); n];
    for id in 0..n {
        let mut reads = Sources::new();
        collect_reads(
            &program.functions[id].body,
            &internal_reads,
            &sources,
            &mut reads,
        );
        internal_reads[id] = reads;
    }
    // Top-down: what each parameter may carry, over all call sites, callers first.
    let mut param_sources: Vec<Vec<Sources>> = program
        .functions
        .iter()
        .map(|f| vec![Sources::new(); f.params.len()])
        .collect();
    let mut policy = Policy {
        stored: stored.clone(),
        ..Policy::default()
    };
    for id in (0..n).rev() {
        let function = &program.functions[id];
        let mut walker = Walker {
            record: function.module == "main",
            env: vec![Sources::new(); function.locals.len()],
            context: Sources::new(),
            internal_reads: &internal_reads,
            origins: &sources,
            calls: Vec::new(),
            policy: &mut policy,
        };
        for (i, p) in function.params.iter().enumerate() {
            walker.env[*p] = param_sources[id][i].clone();
        }
        walker.block(&function.body);
        for (callee, args) in std::mem::take(&mut walker.calls) {
            for (slot, s) in param_sources[callee].iter_mut().zip(args) {
                slot.extend(s);
            }
        }
    }
    policy
}

/// How sources are numbered: the parties, then the stored values loaded.
struct Origins<'a> {
    parties: usize,
    stored: &'a [String],
}

impl Origins<'_> {
    fn stored(&self, name: &str) -> PartyId {
        self.parties
            + self
                .stored
                .iter()
                .position(|s| s == name)
                .expect("every loaded name was collected")
    }
}

fn collect_reads(block: &Block, internal: &[Sources], origins: &Origins, out: &mut Sources) {
    visit_block(block, &mut |e| match &e.kind {
        ExprKind::Builtin {
            builtin: Builtin::ReadCsv { .. } | Builtin::ReadNpy { .. },
            ..
        } => {
            if let Placement::Party(p) = e.placement {
                out.insert(p);
            }
        }
        ExprKind::Builtin {
            builtin: Builtin::ReadShares { name },
            ..
        } => {
            out.insert(origins.stored(name));
        }
        ExprKind::Call { function, .. } | ExprKind::Grad { function, .. } => {
            out.extend(internal[*function].iter().copied())
        }
        _ => {}
    });
}

/// Calls `f` on every expression of a block, outermost first.
fn visit_block(block: &Block, f: &mut impl FnMut(&Expr)) {
    for stmt in &block.stmts {
        match stmt {
            Stmt::Let { value, .. } | Stmt::LetTuple { value, .. } | Stmt::Assign { value, .. } => {
                visit_expr(value, f)
            }
            Stmt::For {
                start, end, body, ..
            } => {
                visit_expr(start, f);
                visit_expr(end, f);
                visit_block(body, f);
            }
            Stmt::While { cond, body, .. } => {
                visit_expr(cond, f);
                visit_block(body, f);
            }
            Stmt::Return { value, .. } => value.iter().for_each(|v| visit_expr(v, f)),
            Stmt::Expr(e) => visit_expr(e, f),
        }
    }
    if let Some(tail) = &block.tail {
        visit_expr(tail, f);
    }
}

fn visit_expr(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Fixed(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Local(_) => {}
        ExprKind::List(items)
        | ExprKind::Tuple(items)
        | ExprKind::StructLit { fields: items }
        | ExprKind::Builtin { args: items, .. }
        | ExprKind::Call { args: items, .. }
        | ExprKind::Grad { args: items, .. } => items.iter().for_each(|i| visit_expr(i, f)),
        ExprKind::Unary { operand, .. } | ExprKind::Field { base: operand, .. } => {
            visit_expr(operand, f)
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            visit_expr(lhs, f);
            visit_expr(rhs, f);
        }
        ExprKind::Index { base, items } => {
            visit_expr(base, f);
            for item in items {
                match item {
                    IndexItem::Single(i) => visit_expr(i, f),
                    IndexItem::Range { start, end } => {
                        visit_expr(start, f);
                        visit_expr(end, f);
                    }
                }
            }
        }
        ExprKind::Convert { value, .. }
        | ExprKind::Share { value, .. }
        | ExprKind::Reveal { value, .. } => visit_expr(value, f),
        ExprKind::If {
            cond,
            then_block,
            else_block,
        } => {
            visit_expr(cond, f);
            visit_block(then_block, f);
            if let Some(b) = else_block {
                visit_block(b, f);
            }
        }
        ExprKind::On { body, .. } | ExprKind::Block(body) => visit_block(body, f),
    }
}

struct Walker<'p> {
    /// Whether this function's flows are reported (it is the user's code).
    record: bool,
    env: Vec<Sources>,
    /// The sources of the conditions the current code runs under: what it assigns depends on
    /// them too (an implicit flow).
    context: Sources,
    internal_reads: &'p [Sources],
    origins: &'p Origins<'p>,
    calls: Vec<(FunctionId, Vec<Sources>)>,
    policy: &'p mut Policy,
}

impl Walker<'_> {
    fn block(&mut self, block: &Block) -> Sources {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
        block
            .tail
            .as_ref()
            .map_or_else(Sources::new, |t| self.expr(t))
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Let { local, value, .. } | Stmt::Assign { local, value, .. } => {
                let mut s = self.expr(value);
                s.extend(self.context.iter().copied());
                self.env[*local].extend(s);
            }
            Stmt::LetTuple { locals, value, .. } => {
                let mut s = self.expr(value);
                s.extend(self.context.iter().copied());
                for local in locals.iter().flatten() {
                    self.env[*local].extend(s.iter().copied());
                }
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                ..
            } => {
                let mut bounds = self.expr(start);
                bounds.extend(self.expr(end));
                self.env[*var].extend(bounds.iter().copied());
                self.under(bounds, |w| {
                    w.until_stable(|w| {
                        w.block(body);
                    })
                });
            }
            Stmt::While { cond, body, .. } => {
                self.until_stable(|w| {
                    let c = w.expr(cond);
                    w.under(c, |w| {
                        w.block(body);
                    });
                });
            }
            Stmt::Return { value, .. } => {
                if let Some(v) = value {
                    self.expr(v);
                }
            }
            Stmt::Expr(e) => {
                self.expr(e);
            }
        }
    }

    /// Walks code that runs only under a condition with these sources.
    fn under(&mut self, sources: Sources, body: impl FnOnce(&mut Self)) {
        let saved = self.context.clone();
        self.context.extend(sources);
        body(self);
        self.context = saved;
    }

    /// Runs a loop body until no variable gains a source (sources only grow, so this ends).
    fn until_stable(&mut self, mut body: impl FnMut(&mut Self)) {
        loop {
            let before: usize = self.env.iter().map(BTreeSet::len).sum();
            body(self);
            let after: usize = self.env.iter().map(BTreeSet::len).sum();
            if after == before {
                break;
            }
        }
    }

    fn expr(&mut self, e: &Expr) -> Sources {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {
                Sources::new()
            }
            ExprKind::Local(id) => self.env[*id].clone(),
            ExprKind::List(items)
            | ExprKind::Tuple(items)
            | ExprKind::StructLit { fields: items } => self.union(items),
            ExprKind::Field { base, .. } => self.expr(base),
            ExprKind::Builtin { builtin, args } => {
                let mut s = self.union(args);
                if let (
                    Builtin::ReadCsv { path } | Builtin::ReadNpy { path },
                    Placement::Party(p),
                ) = (builtin, e.placement)
                {
                    s.insert(p);
                    if self.record {
                        self.policy.inputs.insert(Input {
                            party: p,
                            path: path.clone(),
                            span: e.span,
                        });
                    }
                }
                match (builtin, e.placement) {
                    (Builtin::ReadShares { name }, Placement::Secret(at)) => {
                        s.insert(self.origins.stored(name));
                        if self.record {
                            self.policy.loads.insert(Load {
                                name: name.clone(),
                                at,
                                span: e.span,
                            });
                        }
                    }
                    (Builtin::WriteShares { name }, Placement::Secret(at)) if self.record => {
                        self.policy.stores.insert(Store {
                            name: name.clone(),
                            at,
                            value: args[0].span,
                            span: e.span,
                            sources: s.clone(),
                        });
                    }
                    _ => {}
                }
                s
            }
            ExprKind::Call { function, args } | ExprKind::Grad { function, args, .. } => {
                let arg_sources: Vec<Sources> = args.iter().map(|a| self.expr(a)).collect();
                let mut s: Sources = arg_sources.iter().flatten().copied().collect();
                s.extend(self.internal_reads[*function].iter().copied());
                self.calls.push((*function, arg_sources));
                s
            }
            ExprKind::Unary { operand, .. } | ExprKind::Convert { value: operand, .. } => {
                self.expr(operand)
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                let mut s = self.expr(lhs);
                s.extend(self.expr(rhs));
                s
            }
            ExprKind::Index { base, items } => {
                let mut s = self.expr(base);
                for item in items {
                    match item {
                        IndexItem::Single(i) => s.extend(self.expr(i)),
                        IndexItem::Range { start, end } => {
                            s.extend(self.expr(start));
                            s.extend(self.expr(end));
                        }
                    }
                }
                s
            }
            ExprKind::Share { value, to } => {
                let s = self.expr(value);
                if self.record && !s.is_empty() {
                    self.policy.shares.insert(ShareFlow {
                        to: *to,
                        sources: s.clone(),
                        span: e.span,
                    });
                }
                s
            }
            ExprKind::Reveal { value, to } => {
                let s = self.expr(value);
                if self.record {
                    self.policy.declassifications.insert(Declassification {
                        to: *to,
                        value: value.span,
                        span: e.span,
                        from: value.placement,
                        sources: s.clone(),
                    });
                }
                s
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let c = self.expr(cond);
                let mut s = c.clone();
                self.under(c, |w| {
                    s.extend(w.block(then_block));
                    if let Some(b) = else_block {
                        s.extend(w.block(b));
                    }
                });
                s
            }
            ExprKind::On { body, .. } | ExprKind::Block(body) => self.block(body),
        }
    }

    fn union(&mut self, exprs: &[Expr]) -> Sources {
        let mut s = Sources::new();
        for e in exprs {
            s.extend(self.expr(e));
        }
        s
    }
}

/// The policy in plain words.
pub fn render(program: &Program, policy: &Policy, file_name: &str, src: &str) -> String {
    let lines = LineIndex::new(src);
    let line = |span: Span| lines.line_col(src, span.start).0;
    let party = |p: PartyId| program.parties[p].name.as_str();
    let n_parties = program.parties.len();
    let names = |s: &Sources| {
        let parties: Vec<&str> = s
            .iter()
            .filter(|p| **p < n_parties)
            .map(|p| party(*p))
            .collect();
        let stored: Vec<String> = s
            .iter()
            .filter_map(|p| policy.stored.get(p.wrapping_sub(n_parties)))
            .map(|name| format!("`{name}`"))
            .collect();
        match (parties.is_empty(), stored.is_empty()) {
            (_, true) => format!("the data of {}", parties.join(", ")),
            (true, false) => format!("the shares stored as {}", stored.join(", ")),
            (false, false) => format!(
                "the data of {} and the shares stored as {}",
                parties.join(", "),
                stored.join(", ")
            ),
        }
    };
    let line_list = |spans: &BTreeSet<usize>| {
        let v: Vec<String> = spans.iter().map(|l| l.to_string()).collect();
        format!(
            "line{} {}",
            if v.len() == 1 { "" } else { "s" },
            v.join(", ")
        )
    };
    let snippet = |span: Span| {
        let text: String = src[span.range()]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.chars().count() > 60 {
            format!("{}…", text.chars().take(59).collect::<String>())
        } else {
            text
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "Privacy policy of {file_name}\n");
    let all: Vec<&str> = program.parties.iter().map(|p| p.name.as_str()).collect();
    let _ = writeln!(out, "Parties: {}", all.join(", "));
    for s in &program.secrets {
        let members: Vec<&str> = s.parties.iter().map(|p| party(*p)).collect();
        let trust = match s.protocol {
            Protocol::Aby3 => format!(
                "replicated shares among {}; no value held there is seen by any one of them (semi-honest, at most one corrupted)",
                members.join(", ")
            ),
            Protocol::Pond => format!(
                "additive shares between {} and {}, with {} as dealer; no value held there is seen by any one of them (semi-honest, no collusion with the dealer)",
                members[0], members[1], members[2]
            ),
            Protocol::SecureNn => format!(
                "additive shares between {} and {}, with {} dealing and helping in comparisons; no value held there is seen by any one of them (semi-honest, no collusion with the helper)",
                members[0], members[1], members[2]
            ),
        };
        let _ = writeln!(
            out,
            "Secret placement {} = {}: {trust}",
            s.name,
            s.protocol.name()
        );
    }

    let _ = writeln!(out, "\nWhere each party's data goes:");
    let mut without_inputs = Vec::new();
    for (p, info) in program.parties.iter().enumerate() {
        let inputs: Vec<&Input> = policy.inputs.iter().filter(|i| i.party == p).collect();
        if inputs.is_empty() {
            without_inputs.push(info.name.as_str());
            continue;
        }
        let files: Vec<String> = inputs
            .iter()
            .map(|i| format!("{} (line {})", i.path, line(i.span)))
            .collect();
        let _ = writeln!(out, "  {} reads {}", info.name, files.join(", "));
        let mut shared: BTreeMap<SecretId, BTreeSet<usize>> = BTreeMap::new();
        for s in policy.shares.iter().filter(|s| s.sources.contains(&p)) {
            shared.entry(s.to).or_default().insert(line(s.span));
        }
        for (secret, at) in &shared {
            let _ = writeln!(
                out,
                "    - is secret-shared into {} ({})",
                program.secrets[*secret].name,
                line_list(at)
            );
        }
        let mut revealed: BTreeMap<Option<PartyId>, BTreeSet<usize>> = BTreeMap::new();
        for d in policy
            .declassifications
            .iter()
            .filter(|d| d.sources.contains(&p) && d.to != Some(p))
        {
            revealed.entry(d.to).or_default().insert(line(d.span));
        }
        for (to, at) in &revealed {
            let whom = to.map_or("every party (public)".to_string(), |q| party(q).to_string());
            let _ = writeln!(
                out,
                "    - reaches {whom} only through the declassifications at {}",
                line_list(at)
            );
        }
        let kept: BTreeSet<String> = policy
            .stores
            .iter()
            .filter(|s| s.sources.contains(&p))
            .map(|s| format!("`{}` (line {})", s.name, line(s.span)))
            .collect();
        if !kept.is_empty() {
            let kept: Vec<String> = kept.into_iter().collect();
            let _ = writeln!(out, "    - is kept as shares in {}", kept.join(", "));
        }
        if shared.is_empty() && revealed.is_empty() {
            let _ = writeln!(out, "    - stays at {}", info.name);
        }
    }
    if !without_inputs.is_empty() {
        let _ = writeln!(out, "  {} read no data", without_inputs.join(", "));
    }

    if !policy.stores.is_empty() || !policy.loads.is_empty() {
        let _ = writeln!(
            out,
            "\nShares kept between runs (not declassifications: each member keeps only its own share):"
        );
    }
    for s in &policy.stores {
        let info = &program.secrets[s.at];
        let holders: Vec<&str> = match info.protocol {
            Protocol::Aby3 => info.parties.iter().map(|p| party(*p)).collect(),
            Protocol::Pond | Protocol::SecureNn => {
                info.parties[..2].iter().map(|p| party(*p)).collect()
            }
        };
        let depends = if s.sources.is_empty() {
            "it depends on no party's data".to_string()
        } else {
            format!("it depends on {}", names(&s.sources))
        };
        let _ = writeln!(
            out,
            "  line {}: `{}` (secret at {}) is stored as `{}` by {}, each its own share; {depends}",
            line(s.span),
            snippet(s.value),
            info.name,
            s.name,
            holders.join(", ")
        );
    }
    for l in &policy.loads {
        let _ = writeln!(
            out,
            "  line {}: `{}` is loaded into {}: shares an earlier run stored, refreshed before use",
            line(l.span),
            l.name,
            program.secrets[l.at].name
        );
    }

    let _ = writeln!(out, "\nDeclassifications (every reveal in the program):");
    if policy.declassifications.is_empty() {
        let _ = writeln!(out, "  none: no party learns anything it does not hold");
    }
    for d in &policy.declassifications {
        let whom =
            d.to.map_or("every party (public)".to_string(), |q| party(q).to_string());
        let from = match d.from {
            Placement::Secret(s) => format!("secret at {}", program.secrets[s].name),
            Placement::Party(q) => format!("held by {}", party(q)),
            Placement::Public => "public".to_string(),
        };
        let depends = if d.sources.is_empty() {
            "depends on no party's data".to_string()
        } else {
            format!("depends on {}", names(&d.sources))
        };
        let _ = writeln!(
            out,
            "  line {}: `{}` ({from}) is revealed to {whom}; it {depends}",
            line(d.span),
            snippet(d.value)
        );
    }
    let _ = writeln!(
        out,
        "\nNothing else leaves a party or a secret placement: the checker admits no other flow."
    );
    out
}
