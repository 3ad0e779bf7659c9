//! Shares kept between runs: `write_shares(x, "name")` and `read_shares("name")`.
//!
//! Each member of the placement that holds components (all of aby3's; pond's and securenn's two
//! servers, not the dealer) stores its own share in its own data directory, as `NAME.shares`.
//! No party ever holds another's share, so a stored model is as secret as the running one.
//!
//! The file (docs/shares.md): the magic `TFESHARE`, a version (u32, little-endian), the length
//! of the header (u32), the header as UTF-8 text lines, the payload (each part's components in
//! order, each one's elements as little-endian words of the ring's width, 8 or 16 bytes, in C
//! order), and an FNV-1a checksum (u64) of
//! everything before it. The header binds what the bytes mean: the protocol, ring and frac, the
//! placement and its parties, this party's role, the save id, the type and each part's scalar,
//! shape and component count.
//!
//! Storing: the first holder draws a save id from the operating system (never from a run's
//! seed: two saves must differ even in reproducible runs) and sends it to the other holders;
//! each writes its file under a temporary name, then tells the others it is done (its save
//! id); a holder renames its file only once all have. Two rounds. A run that stops before then,
//! at any holder, leaves every holder's previous save as it was; one that stops between two
//! holders' renames leaves files of two saves, which the next load refuses.
//!
//! Loading: each holder reads and checks its file against the program (missing file, damage,
//! protocol, ring, frac, parties, role, type, shapes), then the holders exchange their save ids
//! and a digest of their headers, and each compares: files of different saves, or of another
//! type or placement at another party, end the run at every holder, naming the file. A member
//! that holds nothing learns the shapes from the first holder. The lowering refreshes every
//! loaded sharing right after ([`crate::protocol::Protocol::refresh`]), so the shares a run
//! computes with are not the ones on disk.

use std::path::{Path, PathBuf};

use ndarray::IxDyn;
use tfe_ir::{Dim, PartyId, Program, Reg, Role, Scalar, SecretId, Size, StoredType};

use crate::RunError;
use crate::csvio::Staged;
use crate::protocol::{Ctx, Protocol, Shares, Table};
use crate::ring::{RingTensor, Word};

/// The first bytes of every share file.
pub const MAGIC: &[u8; 8] = b"TFESHARE";
/// The format's version.
pub const VERSION: u32 = 1;
/// The file of a stored value `name` in a data directory.
pub fn file_name(name: &str) -> String {
    format!("{name}.shares")
}

/// One part of a stored value: a tensor, or one field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field's name; `-` for a tensor.
    pub name: String,
    pub scalar: Scalar,
    pub shape: Vec<usize>,
    /// How many components of it this party holds.
    pub components: usize,
}

/// What a share file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub protocol: String,
    pub ring: u32,
    pub frac: u32,
    pub placement: String,
    pub parties: Vec<String>,
    pub role: usize,
    pub save: [u64; 2],
    /// The struct's name, or `tensor`.
    pub ty: String,
    pub parts: Vec<Part>,
}

impl Header {
    fn to_text(&self) -> String {
        let mut out = format!(
            "protocol {}\nring {}\nfrac {}\nplacement {}\nparties {}\nrole {}\nsave {:016x}{:016x}\ntype {}\n",
            self.protocol,
            self.ring,
            self.frac,
            self.placement,
            self.parties.join(" "),
            self.role,
            self.save[0],
            self.save[1],
            self.ty
        );
        for p in &self.parts {
            let dims: Vec<String> = p.shape.iter().map(usize::to_string).collect();
            out.push_str(&format!(
                "part {} {} [{}] {}\n",
                p.name,
                p.scalar.name(),
                dims.join(","),
                p.components
            ));
        }
        out
    }

    fn parse(text: &str) -> Result<Header, String> {
        let mut h = Header {
            protocol: String::new(),
            ring: 0,
            frac: 0,
            placement: String::new(),
            parties: Vec::new(),
            role: 0,
            save: [0; 2],
            ty: String::new(),
            parts: Vec::new(),
        };
        let mut seen = Vec::new();
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let number = |v: &str| v.parse::<u32>().map_err(|_| format!("bad {key} `{v}`"));
            match key {
                "protocol" => h.protocol = value.to_string(),
                "ring" => h.ring = number(value)?,
                "frac" => h.frac = number(value)?,
                "placement" => h.placement = value.to_string(),
                "parties" => h.parties = value.split(' ').map(str::to_string).collect(),
                "role" => h.role = number(value)? as usize,
                "save" => {
                    let bad = || format!("bad save id `{value}`");
                    if value.len() != 32 {
                        return Err(bad());
                    }
                    for (k, half) in [&value[..16], &value[16..]].iter().enumerate() {
                        h.save[k] = u64::from_str_radix(half, 16).map_err(|_| bad())?;
                    }
                }
                "type" => h.ty = value.to_string(),
                "part" => h.parts.push(parse_part(value)?),
                other => return Err(format!("unknown header line `{other}`")),
            }
            seen.push(key);
        }
        for key in [
            "protocol",
            "ring",
            "frac",
            "placement",
            "parties",
            "role",
            "save",
            "type",
        ] {
            if !seen.contains(&key) {
                return Err(format!("the header has no `{key}` line"));
            }
        }
        Ok(h)
    }

    /// A digest of what every member's header must agree on (all but the role and the save).
    fn digest(&self) -> u64 {
        let mut same = self.clone();
        same.role = 0;
        same.save = [0; 2];
        fnv1a(same.to_text().as_bytes())
    }
}

fn parse_part(value: &str) -> Result<Part, String> {
    let bad = || format!("bad part line `part {value}`");
    let fields: Vec<&str> = value.split(' ').collect();
    let [name, scalar, shape, components] = fields.as_slice() else {
        return Err(bad());
    };
    let scalar = match *scalar {
        "fixed" => Scalar::Fixed,
        "int" => Scalar::Int,
        "bool" => Scalar::Bool,
        _ => return Err(bad()),
    };
    let dims = shape
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    let shape = if dims.is_empty() {
        Vec::new()
    } else {
        dims.split(',')
            .map(|d| d.parse::<usize>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    Ok(Part {
        name: name.to_string(),
        scalar,
        shape,
        components: components.parse().map_err(|_| bad())?,
    })
}

/// FNV-1a, 64 bits: the checksum of a share file (it finds damage, not tampering: the parties'
/// files are their own; the save ids and header digests are compared across parties).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Each part's components, as read from a file.
pub type Components<W> = Vec<Vec<RingTensor<W>>>;

/// The bytes of a share file.
pub fn encode<W: Word>(header: &Header, parts: &[&Shares<W>]) -> Vec<u8> {
    let text = header.to_text();
    let words: usize = parts
        .iter()
        .map(|s| s.len() * s.parts().len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(24 + text.len() + W::BITS as usize / 8 * words);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for shares in parts {
        for component in shares.parts() {
            for w in component.iter() {
                w.write_le(&mut out);
            }
        }
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A share file read back: its header and each part's components. A file of another ring than
/// `W`'s gives its header and no parts: the caller names the mismatch.
pub fn decode<W: Word>(bytes: &[u8]) -> Result<(Header, Components<W>), String> {
    if bytes.len() < 24 || &bytes[..8] != MAGIC {
        return Err("not a tfe share file".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err("the file is damaged (its checksum does not match)".into());
    }
    let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(format!(
            "format version {version}; this tfec reads version {VERSION}"
        ));
    }
    let len = u32::from_le_bytes(body[12..16].try_into().expect("4 bytes")) as usize;
    let text = body
        .get(16..16 + len)
        .and_then(|t| std::str::from_utf8(t).ok())
        .ok_or("the header is cut short or not text")?;
    let header = Header::parse(text)?;
    if header.ring != W::BITS {
        return Ok((header, Vec::new()));
    }
    let width = W::BITS as usize / 8;
    let mut at = 16 + len;
    let mut parts = Vec::new();
    for part in &header.parts {
        let n = part
            .shape
            .iter()
            .try_fold(1usize, |n, d| n.checked_mul(*d))
            .ok_or("a part's shape overflows")?;
        let mut components = Vec::new();
        for _ in 0..part.components {
            let end = n
                .checked_mul(width)
                .and_then(|b| b.checked_add(at))
                .filter(|end| *end <= body.len())
                .ok_or("the file is shorter than its header says")?;
            let words: Vec<W> = body[at..end].chunks_exact(width).map(W::read_le).collect();
            at = end;
            components
                .push(RingTensor::from_shape_vec(IxDyn(&part.shape), words).expect("n elements"));
        }
        parts.push(components);
    }
    if at != body.len() {
        return Err("the file is longer than its header says".into());
    }
    Ok((header, parts))
}

/// The roles of the members that hold components, in order.
fn holders<W: Word>(p: &dyn Protocol<W>) -> Vec<usize> {
    (0..p.members().len()).filter(|r| p.holds(*r)).collect()
}

/// The members of the placement that hold components, as parties.
fn holder_parties<W: Word>(p: &dyn Protocol<W>) -> Vec<PartyId> {
    holders(p).iter().map(|r| p.members()[*r]).collect()
}

/// What a store or a load needs to know of the program.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub program: &'a Program,
    pub secret: SecretId,
    pub name: &'a str,
    pub ty: &'a StoredType,
    /// The op's registers: the values stored, or loaded.
    pub regs: &'a [Reg],
    pub data_dir: &'a Path,
}

impl Site<'_> {
    fn path(&self) -> PathBuf {
        self.data_dir.join(file_name(self.name))
    }

    fn header<W: Word>(
        &self,
        p: &dyn Protocol<W>,
        role: usize,
        save: [u64; 2],
        parts: Vec<Part>,
    ) -> Header {
        let info = &self.program.secrets[self.secret];
        Header {
            protocol: p.name().to_string(),
            ring: info.ring_bits,
            frac: info.frac_bits,
            placement: info.name.clone(),
            parties: info
                .parties
                .iter()
                .map(|q| self.program.parties[*q].clone())
                .collect(),
            role,
            save,
            ty: self.ty.name.clone().unwrap_or_else(|| "tensor".into()),
            parts,
        }
    }

    fn part_name(&self, k: usize) -> String {
        match self.ty.name {
            Some(_) => self.ty.fields[k].clone(),
            None => "-".into(),
        }
    }

    fn scalar(&self, k: usize) -> Scalar {
        self.program.regs[self.regs[k] as usize].scalar
    }

    fn dims(&self, k: usize) -> &[Dim] {
        &self.program.regs[self.regs[k] as usize].shape
    }

    /// "part `w1` of `digits_model`", or "`digits_model`" for a tensor.
    fn what(&self, k: usize) -> String {
        match self.ty.name {
            Some(_) => format!("field `{}`", self.ty.fields[k]),
            None => "the tensor".into(),
        }
    }
}

/// A fresh save id, from the operating system.
fn new_save_id() -> Result<[u64; 2], RunError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| RunError::Io(format!("no randomness for a save id: {e}")))?;
    Ok([
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        u64::from_le_bytes(b[8..].try_into().expect("8 bytes")),
    ])
}

fn words(values: &[u64]) -> RingTensor {
    RingTensor::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).expect("n words")
}

fn save_text(save: &[u64]) -> String {
    save.iter().map(|w| format!("{w:016x}")).collect()
}

/// `write_shares`: this member's part of storing `values` (one sharing per part).
pub fn store<W: Word>(
    p: &dyn Protocol<W>,
    ctx: &mut Ctx<'_>,
    site: &Site<'_>,
    values: &[&Shares<W>],
) -> Result<(), RunError> {
    let id_key = ctx.key();
    let done_key = ctx.key();
    let role = p.role(ctx)?;
    if !p.holds(role) {
        return Ok(());
    }
    let holders = holder_parties(p);
    let peers: Vec<PartyId> = holders.iter().copied().filter(|q| *q != ctx.me).collect();
    let save = if ctx.me == holders[0] {
        let save = new_save_id()?;
        for q in &peers {
            ctx.send(*q, id_key, words(&save))?;
        }
        // Sent now, so that the holders write their files at the same time.
        ctx.flush()?;
        save
    } else {
        let id = ctx.recv_shaped(holders[0], id_key, &[2])?;
        [id[[0]], id[[1]]]
    };
    let parts: Vec<Part> = values
        .iter()
        .enumerate()
        .map(|(k, s)| Part {
            name: site.part_name(k),
            scalar: site.scalar(k),
            shape: s.shape().to_vec(),
            components: s.parts().len(),
        })
        .collect();
    let header = site.header(p, role, save, parts);
    let path = site.path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Io(format!("cannot create {}: {e}", dir.display())))?;
        remove_leftovers(dir, &file_name(site.name));
    }
    let staged = Staged::write(&path, &encode(&header, values), true)
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", path.display())))?;
    // Written here; renamed once every holder has written too.
    for q in &peers {
        ctx.send(*q, done_key, words(&save))?;
    }
    for q in &peers {
        let theirs = ctx.recv_shaped(*q, done_key, &[2])?;
        if theirs.as_slice() != Some(&save[..]) {
            return Err(RunError::BadMessage {
                from: *q,
                detail: format!(
                    "it stored `{}` under save {} and this party under save {}",
                    site.name,
                    save_text(theirs.as_slice().unwrap_or(&[])),
                    save_text(&save)
                ),
            });
        }
    }
    staged
        .commit()
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Removes the temporary files of `file` that a killed store left in `dir` (`.FILE.tmp-…`: they
/// hold a share, and nothing else would ever remove them).
fn remove_leftovers(dir: &Path, file: &str) {
    let prefix = format!(".{file}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The messages of [`store`]: the first holder sends the save id to the others, then each
/// holder tells every other one it has written (2 words each).
pub fn store_table<W: Word>(p: &dyn Protocol<W>, t: &mut Table) {
    let id = t.key();
    let done = t.key();
    let holders = holders(p);
    let ids: Vec<usize> = holders[1..]
        .iter()
        .map(|b| {
            t.send(
                id,
                Role::Member(holders[0]),
                Role::Member(*b),
                Size::Words(2),
            )
        })
        .collect();
    for m in ids {
        t.recv(m);
    }
    let mut sent = Vec::new();
    for a in &holders {
        for b in holders.iter().filter(|b| *b != a) {
            sent.push(t.send(done, Role::Member(*a), Role::Member(*b), Size::Words(2)));
        }
    }
    for m in sent {
        t.recv(m);
    }
}

/// `read_shares`: this member's shares of each part, checked against the program and against
/// the other holders' files. (The caller refreshes them.)
pub fn load<W: Word>(
    p: &dyn Protocol<W>,
    ctx: &mut Ctx<'_>,
    site: &Site<'_>,
) -> Result<Vec<Shares<W>>, RunError> {
    let check_key = ctx.key();
    let shape_key = ctx.key();
    let role = p.role(ctx)?;
    let holders = holder_parties(p);
    let others: Vec<PartyId> = (0..p.members().len())
        .filter(|r| !p.holds(*r))
        .map(|r| p.members()[r])
        .collect();
    let known: Option<Vec<Vec<usize>>> = (0..site.regs.len())
        .map(|k| {
            site.dims(k)
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => Some(*n as usize),
                    Dim::Runtime => None,
                })
                .collect()
        })
        .collect();
    if !p.holds(role) {
        if let Some(shapes) = known {
            return Ok(shapes.iter().map(|s| Shares::shape_only(s)).collect());
        }
        // The shapes, from the first holder, checked against the program's.
        let first = holders[0];
        let ranks: usize = (0..site.regs.len()).map(|k| site.dims(k).len()).sum();
        let dims = ctx.recv_shaped::<u64>(first, shape_key, &[ranks])?;
        let mut dims = dims.iter().map(|d| *d as usize);
        let mut out = Vec::new();
        for k in 0..site.regs.len() {
            let shape: Vec<usize> = dims.by_ref().take(site.dims(k).len()).collect();
            if !fits(&shape, site.dims(k)) {
                return Err(RunError::BadMessage {
                    from: first,
                    detail: format!(
                        "it loaded {} of `{}` with shape {shape:?}, which is not the program's {}",
                        site.what(k),
                        site.name,
                        crate::exec::pattern(site.dims(k))
                    ),
                });
            }
            out.push(Shares::shape_only(&shape));
        }
        return Ok(out);
    }
    let path = site.path();
    let (header, parts) = read_checked(p, ctx.me, role, site, &path)?;
    // The other holders' save ids and digests against this party's.
    let mine = [header.save[0], header.save[1], header.digest()];
    let peers: Vec<PartyId> = holders.iter().copied().filter(|q| *q != ctx.me).collect();
    for q in &peers {
        ctx.send(*q, check_key, words(&mine))?;
    }
    for q in &peers {
        let theirs = ctx.recv_shaped(*q, check_key, &[3])?;
        let theirs = theirs.as_slice().unwrap_or(&[]);
        let name = &site.program.parties[*q];
        if theirs[..2] != mine[..2] {
            return Err(RunError::Io(format!(
                "{}: this file is of save {} and `{name}`'s file of save {}: the files are of \
                 different saves (each party of a placement must load the files of one \
                 `write_shares`)",
                path.display(),
                save_text(&mine[..2]),
                save_text(&theirs[..2])
            )));
        }
        if theirs[2] != mine[2] {
            return Err(RunError::Io(format!(
                "{}: `{name}`'s file of this save describes another value or placement than \
                 this one (the files were changed after they were stored)",
                path.display()
            )));
        }
    }
    // The shapes for the members that hold nothing, when the program does not give them.
    if role == holders_role0(p) && !others.is_empty() && known.is_none() {
        let dims: Vec<u64> = header
            .parts
            .iter()
            .flat_map(|part| part.shape.iter().map(|d| *d as u64))
            .collect();
        for q in &others {
            ctx.send(*q, shape_key, words(&dims))?;
        }
    }
    parts
        .into_iter()
        .map(Shares::new)
        .collect::<Result<Vec<_>, _>>()
}

fn holders_role0<W: Word>(p: &dyn Protocol<W>) -> usize {
    holders(p)[0]
}

/// The messages of [`load`]: each holder sends every other one its save id and header digest
/// (3 words); when the program leaves a dimension to run time (`runtime_dims`), the first holder
/// sends the shapes (`ranks` words) to each member holding nothing.
pub fn load_table<W: Word>(p: &dyn Protocol<W>, t: &mut Table, ranks: u64, runtime_dims: bool) {
    let check = t.key();
    let shape = t.key();
    let holders = holders(p);
    let mut sent = Vec::new();
    for a in &holders {
        for b in holders.iter().filter(|b| *b != a) {
            sent.push(t.send(check, Role::Member(*a), Role::Member(*b), Size::Words(3)));
        }
    }
    for m in sent {
        t.recv(m);
    }
    for r in (0..p.members().len()).filter(|r| !p.holds(*r) && runtime_dims) {
        let m = t.send(
            shape,
            Role::Member(holders[0]),
            Role::Member(r),
            Size::Words(ranks),
        );
        t.recv(m);
    }
}

/// Whether a shape fits the program's declared dimensions (`_` fits any size).
fn fits(shape: &[usize], dims: &[Dim]) -> bool {
    shape.len() == dims.len()
        && shape.iter().zip(dims).all(|(n, d)| match d {
            Dim::Known(k) => *n as u64 == *k,
            Dim::Runtime => true,
        })
}

/// Reads this holder's file and checks it against the program: every mismatch an error naming
/// the file.
fn read_checked<W: Word>(
    p: &dyn Protocol<W>,
    me: PartyId,
    role: usize,
    site: &Site<'_>,
    path: &Path,
) -> Result<(Header, Components<W>), RunError> {
    let fail = |what: String| RunError::Io(format!("{}: {what}", path.display()));
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "no shares stored under `{}` at this party (a run with `write_shares(…, \"{}\")` \
                 stores them)",
                site.name, site.name
            )));
        }
        Err(e) => return Err(fail(format!("cannot read: {e}"))),
    };
    let (header, parts) = decode(&bytes).map_err(fail)?;
    let expected = site.header(p, role, header.save, Vec::new());
    let differ = |what: &str, stored: String, here: String| {
        fail(format!(
            "the shares were stored with {what} {stored}, and this program loads them with {what} {here}"
        ))
    };
    if header.protocol != expected.protocol {
        return Err(differ("protocol", header.protocol, expected.protocol));
    }
    if header.ring != expected.ring || header.frac != expected.frac {
        return Err(differ(
            "ring and frac",
            format!("{}/{}", header.ring, header.frac),
            format!("{}/{}", expected.ring, expected.frac),
        ));
    }
    if header.parties != expected.parties {
        return Err(differ(
            "the parties",
            header.parties.join(", "),
            expected.parties.join(", "),
        ));
    }
    if header.role != role {
        return Err(fail(format!(
            "this is the share of `{}` (role {} of {}), and `{}` is role {role}: each party \
             must load its own file",
            header.parties.get(header.role).map_or("?", String::as_str),
            header.role,
            header.parties.join(", "),
            site.program.parties[me]
        )));
    }
    let names: Vec<&str> = header.parts.iter().map(|q| q.name.as_str()).collect();
    let wanted: Vec<String> = (0..site.regs.len()).map(|k| site.part_name(k)).collect();
    if header.ty != expected.ty || names != wanted {
        let describe = |ty: &str, names: &[&str]| {
            if ty == "tensor" {
                "a tensor".to_string()
            } else {
                format!("struct {ty} {{ {} }}", names.join(", "))
            }
        };
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        return Err(differ(
            "type",
            describe(&header.ty, &names),
            describe(&expected.ty, &wanted),
        ));
    }
    let components = p
        .public(me, &RingTensor::from_elem(IxDyn(&[0]), W::ZERO))?
        .parts()
        .len();
    for (k, part) in header.parts.iter().enumerate() {
        if part.scalar != site.scalar(k) || !fits(&part.shape, site.dims(k)) {
            return Err(differ(
                &format!("{} as", site.what(k)),
                format!("{}{:?}", part.scalar.name(), part.shape),
                format!(
                    "{}{}",
                    site.scalar(k).name(),
                    crate::exec::pattern(site.dims(k))
                ),
            ));
        }
        if part.components != components {
            return Err(fail(format!(
                "{} has {} components; a member of {} holds {components}",
                site.what(k),
                part.components,
                p.name()
            )));
        }
    }
    Ok((header, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            protocol: "aby3".into(),
            ring: 64,
            frac: 16,
            placement: "rep".into(),
            parties: vec!["s0".into(), "s1".into(), "s2".into()],
            role: 1,
            save: [0x0123_4567_89ab_cdef, 42],
            ty: "Mlp".into(),
            parts: vec![
                Part {
                    name: "w".into(),
                    scalar: Scalar::Fixed,
                    shape: vec![2, 3],
                    components: 2,
                },
                Part {
                    name: "b".into(),
                    scalar: Scalar::Int,
                    shape: vec![],
                    components: 2,
                },
            ],
        }
    }

    fn shares(shape: &[usize], base: u64) -> Shares {
        let n: usize = shape.iter().product();
        let t = |k: u64| {
            RingTensor::from_shape_vec(
                IxDyn(shape),
                (0..n as u64).map(|i| base.wrapping_mul(i + k)).collect(),
            )
            .unwrap()
        };
        Shares::pair(t(1), t(7))
    }

    #[test]
    fn a_file_reads_back_as_written() {
        let (w, b) = (shares(&[2, 3], u64::MAX - 5), shares(&[], 3));
        let bytes = encode(&header(), &[&w, &b]);
        assert_eq!(&bytes[..8], MAGIC);
        let (h, parts) = decode::<u64>(&bytes).unwrap();
        assert_eq!(h, header());
        assert_eq!(parts, vec![w.parts().to_vec(), b.parts().to_vec()]);
        // The header is text a person can read with `head`.
        let text = std::str::from_utf8(&bytes[16..16 + h.to_text().len()]).unwrap();
        assert!(
            text.contains("save 0123456789abcdef000000000000002a\n"),
            "{text}"
        );
        assert!(
            text.contains("part w fixed [2,3] 2\npart b int [] 2\n"),
            "{text}"
        );
    }

    #[test]
    fn damage_is_found() {
        let (w, b) = (shares(&[2, 3], 99), shares(&[], 3));
        let bytes = encode(&header(), &[&w, &b]);
        for i in [0, 9, 20, bytes.len() - 30, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(
                decode::<u64>(&bad).is_err(),
                "a flipped bit at byte {i} went unnoticed"
            );
        }
        for n in [0, 10, 24, bytes.len() - 8, bytes.len() - 1] {
            assert!(
                decode::<u64>(&bytes[..n]).is_err(),
                "a file cut at {n} bytes was read"
            );
        }
        let mut longer = bytes[..bytes.len() - 8].to_vec();
        longer.extend_from_slice(&[0; 8]);
        let sum = fnv1a(&longer);
        longer.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(
            decode::<u64>(&longer).unwrap_err(),
            "the file is longer than its header says"
        );
    }

    #[test]
    fn the_digest_ignores_only_the_role_and_the_save() {
        let a = header();
        let mut b = header();
        b.role = 2;
        b.save = [1, 2];
        assert_eq!(a.digest(), b.digest());
        b.parts[0].shape = vec![3, 2];
        assert_ne!(a.digest(), b.digest());
        let mut c = header();
        c.frac = 20;
        assert_ne!(a.digest(), c.digest());
    }
}
