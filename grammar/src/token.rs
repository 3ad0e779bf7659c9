//! The lexer: source text to tokens, with logos.
//!
//! The lexer never fails: a bad character, an unterminated comment or string, or a number out of
//! range is recorded as a [`SyntaxError`] and lexing goes on (a bad string or number still yields
//! a token, so the parser sees a plausible program and can report its own errors too).

use std::fmt;

use logos::{FilterResult, Logos};

use crate::error::SyntaxError;
use crate::span::Span;

/// What went wrong inside one token. Turned into a [`SyntaxError`] with the token's span.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LexErrorKind {
    #[default]
    InvalidCharacter,
    UnterminatedBlockComment,
    UnterminatedString,
    InvalidEscape {
        /// Byte offset of the backslash, relative to the start of the string token.
        offset: usize,
    },
    NumberOutOfRange,
}

/// One token. Keywords and punctuation carry nothing; literals carry their value.
#[derive(Logos, Debug, Clone, PartialEq)]
#[logos(error = LexErrorKind)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token<'s> {
    // Declarations.
    #[token("use")]
    Use,
    #[token("party")]
    Party,
    #[token("secret")]
    Secret,
    #[token("const")]
    Const,
    #[token("fn")]
    Fn,
    #[token("struct")]
    Struct,
    #[token("let")]
    Let,
    #[token("mut")]
    Mut,
    #[token("reveals")]
    Reveals,
    // Control flow.
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("while")]
    While,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("on")]
    On,
    #[token("return")]
    Return,
    // Literals and names.
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("public")]
    Public,
    #[token("fixed")]
    FixedTy,
    #[token("int")]
    IntTy,
    #[token("bool")]
    BoolTy,
    #[token("float")]
    FloatTy,
    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    Ident(&'s str),
    /// `@name`: a placement. `@` never means anything else.
    #[regex("@[A-Za-z_][A-Za-z0-9_]*", |lex| &lex.slice()[1..])]
    Placement(&'s str),
    #[regex("[0-9][0-9_]*", parse_int)]
    Int(u64),
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", parse_fixed)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", parse_fixed)]
    Fixed(f64),
    #[token("\"", lex_string)]
    Str(String),
    #[token("/*", block_comment)]
    BlockComment,
    // Punctuation.
    #[token("_", priority = 10)]
    Underscore,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("::")]
    ColonColon,
    #[token("->")]
    Arrow,
    #[token("..")]
    DotDot,
    #[token(".")]
    Dot,
    #[token("=")]
    Eq,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
}

fn parse_int<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<u64, LexErrorKind> {
    let digits: String = lex.slice().chars().filter(|&c| c != '_').collect();
    digits.parse().map_err(|_| LexErrorKind::NumberOutOfRange)
}

fn parse_fixed<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<f64, LexErrorKind> {
    let digits: String = lex.slice().chars().filter(|&c| c != '_').collect();
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(LexErrorKind::NumberOutOfRange),
    }
}

/// Reads a string literal after its opening quote. Strings end at `"` and may not span lines;
/// escapes are `\\ \" \n \t \r \0`.
fn lex_string<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<String, LexErrorKind> {
    let rest = lex.remainder();
    let mut value = String::new();
    let mut chars = rest.char_indices();
    let mut bad_escape = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return match bad_escape {
                    Some(offset) => Err(LexErrorKind::InvalidEscape { offset }),
                    None => Ok(value),
                };
            }
            '\n' => {
                lex.bump(i);
                return Err(LexErrorKind::UnterminatedString);
            }
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, '0')) => value.push('\0'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, '\n')) | None => {
                    lex.bump(i + 1);
                    return Err(LexErrorKind::UnterminatedString);
                }
                Some((_, _)) => {
                    // Offset relative to the token start, which is the opening quote.
                    bad_escape.get_or_insert(i + 1);
                }
            },
            c => value.push(c),
        }
    }
    lex.bump(rest.len());
    Err(LexErrorKind::UnterminatedString)
}

/// Skips a block comment after its opening `/*`. Block comments nest, as in Rust, so that
/// commenting out code that already holds a comment works.
fn block_comment<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> FilterResult<(), LexErrorKind> {
    let bytes = lex.remainder().as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    lex.bump(i);
                    return FilterResult::Skip;
                }
            }
            _ => i += 1,
        }
    }
    lex.bump(bytes.len());
    FilterResult::Error(LexErrorKind::UnterminatedBlockComment)
}

impl Token<'_> {
    /// How the token is named in messages: "`;`", "identifier `foo`", "number `3`".
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("identifier `{name}`"),
            Token::Placement(name) => format!("placement `@{name}`"),
            Token::Int(v) => format!("number `{v}`"),
            Token::Fixed(v) => format!("number `{v:?}`"),
            Token::Str(_) => "a string".to_string(),
            other => format!("`{other}`"),
        }
    }
}

impl fmt::Display for Token<'_> {
    /// The token's source text (for literals, a canonical spelling of it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Token::Ident(name) => return f.write_str(name),
            Token::Placement(name) => return write!(f, "@{name}"),
            Token::Int(v) => return write!(f, "{v}"),
            Token::Fixed(v) => return write!(f, "{v:?}"),
            Token::Str(s) => return write!(f, "{s:?}"),
            Token::BlockComment => "/* */",
            Token::Use => "use",
            Token::Party => "party",
            Token::Secret => "secret",
            Token::Const => "const",
            Token::Fn => "fn",
            Token::Struct => "struct",
            Token::Let => "let",
            Token::Mut => "mut",
            Token::Reveals => "reveals",
            Token::For => "for",
            Token::In => "in",
            Token::While => "while",
            Token::If => "if",
            Token::Else => "else",
            Token::On => "on",
            Token::Return => "return",
            Token::True => "true",
            Token::False => "false",
            Token::Public => "public",
            Token::FixedTy => "fixed",
            Token::IntTy => "int",
            Token::BoolTy => "bool",
            Token::FloatTy => "float",
            Token::Underscore => "_",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::Comma => ",",
            Token::Semi => ";",
            Token::Colon => ":",
            Token::ColonColon => "::",
            Token::Arrow => "->",
            Token::DotDot => "..",
            Token::Dot => ".",
            Token::Eq => "=",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Star => "*",
            Token::Slash => "/",
            Token::Percent => "%",
            Token::EqEq => "==",
            Token::NotEq => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::AndAnd => "&&",
            Token::OrOr => "||",
            Token::Bang => "!",
        };
        f.write_str(text)
    }
}

/// Every keyword of the language: names that cannot be identifiers.
pub const KEYWORDS: &[&str] = &[
    "use", "party", "secret", "const", "fn", "struct", "let", "mut", "reveals", "for", "in",
    "while", "if", "else", "on", "return", "true", "false", "public", "fixed", "int", "bool",
    "float",
];

/// A token with its span.
pub type Spanned<'s> = (usize, Token<'s>, usize);

/// Lexes the whole source. Returns every token (comments and whitespace dropped) and every
/// lexical error; never fails.
pub fn lex(src: &str) -> (Vec<Spanned<'_>>, Vec<SyntaxError>) {
    let mut tokens = Vec::with_capacity(src.len() / 4);
    let mut errors = Vec::new();
    // Runs of invalid characters are reported once, as one span.
    let mut invalid_run: Option<Span> = None;
    let mut lexer = Token::lexer(src);
    while let Some(result) = lexer.next() {
        let span = Span::new(lexer.span().start, lexer.span().end);
        if let Err(LexErrorKind::InvalidCharacter) = result {
            invalid_run = Some(match invalid_run {
                Some(run) if run.end == span.start => run.to(span),
                Some(run) => {
                    errors.push(SyntaxError::InvalidCharacter { span: run });
                    span
                }
                None => span,
            });
            continue;
        }
        if let Some(run) = invalid_run.take() {
            errors.push(SyntaxError::InvalidCharacter { span: run });
        }
        match result {
            Ok(Token::BlockComment) => {}
            Ok(token) => tokens.push((span.start, token, span.end)),
            Err(kind) => {
                // The token is still emitted with a neutral value, so that parsing goes on.
                let stand_in = match kind {
                    LexErrorKind::InvalidCharacter => unreachable!("handled above"),
                    LexErrorKind::UnterminatedBlockComment => {
                        errors.push(SyntaxError::UnterminatedBlockComment {
                            span: Span::new(span.start, span.start + 2),
                        });
                        None
                    }
                    LexErrorKind::UnterminatedString => {
                        errors.push(SyntaxError::UnterminatedString { span });
                        Some(Token::Str(String::new()))
                    }
                    LexErrorKind::InvalidEscape { offset } => {
                        let at = span.start + offset;
                        let len = src[at..].chars().take(2).map(char::len_utf8).sum::<usize>();
                        errors.push(SyntaxError::InvalidEscape {
                            span: Span::new(at, at + len),
                        });
                        Some(Token::Str(String::new()))
                    }
                    LexErrorKind::NumberOutOfRange => {
                        errors.push(SyntaxError::NumberOutOfRange { span });
                        Some(if src[span.range()].contains(['.', 'e', 'E']) {
                            Token::Fixed(0.0)
                        } else {
                            Token::Int(0)
                        })
                    }
                };
                if let Some(token) = stand_in {
                    tokens.push((span.start, token, span.end));
                }
            }
        }
    }
    if let Some(run) = invalid_run.take() {
        errors.push(SyntaxError::InvalidCharacter { span: run });
    }
    (tokens, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        let (tokens, errors) = lex(src);
        assert!(errors.is_empty(), "{errors:?}");
        tokens.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn ranges_are_not_fixed_literals() {
        assert_eq!(
            kinds("0..EPOCHS"),
            vec![Token::Int(0), Token::DotDot, Token::Ident("EPOCHS")]
        );
        assert_eq!(
            kinds("1.5..2"),
            vec![Token::Fixed(1.5), Token::DotDot, Token::Int(2)]
        );
    }

    #[test]
    fn field_access_is_a_dot() {
        assert_eq!(
            kinds("m.w1 x.0 1.5 0..n"),
            vec![
                Token::Ident("m"),
                Token::Dot,
                Token::Ident("w1"),
                Token::Ident("x"),
                Token::Dot,
                Token::Int(0),
                Token::Fixed(1.5),
                Token::Int(0),
                Token::DotDot,
                Token::Ident("n"),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("1_000 0.5 3.25e-3 1e6 2E+2"),
            vec![
                Token::Int(1000),
                Token::Fixed(0.5),
                Token::Fixed(0.00325),
                Token::Fixed(1e6),
                Token::Fixed(200.0)
            ]
        );
    }

    #[test]
    fn placements_keywords_and_underscore() {
        assert_eq!(
            kinds("let x: fixed[_, ..] @rep"),
            vec![
                Token::Let,
                Token::Ident("x"),
                Token::Colon,
                Token::FixedTy,
                Token::LBracket,
                Token::Underscore,
                Token::Comma,
                Token::DotDot,
                Token::RBracket,
                Token::Placement("rep"),
            ]
        );
        assert_eq!(kinds("_x"), vec![Token::Ident("_x")]);
    }

    #[test]
    fn comments_nest_and_are_skipped() {
        assert_eq!(
            kinds("a /* x /* y */ z */ b // c\nd"),
            vec![Token::Ident("a"), Token::Ident("b"), Token::Ident("d")]
        );
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(kinds(r#""a\"b\n""#), vec![Token::Str("a\"b\n".into())]);
    }

    #[test]
    fn errors_are_collected_and_lexing_goes_on() {
        let (tokens, errors) = lex("a $$ b \"open\nc /* never closed");
        assert_eq!(
            errors,
            vec![
                SyntaxError::InvalidCharacter {
                    span: Span::new(2, 4)
                },
                SyntaxError::UnterminatedString {
                    span: Span::new(7, 12)
                },
                SyntaxError::UnterminatedBlockComment {
                    span: Span::new(15, 17)
                },
            ]
        );
        let names: Vec<_> = tokens.iter().map(|(_, t, _)| t.clone()).collect();
        assert_eq!(
            names,
            vec![
                Token::Ident("a"),
                Token::Ident("b"),
                Token::Str(String::new()),
                Token::Ident("c")
            ]
        );
    }

    #[test]
    fn out_of_range_numbers() {
        let (_, errors) = lex("99999999999999999999999 1e999");
        assert_eq!(
            errors,
            vec![
                SyntaxError::NumberOutOfRange {
                    span: Span::new(0, 23)
                },
                SyntaxError::NumberOutOfRange {
                    span: Span::new(24, 29)
                },
            ]
        );
    }

    #[test]
    fn bad_escape_points_at_the_escape() {
        let (_, errors) = lex(r#"  "a\qb""#);
        assert_eq!(
            errors,
            vec![SyntaxError::InvalidEscape {
                span: Span::new(4, 6)
            }]
        );
    }
}
