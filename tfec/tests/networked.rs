//! Every party its own `tfec` process on 127.0.0.1, talking gRPC: the same model as the
//! in-process run with the same seed, with and without mutual TLS; a party with a certificate
//! from another CA refused; a party killed mid-run and the others ending cleanly in bounded
//! time; a garbage client on a party's port refused without disturbing the run. Under each
//! protocol (the certificate check happens before any protocol runs, so it runs once).

#[macro_use]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::Protocol;

per_protocol!(
    logreg_over_grpc_gives_the_in_process_model,
    logreg_over_mutual_tls_gives_the_in_process_model,
    a_party_killed_mid_run_stops_the_others_in_bounded_time,
    a_garbage_client_is_refused_without_disturbing_the_run,
);

fn tfec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tfec"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Free ports on 127.0.0.1 (bound and released; another process could take one in between,
/// which would fail the run loudly, not silently).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-net-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A players.toml for `parties` with fresh ports; data of alice and bob from the example.
fn players(dir: &Path, parties: &[&str], tls: bool) -> PathBuf {
    let ports = free_ports(parties.len());
    let mut text = String::new();
    for (p, port) in parties.iter().zip(&ports) {
        text.push_str(&format!("[parties.{p}]\naddress = \"127.0.0.1:{port}\"\n"));
        if parties == LOGREG && matches!(*p, "alice" | "bob") {
            text.push_str(&format!(
                "data = \"{}\"\n",
                repo().join("examples/data").join(p).display()
            ));
        }
    }
    if tls {
        text.push_str("[tls]\nca = \"certs/ca.pem\"\n");
    }
    let path = dir.join("players.toml");
    std::fs::write(&path, text).unwrap();
    if tls {
        let out = tfec().arg("certs").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    path
}

const LOGREG: [&str; 6] = ["alice", "bob", "analyst", "s0", "s1", "s2"];

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// examples/logreg.tfe switched to `protocol`, written into `dir`.
fn logreg(dir: &Path, protocol: Protocol) -> PathBuf {
    let source = std::fs::read_to_string(repo().join("examples/logreg.tfe")).unwrap();
    let file = dir.join("logreg.tfe");
    std::fs::write(&file, protocol.switch(&source)).unwrap();
    file
}

/// The model of an in-process run with `seed`.
fn in_process_model(seed: u64, protocol: Protocol) -> (String, String) {
    let dir = scratch(&format!("embedded-{seed}-{}", protocol.name()));
    for p in ["alice", "bob"] {
        std::fs::create_dir_all(dir.join(p)).unwrap();
        for k in ["x", "y"] {
            let name = format!("{p}_{k}.csv");
            std::fs::copy(
                repo().join("examples/data").join(p).join(&name),
                dir.join(p).join(&name),
            )
            .unwrap();
        }
    }
    let out = tfec()
        .arg("run")
        .arg(logreg(&dir, protocol))
        .args(["--seed", &seed.to_string(), "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    model(&dir.join("analyst"))
}

fn model(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join("weights.csv")).unwrap(),
        std::fs::read_to_string(dir.join("bias.csv")).unwrap(),
    )
}

fn networked_logreg(tls: bool, protocol: Protocol) {
    let dir = scratch(&format!(
        "{}-{}",
        if tls { "tls" } else { "plain" },
        protocol.name()
    ));
    let players = players(&dir, &LOGREG, tls);
    let start = Instant::now();
    let out = tfec()
        .arg("run")
        .arg(logreg(&dir, protocol))
        .arg("--players")
        .arg(&players)
        .args(["--seed", "11"])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(start.elapsed() < Duration::from_secs(60));
    for p in LOGREG {
        assert!(
            all.contains(&format!("[{p}] done in")),
            "{p} did not finish: {all}"
        );
    }
    // Only the analyst got the model, and it is the in-process run's, bit for bit.
    assert_eq!(
        model(&dir.join("data/analyst")),
        in_process_model(11, protocol)
    );
    for p in ["s0", "s1", "s2"] {
        assert!(!dir.join("data").join(p).join("weights.csv").exists());
    }
}

fn logreg_over_grpc_gives_the_in_process_model(protocol: Protocol) {
    networked_logreg(false, protocol);
}

fn logreg_over_mutual_tls_gives_the_in_process_model(protocol: Protocol) {
    networked_logreg(true, protocol);
}

#[test]
fn a_party_with_a_certificate_from_another_ca_is_refused() {
    let dir = scratch("wrong-ca");
    let players = players(&dir, &LOGREG, true);
    // bob's certificate and key come from another deployment's CA.
    let other = scratch("other-ca");
    let other_players = other.join("players.toml");
    std::fs::copy(&players, &other_players).unwrap();
    let out = tfec().arg("certs").arg(&other_players).output().unwrap();
    assert!(out.status.success());
    for f in ["bob.pem", "bob.key"] {
        std::fs::copy(other.join("certs").join(f), dir.join("certs").join(f)).unwrap();
    }
    let start = Instant::now();
    let out = tfec()
        .arg("run")
        .arg(repo().join("examples/logreg.tfe"))
        .arg("--players")
        .arg(&players)
        .args(["--connect-timeout", "10"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        all.contains("certificate") || all.contains("TLS"),
        "the refusal names the cause: {all}"
    );
    assert!(!dir.join("data/analyst/weights.csv").exists());
}

/// A program that runs until stopped (for the failure tests): a product and a comparison per
/// iteration, many iterations.
const ENDLESS: &str = "
party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let xa: fixed[64, 1] @alice = read_csv(\"x.csv\");
    let x: fixed[64, 1] @rep = xa;
    let mut acc: fixed[64, 1] @rep = zeros([64, 1]);
    for i in 0..ITERATIONS {
        let y = acc * 0.5 + x * x;
        acc = select(y > 1.0, y - 1.0, y);
    }
    write_csv(reveal(acc, to: analyst), \"acc.csv\");
}
";
const LOOP_PARTIES: [&str; 5] = ["alice", "analyst", "s0", "s1", "s2"];

fn loop_program(dir: &Path, iterations: u64, protocol: Protocol) -> PathBuf {
    std::fs::create_dir_all(dir.join("data/alice")).unwrap();
    let x: String = (0..64)
        .map(|i| format!("{}\n", f64::from(i % 9) / 8.0))
        .collect();
    std::fs::write(dir.join("data/alice/x.csv"), format!("x\n{x}")).unwrap();
    let file = dir.join("loop.tfe");
    std::fs::write(
        &file,
        protocol.switch(&ENDLESS.replace("ITERATIONS", &iterations.to_string())),
    )
    .unwrap();
    file
}

fn start_party(file: &Path, players: &Path, name: &str) -> Child {
    tfec()
        .arg("run")
        .arg(file)
        .arg("--players")
        .arg(players)
        .args(["--as", name, "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn a_party_killed_mid_run_stops_the_others_in_bounded_time(protocol: Protocol) {
    let dir = scratch(&format!("kill-{}", protocol.name()));
    let file = loop_program(&dir, 10_000_000, protocol);
    let players = players(&dir, &LOOP_PARTIES, false);
    let mut children: Vec<(&str, Child)> = LOOP_PARTIES
        .iter()
        .map(|p| (*p, start_party(&file, &players, p)))
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let s1 = children.iter_mut().find(|(p, _)| *p == "s1").unwrap();
    s1.1.kill().unwrap();
    let killed_at = Instant::now();
    for (name, child) in children.iter_mut().filter(|(p, _)| *p != "s1") {
        // Every other party ends by itself, with a message naming s1, within seconds.
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if killed_at.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                panic!("{name} still runs 15 s after s1 was killed");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output_ref();
        assert_eq!(status.code(), Some(3), "{name}: {out}");
        assert!(
            out.contains("s1"),
            "{name} names the party that died: {out}"
        );
        assert!(!out.contains("panicked"), "{name}: {out}");
    }
}

trait ReadAll {
    fn wait_with_output_ref(&mut self) -> String;
}

impl ReadAll for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut s);
        }
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn a_garbage_client_is_refused_without_disturbing_the_run(protocol: Protocol) {
    use std::io::Write;
    let dir = scratch(&format!("garbage-{}", protocol.name()));
    let file = loop_program(&dir, 300, protocol);
    let players = players(&dir, &LOOP_PARTIES, false);
    let reference = {
        let out = tfec()
            .arg("run")
            .arg(&file)
            .args(["--seed", "3"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read_to_string(dir.join("data/analyst/acc.csv")).unwrap()
    };
    std::fs::remove_file(dir.join("data/analyst/acc.csv")).unwrap();
    let port = std::fs::read_to_string(&players)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("address"))
        .nth(4)
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let run = tfec()
        .arg("run")
        .arg(&file)
        .arg("--players")
        .arg(&players)
        .args(["--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While the parties connect and run, clients that are not parties knock on s2's port: one
    // sends bytes that are not HTTP/2, one speaks HTTP/2 badly, one connects and says nothing.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut idle = Vec::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            let _ =
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage \xde\xad\xbe\xef");
            if let Ok(mut t) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
                let _ = t.write_all(
                    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x01\x00\x00\x00\x00\x00garbage",
                );
            }
            if let Ok(u) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
                idle.push(u);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("data/analyst/acc.csv")).unwrap(),
        reference
    );
}
