//! Transports: how a party's messages reach the others.
//!
//! A message is keyed by its [`MsgKey`]; a party may receive a message before it asks for it (it
//! is kept until asked for). Messages to the same peer are buffered and leave together when the
//! party next waits for a message (or finishes), so all the messages of one round to one peer
//! travel as one batch, never one per tiny value.
//!
//! [`local_network`] is the in-process transport (the embedded default and the test double).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use tfe_ir::{MsgKey, PartyId};

use crate::emulate::{Emulation, Pacer};
use crate::ring::RingTensor;

/// What a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Ring(RingTensor),
    /// Elements of Z_2^128 (a placement with `ring = 128`).
    Ring128(RingTensor<u128>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
    Key([u8; 16]),
    Shape(Vec<usize>),
    /// Small numbers, one byte each (SecureNN's elements of Z_67).
    Bytes(ArrayD<u8>),
}

impl Payload {
    /// What it is, in a few words (an error message's part; never the data).
    pub fn describe(&self) -> String {
        match self {
            Payload::Ring(t) => format!("ring elements of shape {:?}", t.shape()),
            Payload::Ring128(t) => format!("128-bit ring elements of shape {:?}", t.shape()),
            Payload::F64(t) => format!("reals of shape {:?}", t.shape()),
            Payload::I64(t) => format!("integers of shape {:?}", t.shape()),
            Payload::Bool(t) => format!("booleans of shape {:?}", t.shape()),
            Payload::Key(_) => "a key".to_string(),
            Payload::Shape(s) => format!("a shape of rank {}", s.len()),
            Payload::Bytes(t) => format!("bytes of shape {:?}", t.shape()),
        }
    }

    /// Bytes of the payload on a wire: the elements, plus 8 per dimension of its shape.
    pub fn wire_bytes(&self) -> u64 {
        let (n, width, rank) = match self {
            Payload::Ring(t) => (t.len(), 8, t.ndim()),
            Payload::Ring128(t) => (t.len(), 16, t.ndim()),
            Payload::F64(t) => (t.len(), 8, t.ndim()),
            Payload::I64(t) => (t.len(), 8, t.ndim()),
            Payload::Bool(t) => (t.len(), 1, t.ndim()),
            Payload::Key(_) => (16, 1, 0),
            Payload::Shape(s) => (s.len(), 8, 0),
            Payload::Bytes(t) => (t.len(), 1, t.ndim()),
        };
        (n * width + 8 * rank) as u64
    }
}

/// Why a party could not go on.
#[derive(Debug, Clone, PartialEq)]
pub enum NetError {
    /// Another party failed, and said why.
    PeerFailed { party: PartyId, reason: String },
    /// A message did not arrive, and no party made progress (sent anything) for the timeout.
    Timeout {
        from: PartyId,
        key: MsgKey,
        waited: Duration,
    },
    /// A peer's link is gone: it ended without saying why, or the connection broke.
    Disconnected { party: PartyId, reason: String },
    /// A peer sent what the protocol does not allow: bytes that do not decode, a message for
    /// another session, a duplicate, something too large.
    Malformed { party: PartyId, detail: String },
}

/// Traffic counters of one party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub bytes_sent: u64,
    /// Messages sent (each a tensor, a key or a shape).
    pub messages_sent: u64,
    /// Batches sent (one per peer per round).
    pub batches_sent: u64,
    /// Rounds: the times this party sent anything and then waited.
    pub rounds: u64,
    /// Bytes written to network sockets, with every header of every layer (gRPC, HTTP/2, TLS,
    /// heartbeats, the hellos); 0 in process.
    pub wire_bytes: u64,
}

/// A party's connection to the others.
pub trait Transport: Send {
    fn me(&self) -> PartyId;
    /// Queues a message; it leaves with the next flush.
    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError>;
    /// Sends every queued message.
    fn flush(&mut self) -> Result<(), NetError>;
    /// Waits for the message `key` from `from` (flushing first, so a round's messages are out).
    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError>;
    /// Tells every other party that this one failed, and why.
    fn abort(&mut self, reason: &str);
    /// Files what has arrived without waiting, and fails if a peer failed or broke its link: a
    /// party in a long computation of its own calls it now and then, so that it stops when
    /// another party dies rather than when it next waits for a message.
    fn check(&mut self) -> Result<(), NetError> {
        Ok(())
    }
    fn stats(&self) -> NetStats;
}

/// What arrives at a party's mailbox from its links.
#[derive(Debug)]
pub enum Envelope {
    /// The messages of one round from one peer.
    Batch {
        from: PartyId,
        messages: Vec<(MsgKey, Payload)>,
    },
    /// The peer failed, and says why.
    Abort { from: PartyId, reason: String },
    /// The peer's link closed: cleanly after it finished its program (`error: None`), or broken.
    Closed {
        from: PartyId,
        error: Option<String>,
    },
    /// The peer broke the protocol on the link (see [`NetError::Malformed`]).
    Malformed { from: PartyId, detail: String },
}

/// How a transport carries a receiver's credit to the sender: `(peer, bytes taken from it in
/// all, report now)`.
pub type CreditReport = Box<dyn FnMut(PartyId, u64, bool) + Send>;

/// The receiving half of a transport: keeps messages that arrive before they are asked for,
/// refuses duplicates, and gives up when nobody makes progress.
///
/// `activity` counts signs of progress anywhere (batches sent in this process, or batches and
/// advancing heartbeats heard from peers over a network). A party waiting for a message gives up
/// only when this count has not moved for the timeout: a long computation elsewhere is not a
/// failure, a deadlock or a hung peer is.
pub struct Mailbox {
    inbox: Receiver<Envelope>,
    pending: HashMap<(PartyId, MsgKey), Payload>,
    /// The newest run count consumed per (peer, op, step): messages of an op arrive in run order,
    /// so one at or below it is a duplicate. Bounded by the program's size, not its iterations.
    consumed: HashMap<(PartyId, u32, u16), u64>,
    /// Peers that finished their program.
    finished: Vec<bool>,
    activity: Arc<AtomicU64>,
    timeout: Duration,
    /// Bytes of each peer's messages taken so far: the sender's credit (see [`WINDOW`]).
    taken: Vec<Arc<AtomicU64>>,
    /// Called with (peer, bytes taken from it in all, whether to report now) as messages are
    /// taken, and for every peer before this party waits: for a transport that carries the
    /// credit back over a link itself.
    on_taken: Option<CreditReport>,
    /// How this party waits for news: by default on `inbox` alone; a transport whose I/O runs
    /// on the party's own thread while it waits gives a pump (see [`Mailbox::pump_with`]).
    pump: Option<Pump>,
}

/// Drives a transport's I/O on the calling thread for up to the given time, returning early
/// when an envelope may have arrived.
pub type Pump = Box<dyn FnMut(Duration) + Send>;

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Mailbox {
    pub fn new(
        n_parties: usize,
        inbox: Receiver<Envelope>,
        activity: Arc<AtomicU64>,
        timeout: Duration,
    ) -> Mailbox {
        Mailbox {
            inbox,
            pending: HashMap::new(),
            consumed: HashMap::new(),
            finished: vec![false; n_parties],
            activity,
            timeout,
            taken: (0..n_parties)
                .map(|_| Arc::new(AtomicU64::new(0)))
                .collect(),
            on_taken: None,
            pump: None,
        }
    }

    /// Waits for news by calling `pump` rather than by blocking on the inbox: the transport
    /// moves messages on this thread while the party waits.
    pub fn pump_with(&mut self, pump: Pump) {
        self.pump = Some(pump);
    }

    /// The next envelope, waiting up to `max` for one.
    fn next_envelope(&mut self, max: Duration) -> Result<Envelope, RecvTimeoutError> {
        let Some(pump) = &mut self.pump else {
            return self.inbox.recv_timeout(max);
        };
        match self.inbox.try_recv() {
            Ok(e) => return Ok(e),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                return Err(RecvTimeoutError::Disconnected);
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        pump(max);
        self.inbox.try_recv().map_err(|e| match e {
            std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
            std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        })
    }

    /// Lets time pass while waiting for credit: the transport's I/O goes on meanwhile.
    fn pause(&mut self, d: Duration) {
        match &mut self.pump {
            Some(pump) => pump(d),
            None => std::thread::sleep(d),
        }
    }

    /// The counters of bytes taken from each peer, to share with the peers' outboxes (in one
    /// process) or to report over the links.
    pub fn taken_counters(&self) -> Vec<Arc<AtomicU64>> {
        self.taken.clone()
    }

    /// Uses `counters` (one per peer) as this mailbox's counts of bytes taken.
    pub fn set_taken_counters(&mut self, counters: Vec<Arc<AtomicU64>>) {
        self.taken = counters;
    }

    /// Calls `report(peer, total, false)` whenever messages from `peer` are taken, and
    /// `report(peer, total, true)` for every peer before this party waits (a sender may be
    /// waiting for exactly that credit). What to send is the transport's choice: the gRPC one
    /// reports every [`CREDIT_STEP`] and otherwise waits to be asked.
    pub fn on_taken(&mut self, report: CreditReport) {
        self.on_taken = Some(report);
    }

    /// Reports every peer's credit now (see [`Mailbox::on_taken`]).
    pub fn report_credit(&mut self) {
        if let Some(report) = &mut self.on_taken {
            for (peer, taken) in self.taken.iter().enumerate() {
                report(peer, taken.load(Ordering::SeqCst), true);
            }
        }
    }

    fn take(&mut self, from: PartyId, key: MsgKey) -> Option<Payload> {
        let p = self.pending.remove(&(from, key))?;
        self.consumed.insert((from, key.op, key.step), key.count);
        let total = self.taken[from].fetch_add(p.wire_bytes(), Ordering::SeqCst) + p.wire_bytes();
        if let Some(report) = &mut self.on_taken {
            report(from, total, false);
        }
        Some(p)
    }

    /// Files one envelope; returns an error if it ends the wait.
    fn file(&mut self, envelope: Envelope) -> Result<(), NetError> {
        match envelope {
            Envelope::Batch { from, messages } => {
                for (k, p) in messages {
                    let seen = self.consumed.get(&(from, k.op, k.step));
                    if seen.is_some_and(|&c| k.count <= c)
                        || self.pending.insert((from, k), p).is_some()
                    {
                        return Err(NetError::Malformed {
                            party: from,
                            detail: format!("message {k} arrived twice"),
                        });
                    }
                }
                Ok(())
            }
            Envelope::Abort { from, reason } => Err(NetError::PeerFailed {
                party: from,
                reason,
            }),
            Envelope::Closed { from, error: None } => {
                self.finished[from] = true;
                Ok(())
            }
            Envelope::Closed {
                from,
                error: Some(reason),
            } => Err(NetError::Disconnected {
                party: from,
                reason,
            }),
            Envelope::Malformed { from, detail } => Err(NetError::Malformed {
                party: from,
                detail,
            }),
        }
    }

    /// Files every envelope that has arrived, without waiting; fails as `recv` does on news of a
    /// failed peer.
    pub fn check(&mut self) -> Result<(), NetError> {
        while let Ok(envelope) = self.inbox.try_recv() {
            self.file(envelope)?;
        }
        Ok(())
    }

    /// Files what arrives within `wait` (driving the transport meanwhile, if it has a pump);
    /// fails as `recv` does on news of a failed peer.
    pub fn check_for(&mut self, wait: Duration) -> Result<(), NetError> {
        let until = Instant::now() + wait;
        loop {
            match self.next_envelope(until.saturating_duration_since(Instant::now())) {
                Ok(envelope) => self.file(envelope)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            self.check()?;
            if Instant::now() >= until {
                return Ok(());
            }
        }
    }

    /// Waits for message `key` from `from`. Gives up when no party has made progress for the
    /// timeout; or for half of it when a message of `from` that was not asked for is here
    /// instead (a message of another op, or with another key: see `unasked`), which names the
    /// peer that broke the protocol rather than waiting the rest of the timeout and blaming
    /// whichever party the others happen to wait for.
    pub fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        if let Some(p) = self.take(from, key) {
            return Ok(p);
        }
        self.report_credit();
        let start = Instant::now();
        let mut seen = self.activity.load(Ordering::SeqCst);
        let mut quiet_since = start;
        loop {
            if self.finished[from] {
                if let Some(other) = self.unasked(from) {
                    return Err(NetError::Malformed {
                        party: from,
                        detail: format!(
                            "it sent {other} where {key} was next, and finished its program"
                        ),
                    });
                }
                return Err(NetError::Disconnected {
                    party: from,
                    reason: format!("it finished its program without sending {key}"),
                });
            }
            let now = self.activity.load(Ordering::SeqCst);
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            }
            let quiet = quiet_since.elapsed();
            if quiet >= self.timeout / 2
                && let Some(other) = self.unasked(from)
            {
                return Err(NetError::Malformed {
                    party: from,
                    detail: format!(
                        "it sent {other} where {key} was next, and nothing more for {:.1} s",
                        quiet.as_secs_f64()
                    ),
                });
            }
            if quiet >= self.timeout {
                return Err(NetError::Timeout {
                    from,
                    key,
                    waited: start.elapsed(),
                });
            }
            match self.next_envelope((self.timeout - quiet).min(Duration::from_millis(50))) {
                Ok(envelope) => {
                    self.file(envelope)?;
                    if let Some(p) = self.take(from, key) {
                        return Ok(p);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(NetError::Disconnected {
                        party: from,
                        reason: "the links of this party are gone".into(),
                    });
                }
            }
        }
    }

    /// The first (lowest) key of a message from `from` that has arrived and was not asked for.
    ///
    /// A peer sends its messages in the order of the program, which is the order its receivers
    /// ask for them, and a link keeps their order; so a party that has waited for a message from
    /// a peer, with no party making progress for half the timeout, while a message of that peer
    /// it did not ask for is here, waits for a message that peer skipped or keyed wrongly: the
    /// peer broke the protocol (see [`Mailbox::recv`]).
    fn unasked(&self, from: PartyId) -> Option<MsgKey> {
        self.pending
            .keys()
            .filter(|(p, _)| *p == from)
            .map(|(_, k)| *k)
            .min_by_key(|k| (k.op, k.count, k.step))
    }

    /// Waits until every peer in `peers` has finished (its link closed cleanly), filing what
    /// still arrives. Fails as `recv` does.
    pub fn wait_finished(&mut self, peers: &[PartyId]) -> Result<(), NetError> {
        let mut seen = self.activity.load(Ordering::SeqCst);
        let mut quiet_since = Instant::now();
        loop {
            let Some(&waiting) = peers.iter().find(|&&p| !self.finished[p]) else {
                return Ok(());
            };
            let now = self.activity.load(Ordering::SeqCst);
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            }
            let quiet = quiet_since.elapsed();
            if quiet >= self.timeout {
                return Err(NetError::Timeout {
                    from: waiting,
                    key: MsgKey {
                        op: u32::MAX,
                        count: u64::MAX,
                        step: u16::MAX,
                    },
                    waited: quiet,
                });
            }
            match self.next_envelope((self.timeout - quiet).min(Duration::from_millis(50))) {
                Ok(envelope) => self.file(envelope)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// Waits until a batch of `bytes` may go to `to` ([`WINDOW`]), filing what arrives meanwhile
/// (so that a failed peer stops the wait); gives up as a receive does, when no party makes
/// progress for the mailbox's timeout. `ask` asks `to` for its credit (over a network, where
/// receivers report it only every [`CREDIT_STEP`] on their own): at once, then every
/// [`ASK_AGAIN`] while the wait lasts.
pub fn wait_for_credit(
    outbox: &Outbox,
    mailbox: &mut Mailbox,
    to: PartyId,
    bytes: u64,
    ask: &mut dyn FnMut(),
) -> Result<(), NetError> {
    if !outbox.must_wait(to, bytes) {
        return Ok(());
    }
    let mut seen = mailbox.activity.load(Ordering::SeqCst);
    let mut quiet_since = Instant::now();
    let start = quiet_since;
    let mut asked: Option<Instant> = None;
    while outbox.must_wait(to, bytes) {
        mailbox.check()?;
        mailbox.report_credit();
        if asked.is_none_or(|t| t.elapsed() >= ASK_AGAIN) {
            ask();
            asked = Some(Instant::now());
        }
        if mailbox.finished[to] {
            return Err(NetError::Disconnected {
                party: to,
                reason: "it finished its program with messages of this party not taken".into(),
            });
        }
        let now = mailbox.activity.load(Ordering::SeqCst);
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        }
        if quiet_since.elapsed() >= mailbox.timeout {
            return Err(NetError::Timeout {
                from: to,
                key: MsgKey {
                    op: u32::MAX,
                    count: 0,
                    step: 0,
                },
                waited: start.elapsed(),
            });
        }
        mailbox.pause(Duration::from_micros(200));
    }
    Ok(())
}

/// How often a sender waiting for credit asks again (the receiver may have taken more since).
pub const ASK_AGAIN: Duration = Duration::from_millis(2);

/// The in-process transport of one party.
pub struct LocalTransport {
    me: PartyId,
    peers: Vec<Link>,
    mailbox: Mailbox,
    outbox: Outbox,
    /// Batches sent by all parties so far (the mailbox's sign of progress).
    activity: Arc<AtomicU64>,
}

impl std::fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTransport")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// One direction of an in-process link: straight into the peer's mailbox, or through a thread
/// that delays and paces batches as [`Emulation`] says.
enum Link {
    Direct(Sender<Envelope>),
    Emulated {
        pacer: Pacer,
        queue: Sender<(Instant, Envelope)>,
    },
}

impl Link {
    fn send(&mut self, envelope: Envelope, bytes: usize) -> Result<(), ()> {
        match self {
            Link::Direct(s) => s.send(envelope).map_err(|_| ()),
            Link::Emulated { pacer, queue } => {
                let at = pacer.arrival(Instant::now(), bytes);
                queue.send((at, envelope)).map_err(|_| ())
            }
        }
    }

    fn new(to: Sender<Envelope>, emulation: Option<Emulation>) -> Link {
        let Some(emulation) = emulation else {
            return Link::Direct(to);
        };
        let (queue, delayed) = channel::<(Instant, Envelope)>();
        std::thread::spawn(move || {
            for (at, envelope) in delayed {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                if to.send(envelope).is_err() {
                    break;
                }
            }
        });
        Link::Emulated {
            pacer: Pacer::new(emulation),
            queue,
        }
    }
}

/// Transports for `n` parties in this process. A receive gives up when no party has sent
/// anything for `timeout`: a long computation at the others is not a failure, a deadlock is.
pub fn local_network(n: usize, timeout: Duration) -> Vec<LocalTransport> {
    local_network_emulated(n, timeout, None)
}

/// [`local_network`], with every link delayed and paced by `emulation`.
pub fn local_network_emulated(
    n: usize,
    timeout: Duration,
    emulation: Option<Emulation>,
) -> Vec<LocalTransport> {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| channel()).unzip();
    let activity = Arc::new(AtomicU64::new(0));
    // taken[i][j]: bytes of i's messages that j took; j's mailbox counts them, i's outbox reads
    // them as j's credit.
    let taken: Vec<Vec<Arc<AtomicU64>>> = (0..n)
        .map(|_| (0..n).map(|_| Arc::new(AtomicU64::new(0))).collect())
        .collect();
    receivers
        .into_iter()
        .enumerate()
        .map(|(me, inbox)| {
            let mut mailbox = Mailbox::new(n, inbox, activity.clone(), timeout);
            mailbox.set_taken_counters((0..n).map(|from| taken[from][me].clone()).collect());
            let mut outbox = Outbox::new(n);
            outbox.set_credit_counters(taken[me].clone());
            LocalTransport {
                me,
                peers: senders
                    .iter()
                    .map(|s| Link::new(s.clone(), emulation))
                    .collect(),
                mailbox,
                outbox,
                activity: activity.clone(),
            }
        })
        .collect()
}

/// The sending half shared by the transports: queues messages per peer until the next flush,
/// and keeps the traffic counters (a round is a flush of anything followed by a wait).
#[derive(Debug)]
pub struct Outbox {
    queues: Vec<Vec<(MsgKey, Payload)>>,
    stats: NetStats,
    sent_since_wait: bool,
    /// Payload bytes sent to each peer in all.
    sent: Vec<u64>,
    /// Payload bytes each peer has taken from its mailbox (its credit).
    credit: Vec<Arc<AtomicU64>>,
    /// [`WINDOW`], smaller in tests.
    window: u64,
}

/// How far a party may run ahead of a peer: at most this many payload bytes sent to it and not
/// yet taken by it, unless nothing is outstanding (a single larger batch may always go).
///
/// Parties in lockstep never come near it: each waits for the others every round. A party that
/// only sends — pond's dealer — would otherwise run through its whole program while the servers
/// compute, and the servers' mailboxes would hold everything it dealt ahead of time.
pub const WINDOW: u64 = 256 << 20;

/// A receiver reports its credit over a network link every this many bytes taken (in one process
/// the sender reads the receiver's counter itself).
pub const CREDIT_STEP: u64 = 8 << 20;

impl Outbox {
    pub fn new(n_parties: usize) -> Outbox {
        Outbox {
            queues: vec![Vec::new(); n_parties],
            stats: NetStats::default(),
            sent_since_wait: false,
            sent: vec![0; n_parties],
            credit: (0..n_parties)
                .map(|_| Arc::new(AtomicU64::new(0)))
                .collect(),
            window: WINDOW,
        }
    }

    /// The counters of bytes each peer took, for whoever learns them (the peer's mailbox in one
    /// process, the link reader over a network).
    pub fn credit_counters(&self) -> Vec<Arc<AtomicU64>> {
        self.credit.clone()
    }

    /// Uses `counters` (one per peer) as the peers' credit.
    pub fn set_credit_counters(&mut self, counters: Vec<Arc<AtomicU64>>) {
        self.credit = counters;
    }

    /// Sets the window (see [`WINDOW`]): smaller in tests, to make a sender wait.
    pub fn set_window(&mut self, bytes: u64) {
        self.window = bytes;
    }

    /// Whether a batch of `bytes` to `to` must wait for credit (see [`WINDOW`]).
    pub fn must_wait(&self, to: PartyId, bytes: u64) -> bool {
        let outstanding = self.sent[to].saturating_sub(self.credit[to].load(Ordering::SeqCst));
        outstanding > 0 && outstanding + bytes > self.window
    }

    /// Counts a batch of `bytes` as sent to `to`.
    pub fn sent_batch(&mut self, to: PartyId, bytes: u64) {
        self.sent[to] += bytes;
    }

    /// Queues a message for `to`.
    pub fn push(&mut self, to: PartyId, key: MsgKey, payload: Payload) {
        self.stats.bytes_sent += payload.wire_bytes();
        self.stats.messages_sent += 1;
        self.queues[to].push((key, payload));
    }

    /// Takes every non-empty queue, one batch per peer, counting them.
    pub fn batches(&mut self) -> Vec<(PartyId, Vec<(MsgKey, Payload)>)> {
        let mut out = Vec::new();
        for (to, queue) in self.queues.iter_mut().enumerate() {
            if !queue.is_empty() {
                out.push((to, std::mem::take(queue)));
            }
        }
        self.stats.batches_sent += out.len() as u64;
        self.sent_since_wait |= !out.is_empty();
        out
    }

    /// Notes that the party is about to wait: a round ends if it sent anything since the last.
    pub fn waiting(&mut self) {
        if self.sent_since_wait {
            self.stats.rounds += 1;
            self.sent_since_wait = false;
        }
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }
}

impl LocalTransport {
    /// Ends the run as a party over the network does: sends what is queued, tells every peer it
    /// finished, and waits until they all have, so that a party that finished its own program
    /// still hears (and fails) when another one failed.
    pub fn finish(&mut self) -> Result<(), NetError> {
        self.flush()?;
        let me = self.me;
        let peers: Vec<PartyId> = (0..self.peers.len()).filter(|&p| p != me).collect();
        for &to in &peers {
            self.activity.fetch_add(1, Ordering::SeqCst);
            self.peers[to]
                .send(
                    Envelope::Closed {
                        from: me,
                        error: None,
                    },
                    0,
                )
                .map_err(|_| NetError::Disconnected {
                    party: to,
                    reason: "its thread ended".into(),
                })?;
        }
        self.mailbox.wait_finished(&peers)
    }
}

impl Transport for LocalTransport {
    fn me(&self) -> PartyId {
        self.me
    }

    fn send(&mut self, to: PartyId, key: MsgKey, payload: Payload) -> Result<(), NetError> {
        self.outbox.push(to, key, payload);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), NetError> {
        for (to, messages) in self.outbox.batches() {
            let payload: u64 = messages.iter().map(|(_, p)| p.wire_bytes()).sum();
            // In one process the sender reads the receiver's counter itself: nothing to ask.
            wait_for_credit(&self.outbox, &mut self.mailbox, to, payload, &mut || {})?;
            self.outbox.sent_batch(to, payload);
            self.activity.fetch_add(1, Ordering::SeqCst);
            let bytes: u64 = messages.iter().map(|(_, p)| 16 + p.wire_bytes()).sum();
            self.peers[to]
                .send(
                    Envelope::Batch {
                        from: self.me,
                        messages,
                    },
                    bytes as usize,
                )
                .map_err(|_| NetError::Disconnected {
                    party: to,
                    reason: "its thread ended".into(),
                })?;
        }
        Ok(())
    }

    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        self.flush()?;
        self.outbox.waiting();
        self.mailbox.recv(from, key)
    }

    fn check(&mut self) -> Result<(), NetError> {
        self.mailbox.check()
    }

    fn abort(&mut self, reason: &str) {
        let me = self.me;
        for (to, peer) in self.peers.iter_mut().enumerate() {
            if to != me {
                let _ = peer.send(
                    Envelope::Abort {
                        from: me,
                        reason: reason.to_string(),
                    },
                    0,
                );
            }
        }
    }

    fn stats(&self) -> NetStats {
        self.outbox.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    fn key(op: u32) -> MsgKey {
        MsgKey {
            op,
            count: 0,
            step: 0,
        }
    }

    #[test]
    fn messages_arrive_by_key_in_any_order() {
        let mut net = local_network(2, Duration::from_secs(5));
        let mut b = net.pop().unwrap();
        let mut a = net.pop().unwrap();
        let t = |v: u64| Payload::Ring(ArrayD::from_elem(IxDyn(&[2]), v));
        a.send(1, key(1), t(1)).unwrap();
        a.send(1, key(2), t(2)).unwrap();
        a.flush().unwrap();
        assert_eq!(b.recv(0, key(2)).unwrap(), t(2));
        assert_eq!(b.recv(0, key(1)).unwrap(), t(1));
        assert_eq!(a.stats().batches_sent, 1, "both messages left as one batch");
        assert_eq!(a.stats().bytes_sent, 2 * (16 + 8));
    }

    /// A party that only sends (a dealer) waits once a window of its bytes is not taken, and
    /// goes on as the receiver takes them.
    #[test]
    fn a_sender_runs_at_most_a_window_ahead() {
        let mut net = local_network(2, Duration::from_secs(5));
        let mut b = net.pop().unwrap();
        let mut a = net.pop().unwrap();
        a.outbox.window = 2000;
        let t = |v: u64| Payload::Ring(ArrayD::from_elem(IxDyn(&[100]), v));
        let sender = std::thread::spawn(move || {
            let mut done = Vec::new();
            for i in 0..6 {
                a.send(1, key(i), t(i as u64)).unwrap();
                a.flush().unwrap();
                done.push(std::time::Instant::now());
            }
            done
        });
        std::thread::sleep(Duration::from_millis(300));
        let taking = std::time::Instant::now();
        for i in 0..6 {
            assert_eq!(b.recv(0, key(i)).unwrap(), t(i as u64));
        }
        let done = sender.join().unwrap();
        // 808 bytes each: two batches fit the window, the third waits for the receiver.
        assert!(done[1] < taking, "the first two left at once");
        assert!(done[2] >= taking, "the third waited for credit");
    }

    #[test]
    fn a_missing_message_times_out_and_an_abort_reaches_the_others() {
        let mut net = local_network(2, Duration::from_millis(100));
        let mut b = net.pop().unwrap();
        let mut a = net.pop().unwrap();
        assert!(matches!(
            b.recv(0, key(1)),
            Err(NetError::Timeout { from: 0, .. })
        ));
        a.abort("could not read data/a/x.csv");
        match b.recv(0, key(1)) {
            Err(NetError::PeerFailed { party: 0, reason }) => assert!(reason.contains("x.csv")),
            other => panic!("{other:?}"),
        }
    }
}
