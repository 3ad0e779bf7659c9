//! The pretty-printer: AST back to canonical `.tfe` source.
//!
//! Parentheses are put back from operator precedence (the AST keeps none), block-like
//! expressions are parenthesised where the grammar requires it, and literals are written so that
//! the lexer reads back the same value. `parse(print(ast))` equals `ast` up to spans; a property
//! test over generated trees checks it. Comments are not kept by the AST, so they are not printed.

use std::fmt::Write;

use crate::ast::*;

/// Prints a whole program, four spaces per indentation level.
pub fn program(program: &Program) -> String {
    let mut p = Printer::default();
    let mut previous: Option<&Item> = None;
    for item in &program.items {
        if let Some(prev) = previous
            && (std::mem::discriminant(prev) != std::mem::discriminant(item)
                || matches!(item, Item::Fn(_)))
        {
            p.out.push('\n');
        }
        p.item(item);
        previous = Some(item);
    }
    p.out
}

/// Prints one expression as it would appear on the right of `let x = `.
pub fn expr(expr: &Expr) -> String {
    let mut p = Printer::default();
    p.expr(expr, Context::TOP);
    p.out
}

/// Prints a type: `fixed[_, 30]`.
pub fn ty(ty: &Type) -> String {
    let mut p = Printer::default();
    p.ty(ty);
    p.out
}

/// Where an expression is printed: which operators bind loosely enough to need parentheses,
/// and whether a block-like expression may stand there bare.
#[derive(Clone, Copy)]
struct Context {
    min_precedence: u8,
    allow_block_like: bool,
    /// Whether a struct literal may stand here without parentheses: not in a condition or a
    /// loop range (outside brackets), where its `{` would read as the block's.
    allow_struct: bool,
}

impl Context {
    /// Right of `=`, a call argument, inside parentheses.
    const TOP: Context = Context {
        min_precedence: 0,
        allow_block_like: true,
        allow_struct: true,
    };
    /// An index, a block's tail: operators only.
    const OPERATOR: Context = Context {
        min_precedence: 0,
        allow_block_like: false,
        allow_struct: true,
    };
    /// The condition of `if` and `while`, the range of `for`: operators, no struct literal.
    const CONDITION: Context = Context {
        min_precedence: 0,
        allow_block_like: false,
        allow_struct: false,
    };
    const UNARY_PRECEDENCE: u8 = 6;
    const POSTFIX_PRECEDENCE: u8 = 7;

    /// An operand inside this context: struct literals are refused as they are here.
    fn operand(self, min_precedence: u8) -> Context {
        Context {
            min_precedence,
            allow_block_like: false,
            allow_struct: self.allow_struct,
        }
    }
}

#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

impl Printer {
    fn line_start(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Use(u) => {
                self.out.push_str("use ");
                for segment in &u.module {
                    let _ = write!(self.out, "{}::", segment.name);
                }
                match &u.names {
                    UseNames::Names(names) if names.len() == 1 => self.out.push_str(&names[0].name),
                    UseNames::Names(names) => {
                        self.out.push('{');
                        self.idents(names);
                        self.out.push('}');
                    }
                    UseNames::Glob(_) => self.out.push('*'),
                }
                self.out.push_str(";\n");
            }
            Item::Party(p) => {
                self.out.push_str("party ");
                self.idents(&p.names);
                self.out.push_str(";\n");
            }
            Item::Secret(s) => {
                let _ = write!(self.out, "secret {} = {}(", s.name.name, s.protocol.name);
                for (i, arg) in s.args.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match arg {
                        ProtocolArg::Party(party) => self.out.push_str(&party.name),
                        ProtocolArg::Option { key, value } => {
                            let _ = write!(self.out, "{} = ", key.name);
                            self.expr(value, Context::TOP);
                        }
                    }
                }
                self.out.push_str(");\n");
            }
            Item::Const(c) => {
                let _ = write!(self.out, "const {}", c.name.name);
                if let Some(ty) = &c.ty {
                    self.out.push_str(": ");
                    self.ty(ty);
                }
                self.out.push_str(" = ");
                self.expr(&c.value, Context::TOP);
                self.out.push_str(";\n");
            }
            Item::Struct(st) => {
                let _ = writeln!(self.out, "struct {} {{", st.name.name);
                for field in &st.fields {
                    let _ = write!(self.out, "    {}: ", field.name.name);
                    self.ty(&field.ty);
                    self.out.push_str(",\n");
                }
                self.out.push_str("}\n");
            }
            Item::Fn(f) => {
                let _ = write!(self.out, "fn {}(", f.name.name);
                for (i, param) in f.params.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    if param.constant {
                        self.out.push_str("const ");
                    }
                    let _ = write!(self.out, "{}: ", param.name.name);
                    self.ty(&param.ty);
                    self.placement(param.placement.as_ref());
                }
                self.out.push(')');
                if let Some(ret) = &f.ret {
                    self.out.push_str(" -> ");
                    self.ty(&ret.ty);
                    self.placement(ret.placement.as_ref());
                }
                if let Some(reveals) = &f.reveals {
                    self.out.push_str(" reveals(");
                    for (i, target) in reveals.targets.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(", ");
                        }
                        match target {
                            Placement::Public(_) => self.out.push_str("public"),
                            Placement::Named(name) => self.out.push_str(&name.name),
                        }
                    }
                    self.out.push(')');
                }
                if let Some(grads) = &f.grads {
                    self.out.push_str(" grad(");
                    for (i, entry) in grads.entries.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(", ");
                        }
                        let _ = write!(self.out, "{}: {}", entry.param.name, entry.function.name);
                    }
                    self.out.push(')');
                }
                self.out.push(' ');
                self.block(&f.body);
                self.out.push('\n');
            }
        }
    }

    fn idents(&mut self, idents: &[Ident]) {
        for (i, ident) in idents.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(&ident.name);
        }
    }

    fn placement(&mut self, placement: Option<&Placement>) {
        match placement {
            None => {}
            Some(Placement::Public(_)) => self.out.push_str(" @public"),
            Some(Placement::Named(name)) => {
                let _ = write!(self.out, " @{}", name.name);
            }
        }
    }

    fn ty(&mut self, ty: &Type) {
        let (scalar, dims) = match &ty.kind {
            TypeKind::Tensor { scalar, dims } => (scalar, dims),
            TypeKind::Named(name) => {
                self.out.push_str(&name.name);
                return;
            }
            TypeKind::Tuple(items) => {
                self.out.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.ty(item);
                }
                self.out.push(')');
                return;
            }
        };
        self.out.push_str(scalar.keyword());
        if let Some(dims) = dims {
            self.out.push('[');
            for (i, dim) in dims.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                match dim {
                    Dim::Fixed(n, _) => {
                        let _ = write!(self.out, "{n}");
                    }
                    Dim::Named(name) => self.out.push_str(&name.name),
                    Dim::Unknown(_) => self.out.push('_'),
                    Dim::Any(_) => self.out.push_str(".."),
                }
            }
            self.out.push(']');
        }
    }

    fn block(&mut self, block: &Block) {
        if block.stmts.is_empty() && block.tail.is_none() {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        self.indent += 1;
        for stmt in &block.stmts {
            self.line_start();
            self.stmt(stmt);
            self.out.push('\n');
        }
        if let Some(tail) = &block.tail {
            self.line_start();
            // A block-like tail is written bare: the parser moves it back into the tail.
            let context = if tail.is_block_like() {
                Context::TOP
            } else {
                Context::OPERATOR
            };
            self.expr(tail, context);
            self.out.push('\n');
        }
        self.indent -= 1;
        self.line_start();
        self.out.push('}');
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
                self.out
                    .push_str(if *mutable { "let mut " } else { "let " });
                self.out.push_str(&name.name);
                if let Some(ty) = ty {
                    self.out.push_str(": ");
                    self.ty(ty);
                }
                self.placement(placement.as_ref());
                self.out.push_str(" = ");
                self.expr(value, Context::TOP);
                self.out.push(';');
            }
            StmtKind::LetTuple {
                bindings,
                ty,
                placement,
                value,
            } => {
                let names: Vec<String> = bindings.iter().map(crate::dump::binding_text).collect();
                let _ = write!(self.out, "let ({})", names.join(", "));
                if let Some(ty) = ty {
                    self.out.push_str(": ");
                    self.ty(ty);
                }
                self.placement(placement.as_ref());
                self.out.push_str(" = ");
                self.expr(value, Context::TOP);
                self.out.push(';');
            }
            StmtKind::Assign { target, value } => {
                let _ = write!(self.out, "{} = ", target.name);
                self.expr(value, Context::TOP);
                self.out.push(';');
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let _ = write!(self.out, "for {} in ", var.name);
                self.range(start, end, Context::CONDITION);
                self.out.push(' ');
                self.block(body);
            }
            StmtKind::While { cond, body } => {
                self.out.push_str("while ");
                self.expr(cond, Context::CONDITION);
                self.out.push(' ');
                self.block(body);
            }
            StmtKind::Return(value) => {
                self.out.push_str("return");
                if let Some(value) = value {
                    self.out.push(' ');
                    self.expr(value, Context::TOP);
                }
                self.out.push(';');
            }
            StmtKind::Expr { expr, semi } => {
                self.expr(
                    expr,
                    if expr.is_block_like() {
                        Context::TOP
                    } else {
                        Context::OPERATOR
                    },
                );
                if *semi {
                    self.out.push(';');
                }
            }
        }
    }

    /// `a..b` when both bounds are simple, `a .. b` otherwise, for readability.
    fn range(&mut self, start: &Expr, end: &Expr, context: Context) {
        let simple = |e: &Expr| {
            matches!(
                e.kind,
                ExprKind::Int(_) | ExprKind::Var(_) | ExprKind::Call { .. }
            )
        };
        let sep = if simple(start) && simple(end) {
            ".."
        } else {
            " .. "
        };
        self.expr(start, context);
        self.out.push_str(sep);
        self.expr(end, context);
    }

    fn expr(&mut self, expr: &Expr, context: Context) {
        let precedence = match &expr.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Unary { .. } => Context::UNARY_PRECEDENCE,
            _ => Context::POSTFIX_PRECEDENCE,
        };
        let parens = precedence < context.min_precedence
            || (expr.is_block_like() && !context.allow_block_like)
            || (matches!(expr.kind, ExprKind::StructLit { .. }) && !context.allow_struct);
        if parens {
            self.out.push('(');
            self.expr_bare(expr, Context::TOP);
            self.out.push(')');
        } else {
            self.expr_bare(expr, context);
        }
    }

    fn expr_bare(&mut self, expr: &Expr, context: Context) {
        match &expr.kind {
            ExprKind::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            ExprKind::Fixed(v) => {
                // `{:?}` is the shortest text that reads back as the same f64, and always has
                // a `.` or an exponent, so it never reads back as an integer.
                let _ = write!(self.out, "{v:?}");
            }
            ExprKind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Str(s) => self.string(s),
            ExprKind::Var(name) => self.out.push_str(&name.name),
            ExprKind::Array(items) => {
                self.out.push('[');
                self.exprs(items);
                self.out.push(']');
            }
            ExprKind::Tuple(items) => {
                self.out.push('(');
                self.exprs(items);
                self.out.push(')');
            }
            ExprKind::StructLit { name, fields } => {
                let _ = write!(self.out, "{} {{", name.name);
                for (i, f) in fields.iter().enumerate() {
                    self.out.push_str(if i == 0 { " " } else { ", " });
                    let _ = write!(self.out, "{}: ", f.name.name);
                    self.expr(&f.value, Context::TOP);
                }
                self.out
                    .push_str(if fields.is_empty() { "}" } else { " }" });
            }
            ExprKind::Field { base, field } => {
                self.expr(base, context.operand(Context::POSTFIX_PRECEDENCE));
                let _ = write!(self.out, ".{}", field.name);
            }
            ExprKind::Call { callee, args } => {
                self.out.push_str(&callee.to_text());
                self.out.push('(');
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    if let Some(name) = &arg.name {
                        let _ = write!(self.out, "{}: ", name.name);
                    }
                    self.expr(&arg.value, Context::TOP);
                }
                self.out.push(')');
            }
            ExprKind::Index { base, indices } => {
                self.expr(base, context.operand(Context::POSTFIX_PRECEDENCE));
                self.out.push('[');
                for (i, item) in indices.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match item {
                        IndexItem::Single(e) => self.expr(e, Context::OPERATOR),
                        IndexItem::Range { start, end, .. } => {
                            self.range(start, end, Context::OPERATOR)
                        }
                    }
                }
                self.out.push(']');
            }
            ExprKind::Unary { op, operand } => {
                self.out.push_str(op.symbol());
                self.expr(operand, context.operand(Context::UNARY_PRECEDENCE));
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                // Left-associative: an equal-precedence operator on the left needs no
                // parentheses, except for comparisons, which do not chain at all.
                let left_min = if op.is_comparison() { p + 1 } else { p };
                self.expr(lhs, context.operand(left_min));
                let _ = write!(self.out, " {} ", op.symbol());
                self.expr(rhs, context.operand(p + 1));
            }
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.out.push_str("if ");
                self.expr(cond, Context::CONDITION);
                self.out.push(' ');
                self.block(then_branch);
                if let Some(else_branch) = else_branch {
                    self.out.push_str(" else ");
                    match &else_branch.kind {
                        ExprKind::Block(block) => self.block(block),
                        _ => self.expr_bare(else_branch, Context::TOP),
                    }
                }
            }
            ExprKind::On { party, body } => {
                let _ = write!(self.out, "on {} ", party.name);
                self.block(body);
            }
            ExprKind::Block(block) => self.block(block),
        }
    }

    fn exprs(&mut self, exprs: &[Expr]) {
        for (i, e) in exprs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(e, Context::TOP);
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\t' => self.out.push_str("\\t"),
                '\r' => self.out.push_str("\\r"),
                '\0' => self.out.push_str("\\0"),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}
