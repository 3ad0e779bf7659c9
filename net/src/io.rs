//! One connection's byte stream: TCP, or TLS over TCP, counting the bytes it writes (the bytes
//! on the wire, every layer included), telling [`Flow`] whether output waits in it (a full
//! socket, a write not yet flushed), and remembering the peer's certificate.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::Connected;

use crate::drive::{Flow, Mark};

/// The transport under a connection.
pub enum Io {
    Plain(TcpStream),
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The client certificate a TLS peer presented (verified against the CA by the handshake).
#[derive(Debug, Clone, Default)]
pub struct PeerCert(pub Option<CertificateDer<'static>>);

/// A connection that counts what it writes.
pub struct Conn {
    io: Io,
    written: Arc<AtomicU64>,
    cert: PeerCert,
    flow: Arc<Flow>,
    /// Its last write found the socket full.
    blocked: bool,
    /// Written to since its last flush.
    unflushed: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Connected for Conn {
    type ConnectInfo = PeerCert;
    fn connect_info(&self) -> PeerCert {
        self.cert.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Io::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Io::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        this.wrote(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Server(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Io::Client(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        };
        this.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Server(s) => s.is_write_vectored(),
            Io::Client(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Io::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        match &r {
            Poll::Ready(Ok(())) => this.set(Mark::Unflushed, false),
            Poll::Ready(Err(_)) => this.settle(),
            Poll::Pending => {}
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Io::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Conn {
    pub fn new(io: Io, written: Arc<AtomicU64>, flow: Arc<Flow>, cert: PeerCert) -> Conn {
        Conn {
            io,
            written,
            cert,
            flow,
            blocked: false,
            unflushed: false,
        }
    }

    fn wrote(&mut self, r: &Poll<std::io::Result<usize>>) {
        match r {
            Poll::Ready(Ok(n)) => {
                self.written.fetch_add(*n as u64, Ordering::Relaxed);
                self.set(Mark::Blocked, false);
                if *n > 0 {
                    self.set(Mark::Unflushed, true);
                }
            }
            Poll::Pending => self.set(Mark::Blocked, true),
            // A broken connection holds nothing back any more.
            Poll::Ready(Err(_)) => self.settle(),
        }
    }

    fn set(&mut self, which: Mark, on: bool) {
        let flag = match which {
            Mark::Blocked => &mut self.blocked,
            Mark::Unflushed => &mut self.unflushed,
        };
        if *flag != on {
            *flag = on;
            self.flow.mark(which, on);
        }
    }

    fn settle(&mut self) {
        self.set(Mark::Blocked, false);
        self.set(Mark::Unflushed, false);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.settle();
    }
}
