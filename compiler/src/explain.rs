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
