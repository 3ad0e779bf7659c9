//! The program's text: a header that says who holds and learns what, the declarations, the
//! client's input, the owner's parameters, one `let` per layer, and the one reveal.

use std::fmt::Write as _;

use crate::translate::{AffineKind, Stmt, StmtKind, Translated, Translation, dims_text};
use crate::{Options, Protocol};

pub fn program(t: &Translation<'_>, done: &Translated, options: &Options) -> String {
    let mut out = String::new();
    let o = options;
    let [s0, s1, s2] = &o.servers;
    let n_params: usize = t.params.iter().map(|p| p.data.len()).sum();
    let out_size: usize = done.output_dims.iter().product();
    let _ = writeln!(
        out,
        "// Private prediction with `{}`, imported by `tfec import`.",
        o.model_name
    );
    let _ = writeln!(
        out,
        "// From {}, ONNX operator set {}: {} layer{}, {} parameters{}.",
        t.graph.producer,
        t.graph.opset,
        t.layers,
        if t.layers == 1 { "" } else { "s" },
        thousands(n_params),
        if t.folded > 0 {
            format!(
                " ({} scale{} and shift{} folded into the layer before)",
                t.folded,
                if t.folded == 1 { "" } else { "s" },
                if t.folded == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "//");
    let _ = writeln!(
        out,
        "// `{}` holds the parameters (data/{}/*.npy) and secret-shares them. `{}` holds the",
        o.owner, o.owner, o.client
    );
    let _ = writeln!(
        out,
        "// examples (data/{}/input.csv: one per row, `{}` {} in C order) and alone learns",
        o.client,
        done.input.name,
        dims_text(&done.input.dims)
    );
    let _ = writeln!(
        out,
        "// the results (data/{}/output.csv: one row of {} values of `{}` per example).",
        o.client, out_size, done.output_name
    );
    let _ = writeln!(
        out,
        "// {s0}, {s1} and {s2} compute on secret shares and learn nothing; nothing else is revealed."
    );
    let header_end = out.len();
    let _ = writeln!(out);
    let _ = writeln!(out, "party {}, {};", o.owner, o.client);
    let _ = writeln!(out, "party {s0}, {s1}, {s2};");
    let _ = writeln!(
        out,
        "secret rep = {};",
        match o.protocol {
            Protocol::Aby3 => format!("aby3({s0}, {s1}, {s2})"),
            Protocol::Pond => format!("pond({s0}, {s1}, dealer = {s2})"),
            Protocol::SecureNn => format!("securenn({s0}, {s1}, dealer = {s2})"),
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "fn main() {{");
    // The client's part comes first (reading, the layout change, sharing), then the owner's
    // parameters, then the layers.
    let client_stmts = t.stmts.iter().take_while(|s| s.ty.is_some()).count();
    for s in &t.stmts[..client_stmts] {
        stmt(&mut out, t, s);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "    // The owner's parameters, each secret-shared where a layer first uses it."
    );
    for p in &t.params {
        let ty = match p.dims.as_slice() {
            [n] => format!("fixed[{n}]"),
            [a, b] => format!("fixed[{a}, {b}]"),
            other => format!(
                "fixed[{}]",
                other
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "    let {}: {ty} @{} = read_npy(\"{}.npy\");",
            p.name, o.owner, p.name
        );
    }
    for s in &t.stmts[client_stmts..] {
        let _ = writeln!(out);
        stmt(&mut out, t, s);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "    // The only declassification: the results, to the client."
    );
    let _ = writeln!(
        out,
        "    write_csv(reveal({}, to: {}), \"output.csv\");",
        done.output_var, o.client
    );
    let _ = writeln!(out, "}}");
    let imports = uses(t, &out[header_end..]);
    out.insert_str(header_end, &imports);
    out
}

/// The `use` lines for the library functions the body calls.
fn uses(t: &Translation<'_>, body: &str) -> String {
    let called = |name: &str| {
        body.match_indices(&format!("{name}("))
            .any(|(i, _)| !body[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    let mut nn: Vec<&str> = t.nn.iter().copied().collect();
    nn.extend(["dense", "conv2d", "depthwise_conv2d"]);
    nn.sort_unstable();
    nn.dedup();
    let nn: std::collections::BTreeSet<&str> = nn.into_iter().filter(|n| called(n)).collect();
    let math: std::collections::BTreeSet<&str> =
        t.math.iter().copied().filter(|n| called(n)).collect();
    let mut out = String::new();
    for (module, names) in [("nn", &nn), ("math", &math)] {
        match names.len() {
            0 => {}
            1 => {
                let _ = writeln!(
                    out,
                    "use std::{module}::{};",
                    names.iter().next().expect("one")
                );
            }
            _ => {
                let list: Vec<&str> = names.iter().copied().collect();
                let line = format!("use std::{module}::{{{}}};", list.join(", "));
                if line.len() <= 100 {
                    let _ = writeln!(out, "{line}");
                } else {
                    let _ = writeln!(out, "use std::{module}::{{");
                    let mut row = String::from("   ");
                    for n in list {
                        if row.len() + n.len() + 2 > 99 {
                            let _ = writeln!(out, "{row}");
                            row = String::from("   ");
                        }
                        let _ = write!(row, " {n},");
                    }
                    let _ = writeln!(out, "{row}");
                    let _ = writeln!(out, "}};");
                }
            }
        }
    }
    out
}

fn stmt(out: &mut String, t: &Translation<'_>, s: &Stmt) {
    for c in &s.comment {
        let _ = writeln!(out, "    // {c}");
    }
    let expr = match &s.kind {
        StmtKind::Expr(e) => e.clone(),
        StmtKind::Affine(a) => {
            let w = t.param_name(a.weight);
            let b = a.bias.map(|b| t.param_name(b).to_string());
            match &a.kind {
                AffineKind::Dense => match b {
                    Some(b) => format!("dense({}, {w}, {b})", a.input),
                    None => format!("matmul({}, {w})", a.input),
                },
                AffineKind::Conv {
                    depthwise,
                    height,
                    width,
                    channels,
                    size,
                    stride,
                    pad,
                } => format!(
                    "{}({}, {w}, {}, height: {height}, width: {width}, channels: {channels}, size: {size}, stride: {stride}, pad: {pad})",
                    if *depthwise {
                        "depthwise_conv2d"
                    } else {
                        "conv2d"
                    },
                    a.input,
                    b.unwrap_or_else(|| format!("zeros([{}])", a.channels)),
                ),
            }
        }
    };
    match &s.ty {
        Some(ty) => {
            let _ = writeln!(out, "    let {}: {ty} = {expr};", s.var);
        }
        None => {
            let _ = writeln!(out, "    let {} = {expr};", s.var);
        }
    }
}

/// 25557032 -> 25,557,032.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
