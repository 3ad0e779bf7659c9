//! The encoding of one round's batch of messages from one party to another.
//!
//! Tensors travel as raw little-endian bytes, not as protobuf fields: a ring tensor of `n`
//! elements is `8n` bytes plus its header, so the wire carries the payload and little else.
//!
//! ```text
//! batch   = magic "TFE1" | session u64 | count u32 | message*
//! message = op u32 | run u64 | step u16 | kind u8 | rank u8 | dims u64*rank | data
//! data    = ring, f64, i64: 8 bytes per element; 128-bit ring (kind 7): 16; bool: 1 byte (0
//!           or 1); key: 16 bytes; shape: none
//! ```
//!
//! Decoding trusts nothing: every length is checked against the bytes that are there before
//! anything is allocated, and a batch for another session is refused.

use ndarray::{ArrayD, IxDyn};
use tfe_ir::MsgKey;
use tfe_runtime::net::Payload;

const MAGIC: &[u8; 4] = b"TFE1";
/// The header of a message before its dimensions.
const MESSAGE_HEADER: usize = 4 + 8 + 2 + 1 + 1;
/// No tensor of a tfe program has more dimensions (the language has rank ≤ 2; shapes of
/// higher rank come only from the runtime's own bookkeeping).
const MAX_RANK: usize = 8;

/// Encodes `messages` for `session`.
pub fn encode(session: u64, messages: &[(MsgKey, Payload)]) -> Vec<u8> {
    let size: usize = 16
        + messages
            .iter()
            .map(|(_, p)| MESSAGE_HEADER + p.wire_bytes() as usize)
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&session.to_le_bytes());
    out.extend_from_slice(&(messages.len() as u32).to_le_bytes());
    for (key, payload) in messages {
        out.extend_from_slice(&key.op.to_le_bytes());
        out.extend_from_slice(&key.count.to_le_bytes());
        out.extend_from_slice(&key.step.to_le_bytes());
        let (kind, shape): (u8, &[usize]) = match payload {
            Payload::Ring(t) => (0, t.shape()),
            Payload::F64(t) => (1, t.shape()),
            Payload::I64(t) => (2, t.shape()),
            Payload::Bool(t) => (3, t.shape()),
            Payload::Key(_) => (4, &[]),
            Payload::Shape(s) => (5, s),
            Payload::Bytes(t) => (6, t.shape()),
            Payload::Ring128(t) => (7, t.shape()),
        };
        out.push(kind);
        out.push(shape.len() as u8);
        for d in shape {
            out.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        match payload {
            Payload::Ring(t) => put(&mut out, t, u64::to_le_bytes),
            Payload::F64(t) => put(&mut out, t, f64::to_le_bytes),
            Payload::I64(t) => put(&mut out, t, i64::to_le_bytes),
            Payload::Bool(t) => t.iter().for_each(|v| out.push(u8::from(*v))),
            Payload::Key(k) => out.extend_from_slice(k),
            Payload::Shape(_) => {}
            Payload::Bytes(t) => put(&mut out, t, |b: u8| [b]),
            Payload::Ring128(t) => put(&mut out, t, u128::to_le_bytes),
        }
    }
    out
}

/// Appends a tensor's elements as little-endian bytes: one copy of its memory when it is laid
/// out in order on a little-endian machine (the wire's format is then the memory's), element by
/// element otherwise. A round's batch is tens of megabytes on the larger networks, and this is
/// one of the passes over it between two parties.
fn put<T: bytemuck::Pod, const N: usize>(
    out: &mut Vec<u8>,
    t: &ArrayD<T>,
    le: impl Fn(T) -> [u8; N],
) {
    match t.as_slice() {
        Some(s) if cfg!(target_endian = "little") => out.extend_from_slice(bytemuck::cast_slice(s)),
        _ => t.iter().for_each(|v| out.extend_from_slice(&le(*v))),
    }
}

/// A reader over untrusted bytes, which may arrive in several pieces (the chunks of a batch, as
/// gRPC received them): a tensor's elements are copied from the pieces straight into the
/// tensor, so a batch is never reassembled into one buffer first.
struct Reader<'a> {
    /// The pieces not yet reached; `head` is what is left of the current one.
    rest: &'a [&'a [u8]],
    head: &'a [u8],
    /// Bytes left in `head` and `rest` together.
    left: usize,
}

impl<'a> Reader<'a> {
    fn new(pieces: &'a [&'a [u8]]) -> Reader<'a> {
        Reader {
            rest: pieces,
            head: &[],
            left: pieces.iter().map(|p| p.len()).sum(),
        }
    }

    fn ensure(&self, n: usize) -> Result<(), String> {
        if self.left < n {
            return Err(format!(
                "the batch ends early: {n} more bytes expected, {} there",
                self.left
            ));
        }
        Ok(())
    }

    /// Copies the next `dest.len()` bytes into `dest`.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), String> {
        self.ensure(dest.len())?;
        let mut done = 0;
        while done < dest.len() {
            while self.head.is_empty() {
                let (first, rest) = self.rest.split_first().expect("counted in `left`");
                self.head = first;
                self.rest = rest;
            }
            let k = self.head.len().min(dest.len() - done);
            dest[done..done + k].copy_from_slice(&self.head[..k]);
            self.head = &self.head[k..];
            done += k;
        }
        self.left -= dest.len();
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        self.fill(&mut a)?;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// `n` elements of `width` bytes, checked against what is left before allocating.
    fn elements(&mut self, n: usize, width: usize) -> Result<Vec<u8>, String> {
        let bytes = n
            .checked_mul(width)
            .ok_or_else(|| format!("a tensor of {n} elements is too large"))?;
        self.ensure(bytes)?;
        let mut out = vec![0u8; bytes];
        self.fill(&mut out)?;
        Ok(out)
    }

    /// `n` elements from little-endian bytes of `N` each, checked against what is left before
    /// allocating: one copy on a little-endian machine (the wire's format is then the
    /// elements' memory, as in [`put`]).
    fn words<T: bytemuck::Pod, const N: usize>(
        &mut self,
        n: usize,
        f: impl Fn([u8; N]) -> T,
    ) -> Result<Vec<T>, String> {
        let bytes = n
            .checked_mul(N)
            .ok_or_else(|| format!("a tensor of {n} elements is too large"))?;
        self.ensure(bytes)?;
        if cfg!(target_endian = "little") {
            let mut out = vec![T::zeroed(); n];
            self.fill(bytemuck::cast_slice_mut::<T, u8>(&mut out))?;
            Ok(out)
        } else {
            (0..n).map(|_| Ok(f(self.array()?))).collect()
        }
    }
}

fn tensor<T>(shape: &[usize], key: MsgKey, data: Vec<T>) -> Result<ArrayD<T>, String> {
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| format!("message {key}: {e}"))
}

/// Decodes a batch; refuses one for another session or with anything out of place.
pub fn decode(session: u64, bytes: &[u8]) -> Result<Vec<(MsgKey, Payload)>, String> {
    decode_pieces(session, &[bytes])
}

/// Decodes a batch that arrived in pieces (its chunks, in order), as [`decode`] the whole.
pub fn decode_pieces(session: u64, pieces: &[&[u8]]) -> Result<Vec<(MsgKey, Payload)>, String> {
    let mut r = Reader::new(pieces);
    if &r.array::<4>()? != MAGIC {
        return Err("not a tfe batch (bad magic bytes)".into());
    }
    let theirs = r.u64()?;
    if theirs != session {
        return Err(format!(
            "a batch of session {theirs:016x}, not of this session {session:016x}"
        ));
    }
    let count = r.u32()? as usize;
    // Every message takes at least its header: a count larger than that is a lie.
    if count > r.left / MESSAGE_HEADER {
        return Err(format!(
            "the batch claims {count} messages in {} bytes",
            r.left
        ));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let key = MsgKey {
            op: r.u32()?,
            count: r.u64()?,
            step: r.u16()?,
        };
        let kind = r.u8()?;
        let rank = r.u8()? as usize;
        if rank > MAX_RANK {
            return Err(format!("message {key} has {rank} dimensions"));
        }
        let mut shape = Vec::with_capacity(rank);
        for _ in 0..rank {
            shape.push(
                usize::try_from(r.u64()?)
                    .map_err(|_| format!("message {key}: a huge dimension"))?,
            );
        }
        let n = shape
            .iter()
            .try_fold(1usize, |acc, d| acc.checked_mul(*d))
            .ok_or_else(|| format!("message {key}: the shape {shape:?} is too large"))?;
        let payload = match kind {
            0 => Payload::Ring(tensor(&shape, key, r.words(n, u64::from_le_bytes)?)?),
            1 => Payload::F64(tensor(&shape, key, r.words(n, f64::from_le_bytes)?)?),
            2 => Payload::I64(tensor(&shape, key, r.words(n, i64::from_le_bytes)?)?),
            3 => {
                let data = r.elements(n, 1)?;
                if let Some(b) = data.iter().find(|b| **b > 1) {
                    return Err(format!("message {key}: {b} is not a boolean"));
                }
                Payload::Bool(tensor(&shape, key, data.iter().map(|b| *b == 1).collect())?)
            }
            4 if rank == 0 => Payload::Key(r.array()?),
            5 => Payload::Shape(shape),
            6 => Payload::Bytes(tensor(&shape, key, r.elements(n, 1)?)?),
            7 => Payload::Ring128(tensor(&shape, key, r.words(n, u128::from_le_bytes)?)?),
            other => return Err(format!("message {key} is of unknown kind {other}")),
        };
        out.push((key, payload));
    }
    if r.left > 0 {
        return Err(format!(
            "{} bytes follow the last message of the batch",
            r.left
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(op: u32, count: u64, step: u16) -> MsgKey {
        MsgKey { op, count, step }
    }

    fn sample() -> Vec<(MsgKey, Payload)> {
        vec![
            (
                key(1, 2, 3),
                Payload::Ring(ArrayD::from_shape_vec(IxDyn(&[2, 3]), (0..6).collect()).unwrap()),
            ),
            (
                key(4, 0, 0),
                Payload::F64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.5, -2.25]).unwrap()),
            ),
            (
                key(5, 9, 1),
                Payload::I64(ArrayD::from_shape_vec(IxDyn(&[]), vec![-7]).unwrap()),
            ),
            (
                key(6, 1, 0),
                Payload::Bool(
                    ArrayD::from_shape_vec(IxDyn(&[3]), vec![true, false, true]).unwrap(),
                ),
            ),
            (key(u32::MAX, 3, 0), Payload::Key([7; 16])),
            (key(8, 0, 2), Payload::Shape(vec![128, 784])),
            (
                key(9, 0, 0),
                Payload::Ring(ArrayD::from_shape_vec(IxDyn(&[0, 4]), vec![]).unwrap()),
            ),
            (
                key(10, 1, 1),
                Payload::Ring128(
                    ArrayD::from_shape_vec(IxDyn(&[2]), vec![u128::MAX - 5, 1 << 100]).unwrap(),
                ),
            ),
        ]
    }

    #[test]
    fn batches_round_trip() {
        let m = sample();
        let bytes = encode(42, &m);
        assert_eq!(decode(42, &bytes).unwrap(), m);
    }

    #[test]
    fn the_wire_carries_the_payload_and_small_headers() {
        let t = ArrayD::from_shape_vec(IxDyn(&[1000]), vec![1u64; 1000]).unwrap();
        let bytes = encode(1, &[(key(1, 0, 0), Payload::Ring(t))]);
        // 16 bytes of batch header, 16 of message header, 8 of shape, 8000 of data.
        assert_eq!(bytes.len(), 16 + 16 + 8 + 8000);
    }

    #[test]
    fn a_tensor_out_of_memory_order_travels_as_its_elements_in_order() {
        // A transposed tensor is not laid out in order: it is written element by element, and
        // its bytes are those of its copy in order.
        let t = ArrayD::from_shape_vec(IxDyn(&[3, 2]), (0u64..6).collect()).unwrap();
        let transposed = t.clone().reversed_axes();
        assert!(transposed.as_slice().is_none());
        let standard = transposed.as_standard_layout().into_owned();
        let a = encode(1, &[(key(1, 0, 0), Payload::Ring(transposed))]);
        let b = encode(1, &[(key(1, 0, 0), Payload::Ring(standard.clone()))]);
        assert_eq!(a, b);
        assert_eq!(
            decode(1, &a).unwrap(),
            [(key(1, 0, 0), Payload::Ring(standard))]
        );
        // The data are little-endian words.
        let wide = ArrayD::from_shape_vec(IxDyn(&[1]), vec![(7u128 << 64) | 5]).unwrap();
        let w = encode(1, &[(key(1, 0, 0), Payload::Ring128(wide))]);
        assert_eq!(
            w[w.len() - 16..],
            [[5, 0, 0, 0, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0]].concat()
        );
    }

    #[test]
    fn a_batch_in_pieces_decodes_as_the_whole() {
        let m = sample();
        let bytes = encode(42, &m);
        // Every split into three pieces, empty pieces included.
        for i in 0..=bytes.len() {
            for j in (i..=bytes.len()).step_by(7) {
                let pieces = [&bytes[..i], &bytes[i..j], &bytes[j..]];
                assert_eq!(decode_pieces(42, &pieces).unwrap(), m, "split at {i}, {j}");
            }
        }
        // Pieces that end early, or carry a byte too many, are refused as the whole is.
        let cut = bytes.len() - 3;
        assert!(
            decode_pieces(42, &[&bytes[..10], &bytes[10..cut]])
                .unwrap_err()
                .contains("ends early")
        );
        assert!(
            decode_pieces(42, &[&bytes[..10], &bytes[10..], &[0]])
                .unwrap_err()
                .contains("follow")
        );
    }

    #[test]
    fn another_session_is_refused() {
        let bytes = encode(42, &sample());
        let e = decode(43, &bytes).unwrap_err();
        assert!(e.contains("session"), "{e}");
    }

    #[test]
    fn truncated_and_corrupted_batches_are_refused_without_panics() {
        let bytes = encode(42, &sample());
        for cut in 0..bytes.len() {
            assert!(decode(42, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Flip every byte in turn: decoding must fail or give a batch, never panic or
        // allocate absurdly.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode(42, &b);
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(42, &long).unwrap_err().contains("follow"));
    }

    #[test]
    fn a_lying_shape_does_not_allocate() {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&42u64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&[0; 14]);
        b.push(0);
        b.push(2);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(42, &b).is_err());
        let mut b2 = b[..b.len() - 16].to_vec();
        b2.extend_from_slice(&(1u64 << 40).to_le_bytes());
        b2.extend_from_slice(&1u64.to_le_bytes());
        assert!(decode(42, &b2).unwrap_err().contains("ends early"));
    }
}
