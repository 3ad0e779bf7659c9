//! `tfec run` and `tfec certs`: every party in this process, one party over the network
//! (`--as`), or every local party as its own process (`--players`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tfe_compiler::RenderOptions;
use tfe_net::link::NetConfig;
use tfe_net::players::Players;
use tfe_runtime::emulate::Emulation;
use tfe_runtime::exec::{PartyConfig, PartyReport, run_party};

use crate::{Failure, lower, read_source};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The `.tfe` source file.
    file: PathBuf,
    /// The root of the parties' data directories (default: `data/` beside the program). With
    /// `--players`, each party's `data` entry says where its directory is.
    #[arg(long, value_name = "DIR", conflicts_with = "players")]
    data: Option<PathBuf>,
    /// Run each party as its own process, at the addresses of this file (see
    /// docs/language.md, section "players.toml").
    #[arg(long, value_name = "FILE")]
    players: Option<PathBuf>,
    /// With `--players`: run only this party, in this process.
    #[arg(long = "as", value_name = "NAME", requires = "players")]
    as_party: Option<String>,
    /// How long the parties may all be silent before a waiting party gives up, in seconds. A
    /// party that waits for a long computation elsewhere is not cut off while others work.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// With `--players`: how long a party waits for its peers to come up, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout: u64,
    /// Derive every random mask from this number, so that runs repeat exactly. For tests
    /// and benchmarks only: whoever knows the seed can unmask every share of the run.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Emulate a network on every link, e.g. `rtt=40ms,bandwidth=352mbit`: each batch is
    /// delayed by half the round-trip time and paced by the bandwidth.
    #[arg(long, value_name = "SPEC", value_parser = Emulation::parse)]
    net_emulate: Option<Emulation>,
    /// Print, per party, the rounds, messages and bytes it sent (and bytes on the wire over a
    /// network) and its time, and the peak resident memory of the process.
    #[arg(long)]
    stats: bool,
    /// Run the fused local kernels through the interpreter instead of compiling them with
    /// Cranelift (the results are the same, bit for bit).
    #[arg(long)]
    no_jit: bool,
    /// After the run, print where each party's time, rounds and bytes went: per source line,
    /// and per protocol op under it, the costliest first.
    #[arg(long)]
    profile: bool,
    /// With `--profile`: also write every op's cost as Chrome trace events (open the file in
    /// Perfetto or chrome://tracing), one track per party.
    #[arg(long, value_name = "FILE.json", requires = "profile")]
    trace: Option<PathBuf>,
    /// No progress display (by default, a long run shows the progress of the program's
    /// outermost loop: a bar on a terminal, otherwise a line every 5 s).
    #[arg(long, short)]
    quiet: bool,
    /// Emulate the run in cleartext: every party in this process, every secret placement
    /// computed in the clear in its own fixed point (ring and frac, 128-bit rings included),
    /// nothing shared or sent; writes and prints what the run would, then reports each
    /// operation whose result would overflow the ring, fail its truncation or round a nonzero
    /// value to 0, with its line. For a data owner's own testing on their own data.
    #[arg(long, conflicts_with_all = ["players", "seed", "net_emulate", "stats", "profile"])]
    pub(crate) emulate: bool,
}

pub fn run(args: RunArgs, render: RenderOptions) -> Result<(), Failure> {
    let src = read_source(&args.file)?;
    let ir = lower(&args.file, &src, render)?;
    if args.emulate {
        return crate::emulate::emulate(&args.file, args.data.as_deref(), &ir, &src);
    }
    tfe_runtime::fused::set_jit(!args.no_jit);
    match (&args.players, &args.as_party) {
        (None, _) => embedded(&args, &ir, &src),
        (Some(players), Some(name)) => one_party(&args, &ir, &src, players, name),
        (Some(players), None) => launch(&args, &ir, players),
    }
}

/// Every party in this process.
fn embedded(args: &RunArgs, ir: &tfe_ir::Program, src: &str) -> Result<(), Failure> {
    let root = match &args.data {
        Some(dir) => dir.clone(),
        None => args
            .file
            .parent()
            .map_or_else(|| PathBuf::from("data"), |p| p.join("data")),
    };
    let data_dirs: Vec<PathBuf> = ir.parties.iter().map(|p| root.join(p)).collect();
    let names = ir.parties.clone();
    let programs: Vec<tfe_ir::Program> = (0..ir.parties.len())
        .map(|p| tfe_ir::project(ir, p))
        .collect();
    let sink_names = names.clone();
    let sink: tfe_runtime::embedded::Sink = Arc::new(move |party, line: &str| {
        println!("[{}] {line}", sink_names[party]);
    });
    let display = (!args.quiet)
        .then(|| crate::progress::reporter(ir))
        .flatten()
        .map(|p| (p, crate::progress::Display::new(String::new())));
    let options = tfe_runtime::embedded::Options {
        timeout: Duration::from_secs(args.timeout),
        seed: args.seed,
        emulation: args.net_emulate,
        profile: args.profile,
        progress: display
            .as_ref()
            .map(|(p, d)| (*p, d.callback(String::new()))),
    };
    let start = Instant::now();
    let result = tfe_runtime::embedded::run(programs, data_dirs, options, sink);
    if let Some((_, d)) = &display {
        d.finish();
    }
    match result {
        Ok(reports) => {
            let secs = start.elapsed().as_secs_f64();
            let traffic: Vec<String> = names
                .iter()
                .zip(&reports)
                .filter(|(_, r)| r.net.bytes_sent > 0)
                .map(|(n, r)| {
                    format!(
                        "{n} {} in {} rounds",
                        human_bytes(r.net.bytes_sent),
                        r.net.rounds
                    )
                })
                .collect();
            eprintln!(
                "{}: ran {} parties in {secs:.2} s; sent: {}",
                args.file.display(),
                names.len(),
                traffic.join(", ")
            );
            if args.stats {
                print_stats(&names, &reports.iter().collect::<Vec<_>>());
            }
            if args.profile {
                let all: Vec<&PartyReport> = reports.iter().collect();
                eprint!("{}", crate::profile::render(ir, src, &names, &all));
                if let Some(path) = &args.trace {
                    let parties: Vec<(usize, &PartyReport)> = reports.iter().enumerate().collect();
                    write_trace(path, ir, src, &parties)?;
                }
            }
            Ok(())
        }
        Err(f) => {
            eprintln!(
                "error: the run failed at party `{}`: {}",
                names[f.party],
                f.error.describe(&names)
            );
            Err(Failure::Run)
        }
    }
}

/// A fingerprint of the whole program: two FNV-1a hashes of its IR text (parties running
/// different programs, or different versions of tfec, refuse each other; not a defence against
/// a malicious peer, whom TLS keeps out).
fn fingerprint(ir: &tfe_ir::Program) -> Vec<u8> {
    let text = format!("tfec {}\n{}", env!("CARGO_PKG_VERSION"), ir.to_text());
    let mut out = Vec::new();
    for offset in [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4] {
        let mut h = offset;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.extend_from_slice(&h.to_le_bytes());
    }
    out
}

fn load_players(
    path: &Path,
    ir: &tfe_ir::Program,
) -> Result<Vec<tfe_net::players::Player>, Failure> {
    let players = Players::load(path).map_err(Failure::Usage)?;
    let entries = players.for_program(&ir.parties).map_err(Failure::Usage)?;
    Ok(entries)
}

/// `--players FILE --as NAME`: this party alone, over the network.
fn one_party(
    args: &RunArgs,
    ir: &tfe_ir::Program,
    src: &str,
    path: &Path,
    name: &str,
) -> Result<(), Failure> {
    let players = Players::load(path).map_err(Failure::Usage)?;
    let entries = players.for_program(&ir.parties).map_err(Failure::Usage)?;
    let Some(me) = ir.parties.iter().position(|p| p == name) else {
        return Err(Failure::Usage(format!(
            "`{name}` is not a party of the program (its parties: {})",
            ir.parties.join(", ")
        )));
    };
    let tls = match &players.tls_ca {
        Some(ca) => Some(
            tfe_net::tls::Tls::load(ca, &entries[me].cert, &entries[me].key)
                .map_err(|e| Failure::Usage(format!("party `{name}`: {e}")))?,
        ),
        None => None,
    };
    let notice_name = name.to_string();
    let config = NetConfig {
        me,
        names: ir.parties.clone(),
        addresses: entries.iter().map(|e| e.address.clone()).collect(),
        program: fingerprint(ir),
        tls,
        connect_timeout: Duration::from_secs(args.connect_timeout),
        timeout: Duration::from_secs(args.timeout),
        seed: args.seed,
        emulation: args.net_emulate,
        notice: Arc::new(move |m: &str| eprintln!("[{notice_name}] note: {m}")),
    };
    let fail = |message: String| {
        eprintln!("[{name}] error: {message}");
        Failure::Run
    };
    let start = Instant::now();
    let mut net = tfe_net::link::connect(config).map_err(fail)?;
    let program = tfe_ir::project(ir, me);
    let prefix = format!("[{name}] ");
    let display = (!args.quiet && crate::progress::reporter(ir) == Some(me))
        .then(|| crate::progress::Display::new(prefix.clone()));
    let party = PartyConfig {
        data_dir: entries[me].data.clone(),
        session: net.session(),
        seed: args.seed,
        profile: args.profile,
        progress: display.as_ref().map(|d| d.callback(prefix.clone())),
    };
    let result = run_party(&program, me, &mut net, &party, &mut |line: &str| {
        println!("[{name}] {line}");
    });
    if let Some(d) = &display {
        d.finish();
    }
    match result {
        Ok(mut report) => {
            let stats = net
                .finish()
                .map_err(|e| fail(tfe_runtime::RunError::Net(e).describe(&ir.parties)))?;
            report.net = stats;
            eprintln!(
                "[{name}] done in {:.2} s; sent {} in {} rounds ({} on the wire)",
                start.elapsed().as_secs_f64(),
                human_bytes(report.net.bytes_sent),
                report.net.rounds,
                human_bytes(report.net.wire_bytes),
            );
            if args.stats {
                print_stats(&[name.to_string()], &[&report]);
            }
            if args.profile {
                eprint!(
                    "{}",
                    crate::profile::render(ir, src, &[name.to_string()], &[&report])
                );
                if let Some(path) = &args.trace {
                    write_trace(path, ir, src, &[(me, &report)])?;
                }
            }
            Ok(())
        }
        Err(e) => {
            let message = e.describe(&ir.parties);
            tfe_runtime::net::Transport::abort(&mut net, &message);
            Err(fail(message))
        }
    }
}

/// Writes `--trace`'s file, or says why it could not.
fn write_trace(
    path: &Path,
    ir: &tfe_ir::Program,
    src: &str,
    parties: &[(usize, &PartyReport)],
) -> Result<(), Failure> {
    crate::profile::write_trace(path, ir, src, parties)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    eprintln!(
        "trace written to {} (open it in Perfetto or chrome://tracing)",
        path.display()
    );
    Ok(())
}

/// The trace file of one party's process under the launcher: `t.json` becomes `t.s0.json`.
fn party_trace(path: &Path, party: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.{party}.json"))
}

/// `--players FILE`: every party whose address is on this machine as its own process.
fn launch(args: &RunArgs, ir: &tfe_ir::Program, path: &Path) -> Result<(), Failure> {
    let entries = load_players(path, ir)?;
    let local: Vec<usize> = (0..ir.parties.len())
        .filter(|&p| tfe_net::players::is_local(&entries[p].address))
        .collect();
    if local.is_empty() {
        return Err(Failure::Usage(format!(
            "no party of `{}` has its address on this machine; run `tfec run {} --players {} --as NAME` on each party's machine",
            path.display(),
            args.file.display(),
            path.display()
        )));
    }
    for p in (0..ir.parties.len()).filter(|p| !local.contains(p)) {
        eprintln!(
            "waiting for `{}` at {} to join: run `tfec run {} --players {} --as {}` there",
            ir.parties[p],
            entries[p].address,
            args.file.display(),
            path.display(),
            ir.parties[p]
        );
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Usage(format!("cannot find the tfec executable: {e}")))?;
    let mut children = Vec::new();
    // Each party's `error:` line, to name the cause at the end.
    let errors: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    for &p in &local {
        let name = &ir.parties[p];
        let mut cmd = Command::new(&exe);
        cmd.arg("--color")
            .arg("never")
            .arg("run")
            .arg(&args.file)
            .arg("--players")
            .arg(path)
            .arg("--as")
            .arg(name)
            .arg("--timeout")
            .arg(args.timeout.to_string())
            .arg("--connect-timeout")
            .arg(args.connect_timeout.to_string());
        if let Some(seed) = args.seed {
            cmd.arg("--seed").arg(seed.to_string());
        }
        if args.profile {
            cmd.arg("--profile");
        }
        if args.quiet {
            cmd.arg("--quiet");
        }
        if let Some(trace) = &args.trace {
            cmd.arg("--trace").arg(party_trace(trace, name));
        }
        if let Some(e) = &args.net_emulate {
            let bandwidth = if e.bandwidth.is_finite() {
                format!(",bandwidth={}", e.bandwidth)
            } else {
                String::new()
            };
            cmd.arg("--net-emulate")
                .arg(format!("rtt={}us{bandwidth}", e.rtt.as_micros()));
        }
        if args.stats {
            cmd.arg("--stats");
        }
        if args.no_jit {
            cmd.arg("--no-jit");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::Usage(format!("cannot start party `{name}`: {e}")))?;
        // Forward the child's lines; its own lines already carry its name.
        let prefix = format!("[{name}]");
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let p1 = prefix.clone();
        let t1 = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with(&p1) {
                    println!("{line}");
                } else {
                    println!("{p1} {line}");
                }
            }
        });
        let errors = errors.clone();
        let party = name.clone();
        let t2 = std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let line = if line.starts_with(&prefix) {
                    line
                } else {
                    format!("{prefix} {line}")
                };
                if let Some(message) = line.strip_prefix(&format!("{prefix} error: ")) {
                    errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((party.clone(), message.to_string()));
                }
                eprintln!("{line}");
            }
        });
        children.push((name.clone(), child, t1, t2));
    }
    // Wait for every party. Once one fails, the others get a few seconds to notice and stop on
    // their own (they name the cause); any still running then (waiting for a peer that will
    // never connect, say) are stopped.
    let mut failed: Vec<String> = Vec::new();
    let mut first_failure: Option<Instant> = None;
    let mut running: Vec<bool> = vec![true; children.len()];
    while running.iter().any(|r| *r) {
        for (i, (name, child, _, _)) in children.iter_mut().enumerate() {
            if !running[i] {
                continue;
            }
            match child.try_wait() {
                Ok(Some(s)) => {
                    running[i] = false;
                    if !s.success() {
                        failed.push(format!("{name} ({s})"));
                        first_failure.get_or_insert_with(Instant::now);
                    }
                }
                Ok(None) => {
                    if first_failure.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) {
                        let _ = child.kill();
                        let _ = child.wait();
                        running[i] = false;
                        failed.push(format!("{name} (stopped: another party failed)"));
                    }
                }
                Err(e) => {
                    running[i] = false;
                    failed.push(format!("{name} ({e})"));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (_, _, t1, t2) in children {
        let _ = t1.join();
        let _ = t2.join();
    }
    if failed.is_empty() {
        Ok(())
    } else {
        // The cause: a party whose error is its own, not news of another party's failure.
        let errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let own = errors.iter().find(|(_, m)| {
            !(m.contains("` failed: ") || m.starts_with("lost `") || m.contains("stopped: another"))
        });
        match own {
            Some((party, message)) => {
                eprintln!("error: the run failed at party `{party}`: {message}");
            }
            None => eprintln!("error: the run failed: {}", failed.join(", ")),
        }
        Err(Failure::Run)
    }
}

/// `tfec certs players.toml`.
pub fn certs(players: &Path, out: Option<PathBuf>) -> Result<(), Failure> {
    let file = Players::load(players).map_err(Failure::Usage)?;
    let out = out.unwrap_or_else(|| players.parent().unwrap_or(Path::new(".")).join("certs"));
    let names: Vec<String> = file.parties.keys().cloned().collect();
    let written = tfe_net::tls::make_certs(&names, &out).map_err(Failure::Usage)?;
    eprintln!(
        "wrote {} (the CA) and ca.key (keep it safe)",
        written.ca.display()
    );
    for (party, cert, key) in &written.parties {
        eprintln!(
            "wrote {} and {} for `{party}`",
            cert.display(),
            key.display()
        );
    }
    if file.tls_ca.is_none() {
        eprintln!(
            "note: `{}` has no [tls] section yet; add `[tls]` with `ca = \"{}\"` to use them",
            players.display(),
            written.ca.display()
        );
    }
    Ok(())
}

/// `--stats`: one line per party, then the process's peak memory.
fn print_stats(names: &[String], reports: &[&PartyReport]) {
    let width = names.iter().map(String::len).max().unwrap_or(0).max(5);
    eprintln!(
        "{:width$}  {:>8} {:>10} {:>14} {:>14} {:>10} {:>9}",
        "party", "rounds", "messages", "bytes sent", "on the wire", "ops run", "time (s)"
    );
    for (name, r) in names.iter().zip(reports) {
        eprintln!(
            "{name:width$}  {:>8} {:>10} {:>14} {:>14} {:>10} {:>9.3}",
            r.net.rounds,
            r.net.messages_sent,
            r.net.bytes_sent,
            if r.net.wire_bytes > 0 {
                r.net.wire_bytes.to_string()
            } else {
                "-".into()
            },
            r.ops_run,
            r.elapsed.as_secs_f64()
        );
    }
    match peak_memory_bytes() {
        Some(b) => eprintln!("peak resident memory: {} ({b} bytes)", human_bytes(b)),
        None => eprintln!("peak resident memory: not known on this system"),
    }
}

/// The peak resident set size of this process (Linux: `VmHWM` in /proc/self/status).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub(crate) fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}
