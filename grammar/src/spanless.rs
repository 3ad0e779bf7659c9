//! Setting every span of a tree to `0..0`, to compare trees by structure alone: the
//! print-and-parse-again property, and tools that ask whether two sources say the same thing.

use crate::ast::*;
use crate::span::Span;

/// Sets every span in the program to `0..0`.
pub fn erase_program(program: &mut Program) {
    program.span = Span::default();
    for item in &mut program.items {
        erase_item(item);
    }
}

fn erase_ident(ident: &mut Ident) {
    ident.span = Span::default();
}

fn erase_item(item: &mut Item) {
    match item {
        Item::Use(u) => {
            u.span = Span::default();
            u.module.iter_mut().for_each(erase_ident);
            match &mut u.names {
                UseNames::Names(names) => names.iter_mut().for_each(erase_ident),
                UseNames::Glob(span) => *span = Span::default(),
            }
        }
        Item::Party(p) => {
            p.span = Span::default();
            p.names.iter_mut().for_each(erase_ident);
        }
        Item::Secret(s) => {
            s.span = Span::default();
            erase_ident(&mut s.name);
            erase_ident(&mut s.protocol);
            for arg in &mut s.args {
                match arg {
                    ProtocolArg::Party(p) => erase_ident(p),
                    ProtocolArg::Option { key, value } => {
                        erase_ident(key);
                        erase_expr(value);
                    }
                }
            }
        }
        Item::Const(c) => {
            c.span = Span::default();
            erase_ident(&mut c.name);
            c.ty.iter_mut().for_each(erase_type);
            erase_expr(&mut c.value);
        }
        Item::Struct(st) => {
            st.span = Span::default();
            erase_ident(&mut st.name);
            for field in &mut st.fields {
                field.span = Span::default();
                erase_ident(&mut field.name);
                erase_type(&mut field.ty);
            }
        }
        Item::Fn(f) => {
            f.span = Span::default();
            erase_ident(&mut f.name);
            for p in &mut f.params {
                p.span = Span::default();
                erase_ident(&mut p.name);
                erase_type(&mut p.ty);
                p.placement.iter_mut().for_each(erase_placement);
            }
            if let Some(ret) = &mut f.ret {
                ret.span = Span::default();
                erase_type(&mut ret.ty);
                ret.placement.iter_mut().for_each(erase_placement);
            }
            if let Some(reveals) = &mut f.reveals {
                reveals.span = Span::default();
                reveals.targets.iter_mut().for_each(erase_placement);
            }
            if let Some(grads) = &mut f.grads {
                grads.span = Span::default();
                for entry in &mut grads.entries {
                    erase_ident(&mut entry.param);
                    erase_ident(&mut entry.function);
                }
            }
            erase_block(&mut f.body);
        }
    }
}

fn erase_placement(placement: &mut Placement) {
    match placement {
        Placement::Public(span) => *span = Span::default(),
        Placement::Named(ident) => erase_ident(ident),
    }
}

fn erase_type(ty: &mut Type) {
    ty.span = Span::default();
    match &mut ty.kind {
        TypeKind::Tensor { dims, .. } => {
            for dim in dims.iter_mut().flatten() {
                match dim {
                    Dim::Fixed(_, span) | Dim::Unknown(span) | Dim::Any(span) => {
                        *span = Span::default()
                    }
                    Dim::Named(ident) => erase_ident(ident),
                }
            }
        }
        TypeKind::Named(name) => erase_ident(name),
        TypeKind::Tuple(items) => items.iter_mut().for_each(erase_type),
    }
}

fn erase_block(block: &mut Block) {
    block.span = Span::default();
    for stmt in &mut block.stmts {
        erase_stmt(stmt);
    }
    if let Some(tail) = &mut block.tail {
        erase_expr(tail);
    }
}

fn erase_stmt(stmt: &mut Stmt) {
    stmt.span = Span::default();
    match &mut stmt.kind {
        StmtKind::Let {
            name,
            ty,
            placement,
            value,
            ..
        } => {
            erase_ident(name);
            ty.iter_mut().for_each(erase_type);
            placement.iter_mut().for_each(erase_placement);
            erase_expr(value);
        }
        StmtKind::LetTuple {
            bindings,
            ty,
            placement,
            value,
        } => {
            for b in bindings {
                b.span = Span::default();
                b.name.iter_mut().for_each(erase_ident);
            }
            ty.iter_mut().for_each(erase_type);
            placement.iter_mut().for_each(erase_placement);
            erase_expr(value);
        }
        StmtKind::Assign { target, value } => {
            erase_ident(target);
            erase_expr(value);
        }
        StmtKind::For {
            var,
            start,
            end,
            body,
        } => {
            erase_ident(var);
            erase_expr(start);
            erase_expr(end);
            erase_block(body);
        }
        StmtKind::While { cond, body } => {
            erase_expr(cond);
            erase_block(body);
        }
        StmtKind::Return(value) => value.iter_mut().for_each(erase_expr),
        StmtKind::Expr { expr, .. } => erase_expr(expr),
    }
}

fn erase_expr(expr: &mut Expr) {
    expr.span = Span::default();
    match &mut expr.kind {
        ExprKind::Int(_) | ExprKind::Fixed(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
        ExprKind::Var(name) => erase_ident(name),
        ExprKind::Array(items) | ExprKind::Tuple(items) => items.iter_mut().for_each(erase_expr),
        ExprKind::StructLit { name, fields } => {
            erase_ident(name);
            for f in fields {
                erase_ident(&mut f.name);
                erase_expr(&mut f.value);
            }
        }
        ExprKind::Field { base, field } => {
            erase_expr(base);
            erase_ident(field);
        }
        ExprKind::Call { callee, args } => {
            callee.span = Span::default();
            callee.segments.iter_mut().for_each(erase_ident);
            for arg in args {
                arg.name.iter_mut().for_each(erase_ident);
                erase_expr(&mut arg.value);
            }
        }
        ExprKind::Index { base, indices } => {
            erase_expr(base);
            for item in indices {
                match item {
                    IndexItem::Single(e) => erase_expr(e),
                    IndexItem::Range { start, end, span } => {
                        *span = Span::default();
                        erase_expr(start);
                        erase_expr(end);
                    }
                }
            }
        }
        ExprKind::Unary { operand, .. } => erase_expr(operand),
        ExprKind::Binary { lhs, rhs, .. } => {
            erase_expr(lhs);
            erase_expr(rhs);
        }
        ExprKind::If {
            cond,
            then_branch,
            else_branch,
        } => {
            erase_expr(cond);
            erase_block(then_branch);
            if let Some(e) = else_branch {
                erase_expr(e);
            }
        }
        ExprKind::On { party, body } => {
            erase_ident(party);
            erase_block(body);
        }
        ExprKind::Block(block) => erase_block(block),
    }
}
