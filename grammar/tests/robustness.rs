//! Bad input never panics or overflows the stack: random bytes, random token soup, very deep
//! nesting, unterminated comments and strings, huge files. These run on the test harness's
//! ordinary 2 MiB threads on purpose: the parser must not need a big stack.

use proptest::prelude::*;
use tfe_grammar::{MAX_EXPR_DEPTH, MAX_NESTING, SyntaxError, parse};

fn errors(src: &str) -> Vec<SyntaxError> {
    parse(src).expect_err("this input must be rejected")
}

fn in_main(body: &str) -> String {
    format!("fn main() {{\n    let x = {body};\n}}\n")
}

#[test]
fn ten_thousand_nested_parentheses() {
    let src = in_main(&format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)));
    let errs = errors(&src);
    assert!(
        matches!(errs.as_slice(), [SyntaxError::NestingTooDeep { limit, .. }] if *limit == MAX_NESTING),
        "{errs:?}"
    );
}

#[test]
fn ten_thousand_unclosed_brackets_of_every_kind() {
    for open in ["(", "[", "{"] {
        let src = in_main(&open.repeat(10_000));
        assert!(
            errors(&src)
                .iter()
                .any(|e| matches!(e, SyntaxError::NestingTooDeep { .. }))
        );
    }
}

#[test]
fn nesting_at_the_limit_parses() {
    // `fn main() {` opens one brace; the parentheses use the rest of the budget.
    let depth = MAX_NESTING - 1;
    let src = in_main(&format!("{}1{}", "(".repeat(depth), ")".repeat(depth)));
    parse(&src).expect("nesting at the limit is accepted");
}

#[test]
fn long_operator_chains_and_unary_runs() {
    for body in [
        vec!["a"; 100_000].join(" + "),
        format!("{}x", "-".repeat(10_000)),
        format!("{}x", "!".repeat(10_000)),
        format!("x{}", "[0]".repeat(10_000)),
        "f(a".to_string() + &", a".repeat(100_000) + ")",
    ] {
        let src = in_main(&body);
        match parse(&src) {
            Ok(_) => {}
            Err(errs) => assert!(
                errs.iter().all(|e| matches!(e, SyntaxError::ExpressionTooDeep { limit, .. } if *limit == MAX_EXPR_DEPTH)),
                "{errs:?}"
            ),
        }
    }
    // A chain just under the limit is accepted.
    let src = in_main(&vec!["a"; (MAX_EXPR_DEPTH as usize) - 2].join(" + "));
    parse(&src).expect("a chain under the limit is accepted");
}

#[test]
fn deeply_nested_blocks_and_ifs() {
    let ifs = format!("{}1{}", "if c { ".repeat(5_000), " }".repeat(5_000));
    assert!(parse(&in_main(&ifs)).is_err());
    let fors = format!(
        "fn main() {{ {} }}",
        "for i in 0..2 { ".repeat(5_000) + &" }".repeat(5_000)
    );
    assert!(parse(&fors).is_err());
}

#[test]
fn unterminated_comment_and_string_at_end_of_file() {
    let errs = errors("fn main() { /* /* */ ");
    assert!(
        matches!(
            errs.as_slice(),
            [SyntaxError::UnterminatedBlockComment { .. }]
        ),
        "{errs:?}"
    );
    let errs = errors("fn main() { print(\"abc");
    assert!(
        errs.iter()
            .any(|e| matches!(e, SyntaxError::UnterminatedString { .. })),
        "{errs:?}"
    );
    let errs = errors("\"");
    assert!(
        errs.iter()
            .any(|e| matches!(e, SyntaxError::UnterminatedString { .. })),
        "{errs:?}"
    );
}

#[test]
fn empty_and_blank_files_are_valid_programs() {
    assert_eq!(parse("").unwrap().items.len(), 0);
    assert_eq!(
        parse(" \n// only a comment\n/* and another */")
            .unwrap()
            .items
            .len(),
        0
    );
}

#[test]
fn huge_file_of_valid_code() {
    let function = "fn f(x: fixed[_, 30] @alice) -> fixed @alice {\n    let y = x * 2.5 + 1;\n    y[0 .. 3]\n}\n";
    let src = function.repeat(20_000);
    assert_eq!(parse(&src).unwrap().items.len(), 20_000);
}

#[test]
fn huge_file_of_garbage() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..4_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    assert!(parse(&String::from_utf8_lossy(&bytes)).is_err());
}

/// Fragments of the language, to make random inputs that get far into the parser.
const FRAGMENTS: &[&str] = &[
    "fn", "main", "(", ")", "{", "}", "[", "]", "let", "mut", "x", "=", ";", ",", ":", "::", "->",
    "..", "+", "-", "*", "/", "%", "==", "<", ">=", "&&", "||", "!", "if", "else", "for", "in",
    "while", "on", "return", "party", "secret", "const", "use", "std", "reveals", "public",
    "@alice", "@rep", "fixed", "int", "bool", "float", "_", "0", "1.5", "1e3", "\"s\"", "true",
    "aby3", "axis", "/* c */", "// c\n", "\n", "/*", "\"", "@", "$",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_soup_never_panics(
        picks in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..120)
    ) {
        let src = picks.join(" ");
        if let Err(errors) = parse(&src) {
            // Every error points inside the source (the renderer relies on it).
            for e in errors {
                prop_assert!(e.span().end <= src.len(), "{:?} out of {}", e, src.len());
                prop_assert!(src.is_char_boundary(e.span().start) && src.is_char_boundary(e.span().end));
            }
        }
    }

    #[test]
    fn mutated_example_never_panics(cut in 0usize..1_400, len in 0usize..40, insert in prop::sample::select(FRAGMENTS)) {
        let src = include_str!("../../examples/logreg.tfe");
        let cut = cut.min(src.len());
        let end = (cut + len).min(src.len());
        if src.is_char_boundary(cut) && src.is_char_boundary(end) {
            let mutated = format!("{}{}{}", &src[..cut], insert, &src[end..]);
            let _ = parse(&mutated);
        }
    }
}
