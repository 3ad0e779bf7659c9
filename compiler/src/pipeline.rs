//! The compiler's front door: one named list of passes from source text to the protocol IR.
//!
//! ```text
//! source -[parse]-> AST -[check]-> HIR -[gradients]-> HIR -[lower]-> IR -[cse]-> IR -[fold]-> IR
//!        -[dce]-> IR
//!        (then `tfe_ir::project` gives each party its own program)
//! ```
//!
//! `tfec`, the benchmark harness and the tests all compile through [`compile`] (or [`run`], to
//! stop after a given pass), so every caller gets the same passes in the same order, and
//! `tfec build --emit PASS` can show the program after any of them. A pass either transforms its
//! stage or reports diagnostics; later passes never run on a stage with errors.

use std::fmt;

use tfe_grammar::ast;
use tfe_ir as ir;

use crate::diagnostics::Diagnostic;
use crate::hir;

/// A pass of the pipeline, in the order they run ([`Pass::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pass {
    /// Source text to syntax tree (`tfe_grammar::parse`).
    Parse,
    /// Names, types, placements and information flow: AST to HIR (`check`).
    Check,
    /// `grad` and `value_and_grad` become calls of functions derived in reverse mode (`grad`).
    Gradients,
    /// HIR to the protocol IR: calls inlined, registers, fixed-point truncations (`lower`).
    Lower,
    /// Repeated secret comparisons in a block computed once (`cse`).
    Cse,
    /// A matrix product on shares read only by a `col2im` becomes one op that reshares the
    /// images, not the windows (`fold`).
    Fold,
    /// Computations whose results nothing reads are dropped (`dce`): a loss's value where only
    /// its gradient is used.
    Dce,
}

impl Pass {
    /// Every pass, in pipeline order.
    pub const ALL: [Pass; 7] = [
        Pass::Parse,
        Pass::Check,
        Pass::Gradients,
        Pass::Lower,
        Pass::Cse,
        Pass::Fold,
        Pass::Dce,
    ];

    /// The last pass: its result is what runs.
    pub const LAST: Pass = Pass::ALL[Pass::ALL.len() - 1];

    /// The pass's name, as `tfec build --emit` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Parse => "parse",
            Pass::Check => "check",
            Pass::Gradients => "gradients",
            Pass::Lower => "lower",
            Pass::Cse => "cse",
            Pass::Fold => "fold",
            Pass::Dce => "dce",
        }
    }

    pub fn from_name(name: &str) -> Option<Pass> {
        Pass::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the pass only optimises (the program means the same without it), so that
    /// [`Options::skip`] may leave it out.
    pub fn optional(self) -> bool {
        match self {
            Pass::Cse | Pass::Fold | Pass::Dce => true,
            Pass::Parse | Pass::Check | Pass::Gradients | Pass::Lower => false,
        }
    }
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The program as some pass leaves it.
#[derive(Debug, Clone)]
pub enum Stage {
    Ast(ast::Program),
    Hir(hir::Program),
    Ir(ir::Program),
}

/// How to compile.
#[derive(Debug, Clone)]
pub struct Options {
    /// The last pass to run.
    pub stop_after: Pass,
    /// Optional passes to leave out (for comparisons and tests); a pass that is not
    /// [`Pass::optional`] is run anyway.
    pub skip: Vec<Pass>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            stop_after: Pass::LAST,
            skip: Vec::new(),
        }
    }
}

impl Options {
    /// Every pass up to and including `pass`.
    pub fn until(pass: Pass) -> Options {
        Options {
            stop_after: pass,
            skip: Vec::new(),
        }
    }
}

/// Runs the passes of `options` on a source file and returns the last stage, or the
/// diagnostics of the first pass that found errors.
pub fn run(src: &str, options: &Options) -> Result<Stage, Vec<Diagnostic>> {
    let mut stage: Option<Stage> = None;
    for pass in Pass::ALL {
        if pass > options.stop_after {
            break;
        }
        if pass.optional() && options.skip.contains(&pass) {
            continue;
        }
        stage = Some(run_pass(pass, src, stage)?);
    }
    Ok(stage.expect("at least the parse runs"))
}

/// Compiles a source file to the protocol IR with every pass (up to `options.stop_after`, which
/// must be at or after [`Pass::Lower`]).
pub fn compile(src: &str, options: &Options) -> Result<ir::Program, Vec<Diagnostic>> {
    match run(src, options)? {
        Stage::Ir(program) => Ok(program),
        Stage::Ast(_) | Stage::Hir(_) => panic!(
            "compile stops after `{}`, before the protocol IR exists",
            options.stop_after
        ),
    }
}

fn run_pass(pass: Pass, src: &str, stage: Option<Stage>) -> Result<Stage, Vec<Diagnostic>> {
    match (pass, stage) {
        (Pass::Parse, None) => crate::parse(src).map(Stage::Ast),
        (Pass::Check, Some(Stage::Ast(program))) => crate::check::check(&program).map(Stage::Hir),
        (Pass::Gradients, Some(Stage::Hir(program))) => {
            crate::grad::gradients(program).map(Stage::Hir)
        }
        (Pass::Lower, Some(Stage::Hir(program))) => crate::lower::lower(&program).map(Stage::Ir),
        (Pass::Cse, Some(Stage::Ir(mut program))) => {
            crate::cse::comparisons(&mut program.body);
            Ok(Stage::Ir(program))
        }
        (Pass::Fold, Some(Stage::Ir(mut program))) => {
            crate::fold::col2im_products(&mut program.body);
            Ok(Stage::Ir(program))
        }
        (Pass::Dce, Some(Stage::Ir(mut program))) => {
            crate::dce::dead_code(&mut program.body);
            Ok(Stage::Ir(program))
        }
        (pass, _) => unreachable!("`{pass}` runs on the stage before it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = "use std::nn::{relu, relu_grad};\nparty a, b, c;\n\
        secret rep = aby3(a, b, c);\nfn main() {\n    let x: fixed[4] @a = ones([4]);\n    \
        let h: fixed[4] @rep = x;\n    print(reveal(relu(h) * relu_grad(h), to: a));\n}\n";

    fn comparisons(program: &ir::Program) -> usize {
        program
            .body
            .iter()
            .filter(|n| {
                matches!(
                    n.op,
                    ir::Op::Compute {
                        kernel: ir::Kernel::Gt,
                        ..
                    }
                )
            })
            .count()
    }

    #[test]
    fn each_pass_gives_its_stage_and_optional_passes_can_be_skipped() {
        assert!(matches!(
            run(PROGRAM, &Options::until(Pass::Parse)),
            Ok(Stage::Ast(_))
        ));
        assert!(matches!(
            run(PROGRAM, &Options::until(Pass::Check)),
            Ok(Stage::Hir(_))
        ));
        let lowered = compile(PROGRAM, &Options::until(Pass::Lower)).unwrap();
        let full = compile(PROGRAM, &Options::default()).unwrap();
        let skipped = Options {
            skip: vec![Pass::Cse, Pass::Dce],
            ..Options::default()
        };
        let without_cse = compile(PROGRAM, &skipped).unwrap();
        assert_eq!((comparisons(&lowered), comparisons(&full)), (2, 1));
        assert_eq!(without_cse, lowered);
    }

    #[test]
    fn a_failing_pass_stops_the_pipeline_with_its_diagnostics() {
        let errors = compile("fn main() { let x = y; }", &Options::default()).unwrap_err();
        assert_eq!(errors[0].code, "E0101");
        for pass in Pass::ALL {
            assert_eq!(Pass::from_name(pass.name()), Some(pass));
        }
    }
}
