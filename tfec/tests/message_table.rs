//! The protocols' message tables are the truth: every op of a program, run under each
//! protocol, sends exactly the messages `tfec build --emit protocol` lists for it — the same
//! senders and receivers, protocol steps, sizes and rounds, nothing more and nothing less.
//!
//! Each party runs over the in-process transport wrapped in a recorder. The recorder gives each
//! message its round as the table defines it: a message sent after its sender received a
//! message of round `r` of the same op is of round `r + 1`.

#[macro_use]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::Protocol;
use tfe_ir::{Dim, MsgKey, Node, Op, PartyId, Placement, Program, Role};
use tfe_runtime::exec::{PartyConfig, run_party};
use tfe_runtime::net::{LocalTransport, NetError, NetStats, Payload, Transport, local_network};

per_protocol!(sends_exactly_its_table);

/// One message on the wire: (op, step, from, to) → (words, round).
type Wire = BTreeMap<(u32, u16, PartyId, PartyId), (u64, u16)>;

#[derive(Default)]
struct Log {
    wire: Wire,
    /// The round of the next message each party sends, per op.
    ready: HashMap<(PartyId, u32), u16>,
    /// The round of each message sent, for its receiver.
    rounds: HashMap<(PartyId, PartyId, MsgKey), u16>,
}

struct Recorder {
    inner: LocalTransport,
    log: Arc<Mutex<Log>>,
}

fn words(p: &Payload) -> u64 {
    match p {
        Payload::Ring(t) => t.len() as u64,
        Payload::Ring128(t) => t.len() as u64,
        Payload::F64(t) => t.len() as u64,
        Payload::I64(t) => t.len() as u64,
        Payload::Bool(t) => t.len() as u64,
        Payload::Key(_) => 2,
        Payload::Shape(s) => s.len() as u64,
        Payload::Bytes(t) => t.len() as u64,
    }
}

impl Transport for Recorder {
    fn me(&self) -> PartyId {
        self.inner.me()
    }

    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError> {
        if key.op != u32::MAX {
            let me = self.me();
            let mut log = self.log.lock().unwrap();
            let round = log.ready.get(&(me, key.op)).copied().unwrap_or(0);
            let before = log
                .wire
                .insert((key.op, key.step, me, to), (words(&payload), round));
            assert!(before.is_none(), "two messages {me} -> {to} for {key}");
            log.rounds.insert((me, to, key), round);
        }
        self.inner.send(to, key, payload)
    }

    fn flush(&mut self) -> Result<(), NetError> {
        self.inner.flush()
    }

    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        let payload = self.inner.recv(from, key)?;
        if key.op != u32::MAX {
            let me = self.me();
            let mut log = self.log.lock().unwrap();
            let round = log.rounds[&(from, me, key)];
            let ready = log.ready.entry((me, key.op)).or_insert(0);
            *ready = (*ready).max(round + 1);
        }
        Ok(payload)
    }

    fn abort(&mut self, reason: &str) {
        self.inner.abort(reason)
    }

    fn check(&mut self) -> Result<(), NetError> {
        self.inner.check()
    }

    fn stats(&self) -> NetStats {
        self.inner.stats()
    }
}

/// Runs `src` with every party in this process over recording transports; returns the program
/// and what went on the wire.
fn run_recorded(src: &str, data: &std::path::Path) -> (Program, Wire) {
    // Every op as lowered: no comparison merged or dropped.
    let options = tfe_compiler::Options {
        skip: vec![tfe_compiler::Pass::Cse, tfe_compiler::Pass::Dce],
        ..tfe_compiler::Options::default()
    };
    let ir = tfe_compiler::compile(src, &options).unwrap_or_else(|d| panic!("{src}\n{d:?}"));
    let log = Arc::new(Mutex::new(Log::default()));
    let n = ir.parties.len();
    let handles: Vec<_> = local_network(n, Duration::from_secs(20))
        .into_iter()
        .enumerate()
        .map(|(me, inner)| {
            let program = tfe_ir::project(&ir, me);
            let config = PartyConfig {
                data_dir: data.join(&ir.parties[me]),
                session: 7,
                seed: Some(7),
                profile: false,
                progress: None,
            };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut net = Recorder { inner, log };
                let result = run_party(&program, me, &mut net, &config, &mut |_| {});
                if let Err(e) = &result {
                    net.abort(&e.to_string());
                }
                result.map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap_or_else(|e| panic!("{e}"));
    }
    let wire = std::mem::take(&mut log.lock().unwrap().wire);
    (ir, wire)
}

/// Every op of `body`, loops and branches included.
fn all_ops<'p>(body: &'p [Node], out: &mut Vec<&'p Node>) {
    for node in body {
        out.push(node);
        for block in node.op.blocks() {
            all_ops(block, out);
        }
    }
}

/// The table of every op, as the wire would carry it: `runtime_rows` stands for every `_`.
fn expected(program: &Program, runtime_rows: u64) -> Wire {
    let elements = |r: u32| -> u64 {
        program.regs[r as usize]
            .shape
            .iter()
            .map(|d| match d {
                Dim::Known(n) => *n,
                Dim::Runtime => runtime_rows,
            })
            .product()
    };
    let rank = |r: u32| program.regs[r as usize].shape.len() as u64;
    let mut nodes = Vec::new();
    all_ops(&program.body, &mut nodes);
    let mut wire = Wire::new();
    for node in nodes {
        let table = tfe_runtime::protocol::messages(program, node).unwrap();
        let (dst, args, secret, owner, target): (
            u32,
            Vec<u32>,
            Option<usize>,
            Option<PartyId>,
            Option<PartyId>,
        ) = match &node.op {
            Op::Compute { dst, args, at, .. } => (
                *dst,
                args.clone(),
                match at {
                    Placement::Secret(s) => Some(*s),
                    _ => None,
                },
                None,
                None,
            ),
            Op::Share { dst, src, from, to } => (
                *dst,
                vec![*src],
                Some(*to),
                match from {
                    Placement::Party(p) => Some(*p),
                    _ => None,
                },
                None,
            ),
            Op::StoreShares { srcs, secret, .. } => {
                (srcs[0], srcs.clone(), Some(*secret), None, None)
            }
            Op::LoadShares { dsts, secret, .. } => (dsts[0], Vec::new(), Some(*secret), None, None),
            Op::Reveal { dst, src, from, to } => (
                *dst,
                vec![*src],
                match from {
                    Placement::Secret(s) => Some(*s),
                    _ => None,
                },
                match from {
                    Placement::Party(p) => Some(*p),
                    _ => None,
                },
                *to,
            ),
            _ => continue,
        };
        let members: Vec<PartyId> =
            secret.map_or_else(Vec::new, |s| program.secrets[s].parties.clone());
        let parties = |role: Role| -> Vec<PartyId> {
            match role {
                Role::Member(i) => vec![members[i]],
                Role::Owner => owner.into_iter().collect(),
                Role::Target => target.into_iter().collect(),
                Role::Outsiders => (0..program.parties.len())
                    .filter(|p| {
                        if secret.is_some() {
                            !members.contains(p)
                        } else {
                            Some(*p) != owner
                        }
                    })
                    .collect(),
            }
        };
        let arg_elements: Vec<u64> = args.iter().map(|a| elements(*a)).collect();
        for m in table {
            let words = m.size.words(elements(dst), &arg_elements, rank(dst));
            for from in parties(m.from) {
                for to in parties(m.to) {
                    if from == to {
                        continue;
                    }
                    let before = wire.insert((node.id, m.step, from, to), (words, m.round));
                    assert!(
                        before.is_none(),
                        "op {} lists {from} -> {to} twice",
                        node.id
                    );
                }
            }
        }
    }
    wire
}

/// The differences between the table and the wire, op by op.
fn compare(program: &Program, want: &Wire, got: &Wire) -> Vec<String> {
    let mut problems = Vec::new();
    let name = |p: &PartyId| program.parties[*p].clone();
    for (k, v) in want {
        match got.get(k) {
            None => problems.push(format!(
                "op {} step {}: {} -> {} {:?} listed, not sent",
                k.0,
                k.1,
                name(&k.2),
                name(&k.3),
                v
            )),
            Some(g) if g != v => problems.push(format!(
                "op {} step {}: {} -> {}: listed (words, round) {:?}, sent {:?}",
                k.0,
                k.1,
                name(&k.2),
                name(&k.3),
                v,
                g
            )),
            _ => {}
        }
    }
    for (k, v) in got {
        if !want.contains_key(k) {
            problems.push(format!(
                "op {} step {}: {} -> {} {:?} sent, not listed",
                k.0,
                k.1,
                name(&k.2),
                name(&k.3),
                v
            ));
        }
    }
    problems
}

/// A program with every op that sends messages, under `secret_line`. Each comparison is
/// followed by a product that uses it, and each product reads the one before, so no two are
/// batched (a batch is keyed by its first op, and the table lists ops one by one).
fn program(secret_line: &str) -> String {
    format!(
        "party alice, bob, analyst;\n\
         party s0, s1, s2;\n\
         {secret_line}\n\
         fn top(e: fixed[4, 3]) -> fixed {{ sum(max(e, axis: 1)) }}\n\
         fn main() {{\n\
             let xa: fixed[_, 3] @alice = read_csv(\"x.csv\");\n\
             let x: fixed[_, 3] @rep = xa;\n\
             let ya: fixed[4, 3] @alice = ones([4, 3]) * 0.5;\n\
             let y: fixed[4, 3] @rep = ya;\n\
             let zs: fixed[4, 3] @s0 = ones([4, 3]) * 1.5;\n\
             let z: fixed[4, 3] @rep = zs;\n\
             let ws: fixed[_, 3] @s1 = read_csv(\"w.csv\");\n\
             let w: fixed[_, 3] @rep = ws;\n\
             let p = y * z;\n\
             let r = p * 0.25;\n\
             let q = matmul(r, transpose(z));\n\
             let lt = y < z;\n\
             let a = select(lt, y, z);\n\
             let le = a <= z;\n\
             let b = select(le, a, y);\n\
             let gt = b > y;\n\
             let c = select(gt, b, z);\n\
             let ge = c >= y;\n\
             let d = select(ge, c, z);\n\
             let eq = d == y;\n\
             let ne = d != z;\n\
             let both = eq && ne;\n\
             let either = eq || ne;\n\
             let e = select(both, d, z) + select(either, y, z);\n\
             let m = max(e, axis: 1);\n\
             let am = argmax(e, axis: 0);\n\
             let all = max(e);\n\
             let gm = grad(top, e);\n\
             let kept: fixed[4, 3] @rep = read_shares(\"kept\");\n\
             let some: fixed[_, 3] @rep = read_shares(\"some\");\n\
             write_shares(d, \"d\");\n\
             let l = log2_lookup(e, [1.0, 2.0, 4.0], from: -2);\n\
             let s = sum(x, axis: 0) + sum(w, axis: 0) + sum(some, axis: 0);\n\
             let total = sum(p + r + l + gm + kept, axis: 1) + m + all;\n\
             write_csv(reveal(total, to: analyst), \"total.csv\");\n\
             write_csv(reveal(q, to: s0), \"q.csv\");\n\
             write_csv(reveal(s, to: alice), \"s.csv\");\n\
             print(reveal(am));\n\
         }}\n"
    )
}

/// Stores the shares [`program`] loads: a struct with a `_` dimension (whose shape pond's dealer
/// learns from server 0) and a tensor of known shape (whose it does not).
fn store_program(secret_line: &str) -> String {
    format!(
        "party alice, bob, analyst;\n\
         party s0, s1, s2;\n\
         {secret_line}\n\
         fn main() {{\n\
             let a: fixed[4, 3] @alice = ones([4, 3]) * 0.75;\n\
             let k: fixed[4, 3] @rep = a;\n\
             write_shares(k, \"kept\");\n\
             let xa: fixed[_, 3] @alice = read_csv(\"x.csv\");\n\
             let x: fixed[_, 3] @rep = xa;\n\
             write_shares(x, \"some\");\n\
         }}\n"
    )
}

/// The parties' data directories, one set per test (`tag`): the programs store shares there.
fn data(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-message-table-{}-{tag}", std::process::id()));
    for party in ["alice", "bob", "analyst", "s0", "s1", "s2"] {
        std::fs::create_dir_all(dir.join(party)).unwrap();
    }
    let rows = "1,2,3\n4,5,6\n7,8,9\n10,11,12\n13,14,15\n";
    std::fs::write(dir.join("alice/x.csv"), rows).unwrap();
    std::fs::write(dir.join("s1/w.csv"), rows).unwrap();
    dir
}

fn check_protocol(secret_line: &str, tag: &str) {
    let dir = data(tag);
    // The stores first: their messages are checked too, and the program loads what they keep.
    let store = store_program(secret_line);
    let (ir, wire) = run_recorded(&store, &dir);
    let problems = compare(&ir, &expected(&ir, 5), &wire);
    assert!(
        problems.is_empty(),
        "{secret_line}: storing: the wire differs from the table:\n{}\n\n{}",
        problems.join("\n"),
        ir.to_text()
    );
    let src = program(secret_line);
    let (ir, wire) = run_recorded(&src, &dir);
    let want = expected(&ir, 5);
    let problems = compare(&ir, &want, &wire);
    assert!(
        problems.is_empty(),
        "{secret_line}: the wire differs from the table:\n{}\n\n{}",
        problems.join("\n"),
        ir.to_text()
    );
    assert!(
        wire.len() > 100,
        "the program sends many messages: {}",
        wire.len()
    );
}

fn sends_exactly_its_table(protocol: Protocol) {
    check_protocol(&protocol.secret_line(), protocol.name());
}

/// The same program with 128-bit rings: 128-bit words on the wire (the carry tree's bit planes
/// hold 128 elements each, and it has one level more), stored shares included.
#[test]
fn aby3_and_pond_send_exactly_their_tables_at_128_bits() {
    check_protocol(
        "secret rep = aby3(s0, s1, s2, ring = 128, frac = 32);",
        "aby3-128",
    );
    check_protocol(
        "secret rep = pond(s0, s1, dealer = s2, ring = 128, frac = 32);",
        "pond-128",
    );
}

#[test]
fn securenn_sends_exactly_its_table() {
    check_protocol(
        "secret rep = securenn(s0, s1, dealer = s2);",
        "securenn-direct",
    );
}

/// pond's dealer receives nothing from the servers: its only messages in are keys and the
/// shapes of values known only at run time, from the party sharing them (here alice and s1,
/// which shares a `_`-shaped value of its own), or from server 0 for shares loaded from files
/// (the `_`-shaped one; the other's shape is the program's).
#[test]
fn ponds_dealer_receives_only_shapes() {
    let dir = data("pond-dealer");
    let secret_line = "secret rep = pond(s0, s1, dealer = s2);";
    run_recorded(&store_program(secret_line), &dir);
    let src = program(secret_line);
    let (ir, wire) = run_recorded(&src, &dir);
    let dealer = ir.parties.iter().position(|p| p == "s2").unwrap();
    let s1 = ir.parties.iter().position(|p| p == "s1").unwrap();
    let mut nodes = Vec::new();
    all_ops(&ir.body, &mut nodes);
    for ((op, step, from, to), (words, _)) in &wire {
        if *to != dealer {
            continue;
        }
        let node = nodes.iter().find(|n| n.id == *op).unwrap();
        let is_shape_of_share = matches!(node.op, Op::Share { .. }) && *step == 1;
        let is_public_reveal = matches!(node.op, Op::Reveal { to: None, .. });
        let is_shape_of_load = match &node.op {
            Op::LoadShares { dsts, .. } => {
                *step == 1
                    && ir.parties[*from] == "s0"
                    && dsts
                        .iter()
                        .any(|r| ir.regs[*r as usize].shape.contains(&tfe_ir::Dim::Runtime))
            }
            _ => false,
        };
        assert!(
            is_shape_of_share || is_public_reveal || is_shape_of_load,
            "the dealer received {words} words from {} for op {op} step {step}",
            ir.parties[*from]
        );
        if *from == s1 {
            assert!(is_shape_of_share || is_public_reveal);
        }
    }
}
