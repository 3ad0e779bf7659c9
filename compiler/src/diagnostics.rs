//! Diagnostics: the one shape every compiler error takes, and the one place that renders them.
//!
//! Each phase has its own data-only error type (the grammar's [`SyntaxError`], later the
//! checker's); a `From` conversion into [`Diagnostic`] writes the prose: a stable code, a
//! message, a primary label, secondary labels and a help line. [`render`] draws them with
//! ariadne. Nothing else in the project formats an error for a person.

use ariadne::{Color, Config, IndexType, Label as AriadneLabel, Report, ReportKind, Source};
use tfe_grammar::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with what to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(span: Span, message: impl Into<String>) -> Label {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// One problem found in a program.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0006`: documented by `tfec explain`, safe to match on in scripts.
    pub code: &'static str,
    pub severity: Severity,
    /// One line, lower case, no final period: "expected `;` after this statement".
    pub message: String,
    /// Where the problem is.
    pub primary: Label,
    /// Where the values involved came from.
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, primary: Label) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn with_secondary(mut self, label: Label) -> Diagnostic {
        self.secondary.push(label);
        self
    }

    /// A secondary label only when `cond` holds (a span in the program's own file).
    pub fn with_secondary_if(self, cond: bool, label: Label) -> Diagnostic {
        if cond {
            self.with_secondary(label)
        } else {
            self
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// How to draw diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// ANSI colours (for a terminal); off for files, pipes and snapshots.
    pub color: bool,
}

/// Renders diagnostics of one file for a person, in order, separated by blank lines.
pub fn render(
    diagnostics: &[Diagnostic],
    file_name: &str,
    src: &str,
    options: RenderOptions,
) -> String {
    let mut out = Vec::new();
    let config = Config::default()
        .with_index_type(IndexType::Byte)
        .with_color(options.color);
    for diagnostic in diagnostics {
        let kind = match diagnostic.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let range = |span: Span| visible_range(span, src);
        let mut report = Report::build(kind, (file_name, range(diagnostic.primary.span)))
            .with_config(config)
            .with_code(diagnostic.code)
            .with_message(&diagnostic.message)
            .with_label(
                AriadneLabel::new((file_name, range(diagnostic.primary.span)))
                    .with_message(&diagnostic.primary.message)
                    .with_color(Color::Red)
                    .with_order(0),
            );
        for (i, label) in diagnostic.secondary.iter().enumerate() {
            report = report.with_label(
                AriadneLabel::new((file_name, range(label.span)))
                    .with_message(&label.message)
                    .with_color(Color::Blue)
                    .with_order(i as i32 + 1),
            );
        }
        if let Some(help) = &diagnostic.help {
            report = report.with_help(help);
        }
        report
            .finish()
            .write((file_name, Source::from(src)), &mut out)
            .expect("writing a diagnostic to memory cannot fail");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ariadne draws nothing for an empty span, so an empty span (a missing token at the end of a
/// line, the end of the file) is widened to the character before it, or after it at the start
/// of the file.
fn visible_range(span: Span, src: &str) -> std::ops::Range<usize> {
    let start = span.start.min(src.len());
    let end = span.end.min(src.len()).max(start);
    if start < end {
        return start..end;
    }
    if let Some(c) = src[..start].chars().next_back() {
        return start - c.len_utf8()..start;
    }
    match src[start..].chars().next() {
        Some(c) => start..start + c.len_utf8(),
        None => start..start,
    }
}

/// The diagnostics of one file as JSON (for editors and CI), one object:
/// `{"file": …, "errors": N, "diagnostics": [{"code", "severity", "message", "primary",
/// "secondary", "help"}]}`, each label with byte offsets and 1-based lines and columns.
pub fn to_json(diagnostics: &[Diagnostic], file_name: &str, src: &str) -> String {
    let lines = tfe_grammar::LineIndex::new(src);
    let label = |l: &Label| {
        let (line, column) = lines.line_col(src, l.span.start);
        let (end_line, end_column) = lines.line_col(src, l.span.end);
        format!(
            "{{\"start\":{},\"end\":{},\"line\":{line},\"column\":{column},\"end_line\":{end_line},\"end_column\":{end_column},\"message\":{}}}",
            l.span.start,
            l.span.end,
            json_string(&l.message)
        )
    };
    let items: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let secondary: Vec<String> = d.secondary.iter().map(label).collect();
            format!(
                "{{\"code\":{},\"severity\":{},\"message\":{},\"primary\":{},\"secondary\":[{}],\"help\":{}}}",
                json_string(d.code),
                json_string(match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                }),
                json_string(&d.message),
                label(&d.primary),
                secondary.join(","),
                d.help.as_deref().map_or("null".to_string(), json_string)
            )
        })
        .collect();
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    format!(
        "{{\"file\":{},\"errors\":{errors},\"diagnostics\":[{}]}}\n",
        json_string(file_name),
        items.join(",")
    )
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
