//! A peer that misbehaves within the protocol — a message with the right key but the wrong shape
//! or length, a payload of the wrong kind, far more data than expected, a reveal of the wrong
//! size, a message for an op that is not next, a message sent twice, or no message at all (a
//! stall) — makes the parties that receive it stop with an error naming that peer and the op,
//! never a panic or a hang, and every other honest party stop with an error too.
//!
//! The fake peer is a real party whose transport (the runtime's `Transport`) follows a script: it
//! sends what the party's program sends, except that the script's message is corrupted. Every
//! message every party sends in the programs below is corrupted in turn, in every way. The cases
//! run a few at a time (most of their time is spent waiting), each party on its own thread with
//! a deadline, so that a hang fails the test with its case instead of hanging it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn};
use tfe_ir::{MsgKey, PartyId, Program};
use tfe_runtime::RunError;
use tfe_runtime::exec::{PartyConfig, run_party};
use tfe_runtime::net::{LocalTransport, NetError, NetStats, Payload, Transport, local_network};

/// How the fake peer corrupts its chosen message.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Corruption {
    /// The same elements in another shape.
    Reshape,
    /// One element more.
    Longer,
    /// One element fewer (or an empty tensor).
    Shorter,
    /// A thousand times the elements.
    Oversized,
    /// Another kind of payload (floats for ring elements, a shape for a key, …).
    Kind,
    /// The key of an op that is not next (a later op, the same step).
    OtherOp,
    /// Sent twice.
    Twice,
    /// Not sent: the fake peer stops sending and waits until the others give up.
    Stall,
}

const CORRUPTIONS: [Corruption; 8] = [
    Corruption::Reshape,
    Corruption::Longer,
    Corruption::Shorter,
    Corruption::Oversized,
    Corruption::Kind,
    Corruption::OtherOp,
    Corruption::Twice,
    Corruption::Stall,
];

/// The fake peer's transport: the party's own, with message number `target` corrupted.
struct Scripted {
    inner: LocalTransport,
    sent: usize,
    target: usize,
    corruption: Corruption,
    /// The receiver and key of the message corrupted, once it is sent; or the number of messages
    /// sent in all (in an honest run, `target` being `usize::MAX`).
    corrupted: Arc<Mutex<Option<(PartyId, MsgKey)>>>,
    total: Arc<AtomicUsize>,
}

fn reshape<T: Clone>(t: &ArrayD<T>) -> ArrayD<T> {
    let v: Vec<T> = t.iter().cloned().collect();
    let shape: Vec<usize> = match t.shape() {
        [n] => vec![1, *n],
        [a, b] if a != b => vec![*b, *a],
        _ => vec![v.len(), 1, 1],
    };
    ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap()
}

/// The tensor with its first dimension changed to `rows(first dimension)` (rank kept, so that
/// only the size is wrong; a scalar becomes a vector), new rows zero.
fn resize<T: Clone + Default>(t: &ArrayD<T>, rows: impl Fn(usize) -> usize) -> ArrayD<T> {
    let mut shape = t.shape().to_vec();
    if shape.is_empty() {
        shape.push(1);
    }
    let row: usize = shape[1..].iter().product();
    shape[0] = rows(shape[0]);
    let mut v: Vec<T> = t.iter().cloned().collect();
    v.resize(shape[0] * row, T::default());
    ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap()
}

/// The new first dimension of a corruption that changes the size.
fn rows(c: Corruption) -> impl Fn(usize) -> usize {
    move |n| match c {
        Corruption::Longer => n + 1,
        Corruption::Shorter => n.saturating_sub(1),
        _ => n.max(1) * 1000,
    }
}

fn corrupt(p: &Payload, c: Corruption) -> Payload {
    use Corruption::{Longer, Oversized, Reshape, Shorter};
    match (p, c) {
        (Payload::Ring(t), Reshape) => Payload::Ring(reshape(t)),
        (Payload::Ring(t), Longer | Shorter | Oversized) => Payload::Ring(resize(t, rows(c))),
        (Payload::Ring(t), _) => Payload::F64(t.mapv(|v| v as f64)),
        (Payload::Ring128(t), Reshape) => Payload::Ring128(reshape(t)),
        (Payload::Ring128(t), Longer | Shorter | Oversized) => Payload::Ring128(resize(t, rows(c))),
        // 64-bit ring elements where the placement's ring has 128 bits.
        (Payload::Ring128(t), _) => Payload::Ring(t.mapv(|v| v as u64)),
        (Payload::F64(t), Reshape) => Payload::F64(reshape(t)),
        (Payload::F64(t), Longer | Shorter | Oversized) => Payload::F64(resize(t, rows(c))),
        (Payload::F64(t), _) => Payload::Bool(t.mapv(|v| v > 0.0)),
        (Payload::I64(t), Reshape) => Payload::I64(reshape(t)),
        (Payload::I64(t), Longer | Shorter | Oversized) => Payload::I64(resize(t, rows(c))),
        (Payload::I64(t), _) => Payload::Ring(t.mapv(|v| v as u64)),
        (Payload::Bool(t), Reshape) => Payload::Bool(reshape(t)),
        (Payload::Bool(t), Longer | Shorter | Oversized) => Payload::Bool(resize(t, rows(c))),
        (Payload::Bool(t), _) => Payload::I64(t.mapv(i64::from)),
        (Payload::Shape(s), Reshape) => {
            let n: usize = s.iter().product();
            Payload::Shape(vec![n, 1, 1])
        }
        (Payload::Shape(s), Longer) => Payload::Shape(s.iter().map(|d| d + 1).collect()),
        (Payload::Shape(s), Oversized) => {
            // A shape whose size overflows: a lie no party may believe.
            Payload::Shape(s.iter().map(|_| usize::MAX / 2).collect())
        }
        (Payload::Shape(s), Shorter) => {
            Payload::Shape(s.iter().map(|d| d.saturating_sub(1)).collect())
        }
        (Payload::Shape(s), _) => Payload::Ring(ArrayD::zeros(IxDyn(s))),
        (Payload::Key(k), Corruption::Kind) => Payload::Shape(vec![k.len()]),
        (Payload::Key(_), _) => Payload::Ring(ArrayD::zeros(IxDyn(&[16]))),
        (Payload::Bytes(t), Reshape) => Payload::Bytes(reshape(t)),
        (Payload::Bytes(t), Longer | Shorter | Oversized) => Payload::Bytes(resize(t, rows(c))),
        (Payload::Bytes(t), _) => Payload::Ring(t.mapv(u64::from)),
    }
}

/// How long a party may wait with no party making progress before it gives up. A corrupted
/// message must stop its receiver at once (a stall or a message of another op within this).
const TIMEOUT: Duration = Duration::from_secs(3);

/// Past this, a party that has not ended counts as hanging.
const DEADLINE: Duration = Duration::from_secs(20);

impl Transport for Scripted {
    fn me(&self) -> PartyId {
        self.inner.me()
    }
    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError> {
        let n = self.sent;
        self.sent += 1;
        self.total.store(self.sent, Ordering::SeqCst);
        if n != self.target {
            return self.inner.send(to, key, payload);
        }
        *self.corrupted.lock().unwrap() = Some((to, key));
        match self.corruption {
            Corruption::OtherOp => {
                let later = MsgKey {
                    op: key.op.wrapping_add(1),
                    ..key
                };
                self.inner.send(to, later, payload)
            }
            Corruption::Twice => {
                self.inner.send(to, key, payload.clone())?;
                self.inner.flush()?;
                self.inner.send(to, key, payload)
            }
            Corruption::Stall => {
                // Sends what is queued, then nothing more; stops when another party gives up.
                self.inner.flush()?;
                let start = Instant::now();
                while start.elapsed() < DEADLINE {
                    self.inner.check()?;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(NetError::Disconnected {
                    party: to,
                    reason: "the stalled peer was never given up on".into(),
                })
            }
            c => self.inner.send(to, key, corrupt(&payload, c)),
        }
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

fn compile(src: &str) -> Program {
    let hir = tfe_compiler::check(src).unwrap_or_else(|d| panic!("{d:?}"));
    tfe_compiler::lower::lower(&hir).unwrap_or_else(|d| panic!("{d:?}"))
}

/// The data of the programs: party `a` reads `x.csv` (3 rows of 2).
fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-misbehaving-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("a/x.csv"), "1,2\n3,4\n5,6\n").unwrap();
    dir
}

/// How a party ended.
#[derive(Debug)]
enum Ended {
    Ok,
    Failed(RunError),
    Panicked(String),
    /// Still running at the deadline.
    Hung,
}

/// What a run did: each party's end, the message corrupted (if the fake peer sent that many),
/// how many messages the fake peer sent, and how long the slowest party took.
struct Outcome {
    ended: Vec<Ended>,
    corrupted: Option<(PartyId, MsgKey)>,
    sent: usize,
    elapsed: Duration,
}

/// Runs `ir` with party `fake` following the script (`target` `usize::MAX`: an honest run).
fn run(ir: &Program, data: &Path, fake: PartyId, target: usize, corruption: Corruption) -> Outcome {
    let start = Instant::now();
    let corrupted = Arc::new(Mutex::new(None));
    let total = Arc::new(AtomicUsize::new(0));
    let (done, ends) = mpsc::channel();
    for (me, inner) in local_network(ir.parties.len(), TIMEOUT)
        .into_iter()
        .enumerate()
    {
        let program = tfe_ir::project(ir, me);
        let config = PartyConfig {
            data_dir: data.join(&ir.parties[me]),
            session: 11,
            seed: Some(5),
            profile: false,
            progress: None,
        };
        let (corrupted, total, done) = (corrupted.clone(), total.clone(), done.clone());
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let party = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let run = |net: &mut dyn Transport| {
                        let r = run_party(&program, me, net, &config, &mut |_| {});
                        if let Err(e) = &r {
                            net.abort(&e.to_string());
                        }
                        r.map(|_| ())
                    };
                    // Then, as over a network, each waits for the others to finish.
                    let finish = |net: &mut LocalTransport| {
                        let r = net.finish().map_err(RunError::Net);
                        if let Err(e) = &r {
                            net.abort(&e.to_string());
                        }
                        r
                    };
                    if me == fake {
                        let mut net = Scripted {
                            inner,
                            sent: 0,
                            target,
                            corruption,
                            corrupted,
                            total,
                        };
                        run(&mut net)?;
                        finish(&mut net.inner)
                    } else {
                        let mut net = inner;
                        run(&mut net)?;
                        finish(&mut net)
                    }
                }));
                let ended = match party {
                    Ok(Ok(())) => Ended::Ok,
                    Ok(Err(e)) => Ended::Failed(e),
                    Err(p) => Ended::Panicked(
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default(),
                    ),
                };
                let _ = done.send((me, ended, start.elapsed()));
            })
            .unwrap();
    }
    drop(done);
    let mut ended: Vec<Ended> = ir.parties.iter().map(|_| Ended::Hung).collect();
    let mut elapsed = Duration::ZERO;
    for _ in 0..ir.parties.len() {
        // A hung party's thread is left behind: the test fails, and its process ends it.
        let Ok((me, end, took)) = ends.recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
        else {
            elapsed = start.elapsed();
            break;
        };
        ended[me] = end;
        elapsed = elapsed.max(took);
    }
    let corrupted = *corrupted.lock().unwrap();
    Outcome {
        ended,
        corrupted,
        sent: total.load(Ordering::SeqCst),
        elapsed,
    }
}

/// Whether `error` blames party `fake` for its message of op `op`: names the peer, and the op
/// (as a key is printed, `#op.run.step`), in a few words (not the data).
fn blames(error: &RunError, fake: PartyId, op: u32) -> bool {
    let (from, detail) = match error {
        RunError::BadMessage { from, detail } => (from, detail),
        RunError::Net(NetError::Malformed { party, detail }) => (party, detail),
        _ => return false,
    };
    *from == fake && detail.contains(&format!("#{op}.")) && detail.len() < 300
}

/// The op with id `id`.
fn find(nodes: &[tfe_ir::Node], id: u32) -> Option<&tfe_ir::Node> {
    nodes.iter().find_map(|n| {
        if n.id == id {
            Some(n)
        } else {
            n.op.blocks().into_iter().find_map(|b| find(b, id))
        }
    })
}

/// Whether `key` is a message of a reveal of a value with a run-time dimension: a target that
/// holds no shares gets two messages (one from each of two members) that must agree, and when
/// one is a size too long or short cannot tell which member lied; it refuses them, naming both.
fn revealed_with_size_unknown(ir: &Program, key: MsgKey) -> bool {
    matches!(
        find(&ir.body, key.op).map(|n| &n.op),
        Some(tfe_ir::Op::Reveal { dst, .. })
            if ir.regs[*dst as usize].shape.contains(&tfe_ir::Dim::Runtime)
    )
}

/// Whether the size of the message `key` is the sender's to choose: the shares of a value with
/// a run-time dimension, sent by its owner. Such a message made one size too long or short is
/// only caught when the holders' shares disagree, by a holder that cannot tell who lied (the
/// protocols do not cross-check the owner), so the receiver need not blame the owner for it.
fn size_unknown_to_receiver(ir: &Program, key: MsgKey) -> bool {
    matches!(
        find(&ir.body, key.op).map(|n| &n.op),
        Some(tfe_ir::Op::Share { dst, .. })
            if ir.regs[*dst as usize].shape.contains(&tfe_ir::Dim::Runtime)
    )
}

/// The faults in the outcome of a run where `fake` corrupted a message by `corruption`.
fn faults(ir: &Program, fake: PartyId, corruption: Corruption, o: &Outcome) -> Vec<String> {
    let mut faults = Vec::new();
    for (p, end) in o.ended.iter().enumerate() {
        match end {
            Ended::Panicked(m) => faults.push(format!("party {} panicked: {m}", ir.parties[p])),
            Ended::Hung => faults.push(format!("party {} hung", ir.parties[p])),
            // A second copy of a message may arrive after every party but its receiver
            // finished: the others' results stand, and they may say their goodbyes first.
            Ended::Ok if corruption == Corruption::Twice && Some(p) != o.corrupted.map(|c| c.0) => {
            }
            Ended::Ok if p != fake => {
                faults.push(format!("honest party {} ended well", ir.parties[p]))
            }
            _ => {}
        }
    }
    let Some((to, key)) = o.corrupted else {
        return faults;
    };
    match (corruption, &o.ended[to]) {
        // A stall is seen as no party making progress: the receiver gives up on the staller or
        // hears that another party gave up.
        (Corruption::Stall, Ended::Failed(RunError::Net(NetError::Timeout { from, .. })))
            if *from == fake => {}
        (Corruption::Stall, Ended::Failed(RunError::Net(NetError::PeerFailed { .. }))) => {}
        (Corruption::Stall, _) => faults.push(format!(
            "the receiver {} ended with {:?}",
            ir.parties[to], o.ended[to]
        )),
        // A message keyed for the next op may meet that op's own message first.
        (Corruption::OtherOp, Ended::Failed(e))
            if blames(e, fake, key.op) || blames(e, fake, key.op.wrapping_add(1)) => {}
        (
            Corruption::Longer | Corruption::Shorter | Corruption::Oversized,
            Ended::Failed(RunError::BadMessage { .. }),
        ) if revealed_with_size_unknown(ir, key) => {}
        (Corruption::Longer | Corruption::Shorter | Corruption::Oversized, Ended::Failed(_))
            if size_unknown_to_receiver(ir, key) => {}
        (_, Ended::Failed(e)) if blames(e, fake, key.op) => {}
        _ => faults.push(format!(
            "the receiver {} did not blame {} for {key}: it ended with {:?}",
            ir.parties[to], ir.parties[fake], o.ended[to]
        )),
    }
    // Only a stall may take as long as a party waits.
    let limit = if corruption == Corruption::Stall {
        TIMEOUT * 2
    } else {
        TIMEOUT
    };
    if o.elapsed > limit {
        faults.push(format!("took {:?}", o.elapsed));
    }
    faults
}

/// The programs the fake peer plays a part in: shares of known and of run-time shapes, products,
/// truncations, comparisons, a maximum, reveals to a party, to a member and to everyone, a party's
/// value revealed to another; aby3, pond with its dealer, and securenn with its helper (whose
/// comparisons send bytes of Z_67).
const PROGRAMS: &[&str] = &[
    "party a, b, c, d;
secret rep = aby3(b, c, d);
fn main() {
    let x: fixed[_, 2] @a = read_csv(\"x.csv\");
    let k: fixed[2] @a = ones([2]);
    let y: fixed[_, 2] @rep = x;
    let w: fixed[2] @rep = k;
    let z = y * w + 0.5;
    let m = max(z, axis: 1);
    let big = z > 1.0;
    print(reveal(m, to: a));
    print(reveal(select(big, z, 0.0), to: b));
    print(reveal(sum(z, axis: 0)));
    let t: fixed[2] @c = reveal(w, to: c);
    print(reveal(t, to: a));
}",
    "party a, b, c;
secret two = pond(a, b, dealer = c);
fn main() {
    let x: fixed[3] @a = ones([3]);
    let y: fixed[3] @two = x;
    let z = y * y + y;
    print(reveal(z < 2.0, to: b));
    print(reveal(z, to: a));
}",
    "party a, b, c;
secret sn = securenn(a, b, dealer = c);
fn main() {
    let x: fixed[3] @a = ones([3]);
    let y: fixed[3] @sn = x;
    let z = y * y + y;
    print(reveal(max(z, axis: 0), to: b));
    print(reveal(z > 1.5, to: a));
}",
];

#[test]
fn every_corrupted_message_stops_its_receivers_naming_the_sender_and_the_op() {
    let data = data_dir();
    let irs: Vec<Program> = PROGRAMS.iter().map(|src| compile(src)).collect();
    // The honest runs: every party ends well; how many messages each sends.
    let mut cases = Vec::new();
    for (i, ir) in irs.iter().enumerate() {
        for fake in 0..ir.parties.len() {
            let o = run(ir, &data, fake, usize::MAX, Corruption::Twice);
            assert!(
                o.ended.iter().all(|e| matches!(e, Ended::Ok)),
                "{}: an honest run failed: {:?}",
                ir.parties.join(", "),
                o.ended
            );
            for target in 0..o.sent {
                for corruption in CORRUPTIONS {
                    // A stall waits out the timeout: its first, middle and last message suffice.
                    if corruption != Corruption::Stall
                        || [0, o.sent / 2, o.sent - 1].contains(&target)
                    {
                        cases.push((i, fake, target, corruption));
                    }
                }
            }
        }
    }
    // Most of a case is waiting: run several at once.
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..24 {
            s.spawn(|| {
                while let Some(&(i, fake, target, corruption)) =
                    cases.get(next.fetch_add(1, Ordering::SeqCst))
                {
                    let ir = &irs[i];
                    let o = run(ir, &data, fake, target, corruption);
                    let faults = faults(ir, fake, corruption, &o);
                    if !faults.is_empty() {
                        let what = o.corrupted.map_or("nothing".into(), |(to, key)| {
                            format!("{key} to {}", ir.parties[to])
                        });
                        failures.lock().unwrap().push(format!(
                            "program {i} ({}): party {} corrupts its message {target} ({what}) by {corruption:?}: {}",
                            ir.parties.join(", "),
                            ir.parties[fake],
                            faults.join("; ")
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} cases in {:.1} s, {} failed",
        cases.len(),
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
