//! What every protocol step needs, whatever the protocol: who this party is, the keys it
//! shares with other parties, the network, and the op being run (whose id and run count key its
//! messages and its random draws).

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use tfe_ir::{Dim, MsgKey, OpId, PartyId};

use crate::RunError;
use crate::net::{Payload, Transport};
use crate::prg::{self, SharedKey};
use crate::ring::{RingTensor, Word};

/// The keys this party shares with each set of parties it belongs to (pairs and triples),
/// agreed at session start.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: HashMap<Vec<PartyId>, SharedKey>,
}

impl KeyStore {
    pub fn insert(&mut self, mut set: Vec<PartyId>, key: SharedKey) {
        set.sort_unstable();
        self.keys.insert(set, key);
    }

    pub fn get(&self, set: &[PartyId]) -> Result<&SharedKey, RunError> {
        let mut set = set.to_vec();
        set.sort_unstable();
        set.dedup();
        self.keys
            .get(&set)
            .ok_or_else(|| RunError::Internal(format!("no shared key for parties {set:?}")))
    }
}

/// The most dimensions a shape announced by a peer may have (as on the wire).
const MAX_RANK: usize = 8;

/// The most elements a shape announced by a peer may hold (2^32: 32 GiB of each share
/// component). A party draws its shares of that shape at once, so a larger claim is refused
/// rather than allowed to exhaust memory or overflow a size.
const MAX_ELEMENTS: usize = 1 << 32;

/// The op id of key agreement messages (no op of a program has it).
const KEY_AGREEMENT: u32 = u32::MAX;

/// Agrees on a fresh key with every set of two or three parties this party belongs to: the
/// lowest-numbered member of each set draws it from the operating system and sends it to the
/// others over the (authenticated, and with TLS encrypted) channels. The party also draws a key
/// of its own (the set of itself alone), which it never sends.
pub fn agree_keys(
    n_parties: usize,
    me: PartyId,
    net: &mut dyn Transport,
    seed: Option<u64>,
) -> Result<KeyStore, RunError> {
    let mut sets: Vec<Vec<PartyId>> = Vec::new();
    for a in 0..n_parties {
        for b in a + 1..n_parties {
            sets.push(vec![a, b]);
            for c in b + 1..n_parties {
                sets.push(vec![a, b, c]);
            }
        }
    }
    let mut store = KeyStore::default();
    // This party's own key, for randomness no other party may know (securenn's helper draws
    // its comparison masks from it).
    let own = match seed {
        Some(seed) => SharedKey::from_seed(seed, (1 << 32) + me as u64),
        None => SharedKey::random().map_err(RunError::Io)?,
    };
    store.insert(vec![me], own);
    let mut pending = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        if !set.contains(&me) {
            continue;
        }
        let key = MsgKey {
            op: KEY_AGREEMENT,
            count: i as u64,
            step: 0,
        };
        if set[0] == me {
            let k = match seed {
                Some(seed) => SharedKey::from_seed(seed, i as u64),
                None => SharedKey::random().map_err(RunError::Io)?,
            };
            for other in &set[1..] {
                net.send(*other, key, Payload::Key(k.0))
                    .map_err(RunError::Net)?;
            }
            store.insert(set.clone(), k);
        } else {
            pending.push((set.clone(), key));
        }
    }
    // The keys this party leads leave now: a leader of every set it is in never waits below.
    net.flush().map_err(RunError::Net)?;
    for (set, key) in pending {
        match net.recv(set[0], key).map_err(RunError::Net)? {
            Payload::Key(k) => store.insert(set, SharedKey(k)),
            other => {
                return Err(RunError::BadMessage {
                    from: set[0],
                    detail: format!(
                        "expected a key for {key} (key agreement), got {}",
                        other.describe()
                    ),
                });
            }
        }
    }
    Ok(store)
}

/// What a protocol step needs: who we are, the keys, the network, and the op being run (whose
/// id and run count key its messages and draws).
#[allow(missing_debug_implementations, reason = "holds a `dyn Transport`")]
pub struct Ctx<'a> {
    pub me: PartyId,
    pub session: u64,
    pub keys: &'a KeyStore,
    pub net: &'a mut dyn Transport,
    pub op: OpId,
    pub count: u64,
    pub step: u16,
    /// The shape the program gives the op's result, when the executor passes it: what a party
    /// that holds no shares of its own checks a peer's shares against ([`Ctx::recv_result`]).
    pub result: Option<&'a [Dim]>,
}

impl Ctx<'_> {
    /// A fresh message key for the next protocol step. Every party of a placement calls this in
    /// the same order, whatever its part in the step, so the keys agree.
    pub fn key(&mut self) -> MsgKey {
        let k = MsgKey {
            op: self.op,
            count: self.count,
            step: self.step,
        };
        self.step += 1;
        k
    }

    /// Pseudo-random ring elements of `shape` that every party of `set` draws alike.
    pub fn draw<W: Word>(
        &self,
        set: &[PartyId],
        key: MsgKey,
        stream: u16,
        shape: &[usize],
    ) -> Result<RingTensor<W>, RunError> {
        let n: usize = shape.iter().product();
        let data = prg::draw(self.keys.get(set)?, self.session, key, stream, n);
        Ok(ArrayD::from_shape_vec(IxDyn(shape), data).expect("n elements"))
    }

    /// Combines what [`Ctx::draw`] would give for the same arguments into `dest` (a tensor laid
    /// out in order, such as a draw), element by element with `f`, without a second buffer.
    pub fn draw_into<W: Word>(
        &self,
        set: &[PartyId],
        key: MsgKey,
        stream: u16,
        dest: &mut RingTensor<W>,
        f: impl Fn(W, W) -> W,
    ) -> Result<(), RunError> {
        let words = dest
            .as_slice_mut()
            .ok_or_else(|| RunError::Internal("a draw into a tensor out of order".into()))?;
        prg::combine_into(self.keys.get(set)?, self.session, key, stream, words, f);
        Ok(())
    }

    /// `n` pseudo-random bytes that every party of `set` draws alike (the first `n` bytes of
    /// [`Ctx::draw`]'s words for the same arguments).
    pub fn draw_bytes(
        &self,
        set: &[PartyId],
        key: MsgKey,
        stream: u16,
        n: usize,
    ) -> Result<Vec<u8>, RunError> {
        let words: Vec<u64> = prg::draw(
            self.keys.get(set)?,
            self.session,
            key,
            stream,
            n.div_ceil(8),
        );
        // Little-endian whatever the machine, so parties on any two machines agree.
        let mut bytes: Vec<u8> = if cfg!(target_endian = "little") {
            bytemuck::cast_slice(&words).to_vec()
        } else {
            words.iter().flat_map(|w| w.to_le_bytes()).collect()
        };
        bytes.truncate(n);
        Ok(bytes)
    }

    pub fn send<W: Word>(
        &mut self,
        to: PartyId,
        key: MsgKey,
        t: RingTensor<W>,
    ) -> Result<(), RunError> {
        self.net.send(to, key, W::payload(t)).map_err(RunError::Net)
    }

    /// Receives ring elements; a message of another kind or (when `shape` is given) of another
    /// shape is the sender's fault, and ends the run naming it.
    pub fn recv<W: Word>(&mut self, from: PartyId, key: MsgKey) -> Result<RingTensor<W>, RunError> {
        match W::from_payload(self.net.recv(from, key).map_err(RunError::Net)?) {
            Ok(t) => Ok(t),
            Err(other) => Err(RunError::BadMessage {
                from,
                detail: format!("expected shares for {key}, got {}", other.describe()),
            }),
        }
    }

    /// [`Ctx::recv`] of a tensor whose shape the receiver knows.
    pub fn recv_shaped<W: Word>(
        &mut self,
        from: PartyId,
        key: MsgKey,
        shape: &[usize],
    ) -> Result<RingTensor<W>, RunError> {
        let t = self.recv(from, key)?;
        if t.shape() != shape {
            return Err(RunError::BadMessage {
                from,
                detail: format!(
                    "expected shares of shape {shape:?} for {key}, got shape {:?}",
                    t.shape()
                ),
            });
        }
        Ok(t)
    }

    /// [`Ctx::recv`] of shares of the op's result, by a party that has no shape of its own to
    /// check them against: checked against the program's shape of the result (its rank and
    /// every dimension known when compiled), so that the sender of a wrong one is named.
    pub fn recv_result<W: Word>(
        &mut self,
        from: PartyId,
        key: MsgKey,
    ) -> Result<RingTensor<W>, RunError> {
        let t = self.recv(from, key)?;
        if let Some(pattern) = self.result {
            let fits = t.ndim() == pattern.len()
                && t.shape().iter().zip(pattern).all(|(n, d)| match d {
                    Dim::Known(k) => *n as u64 == *k,
                    Dim::Runtime => true,
                });
            if !fits {
                return Err(RunError::BadMessage {
                    from,
                    detail: format!(
                        "expected shares of shape {} for {key}, got shape {:?}",
                        crate::exec::pattern(pattern),
                        t.shape()
                    ),
                });
            }
        }
        Ok(t)
    }

    /// [`Ctx::recv_result`] of shares that must have the shape of `first`, received from
    /// `first_from`: when they differ in a dimension the program leaves to run time, this party
    /// cannot tell which sender broke the protocol, and names both.
    pub fn recv_agreeing<W: Word>(
        &mut self,
        from: PartyId,
        key: MsgKey,
        first_from: PartyId,
        first: &RingTensor<W>,
    ) -> Result<RingTensor<W>, RunError> {
        let t = self.recv_result(from, key)?;
        if t.shape() != first.shape() {
            return Err(RunError::BadMessage {
                from,
                detail: format!(
                    "its shares for {key} are of shape {:?} and those of party #{first_from} of \
                     shape {:?}: one of the two broke the protocol",
                    t.shape(),
                    first.shape()
                ),
            });
        }
        Ok(t)
    }

    /// Sends small numbers, one byte each.
    pub fn send_bytes(&mut self, to: PartyId, key: MsgKey, bytes: Vec<u8>) -> Result<(), RunError> {
        let n = bytes.len();
        let t = ArrayD::from_shape_vec(IxDyn(&[n]), bytes).expect("n bytes");
        self.net
            .send(to, key, Payload::Bytes(t))
            .map_err(RunError::Net)
    }

    /// Receives `n` small numbers sent with [`Ctx::send_bytes`]; anything else is the sender's
    /// fault.
    pub fn recv_bytes(
        &mut self,
        from: PartyId,
        key: MsgKey,
        n: usize,
    ) -> Result<Vec<u8>, RunError> {
        match self.net.recv(from, key).map_err(RunError::Net)? {
            Payload::Bytes(t) if t.len() == n && t.ndim() == 1 => Ok(if t.is_standard_layout() {
                t.into_raw_vec_and_offset().0
            } else {
                t.iter().copied().collect()
            }),
            other => Err(RunError::BadMessage {
                from,
                detail: format!("expected {n} bytes for {key}, got {}", other.describe()),
            }),
        }
    }

    pub fn send_shape(
        &mut self,
        to: PartyId,
        key: MsgKey,
        shape: &[usize],
    ) -> Result<(), RunError> {
        self.net
            .send(to, key, Payload::Shape(shape.to_vec()))
            .map_err(RunError::Net)
    }

    pub fn recv_shape(&mut self, from: PartyId, key: MsgKey) -> Result<Vec<usize>, RunError> {
        match self.net.recv(from, key).map_err(RunError::Net)? {
            Payload::Shape(s) => {
                let elements = s.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
                if s.len() > MAX_RANK || elements.is_none_or(|n| n > MAX_ELEMENTS) {
                    return Err(RunError::BadMessage {
                        from,
                        detail: format!("the shape {s:?} for {key} is larger than a party holds"),
                    });
                }
                Ok(s)
            }
            other => Err(RunError::BadMessage {
                from,
                detail: format!("expected a shape for {key}, got {}", other.describe()),
            }),
        }
    }

    /// Sends what is queued now. A party that only sends in a protocol (pond's dealer) calls
    /// this after each op, since it never waits (which is what flushes otherwise).
    pub fn flush(&mut self) -> Result<(), RunError> {
        self.net.flush().map_err(RunError::Net)
    }
}
