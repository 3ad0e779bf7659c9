//! Connecting the parties, and the [`GrpcTransport`] that moves their batches.
//!
//! Party `i` dials every party `j > i` and accepts the parties below it, so each pair has exactly
//! one connection and one bidirectional gRPC stream (`Link.Exchange`). Both sides speak first
//! with a `Hello`: names, the program's fingerprint and a nonce. A hello from a party that is not
//! expected (unknown, already connected, another program, a TLS certificate naming someone else)
//! is refused without disturbing the others. When every link is up, the session id is derived
//! from all parties' nonces, in party order, so every party gets the same one; batches carry it
//! and a batch of another session is refused.
//!
//! A round's messages to one peer are one batch ([`crate::wire`]), cut into chunks of at most
//! [`CHUNK`] bytes. Every second each link carries a heartbeat with the sender's progress (batches
//! sent and received): a waiting party gives up only when nobody it hears from progresses. At the
//! end each party says `Bye` and waits for everyone's, so nobody leaves while its messages are
//! still on the way.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfe_ir::{MsgKey, PartyId};
use tfe_runtime::emulate::{Emulation, Pacer};
use tfe_runtime::net::{
    CREDIT_STEP, CreditReport, Envelope, Mailbox, NetError, NetStats, Outbox, Payload, Transport,
    wait_for_credit,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

use crate::drive::{Driver, Flow, LinkTx};
use crate::io::{Conn, Io, PeerCert};
use crate::proto::link_client::LinkClient;
use crate::proto::link_server::{Link, LinkServer};
use crate::proto::{Abort, Bye, Chunk, Credit, CreditWanted, Frame, Heartbeat, Hello, frame};
use crate::tls::{self, Tls};
use crate::wire;

/// The largest chunk of a batch in one gRPC message.
pub const CHUNK: usize = 1 << 20;
/// The largest batch a peer may send: far above any round of the workloads (a 10^6-element
/// product sends 8 MB), far below what would exhaust memory.
pub const MAX_BATCH: usize = 1 << 31;
/// The version of the link protocol in hellos (2: credit is asked for).
const VERSION: u32 = 2;
/// How long a connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_secs(1);
/// HTTP/2 flow-control windows: the largest HTTP/2 allows, so that what holds a sender back is
/// tfe's own credit ([`tfe_runtime::net::WINDOW`]), never HTTP/2's: a frame waiting in HTTP/2
/// for a window update would wait for this party to drive its links again.
const WINDOW: u32 = (1 << 31) - 1;
/// The largest HTTP/2 frame either side accepts: a chunk and its framing in one or two frames.
/// HTTP/2's default, 16 KiB, costs a system call per 16 KiB written and several per frame read:
/// on loopback, most of a link's CPU time.
const MAX_FRAME: u32 = 4 << 20;

/// How one party joins a run.
#[derive(Clone)]
pub struct NetConfig {
    pub me: PartyId,
    /// Every party's name, in the program's order.
    pub names: Vec<String>,
    /// Every party's `host:port`.
    pub addresses: Vec<String>,
    /// A fingerprint of the whole program: parties running different programs refuse each other.
    pub program: Vec<u8>,
    pub tls: Option<Tls>,
    /// How long to wait for the peers to come up.
    pub connect_timeout: Duration,
    /// How long the parties may be silent before a waiting party gives up.
    pub timeout: Duration,
    /// With a seed, the session id is the seed (so a run repeats the in-process run exactly).
    pub seed: Option<u64>,
    pub emulation: Option<Emulation>,
    /// Where notices go (a refused connection, for instance).
    pub notice: Arc<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("me", &self.me)
            .field("names", &self.names)
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// A link whose hellos are done.
struct Established {
    peer: PartyId,
    nonce: Vec<u8>,
    out: LinkTx,
    inbound: Streaming<Frame>,
}

fn hello(config: &NetConfig, to: PartyId, nonce: &[u8]) -> Frame {
    Frame {
        kind: Some(frame::Kind::Hello(Hello {
            version: VERSION,
            from: config.names[config.me].clone(),
            to: config.names[to].clone(),
            program: config.program.clone(),
            nonce: nonce.to_vec(),
        })),
    }
}

/// Checks a peer's hello; returns the peer's id.
/// `cert` is the client certificate of an accepted connection (`None` on the dialing side, where
/// the TLS handshake already checked that the server's certificate names the party dialed).
fn check_hello(
    config: &NetConfig,
    frame: Option<Frame>,
    cert: Option<&PeerCert>,
) -> Result<(PartyId, Vec<u8>), String> {
    let Some(Frame {
        kind: Some(frame::Kind::Hello(h)),
    }) = frame
    else {
        return Err("it did not start with a hello".into());
    };
    if h.version != VERSION {
        return Err(format!(
            "it speaks link version {}, not {VERSION}",
            h.version
        ));
    }
    let Some(peer) = config.names.iter().position(|n| *n == h.from) else {
        return Err(format!(
            "it says it is `{}`, which is not a party of this program",
            h.from
        ));
    };
    if h.to != config.names[config.me] {
        return Err(format!(
            "`{}` meant to reach `{}`, not `{}`",
            h.from, h.to, config.names[config.me]
        ));
    }
    if h.program != config.program {
        return Err(format!(
            "`{}` runs another program (or another version of it)",
            h.from
        ));
    }
    if h.nonce.len() != 16 {
        return Err(format!("`{}` sent a malformed hello", h.from));
    }
    if let (Some(_), Some(cert)) = (&config.tls, cert) {
        match &cert.0 {
            Some(c) if tls::names(c, &h.from) => {}
            Some(_) => {
                return Err(format!(
                    "it says it is `{}`, but its certificate names another party",
                    h.from
                ));
            }
            None => return Err(format!("`{}` presented no certificate", h.from)),
        }
    }
    Ok((peer, h.nonce))
}

/// The gRPC service: accepts the links of lower-numbered parties.
struct Acceptor {
    config: NetConfig,
    nonce: Vec<u8>,
    /// Which peers are already connected (a second hello from one is refused).
    connected: Arc<Mutex<Vec<bool>>>,
    established: mpsc::UnboundedSender<Result<Established, String>>,
    flow: Arc<Flow>,
}

type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

#[tonic::async_trait]
impl Link for Acceptor {
    type ExchangeStream = FrameStream;

    async fn exchange(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> Result<Response<FrameStream>, Status> {
        let cert = request
            .extensions()
            .get::<PeerCert>()
            .cloned()
            .unwrap_or_default();
        let mut inbound = request.into_inner();
        let first = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => return Err(Status::invalid_argument(format!("no hello: {e}"))),
            Err(_) => return Err(Status::deadline_exceeded("no hello in time")),
        };
        let refuse = |why: String| {
            (self.config.notice)(&format!("refused a connection: {why}"));
            Status::permission_denied(why)
        };
        let (peer, nonce) = check_hello(&self.config, first, Some(&cert)).map_err(refuse)?;
        if peer >= self.config.me {
            return Err(refuse(format!(
                "`{}` dialed, but the lower-numbered party dials",
                self.config.names[peer]
            )));
        }
        {
            let mut connected = self.connected.lock().unwrap_or_else(|p| p.into_inner());
            if connected[peer] {
                return Err(refuse(format!(
                    "`{}` is already connected",
                    self.config.names[peer]
                )));
            }
            connected[peer] = true;
        }
        let (out, rx) = crate::drive::link(&self.flow);
        let _ = out.send(hello(&self.config, peer, &self.nonce));
        let _ = self.established.send(Ok(Established {
            peer,
            nonce,
            out,
            inbound,
        }));
        Ok(Response::new(Box::pin(rx.map(Ok))))
    }
}

/// A party's transport over gRPC.
pub struct GrpcTransport {
    me: PartyId,
    names: Vec<String>,
    driver: Option<Arc<Driver>>,
    out: Vec<Option<LinkTx>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    mailbox: Mailbox,
    outbox: Outbox,
    session: u64,
    /// This party's progress: batches sent and received (heartbeats carry it).
    progress: Arc<AtomicU64>,
    activity: Arc<AtomicU64>,
    wire: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for GrpcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcTransport")
            .field("me", &self.me)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Connects this party to all the others (waiting up to `config.connect_timeout` for them) and
/// agrees on the session.
pub fn connect(config: NetConfig) -> Result<GrpcTransport, String> {
    let n = config.names.len();
    let me = config.me;
    let flow = Arc::new(Flow::default());
    let driver = Driver::new(&format!("net-{}", config.names[me]), flow.clone())?;
    let runtime = driver.runtime();
    let mut nonce = vec![0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for the session: {e}"))?;
    let wire = Arc::new(AtomicU64::new(0));
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let deadline = Instant::now() + config.connect_timeout;

    let links: Vec<Established> = runtime.block_on(async {
        let (established_tx, mut established_rx) = mpsc::unbounded_channel();
        // Accept the lower-numbered parties.
        if me > 0 {
            let addr = crate::players::resolve(&config.addresses[me])?;
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                format!(
                    "cannot listen on {} (the address of `{}`): {e}",
                    config.addresses[me], config.names[me]
                )
            })?;
            let acceptor = Acceptor {
                config: config.clone(),
                nonce: nonce.clone(),
                connected: Arc::new(Mutex::new(vec![false; n])),
                established: established_tx.clone(),
                flow: flow.clone(),
            };
            let incoming = incoming(
                listener,
                config.tls.clone(),
                wire.clone(),
                flow.clone(),
                config.notice.clone(),
            );
            let service = LinkServer::new(acceptor)
                .max_decoding_message_size(CHUNK + 4096)
                .max_encoding_message_size(CHUNK + 4096);
            let server = Server::builder()
                .initial_stream_window_size(WINDOW)
                .initial_connection_window_size(WINDOW)
                .max_frame_size(MAX_FRAME);
            tokio::spawn(async move {
                let _ = server
                    .serve_with_incoming_shutdown(service, incoming, async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
        }
        // Dial the higher-numbered ones.
        for peer in me + 1..n {
            let config = config.clone();
            let nonce = nonce.clone();
            let wire = wire.clone();
            let flow = flow.clone();
            let tx = established_tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(dial(&config, peer, &nonce, wire, flow, deadline).await);
            });
        }
        drop(established_tx);
        let mut links: Vec<Option<Established>> = (0..n).map(|_| None).collect();
        let mut missing = n - 1;
        while missing > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, established_rx.recv()).await {
                Ok(Some(Ok(link))) => {
                    let peer = link.peer;
                    if links[peer].is_none() {
                        missing -= 1;
                    }
                    links[peer] = Some(link);
                }
                Ok(Some(Err(e))) => return Err(e),
                Ok(None) | Err(_) => break,
            }
        }
        if missing > 0 {
            let absent: Vec<&str> = (0..n)
                .filter(|&p| p != me && links[p].is_none())
                .map(|p| config.names[p].as_str())
                .collect();
            return Err(format!(
                "{} did not connect within {:.0} s",
                absent.join(", "),
                config.connect_timeout.as_secs_f64(),
            ));
        }
        Ok(links.into_iter().flatten().collect())
    })?;

    // The session: the seed, or every party's nonce in party order.
    let session = config.seed.unwrap_or_else(|| {
        let mut nonces = vec![Vec::new(); n];
        nonces[me] = nonce.clone();
        for l in &links {
            nonces[l.peer] = l.nonce.clone();
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in nonces.iter().flatten() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    });

    let (inbox_tx, inbox_rx) = std_mpsc::channel();
    let news = Arc::new(tokio::sync::Notify::new());
    let activity = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let outbox = Outbox::new(n);
    let credit = outbox.credit_counters();
    let mut mailbox = Mailbox::new(n, inbox_rx, activity.clone(), config.timeout);
    let taken = mailbox.taken_counters();
    let mut out: Vec<Option<LinkTx>> = (0..n).map(|_| None).collect();
    let mut tasks = Vec::new();
    for link in links {
        let peer = link.peer;
        let sender = match config.emulation {
            Some(e) => link.out.through(emulated(runtime, e, link.out.raw())),
            None => link.out,
        };
        tasks.push(runtime.spawn(read_link(
            peer,
            link.inbound,
            session,
            Inbox {
                tx: inbox_tx.clone(),
                news: news.clone(),
            },
            activity.clone(),
            progress.clone(),
            Credits {
                theirs: credit[peer].clone(),
                ours: taken[peer].clone(),
                reply: sender.clone(),
            },
        )));
        let beat = sender.clone();
        let beat_progress = progress.clone();
        tasks.push(runtime.spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            // Nobody drives the runtime while the party computes: no burst of beats after.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let frame = Frame {
                    kind: Some(frame::Kind::Heartbeat(Heartbeat {
                        progress: beat_progress.load(Ordering::SeqCst),
                    })),
                };
                if beat.send(frame).is_err() {
                    break;
                }
            }
        }));
        out[peer] = Some(sender);
    }
    let driver = Arc::new(driver);
    mailbox.on_taken(credit_report(&out));
    mailbox.pump_with(driver.pump(news));
    Ok(GrpcTransport {
        me,
        names: config.names.clone(),
        driver: Some(driver),
        out,
        tasks,
        mailbox,
        outbox,
        session,
        progress,
        activity,
        wire,
        shutdown: Some(shutdown_tx),
    })
}

/// Sends a peer a `Credit` frame when this party has taken [`CREDIT_STEP`] more bytes of its
/// messages. Not before every wait (the mailbox's `now`): parties in lockstep never come near
/// the window, and a credit frame per peer per round was a third of the frames; a sender that
/// must wait asks (`CreditWanted`), and the link's reader answers as soon as this party drives
/// its links ([`read_link`]: at its next wait, or at once if it is waiting).
fn credit_report(out: &[Option<LinkTx>]) -> CreditReport {
    let links: Vec<Option<LinkTx>> = out.to_vec();
    let mut reported = vec![0u64; links.len()];
    Box::new(move |peer, taken, _now| {
        let due = taken.saturating_sub(reported[peer]);
        if due < CREDIT_STEP {
            return;
        }
        if let Some(Some(link)) = links.get(peer) {
            let frame = Frame {
                kind: Some(frame::Kind::Credit(Credit { taken })),
            };
            if link.send(frame).is_ok() {
                reported[peer] = taken;
            }
        }
    })
}

/// A link that delays and paces what is sent on it (see [`tfe_runtime::emulate`]).
///
/// One task stamps each frame as it is handed over (it never sleeps, so the stamp is the time
/// of sending) and a second one delivers it at its arrival time. Stamping where a frame is
/// delivered instead would add half a round trip for every frame queued behind another: a
/// batch of ten chunks would take ten flights, where a network takes one.
fn emulated(
    runtime: &tokio::runtime::Runtime,
    emulation: Emulation,
    link: mpsc::UnboundedSender<Frame>,
) -> mpsc::UnboundedSender<Frame> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Frame>();
    let (stamped, mut due) = mpsc::unbounded_channel::<(Instant, Frame)>();
    runtime.spawn(async move {
        let mut pacer = Pacer::new(emulation);
        while let Some(frame) = rx.recv().await {
            let size = prost::Message::encoded_len(&frame);
            let at = pacer.arrival(Instant::now(), size);
            if stamped.send((at, frame)).is_err() {
                break;
            }
        }
    });
    runtime.spawn(async move {
        while let Some((at, frame)) = due.recv().await {
            // Tokio's timer ticks in milliseconds: sleep the bulk, yield through the rest, so
            // LAN-like delays of microseconds are not rounded up to a millisecond.
            if let Some(bulk) = at.checked_sub(Duration::from_millis(1)) {
                tokio::time::sleep_until(bulk.into()).await;
            }
            while Instant::now() < at {
                tokio::task::yield_now().await;
            }
            if link.send(frame).is_err() {
                break;
            }
        }
    });
    tx
}

/// Accepts TCP connections (and TLS handshakes, each in its own task so a slow or hostile
/// client cannot hold up the others).
fn incoming(
    listener: TcpListener,
    tls: Option<Tls>,
    wire: Arc<AtomicU64>,
    flow: Arc<Flow>,
    notice: Arc<dyn Fn(&str) + Send + Sync>,
) -> UnboundedReceiverStream<Result<Conn, std::io::Error>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    notice(&format!("accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let tx = tx.clone();
            let wire = wire.clone();
            let flow = flow.clone();
            let notice = notice.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let conn = match tls {
                    None => Conn::new(Io::Plain(tcp), wire, flow, PeerCert(None)),
                    Some(tls) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server);
                        match tokio::time::timeout(HELLO_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let cert = stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .map(|c| c.clone().into_owned());
                                Conn::new(Io::Server(Box::new(stream)), wire, flow, PeerCert(cert))
                            }
                            Ok(Err(e)) => {
                                notice(&format!("refused a connection from {addr}: TLS: {e}"));
                                return;
                            }
                            Err(_) => {
                                notice(&format!(
                                    "refused a connection from {addr}: no TLS handshake in time"
                                ));
                                return;
                            }
                        }
                    }
                };
                let _ = tx.send(Ok(conn));
            });
        }
    });
    UnboundedReceiverStream::new(rx)
}

/// Dials `peer` until it answers or the deadline passes, then exchanges hellos.
async fn dial(
    config: &NetConfig,
    peer: PartyId,
    nonce: &[u8],
    wire: Arc<AtomicU64>,
    flow: Arc<Flow>,
    deadline: Instant,
) -> Result<Established, String> {
    let name = &config.names[peer];
    let address = &config.addresses[peer];
    let addr: SocketAddr = crate::players::resolve(address)?;
    let tcp = loop {
        match TcpStream::connect(addr).await {
            Ok(tcp) => break tcp,
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "cannot reach `{name}` at {address}: {e} (waited {:.0} s for it to come up)",
                    config.connect_timeout.as_secs_f64()
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let _ = tcp.set_nodelay(true);
    let io = match &config.tls {
        None => Io::Plain(tcp),
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
            let server_name = tls::server_name(name)?;
            let stream = tokio::time::timeout(HELLO_TIMEOUT, connector.connect(server_name, tcp))
                .await
                .map_err(|_| format!("no TLS handshake with `{name}` at {address} in time"))?
                .map_err(|e| format!("the TLS handshake with `{name}` at {address} failed: {e}"))?;
            Io::Client(Box::new(stream))
        }
    };
    let conn = Arc::new(Mutex::new(Some(Conn::new(
        io,
        wire,
        flow.clone(),
        PeerCert(None),
    ))));
    let channel = Endpoint::from_static("http://tfe.peer")
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_frame_size(MAX_FRAME)
        .connect_with_connector(tower::service_fn(move |_| {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner()).take();
            async move {
                conn.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the link to this peer is gone"))
            }
        }))
        .await
        .map_err(|e| format!("cannot open a gRPC channel to `{name}` at {address}: {e}"))?;
    let mut client = LinkClient::new(channel)
        .max_decoding_message_size(CHUNK + 4096)
        .max_encoding_message_size(CHUNK + 4096);
    let (out, rx) = crate::drive::link(&flow);
    let _ = out.send(hello(config, peer, nonce));
    let response = tokio::time::timeout(HELLO_TIMEOUT, client.exchange(rx))
        .await
        .map_err(|_| format!("`{name}` at {address} did not answer in time"))?
        .map_err(|s| {
            format!(
                "`{name}` at {address} refused the connection: {}",
                s.message()
            )
        })?;
    let mut inbound = response.into_inner();
    let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
        .await
        .map_err(|_| format!("`{name}` at {address} sent no hello in time"))?
        .map_err(|s| format!("`{name}` at {address}: {}", s.message()))?;
    // The server's identity was checked by the TLS handshake (its certificate names `name`).
    let (who, their_nonce) =
        check_hello(config, first, None).map_err(|e| format!("the party at {address}: {e}"))?;
    if who != peer {
        return Err(format!(
            "{address} is `{}`, not `{name}`",
            config.names[who]
        ));
    }
    Ok(Established {
        peer,
        nonce: their_nonce,
        out,
        inbound,
    })
}

/// A link's credit: what the peer has taken of ours (`theirs`, from its `Credit` frames), what
/// we have taken of its (`ours`, the mailbox's count), and where to answer its `CreditWanted`.
struct Credits {
    theirs: Arc<AtomicU64>,
    ours: Arc<AtomicU64>,
    reply: LinkTx,
}

/// Where a link's reader files envelopes: the party's mailbox, woken through `news` (the party
/// waits driving the runtime, not on the channel).
struct Inbox {
    tx: std_mpsc::Sender<Envelope>,
    news: Arc<tokio::sync::Notify>,
}

impl Inbox {
    fn send(&self, e: Envelope) -> Result<(), std_mpsc::SendError<Envelope>> {
        self.tx.send(e)?;
        self.news.notify_one();
        Ok(())
    }
}

/// Reads one link: reassembles batches, notes progress, and turns everything into envelopes for
/// the party's mailbox.
async fn read_link(
    peer: PartyId,
    mut inbound: Streaming<Frame>,
    session: u64,
    inbox: Inbox,
    activity: Arc<AtomicU64>,
    progress: Arc<AtomicU64>,
    credit: Credits,
) {
    // The chunks of the batch being received, and their bytes.
    let mut batch: Vec<prost::bytes::Bytes> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut last_progress = 0;
    let mut said_bye = false;
    let malformed = |detail: String| Envelope::Malformed { from: peer, detail };
    loop {
        let envelope = match inbound.message().await {
            Ok(Some(Frame { kind: Some(kind) })) => match kind {
                frame::Kind::Chunk(Chunk { data, last }) => {
                    if batch_bytes + data.len() > MAX_BATCH {
                        Some(malformed(format!("a batch over {MAX_BATCH} bytes")))
                    } else {
                        batch_bytes += data.len();
                        batch.push(data);
                        if !last {
                            continue;
                        }
                        // Decoded where gRPC received the chunks, without joining them first.
                        let pieces = std::mem::take(&mut batch);
                        batch_bytes = 0;
                        let slices: Vec<&[u8]> = pieces.iter().map(|p| &p[..]).collect();
                        match wire::decode_pieces(session, &slices) {
                            Ok(messages) => {
                                activity.fetch_add(1, Ordering::SeqCst);
                                progress.fetch_add(1, Ordering::SeqCst);
                                if inbox
                                    .send(Envelope::Batch {
                                        from: peer,
                                        messages,
                                    })
                                    .is_err()
                                {
                                    return;
                                }
                                continue;
                            }
                            Err(e) => Some(malformed(e)),
                        }
                    }
                }
                frame::Kind::Heartbeat(Heartbeat { progress: p }) => {
                    if p > last_progress {
                        last_progress = p;
                        activity.fetch_add(1, Ordering::SeqCst);
                    }
                    continue;
                }
                frame::Kind::CreditWanted(CreditWanted {}) => {
                    let taken = credit.ours.load(Ordering::SeqCst);
                    let _ = credit.reply.send(Frame {
                        kind: Some(frame::Kind::Credit(Credit { taken })),
                    });
                    continue;
                }
                frame::Kind::Credit(Credit { taken }) => {
                    // Progress only if it says something new: two parties each waiting for the
                    // other's credit answer each other's asks, and must still time out.
                    if credit.theirs.fetch_max(taken, Ordering::SeqCst) < taken {
                        activity.fetch_add(1, Ordering::SeqCst);
                    }
                    inbox.news.notify_one();
                    continue;
                }
                frame::Kind::Abort(Abort { reason }) => {
                    Some(Envelope::Abort { from: peer, reason })
                }
                frame::Kind::Bye(Bye {}) => {
                    said_bye = true;
                    if inbox
                        .send(Envelope::Closed {
                            from: peer,
                            error: None,
                        })
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                frame::Kind::Hello(_) => Some(malformed("a second hello".into())),
            },
            Ok(Some(Frame { kind: None })) => Some(malformed("an empty frame".into())),
            Ok(None) => (!said_bye).then(|| Envelope::Closed {
                from: peer,
                error: Some("its connection closed before it finished".into()),
            }),
            Err(status) => (!said_bye).then(|| match status.code() {
                tonic::Code::OutOfRange
                | tonic::Code::ResourceExhausted
                | tonic::Code::Internal
                    if status.message().contains("message length") =>
                {
                    malformed(format!("an oversized frame ({})", status.message()))
                }
                _ => Envelope::Closed {
                    from: peer,
                    error: Some(format!("its connection broke: {}", status.message())),
                },
            }),
        };
        if let Some(e) = envelope {
            let _ = inbox.send(e);
        }
        return;
    }
}

impl GrpcTransport {
    /// The session id all parties agreed on.
    pub fn session(&self) -> u64 {
        self.session
    }

    fn frame_to(&mut self, to: PartyId, frame: Frame) -> Result<(), NetError> {
        let link = self.out[to]
            .as_ref()
            .ok_or_else(|| NetError::Disconnected {
                party: to,
                reason: "no link to it".into(),
            })?;
        if link.send(frame).is_ok() {
            return Ok(());
        }
        // The peer's link is gone: what it said before it went (an abort naming the party that
        // failed first) is the better error, if it arrived.
        self.mailbox.check_for(Duration::from_millis(200))?;
        Err(NetError::Disconnected {
            party: to,
            reason: "its link is closed".into(),
        })
    }

    /// Ends the run cleanly: says `Bye` to every peer, waits for theirs (so nobody leaves with
    /// messages on the way), and closes the links.
    pub fn finish(mut self) -> Result<NetStats, NetError> {
        self.flush()?;
        let peers: Vec<PartyId> = (0..self.names.len()).filter(|&p| p != self.me).collect();
        for &p in &peers {
            self.frame_to(
                p,
                Frame {
                    kind: Some(frame::Kind::Bye(Bye {})),
                },
            )?;
        }
        self.mailbox.wait_finished(&peers)?;
        let stats = self.stats();
        self.close(Duration::from_millis(200));
        Ok(stats)
    }

    /// Closes the links, giving queued frames `grace` to leave. (The runtime and its helper
    /// thread go with the mailbox's pump, the last handle to them.)
    fn close(&mut self, grace: Duration) {
        for o in &mut self.out {
            *o = None;
        }
        match &self.driver {
            Some(d) => d.drive(async move { tokio::time::sleep(grace).await }),
            None => std::thread::sleep(grace),
        }
        for t in &self.tasks {
            t.abort();
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.driver.take() {
            // Let the server see its shutdown signal; the runtime goes with the last handle
            // (the mailbox's pump holds one).
            d.drive(async {});
        }
    }
}

impl Drop for GrpcTransport {
    fn drop(&mut self) {
        if self.driver.is_some() {
            self.close(Duration::ZERO);
        }
    }
}

impl Transport for GrpcTransport {
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
            let link = self.out[to].clone();
            let mut ask = || {
                if let Some(link) = &link {
                    let _ = link.send(Frame {
                        kind: Some(frame::Kind::CreditWanted(CreditWanted {})),
                    });
                }
            };
            wait_for_credit(&self.outbox, &mut self.mailbox, to, payload, &mut ask)?;
            self.outbox.sent_batch(to, payload);
            let bytes = prost::bytes::Bytes::from(wire::encode(self.session, &messages));
            let chunks = bytes.len().div_ceil(CHUNK).max(1);
            for i in 0..chunks {
                let part = bytes.slice(i * CHUNK..bytes.len().min((i + 1) * CHUNK));
                self.frame_to(
                    to,
                    Frame {
                        kind: Some(frame::Kind::Chunk(Chunk {
                            data: part,
                            last: i + 1 == chunks,
                        })),
                    },
                )?;
            }
            self.progress.fetch_add(1, Ordering::SeqCst);
            self.activity.fetch_add(1, Ordering::SeqCst);
        }
        // Out now, on this thread, if it has the runtime (the helper finishes what the socket
        // cannot take yet).
        if let Some(d) = &self.driver {
            d.drive(async {});
            d.hand_off();
        }
        Ok(())
    }

    fn recv(&mut self, from: PartyId, key: MsgKey) -> Result<Payload, NetError> {
        self.flush()?;
        self.outbox.waiting();
        let got = self.mailbox.recv(from, key);
        // Back to computing: what is still on its way (a credit report queued as messages were
        // taken) goes with the helper.
        if let Some(d) = &self.driver {
            d.hand_off();
        }
        got
    }

    fn check(&mut self) -> Result<(), NetError> {
        // Moves what arrived meanwhile (nobody reads the links while the party computes).
        let r = self.mailbox.check_for(Duration::ZERO);
        if let Some(d) = &self.driver {
            d.hand_off();
        }
        r
    }

    fn abort(&mut self, reason: &str) {
        // Straight to the links (not `frame_to`, which would wait on a closed one for news).
        for link in self.out.iter().flatten() {
            let _ = link.send(Frame {
                kind: Some(frame::Kind::Abort(Abort {
                    reason: reason.to_string(),
                })),
            });
        }
        self.close(Duration::from_millis(300));
    }

    fn stats(&self) -> NetStats {
        NetStats {
            wire_bytes: self.wire.load(Ordering::Relaxed),
            ..self.outbox.stats()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(bytes: usize) -> Frame {
        Frame {
            kind: Some(frame::Kind::Chunk(Chunk {
                data: vec![0u8; bytes].into(),
                last: false,
            })),
        }
    }

    fn two_parties() -> (GrpcTransport, GrpcTransport) {
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            })
            .collect();
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let config = move |me: PartyId| NetConfig {
            me,
            names: vec!["a".into(), "b".into()],
            addresses: addresses.clone(),
            program: b"credit test".to_vec(),
            tls: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            seed: Some(7),
            emulation: None,
            notice: Arc::new(|_: &str| {}),
        };
        let second = config(1);
        let b = std::thread::spawn(move || connect(second).unwrap());
        let a = connect(config(0)).unwrap();
        (a, b.join().unwrap())
    }

    /// A receiver reports its credit on its own only every 8 MiB: a sender a window ahead asks
    /// for it, and goes on as soon as the receiver has taken its messages.
    #[test]
    fn a_sender_a_window_ahead_asks_for_credit() {
        use tfe_runtime::net::Payload;
        let (mut a, mut b) = two_parties();
        a.outbox.set_window(2000);
        let key = |i: u64| MsgKey {
            op: 1,
            count: i,
            step: 0,
        };
        let t = |v: u64| Payload::Ring(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[100]), v));
        let sender = std::thread::spawn(move || {
            let mut done = Vec::new();
            for i in 0..6 {
                a.send(1, key(i), t(i)).unwrap();
                a.flush().unwrap();
                done.push(Instant::now());
            }
            a.finish().unwrap();
            done
        });
        std::thread::sleep(Duration::from_millis(300));
        let taking = Instant::now();
        for i in 0..6 {
            assert_eq!(b.recv(0, key(i)).unwrap(), t(i));
        }
        b.finish().unwrap();
        let done = sender.join().unwrap();
        // 808 bytes each: two batches fit the window, the third waits for the receiver.
        assert!(done[1] < taking, "the first two left at once");
        assert!(done[2] >= taking, "the third waited for credit");
        assert!(
            done[5].duration_since(taking) < Duration::from_secs(2),
            "credit came when asked for, not after a timeout"
        );
    }

    /// A batch far larger than the socket's buffers, sent just before the sender computes for a
    /// second without a transport call: the helper thread sends the rest meanwhile, so the
    /// receiver has it long before the sender's next call.
    #[test]
    fn a_large_batch_leaves_while_its_sender_computes() {
        use tfe_runtime::net::Payload;
        let (mut a, mut b) = two_parties();
        let key = MsgKey {
            op: 1,
            count: 0,
            step: 0,
        };
        let big = Payload::Ring(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2 << 20]), 7));
        let expected = big.clone();
        let sender = std::thread::spawn(move || {
            a.send(1, key, big).unwrap();
            a.flush().unwrap();
            // Computing: no transport call for a second.
            std::thread::sleep(Duration::from_secs(1));
            a.finish().unwrap();
        });
        let start = Instant::now();
        assert_eq!(b.recv(0, key).unwrap(), expected);
        let took = start.elapsed();
        b.finish().unwrap();
        sender.join().unwrap();
        assert!(
            took < Duration::from_millis(800),
            "16 MB arrived after {took:?}: it waited for the sender's next call"
        );
    }

    /// Ten chunks handed over at once arrive after one flight and their time on the wire, as
    /// over a network: not after ten flights.
    #[test]
    fn an_emulated_link_delays_a_burst_by_one_flight() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulation = Emulation {
            rtt: Duration::from_millis(200),
            bandwidth: 100e6,
        };
        let (link, mut arrived) = mpsc::unbounded_channel::<Frame>();
        let sender = emulated(&runtime, emulation, link);
        let start = Instant::now();
        for _ in 0..10 {
            sender.send(chunk(1_000_000)).unwrap();
        }
        let times: Vec<Duration> = runtime.block_on(async {
            let mut times = Vec::new();
            for _ in 0..10 {
                arrived.recv().await.unwrap();
                times.push(start.elapsed());
            }
            times
        });
        // 10 MB at 100 MB/s: the first after 10 ms on the wire and 100 ms of flight, the last
        // after 100 ms and 100 ms.
        assert!(times[0] >= Duration::from_millis(110), "{times:?}");
        assert!(times[9] >= Duration::from_millis(200), "{times:?}");
        assert!(times[9] < Duration::from_millis(400), "{times:?}");
    }
}
