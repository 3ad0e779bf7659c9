//! Whole runs in this process, every party on its own thread over the in-process transport,
//! with every message recorded as its sender sends it: who to whom, under which key, what kind
//! and how many words, and (for the messages a test asks for) the payload itself.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tfe_ir::{MsgKey, Node, Op, PartyId, Placement, Program};
use tfe_runtime::exec::{PartyConfig, run_party};
use tfe_runtime::net::{NetError, NetStats, Payload, Transport, local_network};

/// The op id under which key agreement sends its keys (no op of a program has it).
pub const KEY_AGREEMENT: u32 = u32::MAX;

/// One message as seen on the wire.
#[derive(Debug, Clone)]
pub struct Seen {
    pub from: PartyId,
    pub to: PartyId,
    pub key: MsgKey,
    /// `ring`, `f64`, `i64`, `bool`, `key`, `shape` or `bytes`.
    pub kind: &'static str,
    /// Elements (a shape's rank; 2 for a key).
    pub words: u64,
    /// The payload, when the run was asked to keep it.
    pub payload: Option<Payload>,
}

fn describe(p: &Payload) -> (&'static str, u64) {
    match p {
        Payload::Ring(t) => ("ring", t.len() as u64),
        Payload::Ring128(t) => ("ring", t.len() as u64),
        Payload::F64(t) => ("f64", t.len() as u64),
        Payload::I64(t) => ("i64", t.len() as u64),
        Payload::Bool(t) => ("bool", t.len() as u64),
        Payload::Key(_) => ("key", 2),
        Payload::Shape(s) => ("shape", s.len() as u64),
        Payload::Bytes(t) => ("bytes", t.len() as u64),
    }
}

/// Which payloads to keep: `keep(from, to)`.
pub type Keep = Arc<dyn Fn(PartyId, PartyId) -> bool + Send + Sync>;

/// A transport that records every message it sends.
pub struct Recorder<T: Transport> {
    pub inner: T,
    pub log: Arc<Mutex<Vec<Seen>>>,
    pub keep: Keep,
}

impl<T: Transport> Transport for Recorder<T> {
    fn me(&self) -> PartyId {
        self.inner.me()
    }
    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError> {
        let from = self.inner.me();
        let (kind, words) = describe(&payload);
        self.log.lock().unwrap().push(Seen {
            from,
            to,
            key,
            kind,
            words,
            payload: (self.keep)(from, to).then(|| payload.clone()),
        });
        self.inner.send(to, key, payload)
    }
    fn flush(&mut self) -> Result<(), NetError> {
        self.inner.flush()
    }
    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        self.inner.recv(from, key)
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

/// What a recorded run did.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Every message sent, in no particular order across parties.
    pub messages: Vec<Seen>,
    /// Every `print`: (party, line), in no particular order across parties.
    pub printed: Vec<(PartyId, String)>,
}

/// Compiles `src` as `tfec` does.
pub fn compile(src: &str) -> Program {
    tfe_compiler::compile(src, &tfe_compiler::Options::default())
        .unwrap_or_else(|d| panic!("{d:?}\n{src}"))
}

/// Runs every party of `ir` with data directories `data/<party>` (without a seed, keys fresh
/// from the operating system) and returns what went on the wire, keeping the payloads `keep`
/// asks for. Fails the test if a party fails.
pub fn run_recorded(ir: &Program, data: &Path, seed: Option<u64>, keep: Keep) -> Recorded {
    let log = Arc::new(Mutex::new(Vec::new()));
    let printed = Arc::new(Mutex::new(Vec::new()));
    let session = seed.unwrap_or(1);
    let handles: Vec<_> = local_network(ir.parties.len(), Duration::from_secs(60))
        .into_iter()
        .enumerate()
        .map(|(me, inner)| {
            let program = tfe_ir::project(ir, me);
            let config = PartyConfig {
                data_dir: data.join(&ir.parties[me]),
                session,
                seed,
                profile: false,
                progress: None,
            };
            let mut net = Recorder {
                inner,
                log: log.clone(),
                keep: keep.clone(),
            };
            let printed = printed.clone();
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn(move || {
                    let mut out = |line: &str| printed.lock().unwrap().push((me, line.to_string()));
                    let result = run_party(&program, me, &mut net, &config, &mut out);
                    if let Err(e) = &result {
                        net.abort(&e.to_string());
                    }
                    result.map(|_| ()).map_err(|e| format!("party {me}: {e}"))
                })
                .unwrap()
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in results {
        r.unwrap_or_else(|e| panic!("the run failed: {e}"));
    }
    let messages = std::mem::take(&mut *log.lock().unwrap());
    let printed = std::mem::take(&mut *printed.lock().unwrap());
    Recorded { messages, printed }
}

/// Every op of `body`, loops and branches included.
pub fn all_ops<'p>(body: &'p [Node], out: &mut Vec<&'p Node>) {
    for node in body {
        out.push(node);
        for block in node.op.blocks() {
            all_ops(block, out);
        }
    }
}

/// Checks that the dealer of every pond placement of `ir` received, in `messages`, nothing from
/// the servers' computation: only its keys at the start (one per set of parties it belongs to,
/// from the set's first member), the shape of a value whose size is known only at run time from
/// the party that shares it, and what the program itself reveals to it (a `reveal` to every
/// party, or to the dealer: a declassification the program states, which the servers send it
/// as they would to any party). Returns how many of each it received, to show the check saw them.
pub fn check_dealer_inbox(ir: &Program, messages: &[Seen]) -> DealerInbox {
    let mut ops = Vec::new();
    all_ops(&ir.body, &mut ops);
    let mut inbox = DealerInbox::default();
    for secret in &ir.secrets {
        if secret.protocol != tfe_ir::Protocol::Pond {
            continue;
        }
        let dealer = secret.parties[2];
        let name = |p: PartyId| ir.parties[p].clone();
        for m in messages.iter().filter(|m| m.to == dealer) {
            if m.key.op == KEY_AGREEMENT {
                assert_eq!(m.kind, "key", "key agreement sends keys: {m:?}");
                inbox.keys += 1;
                continue;
            }
            let node = ops
                .iter()
                .find(|n| n.id == m.key.op)
                .unwrap_or_else(|| panic!("a message for no op: {m:?}"));
            match &node.op {
                Op::Share {
                    from: Placement::Party(owner),
                    ..
                } if *owner == m.from && m.kind == "shape" => inbox.shapes += 1,
                Op::Reveal { to, .. } if to.is_none() || *to == Some(dealer) => inbox.revealed += 1,
                // Shares loaded from files: server 0 tells the dealer their shapes when the
                // program leaves a dimension to run time.
                Op::LoadShares { dsts, .. }
                    if m.from == secret.parties[0]
                        && m.key.step == 1
                        && dsts.iter().any(|r| {
                            ir.regs[*r as usize].shape.contains(&tfe_ir::Dim::Runtime)
                        }) =>
                {
                    inbox.shapes += 1
                }
                op => panic!(
                    "the dealer {} received {} {} words from {} for op {} ({op:?})",
                    name(dealer),
                    m.words,
                    m.kind,
                    name(m.from),
                    m.key
                ),
            }
        }
        // One key for every set of two or three parties with the dealer, but the sets it leads.
        let n = ir.parties.len();
        let led = (dealer + 1..n)
            .map(|b| 1 + (b + 1..n).count())
            .sum::<usize>();
        let all = (n - 1) + (n - 1) * (n - 2) / 2;
        assert_eq!(inbox.keys, all - led, "the dealer's keys");
    }
    inbox
}

/// What a pond dealer received.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DealerInbox {
    pub keys: usize,
    pub shapes: usize,
    pub revealed: usize,
}
