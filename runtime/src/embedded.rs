//! Every party in this process, each on its own thread, talking over in-process channels: the
//! embedded default of `tfec run`, and the double that tests use for the network.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tfe_ir::{PartyId, Program};

use crate::RunError;
use crate::exec::{PartyConfig, PartyReport, run_party};
use crate::net::Transport;

/// Where `print` lines go: (party, text).
pub type Sink = Arc<dyn Fn(PartyId, &str) + Send + Sync>;

/// The outcome of a run in which some party failed: the first cause, not the other parties'
/// reports that a peer failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub party: PartyId,
    pub error: RunError,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a receive waits at most.
    pub timeout: Duration,
    /// Derive every key from this seed (reproducible runs; see [`PartyConfig::seed`]).
    pub seed: Option<u64>,
    /// Delay and pace every link as a network would.
    pub emulation: Option<crate::emulate::Emulation>,
    /// Record each op's cost at each party ([`crate::exec::PartyReport::profile`]).
    pub profile: bool,
    /// A party that reports the progress of its outermost loops, and to what.
    pub progress: Option<(PartyId, crate::exec::Progress)>,
}

/// Runs every party's program (`programs[p]` is party `p`'s projection) with data directories
/// `data_dirs[p]`.
pub fn run(
    programs: Vec<Program>,
    data_dirs: Vec<PathBuf>,
    options: Options,
    sink: Sink,
) -> Result<Vec<PartyReport>, Failure> {
    let n = programs.len();
    let Options {
        timeout,
        seed,
        emulation,
        profile,
        progress,
    } = options;
    let session = if let Some(seed) = seed {
        seed
    } else {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| Failure {
            party: 0,
            error: RunError::Io(format!("no randomness for the session id: {e}")),
        })?;
        u64::from_le_bytes(b)
    };
    let handles: Vec<_> = crate::net::local_network_emulated(n, timeout, emulation)
        .into_iter()
        .zip(programs)
        .zip(data_dirs)
        .enumerate()
        .map(|(me, ((mut net, program), data_dir))| {
            let sink = sink.clone();
            let progress = progress
                .as_ref()
                .filter(|(p, _)| *p == me)
                .map(|(_, f)| f.clone());
            std::thread::Builder::new()
                .name(format!("party-{me}"))
                .stack_size(64 << 20)
                .spawn(move || {
                    let config = PartyConfig {
                        data_dir,
                        session,
                        seed,
                        profile,
                        progress,
                    };
                    let mut out = |line: &str| sink(me, line);
                    let result = run_party(&program, me, &mut net, &config, &mut out);
                    if let Err(e) = &result {
                        net.abort(&e.to_string());
                    }
                    result
                })
                .expect("spawning a party thread")
        })
        .collect();
    let results: Vec<Result<PartyReport, RunError>> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(RunError::Internal("a party thread panicked".into())))
        })
        .collect();
    // The root cause: an error that is not "another party failed".
    let mut failures: Vec<Failure> = results
        .iter()
        .enumerate()
        .filter_map(|(party, r)| {
            r.as_ref().err().map(|e| Failure {
                party,
                error: e.clone(),
            })
        })
        .collect();
    if !failures.is_empty() {
        // Own failures first; then reports that a peer failed; then lost connections and timeouts
        // (which a peer's failure can cause).
        failures.sort_by_key(|f| match &f.error {
            RunError::Net(crate::net::NetError::PeerFailed { .. }) => 1,
            RunError::Net(_) => 2,
            _ => 0,
        });
        return Err(failures.remove(0));
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("no failures"))
        .collect())
}
