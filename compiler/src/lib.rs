//! The tfe compiler: from source text to checked programs (and, later, per-party programs).
//!
//! ```text
//! source -[parse]-> AST -[check: resolve, types, flow]-> typed HIR -[gradients]-> HIR
//!        -[lower]-> protocol IR -[cse]-> -[dce]-> protocol IR
//!        (-[tfe_ir::project]-> one program per party)
//! ```
//!
//! [`compile`] is the front door: it runs the named passes of [`pipeline`] in order, and every
//! caller (tfec, the benchmarks, the tests) goes through it. The policy (`policy`) reads the
//! checked program. The crate is pure: no files, no network, no terminal. It takes text and
//! returns values and [`Diagnostic`]s; the `tfec` binary does the I/O.

pub mod check;
pub mod cse;
pub mod dce;
pub mod diagnostics;
pub mod explain;
pub mod fold;
pub mod grad;
pub mod hir;
pub mod hir_dump;
pub mod lower;
pub mod pipeline;
pub mod policy;
pub mod stdlib;
pub mod syntax;
pub mod types;

pub use diagnostics::{Diagnostic, Label, RenderOptions, Severity, render};
pub use pipeline::{Options, Pass, Stage, compile};
pub use tfe_grammar::ast;

/// Parses a source file; syntax errors come back as diagnostics.
pub fn parse(src: &str) -> Result<ast::Program, Vec<Diagnostic>> {
    tfe_grammar::parse(src)
        .map_err(|errors| errors.iter().map(|e| syntax::diagnostic(e, src)).collect())
}

/// Everything `tfec check` verifies: syntax, names, types, placements and information flow,
/// and that every `grad` has a gradient. Returns the checked program (HIR), gradients derived.
pub fn check(src: &str) -> Result<hir::Program, Vec<Diagnostic>> {
    match pipeline::run(src, &Options::until(Pass::Gradients))? {
        Stage::Hir(program) => Ok(program),
        Stage::Ast(_) | Stage::Ir(_) => unreachable!("the checker's stage is the HIR"),
    }
}
