//! The protocol IR: the one contract between the tfe compiler and its runtime.
//!
//! ```text
//! compiler: HIR -[lower]-> ir::Program (the whole choreography) -[project]-> ir::Program per party
//! runtime:  executes one party's program: plaintext kernels, its shares' kernels, messages
//! ```
//!
//! A program is structured code over **registers**. Every register has a placement: public
//! (each party holds a copy), a party (that party holds the plaintext), or a secret placement
//! (each member holds its shares). An operation runs at the parties its placement names, each on
//! its own copy or shares, and data moves between placements only through [`Op::Share`] and
//! [`Op::Reveal`], whose messages the protocol defines ([`messages`] lists them). Loops stay
//! loops: nothing is unrolled, so the size of a program does not grow with its iteration counts.
//!
//! Every operation has a unique [`OpId`]. A message is identified by a [`MsgKey`]: the op, how
//! many times this party has executed that op before (so every loop iteration and every run of
//! an op has fresh keys and fresh randomness), and the step within the protocol.

use std::fmt::{self, Write};

pub type PartyId = usize;
pub type SecretId = usize;
pub type Reg = u32;
pub type OpId = u32;

/// Where a register's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    Public,
    Party(PartyId),
    Secret(SecretId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Replicated sharing among three parties (honest majority).
    Aby3,
    /// Additive sharing between two servers; the third member deals correlated randomness.
    Pond,
    /// pond's sharing; the third member also helps in exact comparisons (SecureNN).
    SecureNn,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Aby3 => "aby3",
            Protocol::Pond => "pond",
            Protocol::SecureNn => "securenn",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretInfo {
    pub name: String,
    pub protocol: Protocol,
    /// The members in protocol order: the role of a member is its index here.
    pub parties: Vec<PartyId>,
    pub ring_bits: u32,
    pub frac_bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    Fixed,
    Int,
    Bool,
    Float,
}

impl Scalar {
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Fixed => "fixed",
            Scalar::Int => "int",
            Scalar::Bool => "bool",
            Scalar::Float => "float",
        }
    }
}

/// A dimension: known when compiled, or only when run (checked by the runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(u64),
    Runtime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegInfo {
    /// The source name it holds (`w`), or a temporary's name (`t12`).
    pub name: String,
    pub scalar: Scalar,
    pub shape: Vec<Dim>,
    pub placement: Placement,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub parties: Vec<String>,
    pub secrets: Vec<SecretInfo>,
    pub regs: Vec<RegInfo>,
    pub body: Vec<Node>,
    /// One more than the largest op id.
    pub n_ops: u32,
    /// Where in the program's source each op comes from, by op id: the byte range of the
    /// expression of the user's code it lowers (for an op of a library function, the user's
    /// call), if any. Opaque to everything but reports that point at lines (`--emulate`).
    pub sources: Vec<Option<(u32, u32)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: OpId,
    pub op: Op,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal {
    Fixed(f64),
    Int(i64),
    Bool(bool),
}

/// How one index position of [`Kernel::Index`] reads its bounds from the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// One bound register: a single position (the axis disappears).
    Single,
    /// Two bound registers: the half-open range `start .. end`.
    Range,
}

/// The geometry of `im2col`: images of `h × w` pixels with `c` channels, each flattened
/// channel-last into one row (index `(y * w + x) * c + ch`); windows of `kh × kw` pixels, `stride`
/// apart, over the image padded with `pad` zeros on every side.
///
/// The result has one row per (image, window row, window column), in that order, and one column
/// per (ky, kx, ch), in that order: `kh · kw · c` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Window {
    /// Window positions down and across: `(h + 2 pad - kh) / stride + 1` and likewise.
    pub fn out(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.kh) / self.stride + 1,
            (self.w + 2 * self.pad - self.kw) / self.stride + 1,
        )
    }
}

/// The format of a party's data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Comma-separated text: `read_csv`, `write_csv`.
    Csv,
    /// NumPy's `.npy`: `read_npy`, `write_npy`.
    Npy,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Npy => "npy",
        }
    }
}

/// A computation on values of one placement. At a secret placement, the runtime's protocol
/// computes it on shares; elsewhere, on plaintext.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    Const(Literal),
    Copy,
    Neg,
    Not,
    Add,
    Sub,
    /// Elementwise product; at a secret placement, `trunc` fractional bits are removed from the
    /// product (a fixed-point product), fused into the product's round.
    Mul {
        trunc: u32,
    },
    Div,
    Rem,
    And,
    Or,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    MatMul {
        trunc: u32,
    },
    Sum {
        axis: Option<usize>,
    },
    /// The maximum along an axis (which disappears), or of all elements.
    Max {
        axis: Option<usize>,
    },
    /// The index of a maximum along an axis (which disappears), or in the flattened tensor.
    ArgMax {
        axis: Option<usize>,
    },
    /// The maximum of each row of a matrix `[r, n]` and the one-hot (fixed-point 1.0) of its
    /// first maximal entry, from one tournament: `[r, n + 1]`, the one-hot in columns `0 .. n`
    /// and the maximum in column `n`. The gradient pass uses it where a maximum is
    /// differentiated, so that the gradient goes to the entry the forward pass chose.
    MaxOneHot,
    Transpose,
    /// The windows of a batch of images as rows (`im2col`): a convolution is then one matrix
    /// product, and a pooling one reduction. A public gather, so local on shares.
    Im2Col(Window),
    /// The adjoint of `Im2Col` (`col2im`): window rows summed back into images, the backward
    /// pass of a convolution. A public scatter-add, so local on shares.
    Col2Im(Window),
    /// `col2im(matmul(x, y))` with `trunc` fractional bits removed, at a secret placement: the
    /// product's local parts are summed into images before they are reshared, so the message
    /// is the images, not the windows (kh·kw/stride² times fewer words for a convolution's input
    /// gradient), and one truncation follows the sums. The compiler's `fold` pass makes it from
    /// a matrix product read only by a `col2im`.
    MatMulCol2Im {
        trunc: u32,
        window: Window,
    },
    /// `log2_lookup(x, table, from: k)`: per element, `table[e - k]` where `2^e <= x < 2^(e+1)`,
    /// and 0 where `e` is outside `k .. k + len(table)` (so for `x <= 0`). The table is a list
    /// of constants.
    /// It lets a library scale a value into a narrow range (`x · 2^-e`) and back, which is how
    /// `reciprocal` and `inv_sqrt` cover wide ranges.
    Log2Lookup {
        from: i64,
        table: Vec<f64>,
    },
    /// Arguments: the value, then one size register per dimension.
    Reshape,
    Concat {
        axis: usize,
    },
    /// Arguments: the base, then the bound registers of each position.
    Index {
        items: Vec<IndexKind>,
    },
    /// `select(c, a, b)`: arguments c, a, b.
    Select,
    /// Arguments: one size register per dimension.
    Zeros,
    Ones,
    Rows,
    Shape,
    Convert {
        to: Scalar,
    },
    /// A fresh sharing of the same value (new randomness): shares loaded from a file are
    /// refreshed before use, so that the shares a run computes with are not the bytes on disk
    /// (what that does and does not protect against: docs/shares.md).
    Refresh,
}

impl Kernel {
    pub fn name(&self) -> String {
        match self {
            Kernel::Const(Literal::Fixed(v)) => format!("const {v:?}"),
            Kernel::Const(Literal::Int(v)) => format!("const {v}"),
            Kernel::Const(Literal::Bool(v)) => format!("const {v}"),
            Kernel::Copy => "copy".into(),
            Kernel::Neg => "neg".into(),
            Kernel::Not => "not".into(),
            Kernel::Add => "add".into(),
            Kernel::Sub => "sub".into(),
            Kernel::Mul { trunc: 0 } => "mul".into(),
            Kernel::Mul { trunc } => format!("mul.trunc{trunc}"),
            Kernel::Div => "div".into(),
            Kernel::Rem => "rem".into(),
            Kernel::And => "and".into(),
            Kernel::Or => "or".into(),
            Kernel::Lt => "lt".into(),
            Kernel::Le => "le".into(),
            Kernel::Gt => "gt".into(),
            Kernel::Ge => "ge".into(),
            Kernel::Eq => "eq".into(),
            Kernel::Ne => "ne".into(),
            Kernel::MatMul { trunc: 0 } => "matmul".into(),
            Kernel::MatMul { trunc } => format!("matmul.trunc{trunc}"),
            Kernel::Sum { axis: Some(a) } => format!("sum.axis{a}"),
            Kernel::Sum { axis: None } => "sum".into(),
            Kernel::Max { axis: Some(a) } => format!("max.axis{a}"),
            Kernel::Max { axis: None } => "max".into(),
            Kernel::ArgMax { axis: Some(a) } => format!("argmax.axis{a}"),
            Kernel::ArgMax { axis: None } => "argmax".into(),
            Kernel::MaxOneHot => "max_onehot".into(),
            Kernel::Transpose => "transpose".into(),
            Kernel::Im2Col(w) => format!(
                "im2col.{}x{}x{}.k{}x{}.s{}.p{}",
                w.h, w.w, w.c, w.kh, w.kw, w.stride, w.pad
            ),
            Kernel::Col2Im(w) => format!(
                "col2im.{}x{}x{}.k{}x{}.s{}.p{}",
                w.h, w.w, w.c, w.kh, w.kw, w.stride, w.pad
            ),
            Kernel::MatMulCol2Im { trunc, window: w } => format!(
                "{}.col2im.{}x{}x{}.k{}x{}.s{}.p{}",
                Kernel::MatMul { trunc: *trunc }.name(),
                w.h,
                w.w,
                w.c,
                w.kh,
                w.kw,
                w.stride,
                w.pad
            ),
            Kernel::Log2Lookup { from, table } => {
                let entries: Vec<String> = table.iter().map(|v| format!("{v:?}")).collect();
                format!("log2_lookup.from{from}[{}]", entries.join(","))
            }
            Kernel::Reshape => "reshape".into(),
            Kernel::Concat { axis } => format!("concat.axis{axis}"),
            Kernel::Index { items } => {
                let items: Vec<&str> = items
                    .iter()
                    .map(|i| match i {
                        IndexKind::Single => "i",
                        IndexKind::Range => "r",
                    })
                    .collect();
                format!("index.{}", items.join(""))
            }
            Kernel::Select => "select".into(),
            Kernel::Zeros => "zeros".into(),
            Kernel::Ones => "ones".into(),
            Kernel::Rows => "rows".into(),
            Kernel::Shape => "shape".into(),
            Kernel::Convert { to } => format!("convert.{}", to.name()),
            Kernel::Refresh => "refresh".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `dst = kernel(args)`, computed at `at`: by every party (public), by one party, or by the
    /// members of a secret placement on their shares.
    Compute {
        dst: Reg,
        at: Placement,
        kernel: Kernel,
        args: Vec<Reg>,
    },
    /// A party's (or a public) value enters a secret placement: secret-shared.
    Share {
        dst: Reg,
        src: Reg,
        from: Placement,
        to: SecretId,
    },
    /// A secret's or a party's value is revealed to one party, or to every party (`to: None`).
    Reveal {
        dst: Reg,
        src: Reg,
        from: Placement,
        to: Option<PartyId>,
    },
    /// `dst = read_csv(path)` (or `read_npy`: `format`) at a party, of the register's declared
    /// type.
    ReadCsv {
        dst: Reg,
        party: PartyId,
        path: String,
        format: FileFormat,
    },
    /// `write_csv(src, path)` (or `write_npy`) where `src` is visible: at its party, or at every
    /// party.
    WriteCsv {
        src: Reg,
        at: Placement,
        path: String,
        format: FileFormat,
    },
    Print {
        src: Reg,
        at: Placement,
    },
    /// `write_shares(value, name)`: each member of `secret` that holds components stores its
    /// share of the value's parts (`srcs`, laid out as `ty` says) under `name` in its own data
    /// directory. Nothing is revealed.
    StoreShares {
        srcs: Vec<Reg>,
        secret: SecretId,
        name: String,
        ty: StoredType,
    },
    /// `read_shares(name)`: each member loads its share of the parts (`dsts`) stored under
    /// `name`, after checking with the other members that the files are of one save and of this
    /// type, protocol and placement.
    LoadShares {
        dsts: Vec<Reg>,
        secret: SecretId,
        name: String,
        ty: StoredType,
    },
    /// `for var in start..end`; the bounds are public or at the party that runs the loop.
    For {
        var: Reg,
        start: Reg,
        end: Reg,
        body: Vec<Node>,
    },
    /// Evaluates `cond_body`, then runs `body` while `cond` holds.
    While {
        cond_body: Vec<Node>,
        cond: Reg,
        body: Vec<Node>,
    },
    If {
        cond: Reg,
        then_body: Vec<Node>,
        else_body: Vec<Node>,
    },
}

impl Op {
    /// The registers the op itself reads and writes, not counting its nested blocks.
    pub fn own_regs(&self) -> (Vec<Reg>, Vec<Reg>) {
        match self {
            Op::Compute { dst, args, .. } => (args.clone(), vec![*dst]),
            Op::Share { dst, src, .. } | Op::Reveal { dst, src, .. } => (vec![*src], vec![*dst]),
            Op::ReadCsv { dst, .. } => (Vec::new(), vec![*dst]),
            Op::WriteCsv { src, .. } | Op::Print { src, .. } => (vec![*src], Vec::new()),
            Op::StoreShares { srcs, .. } => (srcs.clone(), Vec::new()),
            Op::LoadShares { dsts, .. } => (Vec::new(), dsts.clone()),
            Op::For {
                var, start, end, ..
            } => (vec![*start, *end], vec![*var]),
            Op::While { cond, .. } | Op::If { cond, .. } => (vec![*cond], Vec::new()),
        }
    }

    /// The op's nested blocks: a loop's body, a `while`'s condition and body, an `if`'s branches.
    pub fn blocks(&self) -> Vec<&[Node]> {
        match self {
            Op::For { body, .. } => vec![body],
            Op::While {
                cond_body, body, ..
            } => vec![cond_body, body],
            Op::If {
                then_body,
                else_body,
                ..
            } => vec![then_body, else_body],
            _ => Vec::new(),
        }
    }

    /// [`Op::blocks`], to rewrite them.
    pub fn blocks_mut(&mut self) -> Vec<&mut Vec<Node>> {
        match self {
            Op::For { body, .. } => vec![body],
            Op::While {
                cond_body, body, ..
            } => vec![cond_body, body],
            Op::If {
                then_body,
                else_body,
                ..
            } => vec![then_body, else_body],
            _ => Vec::new(),
        }
    }
}

/// The type of a value kept as shares ([`Op::StoreShares`], [`Op::LoadShares`]): a tensor, or a
/// struct whose fields are the op's registers in order. The scalar and shape of each part are
/// its register's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredType {
    /// The struct's name; `None` for a tensor.
    pub name: Option<String>,
    /// The field names in order (for a tensor, one empty name).
    pub fields: Vec<String>,
}

impl fmt::Display for StoredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} {{ {} }}", self.fields.join(", ")),
            None => f.write_str("tensor"),
        }
    }
}

/// Identifies one message: the op, how many times the sending and receiving parties executed
/// that op before (they execute it in lockstep), and the step within its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgKey {
    pub op: OpId,
    pub count: u64,
    pub step: u16,
}

impl fmt::Display for MsgKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}.{}", self.op, self.count, self.step)
    }
}

/// One message of an op's protocol. The table of every op is its protocol's
/// (`tfe_runtime::protocol::messages`); the IR only names the parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The round it is sent in, from 0: a message of round `r` is sent after its sender received
    /// a message of round `r - 1` of the same op (or at once, for round 0). The op's rounds are
    /// the largest round plus one.
    pub round: u16,
    /// The protocol step: the third part of its [`MsgKey`].
    pub step: u16,
    pub from: Role,
    pub to: Role,
    pub size: Size,
}

/// A party of a message, by its part in the op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The member of the op's secret placement at this role (its index in the placement).
    Member(usize),
    /// The party that shares a value, or that holds the value revealed.
    Owner,
    /// The party a reveal is for.
    Target,
    /// Each party outside the secret placement, when a value is revealed to every party.
    Outsiders,
}

/// How large a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// This many ring elements per element of the op's result.
    Result(u64),
    /// `num / den` ring elements per element of the op's result (a whole number of them per
    /// row: a tournament's comparisons over the rows of `max_onehot`).
    ResultFraction(u64, u64),
    /// This many ring elements per element of the op's argument `i`.
    Arg(usize, u64),
    /// `num / den` one-byte values (small field elements) per element of the op's result.
    ResultBytes(u64, u64),
    /// A shape: one word per dimension of the result.
    Shape,
    /// This many words, whatever the op's shapes (a save id, the shapes of a stored value).
    Words(u64),
    /// `planes` bit planes of `e = result · num / den` elements: one bit per element packed
    /// `bits` (the ring's width) to a word, `planes · ⌈e / bits⌉` words (a comparison's ANDs on
    /// bit planes).
    Planes {
        num: u64,
        den: u64,
        planes: u64,
        bits: u64,
    },
}

impl Size {
    /// `k` times this size.
    pub fn times(self, k: u64) -> Size {
        match self {
            Size::Result(a) => Size::Result(a * k),
            Size::ResultFraction(num, den) => Size::ResultFraction(num * k, den),
            Size::Arg(i, a) => Size::Arg(i, a * k),
            Size::ResultBytes(num, den) => Size::ResultBytes(num * k, den),
            Size::Shape => Size::Shape,
            Size::Words(n) => Size::Words(n * k),
            Size::Planes {
                num,
                den,
                planes,
                bits,
            } => Size::Planes {
                num,
                den,
                planes: planes * k,
                bits,
            },
        }
    }

    /// `planes` bit planes of the elements this size counts (a size of one word per element:
    /// [`Size::Result`] or [`Size::ResultFraction`]), packed into words of `bits` bits; `None`
    /// for other sizes.
    pub fn planes(self, planes: u64, bits: u64) -> Option<Size> {
        match self {
            Size::Result(k) => Some(Size::Planes {
                num: k,
                den: 1,
                planes,
                bits,
            }),
            Size::ResultFraction(num, den) => Some(Size::Planes {
                num,
                den,
                planes,
                bits,
            }),
            _ => None,
        }
    }

    /// The elements (words, or bytes for [`Size::ResultBytes`]) of this size for an op whose
    /// result has `result` elements and whose arguments have `args[i]` elements, and whose
    /// result has rank `rank`.
    pub fn words(self, result: u64, args: &[u64], rank: u64) -> u64 {
        match self {
            Size::Result(k) => k * result,
            Size::ResultFraction(num, den) | Size::ResultBytes(num, den) => result * num / den,
            Size::Arg(i, k) => k * args.get(i).copied().unwrap_or(0),
            Size::Shape => rank,
            Size::Words(n) => n,
            Size::Planes {
                num,
                den,
                planes,
                bits,
            } => planes * (result * num / den).div_ceil(bits),
        }
    }
}

/// The messages of an op: a protocol's table (see [`Message`]), or why it cannot be listed (a
/// tournament along an axis whose length is known only when the program runs).
pub type MessageTable<'a> = &'a dyn Fn(&Program, &Node) -> Result<Vec<Message>, String>;

// ---- Text form ---------------------------------------------------------------------------

impl Program {
    pub fn placement_name(&self, p: Placement) -> String {
        match p {
            Placement::Public => "public".to_string(),
            Placement::Party(p) => self.parties[p].clone(),
            Placement::Secret(s) => self.secrets[s].name.clone(),
        }
    }

    fn reg(&self, r: Reg) -> String {
        format!("%{r}")
    }

    fn reg_decl(&self, r: Reg) -> String {
        let info = &self.regs[r as usize];
        let dims: Vec<String> = info
            .shape
            .iter()
            .map(|d| match d {
                Dim::Known(n) => n.to_string(),
                Dim::Runtime => "_".to_string(),
            })
            .collect();
        let shape = if dims.is_empty() {
            String::new()
        } else {
            format!("[{}]", dims.join(", "))
        };
        format!(
            "%{r}:{}{shape}@{}",
            info.scalar.name(),
            self.placement_name(info.placement)
        )
    }

    fn write_block(
        &self,
        out: &mut String,
        body: &[Node],
        depth: usize,
        table: Option<MessageTable<'_>>,
    ) {
        for node in body {
            let pad = "  ".repeat(depth);
            let id = node.id;
            match &node.op {
                Op::Compute {
                    dst,
                    at,
                    kernel,
                    args,
                } => {
                    let args: Vec<String> = args.iter().map(|a| self.reg(*a)).collect();
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: {} = {} {} @{}",
                        self.reg_decl(*dst),
                        kernel.name(),
                        args.join(" "),
                        self.placement_name(*at)
                    );
                }
                Op::Share { dst, src, from, to } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: {} = share {} from {} to {}",
                        self.reg_decl(*dst),
                        self.reg(*src),
                        self.placement_name(*from),
                        self.secrets[*to].name
                    );
                }
                Op::Reveal { dst, src, from, to } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: {} = reveal {} from {} to {}",
                        self.reg_decl(*dst),
                        self.reg(*src),
                        self.placement_name(*from),
                        to.map_or("public".to_string(), |p| self.parties[p].clone())
                    );
                }
                Op::ReadCsv {
                    dst,
                    party,
                    path,
                    format,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: {} = read_{} {path:?} @{}",
                        self.reg_decl(*dst),
                        format.name(),
                        self.parties[*party]
                    );
                }
                Op::WriteCsv {
                    src,
                    at,
                    path,
                    format,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: write_{} {} {path:?} @{}",
                        format.name(),
                        self.reg(*src),
                        self.placement_name(*at)
                    );
                }
                Op::Print { src, at } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: print {} @{}",
                        self.reg(*src),
                        self.placement_name(*at)
                    );
                }
                Op::StoreShares {
                    srcs,
                    secret,
                    name,
                    ty,
                } => {
                    let srcs: Vec<String> = srcs.iter().map(|r| self.reg(*r)).collect();
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: store_shares {} {name:?} {ty} @{}",
                        srcs.join(" "),
                        self.secrets[*secret].name
                    );
                }
                Op::LoadShares {
                    dsts,
                    secret,
                    name,
                    ty,
                } => {
                    let dsts: Vec<String> = dsts.iter().map(|r| self.reg_decl(*r)).collect();
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: {} = load_shares {name:?} {ty} @{}",
                        dsts.join(", "),
                        self.secrets[*secret].name
                    );
                }
                Op::For {
                    var,
                    start,
                    end,
                    body,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}{id:>4}: for {} in {} .. {} {{",
                        self.reg_decl(*var),
                        self.reg(*start),
                        self.reg(*end)
                    );
                    self.write_block(out, body, depth + 1, table);
                    let _ = writeln!(out, "{pad}      }}");
                }
                Op::While {
                    cond_body,
                    cond,
                    body,
                } => {
                    let _ = writeln!(out, "{pad}{id:>4}: while {{");
                    self.write_block(out, cond_body, depth + 1, table);
                    let _ = writeln!(out, "{pad}      }} {} {{", self.reg(*cond));
                    self.write_block(out, body, depth + 1, table);
                    let _ = writeln!(out, "{pad}      }}");
                }
                Op::If {
                    cond,
                    then_body,
                    else_body,
                } => {
                    let _ = writeln!(out, "{pad}{id:>4}: if {} {{", self.reg(*cond));
                    self.write_block(out, then_body, depth + 1, table);
                    let _ = writeln!(out, "{pad}      }} else {{");
                    self.write_block(out, else_body, depth + 1, table);
                    let _ = writeln!(out, "{pad}      }}");
                }
            }
            if let Some(table) = table {
                self.write_messages(out, node, &pad, table);
            }
        }
    }

    /// Under an op, its messages: one line each, by round.
    fn write_messages(&self, out: &mut String, node: &Node, pad: &str, table: MessageTable<'_>) {
        let id = node.id;
        match table(self, node) {
            Err(why) => {
                let _ = writeln!(out, "{pad}        messages: {why}");
            }
            Ok(messages) => {
                let (dst, args): (Option<Reg>, &[Reg]) = match &node.op {
                    Op::Compute { dst, args, .. } => (Some(*dst), args),
                    Op::Share { dst, src, .. } | Op::Reveal { dst, src, .. } => {
                        (Some(*dst), std::slice::from_ref(src))
                    }
                    _ => (None, &[]),
                };
                for m in messages {
                    let size = match m.size {
                        Size::Result(k) => self.elements_text(k, dst, "of the result"),
                        Size::ResultFraction(num, den) => self.fraction_text(num, den, dst, "word"),
                        Size::Arg(i, k) => {
                            self.elements_text(k, args.get(i).copied(), &format!("of argument {i}"))
                        }
                        Size::ResultBytes(num, den) => self.fraction_text(num, den, dst, "byte"),
                        Size::Shape => "a shape".to_string(),
                        Size::Words(n) => format!("{n} word{}", if n == 1 { "" } else { "s" }),
                        Size::Planes {
                            num,
                            den,
                            planes,
                            bits,
                        } => self.planes_text(num, den, planes, bits, dst),
                    };
                    let _ = writeln!(
                        out,
                        "{pad}        round {}: {} -> {}  key #{id}.n.{}  {size}",
                        m.round + 1,
                        self.role_name(&node.op, m.from),
                        self.role_name(&node.op, m.to),
                        m.step,
                    );
                }
            }
        }
    }

    /// The number of elements of register `reg`, where the compiler knows its whole shape.
    fn known_elements(&self, reg: Option<Reg>) -> Option<u64> {
        reg.and_then(|r| {
            self.regs[r as usize]
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => Some(*n),
                    Dim::Runtime => None,
                })
                .product()
        })
    }

    /// `planes` bit planes of `num / den` bits per element of the result, 64 bits to a word.
    fn planes_text(&self, num: u64, den: u64, planes: u64, bits: u64, reg: Option<Reg>) -> String {
        let per = if num == den {
            "the result's elements".to_string()
        } else if den == 1 {
            format!("{num} per element of the result")
        } else {
            format!("{num} per {den} elements of the result")
        };
        let plural = if planes == 1 { "" } else { "s" };
        let text = format!("{planes} bit plane{plural} of {per}, {bits} bits to a word");
        let known = self.known_elements(reg);
        match known {
            Some(n) => format!(
                "{text} ({} words in all)",
                planes * (n * num / den).div_ceil(bits)
            ),
            None => text,
        }
    }

    /// `num / den` words (or bytes, the `unit`) per element of the result: `num` per `den`
    /// elements (per row of `max_onehot`'s result).
    fn fraction_text(&self, num: u64, den: u64, reg: Option<Reg>, unit: &str) -> String {
        let plural = if num == 1 { "" } else { "s" };
        let per = if den == 1 {
            format!("{num} {unit}{plural} per element of the result")
        } else {
            format!("{num} {unit}{plural} per {den} elements of the result")
        };
        let known = self.known_elements(reg);
        match known {
            Some(n) => format!("{per} ({} in all)", n * num / den),
            None => per,
        }
    }

    /// "k ring elements per element of X (N in all)", with N when X's shape is known.
    fn elements_text(&self, k: u64, reg: Option<Reg>, of: &str) -> String {
        let per = format!("{k} word{} per element {of}", if k == 1 { "" } else { "s" });
        let known = self.known_elements(reg);
        match known {
            Some(n) => format!("{per} ({} in all)", k * n),
            None => per,
        }
    }

    fn role_name(&self, op: &Op, role: Role) -> String {
        let secret = match op {
            Op::Compute {
                at: Placement::Secret(s),
                ..
            }
            | Op::Reveal {
                from: Placement::Secret(s),
                ..
            } => Some(*s),
            Op::Share { to, .. } => Some(*to),
            Op::StoreShares { secret, .. } | Op::LoadShares { secret, .. } => Some(*secret),
            _ => None,
        };
        match role {
            Role::Member(i) => secret
                .and_then(|s| self.secrets[s].parties.get(i))
                .map_or(format!("member{i}"), |p| self.parties[*p].clone()),
            Role::Owner => match op {
                Op::Share { from, .. } | Op::Reveal { from, .. } => self.placement_name(*from),
                _ => "owner".into(),
            },
            Role::Target => match op {
                Op::Reveal { to, .. } => to.map_or("everyone".into(), |p| self.parties[p].clone()),
                _ => "target".into(),
            },
            Role::Outsiders => match op {
                Op::Reveal {
                    from: Placement::Party(_),
                    ..
                } => "every other party".into(),
                _ => "each party outside".into(),
            },
        }
    }

    /// The program as text.
    pub fn to_text(&self) -> String {
        self.to_text_with(None)
    }

    /// The program as text; with a protocol message table, each op's messages under it.
    pub fn to_text_with(&self, table: Option<MessageTable<'_>>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "parties {}", self.parties.join(", "));
        for s in &self.secrets {
            let members: Vec<&str> = s
                .parties
                .iter()
                .map(|p| self.parties[*p].as_str())
                .collect();
            let _ = writeln!(
                out,
                "secret {} = {}({}) ring {} frac {}",
                s.name,
                s.protocol.name(),
                members.join(", "),
                s.ring_bits,
                s.frac_bits
            );
        }
        let _ = writeln!(out, "registers {}  ops {}", self.regs.len(), self.n_ops);
        self.write_block(&mut out, &self.body, 0, table);
        out
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

// ---- Projection ----------------------------------------------------------------------------

/// The parties that take part in an op (for a loop or branch, in any op inside it).
pub fn participants(program: &Program, node: &Node) -> Vec<bool> {
    let n = program.parties.len();
    let mut out = vec![false; n];
    let mark_placement = |out: &mut Vec<bool>, p: Placement| match p {
        Placement::Public => out.iter_mut().for_each(|b| *b = true),
        Placement::Party(q) => out[q] = true,
        Placement::Secret(s) => program.secrets[s]
            .parties
            .iter()
            .for_each(|q| out[*q] = true),
    };
    match &node.op {
        Op::Compute { at, .. } => mark_placement(&mut out, *at),
        Op::Share { from, to, .. } => {
            // A public value is known to the members already: only they take part.
            if let Placement::Party(p) = from {
                out[*p] = true;
            }
            mark_placement(&mut out, Placement::Secret(*to));
        }
        Op::Reveal { from, to, .. } => {
            mark_placement(&mut out, *from);
            match to {
                Some(p) => out[*p] = true,
                None => mark_placement(&mut out, Placement::Public),
            }
        }
        Op::ReadCsv { party, .. } => out[*party] = true,
        Op::WriteCsv { at, .. } | Op::Print { at, .. } => mark_placement(&mut out, *at),
        Op::StoreShares { secret, .. } | Op::LoadShares { secret, .. } => {
            mark_placement(&mut out, Placement::Secret(*secret))
        }
        Op::For { body, .. } => mark_block(program, body, &mut out),
        Op::While {
            cond_body, body, ..
        } => {
            mark_block(program, cond_body, &mut out);
            mark_block(program, body, &mut out);
        }
        Op::If {
            then_body,
            else_body,
            ..
        } => {
            mark_block(program, then_body, &mut out);
            mark_block(program, else_body, &mut out);
        }
    }
    out
}

fn mark_block(program: &Program, body: &[Node], out: &mut [bool]) {
    for node in body {
        for (o, p) in out.iter_mut().zip(participants(program, node)) {
            *o |= p;
        }
    }
}

/// Whether `party` takes part in an op without nested blocks (what [`participants`] marks for it).
fn takes_part(program: &Program, op: &Op, party: PartyId) -> bool {
    let at = |p: Placement| match p {
        Placement::Public => true,
        Placement::Party(q) => q == party,
        Placement::Secret(s) => program.secrets[s].parties.contains(&party),
    };
    match op {
        Op::Compute { at: p, .. } | Op::WriteCsv { at: p, .. } | Op::Print { at: p, .. } => at(*p),
        Op::Share { from, to, .. } => {
            *from == Placement::Party(party) || at(Placement::Secret(*to))
        }
        Op::Reveal { from, to, .. } => {
            at(*from)
                || match to {
                    Some(p) => *p == party,
                    None => true,
                }
        }
        Op::ReadCsv { party: p, .. } => *p == party,
        Op::StoreShares { secret, .. } | Op::LoadShares { secret, .. } => {
            at(Placement::Secret(*secret))
        }
        Op::For { .. } | Op::While { .. } | Op::If { .. } => false,
    }
}

/// One party's program: the ops it takes part in (a loop or branch only if something inside it
/// involves the party). Registers and op ids are kept, so messages and draws still agree.
///
/// Each op is looked at once, nested blocks bottom-up (a loop is kept when its projected body is
/// not empty), so projecting takes time linear in the program whatever its parties and nesting.
pub fn project(program: &Program, party: PartyId) -> Program {
    fn involved(program: &Program, body: &[Node], party: PartyId) -> bool {
        body.iter().any(|n| match &n.op {
            Op::For { body, .. } => involved(program, body, party),
            Op::While {
                cond_body, body, ..
            } => involved(program, cond_body, party) || involved(program, body, party),
            Op::If {
                then_body,
                else_body,
                ..
            } => involved(program, then_body, party) || involved(program, else_body, party),
            op => takes_part(program, op, party),
        })
    }
    fn block(program: &Program, body: &[Node], party: PartyId) -> Vec<Node> {
        let mut out = Vec::new();
        for n in body {
            let op = match &n.op {
                Op::For {
                    var,
                    start,
                    end,
                    body,
                } => {
                    let body = block(program, body, party);
                    if body.is_empty() {
                        continue;
                    }
                    Op::For {
                        var: *var,
                        start: *start,
                        end: *end,
                        body,
                    }
                }
                Op::While {
                    cond_body,
                    cond,
                    body,
                } => {
                    let body = block(program, body, party);
                    if body.is_empty() && !involved(program, cond_body, party) {
                        continue;
                    }
                    Op::While {
                        // The condition is evaluated by every party that runs the loop.
                        cond_body: cond_body.clone(),
                        cond: *cond,
                        body,
                    }
                }
                Op::If {
                    cond,
                    then_body,
                    else_body,
                } => {
                    let then_body = block(program, then_body, party);
                    let else_body = block(program, else_body, party);
                    if then_body.is_empty() && else_body.is_empty() {
                        continue;
                    }
                    Op::If {
                        cond: *cond,
                        then_body,
                        else_body,
                    }
                }
                other if takes_part(program, other, party) => other.clone(),
                _ => continue,
            };
            out.push(Node { id: n.id, op });
        }
        out
    }
    Program {
        body: block(program, &program.body, party),
        ..program.clone()
    }
}
