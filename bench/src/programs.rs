//! Generated `.tfe` programs of a given size, for front-end benchmarks: realistic in shape
//! (functions with annotated lets, loops, slices, calls with named arguments, `on` blocks,
//! comments), deterministic for a given size.

use std::fmt::Write;

/// A small deterministic generator (xorshift64), so that every run parses the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A program of at least `lines` lines.
pub fn generate(lines: usize) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(lines * 40);
    out.push_str("// Generated for the parse benchmark.\nuse std::nn::sigmoid;\n\n");
    out.push_str(
        "party alice, bob, analyst;\nparty s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\n",
    );
    out.push_str("const EPOCHS: int = 10;\nconst BATCH: int = 32;\nconst LR: fixed = 0.5;\n\n");
    let mut f = 0;
    let mut n_lines = out.matches('\n').count();
    while n_lines + f + 8 < lines {
        let before = out.len();
        function(&mut out, &mut rng, f);
        n_lines += out[before..].matches('\n').count();
        f += 1;
    }
    // `main` calls every step, so that the checker checks every function.
    out.push_str("fn main() {\n");
    out.push_str("    let x: fixed[_, 30] @rep = zeros([64, 30]);\n");
    out.push_str("    let y: fixed[_, 1] @rep = zeros([64, 1]);\n");
    out.push_str("    let mut w: fixed[30, 1] @rep = zeros([30, 1]);\n");
    for i in 0..f {
        let _ = writeln!(out, "    w = step_{i}(x, y, w);");
    }
    out.push_str("    write_csv(reveal(w, to: analyst), \"w.csv\");\n}\n");
    out
}

fn function(out: &mut String, rng: &mut Rng, index: usize) {
    let _ = writeln!(
        out,
        "fn step_{index}(x: fixed[_, 30] @rep, y: fixed[_, 1] @rep, w: fixed[30, 1] @rep) -> fixed[30, 1] @rep {{"
    );
    out.push_str("    let mut w2: fixed[30, 1] @rep = w;\n");
    for _ in 0..rng.below(4) + 2 {
        out.push_str("    for i in 0..rows(x) / BATCH {\n");
        out.push_str("        let xi = x[i * BATCH .. (i + 1) * BATCH];\n");
        out.push_str("        let yi = y[i * BATCH .. (i + 1) * BATCH];\n");
        out.push_str("        /* the gradient of the logistic loss */\n");
        let _ = writeln!(
            out,
            "        let g = sigmoid(matmul(xi, w2) + {}.{}) - yi;",
            rng.below(10),
            rng.below(1000)
        );
        out.push_str("        w2 = w2 - LR / BATCH * matmul(transpose(xi), g);\n");
        out.push_str("    }\n");
    }
    out.push_str("    let local = on alice {\n");
    out.push_str(
        "        let v: fixed[_, 30] @alice = read_csv(\"alice_x.csv\"); // a party's own data\n",
    );
    out.push_str("        if rows(v) > 0 { sum(v, axis: 0) } else { zeros([30]) }\n");
    out.push_str("    };\n");
    out.push_str("    w2\n}\n\n");
}
