//! Long explanations of error codes, for `tfec explain CODE`: what the error means, a wrong
//! program and a right one.

/// One documented error code.
#[derive(Debug, Clone, Copy)]
pub struct Explanation {
    pub code: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

/// Looks up a code, accepting `E0006`, `e0006` and `6`.
pub fn lookup(code: &str) -> Option<&'static Explanation> {
    let code = code.trim();
    let digits = code.strip_prefix(['E', 'e']).unwrap_or(code);
    let n: u32 = digits.parse().ok()?;
    let wanted = format!("E{n:04}");
    EXPLANATIONS.iter().find(|e| e.code == wanted)
}

/// Every documented code, in order.
pub fn all() -> &'static [Explanation] {
    EXPLANATIONS
}

const EXPLANATIONS: &[Explanation] = &[
    Explanation {
        code: "E0001",
        title: "unexpected character",
        text: "A character that starts no token of the language, such as `$` or `#`, or a\n\
non-ASCII letter outside a string or a comment. Names are ASCII letters, digits and `_`.\n\
\n\
Wrong:\n    let price$ = 3;\n\
Right:\n    let price = 3;\n",
    },
    Explanation {
        code: "E0002",
        title: "unterminated block comment",
        text: "A `/*` comment is never closed by `*/`. Block comments nest, as in Rust: every `/*`\n\
inside a comment needs its own `*/`.\n\
\n\
Wrong:\n    /* outer /* inner */\n    fn main() {}\n\
Right:\n    /* outer /* inner */ */\n    fn main() {}\n",
    },
    Explanation {
        code: "E0003",
        title: "unterminated string",
        text: "A string literal is not closed with `\"` before the end of its line. Strings cannot\n\
span lines; write `\\n` for a line break.\n\
\n\
Wrong:\n    let xa: fixed[_, 30] @alice = read_csv(\"alice_x.csv);\n\
Right:\n    let xa: fixed[_, 30] @alice = read_csv(\"alice_x.csv\");\n",
    },
    Explanation {
        code: "E0004",
        title: "unknown escape in a string",
        text: "Inside a string, `\\` starts an escape. The escapes are `\\\\`, `\\\"`, `\\n`, `\\t`, `\\r` and `\\0`.\n\
Paths use `/` on every platform.\n\
\n\
Wrong:\n    write_csv(w, \"out\\weights.csv\");\n\
Right:\n    write_csv(w, \"out/weights.csv\");\n",
    },
    Explanation {
        code: "E0005",
        title: "number out of range",
        text: "An integer literal larger than 18446744073709551615 (2^64 - 1), or a real literal so\n\
large that it is not a finite number. The fixed-point range of a secret placement is much smaller\n\
still: see docs/language.md.\n\
\n\
Wrong:\n    const BIG: int = 99999999999999999999999;\n\
Right:\n    const BIG: int = 1000000;\n",
    },
    Explanation {
        code: "E0006",
        title: "unexpected token",
        text: "The parser met a token that cannot stand here. The message says what it expected\n\
instead. The most common cause is a missing `;` at the end of the previous statement: the error\n\
then points at the end of that statement.\n\
\n\
Wrong:\n    let x = 1\n    let y = 2;\n\
Right:\n    let x = 1;\n    let y = 2;\n",
    },
    Explanation {
        code: "E0007",
        title: "unexpected end of file",
        text: "The file ends in the middle of a declaration or a block, usually because a `{`, `(`\n\
or `[` is never closed.\n\
\n\
Wrong:\n    fn main() {\n        print(1);\n\
Right:\n    fn main() {\n        print(1);\n    }\n",
    },
    Explanation {
        code: "E0008",
        title: "expected an item",
        text: "At the top level of a file only items may stand: `use`, `party`, `secret`, `const`\n\
and `fn` declarations. Statements go inside a function; the program starts at `fn main()`.\n\
\n\
Wrong:\n    party alice;\n    print(1);\n\
Right:\n    party alice;\n    fn main() {\n        print(1);\n    }\n",
    },
    Explanation {
        code: "E0009",
        title: "brackets nested too deeply",
        text: "`(`, `[` and `{` may nest at most 128 deep. The limit keeps the compiler's stack use\n\
bounded whatever the input; real programs stay far below it. Name the inner parts with `let`.\n\
\n\
Wrong:\n    let y = ((((((…(x)…))))));   // 200 levels\n\
Right:\n    let a = f(x);\n    let y = g(a);\n",
    },
    Explanation {
        code: "E0010",
        title: "expression nested too deeply",
        text: "An expression may nest at most 256 levels deep, counting each operator, call, index\n\
and block inside it. A long chain such as `a1 + a2 + … + a300` nests one level per `+`. Compute it\n\
in steps with `let`, or use a tensor and `sum`.\n\
\n\
Wrong:\n    let total = a1 + a2 + a3 + … + a300;\n\
Right:\n    let total = sum(values, axis: 0);\n",
    },
    Explanation {
        code: "E0101",
        title: "unknown name",
        text: "A name that is not a variable in scope, a parameter or a constant. Variables exist from
their `let` to the end of the enclosing block. Parties and secret placements are not values:
they are written after `@` in annotations.

Wrong:
    fn main() {
        print(total);
    }
Right:
    fn main() {
        let total = 3;
        print(total);
    }
",
    },
    Explanation {
        code: "E0102",
        title: "unknown function",
        text: "A call of a function that is neither defined in the program, nor imported with `use`, nor a
builtin. Library functions must be imported (or called by their full path).

Wrong:
    fn main() { let y = sigmoid(0.5); }
Right:
    use std::nn::sigmoid;
    fn main() { let y = sigmoid(0.5); }
",
    },
    Explanation {
        code: "E0103",
        title: "defined twice",
        text: "Parties, secret placements, constants, functions and imported names share one namespace, and
each name may be defined once. The builtins (`sum`, `matmul`, `reveal`, …) cannot be redefined.

Wrong:
    party alice;
    const alice: int = 3;
Right:
    party alice;
    const ALICE_ROWS: int = 3;
",
    },
    Explanation {
        code: "E0104",
        title: "unknown protocol",
        text: "A secret placement names a protocol tfe does not have. The protocols are `aby3(p0, p1, p2)`
(replicated sharing among three parties, honest majority), `pond(p0, p1, dealer = p2)`
(additive sharing between two parties with a dealer of correlated randomness) and
`securenn(p0, p1, dealer = p2)` (pond's sharing; the dealer also helps in exact comparisons).

Wrong:
    secret rep = spdz(s0, s1);
Right:
    secret rep = aby3(s0, s1, s2);
",
    },
    Explanation {
        code: "E0105",
        title: "wrong number of parties for a protocol",
        text: "`aby3` computes among exactly three parties; `pond` and `securenn` between exactly two,
with a third as their `dealer`.

Wrong:
    secret rep = aby3(s0, s1);
Right:
    secret rep = aby3(s0, s1, s2);
",
    },
    Explanation {
        code: "E0106",
        title: "a party plays two roles in a protocol",
        text: "The security of a protocol rests on its parties being distinct: in aby3 no party may hold two
sets of shares (it would see the secret), and the dealer of pond or securenn must not be a share
holder.

Wrong:
    secret rep = aby3(s0, s1, s0);
Right:
    secret rep = aby3(s0, s1, s2);
",
    },
    Explanation {
        code: "E0107",
        title: "invalid protocol option",
        text: "A protocol option that does not exist, or a value it does not allow. `ring` is the ring size
in bits (64 or 128; securenn's comparison works in a 64-bit ring only, where pond runs with
either); `frac` is the number of fractional bits of fixed-point values (smaller than `ring`);
`dealer` (pond and securenn only) names a party.

Wrong:
    secret rep = aby3(s0, s1, s2, ring = 32);
Right:
    secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);
",
    },
    Explanation {
        code: "E0108",
        title: "unknown placement",
        text: "An annotation `@name` names neither a party nor a secret placement (nor `@public`).

Wrong:
    let x: fixed @carol = 1.0;
Right:
    party carol;
    …
    let x: fixed @carol = 1.0;
",
    },
    Explanation {
        code: "E0109",
        title: "not a party",
        text: "Only parties hold plaintext: `on p { … }`, `reveal(x, to: p)`, a protocol's members and a
function's `reveals(p)` take a party, not a secret placement or an unknown name.

Wrong:
    let w = reveal(x, to: rep);
Right:
    let w = reveal(x, to: analyst);
",
    },
    Explanation {
        code: "E0110",
        title: "assignment to something that cannot change",
        text: "Only variables declared with `let mut` can be assigned. Parameters, loop variables and
constants never change.

Wrong:
    let w = 0.0;
    w = w + 1.0;
Right:
    let mut w = 0.0;
    w = w + 1.0;
",
    },
    Explanation {
        code: "E0111",
        title: "no valid `main`",
        text: "Execution starts at `fn main()`, which takes no parameters, returns nothing, and may reveal to
any party without a `reveals` clause.

Wrong:
    fn main(x: fixed) { print(x); }
Right:
    fn main() { print(1.0); }
",
    },
    Explanation {
        code: "E0112",
        title: "recursive function",
        text: "Functions may not call themselves, directly or through others. The compiler sizes every
computation before it runs (shapes and loop counts are public), and secure computation cannot
stop early on a secret anyway. Write a `for` loop.

Wrong:
    fn power(x: fixed, n: int) -> fixed { if n == 0 { 1.0 } else { x * power(x, n - 1) } }
Right:
    fn power(x: fixed, n: int) -> fixed {
        let mut acc = 1.0;
        for i in 0..n { acc = acc * x; }
        acc
    }
",
    },
    Explanation {
        code: "E0113",
        title: "unknown module or library name",
        text: "A `use` names a module the standard library does not have, or a function the module does
not provide.

Wrong:
    use std::nn::sigmod;
Right:
    use std::nn::sigmoid;
",
    },
    Explanation {
        code: "E0114",
        title: "wrong arguments",
        text: "A call gives a function or builtin the wrong number of arguments, a named argument it does not
take (or names twice), or a positional argument after a named one. Functions take their arguments
by position, then by parameter name: `softmax(x, axis: 1)`.

Wrong:
    let s = sum(x, dim: 0);
Right:
    let s = sum(x, axis: 0);
",
    },
    Explanation {
        code: "E0115",
        title: "not a constant",
        text: "A constant's value, a dimension in a type, an `axis:` or the argument of a `const` parameter must be known at compile time: built
from literals and other constants (integers without overflow or division by zero). A constant
may not depend on itself. Constants are scalars.

Wrong:
    const N: int = rows(x);
Right:
    const N: int = 30;
",
    },
    Explanation {
        code: "E0116",
        title: "calls or constants nested too deeply",
        text: "A chain of calls (`main` calls `f`, `f` calls `g`, …) may be at most 64 calls long, the
standard library's calls included, and a constant may be defined through at most 64 others (`A`
in terms of `B`, `B` in terms of `C`, …). The compiler follows such chains one level at a time,
and each level may hold an expression 256 operators deep; the bound keeps that within its stack
whatever the program. Real programs nest a handful of calls.

Wrong:
    fn f1(x: fixed) -> fixed { f2(x) + 1.0 }
    fn f2(x: fixed) -> fixed { f3(x) + 1.0 }
    …                                  // f64 calls f65
Right:
    fn step(x: fixed) -> fixed { x + 1.0 }
    fn main() {
        let mut x: fixed @a = 0.0;
        for i in 0..65 { x = step(x); } // one after another, not one inside the other
    }
",
    },
    Explanation {
        code: "E0201",
        title: "mismatched kinds of value",
        text: "An operation got a kind of value it does not take: arithmetic on `bool`s, `&&` on numbers,
a `fixed` where an `int` is needed. `int` widens to `fixed` (and `float`) by itself; nothing else
converts implicitly.

Wrong:
    let n: int = 2.5;
Right:
    let n: fixed = 2.5;
",
    },
    Explanation {
        code: "E0202",
        title: "incompatible shapes",
        text: "Tensor dimensions that must agree do not: elementwise operations broadcast as in NumPy (equal
dimensions, or 1 on one side), `matmul` needs the inner dimensions equal, `concat` needs all
dimensions but the axis equal, `reshape` keeps the number of elements, and a value must fit the
declared type. `_` in a type accepts any size, checked at run time.

Wrong:
    let w: fixed[30, 1] @rep = zeros([30, 1]);
    let z = matmul(w, w);
Right:
    let z = matmul(transpose(w), w);
",
    },
    Explanation {
        code: "E0203",
        title: "wrong rank",
        text: "A value has the wrong number of dimensions: `matmul` takes a matrix and a matrix or vector,
`transpose` a matrix or vector, `rows` a tensor of rank 1 or more, `read_csv`/`write_csv` at most
two dimensions; and a value cannot be indexed with more indices than it has dimensions, or
with none (`x[]`).

Wrong:
    let x: fixed[3] = zeros([3]);
    let y = x[0, 1];
Right:
    let y = x[1];
",
    },
    Explanation {
        code: "E0204",
        title: "`float` outside a party",
        text: "`float` (plain f64) exists only at a party, for the party's own plaintext work. Public and
secret values are `fixed`; a party's `float` data is encoded as `fixed` when it is shared.

Wrong:
    let w: float[30] @rep = zeros([30]);
Right:
    let w: fixed[30] @rep = zeros([30]);
",
    },
    Explanation {
        code: "E0205",
        title: "dimension is not a number or constant",
        text: "A dimension in a type is a number, an integer constant or `_` (known only at run time).

Wrong:
    let n = 30;
    let w: fixed[n, 1] @rep = zeros([n, 1]);
Right:
    const N: int = 30;
    let w: fixed[N, 1] @rep = zeros([N, 1]);
",
    },
    Explanation {
        code: "E0206",
        title: "`..` outside a function signature",
        text: "`fixed[..]` (any shape) is for function parameters and results, which then work on every
shape. A variable's type gives each dimension (or `_`).

Wrong:
    let x: fixed[..] @rep = zeros([3]);
Right:
    let x: fixed[3] @rep = zeros([3]);
",
    },
    Explanation {
        code: "E0207",
        title: "division by a secret value",
        text: "A secret value can be divided only by a public value (a cheap local step in secret
sharing). A secret divisor needs a secret reciprocal (`std::math::reciprocal`, planned).

Wrong:
    let r: fixed @rep = a / b;      // b is secret
Right:
    let r: fixed @rep = a / 4.0;
",
    },
    Explanation {
        code: "E0208",
        title: "branches of different types or shapes",
        text: "The branches of an `if` used as a value must have the same type and shape (`_` matches any
size), and both must have a value.

Wrong:
    let y = if c { 1.0 } else { true };
Right:
    let y = if c { 1.0 } else { 0.0 };
",
    },
    Explanation {
        code: "E0209",
        title: "wrong return",
        text: "A function's returned values must agree with each other and with its declared return type;
a function with a declared return type must end with a value (or return one).

Wrong:
    fn double(x: fixed) -> fixed { x * 2.0; }
Right:
    fn double(x: fixed) -> fixed { x * 2.0 }
",
    },
    Explanation {
        code: "E0210",
        title: "not a tensor value",
        text: "A list (`[a, b]`), a string or `()` (the value of `print`, of a loop, of a block without a
tail) stands where a number or tensor is needed. Lists are arguments of `concat`, `zeros`, `ones`
and `reshape`; strings are file paths, and `read_csv`/`write_csv` take them as literals.

Wrong:
    let parts = [xa, xb];
Right:
    let x: fixed[_, 30] @rep = concat([xa, xb], axis: 0);
",
    },
    Explanation {
        code: "E0211",
        title: "`read_csv` without a type",
        text: "`read_csv` needs to know the element type and shape of what it reads: give the `let` a type.
A dimension the file decides is written `_`.

Wrong:
    let xa @alice = read_csv(\"alice_x.csv\");
Right:
    let xa: fixed[_, 30] @alice = read_csv(\"alice_x.csv\");
",
    },
    Explanation {
        code: "E0212",
        title: "`%` on non-integers or secrets",
        text: "The remainder `%` works on `int` values that are public or held by a party.

Wrong:
    let r: fixed @rep = x % 2;
Right:
    let r = 7 % 2;
",
    },
    Explanation {
        code: "E0213",
        title: "out of range",
        text: "An index, slice or axis that is known at compile time lies outside the dimension it indexes.
A slice `a .. b` needs `0 <= a <= b <= size`; axes count from 0.

Wrong:
    let w: fixed[30, 1] @rep = zeros([30, 1]);
    let s = sum(w, axis: 2);
Right:
    let s = sum(w, axis: 0);
",
    },
    Explanation {
        code: "E0214",
        title: "bad `im2col` or `col2im` geometry",
        text: "`im2col(x, image: [h, w, c], window: [kh, kw], stride: s, pad: p)` cuts each image (one per
row of x, flattened channel-last) into windows; `col2im` with the same arguments sums windows back
into images. The sizes are integer constants; the window must fit the image padded with p zeros on
every side; the stride is at least 1.

Wrong:
    let cols = im2col(x, image: [8, 8, 1], window: [9, 9]);
Right:
    let cols = im2col(x, image: [8, 8, 1], window: [3, 3]);
",
    },
    Explanation {
        code: "E0215",
        title: "bad `log2_lookup` table or exponent",
        text: "`log2_lookup(x, table, from: k)` reads, for each element, the table entry of the power of two
below it: entry j where 2^(k+j) <= x < 2^(k+j+1), and 0 outside the table. The table is a list of
1 to 64 numeric constants, written in the call (it is part of the compiled program, and which entry
is read stays secret); `from` is an `int` constant from -64 to 64.

Wrong:
    let t: fixed[3] = ones([3]);
    let s = log2_lookup(x, t, from: 0);
Right:
    let s = log2_lookup(x, [1.0, 0.5, 0.25], from: 0);
",
    },
    Explanation {
        code: "E0216",
        title: "no such field",
        text: "A field that the struct does not declare, in a struct literal or after `.`, or a `.field` read
from a value that is not a struct (a tensor or a tuple: take a tuple apart with `let (a, b) = t;`).

Wrong:
    struct Linear { w: fixed[30, 1], b: fixed[1] }
    let m = Linear { w: w0, bias: zeros([1]) };
Right:
    let m = Linear { w: w0, b: zeros([1]) };
",
    },
    Explanation {
        code: "E0217",
        title: "a struct literal without every field once",
        text: "A struct literal `Name { field: value, … }` gives every field of the struct exactly once: a
struct value always has all its fields. Start a field at zero with `zeros([…])`.

Wrong:
    let m = Linear { w: w0 };
Right:
    let m = Linear { w: w0, b: zeros([1]) };
",
    },
    Explanation {
        code: "E0218",
        title: "a tuple pattern that does not fit",
        text: "`let (a, b, …) = value;` takes a tuple apart: the value must be a tuple with as many elements
as the pattern names (write `_` for an element you do not use).

Wrong:
    let (l, g, extra) = value_and_grad(loss, m, x, y);
Right:
    let (l, g) = value_and_grad(loss, m, x, y);
    let (_, g) = value_and_grad(loss, m, x, y);
",
    },
    Explanation {
        code: "E0219",
        title: "bad struct declaration",
        text: "A struct declares one or more fields, each once, each a tensor or a number of `fixed`, `int`
or `bool` (`float` lives only at a party, and a struct moves between placements as a whole; a
field is not itself a struct or a tuple).

Wrong:
    struct Model { layer: Linear, scale: float }
Right:
    struct Model { w: fixed[30, 1], b: fixed[1], scale: fixed }
",
    },
    Explanation {
        code: "E0301",
        title: "secret value without a reveal",
        text: "A secret value (held in shares at a secret placement) would reach a party, or become public,
without a `reveal`. Revealing is the program's explicit decision to declassify, and the checker
accepts no other way out of a secret placement.

Wrong:
    let w: fixed[30, 1] @analyst = w_secret;
Right:
    let w: fixed[30, 1] @analyst = reveal(w_secret, to: analyst);
",
    },
    Explanation {
        code: "E0302",
        title: "a party's value reaches another party",
        text: "A value held by one party would reach another party, or become public, without a `reveal`.
To compute on several parties' data without either learning the other's, share it into a secret
placement instead.

Wrong:
    let xb_at_alice: fixed[_, 30] @alice = xb;      // xb is bob's
Right:
    let x: fixed[_, 30] @rep = concat([xa, xb], axis: 0);
",
    },
    Explanation {
        code: "E0303",
        title: "two parties' values combined in the clear",
        text: "An operation combines values held by two different parties. Computing it at either party
would show that party the other's data. Compute it at a secret placement (annotate the `let`),
or reveal one side first if that is the intent.

Wrong:
    let total = xa + xb;
Right:
    let total: fixed[_, 30] @rep = xa + xb;
",
    },
    Explanation {
        code: "E0304",
        title: "control flow on a secret",
        text: "An `if` or `while` condition, a loop bound, an index, a slice bound or a size depends on a
secret value. Every party runs the same control flow, so it would learn the secret. Compute both
sides and choose with `select(c, a, b)`; loop a public number of times.

Wrong:
    let y = if x > 0.0 { x } else { 0.0 };      // x is secret
Right:
    let y = select(x > 0.0, x, 0.0);
",
    },
    Explanation {
        code: "E0305",
        title: "a party's value steering control flow or a shape",
        text: "An `if`, loop or index depends on a value held by a party. Control flow on a party's data
must run at that party: put the code in `on p { … }`. Outside, the other parties would need to
learn the value to follow the branch. Sizes (`zeros([n])`) and slice bounds (`x[0 .. k]`) must be
public even inside `on p`: shapes are visible to every party.

Wrong:
    if rows(xa) > 0 && flag { … }      // flag is alice's
Right:
    let result = on alice { if flag { 1.0 } else { 0.0 } };
",
    },
    Explanation {
        code: "E0306",
        title: "a value would leave an `on` block",
        text: "Code inside `on p { … }` runs at party `p` alone. It may not assign to variables held elsewhere,
return from the function, or open another party's `on` block: whether and what it assigns would
leak `p`'s data (an implicit flow). Give the block a value and assign that outside.

Wrong:
    let mut n: int @rep = 0;
    on alice { if flag { n = 1; } }
Right:
    let n: int @alice = on alice { if flag { 1 } else { 0 } };
",
    },
    Explanation {
        code: "E0307",
        title: "two secret placements combined",
        text: "A value of one secret placement meets a value of another (`rep` and `two`). Shares of different
protocols cannot be combined, and tfe does not convert between them: compute this part of the
program at one placement.

Wrong:
    let z = a_rep + b_pond;
Right:
    let z: fixed @rep = a_rep + b_rep;
",
    },
    Explanation {
        code: "E0308",
        title: "printing or writing a secret",
        text: "`print` and `write_csv` run where their value is visible: at the party that holds it, or at
every party for a public value. A secret value is visible nowhere; reveal it to the party that
may see it.

Wrong:
    write_csv(w, \"weights.csv\");                    // w is secret
Right:
    write_csv(reveal(w, to: analyst), \"weights.csv\");
",
    },
    Explanation {
        code: "E0309",
        title: "`reveal` inside an `on` block",
        text: "An `on` block runs at one party alone, but a reveal needs the parties that hold the secret.
Reveal before the block, and use the revealed value inside it.

Wrong:
    on analyst { write_csv(reveal(w, to: analyst), \"w.csv\"); }
Right:
    let w_plain = reveal(w, to: analyst);
    on analyst { write_csv(w_plain, \"w.csv\"); }
",
    },
    Explanation {
        code: "E0310",
        title: "a reveal the function may not make",
        text: "A function other than `main` reveals (itself or through a function it calls) to a party its
signature does not name. The `reveals(…)` clause makes every declassification visible at the
function's signature, so library code cannot leak behind its caller's back. Library functions
may not reveal at all, nor read, write or print (`read_csv`, `write_csv`, `print`).

Wrong:
    fn evaluate(w: fixed[30, 1] @rep) -> fixed[30, 1] @analyst { reveal(w, to: analyst) }
Right:
    fn evaluate(w: fixed[30, 1] @rep) -> fixed[30, 1] @analyst reveals(analyst) { reveal(w, to: analyst) }
",
    },
    Explanation {
        code: "E0311",
        title: "`read_csv` at no party",
        text: "`read_csv` reads a file in a party's data directory, so it runs at a party: annotate the `let`
with the party, or read inside its `on` block.

Wrong:
    let x: fixed[_, 30] = read_csv(\"x.csv\");
Right:
    let x: fixed[_, 30] @alice = read_csv(\"x.csv\");
",
    },
    Explanation {
        code: "E0312",
        title: "`write_shares` of a value that is not secret, or inside an `on` block",
        text: "`write_shares(x, \"name\")` keeps a secret value for a later run: each member of x's secret
placement stores its own share in its own data directory, and nothing is revealed. A party's
own value or a public one has no shares to keep (write it with `write_csv` at its party, or
share it first); and an `on` block runs at one party alone, while every member must store.

Wrong:
    let w: fixed[3] @alice = read_csv(\"w.csv\");
    write_shares(w, \"model\");
Right:
    let w: fixed[3] @alice = read_csv(\"w.csv\");
    let ws: fixed[3] @rep = w;
    write_shares(ws, \"model\");
",
    },
    Explanation {
        code: "E0313",
        title: "`read_shares` at no secret placement",
        text: "`read_shares(\"name\")` loads the shares an earlier run stored with `write_shares`: each member
of a secret placement loads its own. The `let` says which placement and which type, the ones
the value was stored with (the run checks both against the files, with the protocol and the
parties). It cannot run at a party, or inside an `on` block (which runs at one party alone).

Wrong:
    let m: Mlp @alice = read_shares(\"model\");
Right:
    let m: Mlp @rep = read_shares(\"model\");
",
    },
    Explanation {
        code: "E0314",
        title: "a stored value's name is not a plain name",
        text: "Each member keeps its share of a stored value as `NAME.shares` in its own data directory, so
the name of `write_shares` and `read_shares` is a plain file name: letters, digits, `_` and
`-`, at most 128 of them. A path (`../model`, `models/a`) could reach outside the data
directory.

Wrong:
    write_shares(m, \"models/digits\");
Right:
    write_shares(m, \"digits_model\");
",
    },
    Explanation {
        code: "E0315",
        title: "shares kept of a tuple",
        text: "`write_shares` and `read_shares` keep a tensor or a struct (the file records the struct's name
and fields, so that a later run loads it as the same type). Store the parts of a tuple one by
one, or gather them in a struct.

Wrong:
    write_shares((w, b), \"model\");
Right:
    write_shares(Model { w: w, b: b }, \"model\");
",
    },
    Explanation {
        code: "E0401",
        title: "not supported by the runtime yet",
        text: "The program is valid, but the lowering to the protocol IR does not handle this construct\n\
yet: a `return` before the end of a function, or dividing a secret integer. `tfec check` accepts\n\
such programs;\n\
`tfec build --emit ir` and `tfec run` report this error.\n\
\n\
Wrong:\n    fn pick(c: bool, a: fixed) -> fixed {\n        if c { return a; }\n        0.0\n    }\n\
Right:\n    fn pick(c: bool, a: fixed) -> fixed {\n        if c { a } else { 0.0 }\n    }\n",
    },
    Explanation {
        code: "E0402",
        title: "the program lowers to too many operations",
        text: "Every call is inlined when the program is lowered to the protocol IR (each call site gets its
own copy of the function), while loops stay loops. A function that calls another twice is twice
its size, so a chain of such functions grows exponentially: 30 of them would be a billion
operations. Past 1,000,000 operations the lowering stops with this error rather than fill the
memory. `tfec check` accepts such programs; `tfec build --emit ir` and `tfec run` report it.

Wrong:
    fn f2(x: fixed) -> fixed { f1(x) * f1(x) }
    fn f3(x: fixed) -> fixed { f2(x) * f2(x) }   // and so on, to f30
Right:
    fn f2(x: fixed) -> fixed { let y = f1(x); y * y }
",
    },
    Explanation {
        code: "E0501",
        title: "no gradient through this operation",
        text: "`grad` derives the gradient of a function by following, backwards, every operation between
the argument it differentiates and the result. This operation has no gradient with respect to a
value that depends on that argument, so no gradient can be derived. The labels show the path from
the argument to the operation. Such operations: a comparison's result used as a value
(`select(x > 0.0, 1.0, 0.0)`: its derivative is zero wherever it exists), `argmax`, `sort`,
a library function declared with `grad()`, a loop, a branch or an `on` block whose values depend
on the argument, and file reads, writes and prints (a function that is differentiated computes
its value again and may do no I/O). Also: the gradient with respect to a party's value of a loss
computed at a secret placement would have to be revealed to that party.

`select(c, a, b)` itself is differentiable in `a` and `b` (the gradient goes to the chosen
one), so `relu(x) = select(x > 0.0, x, 0.0)` has a gradient.

Wrong:
    fn loss(w: fixed[4], x: fixed[4]) -> fixed { sum(select(w * x > 0.0, 1.0, 0.0)) }
Right:
    fn loss(w: fixed[4], x: fixed[4]) -> fixed { sum(relu(w * x)) }
",
    },
    Explanation {
        code: "E0502",
        title: "`grad` of a function that does not return a scalar",
        text: "A gradient is the derivative of one number: `grad(f, a, …)` and `value_and_grad(f, a, …)`
take a function whose result is a single `fixed` (or a tensor of one element), such as a loss.

Wrong:
    fn forward(w: fixed[4, 1], x: fixed[_, 4]) -> fixed[_, 1] { matmul(x, w) }
    let g = grad(forward, w, x);
Right:
    fn loss(w: fixed[4, 1], x: fixed[_, 4], y: fixed[_, 1]) -> fixed { mse(matmul(x, w), y) }
    let g = grad(loss, w, x, y);
",
    },
    Explanation {
        code: "E0503",
        title: "bad `grad` call",
        text: "`grad(f, a, b, …)` names a function of the program or the library first (not a builtin, not
an expression), then its arguments; the gradient is with respect to the first argument, which is a
`fixed` tensor or a struct of `fixed` tensors. For `value_and_grad`, the value and the gradient
form one tuple, so they must be at one placement.

Wrong:
    let g = grad(sum, w);
    let g = grad(loss(w, x, y));
Right:
    fn total(w: fixed[..]) -> fixed { sum(w) }
    let g = grad(total, w);
    let g = grad(loss, w, x, y);
",
    },
    Explanation {
        code: "E0504",
        title: "bad custom gradient",
        text: "A function may give its own gradient with a `grad(…)` clause after its signature, naming for
each parameter with a gradient the function that computes it: `grad(x: sigmoid_grad)`. That
function takes the parameters of the function (its `const` parameters too, with the same names),
then the function's result `y` and the result's gradient `dy`, and returns the gradient of the
parameter, of the parameter's type. Parameters the clause does not name have no gradient (`grad()`
declares a function without any).

Wrong:
    fn sigmoid(x: fixed[..]) -> fixed[..] grad(x: sigmoid_grad) { … }
    fn sigmoid_grad(dy: fixed[..]) -> fixed[..] { … }
Right:
    fn sigmoid(x: fixed[..]) -> fixed[..] grad(x: sigmoid_grad) { … }
    fn sigmoid_grad(x: fixed[..], y: fixed[..], dy: fixed[..]) -> fixed[..] { dy * y * (1.0 - y) }
",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_have_examples() {
        for pair in EXPLANATIONS.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
        for e in EXPLANATIONS {
            assert!(
                e.text.contains("Wrong:") && e.text.contains("Right:"),
                "{}",
                e.code
            );
        }
    }

    #[test]
    fn lookup_accepts_several_spellings() {
        assert_eq!(lookup("E0006").unwrap().code, "E0006");
        assert_eq!(lookup("e6").unwrap().code, "E0006");
        assert_eq!(lookup("6").unwrap().code, "E0006");
        assert!(lookup("E9999").is_none());
        assert!(lookup("bogus").is_none());
    }
}
