//! Syntax errors in words: [`SyntaxError`] (data from the grammar crate) to [`Diagnostic`].

use tfe_grammar::{Span, SyntaxError};

use crate::diagnostics::{Diagnostic, Label};

/// The diagnostic for one syntax error; `src` is the file's text, to quote what is wrong.
pub fn diagnostic(error: &SyntaxError, src: &str) -> Diagnostic {
    let text = |span: Span| src.get(span.range()).unwrap_or("");
    match error {
        SyntaxError::InvalidCharacter { span } => {
            let found = text(*span);
            let d = Diagnostic::error(
                "E0001",
                format!(
                    "unexpected character{} `{found}`",
                    if found.chars().count() > 1 { "s" } else { "" }
                ),
                Label::new(*span, "not part of any token"),
            );
            if found.starts_with('@') {
                d.with_help("`@` starts a placement and must be followed by a name: `@alice`, `@rep`, `@public`")
            } else if !found.is_ascii() {
                d.with_help("names are ASCII letters, digits and `_`; other characters may appear only in strings and comments")
            } else {
                d.with_help("remove it, or put it inside a string or a comment")
            }
        }
        SyntaxError::UnterminatedBlockComment { span } => Diagnostic::error(
            "E0002",
            "unterminated block comment",
            Label::new(*span, "this `/*` is never closed"),
        )
        .with_help("add `*/`; block comments nest, so each `/*` inside needs its own `*/`"),
        SyntaxError::UnterminatedString { span } => Diagnostic::error(
            "E0003",
            "unterminated string",
            Label::new(
                *span,
                "this string is not closed before the end of the line",
            ),
        )
        .with_help(
            "add the closing `\"`; a string cannot span lines (write `\\n` for a line break)",
        ),
        SyntaxError::InvalidEscape { span } => Diagnostic::error(
            "E0004",
            format!("unknown escape `{}` in a string", text(*span)),
            Label::new(*span, "unknown escape"),
        )
        .with_help("the escapes are `\\\\`, `\\\"`, `\\n`, `\\t`, `\\r` and `\\0`"),
        SyntaxError::NumberOutOfRange { span } => Diagnostic::error(
            "E0005",
            format!("number `{}` is out of range", text(*span)),
            Label::new(*span, "too large"),
        )
        .with_help("integer literals are at most 18446744073709551615, and reals must be finite"),
        SyntaxError::UnexpectedToken {
            span,
            found,
            expected,
            previous,
        } => unexpected_token(*span, found, expected, *previous, src),
        SyntaxError::UnexpectedEnd {
            span,
            expected,
            previous,
        } => {
            let primary = match previous {
                Some(prev) => Label::new(
                    *prev,
                    format!("expected {} after this", expected.to_sentence()),
                ),
                None => Label::new(*span, "the file is empty here"),
            };
            let d = Diagnostic::error(
                "E0007",
                format!(
                    "unexpected end of file; expected {}",
                    expected.to_sentence()
                ),
                primary,
            );
            if expected.contains("`}`") {
                d.with_help("a `{` is never closed: add the missing `}`")
            } else if expected.contains("`)`") || expected.contains("`]`") {
                d.with_help("a bracket is never closed: add the missing `)` or `]`")
            } else {
                d
            }
        }
        SyntaxError::ExpectedItem { span, found } => Diagnostic::error(
            "E0008",
            format!("expected an item, found {found}"),
            Label::new(*span, "this is outside of any function"),
        )
        .with_help(
            "a program is a list of `use`, `party`, `secret`, `const` and `fn` items; \
             statements go inside a function such as `fn main() { … }`",
        ),
        SyntaxError::NestingTooDeep { span, limit } => Diagnostic::error(
            "E0009",
            "brackets nested too deeply",
            Label::new(
                *span,
                format!("this bracket is nested more than {limit} deep"),
            ),
        )
        .with_help("compute the inner parts first and give them names with `let`"),
        SyntaxError::ExpressionTooDeep { span, limit } => Diagnostic::error(
            "E0010",
            "expression nested too deeply",
            Label::new(
                *span,
                format!("this expression nests more than {limit} levels deep"),
            ),
        )
        .with_help(
            "break it into steps with `let`; a long chain `a + b + …` nests one level per operator",
        ),
    }
}

fn unexpected_token(
    span: Span,
    found: &str,
    expected: &tfe_grammar::Expected,
    previous: Option<Span>,
    src: &str,
) -> Diagnostic {
    let line_of = |offset: usize| src[..offset.min(src.len())].matches('\n').count();
    let found_text = src.get(span.range()).unwrap_or("");
    let previous_text = previous.and_then(|p| src.get(p.range())).unwrap_or("");
    // The next item starts while a block is still open: the `}` is missing, not a `;`.
    if expected.contains("`}`") && ["fn", "party", "secret", "const", "use"].contains(&found_text) {
        return Diagnostic::error(
            "E0006",
            format!("expected `}}` before {found}"),
            Label::new(
                span,
                format!("{found} starts a new item, but a block is still open"),
            ),
        )
        .with_help("a `{` is never closed: add the missing `}` at the end of the function");
    }
    // A `;` is missing when one would have been accepted and the unexpected token starts a
    // new line: point at the end of the statement, not at the next one.
    if expected.phrases.first().is_some_and(|p| p == "`;`")
        && let Some(prev) = previous
        && line_of(span.start) > line_of(prev.end)
    {
        return Diagnostic::error(
            "E0006",
            "expected `;` after this statement",
            Label::new(prev, "expected `;` after this"),
        )
        .with_secondary(Label::new(
            span,
            format!("{found} starts the next statement"),
        ))
        .with_help("every statement except the last expression of a block ends with `;`");
    }
    let mut d = Diagnostic::error(
        "E0006",
        if expected.is_empty() {
            format!("unexpected {found}")
        } else {
            format!("expected {}, found {found}", expected.to_sentence())
        },
        Label::new(span, format!("unexpected {found}")),
    );
    const COMPARISONS: &[&str] = &["<", "<=", ">", ">=", "==", "!="];
    const OPERATORS: &[&str] = &[
        "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||",
    ];
    let help = if expected.contains("a name") && tfe_grammar::token::KEYWORDS.contains(&found_text)
    {
        Some(format!(
            "`{found_text}` is a keyword and cannot be used as a name"
        ))
    } else if found_text == "=" && expected.contains("an operator") {
        Some("to compare, write `==`; to assign, write `name = value;` as a statement".to_string())
    } else if COMPARISONS.contains(&found_text) && expected.contains("`&&`") {
        Some("comparisons do not chain: write `a < b && b < c`".to_string())
    } else if OPERATORS.contains(&found_text) && previous_text == "}" {
        Some(
            "to use an `if`, `on` or block expression as an operand, put it in parentheses: \
             `(if c { a } else { b }) + 1`"
                .to_string(),
        )
    } else if found.starts_with("placement") && expected.contains("`public`") {
        Some("inside `reveals(…)` parties are written without `@`: `reveals(analyst)`".to_string())
    } else if found.starts_with("placement") {
        Some("a placement goes after the type: `let x: fixed @alice = …;`".to_string())
    } else if expected.contains("`{`") && expected.contains("`if`") && expected.phrases.len() == 2 {
        Some("`else` is followed by a block or another `if`: `else { 2 }`".to_string())
    } else if found_text == ":" && previous_text.starts_with('@') {
        Some("the type goes before the placement: `let x: fixed @alice = …;`".to_string())
    } else if expected.phrases == ["`::`"] {
        Some("import a name with its module's path: `use std::nn::sigmoid;`".to_string())
    } else if expected.phrases == ["`:`"] {
        Some("a parameter needs a type: `x: fixed[..]`".to_string())
    } else if expected.contains("`;`") && found_text == "}" {
        Some("add `;` to end the statement".to_string())
    } else {
        None
    };
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}
