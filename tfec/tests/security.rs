//! Security properties of whole runs, observed on the wire: every message a party sends or
//! receives is recorded by a transport wrapped around the in-process one. Under each protocol.
//!
//! - No single member's view depends on the secret: the same program run on two very different
//!   secrets gives each member (aby3's three, pond's two servers and its dealer) the same
//!   messages, of the same sizes, with the same (uniform) distribution of words.
//! - Masks are fresh: products inside a loop, and the same program run twice, never send the
//!   same message twice. (TF Encrypted replays the masks of a traced function on every
//!   execution; from two such products one curious server recovers the secret exactly.)
//! - Shares kept between runs are fresh when loaded: a run that loads stored shares sends none
//!   of the stored words, and no word of any earlier run (`write_shares`, `read_shares`).
//! - pond's dealer receives nothing from the servers: in these runs here, and in every example
//!   (`tfec/tests/protocol_examples.rs` checks its inbox while it runs each example on pond).

#[macro_use]
mod support;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use support::Protocol;
use support::wire::{Seen, check_dealer_inbox, compile, run_recorded};
use tfe_ir::{MsgKey, PartyId, Program};
use tfe_runtime::net::Payload;

per_protocol!(
    a_members_view_does_not_depend_on_the_secret,
    masks_are_fresh_across_loop_iterations_and_runs,
    masks_are_fresh_across_a_save_and_a_load,
);

/// Runs every party of `ir` in threads and returns every message sent (payloads included), in
/// no particular order; under pond, checks the dealer's inbox on the way.
fn run_all(ir: &Program, data: &std::path::Path, seed: Option<u64>) -> Vec<Seen> {
    let messages = run_recorded(ir, data, seed, Arc::new(|_, _| true)).messages;
    check_dealer_inbox(ir, &messages);
    messages
}

fn data_dir(tag: &str, values: &[f64]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tfe-security-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("alice")).unwrap();
    std::fs::create_dir_all(dir.join("analyst")).unwrap();
    let mut csv = String::from("x\n");
    for v in values {
        csv.push_str(&format!("{v}\n"));
    }
    std::fs::write(dir.join("alice/x.csv"), csv).unwrap();
    dir
}

const N: usize = 256;

/// Sharing, a product with truncation, a comparison and a select: every kind of message a server
/// receives in the protocols (the input share, resharing or opened masks, truncation, the
/// adder's rounds, and under pond the dealer's parts of triples).
const VIEW_PROGRAM: &str = "
party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let xa: fixed[256, 1] @alice = read_csv(\"x.csv\");
    let x: fixed[256, 1] @rep = xa;
    let y = x * x;
    let z = select(x > 0.5, y, x);
    write_csv(reveal(z, to: analyst), \"z.csv\");
}
";

/// Words of the ring tensors `party` received, grouped by message key.
/// A message's ring elements as 64-bit words: a 128-bit element as its low and high halves (each
/// uniform when the element is).
fn ring_words(p: &Payload) -> Option<Vec<u64>> {
    match p {
        Payload::Ring(t) => Some(t.iter().copied().collect()),
        Payload::Ring128(t) => Some(
            t.iter()
                .flat_map(|w| [*w as u64, (*w >> 64) as u64])
                .collect(),
        ),
        _ => None,
    }
}

fn received_words(log: &[Seen], party: PartyId) -> View {
    let mut out: HashMap<(u32, u16), Vec<u64>> = HashMap::new();
    for m in log.iter().filter(|m| m.to == party) {
        if let Some(words) = m.payload.as_ref().and_then(ring_words) {
            out.entry((m.key.op, m.key.step)).or_default().extend(words);
        }
    }
    out
}

/// Pearson's statistic of `counts` against equal expected counts.
fn chi2_uniform(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// The two-sample statistic: do `a` and `b` come from one distribution?
fn chi2_two_sample(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    a.iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            let d = x * (nb / na).sqrt() - y * (na / nb).sqrt();
            d * d / (x + y)
        })
        .sum()
}

/// Histograms over 16 bins of four bit fields of each word: the top, the bottom, and two in the
/// middle (where a fixed-point value's bits would sit).
fn histograms(words: &[u64]) -> Vec<[u64; 16]> {
    [60u32, 0, 16, 32]
        .iter()
        .map(|&shift| {
            let mut h = [0u64; 16];
            for w in words {
                h[((w >> shift) & 15) as usize] += 1;
            }
            h
        })
        .collect()
}

/// The ring words a member received over several runs, by message (op, step).
type View = HashMap<(u32, u16), Vec<u64>>;

/// One message received, without its payload: key, sender, kind and size.
type Header = (MsgKey, PartyId, &'static str, u64);

/// What `party` received, without the payloads, sorted. A view's shape must not depend on the
/// secret either.
fn view_shape(log: &[Seen], party: PartyId) -> Vec<Header> {
    let mut out: Vec<_> = log
        .iter()
        .filter(|m| m.to == party)
        .map(|m| (m.key, m.from, m.kind, m.words))
        .collect();
    out.sort();
    out
}

fn a_members_view_does_not_depend_on_the_secret(protocol: Protocol) {
    let ir = compile(&protocol.switch(VIEW_PROGRAM));
    let members: Vec<PartyId> = ["s0", "s1", "s2"]
        .iter()
        .map(|n| ir.parties.iter().position(|p| p == n).unwrap())
        .collect();
    // Two secrets as different as can be: all zeros, and large values of both signs.
    let tag = |t: &str| format!("{t}-{}", protocol.name());
    let zeros = data_dir(&tag("zeros"), &[0.0; N]);
    let large: Vec<f64> = (0..N)
        .map(|i| if i % 2 == 0 { 1000.5 } else { -777.25 })
        .collect();
    let large = data_dir(&tag("large"), &large);
    let runs = 12;
    // For each secret and member: the words received, by message, over all runs; and the shape
    // of one run's view.
    let mut views: [Vec<View>; 2] = Default::default();
    let mut shapes: [Vec<Vec<Header>>; 2] = Default::default();
    for ((view, shape), dir) in views.iter_mut().zip(&mut shapes).zip([&zeros, &large]) {
        *view = vec![HashMap::new(); members.len()];
        for run in 0..runs {
            let log = run_all(&ir, dir, None);
            for (i, &m) in members.iter().enumerate() {
                for (k, words) in received_words(&log, m) {
                    view[i].entry(k).or_default().extend(words);
                }
                if run == 0 {
                    shape.push(view_shape(&log, m));
                }
            }
        }
    }
    // 15 degrees of freedom: P(chi2 > 60) is about 1e-7, so with a thousand tests a false
    // alarm is about 1e-4; a secret-dependent message (all-zero words, a fixed pattern) scores
    // in the thousands.
    let limit = 60.0;
    let mut tests = 0;
    for (i, &member) in members.iter().enumerate() {
        let name = &ir.parties[member];
        assert_eq!(
            shapes[0][i], shapes[1][i],
            "{name} receives the same messages, of the same sizes, whatever the secret"
        );
        let keys: HashSet<_> = views[0][i].keys().copied().collect();
        assert_eq!(
            keys,
            views[1][i].keys().copied().collect::<HashSet<_>>(),
            "{name}: the same messages"
        );
        // aby3: every member computes; pond: the servers do, and the dealer (s2) receives no
        // ring words at all (only its keys: `run_all` checks its inbox); securenn: as pond,
        // but its helper (s2) receives masked values in signs.
        if protocol.base() == Protocol::Pond && name == "s2" {
            assert!(keys.is_empty(), "the dealer received ring words: {keys:?}");
            assert!(!shapes[0][i].is_empty(), "the dealer's keys");
            continue;
        }
        if protocol == Protocol::SecureNn && name == "s2" {
            // securenn's helper receives ring words in a sign only: the servers' masked shares
            // (its bytes of Z_67, PrivateCompare's, are tested for uniformity whatever the
            // secret by runtime/src/protocol/tests.rs).
            assert!(!keys.is_empty(), "the helper receives the masked shares");
        } else {
            assert!(
                keys.len() >= 5,
                "{name} receives the share, the resharing and the adder's rounds"
            );
        }
        for key in &keys {
            let (a, b) = (&views[0][i][key], &views[1][i][key]);
            assert_eq!(
                a.len(),
                b.len(),
                "{name}: message {key:?} has the same size"
            );
            // Bit-sliced messages of the adder may hold fewer words than elements; every
            // message here has at least 12 runs' worth of words.
            for (ha, hb) in histograms(a).iter().zip(&histograms(b)) {
                let (ua, ub, two) = (chi2_uniform(ha), chi2_uniform(hb), chi2_two_sample(ha, hb));
                assert!(
                    ua < limit,
                    "{name}: message {key:?} on zeros is not uniform: {ua:.1} {ha:?}"
                );
                assert!(
                    ub < limit,
                    "{name}: message {key:?} on large values is not uniform: {ub:.1} {hb:?}"
                );
                assert!(
                    two < limit,
                    "{name}: message {key:?} differs between secrets: {two:.1}"
                );
                tests += 3;
            }
        }
    }
    eprintln!("{}: {tests} statistical tests", protocol.name());
    assert!(tests > 100);
}

/// The same product, ten times in a loop.
const LOOP_PROGRAM: &str = "
party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let xa: fixed[256, 1] @alice = read_csv(\"x.csv\");
    let x: fixed[256, 1] @rep = xa;
    let mut acc: fixed[256, 1] @rep = zeros([256, 1]);
    for i in 0..10 {
        acc = acc + x * x;
    }
    write_csv(reveal(acc, to: analyst), \"acc.csv\");
}
";

/// Every ring word the members (s0, s1, s2) send each other: the resharing messages of the
/// products (aby3), the opened masked operands and the dealer's parts of triples (pond).
fn server_words(ir: &Program, log: &[Seen]) -> Vec<(MsgKey, Vec<u64>)> {
    let servers: Vec<PartyId> = ["s0", "s1", "s2"]
        .iter()
        .map(|s| ir.parties.iter().position(|p| p == s).unwrap())
        .collect();
    log.iter()
        .filter(|m| servers.contains(&m.from) && servers.contains(&m.to))
        .filter_map(|m| Some((m.key, ring_words(m.payload.as_ref()?)?)))
        .collect()
}

fn masks_are_fresh_across_loop_iterations_and_runs(protocol: Protocol) {
    let ir = compile(&protocol.switch(LOOP_PROGRAM));
    let values: Vec<f64> = (0..N).map(|i| i as f64 / 8.0 - 16.0).collect();
    let dir = data_dir(&format!("loop-{}", protocol.name()), &values);
    let first = server_words(&ir, &run_all(&ir, &dir, None));
    let second = server_words(&ir, &run_all(&ir, &dir, None));
    // Ten products per run, each at least one message from each server to another (aby3: one
    // from each member; pond: two from each server, and one from the dealer).
    let counts: HashSet<u64> = first.iter().map(|(k, _)| k.count).collect();
    assert_eq!(counts.len(), 10, "one resharing per iteration: {counts:?}");
    assert!(first.len() >= 30);
    let mut seen = HashSet::new();
    let mut words = 0;
    for (key, message) in first.iter().chain(&second) {
        for w in message {
            words += 1;
            assert!(
                seen.insert(*w),
                "a word of message {key:?} was sent before: a mask was reused"
            );
        }
    }
    assert!(words >= 2 * 10 * 3 * N);

    // With a seed the run repeats exactly (the seed is for tests), yet within the run no
    // iteration reuses another's mask.
    let a = server_words(&ir, &run_all(&ir, &dir, Some(5)));
    let b = server_words(&ir, &run_all(&ir, &dir, Some(5)));
    let as_set =
        |v: &[(MsgKey, Vec<u64>)]| -> HashSet<(MsgKey, Vec<u64>)> { v.iter().cloned().collect() };
    assert_eq!(as_set(&a), as_set(&b), "a seeded run repeats");
    let distinct: HashSet<&Vec<u64>> = a.iter().map(|(_, m)| m).collect();
    assert_eq!(
        distinct.len(),
        a.len(),
        "no two messages of one run are equal"
    );
}

/// [`LOOP_PROGRAM`], keeping `x` as shares.
const SAVE_PROGRAM: &str = "
party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let xa: fixed[256, 1] @alice = read_csv(\"x.csv\");
    let x: fixed[256, 1] @rep = xa;
    let mut acc: fixed[256, 1] @rep = zeros([256, 1]);
    for i in 0..10 {
        acc = acc + x * x;
    }
    write_shares(x, \"x\");
    print(reveal(sum(acc), to: analyst));
}
";

/// The same products on `x` loaded from the shares [`SAVE_PROGRAM`] kept.
const LOAD_PROGRAM: &str = "
party alice, analyst;
party s0, s1, s2;
secret rep = aby3(s0, s1, s2);

fn main() {
    let x: fixed[256, 1] @rep = read_shares(\"x\");
    let mut acc: fixed[256, 1] @rep = zeros([256, 1]);
    for i in 0..10 {
        acc = acc + x * x;
    }
    print(reveal(sum(acc), to: analyst));
}
";

fn masks_are_fresh_across_a_save_and_a_load(protocol: Protocol) {
    let save = compile(&protocol.switch(SAVE_PROGRAM));
    let load = compile(&protocol.switch(LOAD_PROGRAM));
    let values: Vec<f64> = (0..N).map(|i| i as f64 / 8.0 - 16.0).collect();
    let dir = data_dir(&format!("kept-{}", protocol.name()), &values);
    let saved = run_recorded(&save, &dir, None, Arc::new(|_, _| true));
    check_dealer_inbox(&save, &saved.messages);
    // The words each holder stored.
    let mut stored = HashSet::new();
    for party in ["s0", "s1", "s2"] {
        let path = dir.join(party).join("x.shares");
        if let Ok(bytes) = std::fs::read(&path) {
            let (_, parts) = tfe_runtime::stored::decode::<u64>(&bytes).unwrap();
            for component in parts.iter().flatten() {
                stored.extend(component.iter().copied());
            }
            // (A 128-bit ring's file: its words as halves, as on the wire.)
            let (_, parts) = tfe_runtime::stored::decode::<u128>(&bytes).unwrap();
            for component in parts.iter().flatten() {
                stored.extend(
                    component
                        .iter()
                        .flat_map(|w| [*w as u64, (*w >> 64) as u64]),
                );
            }
        }
    }
    assert!(stored.len() >= 2 * N, "the holders stored their shares");
    let first = run_recorded(&load, &dir, None, Arc::new(|_, _| true));
    let second = run_recorded(&load, &dir, None, Arc::new(|_, _| true));
    check_dealer_inbox(&load, &first.messages);
    // The loaded value is the stored one: the same sum of squares.
    let total =
        |r: &support::wire::Recorded| r.printed.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
    assert_eq!(total(&first), total(&saved));
    assert_eq!(total(&second), total(&saved));
    // The computation's words: not the save ids and header digests that the store and the
    // load send every other holder alike (public bookkeeping, not shares).
    let shares = |ir: &Program, log: &[Seen]| -> Vec<(MsgKey, Vec<u64>)> {
        let mut ops = Vec::new();
        support::wire::all_ops(&ir.body, &mut ops);
        let bookkeeping: HashSet<u32> = ops
            .iter()
            .filter(|n| {
                matches!(
                    n.op,
                    tfe_ir::Op::StoreShares { .. } | tfe_ir::Op::LoadShares { .. }
                )
            })
            .map(|n| n.id)
            .collect();
        server_words(ir, log)
            .into_iter()
            .filter(|(k, _)| !bookkeeping.contains(&k.op))
            .collect()
    };
    let mut seen = HashSet::new();
    let mut words = 0;
    for (key, message) in shares(&save, &saved.messages)
        .iter()
        .chain(&shares(&load, &first.messages))
        .chain(&shares(&load, &second.messages))
    {
        for w in message {
            words += 1;
            assert!(
                seen.insert(*w),
                "a word of message {key:?} was sent before: a mask was reused across a save and a load"
            );
        }
    }
    assert!(words >= 3 * 10 * 2 * N);
    for (key, message) in shares(&load, &first.messages)
        .iter()
        .chain(&shares(&load, &second.messages))
    {
        for w in message {
            assert!(
                !stored.contains(w),
                "message {key:?} carries a stored share word: loaded shares were not refreshed"
            );
        }
    }
}
