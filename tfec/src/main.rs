//! `tfec`: the command line of tfe. The only crate that touches files and the terminal.
//!
//! Exit codes: 0 success, 1 the program has errors, 2 usage or I/O errors, 3 the run failed (a
//! party could not go on: a missing or malformed data file, a party that stopped, a timeout).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tfe_compiler::{Diagnostic, Options, Pass, RenderOptions, Stage};

/// mimalloc rather than glibc's allocator: a party's big buffers (shares, masks, bit planes)
/// come and go every op, and glibc returns them to the kernel and maps fresh pages for the next
/// ones, so page faults and TLB-shootdown interrupts took about half of a comparison's time.
/// mimalloc keeps and reuses them: training networks B and C runs 25–45% faster (`bench
/// networks`, 2026-12-07) at about the same peak memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod emulate;
mod import;
mod profile;
mod progress;
mod run;

/// Machine learning on encrypted data, as a language.
///
/// A `.tfe` program says who owns which data and who may learn which result. `tfec` checks that
/// the program leaks nothing it does not state.
#[derive(Parser, Debug)]
#[command(name = "tfec", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a program and report every error found.
    ///
    /// Checks the syntax, names, types, placements and the information-flow rules: that no
    /// value reaches a party that may not see it except through a `reveal` the source states.
    /// Exits with 1 if the program has errors.
    Check {
        /// The `.tfe` source file.
        file: PathBuf,
        /// How to report: `human` (rendered, on stderr) or `json` (one object on stdout, for
        /// editors and CI; printed also when there are no errors).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the program's privacy policy: who learns what.
    ///
    /// For each party, where the data it reads can flow (which secret placements, which other
    /// parties through which reveals), and every declassification with its line. The program
    /// is checked first; a program with errors has no policy.
    Policy {
        /// The `.tfe` source file.
        file: PathBuf,
    },
    /// Show a stage of the compilation of a program.
    Build {
        /// The `.tfe` source file.
        file: PathBuf,
        /// What to print: `ast` (the syntax tree with positions), `hir` (the checked program: a
        /// type and a placement on every expression), `ir` (the protocol IR: operations at
        /// placements, registers, loops), `protocol` (the IR with each operation's messages),
        /// `party:NAME` (the program of one party: the operations it takes part in), or the name
        /// of a compiler pass (`parse`, `check`, `lower`, `cse`, …) for the program after it.
        #[arg(long, value_name = "STAGE")]
        emit: String,
    },
    /// Run a program: every party in this process, or each party as its own process.
    ///
    /// Without `--players`, every party runs in this process (the embedded default). Party `p`
    /// reads and writes its files under `data/p/` beside the program (or `DIR/p/` with `--data
    /// DIR`). With `--players players.toml`, every party whose address is on this machine runs
    /// as its own `tfec` process, talking gRPC (mutual TLS with `[tls]`); `--as NAME` runs that
    /// party alone. Lines printed by a party are shown prefixed by its name. Exits with 3 if the
    /// run fails, naming the party and the cause.
    Run(run::RunArgs),
    /// Make a CA and a certificate and key for every party of a players.toml.
    ///
    /// Writes `ca.pem`, `ca.key`, and `<party>.pem` / `<party>.key` for each party (its name
    /// in the certificate) into the output directory: the default paths of `players.toml`'s
    /// `cert` and `key` when it is `certs/` beside the file. Keys are readable by the owner only.
    Certs {
        /// The players file whose parties get certificates.
        players: PathBuf,
        /// Where to write them (default: `certs/` beside the players file).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Turn an ONNX model into a program for private prediction.
    ///
    /// Writes `DIR/model.tfe` (parties: the owner of the model, the client, three servers),
    /// the model's parameters as NumPy files under `DIR/data/owner/`, and makes
    /// `DIR/data/client/` for the client's `input.csv` (one example per row, the model's input
    /// in C order: NCHW for images). `tfec run DIR/model.tfe` then writes the model's output
    /// for each example to `DIR/data/client/output.csv`, revealed to the client alone. A
    /// model with an operator tfe does not support is refused (exit 1), naming each such
    /// operator and its node; nothing is written then.
    Import(import::ImportArgs),
    /// Explain an error code in detail, with a wrong and a right example.
    ///
    /// Without a code, lists every code.
    Explain {
        /// An error code such as `E0006` (or `e6`).
        code: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

/// How `tfec build --emit` shows an IR.
enum View {
    Plain,
    /// With each op's messages (`protocol`).
    Messages,
    /// One party's projection, with messages (`party:NAME`).
    Party(String),
}

/// How a command failed.
enum Failure {
    /// The program has errors, already reported (exit code 1).
    Program,
    /// A usage or I/O problem, with its message (exit code 2).
    Usage(String),
    /// The run failed, already reported (exit code 3).
    Run,
}

fn main() -> ExitCode {
    tfe_runtime::memory::keep_freed_memory();
    let cli = Cli::parse();
    // Compilation recurses over the syntax tree. The parser bounds the tree's depth, and a
    // large stack leaves a wide margin on top of that bound.
    let worker = std::thread::Builder::new()
        .name("tfec".into())
        .stack_size(256 << 20)
        .spawn(move || run(cli));
    let result = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(Failure::Usage(
                "internal error: this is a bug in tfec".into(),
            ))
        }),
        Err(e) => Err(Failure::Usage(format!(
            "cannot start the compiler thread: {e}"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Program) => ExitCode::from(1),
        Err(Failure::Run) => ExitCode::from(3),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let render = RenderOptions { color };
    match cli.command {
        Command::Check { file, format } => {
            let src = read_source(&file)?;
            let result = tfe_compiler::check(&src);
            if format == Format::Json {
                let diagnostics = result.as_ref().err().map_or(&[][..], |d| &d[..]);
                let name = file.display().to_string();
                print!(
                    "{}",
                    tfe_compiler::diagnostics::to_json(diagnostics, &name, &src)
                );
                return result.map(|_| ()).map_err(|_| Failure::Program);
            }
            result.map_err(|d| {
                report(&file, &src, &d, render);
                Failure::Program
            })?;
            eprintln!("{}: ok", file.display());
            Ok(())
        }
        Command::Policy { file } => {
            let src = read_source(&file)?;
            let program = tfe_compiler::check(&src).map_err(|d| {
                report(&file, &src, &d, render);
                Failure::Program
            })?;
            let policy = tfe_compiler::policy::analyze(&program);
            let name = file.display().to_string();
            print!(
                "{}",
                tfe_compiler::policy::render(&program, &policy, &name, &src)
            );
            Ok(())
        }
        Command::Build { file, emit } => {
            let src = read_source(&file)?;
            let (pass, view) = match emit.as_str() {
                "ast" => (Pass::Parse, View::Plain),
                "hir" => (Pass::Check, View::Plain),
                "ir" => (Pass::LAST, View::Plain),
                "protocol" => (Pass::LAST, View::Messages),
                other if other.starts_with("party:") => {
                    (Pass::LAST, View::Party(other["party:".len()..].to_string()))
                }
                other => match Pass::from_name(other) {
                    Some(pass) => (pass, View::Plain),
                    None => {
                        let passes: Vec<&str> = Pass::ALL.iter().map(|p| p.name()).collect();
                        return Err(Failure::Usage(format!(
                            "unknown stage `{other}` for --emit; the stages are: ast, hir, ir, protocol, party:NAME, \
                             or the program after a pass: {}",
                            passes.join(", ")
                        )));
                    }
                },
            };
            let stage = tfe_compiler::pipeline::run(&src, &Options::until(pass)).map_err(|d| {
                report(&file, &src, &d, render);
                Failure::Program
            })?;
            // Each op's messages, as its placement's protocol sends them.
            let table: tfe_ir::MessageTable<'_> = &tfe_runtime::protocol::messages;
            match (stage, view) {
                (Stage::Ast(program), _) => {
                    print!("{}", tfe_grammar::dump::program(&program, &src))
                }
                (Stage::Hir(program), _) => print!("{}", tfe_compiler::hir_dump::program(&program)),
                (Stage::Ir(ir), View::Plain) => print!("{}", ir.to_text()),
                (Stage::Ir(ir), View::Messages) => print!("{}", ir.to_text_with(Some(table))),
                (Stage::Ir(ir), View::Party(name)) => {
                    let Some(party) = ir.parties.iter().position(|p| *p == name) else {
                        return Err(Failure::Usage(format!(
                            "`{name}` is not a party of this program; its parties are {}",
                            ir.parties.join(", ")
                        )));
                    };
                    print!("{}", tfe_ir::project(&ir, party).to_text_with(Some(table)));
                }
            }
            Ok(())
        }
        Command::Run(args) => run::run(args, render),
        Command::Certs { players, out } => run::certs(&players, out),
        Command::Import(args) => import::import(args),
        Command::Explain { code: Some(code) } => match tfe_compiler::explain::lookup(&code) {
            Some(e) => {
                println!("{}: {}\n\n{}", e.code, e.title, e.text);
                Ok(())
            }
            None => Err(Failure::Usage(format!(
                "no error code `{code}`; `tfec explain` lists them all"
            ))),
        },
        Command::Explain { code: None } => {
            for e in tfe_compiler::explain::all() {
                println!("{}  {}", e.code, e.title);
            }
            Ok(())
        }
    }
}

/// Reads a source file. A missing or unreadable file is a usage error; bytes that are not
/// UTF-8 are an error in the program, reported at their line.
fn read_source(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        eprintln!(
            "error: `{}` is not UTF-8 text: invalid byte 0x{:02x} on line {line}",
            path.display(),
            bytes[offset]
        );
        Failure::Program
    })
}

/// Checks and lowers a program to the protocol IR, reporting errors.
fn lower(file: &Path, src: &str, render: RenderOptions) -> Result<tfe_ir::Program, Failure> {
    let report_errors = |d: Vec<Diagnostic>| {
        report(file, src, &d, render);
        Failure::Program
    };
    tfe_compiler::compile(src, &Options::default()).map_err(report_errors)
}

fn report(file: &Path, src: &str, diagnostics: &[Diagnostic], render: RenderOptions) {
    let name = file.display().to_string();
    eprint!("{}", tfe_compiler::render(diagnostics, &name, src, render));
    let n = diagnostics.len();
    eprintln!(
        "error: `{name}` has {n} error{}",
        if n == 1 { "" } else { "s" }
    );
}
