//! Programs of one shape and a chosen size, for measuring how the front end grows with its input:
//! repeated names, many small items, long argument lists, long lines, long blocks, deep nesting
//! within the limits, chains of calls and constants, and files full of errors. Each generator
//! takes `n`, the number of units (names, functions, lines …), and the time per unit should stay
//! flat as `n` grows.
//!
//! Used by the `scaling` benchmark (bench/src/compile.rs) and, at small sizes, by the scaling
//! test of the compiler (compiler/tests/scaling.rs, which includes this file by path), so both
//! measure the same programs. Plain `std` only.

use std::fmt::Write;

/// A program shape: its name, what one unit is, its generator, and a size (in units) that makes
/// a program of a few thousand lines.
pub type Shape = (&'static str, &'static str, fn(usize) -> String, usize);

/// Every shape.
pub const SHAPES: &[Shape] = &[
    ("same-party", "name", same_party, 8000),
    ("same-const", "constant", same_const, 4000),
    ("same-fn", "function", same_fn, 4000),
    ("small-fns", "function", small_fns, 1000),
    ("uncalled-fns", "function", uncalled_fns, 1000),
    ("long-args", "argument", long_args, 2000),
    ("long-line", "element", long_line, 8000),
    ("bad-line", "error", bad_line, 4000),
    ("bad-lines", "line", bad_lines, 4000),
    ("type-errors", "error", type_errors, 4000),
    ("many-lets", "statement", many_lets, 4000),
    ("shadowed-lets", "statement", shadowed_lets, 4000),
    ("deep-blocks", "nest", deep_blocks, 40),
    ("deep-exprs", "nest", deep_exprs, 40),
    ("call-chain", "function", call_chain, 1000),
    ("const-chain", "constant", const_chain, 2000),
    ("many-parties", "party", many_parties, 1000),
    ("comparisons", "comparison", comparisons, 1000),
    ("library-calls", "call", library_calls, 200),
];

/// The plural of a unit's name.
pub fn plural(unit: &str) -> String {
    match unit.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{unit}s"),
    }
}

const HEADER: &str = "party a, b, c;\nsecret rep = aby3(a, b, c);\n\n";

/// `party a, a, a, …;` on one line: every name after the first is an error.
pub fn same_party(n: usize) -> String {
    let names = vec!["a"; n].join(", ");
    format!("party {names};\nfn main() {{}}\n")
}

/// `const C: int = 1;` n times.
pub fn same_const(n: usize) -> String {
    format!(
        "party a;\n{}fn main() {{}}\n",
        "const C: int = 1;\n".repeat(n)
    )
}

/// `fn f() {}` n times.
pub fn same_fn(n: usize) -> String {
    format!("party a;\n{}fn main() {{}}\n", "fn f() {}\n".repeat(n))
}

fn small_fn(out: &mut String, i: usize) {
    let _ = writeln!(
        out,
        "fn f{i}(x: fixed[4] @rep) -> fixed[4] @rep {{\n    let y = x * 2.0;\n    y + x\n}}\n"
    );
}

/// n small functions on shares, each called once from `main`.
pub fn small_fns(n: usize) -> String {
    let mut out = String::from(HEADER);
    for i in 0..n {
        small_fn(&mut out, i);
    }
    out.push_str("fn main() {\n    let x: fixed[4] @rep = zeros([4]);\n");
    for i in 0..n {
        let _ = writeln!(out, "    let x = f{i}(x);");
    }
    out.push_str("    let r = reveal(x, to: a);\n}\n");
    out
}

/// n small functions no one calls (each is still checked: its signature is complete).
pub fn uncalled_fns(n: usize) -> String {
    let mut out = String::from(HEADER);
    for i in 0..n {
        small_fn(&mut out, i);
    }
    out.push_str("fn main() {}\n");
    out
}

/// A function of n parameters, called with n named arguments in reverse order.
pub fn long_args(n: usize) -> String {
    let mut out = String::from(HEADER);
    out.push_str("fn f(\n");
    for i in 0..n {
        let _ = writeln!(out, "    p{i}: fixed @rep,");
    }
    out.push_str(") -> fixed @rep {\n    p0\n}\n\nfn main() {\n    let x: fixed @rep = 1.0;\n");
    out.push_str("    let r = reveal(f(\n");
    for i in (0..n).rev() {
        let _ = writeln!(out, "        p{i}: x,");
    }
    out.push_str("    ), to: a);\n}\n");
    out
}

/// One line holding a `concat` of n values.
pub fn long_line(n: usize) -> String {
    let items = vec!["x"; n].join(", ");
    format!(
        "{HEADER}fn main() {{\n    let x: fixed[1] @rep = zeros([1]);\n    let y = concat([{items}], axis: 0);\n    let r = reveal(sum(y, axis: 0), to: a);\n}}\n"
    )
}

/// One line with n syntax errors (a bad character, then tokens out of place).
pub fn bad_line(n: usize) -> String {
    format!("fn main() {{\n    {};\n}}\n", "$ 1 1 ".repeat(n))
}

/// n lines, each with a syntax error.
pub fn bad_lines(n: usize) -> String {
    format!("fn main() {{\n{}}}\n", "    let x = $ 1;\n".repeat(n))
}

/// n lines, each with a type error.
pub fn type_errors(n: usize) -> String {
    format!(
        "party a;\nfn main() {{\n{}}}\n",
        "    let y: int @a = 1.5;\n".repeat(n)
    )
}

/// n `let` statements in `main`, each using the one before.
pub fn many_lets(n: usize) -> String {
    let mut out = String::from(HEADER);
    out.push_str("fn main() {\n    let x0: fixed[4] @rep = zeros([4]);\n");
    for i in 1..n {
        let _ = writeln!(out, "    let x{i} = x{} + 1.0;", i - 1);
    }
    let _ = writeln!(out, "    let r = reveal(x{}, to: a);\n}}", n.max(1) - 1);
    out
}

/// n `let x = x + 1.0;` in `main`: one name, shadowed n times.
pub fn shadowed_lets(n: usize) -> String {
    let mut out = String::from(HEADER);
    out.push_str("fn main() {\n    let x: fixed[4] @rep = zeros([4]);\n");
    out.push_str(&"    let x = x + 1.0;\n".repeat(n));
    out.push_str("    let r = reveal(x, to: a);\n}\n");
    out
}

/// n times: blocks nested 100 deep (the limit is 128 brackets), in one function each.
pub fn deep_blocks(n: usize) -> String {
    let mut out = String::from(HEADER);
    for i in 0..n {
        let _ = writeln!(out, "fn f{i}(x: fixed @a) -> fixed @a {{");
        out.push_str(&"{ ".repeat(99));
        out.push_str("x + 1.0");
        out.push_str(&" }".repeat(99));
        out.push_str("\n}\n");
    }
    out.push_str("fn main() {\n    let x: fixed @a = 1.0;\n");
    for i in 0..n {
        let _ = writeln!(out, "    let x = f{i}(x);");
    }
    out.push_str("}\n");
    out
}

/// n lines, each an expression 200 operators deep (the limit is 256 levels).
pub fn deep_exprs(n: usize) -> String {
    let mut out = String::from(HEADER);
    out.push_str("fn main() {\n    let x: fixed[4] @rep = zeros([4]);\n");
    let chain = vec!["x"; 200].join(" + ");
    for _ in 0..n {
        let _ = writeln!(out, "    let x = {chain};");
    }
    out.push_str("    let r = reveal(x, to: a);\n}\n");
    out
}

/// The longest chain the shapes build: calls and constants may nest 64 deep (E0116).
const CHAIN: usize = 60;

/// n functions in chains of calls 60 deep (`f{i}` calls `f{i-1}`), `main` calling the top of each.
pub fn call_chain(n: usize) -> String {
    let mut out = String::from(HEADER);
    for i in 0..n {
        if i % CHAIN == 0 {
            let _ = writeln!(
                out,
                "fn f{i}(x: fixed[4] @rep) -> fixed[4] @rep {{\n    x + 1.0\n}}"
            );
        } else {
            let _ = writeln!(
                out,
                "fn f{i}(x: fixed[4] @rep) -> fixed[4] @rep {{\n    f{}(x) * 2.0\n}}",
                i - 1
            );
        }
    }
    out.push_str("fn main() {\n    let x: fixed[4] @rep = zeros([4]);\n");
    for top in (0..n).filter(|i| i % CHAIN == CHAIN - 1 || *i == n - 1) {
        let _ = writeln!(out, "    let x = f{top}(x);");
    }
    out.push_str("    let r = reveal(x, to: a);\n}\n");
    out
}

/// n constants in chains 60 deep, each defined by the next, the first of each chain first.
pub fn const_chain(n: usize) -> String {
    let mut out = String::from("party a;\n");
    for i in 0..n {
        if i % CHAIN == CHAIN - 1 || i == n - 1 {
            let _ = writeln!(out, "const C{i}: int = {i};");
        } else {
            let _ = writeln!(out, "const C{i}: int = C{} + 1;", i + 1);
        }
    }
    let _ = writeln!(out, "fn main() {{\n    let x: int @a = C0;\n}}");
    out
}

/// n parties, each sending a value to the next through a secret placement of three of them.
pub fn many_parties(n: usize) -> String {
    let n = n.max(3);
    let mut out = String::new();
    for i in 0..n {
        let _ = writeln!(out, "party p{i};");
    }
    out.push_str("secret rep = aby3(p0, p1, p2);\nfn main() {\n");
    for i in 0..n {
        let _ = writeln!(out, "    let x{i}: fixed @p{i} = 1.0;");
        let _ = writeln!(out, "    let y{i}: fixed @rep = x{i};");
        let _ = writeln!(out, "    let z{i} = reveal(y{i}, to: p{});", (i + 1) % n);
    }
    out.push_str("}\n");
    out
}

/// n secret comparisons in one block (the lowering looks for repeated ones).
pub fn comparisons(n: usize) -> String {
    let mut out = String::from(HEADER);
    out.push_str("fn main() {\n    let x: fixed[4] @rep = zeros([4]);\n    let mut y = x;\n");
    for i in 0..n {
        let _ = writeln!(out, "    let c{i} = x < y;\n    y = y + 1.0;");
    }
    out.push_str("    let r = reveal(y, to: a);\n}\n");
    out
}

/// n calls of library functions in `main`, with `const` arguments of a few values.
pub fn library_calls(n: usize) -> String {
    let mut out = String::from("use std::nn::{relu, softmax};\n");
    out.push_str(HEADER);
    out.push_str("fn main() {\n    let x: fixed[4, 4] @rep = zeros([4, 4]);\n");
    for i in 0..n {
        let _ = writeln!(out, "    let x = softmax(relu(x), axis: {});", i % 2);
    }
    out.push_str("    let r = reveal(x, to: a);\n}\n");
    out
}
