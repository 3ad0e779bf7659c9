//! A readable dump of the checked program (`tfec build FILE --emit hir`): one node per line,
//! each expression with its type and placement (`: fixed[_, 30] @rep`).

use std::fmt::Write;

use crate::hir::*;

pub fn program(program: &Program) -> String {
    let mut d = Dumper {
        out: String::new(),
        depth: 0,
        program,
        function: None,
    };
    let parties: Vec<&str> = program.parties.iter().map(|p| p.name.as_str()).collect();
    let _ = writeln!(d.out, "parties {}", parties.join(", "));
    for s in &program.secrets {
        let members: Vec<&str> = s
            .parties
            .iter()
            .map(|p| program.parties[*p].name.as_str())
            .collect();
        let _ = writeln!(
            d.out,
            "secret {} = {}({}) ring {} frac {}",
            s.name,
            s.protocol.name(),
            members.join(", "),
            s.ring_bits,
            s.frac_bits
        );
    }
    for s in &program.structs {
        let fields: Vec<String> = s.fields.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        let _ = writeln!(d.out, "struct {} {{ {} }}", s.name, fields.join(", "));
    }
    for (id, f) in program.functions.iter().enumerate() {
        d.function = Some(f);
        d.out.push('\n');
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| {
                let l = &f.locals[*p];
                format!(
                    "{}: {} @{}",
                    l.name,
                    l.ty,
                    program.placement_name(l.placement)
                )
            })
            .collect();
        let reveals: Vec<String> = f
            .reveals
            .iter()
            .map(|p| program.placement_name(*p))
            .collect();
        let _ = writeln!(
            d.out,
            "fn#{id} {}::{}({}) -> {} @{}{}{}",
            f.module,
            f.name,
            params.join(", "),
            f.ret_type,
            program.placement_name(f.ret_placement),
            if reveals.is_empty() {
                String::new()
            } else {
                format!(" reveals({})", reveals.join(", "))
            } + &grads_text(f),
            if id == program.main { "  (main)" } else { "" },
        );
        d.depth = 1;
        d.block(&f.body);
    }
    d.out
}

/// ` grad(x: fn#4)`: a function's own gradients, by parameter.
fn grads_text(f: &Function) -> String {
    let Some(grads) = &f.grads else {
        return String::new();
    };
    let entries: Vec<String> = f
        .params
        .iter()
        .zip(grads)
        .filter_map(|(p, g)| g.map(|g| format!("{}: fn#{}", f.locals[*p].name, g.at_result)))
        .collect();
    format!(" grad({})", entries.join(", "))
}

struct Dumper<'a> {
    out: String,
    depth: usize,
    program: &'a Program,
    function: Option<&'a Function>,
}

impl Dumper<'_> {
    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }

    fn local(&self, id: LocalId) -> String {
        let l = &self.function.expect("inside a function").locals[id];
        format!(
            "{}: {} @{}",
            l.name,
            l.ty,
            self.program.placement_name(l.placement)
        )
    }

    fn block(&mut self, block: &Block) {
        self.line("block");
        self.nested(|d| {
            for stmt in &block.stmts {
                d.stmt(stmt);
            }
            if let Some(tail) = &block.tail {
                d.line("tail");
                d.nested(|d| d.expr(tail));
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Let { local, value, .. } => {
                let text = format!("let {}", self.local(*local));
                self.line(&text);
                self.nested(|d| d.expr(value));
            }
            Stmt::LetTuple { locals, value, .. } => {
                let names: Vec<String> = locals
                    .iter()
                    .map(|l| l.map_or("_".to_string(), |l| self.local(l)))
                    .collect();
                let text = format!("let ({})", names.join(", "));
                self.line(&text);
                self.nested(|d| d.expr(value));
            }
            Stmt::Assign { local, value, .. } => {
                let text = format!("assign {}", self.local(*local));
                self.line(&text);
                self.nested(|d| d.expr(value));
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                ..
            } => {
                let text = format!("for {}", self.local(*var));
                self.line(&text);
                self.nested(|d| {
                    d.expr(start);
                    d.expr(end);
                    d.block(body);
                });
            }
            Stmt::While { cond, body, .. } => {
                self.line("while");
                self.nested(|d| {
                    d.expr(cond);
                    d.block(body);
                });
            }
            Stmt::Return { value, .. } => {
                self.line("return");
                self.nested(|d| value.iter().for_each(|v| d.expr(v)));
            }
            Stmt::Expr(e) => self.expr(e),
        }
    }

    fn expr(&mut self, e: &Expr) {
        let at = format!(": {} @{}", e.ty, self.program.placement_name(e.placement));
        match &e.kind {
            ExprKind::Int(v) => self.line(&format!("int {v} {at}")),
            ExprKind::Fixed(v) => self.line(&format!("fixed {v:?} {at}")),
            ExprKind::Bool(b) => self.line(&format!("bool {b} {at}")),
            ExprKind::Str(s) => self.line(&format!("str {s:?} {at}")),
            ExprKind::Local(id) => {
                let name = &self.function.expect("inside a function").locals[*id].name;
                self.line(&format!("local {name} {at}"));
            }
            ExprKind::List(items) => {
                self.line(&format!("list {at}"));
                self.nested(|d| items.iter().for_each(|i| d.expr(i)));
            }
            ExprKind::Unary { op, operand } => {
                self.line(&format!("{} {at}", op.symbol()));
                self.nested(|d| d.expr(operand));
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.line(&format!("{} {at}", op.symbol()));
                self.nested(|d| {
                    d.expr(lhs);
                    d.expr(rhs);
                });
            }
            ExprKind::Builtin { builtin, args } => {
                let detail = match builtin {
                    Builtin::ReadCsv { path }
                    | Builtin::WriteCsv { path }
                    | Builtin::ReadNpy { path }
                    | Builtin::WriteNpy { path }
                    | Builtin::WriteShares { name: path }
                    | Builtin::ReadShares { name: path } => format!(" {path:?}"),
                    Builtin::Concat { axis } => format!(" axis {axis}"),
                    Builtin::Sum { axis: Some(axis) }
                    | Builtin::Max { axis: Some(axis) }
                    | Builtin::ArgMax { axis: Some(axis) } => {
                        format!(" axis {axis}")
                    }
                    _ => String::new(),
                };
                self.line(&format!("{}{detail} {at}", builtin.name()));
                self.nested(|d| args.iter().for_each(|a| d.expr(a)));
            }
            ExprKind::Call { function, args } => {
                let f = &self.program.functions[*function];
                self.line(&format!("call fn#{function} {}::{} {at}", f.module, f.name));
                self.nested(|d| args.iter().for_each(|a| d.expr(a)));
            }
            ExprKind::StructLit { fields } => {
                self.line(&format!("struct {at}"));
                self.nested(|d| fields.iter().for_each(|f| d.expr(f)));
            }
            ExprKind::Tuple(items) => {
                self.line(&format!("tuple {at}"));
                self.nested(|d| items.iter().for_each(|i| d.expr(i)));
            }
            ExprKind::Field { base, index } => {
                let name = match &base.ty {
                    crate::types::Type::Struct(st) => {
                        self.program.structs[st.id].fields[*index].0.clone()
                    }
                    _ => index.to_string(),
                };
                self.line(&format!(".{name} {at}"));
                self.nested(|d| d.expr(base));
            }
            ExprKind::Grad {
                function,
                args,
                with_value,
            } => {
                let f = &self.program.functions[*function];
                let what = if *with_value {
                    "value_and_grad"
                } else {
                    "grad"
                };
                self.line(&format!(
                    "{what} fn#{function} {}::{} {at}",
                    f.module, f.name
                ));
                self.nested(|d| args.iter().for_each(|a| d.expr(a)));
            }
            ExprKind::Index { base, items } => {
                self.line(&format!("index {at}"));
                self.nested(|d| {
                    d.expr(base);
                    for item in items {
                        match item {
                            IndexItem::Single(i) => d.expr(i),
                            IndexItem::Range { start, end } => {
                                d.line("range");
                                d.nested(|d| {
                                    d.expr(start);
                                    d.expr(end);
                                });
                            }
                        }
                    }
                });
            }
            ExprKind::Convert { value, to } => {
                self.line(&format!("convert to {} {at}", to.name()));
                self.nested(|d| d.expr(value));
            }
            ExprKind::Share { value, .. } => {
                self.line(&format!("share {at}"));
                self.nested(|d| d.expr(value));
            }
            ExprKind::Reveal { value, .. } => {
                self.line(&format!("reveal {at}"));
                self.nested(|d| d.expr(value));
            }
            ExprKind::If {
                cond,
                then_block,
                else_block,
            } => {
                self.line(&format!("if {at}"));
                self.nested(|d| {
                    d.expr(cond);
                    d.block(then_block);
                    if let Some(b) = else_block {
                        d.block(b);
                    }
                });
            }
            ExprKind::On { body, .. } => {
                self.line(&format!("on {at}"));
                self.nested(|d| d.block(body));
            }
            ExprKind::Block(b) => self.block(b),
        }
    }
}
