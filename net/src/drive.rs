//! Who runs a party's network I/O: the party's own thread while it waits, a helper thread while
//! the party computes and output is still on its way.
//!
//! A party's links live on a single-threaded Tokio runtime. The party's thread drives it inside
//! every transport call: while it waits (a receive, a wait for credit, the end of the run), and
//! briefly when it flushes a round's batches and when it checks for news between iterations. Its
//! own batches go out and the peers' come in on the thread that needs them, so a message crosses
//! one thread, as in one process, instead of three (the party's, a network thread's at each end).
//! On two cores shared by three parties, each handover between threads cost a wait for a core
//! (0.13–0.15 ms on average under `perf sched`) and the network threads a sixth of the CPU.
//!
//! When the party goes back to computing with output not yet handed to the kernel (a batch larger
//! than the socket's buffer, or frames an emulated link still holds), the helper thread drives the
//! runtime until it is, and gives it back as soon as the party wants it: [`Flow`] says what is
//! pending. (HTTP/2's own windows are set as large as it allows, so no frame waits in HTTP/2 for a
//! window update, which nothing here would count.) When neither drives, what peers send waits in
//! the kernel (TCP's flow control holds them back) and no heartbeat goes out: a party computing
//! makes no progress to report.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::proto::Frame;

/// What output is still on its way, shared by the links, the connections and the drivers.
#[derive(Debug, Default)]
pub struct Flow {
    /// Frames handed to a link and not yet taken by HTTP/2.
    queued: AtomicUsize,
    /// Connections whose last write found the socket full.
    blocked: AtomicUsize,
    /// Connections written to since their last flush.
    unflushed: AtomicUsize,
    /// The party wants the runtime back.
    party_wants: AtomicBool,
    /// Woken when something pending is done with, and when the party wants the runtime: what the
    /// helper waits for.
    changed: Notify,
}

impl Flow {
    /// Whether output is still on its way to the kernel.
    pub fn pending(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
            || self.blocked.load(Ordering::SeqCst) > 0
            || self.unflushed.load(Ordering::SeqCst) > 0
    }

    fn changed(&self) {
        self.changed.notify_one();
    }

    /// A connection's flag set or cleared (`blocked` or `unflushed`).
    pub fn mark(&self, which: Mark, on: bool) {
        let counter = match which {
            Mark::Blocked => &self.blocked,
            Mark::Unflushed => &self.unflushed,
        };
        if on {
            counter.fetch_add(1, Ordering::SeqCst);
        } else {
            counter.fetch_sub(1, Ordering::SeqCst);
        }
        self.changed();
    }
}

/// The two per-connection flags [`Flow`] counts.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    Blocked,
    Unflushed,
}

/// The sending end of a link: counts every frame until HTTP/2 takes it.
#[derive(Debug, Clone)]
pub struct LinkTx {
    tx: mpsc::UnboundedSender<Frame>,
    flow: Arc<Flow>,
}

impl LinkTx {
    /// Queues a frame; fails when the link is closed.
    pub fn send(&self, frame: Frame) -> Result<(), ()> {
        self.flow.queued.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(frame).is_err() {
            self.flow.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(());
        }
        Ok(())
    }

    /// The same link, its frames going through `tx` first (an emulated link's delays), still
    /// counted until HTTP/2 takes them.
    pub fn through(&self, tx: mpsc::UnboundedSender<Frame>) -> LinkTx {
        LinkTx {
            tx,
            flow: self.flow.clone(),
        }
    }

    /// The raw sender, for what forwards frames already counted.
    pub fn raw(&self) -> mpsc::UnboundedSender<Frame> {
        self.tx.clone()
    }
}

/// A link's outgoing frames as the stream gRPC sends: a frame stops counting as queued when the
/// stream is asked for the next one (HTTP/2 holds its bytes then; the connection's flags in
/// `io.rs` count them until they are written).
#[derive(Debug)]
pub struct Outgoing {
    rx: UnboundedReceiverStream<Frame>,
    flow: Arc<Flow>,
    holding: bool,
}

impl Outgoing {
    fn release(&mut self) {
        if self.holding {
            self.holding = false;
            self.flow.queued.fetch_sub(1, Ordering::SeqCst);
            self.flow.changed();
        }
    }
}

impl Stream for Outgoing {
    type Item = Frame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        self.release();
        let r = Pin::new(&mut self.rx).poll_next(cx);
        if let Poll::Ready(Some(_)) = &r {
            self.holding = true;
        }
        r
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.release();
        // Closed first, so that no frame is counted after the count below.
        self.rx.close();
        // Frames never taken: the link is gone, they will not be sent.
        let mut left = 0;
        while self.rx.as_mut().try_recv().is_ok() {
            left += 1;
        }
        if left > 0 {
            self.flow.queued.fetch_sub(left, Ordering::SeqCst);
            self.flow.changed();
        }
    }
}

/// A new link's two ends.
pub fn link(flow: &Arc<Flow>) -> (LinkTx, Outgoing) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        LinkTx {
            tx,
            flow: flow.clone(),
        },
        Outgoing {
            rx: UnboundedReceiverStream::new(rx),
            flow: flow.clone(),
            holding: false,
        },
    )
}

/// The runtime and who drives it.
#[derive(Debug)]
pub struct Driver {
    runtime: Arc<tokio::runtime::Runtime>,
    flow: Arc<Flow>,
    helper: Option<Helper>,
}

#[derive(Debug)]
struct Helper {
    wake: Arc<(Mutex<HelperState>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct HelperState {
    requested: bool,
    shutdown: bool,
}

/// Scheduler passes after the party's wait ends, so that what its tasks were doing (a batch
/// half-way from a link to the socket) gets done on this thread before it computes again.
const SETTLE_PASSES: usize = 3;

impl Driver {
    /// A single-threaded runtime for the links, and its helper thread (named `name`).
    pub fn new(name: &str, flow: Arc<Flow>) -> Result<Driver, String> {
        let runtime = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the network runtime: {e}"))?,
        );
        let wake = Arc::new((Mutex::new(HelperState::default()), Condvar::new()));
        let thread = {
            let runtime = runtime.clone();
            let flow = flow.clone();
            let wake = wake.clone();
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || help(&runtime, &flow, &wake))
                .map_err(|e| format!("cannot start the network thread: {e}"))?
        };
        Ok(Driver {
            runtime,
            flow,
            helper: Some(Helper { wake, thread }),
        })
    }

    /// The runtime, to spawn on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Runs `fut` to completion on this thread, driving the links meanwhile (taking the runtime
    /// from the helper, which gives it up when asked; a `fut` ready at once may finish before
    /// that, the helper driving meanwhile), then a few more passes. The party calls
    /// [`Driver::hand_off`] when it goes back to computing.
    pub fn drive<F: Future>(&self, fut: F) -> F::Output {
        self.flow.party_wants.store(true, Ordering::SeqCst);
        self.flow.changed();
        let out = self.runtime.block_on(async {
            let out = fut.await;
            for _ in 0..SETTLE_PASSES {
                tokio::task::yield_now().await;
            }
            out
        });
        self.flow.party_wants.store(false, Ordering::SeqCst);
        out
    }

    /// The party goes back to computing: if output is still on its way, the helper drives
    /// until it has gone. (Not after every drive: while the party waits, its drives follow one
    /// another, and waking the helper between them would cost the handovers this saves.)
    pub fn hand_off(&self) {
        if self.flow.pending()
            && let Some(h) = &self.helper
        {
            let (lock, cvar) = &*h.wake;
            lock.lock().unwrap_or_else(|p| p.into_inner()).requested = true;
            cvar.notify_one();
        }
    }

    /// The mailbox's pump: waits up to a time for `news` while driving.
    pub fn pump(self: &Arc<Self>, news: Arc<Notify>) -> tfe_runtime::net::Pump {
        let driver = self.clone();
        Box::new(move |max: Duration| {
            let news = news.clone();
            driver.drive(async move {
                if !max.is_zero() {
                    let _ = tokio::time::timeout(max, news.notified()).await;
                }
            });
        })
    }

    /// Stops the helper; the runtime goes when the last handle to it does.
    pub fn stop(&mut self) {
        if let Some(h) = self.helper.take() {
            {
                let (lock, cvar) = &*h.wake;
                lock.lock().unwrap_or_else(|p| p.into_inner()).shutdown = true;
                cvar.notify_one();
            }
            self.flow.party_wants.store(true, Ordering::SeqCst);
            self.flow.changed();
            let _ = h.thread.join();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The helper thread: asleep until asked, then drives until nothing is pending or the party
/// wants the runtime back.
fn help(runtime: &tokio::runtime::Runtime, flow: &Flow, wake: &(Mutex<HelperState>, Condvar)) {
    let (lock, cvar) = wake;
    loop {
        {
            let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
            while !state.requested && !state.shutdown {
                state = cvar.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.shutdown {
                return;
            }
            state.requested = false;
        }
        runtime.block_on(async {
            while flow.pending() && !flow.party_wants.load(Ordering::SeqCst) {
                // Every change notifies; the timer is a backstop, not the mechanism.
                let _ =
                    tokio::time::timeout(Duration::from_millis(5), flow.changed.notified()).await;
            }
        });
    }
}
