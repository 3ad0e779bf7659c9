//! The tfe runtime: executes one party's program.
//!
//! ```text
//! ir::Program (one party's projection)
//!   -[exec]-> for each op: plaintext kernels (plain) | the protocol's step on shares (protocol)
//!             | messages through a Transport (net) | files (files: csvio, npyio)
//! ```
//!
//! The runtime knows nothing of syntax: its input is the protocol IR (`tfe-ir`). Randomness is
//! from AES-CTR streams keyed per session (prg); ring tensors and their kernels are in ring.

pub mod emulate;
pub mod fuse;
pub mod fused;
mod liveness;
pub mod memory;
pub mod net;
pub mod prg;
pub mod protocol;
pub mod ring;
pub mod word;

use tfe_ir::PartyId;

/// Why a party stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// The network failed, or another party failed.
    Net(net::NetError),
    /// A peer sent something that is not what the protocol expects.
    BadMessage { from: PartyId, detail: String },
    /// Shapes that do not fit (a `_` dimension that turned out wrong, a file of the wrong size).
    Shape(String),
    /// A file could not be read or written, or holds the wrong data.
    Io(String),
    /// A bug: a state the compiler's guarantees rule out.
    Internal(String),
}

/// A shape error from the shape functions, which report in words.
impl From<String> for RunError {
    fn from(message: String) -> RunError {
        RunError::Shape(message)
    }
}

impl RunError {
    /// The error with parties named (`names[p]` is party `p`) instead of numbered.
    pub fn describe(&self, names: &[String]) -> String {
        let name = |p: &PartyId| {
            names
                .get(*p)
                .map_or_else(|| format!("party #{p}"), |n| format!("`{n}`"))
        };
        match self {
            RunError::Net(net::NetError::PeerFailed { party, reason }) => {
                format!("{} failed: {reason}", name(party))
            }
            RunError::Net(net::NetError::Timeout { from, key, waited }) => format!(
                "no message from {} for {key} after {:.1} s, and no party made progress meanwhile",
                name(from),
                waited.as_secs_f64()
            ),
            RunError::Net(net::NetError::Disconnected { party, reason }) => {
                format!("lost {}: {reason}", name(party))
            }
            RunError::Net(net::NetError::Malformed { party, detail }) => {
                format!("{} broke the protocol: {detail}", name(party))
            }
            RunError::BadMessage { from, detail } => {
                format!("bad message from {}: {detail}", name(from))
            }
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Net(net::NetError::PeerFailed { party, reason }) => {
                write!(f, "party #{party} failed: {reason}")
            }
            RunError::Net(net::NetError::Timeout { from, key, waited }) => {
                write!(
                    f,
                    "no message from party #{from} for {key} after {:.1} s, and no party sent anything meanwhile",
                    waited.as_secs_f64()
                )
            }
            RunError::Net(net::NetError::Disconnected { party, reason }) => {
                write!(f, "lost party #{party}: {reason}")
            }
            RunError::Net(net::NetError::Malformed { party, detail }) => {
                write!(f, "party #{party} broke the protocol: {detail}")
            }
            RunError::BadMessage { from, detail } => {
                write!(f, "bad message from party #{from}: {detail}")
            }
            RunError::Shape(m) => write!(f, "shape error: {m}"),
            RunError::Io(m) => f.write_str(m),
            RunError::Internal(m) => write!(f, "internal error (a bug in tfe): {m}"),
        }
    }
}

pub mod clear;
pub mod csvio;
pub mod embedded;
pub mod exec;
pub mod files;
pub mod npyio;
pub mod plain;
pub mod stored;
pub mod value;
