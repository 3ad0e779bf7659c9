//! The parser driver: tokens to AST, and LALRPOP's errors to [`SyntaxError`]s.
//!
//! Source -[lex]-> tokens -[split at item keywords]-> one token run per item
//! -[nesting check]-> -[LALRPOP `Item` parser]-> AST items.
//!
//! Item keywords (`use party secret const fn`) only ever start an item. Splitting the tokens
//! before each item keyword that begins a line isolates errors: an unclosed brace in one
//! function cannot swallow the next one. (Only keywords at the start of a line split, so that
//! `let fn = 1;` is one error, not two; a chunk may hold several items written on one line.)
//! Bracket nesting is checked before parsing and expression depth while parsing (in the grammar's
//! actions), so every tree the parser returns can be walked recursively without overflowing the
//! stack, whatever the input.

use lalrpop_util::{ErrorRecovery, ParseError};

use crate::ast::{
    BinOp, Expr, ExprKind, GradClause, GradEntry, Ident, Item, Placement, Program, UnOp,
};
use crate::error::{Expected, SyntaxError};
use crate::span::Span;
use crate::token::{Spanned, Token, lex};
use crate::{MAX_EXPR_DEPTH, MAX_NESTING};

/// An error raised inside a grammar action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    ExpressionTooDeep {
        span: Span,
    },
    /// A name where a function's `grad(…)` clause or body may stand.
    ExpectedGradClause {
        span: Span,
        found: String,
    },
}

type ActionResult<'s> = Result<Expr, ParseError<usize, Token<'s>, ActionError>>;

/// Builds an expression node, refusing it if it nests deeper than [`MAX_EXPR_DEPTH`].
pub(crate) fn node<'s>(kind: ExprKind, l: usize, r: usize) -> ActionResult<'s> {
    let expr = Expr::new(kind, Span::new(l, r));
    if expr.depth() > MAX_EXPR_DEPTH {
        return Err(ParseError::User {
            error: ActionError::ExpressionTooDeep { span: expr.span },
        });
    }
    Ok(expr)
}

pub(crate) fn binary<'s>(op: BinOp, lhs: Expr, rhs: Expr, l: usize, r: usize) -> ActionResult<'s> {
    node(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        l,
        r,
    )
}

pub(crate) fn unary<'s>(op: UnOp, operand: Expr, l: usize, r: usize) -> ActionResult<'s> {
    node(
        ExprKind::Unary {
            op,
            operand: Box::new(operand),
        },
        l,
        r,
    )
}

/// `grad(entries)` after a function's signature; any other name there is an error.
pub(crate) fn grad_clause<'s>(
    keyword: Ident,
    entries: Vec<GradEntry>,
    l: usize,
    r: usize,
) -> Result<GradClause, ParseError<usize, Token<'s>, ActionError>> {
    if keyword.name != "grad" {
        return Err(ParseError::User {
            error: ActionError::ExpectedGradClause {
                span: keyword.span,
                found: format!("identifier `{}`", keyword.name),
            },
        });
    }
    Ok(GradClause {
        entries,
        span: Span::new(l, r),
    })
}

/// `@name` to a placement; the span of a named placement is the name's, without the `@`.
pub(crate) fn placement(name: &str, l: usize, r: usize) -> Placement {
    if name == "public" {
        Placement::Public(Span::new(l, r))
    } else {
        Placement::Named(Ident::new(name, Span::new(l + 1, r)))
    }
}

/// Parses a whole source file. On failure, returns every syntax error found, in source order.
pub fn parse(src: &str) -> Result<Program, Vec<SyntaxError>> {
    let (tokens, mut errors) = lex(src);
    let shadowed = shadowed_by_lexical_errors(src, &tokens, &errors);
    let mut items = Vec::new();
    for chunk in split_items(src, tokens) {
        parse_chunk(chunk, &mut items, &mut errors);
    }
    // The parser's complaints right after a bad character or string repeat the lexer's.
    errors.retain(|e| {
        !matches!(
            e,
            SyntaxError::UnexpectedToken { .. } | SyntaxError::UnexpectedEnd { .. }
        ) || !shadowed(e.span().start)
    });
    // A block comment that runs to the end of the file makes the file end early; the
    // parser's complaint about that end says nothing new.
    if errors
        .iter()
        .any(|e| matches!(e, SyntaxError::UnterminatedBlockComment { .. }))
    {
        errors.retain(|e| !matches!(e, SyntaxError::UnexpectedEnd { .. }));
    }
    if errors.is_empty() {
        Ok(Program {
            items,
            span: Span::new(0, src.len()),
        })
    } else {
        errors.sort_by_key(|e| e.span().start);
        Err(errors)
    }
}

/// Parses a single expression (for tests and tools).
pub fn parse_expr(src: &str) -> Result<Expr, Vec<SyntaxError>> {
    let (tokens, mut errors) = lex(src);
    let spans: Vec<Span> = tokens.iter().map(|(l, _, r)| Span::new(*l, *r)).collect();
    if let Some(err) = check_nesting(&tokens) {
        errors.push(err);
        return Err(errors);
    }
    let mut recovered = Vec::new();
    let result = crate::grammar::ExprParser::new().parse(&mut recovered, tokens);
    for r in recovered {
        errors.push(convert(r.error, &spans, None));
    }
    match result {
        Ok(expr) if errors.is_empty() => Ok(expr),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(convert(e, &spans, None));
            Err(errors)
        }
    }
}

/// Where the parser's errors would only repeat a lexical error: on the rest of the line of a
/// bad character, string or number, and at the first token after it. Linear in the source and
/// the errors (a line of 100,000 bad characters is searched for its end once), and each query is
/// a binary search over the merged ranges.
fn shadowed_by_lexical_errors(
    src: &str,
    tokens: &[Spanned<'_>],
    lexical: &[SyntaxError],
) -> impl Fn(usize) -> bool + use<> {
    let mut spans: Vec<Span> = lexical.iter().map(SyntaxError::span).collect();
    spans.sort_unstable_by_key(|s| s.start);
    // The end of the line of the last error looked at: errors on one line share it.
    let mut line_end = None;
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for span in spans {
        let start = span.start;
        let end_of_line = match line_end {
            Some(end) if start < end => end,
            _ => src[start..].find('\n').map_or(src.len(), |i| start + i),
        };
        line_end = Some(end_of_line);
        let i = tokens.partition_point(|t| t.0 < span.end);
        let next_token = tokens.get(i).map_or(src.len(), |t| t.0);
        let end = end_of_line.max(next_token);
        // Each range is (start, end]: merge those that touch.
        match ranges.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => ranges.push((start, end)),
        }
    }
    move |offset| {
        let i = ranges.partition_point(|r| r.0 < offset);
        i > 0 && offset <= ranges[i - 1].1
    }
}

/// One item's tokens, and the token that follows them (the next item's keyword), if any.
struct Chunk<'s> {
    tokens: Vec<Spanned<'s>>,
    next: Option<Spanned<'s>>,
}

fn is_item_keyword(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Use | Token::Party | Token::Secret | Token::Const | Token::Struct | Token::Fn
    )
}

fn split_items<'s>(src: &str, tokens: Vec<Spanned<'s>>) -> Vec<Chunk<'s>> {
    let mut chunks: Vec<Chunk<'s>> = Vec::new();
    let mut current: Vec<Spanned<'s>> = Vec::new();
    // Open parentheses of the current chunk: a `const` parameter on its own line inside a
    // parameter list does not start an item.
    let mut parens = 0usize;
    for tok in tokens {
        let starts_line = current
            .last()
            .is_some_and(|prev| src[prev.2..tok.0].contains('\n'));
        let in_params = parens > 0 && tok.1 == Token::Const;
        if is_item_keyword(&tok.1) && starts_line && !in_params {
            parens = 0;
            let next = Some(tok.clone());
            chunks.push(Chunk {
                tokens: std::mem::take(&mut current),
                next,
            });
        }
        match tok.1 {
            Token::LParen => parens += 1,
            Token::RParen => parens = parens.saturating_sub(1),
            _ => {}
        }
        current.push(tok);
    }
    if !current.is_empty() {
        chunks.push(Chunk {
            tokens: current,
            next: None,
        });
    }
    chunks
}

fn parse_chunk<'s>(chunk: Chunk<'s>, items: &mut Vec<Item>, errors: &mut Vec<SyntaxError>) {
    let Chunk { tokens, next } = chunk;
    let first = &tokens[0];
    if !is_item_keyword(&first.1) {
        let last = tokens.last().expect("chunks are never empty");
        errors.push(SyntaxError::ExpectedItem {
            span: Span::new(first.0, last.2),
            found: first.1.describe(),
        });
        return;
    }
    if let Some(err) = check_nesting(&tokens) {
        errors.push(err);
        return;
    }
    let spans: Vec<Span> = tokens.iter().map(|(l, _, r)| Span::new(*l, *r)).collect();
    let mut recovered: Vec<ErrorRecovery<usize, Token<'s>, ActionError>> = Vec::new();
    let result = crate::grammar::ItemsParser::new().parse(&mut recovered, tokens);
    let next = next.as_ref();
    let recovered_any = !recovered.is_empty();
    for r in recovered {
        errors.push(convert(r.error, &spans, next));
    }
    match result {
        Ok(parsed) => items.extend(parsed),
        Err(e) => {
            let err = convert(e, &spans, next);
            // After recovery (which skips to a `;`), a stray `}` or the end of the item only
            // echo the error already reported; so does the same spot reported twice.
            let echo = recovered_any
                && (matches!(err, SyntaxError::UnexpectedEnd { .. })
                    || matches!(
                        &err,
                        SyntaxError::UnexpectedToken { found, .. }
                        | SyntaxError::ExpectedItem { found, .. } if found == "`}`"
                    ));
            if !echo && errors.last() != Some(&err) {
                errors.push(err);
            }
        }
    }
}

/// Refuses brackets nested deeper than [`MAX_NESTING`] before the parser sees them.
fn check_nesting(tokens: &[Spanned<'_>]) -> Option<SyntaxError> {
    let mut depth = 0usize;
    for (l, tok, r) in tokens {
        match tok {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(SyntaxError::NestingTooDeep {
                        span: Span::new(*l, *r),
                        limit: MAX_NESTING,
                    });
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The token before the one at `offset`, if any: where a missing `;` belongs.
fn previous_token(spans: &[Span], offset: usize) -> Option<Span> {
    let i = spans.partition_point(|s| s.start < offset);
    i.checked_sub(1).map(|i| spans[i])
}

fn convert(
    err: ParseError<usize, Token<'_>, ActionError>,
    spans: &[Span],
    next: Option<&Spanned<'_>>,
) -> SyntaxError {
    match err {
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } if Expected::from_terminals(&expected).is_item_start() => SyntaxError::ExpectedItem {
            span: Span::new(l, r),
            found: tok.describe(),
        },
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => SyntaxError::UnexpectedToken {
            span: Span::new(l, r),
            found: tok.describe(),
            expected: Expected::from_terminals(&expected),
            previous: previous_token(spans, l),
        },
        ParseError::UnrecognizedEof { location, expected } => {
            let expected = Expected::from_terminals(&expected);
            let previous = previous_token(spans, location);
            match next {
                // The item ran into the next item's keyword: report that keyword.
                Some((l, tok, r)) => SyntaxError::UnexpectedToken {
                    span: Span::new(*l, *r),
                    found: tok.describe(),
                    expected,
                    previous,
                },
                None => SyntaxError::UnexpectedEnd {
                    span: Span::new(location, location),
                    expected,
                    previous,
                },
            }
        }
        ParseError::ExtraToken { token: (l, tok, r) } => SyntaxError::UnexpectedToken {
            span: Span::new(l, r),
            found: tok.describe(),
            expected: Expected::default(),
            previous: previous_token(spans, l),
        },
        ParseError::InvalidToken { location } => SyntaxError::InvalidCharacter {
            span: Span::new(location, location + 1),
        },
        ParseError::User {
            error: ActionError::ExpressionTooDeep { span },
        } => SyntaxError::ExpressionTooDeep {
            span,
            limit: MAX_EXPR_DEPTH,
        },
        ParseError::User {
            error: ActionError::ExpectedGradClause { span, found },
        } => SyntaxError::UnexpectedToken {
            span,
            found,
            expected: Expected {
                phrases: vec!["`grad(…)`".to_string(), "`{`".to_string()],
            },
            previous: previous_token(spans, span.start),
        },
    }
}
