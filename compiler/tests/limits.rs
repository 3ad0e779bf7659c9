//! Inputs that ask the compiler for exponential work get an error, fast: a chain of functions each
//! calling the next twice (2^n calls once inlined), with or without an error at its bottom.

use std::time::{Duration, Instant};

/// `f{i}` calls `f{i-1}` twice, for i up to n; `f0` has `body`.
fn doubling_chain(n: usize, body: &str) -> String {
    let mut src = String::from("party a, b, c;\nsecret rep = aby3(a, b, c);\n\n");
    src.push_str(&format!(
        "fn f0(x: fixed[4] @rep) -> fixed[4] @rep {{\n    {body}\n}}\n"
    ));
    for i in 1..n {
        src.push_str(&format!(
            "fn f{i}(x: fixed[4] @rep) -> fixed[4] @rep {{\n    f{p}(x) * f{p}(x)\n}}\n",
            p = i - 1
        ));
    }
    src.push_str(&format!(
        "fn main() {{\n    let x: fixed[4] @rep = zeros([4]);\n    let r = reveal(f{}(x), to: a);\n}}\n",
        n - 1
    ));
    src
}

#[test]
fn a_program_that_inlines_to_billions_of_operations_is_refused() {
    let src = doubling_chain(40, "x + 1.0");
    let t = Instant::now();
    let hir = tfe_compiler::check(&src).expect("the program checks: each instance once");
    let errors = tfe_compiler::lower::lower(&hir).expect_err("too large to lower");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "E0402");
    // It points at a call in the program's own code.
    let span = errors[0].primary.span;
    assert!(src[span.start..span.end].starts_with('f'), "{span:?}");
    assert!(tfe_compiler::explain::lookup("E0402").is_some());
}

#[test]
fn a_program_just_under_the_limit_lowers() {
    // 2^12 calls of a few operations each.
    let src = doubling_chain(13, "x + 1.0");
    let hir = tfe_compiler::check(&src).unwrap();
    let ir = tfe_compiler::lower::lower(&hir).unwrap();
    assert!((ir.n_ops as usize) < tfe_compiler::lower::MAX_OPS);
}

#[test]
fn an_error_under_a_doubling_chain_is_checked_once() {
    // Before failed instances were remembered, this took 2^40 checks of `f0`.
    let src = doubling_chain(40, "x + true");
    let t = Instant::now();
    let errors = tfe_compiler::check(&src).expect_err("`x + true` is wrong");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "E0201");
}
