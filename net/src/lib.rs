//! The networked transport of tfe: every party its own process, one long-lived bidirectional
//! gRPC stream (tonic) per pair of parties, optionally mutual TLS (rustls).
//!
//! ```text
//! players.toml -[players]-> addresses, data dirs, certificates
//! connect: dial higher-numbered parties, accept lower-numbered ones, hello both ways
//!          (names, program fingerprint, nonces -> the session id)
//! GrpcTransport: the runtime's Transport; a round's messages to a peer are one batch
//!          (wire), cut into chunks; heartbeats carry progress; Bye at the end
//! ```
//!
//! The runtime knows nothing of sockets: it sees a `Transport`. The compiler knows nothing of
//! this crate.

mod drive;
mod io;
pub mod link;
pub mod players;
pub mod tls;
pub mod wire;

/// The code generated from `proto/link.proto`.
#[allow(missing_debug_implementations, clippy::all, reason = "generated")]
pub mod proto {
    tonic::include_proto!("tfe.link");
}
