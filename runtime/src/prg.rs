//! Correlated randomness without messages: keys shared by sets of parties at session start,
//! expanded with AES-128 in counter mode (hardware AES where the processor has it).
//!
//! Every draw is derived from the key of a set of parties, the session, and the message key of
//! the op that draws it (op id, how many times the op ran before, protocol step) plus a stream
//! number. Keys are drawn fresh from the operating system for every session, so no mask repeats
//! across loop iterations (the count differs), across ops (the id differs) or across runs (the
//! key differs). There is no fallback to a weaker generator: if the operating system has no
//! randomness to give, the session does not start.

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use tfe_ir::MsgKey;

type Aes128Ctr = ctr::Ctr64LE<Aes128>;

/// A 128-bit key shared by a set of parties.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SharedKey(pub [u8; 16]);

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never appear in logs.
        f.write_str("SharedKey(..)")
    }
}

impl SharedKey {
    /// A fresh key from the operating system's generator.
    pub fn random() -> Result<SharedKey, String> {
        let mut k = [0u8; 16];
        getrandom::fill(&mut k)
            .map_err(|e| format!("the operating system's random generator failed: {e}"))?;
        Ok(SharedKey(k))
    }

    /// The key number `index` derived from `seed`: for reproducible runs (`tfec run --seed`) in
    /// tests and benchmarks only. Anyone who knows the seed knows every mask of the run.
    pub fn from_seed(seed: u64, index: u64) -> SharedKey {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&seed.to_le_bytes());
        k[8..].copy_from_slice(b"tfe-seed");
        let msg = MsgKey {
            op: u32::MAX,
            count: index,
            step: 0,
        };
        let words: Vec<u64> = draw(&SharedKey(k), 0, msg, 0, 2);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&words[0].to_le_bytes());
        key[8..].copy_from_slice(&words[1].to_le_bytes());
        SharedKey(key)
    }
}

/// Draws `n` pseudo-random ring elements for (`key`, `session`, `msg`, `stream`).
///
/// The key (mixed with the session) keys AES as a pseudo-random function that maps
/// (op, step, stream, count) to a fresh 128-bit key for this draw alone; that key then runs AES
/// in counter mode from zero. Distinct inputs give independent streams, however long.
pub fn draw<W: crate::ring::Word>(
    key: &SharedKey,
    session: u64,
    msg: MsgKey,
    stream: u16,
    n: usize,
) -> Vec<W> {
    // Little-endian words: a u128 is the next two u64s of the stream, low one first.
    let mut result = vec![W::ZERO; n];
    cipher(key, session, msg, stream).apply_keystream(bytemuck::cast_slice_mut(&mut result[..]));
    result
}

/// Combines the draw of (`key`, `session`, `msg`, `stream`) into `dest`, element by element:
/// `dest[j] = f(dest[j], draw[j])`. The same result as [`draw`] then a pass over both, without
/// a buffer of the draw's size: the stream is made a few kilobytes at a time, while they are in
/// cache (a zero-sharing subtracts one party pair's draw from the other's in place).
pub fn combine_into<W: crate::ring::Word>(
    key: &SharedKey,
    session: u64,
    msg: MsgKey,
    stream: u16,
    dest: &mut [W],
    f: impl Fn(W, W) -> W,
) {
    const BLOCK: usize = 512;
    let mut cipher = cipher(key, session, msg, stream);
    let mut buf = [W::ZERO; BLOCK];
    for part in dest.chunks_mut(BLOCK) {
        let words = &mut buf[..part.len()];
        words.fill(W::ZERO);
        cipher.apply_keystream(bytemuck::cast_slice_mut(words));
        for (d, r) in part.iter_mut().zip(words.iter()) {
            *d = f(*d, *r);
        }
    }
}

/// The counter-mode cipher of one draw (see [`draw`]).
fn cipher(key: &SharedKey, session: u64, msg: MsgKey, stream: u16) -> Aes128Ctr {
    let mut k = key.0;
    for (b, s) in k.iter_mut().zip(session.to_le_bytes()) {
        *b ^= s;
    }
    let prf = Aes128::new(&k.into());
    let mut block = [0u8; 16];
    block[0..4].copy_from_slice(&msg.op.to_le_bytes());
    block[4..6].copy_from_slice(&msg.step.to_le_bytes());
    block[6..8].copy_from_slice(&stream.to_le_bytes());
    block[8..16].copy_from_slice(&msg.count.to_le_bytes());
    let mut block = block.into();
    prf.encrypt_block(&mut block);
    let draw_key: [u8; 16] = block.into();
    Aes128Ctr::new(&draw_key.into(), &[0u8; 16].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SharedKey {
        SharedKey([b; 16])
    }

    fn msg(op: u32, count: u64, step: u16) -> MsgKey {
        MsgKey { op, count, step }
    }

    #[test]
    fn draws_are_deterministic_per_inputs_and_differ_otherwise() {
        let a: Vec<u64> = draw(&key(1), 7, msg(3, 0, 0), 0, 64);
        assert_eq!(a, draw(&key(1), 7, msg(3, 0, 0), 0, 64));
        for other in [
            draw(&key(2), 7, msg(3, 0, 0), 0, 64),
            draw(&key(1), 8, msg(3, 0, 0), 0, 64),
            draw(&key(1), 7, msg(4, 0, 0), 0, 64),
            draw(&key(1), 7, msg(3, 1, 0), 0, 64),
            draw(&key(1), 7, msg(3, 0, 1), 0, 64),
            draw(&key(1), 7, msg(3, 0, 0), 1, 64),
        ] {
            assert_ne!(a, other);
            assert!(
                a.iter().zip(&other).all(|(x, y)| x != y),
                "no element repeats by chance"
            );
        }
    }

    #[test]
    fn combining_in_place_is_drawing_then_combining() {
        // Lengths around the block of 512 words, both widths.
        for n in [0, 1, 511, 512, 513, 1500] {
            let mut dest: Vec<u64> = (0..n as u64).map(|j| j.wrapping_mul(0x9e37)).collect();
            let want: Vec<u64> = dest
                .iter()
                .zip(draw::<u64>(&key(4), 2, msg(7, 1, 3), 1, n))
                .map(|(a, b)| a.wrapping_sub(b))
                .collect();
            combine_into(&key(4), 2, msg(7, 1, 3), 1, &mut dest, u64::wrapping_sub);
            assert_eq!(dest, want);
            let mut wide: Vec<u128> = (0..n as u128).collect();
            let want: Vec<u128> = wide
                .iter()
                .zip(draw::<u128>(&key(5), 2, msg(7, 1, 3), 0, n))
                .map(|(a, b)| a ^ b)
                .collect();
            combine_into(&key(5), 2, msg(7, 1, 3), 0, &mut wide, |a, b| a ^ b);
            assert_eq!(wide, want);
        }
    }

    #[test]
    fn a_prefix_is_stable_and_bits_look_uniform() {
        let long: Vec<u64> = draw(&key(9), 1, msg(0, 0, 0), 0, 10_000);
        let short = draw(&key(9), 1, msg(0, 0, 0), 0, 100);
        assert_eq!(&long[..100], &short[..]);
        let ones: u32 = long.iter().map(|x| x.count_ones()).sum();
        let fraction = f64::from(ones) / (64.0 * 10_000.0);
        assert!((fraction - 0.5).abs() < 0.005, "{fraction}");
    }
}
