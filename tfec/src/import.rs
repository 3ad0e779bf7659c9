//! `tfec import`: an ONNX model to a program for private prediction, with the owner's
//! parameter files. The translation is `tfe_import` (pure); this reads the model, checks the
//! program it makes, and writes the files.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::Failure;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The ONNX model (`.onnx`), with its weights inside the file.
    model: PathBuf,
    /// The directory to write into: `DIR/model.tfe`, the parameters under `DIR/data/OWNER/`,
    /// and `DIR/data/CLIENT/` for the client's `input.csv`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The protocol of the secret placement the servers compute on.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Aby3)]
    protocol: ProtocolArg,
    /// The name of the party that holds the model's parameters.
    #[arg(long, value_name = "NAME", default_value = "owner")]
    owner: String,
    /// The name of the party that holds the examples and learns the results.
    #[arg(long, value_name = "NAME", default_value = "client")]
    client: String,
    /// The names of the three compute servers (the last is `pond`'s dealer).
    #[arg(
        long,
        value_name = "A,B,C",
        default_value = "s0,s1,s2",
        value_delimiter = ',',
        num_args = 1
    )]
    servers: Vec<String>,
    /// The model output to reveal to the client (default: its first floating-point output;
    /// for scikit-learn's classifiers, the probabilities).
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
    /// Replace a `model.tfe` and parameter files already in DIR.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProtocolArg {
    /// Replicated secret sharing among the three servers (honest majority).
    Aby3,
    /// Two servers and a dealer of correlated randomness, the third server (assumed to collude
    /// with neither server).
    Pond,
    /// pond, with the third server also a helper in comparisons (SecureNN; same trust).
    Securenn,
}

pub fn import(args: ImportArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.model)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", args.model.display())))?;
    let [s0, s1, s2] = args.servers.as_slice() else {
        return Err(Failure::Usage(format!(
            "--servers names three parties, not {}",
            args.servers.len()
        )));
    };
    let names = [&args.owner, &args.client, s0, s1, s2];
    for (i, n) in names.iter().enumerate() {
        if !is_identifier(n) {
            return Err(Failure::Usage(format!(
                "`{n}` cannot name a party: a name is letters, digits and `_`, starting with a letter, and not a keyword"
            )));
        }
        if names[..i].contains(n) {
            return Err(Failure::Usage(format!("two parties are named `{n}`")));
        }
    }
    let options = tfe_import::Options {
        model_name: args
            .model
            .file_name()
            .map_or_else(|| "model.onnx".into(), |n| n.to_string_lossy().into_owned()),
        owner: args.owner.clone(),
        client: args.client.clone(),
        servers: [s0.clone(), s1.clone(), s2.clone()],
        protocol: match args.protocol {
            ProtocolArg::Aby3 => tfe_import::Protocol::Aby3,
            ProtocolArg::Pond => tfe_import::Protocol::Pond,
            ProtocolArg::Securenn => tfe_import::Protocol::SecureNn,
        },
        output: args.output.clone(),
    };
    let imported = tfe_import::import(&bytes, &options).map_err(|e| {
        eprint!("error: cannot import `{}`: {e}", args.model.display());
        if !e.to_string().ends_with('\n') {
            eprintln!();
        }
        if let tfe_import::ImportError::Unsupported(_) = e {
            eprintln!("nothing was written");
        }
        Failure::Program
    })?;
    // The program must check before anything is written: a program that does not is a bug here.
    if let Err(diagnostics) = tfe_compiler::check(&imported.program) {
        let rendered = tfe_compiler::render(
            &diagnostics,
            "model.tfe",
            &imported.program,
            tfe_compiler::RenderOptions { color: false },
        );
        return Err(Failure::Usage(format!(
            "internal error: this is a bug in tfec: the imported program does not check:\n{rendered}"
        )));
    }
    let program_path = args.out.join("model.tfe");
    let owner_dir = args.out.join("data").join(&args.owner);
    let client_dir = args.out.join("data").join(&args.client);
    if !args.force {
        let mut existing: Vec<PathBuf> = Vec::new();
        if program_path.exists() {
            existing.push(program_path.clone());
        }
        for (name, _) in &imported.files {
            let p = owner_dir.join(name);
            if p.exists() {
                existing.push(p);
            }
        }
        if let Some(first) = existing.first() {
            return Err(Failure::Usage(format!(
                "`{}` exists{}; pass --force to replace it",
                first.display(),
                if existing.len() > 1 {
                    format!(" (and {} more files)", existing.len() - 1)
                } else {
                    String::new()
                }
            )));
        }
    }
    let mkdir = |d: &Path| {
        std::fs::create_dir_all(d)
            .map_err(|e| Failure::Usage(format!("cannot create `{}`: {e}", d.display())))
    };
    mkdir(&owner_dir)?;
    mkdir(&client_dir)?;
    let mut bytes_written = 0usize;
    for (name, data) in &imported.files {
        let p = owner_dir.join(name);
        tfe_runtime::csvio::write_atomic(&p, data, false)
            .map_err(|e| Failure::Usage(format!("cannot write `{}`: {e}", p.display())))?;
        bytes_written += data.len();
    }
    // The program last: a program beside all of its parameters.
    tfe_runtime::csvio::write_atomic(&program_path, imported.program.as_bytes(), false)
        .map_err(|e| Failure::Usage(format!("cannot write `{}`: {e}", program_path.display())))?;
    let s = &imported.summary;
    let in_size: usize = s.input_dims.iter().product();
    let out_size: usize = s.output_dims.iter().product();
    println!(
        "imported `{}` ({}, ONNX operator set {}): {} layers, {} parameters{}",
        args.model.display(),
        s.producer,
        s.opset,
        s.layers,
        thousands(s.parameters),
        if s.folded > 0 {
            format!(
                ", {} scale-and-shift layers folded into the layer before",
                s.folded
            )
        } else {
            String::new()
        }
    );
    println!(
        "wrote {} and {} parameter files ({:.1} MB) in {}",
        program_path.display(),
        imported.files.len(),
        bytes_written as f64 / 1e6,
        owner_dir.display()
    );
    println!(
        "the client's examples go in {}: one per row, {in_size} values (`{}`, {} in C order)",
        client_dir.join("input.csv").display(),
        s.input,
        dims(&s.input_dims)
    );
    println!(
        "then `tfec run {}` writes {}: {out_size} values per row (`{}`)",
        program_path.display(),
        client_dir.join("output.csv").display(),
        s.output
    );
    Ok(())
}

/// A name the program can give a party: an identifier that is not a keyword.
fn is_identifier(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "use", "party", "secret", "const", "fn", "let", "mut", "reveals", "for", "in", "while",
        "if", "else", "on", "return", "true", "false", "public", "fixed", "int", "bool", "float",
        "struct", "rep", "main",
    ];
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

fn dims(d: &[usize]) -> String {
    format!(
        "[{}]",
        d.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn thousands(n: usize) -> String {
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
