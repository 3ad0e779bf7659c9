//! Helpers shared by the tests: the protocols every secret computation is tested on (and a
//! program or an example switched to one by its `secret` line), the examples' data copied to a
//! scratch directory (the runs write their outputs there, not into the repository), CSV files
//! read as matrices, and (in [`wire`]) whole runs in this process with every message recorded.

#![allow(dead_code, unused_macros)]

pub mod wire;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;

/// The protocols every secret computation is tested on, in one list: each row is a variant of
/// [`Protocol`] and its name (that of its tests' module, `pond::f`, and of the protocol in a
/// `secret` line). Adding a protocol is a row here and its `secret` line in
/// [`Protocol::declare`] (which the compiler then asks for); [`PROTOCOLS`] and
/// [`per_protocol!`] follow. (`$then` is called with `$args` and the rows.)
macro_rules! with_protocols {
    ($then:ident ! $args:tt) => {
        $then! { $args [Aby3 aby3] [Pond pond] [SecureNn securenn] [Aby3Wide aby3_128] [PondWide pond_128] }
    };
}

macro_rules! define_protocols {
    (() $([$variant:ident $name:ident])*) => {
        /// A protocol of secret placements.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Protocol {
            $($variant,)*
        }

        /// Every protocol. Each test of a secret computation runs on all of them, through
        /// [`per_protocol!`] or by iterating over this list.
        pub const PROTOCOLS: &[Protocol] = &[$(Protocol::$variant),*];

        impl Protocol {
            pub fn name(self) -> &'static str {
                match self {
                    $(Protocol::$variant => stringify!($name),)*
                }
            }
        }
    };
}

with_protocols!(define_protocols!());

impl Protocol {
    /// The declaration of secret placement `name` over three members: aby3's three parties;
    /// pond's and securenn's two servers and, the third, its dealer. `Aby3Wide` and `PondWide`
    /// are aby3 and pond with 128-bit rings and 32 fractional bits.
    pub fn declare(self, name: &str, [a, b, c]: [&str; 3]) -> String {
        match self {
            Protocol::Aby3 => format!("secret {name} = aby3({a}, {b}, {c});"),
            Protocol::Pond => format!("secret {name} = pond({a}, {b}, dealer = {c});"),
            Protocol::SecureNn => format!("secret {name} = securenn({a}, {b}, dealer = {c});"),
            Protocol::Aby3Wide => {
                format!("secret {name} = aby3({a}, {b}, {c}, ring = 128, frac = 32);")
            }
            Protocol::PondWide => {
                format!("secret {name} = pond({a}, {b}, dealer = {c}, ring = 128, frac = 32);")
            }
        }
    }

    /// The protocol whatever the ring: aby3 for `Aby3Wide`, pond for `PondWide`.
    pub fn base(self) -> Protocol {
        match self {
            Protocol::Aby3Wide => Protocol::Aby3,
            Protocol::PondWide => Protocol::Pond,
            other => other,
        }
    }

    /// The tests' usual placement, `rep` over s0, s1 and s2 (pond's dealer: s2).
    pub fn secret_line(self) -> String {
        self.declare("rep", ["s0", "s1", "s2"])
    }

    /// `source` with every `secret NAME = aby3(A, B, C);` line switched to this protocol over
    /// the same members (as a user switches a program: by its `secret` line, nothing else).
    /// Fails the test if `source` has no such line.
    pub fn switch(self, source: &str) -> String {
        let mut switched = 0;
        let mut out: Vec<String> = Vec::new();
        for line in source.lines() {
            let declared = line.split_once("= aby3(").and_then(|(head, rest)| {
                let name = head.trim().strip_prefix("secret ")?.trim();
                let (members, _comment) = rest.split_once(");")?;
                let members: Vec<&str> = members.split(',').map(str::trim).collect();
                Some((name, <[&str; 3]>::try_from(members).ok()?))
            });
            match declared {
                Some((name, members)) => {
                    switched += 1;
                    out.push(match self {
                        // Unchanged, comment and all.
                        Protocol::Aby3 => line.to_string(),
                        _ => {
                            let indent = &line[..line.len() - line.trim_start().len()];
                            format!("{indent}{}", self.declare(name, members))
                        }
                    });
                }
                None => out.push(line.to_string()),
            }
        }
        assert!(
            switched > 0,
            "no `secret NAME = aby3(a, b, c);` line to switch in:\n{source}"
        );
        let mut text = out.join("\n");
        if source.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}

/// Makes each function `f(Protocol)` named one test per protocol of [`with_protocols!`],
/// `aby3::f`, `pond::f` and so on: a failure names its protocol, `cargo test pond::` runs one
/// protocol's tests, and they run in parallel like any tests. Attributes written before the
/// names apply to every test made (`per_protocol!(#[ignore = "why"] f, g)`). (Use with
/// `#[macro_use] mod support;`.)
macro_rules! per_protocol {
    ((@modules $attrs:tt $names:tt) $([$variant:ident $module:ident])*) => {
        $(per_protocol!(@module $variant $module $attrs $names);)*
    };
    (@module $variant:ident $module:ident $attrs:tt [$($name:ident),*]) => {
        mod $module {
            $(per_protocol!(@test $variant $attrs $name);)*
        }
    };
    (@test $variant:ident [$(#[$attr:meta])*] $name:ident) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            super::$name(super::support::Protocol::$variant)
        }
    };
    ($(#[$attr:meta])* $($name:ident),* $(,)?) => {
        with_protocols!(per_protocol!(@modules [$(#[$attr])*] [$($name),*]));
    };
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A fresh copy of examples/data for one test.
pub fn scratch_data(name: &str) -> PathBuf {
    let data = std::env::temp_dir().join(format!("tfe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let written = examples_outputs();
    copy_dir(&examples().join("data"), &data, Path::new(""), &written);
    data
}

/// What the examples write under `examples/data/`, as the repository's `.gitignore` lists it
/// (paths relative to `examples/data/`; `*` within a name; a trailing `/` for a directory). A
/// scratch copy leaves them out, so that the tests see the inputs only, even after the README's
/// main job ran in this checkout.
fn examples_outputs() -> Vec<String> {
    let ignore = examples().join("../.gitignore");
    std::fs::read_to_string(ignore)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("/examples/data/"))
        .map(str::to_string)
        .collect()
}

/// Whether `path` (relative to `examples/data/`, `/`-separated) matches a pattern of
/// [`examples_outputs`].
fn is_output(path: &str, dir: bool, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('/') {
        Some(d) => dir && path == d,
        None => {
            !dir && match p.split_once('*') {
                Some((head, tail)) => {
                    path.len() >= head.len() + tail.len()
                        && path.starts_with(head)
                        && path.ends_with(tail)
                        && !path[head.len()..path.len() - tail.len()].contains('/')
                }
                None => path == p,
            }
        }
    })
}

fn copy_dir(from: &Path, to: &Path, rel: &Path, skip: &[String]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let here = rel.join(entry.file_name());
        let name = here.to_string_lossy().replace('\\', "/");
        let dir = entry.file_type().unwrap().is_dir();
        if is_output(&name, dir, skip) {
            continue;
        }
        if dir {
            copy_dir(&entry.path(), &target, &here, skip);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let relative = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A CSV file (gzip-compressed when its name ends in `.gz`) as a matrix; one column for a
/// file of one value per line; a header row is skipped.
pub fn read_matrix(path: &Path) -> Array2<f64> {
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        // A header: a first row that is not numeric (as `read_csv` skips it).
        .filter(|(i, l)| *i > 0 || l.split(',').all(|v| v.trim().parse::<f64>().is_ok()))
        .map(|(_, l)| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// Runs an example switched to `protocol` (the switched copy is written into `data`, which
/// holds its data); returns its standard output.
pub fn run_example(protocol: Protocol, name: &str, data: &Path, extra: &[&str]) -> String {
    let source = std::fs::read_to_string(examples().join(name)).unwrap();
    run_source(&protocol.switch(&source), name, data, extra)
}

/// Runs `source` as the program `name` (written into `data`) with the data in `data`, seed 3;
/// returns its standard output.
pub fn run_source(source: &str, name: &str, data: &Path, extra: &[&str]) -> String {
    let program = data.join(name);
    std::fs::write(&program, source).unwrap();
    let mut args: Vec<std::ffi::OsString> = ["run", "--seed", "3", "--data"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(data.into());
    args.extend(extra.iter().map(Into::into));
    args.push(program.into());
    tfec(&args)
}

/// Runs `tfec` with `args`; returns its standard output, or fails the test with its errors.
pub fn tfec<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tfec {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tensors `party` printed (`[party] [[1, 2], [3, 4]]`), one flattened row per line.
pub fn printed(stdout: &str, party: &str) -> Vec<Vec<f64>> {
    let prefix = format!("[{party}] ");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| {
            l.replace(['[', ']'], "")
                .split(", ")
                .map(|v| v.trim().parse().unwrap())
                .collect()
        })
        .collect()
}

/// Runs `body` in a program where alice's `x.csv` and `y.csv` (40 × 1 each, under `dir/data`)
/// are shared as `x` and `y` at `rep`, with `tfec run --stats`: what bob printed (each line's
/// values as text), and the rounds of every party by name. The comparison and product batching
/// tests run their programs through it.
#[allow(dead_code)]
pub fn run_on_rep(
    protocol: Protocol,
    dir: &Path,
    body: &str,
) -> (Vec<Vec<String>>, std::collections::BTreeMap<String, u64>) {
    let src = format!(
        "party alice, bob, s0, s1, s2;\n{}\n\
         fn main() {{\n\
             let xa: fixed[40, 1] @alice = read_csv(\"x.csv\");\n\
             let ya: fixed[40, 1] @alice = read_csv(\"y.csv\");\n\
             let x: fixed[40, 1] @rep = xa;\n\
             let y: fixed[40, 1] @rep = ya;\n\
             {body}\n\
         }}\n",
        protocol.secret_line()
    );
    let file = dir.join("program.tfe");
    std::fs::write(&file, src).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .arg(&file)
        .arg("--stats")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rounds = stderr
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            let rounds = words.next()?.parse().ok()?;
            Some((name.to_string(), rounds))
        })
        .collect();
    let printed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("[bob] "))
        .map(|l| {
            l.split(", ")
                .map(|v| v.trim_matches(|c| c == '[' || c == ']').to_string())
                .collect()
        })
        .collect();
    (printed, rounds)
}
