//! Syntax errors: data only (what, where). The compiler's diagnostics module writes the prose.

use crate::span::Span;

/// Everything that can be wrong with a file's syntax.
#[derive(Debug, Clone, PartialEq)]
pub enum SyntaxError {
    /// Characters that start no token (`$`, `é` outside a string, a lone `@`).
    InvalidCharacter { span: Span },
    /// `/*` with no matching `*/`; the span is the opening `/*`.
    UnterminatedBlockComment { span: Span },
    /// A string that reaches the end of its line or of the file.
    UnterminatedString { span: Span },
    /// An escape other than `\\ \" \n \t \r \0`; the span is the escape.
    InvalidEscape { span: Span },
    /// An integer above 2^64 - 1, or a real that is not finite.
    NumberOutOfRange { span: Span },
    /// The parser met a token it cannot use here.
    UnexpectedToken {
        span: Span,
        /// How the token is named in a message: "`let`", "identifier `x`".
        found: String,
        expected: Expected,
        /// The token before it, where a missing token belongs.
        previous: Option<Span>,
    },
    /// The file ended in the middle of something.
    UnexpectedEnd {
        span: Span,
        expected: Expected,
        previous: Option<Span>,
    },
    /// Tokens at the top level that do not start with `use party secret const fn`.
    ExpectedItem { span: Span, found: String },
    /// Brackets nested deeper than the parser allows; the span is the bracket past the limit.
    NestingTooDeep { span: Span, limit: usize },
    /// An expression nested deeper than the parser allows.
    ExpressionTooDeep { span: Span, limit: u32 },
}

impl SyntaxError {
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::InvalidCharacter { span }
            | SyntaxError::UnterminatedBlockComment { span }
            | SyntaxError::UnterminatedString { span }
            | SyntaxError::InvalidEscape { span }
            | SyntaxError::NumberOutOfRange { span }
            | SyntaxError::UnexpectedToken { span, .. }
            | SyntaxError::UnexpectedEnd { span, .. }
            | SyntaxError::ExpectedItem { span, .. }
            | SyntaxError::NestingTooDeep { span, .. }
            | SyntaxError::ExpressionTooDeep { span, .. } => *span,
        }
    }
}

/// What the parser would have accepted, summarised in plain words ("an expression",
/// "`;`", "an operator") rather than as LALRPOP's list of terminals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expected {
    /// Phrases, most useful first: "`;`", "`)`", "an operator", "an expression".
    pub phrases: Vec<String>,
}

/// Tokens that can start an operand.
const OPERAND_START: &[&str] = &[
    "IDENT", "INT", "FIXED", "STRING", "true", "false", "(", "[", "-", "!",
];
const BLOCK_LIKE_START: &[&str] = &["if", "on", "{"];
const BINARY_OPERATORS: &[&str] = &[
    "||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%",
];
const STATEMENT_KEYWORDS: &[&str] = &["let", "for", "while", "return"];
const TYPES: &[&str] = &["fixed", "int", "bool", "float"];
const ITEM_KEYWORDS: &[&str] = &["use", "party", "secret", "const", "struct", "fn"];

/// Closing and separating punctuation is listed first: it is what is most often missing.
const PUNCTUATION_ORDER: &[&str] = &[";", ")", "]", "}", ",", "=", ":", "..", "{", "("];

impl Expected {
    /// Summarises LALRPOP's expected terminals (their names as written in the grammar,
    /// quoted: `"\";\""`, `"\"IDENT\""`).
    pub fn from_terminals(terminals: &[String]) -> Expected {
        let mut set: Vec<&str> = terminals.iter().map(|t| t.trim_matches('"')).collect();
        let has_all = |set: &[&str], group: &[&str]| group.iter().all(|t| set.contains(t));
        let remove = |set: &mut Vec<&str>, group: &[&str]| set.retain(|t| !group.contains(t));
        let mut phrases = Vec::new();
        let mut categories = Vec::new();
        if has_all(&set, STATEMENT_KEYWORDS) {
            remove(&mut set, STATEMENT_KEYWORDS);
            remove(&mut set, OPERAND_START);
            remove(&mut set, BLOCK_LIKE_START);
            categories.push("a statement".to_string());
        }
        if has_all(&set, BINARY_OPERATORS) {
            remove(&mut set, BINARY_OPERATORS);
            // After an operand, `[` (indexing), `(` and `::` (a call) and `.` (a field) read as
            // part of "an operator" here: listing them only lengthens the message. So does `{`
            // (a struct literal after a name) where something could end instead; after the
            // condition of `if` or `while`, where nothing else ends, `{` is the block's.
            remove(&mut set, &["[", "(", "::", "."]);
            if [";", ")", ",", "]", "}"].iter().any(|t| set.contains(t)) {
                remove(&mut set, &["{"]);
            }
            categories.push("an operator".to_string());
        }
        if has_all(&set, OPERAND_START) {
            remove(&mut set, OPERAND_START);
            remove(&mut set, BLOCK_LIKE_START);
            categories.push("an expression".to_string());
        }
        if has_all(&set, TYPES) {
            // A struct's name and a tuple's `(` start types too.
            remove(&mut set, TYPES);
            remove(&mut set, &["IDENT", "("]);
            categories.push("a type".to_string());
        }
        if has_all(&set, ITEM_KEYWORDS) {
            remove(&mut set, ITEM_KEYWORDS);
            categories
                .push("an item (`use`, `party`, `secret`, `const`, `struct` or `fn`)".to_string());
        }
        for p in PUNCTUATION_ORDER {
            if let Some(i) = set.iter().position(|t| t == p) {
                set.remove(i);
                phrases.push(format!("`{p}`"));
            }
        }
        // After a function's signature, a name can only start its `grad(…)` clause.
        let after_signature = set.contains(&"reveals");
        for t in set {
            let phrase = match t {
                "IDENT" if after_signature => "`grad(…)`".to_string(),
                "IDENT" => "a name".to_string(),
                "INT" | "FIXED" => "a number".to_string(),
                "STRING" => "a string".to_string(),
                "PLACEMENT" => "a placement (`@name`)".to_string(),
                "_" => "`_`".to_string(),
                other => format!("`{other}`"),
            };
            if !phrases.contains(&phrase) {
                phrases.push(phrase);
            }
        }
        phrases.extend(categories);
        Expected { phrases }
    }

    /// Whether only the start of an item would do (the parser is between items).
    pub fn is_item_start(&self) -> bool {
        self.phrases.len() == 1 && self.phrases[0].starts_with("an item")
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    pub fn contains(&self, phrase: &str) -> bool {
        self.phrases.iter().any(|p| p == phrase)
    }

    /// "`;`", "`;` or an operator", "`,`, `)` or an operator".
    pub fn to_sentence(&self) -> String {
        match self.phrases.as_slice() {
            [] => "nothing more here".to_string(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(terminals: &[&str]) -> String {
        let owned: Vec<String> = terminals.iter().map(|t| format!("\"{t}\"")).collect();
        Expected::from_terminals(&owned).to_sentence()
    }

    #[test]
    fn operators_and_expressions_are_summarised() {
        let mut after_operand: Vec<&str> = BINARY_OPERATORS.to_vec();
        after_operand.extend([";", "["]);
        assert_eq!(expected(&after_operand), "`;` or an operator");
        let mut operand: Vec<&str> = OPERAND_START.to_vec();
        operand.extend(BLOCK_LIKE_START);
        assert_eq!(expected(&operand), "an expression");
        assert_eq!(expected(&["IDENT"]), "a name");
        assert_eq!(expected(&[")", ","]), "`)` or `,`");
    }
}
