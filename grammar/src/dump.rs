//! A readable tree dump of the AST (`tfec build FILE --emit ast`): one node per line,
//! indented by depth, each with its position as `line:col-line:col`.

use std::fmt::Write;

use crate::ast::*;
use crate::print;
use crate::span::{LineIndex, Span};

/// Dumps a program; `src` is the text it was parsed from (for line and column numbers).
pub fn program(program: &Program, src: &str) -> String {
    let mut d = Dumper {
        out: String::new(),
        depth: 0,
        src,
        lines: LineIndex::new(src),
    };
    d.node("Program", program.span);
    d.depth += 1;
    for item in &program.items {
        d.item(item);
    }
    d.out
}

struct Dumper<'a> {
    out: String,
    depth: usize,
    src: &'a str,
    lines: LineIndex,
}

fn names(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn placement_text(placement: Option<&Placement>) -> String {
    match placement {
        None => String::new(),
        Some(Placement::Public(_)) => " @public".to_string(),
        Some(Placement::Named(name)) => format!(" @{}", name.name),
    }
}

pub(crate) fn binding_text(b: &Binding) -> String {
    match &b.name {
        None => "_".to_string(),
        Some(name) if b.mutable => format!("mut {}", name.name),
        Some(name) => name.name.clone(),
    }
}

fn type_text(ty: Option<&Type>) -> String {
    ty.map_or(String::new(), |t| format!(": {}", print::ty(t)))
}

impl Dumper<'_> {
    fn node(&mut self, label: &str, span: Span) {
        let (l0, c0) = self.lines.line_col(self.src, span.start);
        let (l1, c1) = self.lines.line_col(self.src, span.end);
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        let _ = writeln!(self.out, "{label}  [{l0}:{c0}-{l1}:{c1}]");
    }

    fn children(&mut self, f: impl FnOnce(&mut Self)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Use(u) => {
                let module = names(&u.module).replace(", ", "::");
                let imported = match &u.names {
                    UseNames::Names(n) => format!("{{{}}}", names(n)),
                    UseNames::Glob(_) => "*".to_string(),
                };
                self.node(&format!("Use {module}::{imported}"), u.span);
            }
            Item::Party(p) => self.node(&format!("Party {}", names(&p.names)), p.span),
            Item::Secret(s) => {
                self.node(
                    &format!("Secret {} = {}", s.name.name, s.protocol.name),
                    s.span,
                );
                self.children(|d| {
                    for arg in &s.args {
                        match arg {
                            ProtocolArg::Party(p) => d.node(&format!("Party {}", p.name), p.span),
                            ProtocolArg::Option { key, value } => {
                                d.node(&format!("Option {}", key.name), key.span.to(value.span));
                                d.children(|d| d.expr(value));
                            }
                        }
                    }
                });
            }
            Item::Const(c) => {
                let label = format!("Const {}{}", c.name.name, type_text(c.ty.as_ref()));
                self.node(&label, c.span);
                self.children(|d| d.expr(&c.value));
            }
            Item::Struct(st) => {
                self.node(&format!("Struct {}", st.name.name), st.span);
                self.children(|d| {
                    for field in &st.fields {
                        d.node(
                            &format!("Field {}: {}", field.name.name, print::ty(&field.ty)),
                            field.span,
                        );
                    }
                });
            }
            Item::Fn(f) => {
                let params: Vec<String> = f
                    .params
                    .iter()
                    .map(|p| {
                        format!(
                            "{}{}: {}{}",
                            if p.constant { "const " } else { "" },
                            p.name.name,
                            print::ty(&p.ty),
                            placement_text(p.placement.as_ref())
                        )
                    })
                    .collect();
                let mut label = format!("Fn {}({})", f.name.name, params.join(", "));
                if let Some(ret) = &f.ret {
                    let _ = write!(
                        label,
                        " -> {}{}",
                        print::ty(&ret.ty),
                        placement_text(ret.placement.as_ref())
                    );
                }
                if let Some(reveals) = &f.reveals {
                    let targets: Vec<String> = reveals
                        .targets
                        .iter()
                        .map(|t| match t {
                            Placement::Public(_) => "public".to_string(),
                            Placement::Named(n) => n.name.clone(),
                        })
                        .collect();
                    let _ = write!(label, " reveals({})", targets.join(", "));
                }
                if let Some(grads) = &f.grads {
                    let entries: Vec<String> = grads
                        .entries
                        .iter()
                        .map(|e| format!("{}: {}", e.param.name, e.function.name))
                        .collect();
                    let _ = write!(label, " grad({})", entries.join(", "));
                }
                self.node(&label, f.span);
                self.children(|d| d.block(&f.body));
            }
        }
    }

    fn block(&mut self, block: &Block) {
        self.node("Block", block.span);
        self.children(|d| {
            for stmt in &block.stmts {
                d.stmt(stmt);
            }
            if let Some(tail) = &block.tail {
                d.node("Tail", tail.span);
                d.children(|d| d.expr(tail));
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let {
                mutable,
                name,
                ty,
                placement,
                value,
            } => {
                let label = format!(
                    "Let {}{}{}{}",
                    if *mutable { "mut " } else { "" },
                    name.name,
                    type_text(ty.as_ref()),
                    placement_text(placement.as_ref())
                );
                self.node(&label, stmt.span);
                self.children(|d| d.expr(value));
            }
            StmtKind::LetTuple {
                bindings,
                ty,
                placement,
                value,
            } => {
                let names: Vec<String> = bindings.iter().map(binding_text).collect();
                let label = format!(
                    "LetTuple ({}){}{}",
                    names.join(", "),
                    type_text(ty.as_ref()),
                    placement_text(placement.as_ref())
                );
                self.node(&label, stmt.span);
                self.children(|d| d.expr(value));
            }
            StmtKind::Assign { target, value } => {
                self.node(&format!("Assign {}", target.name), stmt.span);
                self.children(|d| d.expr(value));
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                self.node(&format!("For {}", var.name), stmt.span);
                self.children(|d| {
                    d.expr(start);
                    d.expr(end);
                    d.block(body);
                });
            }
            StmtKind::While { cond, body } => {
                self.node("While", stmt.span);
                self.children(|d| {
                    d.expr(cond);
                    d.block(body);
                });
            }
            StmtKind::Return(value) => {
                self.node("Return", stmt.span);
                self.children(|d| {
                    if let Some(v) = value {
                        d.expr(v);
                    }
                });
            }
            StmtKind::Expr { expr, semi } => {
                self.node(
                    if *semi {
                        "ExprStmt"
                    } else {
                        "ExprStmt (no `;`)"
                    },
                    stmt.span,
                );
                self.children(|d| d.expr(expr));
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Int(v) => self.node(&format!("Int {v}"), expr.span),
            ExprKind::Fixed(v) => self.node(&format!("Fixed {v:?}"), expr.span),
            ExprKind::Bool(b) => self.node(&format!("Bool {b}"), expr.span),
            ExprKind::Str(s) => self.node(&format!("Str {s:?}"), expr.span),
            ExprKind::Var(name) => self.node(&format!("Var {}", name.name), expr.span),
            ExprKind::Array(items) => {
                self.node("Array", expr.span);
                self.children(|d| items.iter().for_each(|e| d.expr(e)));
            }
            ExprKind::Tuple(items) => {
                self.node("Tuple", expr.span);
                self.children(|d| items.iter().for_each(|e| d.expr(e)));
            }
            ExprKind::StructLit { name, fields } => {
                self.node(&format!("StructLit {}", name.name), expr.span);
                self.children(|d| {
                    for f in fields {
                        d.node(
                            &format!("FieldInit {}", f.name.name),
                            f.name.span.to(f.value.span),
                        );
                        d.children(|d| d.expr(&f.value));
                    }
                });
            }
            ExprKind::Field { base, field } => {
                self.node(&format!("Field .{}", field.name), expr.span);
                self.children(|d| d.expr(base));
            }
            ExprKind::Call { callee, args } => {
                self.node(&format!("Call {}", callee.to_text()), expr.span);
                self.children(|d| {
                    for arg in args {
                        match &arg.name {
                            Some(name) => {
                                d.node(
                                    &format!("Named {}", name.name),
                                    name.span.to(arg.value.span),
                                );
                                d.children(|d| d.expr(&arg.value));
                            }
                            None => d.expr(&arg.value),
                        }
                    }
                });
            }
            ExprKind::Index { base, indices } => {
                self.node("Index", expr.span);
                self.children(|d| {
                    d.expr(base);
                    for item in indices {
                        match item {
                            IndexItem::Single(e) => d.expr(e),
                            IndexItem::Range { start, end, span } => {
                                d.node("Range", *span);
                                d.children(|d| {
                                    d.expr(start);
                                    d.expr(end);
                                });
                            }
                        }
                    }
                });
            }
            ExprKind::Unary { op, operand } => {
                self.node(&format!("Unary {}", op.symbol()), expr.span);
                self.children(|d| d.expr(operand));
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.node(&format!("Binary {}", op.symbol()), expr.span);
                self.children(|d| {
                    d.expr(lhs);
                    d.expr(rhs);
                });
            }
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.node("If", expr.span);
                self.children(|d| {
                    d.expr(cond);
                    d.block(then_branch);
                    if let Some(e) = else_branch {
                        d.expr(e);
                    }
                });
            }
            ExprKind::On { party, body } => {
                self.node(&format!("On {}", party.name), expr.span);
                self.children(|d| d.block(body));
            }
            ExprKind::Block(block) => self.block(block),
        }
    }
}
