//! Shares kept between runs (`write_shares`, `read_shares`): a run stores a tensor and a struct,
//! a later run loads them and computes with them, under each protocol; only the members that
//! hold shares write files; every mismatch between the files and the loading program (a missing
//! file, another type, shape, protocol, ring, frac, set of parties or role, files of different
//! saves, a damaged file) ends the run with exit code 3 and a message naming the file, before
//! anything is computed; and a run that fails while storing leaves the previous save intact.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Protocol, files};
use tfe_ir::{MsgKey, Op, PartyId, Program};
use tfe_runtime::exec::{PartyConfig, run_party};
use tfe_runtime::net::{LocalTransport, NetError, NetStats, Payload, Transport, local_network};

per_protocol!(tensors_and_structs_round_trip);

const PARTIES: &str = "party alice, clinic, analyst;\nparty s0, s1, s2;\n";

const MODEL: &str = "struct Model {\n    w: fixed[3],\n    b: fixed,\n    k: int[2],\n}\n";

/// Stores a struct built from alice's weights, and a `_`-shaped tensor of her rows.
fn store_program(secret_line: &str) -> String {
    format!(
        "{PARTIES}{secret_line}\n{MODEL}\
         fn main() {{\n\
             let w: fixed[3] @alice = read_csv(\"w.csv\");\n\
             let rows: fixed[_, 3] @alice = read_csv(\"rows.csv\");\n\
             let k: int[2] @alice = read_csv(\"k.csv\");\n\
             let m: Model @rep = Model {{ w: w, b: 0.5, k: k }};\n\
             let r: fixed[_, 3] @rep = rows;\n\
             write_shares(m, \"model\");\n\
             write_shares(r, \"rows\");\n\
         }}\n"
    )
}

/// Loads both and reveals what they are, and what the clinic's rows score with the model. A
/// secret computation comes first in the source: a load that fails must stop the run before it
/// (so `before.csv` is never written).
fn load_program(secret_line: &str, model: &str, rows: &str) -> String {
    format!(
        "{PARTIES}{secret_line}\n{model}\
         fn main() {{\n\
             let xc: fixed[_, 3] @clinic = read_csv(\"x.csv\");\n\
             let x: fixed[_, 3] @rep = xc;\n\
             write_csv(reveal(x * x, to: analyst), \"before.csv\");\n\
             let m: Model @rep = read_shares(\"model\");\n\
             let r: {rows} @rep = read_shares(\"rows\");\n\
             write_csv(reveal(matmul(x, m.w) + m.b, to: clinic), \"scores.csv\");\n\
             write_csv(reveal(m.w, to: analyst), \"w.csv\");\n\
             write_csv(reveal(m.k * 3, to: analyst), \"k.csv\");\n\
             write_csv(reveal(r, to: analyst), \"rows.csv\");\n\
         }}\n"
    )
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-kept-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for p in ["alice", "clinic", "analyst"] {
        std::fs::create_dir_all(dir.join(p)).unwrap();
    }
    std::fs::write(dir.join("alice/w.csv"), "1.5,-2,0.25\n").unwrap();
    std::fs::write(dir.join("alice/rows.csv"), "1,2,3\n-4,5.5,6\n7,8,-9.75\n").unwrap();
    std::fs::write(dir.join("alice/k.csv"), "7,-11\n").unwrap();
    std::fs::write(dir.join("clinic/x.csv"), "1,2,3\n4,5,6\n").unwrap();
    dir
}

/// Runs `source` (written into `dir` as `name`) with data under `dir`, fresh keys (no seed):
/// (exit code, standard error).
fn run(dir: &Path, name: &str, source: &str, extra: &[&str]) -> (i32, String) {
    let program = dir.join(name);
    std::fs::write(&program, source).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfec"))
        .arg("run")
        .arg("--data")
        .arg(dir)
        .args(extra)
        .arg(&program)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(dir: &Path, name: &str, source: &str) {
    let (code, err) = run(dir, name, source, &[]);
    assert_eq!(code, 0, "{name}: {err}");
}

fn csv(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn tensors_and_structs_round_trip(protocol: Protocol) {
    let dir = scratch(protocol.name());
    let secret = protocol.secret_line();
    let before = files(&dir);
    run_ok(&dir, "store.tfe", &store_program(&secret));
    // Only the members that hold shares wrote anything: aby3's three, pond's two servers.
    let holders: &[&str] = match protocol.base() {
        Protocol::Aby3 => &["s0", "s1", "s2"],
        _ => &["s0", "s1"],
    };
    let mut expected = before.clone();
    expected.push("store.tfe".into());
    for h in holders {
        expected.push(format!("{h}/model.shares"));
        expected.push(format!("{h}/rows.shares"));
    }
    expected.sort();
    assert_eq!(files(&dir), expected, "the files after storing");

    run_ok(
        &dir,
        "load.tfe",
        &load_program(&secret, MODEL, "fixed[_, 3]"),
    );
    // Exact: every value is a multiple of 2^-16, and loading adds nothing.
    assert_eq!(csv(&dir.join("analyst/w.csv")), "1.5,-2,0.25");
    assert_eq!(csv(&dir.join("analyst/k.csv")), "21,-33");
    assert_eq!(
        csv(&dir.join("analyst/rows.csv")),
        "1,2,3\n-4,5.5,6\n7,8,-9.75"
    );
    // The scores of the clinic's rows: x · w + b, within the truncation's 2^-16 per product.
    let scores: Vec<f64> = csv(&dir.join("clinic/scores.csv"))
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (got, want) in scores.iter().zip([-1.25, -2.0]) {
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    }
}

/// Stores under aby3 in a fresh directory; returns it.
fn stored(tag: &str) -> PathBuf {
    let dir = scratch(tag);
    run_ok(
        &dir,
        "store.tfe",
        &store_program(&Protocol::Aby3.secret_line()),
    );
    dir
}

/// Runs the load program (aby3 unless `secret` says otherwise) and expects it to fail with each
/// of `wanted` in its message, and without having computed anything.
fn load_fails(dir: &Path, secret: &str, model: &str, rows: &str, wanted: &[&str]) {
    let (code, err) = run(dir, "load.tfe", &load_program(secret, model, rows), &[]);
    assert_eq!(code, 3, "{err}");
    for w in wanted {
        assert!(err.contains(w), "expected `{w}` in:\n{err}");
    }
    assert!(
        !dir.join("analyst/before.csv").exists(),
        "the load runs before anything is computed"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = scratch("missing");
    load_fails(
        &dir,
        &Protocol::Aby3.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &["model.shares", "no shares stored under `model`"],
    );
}

#[test]
fn another_type_or_shape_is_an_error() {
    let dir = stored("type");
    let secret = Protocol::Aby3.secret_line();
    // Another struct: a field renamed.
    let renamed = MODEL
        .replace("b: fixed", "bias: fixed")
        .replace("m.b", "m.bias");
    let (code, err) = run(
        &dir,
        "load.tfe",
        &load_program(&secret, &renamed, "fixed[_, 3]").replace("+ m.b,", "+ m.bias,"),
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("the shares were stored with type struct Model { w, b, k }")
            && err.contains("loads them with type struct Model { w, bias, k }"),
        "{err}"
    );
    // Another shape of a field.
    load_fails(
        &dir,
        &secret,
        &MODEL.replace("k: int[2]", "k: int[3]"),
        "fixed[_, 3]",
        &["field `k` as int[2]", "int[3]"],
    );
    // Another scalar, and a tensor of another rank.
    load_fails(
        &dir,
        &secret,
        MODEL,
        "fixed[_]",
        &["rows.shares", "the tensor as fixed[3, 3]", "fixed[_]"],
    );
}

#[test]
fn another_protocol_ring_or_frac_is_an_error() {
    let dir = stored("protocol");
    load_fails(
        &dir,
        &Protocol::Pond.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &["stored with protocol aby3", "loads them with protocol pond"],
    );
    load_fails(
        &dir,
        "secret rep = aby3(s0, s1, s2, frac = 20);",
        MODEL,
        "fixed[_, 3]",
        &["ring and frac 64/16", "64/20"],
    );
}

#[test]
fn another_set_of_parties_or_role_is_an_error() {
    let dir = stored("parties");
    load_fails(
        &dir,
        "secret rep = aby3(s0, s2, s1);",
        MODEL,
        "fixed[_, 3]",
        &["stored with the parties s0, s1, s2", "s0, s2, s1"],
    );
    // s0's and s1's files swapped.
    let (a, b) = (dir.join("s0/model.shares"), dir.join("s1/model.shares"));
    let tmp = dir.join("swap");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    load_fails(
        &dir,
        &Protocol::Aby3.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &[
            "this is the share of `s",
            "each party must load its own file",
        ],
    );
}

#[test]
fn files_of_different_saves_are_an_error() {
    let dir = stored("saves");
    let old = std::fs::read(dir.join("s1/model.shares")).unwrap();
    // Another save, with other weights; then s1's file of the first save put back.
    std::fs::write(dir.join("alice/w.csv"), "3,4,5\n").unwrap();
    run_ok(
        &dir,
        "store.tfe",
        &store_program(&Protocol::Aby3.secret_line()),
    );
    std::fs::write(dir.join("s1/model.shares"), old).unwrap();
    load_fails(
        &dir,
        &Protocol::Aby3.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &["model.shares", "the files are of different saves"],
    );
}

#[test]
fn a_damaged_file_is_an_error() {
    let dir = stored("damaged");
    let path = dir.join("s2/rows.shares");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    load_fails(
        &dir,
        &Protocol::Aby3.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &["s2", "rows.shares", "damaged"],
    );
    std::fs::write(&path, &bytes[..n / 2]).unwrap();
    load_fails(
        &dir,
        &Protocol::Aby3.secret_line(),
        MODEL,
        "fixed[_, 3]",
        &["rows.shares"],
    );
}

/// A transport that fails (as a crash would) when its party is about to tell the others that
/// it has written its file: the store's second step.
struct CrashBeforeDone {
    inner: LocalTransport,
    store_op: u32,
}

impl Transport for CrashBeforeDone {
    fn me(&self) -> PartyId {
        self.inner.me()
    }
    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError> {
        if key.op == self.store_op && key.step == 1 {
            return Err(NetError::Disconnected {
                party: to,
                reason: "this party crashed while storing".into(),
            });
        }
        self.inner.send(to, key, payload)
    }
    fn flush(&mut self) -> Result<(), NetError> {
        self.inner.flush()
    }
    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        self.inner.recv(from, key)
    }
    fn abort(&mut self, reason: &str) {
        self.inner.abort(reason);
    }
    fn check(&mut self) -> Result<(), NetError> {
        self.inner.check()
    }
    fn stats(&self) -> NetStats {
        self.inner.stats()
    }
}

fn store_op(ir: &Program) -> u32 {
    ir.body
        .iter()
        .find(|n| matches!(&n.op, Op::StoreShares { name, .. } if name == "model"))
        .unwrap()
        .id
}

#[test]
fn a_run_that_fails_while_storing_leaves_the_previous_save() {
    let dir = stored("crash");
    let saved: Vec<Vec<u8>> = ["s0", "s1", "s2"]
        .iter()
        .map(|p| std::fs::read(dir.join(p).join("model.shares")).unwrap())
        .collect();
    let before = files(&dir);
    std::fs::write(dir.join("alice/w.csv"), "3,4,5\n").unwrap();
    let ir = support::wire::compile(&store_program(&Protocol::Aby3.secret_line()));
    let op = store_op(&ir);
    // Each of the holders crashes in turn, after writing its file and before saying so.
    for crashing in ["s0", "s1", "s2"] {
        let crashing = ir.parties.iter().position(|p| p == crashing).unwrap();
        let handles: Vec<_> = local_network(ir.parties.len(), Duration::from_secs(20))
            .into_iter()
            .enumerate()
            .map(|(me, inner)| {
                let program = tfe_ir::project(&ir, me);
                let config = PartyConfig {
                    data_dir: dir.join(&ir.parties[me]),
                    session: 11,
                    seed: None,
                    profile: false,
                    progress: None,
                };
                std::thread::spawn(move || {
                    let mut net: Box<dyn Transport> = if me == crashing {
                        Box::new(CrashBeforeDone {
                            inner,
                            store_op: op,
                        })
                    } else {
                        Box::new(inner)
                    };
                    let result = run_party(&program, me, &mut *net, &config, &mut |_| {});
                    if let Err(e) = &result {
                        net.abort(&e.to_string());
                    }
                    result.is_ok()
                })
            })
            .collect();
        let ok: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (p, name) in ir.parties.iter().enumerate() {
            if name.starts_with('s') {
                assert!(
                    !ok[p],
                    "{name} must fail when a holder crashes while storing"
                );
            }
        }
        // Every holder's file is the previous save's, byte for byte, and nothing else is left
        // (the temporary files are gone).
        for (p, old) in ["s0", "s1", "s2"].iter().zip(&saved) {
            assert_eq!(
                &std::fs::read(dir.join(p).join("model.shares")).unwrap(),
                old,
                "{p}'s file changed"
            );
        }
        assert_eq!(files(&dir), before);
    }
    // And that save still loads.
    run_ok(
        &dir,
        "load.tfe",
        &load_program(&Protocol::Aby3.secret_line(), MODEL, "fixed[_, 3]"),
    );
    assert_eq!(csv(&dir.join("analyst/w.csv")), "1.5,-2,0.25");
}

/// Every register a load writes is read by one op only: its refresh, a fresh sharing of the same
/// value (tested against plaintext in the runtime's protocol tests), so nothing computes with the
/// shares as stored. And the loads come first, before any other op of the program.
#[test]
fn loaded_shares_are_refreshed_before_any_use() {
    for protocol in support::PROTOCOLS {
        let ir =
            support::wire::compile(&load_program(&protocol.secret_line(), MODEL, "fixed[_, 3]"));
        let mut ops = Vec::new();
        support::wire::all_ops(&ir.body, &mut ops);
        let loads: Vec<&tfe_ir::Node> = ops
            .iter()
            .copied()
            .filter(|n| matches!(n.op, Op::LoadShares { .. }))
            .collect();
        assert_eq!(loads.len(), 2);
        assert!(
            ir.body[..2]
                .iter()
                .all(|n| matches!(n.op, Op::LoadShares { .. })),
            "the loads run first:\n{}",
            ir.to_text()
        );
        for load in loads {
            let Op::LoadShares { dsts, .. } = &load.op else {
                unreachable!()
            };
            for r in dsts {
                let readers: Vec<&&tfe_ir::Node> = ops
                    .iter()
                    .filter(|n| n.op.own_regs().0.contains(r))
                    .collect();
                assert!(
                    readers.len() == 1
                        && matches!(
                            readers[0].op,
                            Op::Compute {
                                kernel: tfe_ir::Kernel::Refresh,
                                ..
                            }
                        ),
                    "%{r} is read by {readers:?}"
                );
            }
        }
    }
}

/// A program that stores a name and then loads it reads what it stored (the load is not moved
/// ahead of the store), with no earlier save; and the store removes the temporary file a killed
/// store left behind.
#[test]
fn a_load_after_a_store_of_the_same_name_reads_it() {
    let dir = scratch("same-run");
    std::fs::create_dir_all(dir.join("s1")).unwrap();
    let leftover = dir.join("s1/.model.shares.tmp-99999-0");
    std::fs::write(&leftover, b"a share a killed run left").unwrap();
    let source = format!(
        "{PARTIES}{}\n{MODEL}\
         fn main() {{\n\
             let w: fixed[3] @alice = read_csv(\"w.csv\");\n\
             let k: int[2] @alice = read_csv(\"k.csv\");\n\
             let m: Model @rep = Model {{ w: w, b: 0.5, k: k }};\n\
             write_shares(m, \"model\");\n\
             let again: Model @rep = read_shares(\"model\");\n\
             write_csv(reveal(again.w, to: analyst), \"w.csv\");\n\
         }}\n",
        Protocol::Aby3.secret_line()
    );
    run_ok(&dir, "same.tfe", &source);
    assert_eq!(csv(&dir.join("analyst/w.csv")), "1.5,-2,0.25");
    assert!(!leftover.exists(), "the leftover temporary file is removed");
}
