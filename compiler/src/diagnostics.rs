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

/// At most this many diagnostics are shown, rendered or as JSON; a final line says how many more
/// there were. A file that repeats one mistake 50,000 times gets a readable report, in time.
pub const MAX_SHOWN: usize = 100;

/// A source line longer than this (in bytes) is shown in part: the text around each label, with
/// `…` for what is left out. Drawing a whole line of a megabyte under every error would make the
/// report as large as the line times the errors.
const MAX_LINE: usize = 240;
/// How much of a long line is kept on each side of a label's start and end (in bytes).
const LINE_CONTEXT: usize = 60;

/// Renders diagnostics of one file for a person, in order, separated by blank lines; at most
/// [`MAX_SHOWN`], then a line saying how many more there are.
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
    let lines = Lines::new(src);
    for diagnostic in diagnostics.iter().take(MAX_SHOWN) {
        let kind = match diagnostic.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let spans: Vec<std::ops::Range<usize>> = std::iter::once(&diagnostic.primary)
            .chain(&diagnostic.secondary)
            .map(|l| visible_range(l.span, src))
            .collect();
        let excerpt = Excerpt::new(src, &lines, &spans);
        let mut report = Report::build(kind, (file_name, excerpt.range(&spans[0])))
            .with_config(config)
            .with_code(diagnostic.code)
            .with_message(&diagnostic.message)
            .with_label(
                AriadneLabel::new((file_name, excerpt.range(&spans[0])))
                    .with_message(&diagnostic.primary.message)
                    .with_color(Color::Red)
                    .with_order(0),
            );
        for (i, label) in diagnostic.secondary.iter().enumerate() {
            report = report.with_label(
                AriadneLabel::new((file_name, excerpt.range(&spans[i + 1])))
                    .with_message(&label.message)
                    .with_color(Color::Blue)
                    .with_order(i as i32 + 1),
            );
        }
        if let Some(help) = &diagnostic.help {
            report = report.with_help(help);
        }
        let mut one = Vec::new();
        report
            .finish()
            .write((file_name, Source::from(excerpt.text.as_str())), &mut one)
            .expect("writing a diagnostic to memory cannot fail");
        let mut one = String::from_utf8_lossy(&one).into_owned();
        if excerpt.clipped {
            // ariadne counts the column of the header in the excerpt; put back the file's.
            let line = lines.line_of(spans[0].start);
            let shown = |col: usize| format!("{file_name}:{}:{col}", line + 1);
            let in_excerpt = excerpt.text[excerpt.line_start(line)..excerpt.range(&spans[0]).start]
                .chars()
                .count();
            let in_file = src[lines.starts[line]..spans[0].start].chars().count();
            one = one.replacen(&shown(in_excerpt + 1), &shown(in_file + 1), 1);
        }
        out.extend_from_slice(one.as_bytes());
    }
    let mut out = String::from_utf8_lossy(&out).into_owned();
    if let Some(more) = not_shown(diagnostics) {
        out.push_str(&more);
        out.push('\n');
    }
    out
}

/// "… and N more errors (not shown)", when there are more than [`MAX_SHOWN`].
fn not_shown(diagnostics: &[Diagnostic]) -> Option<String> {
    let more = diagnostics
        .len()
        .checked_sub(MAX_SHOWN)
        .filter(|&n| n > 0)?;
    Some(format!(
        "… and {more} more error{} (not shown)",
        if more == 1 { "" } else { "s" }
    ))
}

/// Where each line of a source starts, with the line separators ariadne knows (so that line
/// numbers agree with the ones it draws).
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(src: &str) -> Lines {
        let mut starts = vec![0];
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let end = match c {
                '\r' if chars.peek().is_some_and(|&(_, n)| n == '\n') => {
                    chars.next();
                    i + 2
                }
                '\r' | '\n' | '\x0B' | '\x0C' | '\u{0085}' | '\u{2028}' | '\u{2029}' => {
                    i + c.len_utf8()
                }
                _ => continue,
            };
            starts.push(end);
        }
        Lines { starts }
    }

    /// The 0-based line holding byte `offset` (the last line for the end of the file).
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }
}

/// The part of a source one diagnostic needs, as a text of its own with the same line numbers:
/// lines before the first label are empty, lines between labels that no label starts or ends on
/// are empty (ariadne never draws them), and long lines keep only the text around the labels.
/// Its size is bounded by the number of lines up to the last label plus a few hundred bytes per
/// label, whatever the length of the lines.
struct Excerpt {
    text: String,
    /// The lines of the excerpt that hold text, in order.
    kept: Vec<KeptLine>,
    /// Some line was cut.
    clipped: bool,
}

impl Excerpt {
    fn new(src: &str, lines: &Lines, spans: &[std::ops::Range<usize>]) -> Excerpt {
        // The lines a label starts or ends on, with the offsets on each that must stay.
        let mut points: Vec<(usize, usize)> = Vec::new();
        for span in spans {
            points.push((lines.line_of(span.start), span.start));
            if span.end > span.start {
                points.push((lines.line_of(span.end - 1), span.end));
            }
        }
        points.sort_unstable();
        let last_line = points.last().map_or(0, |p| p.0);
        let mut text = String::new();
        let mut kept = Vec::new();
        let mut clipped = false;
        let mut next_point = 0;
        for line in 0..=last_line.min(lines.starts.len() - 1) {
            let start = lines.starts[line];
            let end = lines.starts.get(line + 1).copied().unwrap_or(src.len());
            let here: Vec<usize> = points[next_point..]
                .iter()
                .take_while(|p| p.0 == line)
                .map(|p| p.1 - start)
                .collect();
            next_point += here.len();
            if here.is_empty() {
                text.push('\n');
                continue;
            }
            let body = &src[start..end];
            let content_len = body
                .trim_end_matches([
                    '\r', '\n', '\x0B', '\x0C', '\u{0085}', '\u{2028}', '\u{2029}',
                ])
                .len();
            let ranges = if content_len <= MAX_LINE {
                vec![(0, body.len())]
            } else {
                clipped = true;
                let mut ranges: Vec<(usize, usize)> = Vec::new();
                for &p in &here {
                    let lo = floor_char(body, p.saturating_sub(LINE_CONTEXT));
                    let hi = ceil_char(body, (p + LINE_CONTEXT).min(content_len));
                    match ranges.last_mut() {
                        Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                        _ => ranges.push((lo, hi)),
                    }
                }
                // The line's end (its separator) stays, so the next line starts where it should.
                ranges.push((content_len, body.len()));
                ranges
            };
            let excerpt_start = text.len();
            let mut at = 0;
            for &(lo, hi) in &ranges {
                if lo > at {
                    text.push('…');
                }
                text.push_str(&body[lo..hi]);
                at = hi;
            }
            kept.push(KeptLine {
                line,
                source_start: start,
                excerpt_start,
                ranges,
            });
        }
        Excerpt {
            text,
            kept,
            clipped,
        }
    }

    /// Where a source offset that a label starts or ends at lies in the excerpt.
    fn offset(&self, offset: usize) -> usize {
        let i = self
            .kept
            .partition_point(|k| k.source_start <= offset)
            .saturating_sub(1);
        let Some(kept) = self.kept.get(i) else {
            return 0;
        };
        let rel = offset.saturating_sub(kept.source_start);
        let mut out = kept.excerpt_start;
        let mut at = 0;
        for &(lo, hi) in &kept.ranges {
            if lo > at {
                out += '…'.len_utf8();
            }
            if rel <= hi {
                return out + rel.saturating_sub(lo);
            }
            out += hi - lo;
            at = hi;
        }
        out
    }

    fn range(&self, span: &std::ops::Range<usize>) -> std::ops::Range<usize> {
        let start = self.offset(span.start);
        start..self.offset(span.end).max(start)
    }

    /// Where a line that holds a label starts in the excerpt.
    fn line_start(&self, line: usize) -> usize {
        self.kept
            .iter()
            .find(|k| k.line == line)
            .map_or(0, |k| k.excerpt_start)
    }
}

/// A line of the source that an excerpt shows.
struct KeptLine {
    line: usize,
    /// Where it starts in the source and in the excerpt.
    source_start: usize,
    excerpt_start: usize,
    /// The byte ranges of the line that are shown, relative to its start (the whole line, or the
    /// text around the labels and the line's end).
    ranges: Vec<(usize, usize)>,
}

/// The char boundary at or before `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The char boundary at or after `i`.
fn ceil_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
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
/// "secondary", "help"}], "not_shown": M}`, each label with byte offsets and 1-based lines and
/// columns. `errors` counts them all; `diagnostics` holds the first [`MAX_SHOWN`], and
/// `not_shown` says how many more there are.
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
        .take(MAX_SHOWN)
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
        "{{\"file\":{},\"errors\":{errors},\"diagnostics\":[{}],\"not_shown\":{}}}\n",
        json_string(file_name),
        items.join(","),
        diagnostics.len() - items.len()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error_at(start: usize, end: usize) -> Diagnostic {
        Diagnostic::error(
            "E0103",
            "a problem",
            Label::new(Span::new(start, end), "here"),
        )
    }

    fn plain(diagnostics: &[Diagnostic], src: &str) -> String {
        render(diagnostics, "f.tfe", src, RenderOptions { color: false })
    }

    #[test]
    fn many_diagnostics_are_cut_with_a_count_in_both_forms() {
        let src = "party a;\n".repeat(MAX_SHOWN + 7);
        let all: Vec<Diagnostic> = (0..MAX_SHOWN + 7)
            .map(|i| error_at(9 * i + 6, 9 * i + 7))
            .collect();
        let text = plain(&all, &src);
        assert_eq!(text.matches("[E0103]").count(), MAX_SHOWN);
        assert!(
            text.ends_with("… and 7 more errors (not shown)\n"),
            "{text}"
        );
        let json = to_json(&all, "f.tfe", &src);
        assert_eq!(json.matches("\"code\"").count(), MAX_SHOWN);
        assert!(json.contains("\"errors\":107,"), "{json}");
        assert!(json.ends_with(",\"not_shown\":7}\n"), "{json}");
        let few = plain(&all[..MAX_SHOWN], &src);
        assert!(!few.contains("not shown"));
        assert!(to_json(&all[..2], "f.tfe", &src).ends_with(",\"not_shown\":0}\n"));
    }

    #[test]
    fn a_long_line_is_shown_around_its_labels_with_the_true_column() {
        // Line 2 is 100,000 characters long; the label is at its 50,001st.
        let src = format!(
            "fn main() {{\n{}bad{}\n}}\n",
            "x".repeat(50_000),
            "y".repeat(49_997)
        );
        let start = src.find("bad").unwrap();
        let text = plain(&[error_at(start, start + 3)], &src);
        assert!(text.len() < 1_000, "{text}");
        assert!(text.contains("f.tfe:2:50001"), "{text}");
        assert!(text.contains("xxxbadyyy"), "{text}");
        assert!(text.contains('…'));
        // A label far from the first: both shown, the columns between left out.
        let d = error_at(start, start + 3).with_secondary(Label::new(Span::new(12, 13), "first"));
        let text = plain(&[d], &src);
        assert!(text.len() < 1_500, "{text}");
        assert!(text.contains("here") && text.contains("first"), "{text}");
    }

    #[test]
    fn excerpts_keep_line_numbers_and_short_lines_whole() {
        // Carriage returns, form feeds and CRLF all end lines for ariadne; so they do here.
        let src = "party a;\r\nparty b;\rparty c;\x0Cparty d;\nparty e;\n";
        let start = src.find("e;").unwrap();
        let text = plain(&[error_at(start, start + 1)], src);
        assert!(text.contains("f.tfe:5:7"), "{text}");
        assert!(text.contains(" 5 │ party e;"), "{text}");
        // A span over several lines, the last long, and one at the very end of the file.
        let src = format!("fn f() {{\n    x\n{}}}", " ".repeat(1_000));
        let text = plain(&[error_at(7, src.len())], &src);
        assert!(text.len() < 2_000 && text.contains("f.tfe:1:8"), "{text}");
        let text = plain(&[error_at(src.len(), src.len())], &src);
        assert!(text.contains(&format!("f.tfe:3:{}", 1_001)), "{text}");
        // Characters of several bytes at the edges of what is kept.
        let src = format!("{}é{}", "é".repeat(400), "ü".repeat(400));
        let start = 800;
        let text = plain(&[error_at(start, start + 2)], &src);
        assert!(text.contains("f.tfe:1:401"), "{text}");
        assert!(plain(&[error_at(0, 0)], "").contains("a problem"));
    }
}
