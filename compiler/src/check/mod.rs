//! The checker: AST to HIR. Resolves names, types every expression, places every value, and
//! enforces the information-flow rules of the language (docs/language.md, section 8).
//!
//! ```text
//! ast::Program -[declarations: parties, secret placements, constants, functions, imports]->
//!   -[instantiate main, and every function at each call signature it is used with]->
//!   hir::Program, or every error found
//! ```
//!
//! Modules of this pass:
//! - `mod.rs` (this file): program-level declarations and function instantiation;
//! - `flow.rs`: the placement rules (joins, coercions, conditions) and their errors;
//! - `expr.rs`: expressions, operators and builtins; `stmt.rs`: statements and blocks;
//! - `structs.rs`: struct declarations, struct and tuple values, field-wise arithmetic, and
//!   calls mapped over the fields of a struct;
//! - `grad.rs`: `grad` and `value_and_grad` calls, and functions' own gradients (`grad(…)`
//!   clauses); the gradients themselves are derived by the pass after the checker (`crate::grad`);
//! - `consts.rs`: constant evaluation and written types.
//!
//! The checker keeps going after an error: a failed expression becomes a value of type
//! `Error`, on which further operations report nothing, so one run reports every independent
//! error without cascades.

mod consts;
mod expr;
mod flow;
mod grad;
mod stmt;
mod structs;

use std::collections::{BTreeSet, HashMap, HashSet};

use tfe_grammar::Span;
use tfe_grammar::ast;

use crate::diagnostics::{Diagnostic, Label};
use crate::hir::{self, FunctionId, LocalId, PartyId, Placement, SecretId};
use crate::stdlib;
use crate::types::Type;

pub(crate) use consts::ConstValue;
pub(crate) use flow::join_quiet as flow_join;

/// Checks a parsed program against the standard library. Returns the HIR, or every error.
pub fn check(program: &ast::Program) -> Result<hir::Program, Vec<Diagnostic>> {
    let mut checker = Checker::new(program);
    checker.declare_program();
    let main = checker.check_main();
    checker.check_unused_functions();
    if !checker.errors.is_empty() {
        let mut errors = checker.errors;
        errors.sort_by_key(|d| d.primary.span.start);
        errors.dedup();
        return Err(errors);
    }
    let main = main.expect("a program without errors has a main function");
    Ok(hir::Program {
        parties: checker.parties,
        secrets: checker.secrets,
        structs: checker.structs,
        functions: checker.functions,
        main,
    })
}

/// How deep calls may nest (`main` calls `f`, `f` calls `g`, …), and how many constants a
/// constant may be defined through. The checker and the lowering recurse once per call, and each
/// call may sit inside an expression [`tfe_grammar::MAX_EXPR_DEPTH`] deep: this bound keeps the
/// recursion within tfec's stack whatever the input (a chain of 100 calls each 250 operators deep
/// overflowed 256 MB in a debug build). Real programs nest a handful of calls, the library
/// included.
pub const MAX_CALL_DEPTH: usize = 64;

/// Index of a module in `Checker::modules`; the user's program is module 0.
type ModuleId = usize;
const MAIN_MODULE: ModuleId = 0;

struct Module<'a> {
    /// `main` for the user's program, `std::nn` for a library module.
    path: String,
    program: &'a ast::Program,
    functions: HashMap<String, &'a ast::FnDecl>,
    constants: HashMap<String, &'a ast::ConstDecl>,
    /// The module's structs: name → index in `Checker::structs`.
    structs: HashMap<String, usize>,
    /// Imported names: local name → (module, name there).
    imports: HashMap<String, (ModuleId, String)>,
}

/// What a function instance is checked for: the same function called with the same argument
/// types and placements (in the same `on` context) is checked once and shared.
#[derive(Clone, PartialEq, Eq, Hash)]
struct InstanceKey {
    module: ModuleId,
    name: String,
    args: Vec<(Type, Placement)>,
    /// The values of `const` parameters, rendered (each value checks its own instance).
    consts: String,
    on_party: Option<PartyId>,
}

struct Checker<'a> {
    modules: Vec<Module<'a>>,
    parties: Vec<hir::Party>,
    party_ids: HashMap<String, PartyId>,
    secrets: Vec<hir::SecretPlacement>,
    secret_ids: HashMap<String, SecretId>,
    structs: Vec<hir::StructDef>,
    /// Per struct: whether its declaration had errors (its uses then report nothing more).
    broken_structs: Vec<bool>,
    constants: HashMap<(ModuleId, String), Option<ConstValue>>,
    constants_in_progress: BTreeSet<(ModuleId, String)>,
    functions: Vec<hir::Function>,
    instances: HashMap<InstanceKey, FunctionId>,
    /// Instances of the program's own functions found wrong, so that each is checked once: a
    /// wrong function called twice by each of 30 others is not checked 2^30 times.
    failed: HashSet<InstanceKey>,
    in_progress: Vec<InstanceKey>,
    /// The `const` parameters of the function instances being checked, innermost last.
    const_params: Vec<HashMap<String, ConstValue>>,
    /// The user-program spans of the calls that led into library code, outermost first.
    library_calls: Vec<(String, Span)>,
    errors: Vec<Diagnostic>,
}

/// Per-function-instance state.
struct FnContext {
    module: ModuleId,
    name: String,
    locals: Vec<hir::Local>,
    scopes: Vec<HashMap<String, LocalId>>,
    /// Inside `on p { … }`: everything is computed at `p` (also when the whole instance is
    /// called from inside such a block).
    on_party: Option<PartyId>,
    /// How many `on` blocks of this function's own body enclose the current code.
    on_depth: usize,
    /// The declared return type and placement, if any.
    ret_type: Option<Type>,
    ret_any_shape: bool,
    ret_placement: Option<Placement>,
    /// Types and placements of `return` statements, to infer an undeclared return.
    returns: Vec<(Type, Placement, Span)>,
    /// `None` for `main` (which may reveal to anyone); the declared `reveals(…)` otherwise.
    allowed_reveals: Option<BTreeSet<Placement>>,
    reveals: BTreeSet<Placement>,
    /// Loop variables, for the static lengths of slices such as `x[i * B .. (i + 1) * B]`.
    loop_vars: BTreeSet<LocalId>,
}

impl FnContext {
    fn lookup(&self, name: &str) -> Option<LocalId> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn declare(&mut self, local: hir::Local) -> LocalId {
        let id = self.locals.len();
        self.scopes
            .last_mut()
            .expect("a function has a scope")
            .insert(local.name.clone(), id);
        self.locals.push(local);
        id
    }
}

impl<'a> Checker<'a> {
    fn new(program: &'a ast::Program) -> Checker<'a> {
        Checker {
            modules: vec![Module {
                path: "main".to_string(),
                program,
                functions: HashMap::new(),
                constants: HashMap::new(),
                structs: HashMap::new(),
                imports: HashMap::new(),
            }],
            parties: Vec::new(),
            party_ids: HashMap::new(),
            secrets: Vec::new(),
            secret_ids: HashMap::new(),
            structs: Vec::new(),
            broken_structs: Vec::new(),
            constants: HashMap::new(),
            constants_in_progress: BTreeSet::new(),
            functions: Vec::new(),
            instances: HashMap::new(),
            failed: HashSet::new(),
            in_progress: Vec::new(),
            const_params: Vec::new(),
            library_calls: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records an error. Errors found inside library code are reported at the user's call
    /// that led there: the library is checked clean on its own (a test), so such an error
    /// means the call's arguments do not fit.
    fn error(&mut self, diagnostic: Diagnostic) {
        match self.library_calls.first() {
            None => self.errors.push(diagnostic),
            Some((name, call)) => {
                let d = Diagnostic::error(
                    diagnostic.code,
                    format!("in `{name}`: {}", diagnostic.message),
                    Label::new(*call, "in this call"),
                );
                let d = match diagnostic.help {
                    Some(h) => d.with_help(h),
                    None => d,
                };
                self.errors.push(d);
            }
        }
    }

    // ---- Declarations -----------------------------------------------------------------------

    fn declare_program(&mut self) {
        let program = self.modules[MAIN_MODULE].program;
        let mut seen: HashMap<String, Span> = HashMap::new();
        for item in &program.items {
            match item {
                ast::Item::Party(decl) => {
                    for name in &decl.names {
                        if self.check_fresh(&mut seen, name) {
                            self.party_ids.insert(name.name.clone(), self.parties.len());
                            self.parties.push(hir::Party {
                                name: name.name.clone(),
                                span: name.span,
                            });
                        }
                    }
                }
                ast::Item::Secret(decl) => {
                    if self.check_fresh(&mut seen, &decl.name) {
                        // Declared after all parties, below: protocols name parties declared later.
                    }
                }
                ast::Item::Const(_)
                | ast::Item::Struct(_)
                | ast::Item::Fn(_)
                | ast::Item::Use(_) => {}
            }
        }
        for item in &program.items {
            if let ast::Item::Secret(decl) = item
                && seen.get(&decl.name.name) == Some(&decl.name.span)
                && let Some(secret) = self.declare_secret(decl)
            {
                self.secret_ids
                    .insert(secret.name.clone(), self.secrets.len());
                self.secrets.push(secret);
            }
        }
        self.declare_module_items(MAIN_MODULE, &mut seen);
        // Every constant is evaluated, used or not: a bad one is an error either way.
        let mut names: Vec<String> = self.modules[MAIN_MODULE]
            .constants
            .keys()
            .cloned()
            .collect();
        names.sort();
        for name in names {
            self.constant(MAIN_MODULE, &name);
        }
    }

    /// Constants, functions and imports of a module; `seen` holds the names already taken.
    fn declare_module_items(&mut self, module: ModuleId, seen: &mut HashMap<String, Span>) {
        let program = self.modules[module].program;
        let mut structs = Vec::new();
        for item in &program.items {
            match item {
                ast::Item::Struct(decl) => {
                    if self.check_fresh(seen, &decl.name) {
                        structs.push(decl);
                    }
                }
                ast::Item::Const(decl) => {
                    if self.check_fresh(seen, &decl.name) {
                        self.modules[module]
                            .constants
                            .insert(decl.name.name.clone(), decl);
                    }
                }
                ast::Item::Fn(decl) => {
                    if expr::BUILTINS.contains(&decl.name.name.as_str()) {
                        self.error(
                            Diagnostic::error(
                                "E0103",
                                format!(
                                    "`{}` is a builtin and cannot be redefined",
                                    decl.name.name
                                ),
                                Label::new(decl.name.span, "a builtin's name"),
                            )
                            .with_help("give the function another name"),
                        );
                    } else if self.check_fresh(seen, &decl.name) {
                        self.modules[module]
                            .functions
                            .insert(decl.name.name.clone(), decl);
                    }
                }
                ast::Item::Use(decl) => self.declare_use(module, decl, seen),
                ast::Item::Party(_) | ast::Item::Secret(_) => {
                    if module != MAIN_MODULE {
                        self.error(Diagnostic::error(
                            "E0103",
                            "a library module declares parties",
                            Label::new(item.span(), "parties belong to the program"),
                        ));
                    }
                }
            }
        }
        // Fields are resolved once every name of the module is known: a field's size may be a
        // constant declared further down.
        for decl in structs {
            self.declare_struct(module, decl);
        }
    }

    fn check_fresh(&mut self, seen: &mut HashMap<String, Span>, name: &ast::Ident) -> bool {
        if let Some(first) = seen.get(&name.name) {
            let first = *first;
            self.error(
                Diagnostic::error(
                    "E0103",
                    format!("`{}` is defined twice", name.name),
                    Label::new(name.span, "defined again here"),
                )
                .with_secondary(Label::new(first, "first defined here"))
                .with_help("parties, secret placements, constants, functions and imports share one namespace: rename one of them"),
            );
            return false;
        }
        seen.insert(name.name.clone(), name.span);
        true
    }

    fn declare_secret(&mut self, decl: &ast::SecretDecl) -> Option<hir::SecretPlacement> {
        let Some(form) = hir::PROTOCOLS
            .iter()
            .find(|f| f.name == decl.protocol.name.as_str())
        else {
            let forms: Vec<String> = hir::PROTOCOLS
                .iter()
                .map(|f| format!("`{}`", f.form))
                .collect();
            self.error(
                Diagnostic::error(
                    "E0104",
                    format!("unknown protocol `{}`", decl.protocol.name),
                    Label::new(decl.protocol.span, "not a protocol"),
                )
                .with_help(format!("the protocols are {}", forms.join(", "))),
            );
            return None;
        };
        let protocol = form.protocol;
        let mut parties: Vec<(PartyId, Span)> = Vec::new();
        let mut dealer = None;
        let mut ring_bits = 64;
        let mut frac_bits = 16;
        let mut ok = true;
        for arg in &decl.args {
            match arg {
                ast::ProtocolArg::Party(name) => match self.party(name) {
                    Some(p) => parties.push((p, name.span)),
                    None => ok = false,
                },
                ast::ProtocolArg::Option { key, value } => match key.name.as_str() {
                    "dealer" if form.dealer => match &value.kind {
                        ast::ExprKind::Var(name) => match self.party(name) {
                            Some(p) => dealer = Some((p, name.span)),
                            None => ok = false,
                        },
                        _ => {
                            self.error(Diagnostic::error(
                                "E0107",
                                "the dealer must be a party",
                                Label::new(value.span, "not a party name"),
                            ));
                            ok = false;
                        }
                    },
                    "ring" | "frac" => match &value.kind {
                        ast::ExprKind::Int(n) if key.name == "ring" && (*n == 64 || *n == 128) => {
                            ring_bits = *n as u32
                        }
                        ast::ExprKind::Int(n) if key.name == "frac" && *n >= 1 && *n <= 64 => {
                            frac_bits = *n as u32
                        }
                        _ => {
                            self.error(
                                Diagnostic::error(
                                    "E0107",
                                    format!("invalid value for `{}`", key.name),
                                    Label::new(value.span, "not allowed here"),
                                )
                                .with_help("`ring` is 64 or 128 (bits); `frac` is the number of fractional bits, 1 to 64"),
                            );
                            ok = false;
                        }
                    },
                    other => {
                        self.error(
                            Diagnostic::error(
                                "E0107",
                                format!("`{}` has no option `{other}`", protocol.name()),
                                Label::new(key.span, "unknown option"),
                            )
                            .with_help(format!(
                                "write `{}`, with the options `ring` and `frac`",
                                form.form
                            )),
                        );
                        ok = false;
                    }
                },
            }
        }
        if !ok {
            return None;
        }
        let expected = form.holders;
        if parties.len() != expected || (form.dealer && dealer.is_none()) {
            self.error(
                Diagnostic::error(
                    "E0105",
                    format!(
                        "`{}` takes {expected} computing parties{}, but {} {} given",
                        protocol.name(),
                        if form.dealer { " and a dealer" } else { "" },
                        parties.len(),
                        if parties.len() == 1 { "is" } else { "are" }
                    ),
                    Label::new(decl.span, "in this secret placement"),
                )
                .with_help(format!(
                    "write `secret {} = {};`",
                    decl.name.name, form.form
                )),
            );
            return None;
        }
        if ring_bits == 128 && protocol == hir::Protocol::SecureNn {
            self.error(
                Diagnostic::error(
                    "E0107",
                    "securenn computes in a 64-bit ring",
                    Label::new(decl.span, "`ring = 128` in this secret placement"),
                )
                .with_help(
                    "securenn's comparison works in Z_2^64 and Z_67; `pond(...)` has the same parties and sharing and runs with `ring = 128`",
                ),
            );
            // Declared all the same, so that its uses do not add errors of their own.
        }
        if frac_bits >= ring_bits {
            self.error(Diagnostic::error(
                "E0107",
                "`frac` must be smaller than `ring`",
                Label::new(decl.span, "in this secret placement"),
            ));
            return None;
        }
        parties.extend(dealer);
        for (i, (p, span)) in parties.iter().enumerate() {
            if let Some((_, first)) = parties[..i].iter().find(|(q, _)| q == p) {
                self.error(
                    Diagnostic::error(
                        "E0106",
                        format!(
                            "`{}` plays two roles in `{}`",
                            self.parties[*p].name, decl.name.name
                        ),
                        Label::new(*span, "used again here"),
                    )
                    .with_secondary(Label::new(*first, "first used here"))
                    .with_help(form.distinct),
                );
                return None;
            }
        }
        Some(hir::SecretPlacement {
            name: decl.name.name.clone(),
            protocol,
            parties: parties.into_iter().map(|(p, _)| p).collect(),
            ring_bits,
            frac_bits,
            span: decl.span,
        })
    }

    /// A party by name; reports an error if the name is not a declared party.
    fn party(&mut self, name: &ast::Ident) -> Option<PartyId> {
        if let Some(p) = self.party_ids.get(&name.name) {
            return Some(*p);
        }
        let what = if self.secret_ids.contains_key(&name.name) {
            format!("`{}` is a secret placement, not a party", name.name)
        } else {
            format!("unknown party `{}`", name.name)
        };
        self.error(
            Diagnostic::error("E0109", what, Label::new(name.span, "a party is needed here"))
                .with_help("declare parties with `party name;`; only parties hold plaintext, run `on` blocks and receive reveals"),
        );
        None
    }

    /// A placement written in an annotation (`@alice`, `@rep`, `@public`).
    fn placement(&mut self, placement: &ast::Placement) -> Option<Placement> {
        match placement {
            ast::Placement::Public(_) => Some(Placement::Public),
            ast::Placement::Named(name) => {
                if let Some(p) = self.party_ids.get(&name.name) {
                    Some(Placement::Party(*p))
                } else if let Some(s) = self.secret_ids.get(&name.name) {
                    Some(Placement::Secret(*s))
                } else {
                    self.error(
                        Diagnostic::error(
                            "E0108",
                            format!("unknown placement `@{}`", name.name),
                            Label::new(name.span, "not a party or a secret placement"),
                        )
                        .with_help(
                            "declare it with `party name;` or `secret name = aby3(p0, p1, p2);`",
                        ),
                    );
                    None
                }
            }
        }
    }

    fn declare_use(
        &mut self,
        module: ModuleId,
        decl: &ast::UseDecl,
        seen: &mut HashMap<String, Span>,
    ) {
        let path: Vec<&str> = decl.module.iter().map(|s| s.name.as_str()).collect();
        let path = path.join("::");
        let Some(target) = self.library_module(&path, decl.span) else {
            return;
        };
        let names: Vec<ast::Ident> = match &decl.names {
            ast::UseNames::Names(names) => names.clone(),
            ast::UseNames::Glob(span) => {
                let mut names: Vec<&String> = self.modules[target].functions.keys().collect();
                names.sort();
                names
                    .into_iter()
                    .map(|n| ast::Ident::new(n.clone(), *span))
                    .collect()
            }
        };
        for name in names {
            if expr::is_builtin_alias(&path, &name.name) {
                // The builtin is in scope everywhere; importing it under its library path is
                // allowed so that programs written against the design's signature check.
                continue;
            }
            if !self.modules[target].functions.contains_key(&name.name) {
                let mut available: Vec<&String> = self.modules[target].functions.keys().collect();
                available.sort();
                let available: Vec<String> = available.iter().map(|n| format!("`{n}`")).collect();
                self.error(
                    Diagnostic::error(
                        "E0113",
                        format!("`{path}` has no function `{}`", name.name),
                        Label::new(name.span, "not in this module"),
                    )
                    .with_help(format!("`{path}` provides {}", available.join(", "))),
                );
                continue;
            }
            if self.check_fresh(seen, &name) {
                self.modules[module]
                    .imports
                    .insert(name.name.clone(), (target, name.name.clone()));
            }
        }
    }

    /// Loads (once) and returns a library module by path.
    fn library_module(&mut self, path: &str, span: Span) -> Option<ModuleId> {
        if let Some(i) = self.modules.iter().position(|m| m.path == path) {
            return Some(i);
        }
        if stdlib::source(path).is_none() {
            let known: Vec<String> = stdlib::MODULES
                .iter()
                .map(|(p, _)| format!("`{p}`"))
                .collect();
            self.error(
                Diagnostic::error(
                    "E0113",
                    format!("unknown module `{path}`"),
                    Label::new(span, "no such module"),
                )
                .with_help(format!("the standard library has {}", known.join(", "))),
            );
            return None;
        }
        let Some(program) = stdlib::parsed(path) else {
            self.error(Diagnostic::error(
                "E0113",
                format!("internal error: the library module `{path}` does not parse; this is a bug in tfec"),
                Label::new(span, "imported here"),
            ));
            return None;
        };
        let id = self.modules.len();
        self.modules.push(Module {
            path: path.to_string(),
            program,
            functions: HashMap::new(),
            constants: HashMap::new(),
            structs: HashMap::new(),
            imports: HashMap::new(),
        });
        let mut seen = HashMap::new();
        self.declare_module_items(id, &mut seen);
        Some(id)
    }

    // ---- Functions --------------------------------------------------------------------------

    fn check_main(&mut self) -> Option<FunctionId> {
        let Some(main) = self.modules[MAIN_MODULE].functions.get("main").copied() else {
            let span = self.modules[MAIN_MODULE].program.span;
            self.error(
                Diagnostic::error(
                    "E0111",
                    "the program has no `main` function",
                    Label::new(Span::new(span.end, span.end), "add `fn main() { … }`"),
                )
                .with_help("execution starts at `fn main()`, which takes no parameters"),
            );
            return None;
        };
        if !main.params.is_empty() || main.ret.is_some() || main.reveals.is_some() {
            self.error(
                Diagnostic::error(
                    "E0111",
                    "`main` takes no parameters and returns nothing",
                    Label::new(main.name.span, "declared here"),
                )
                .with_help("write `fn main() { … }`; `main` may reveal to any party without a `reveals` clause"),
            );
            return None;
        }
        self.instantiate(
            MAIN_MODULE,
            main,
            Vec::new(),
            HashMap::new(),
            None,
            main.name.span,
        )
    }

    /// Functions are checked at the signatures they are called with. A function that is never
    /// called is still checked when its signature fixes every type and placement, so that its
    /// errors do not wait for its first use.
    fn check_unused_functions(&mut self) {
        let used: HashSet<&str> = self
            .instances
            .keys()
            .filter(|k| k.module == MAIN_MODULE)
            .map(|k| k.name.as_str())
            .collect();
        let mut unused: Vec<&'a ast::FnDecl> = self.modules[MAIN_MODULE]
            .functions
            .values()
            .copied()
            .filter(|f| f.name.name != "main" && !used.contains(f.name.name.as_str()))
            .collect();
        unused.sort_by_key(|f| f.span.start);
        for decl in unused {
            let monomorphic = decl
                .params
                .iter()
                .all(|p| !p.constant && p.placement.is_some() && !p.ty.is_any_shape());
            if !monomorphic {
                continue;
            }
            let mut args = Vec::new();
            for param in &decl.params {
                let (Some(ty), Some(placement)) = (
                    self.written_type(MAIN_MODULE, &param.ty),
                    param.placement.as_ref().and_then(|p| self.placement(p)),
                ) else {
                    return;
                };
                args.push((ty, placement));
            }
            self.instantiate(
                MAIN_MODULE,
                decl,
                args,
                HashMap::new(),
                None,
                decl.name.span,
            );
        }
    }

    /// Checks one instance of a function for arguments of the given types and placements (already
    /// coerced to the declared parameters by the caller). Returns its id, or `None` on error.
    fn instantiate(
        &mut self,
        module: ModuleId,
        decl: &'a ast::FnDecl,
        args: Vec<(Type, Placement)>,
        consts: HashMap<String, ConstValue>,
        on_party: Option<PartyId>,
        call_span: Span,
    ) -> Option<FunctionId> {
        let mut rendered: Vec<String> = consts.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        rendered.sort();
        let key = InstanceKey {
            module,
            name: decl.name.name.clone(),
            args: args.clone(),
            consts: rendered.join(","),
            on_party,
        };
        if let Some(id) = self.instances.get(&key) {
            return Some(*id);
        }
        if self.failed.contains(&key) {
            return None;
        }
        if self
            .in_progress
            .iter()
            .any(|k| k.module == module && k.name == decl.name.name)
        {
            self.error(
                Diagnostic::error(
                    "E0112",
                    format!("`{}` calls itself", decl.name.name),
                    Label::new(call_span, "recursive call"),
                )
                .with_help("functions may not be recursive: the compiler sizes every computation up front; write a `for` loop instead"),
            );
            return None;
        }
        if self.in_progress.len() > MAX_CALL_DEPTH {
            self.error(
                Diagnostic::error(
                    "E0116",
                    format!("calls nested more than {MAX_CALL_DEPTH} deep"),
                    Label::new(call_span, format!("call {} of a chain from `main`", self.in_progress.len())),
                )
                .with_help("a chain of calls (`main` calls `f`, `f` calls `g`, …) may be at most 64 calls long: call some of them one after another instead of one inside the other"),
            );
            return None;
        }
        let module_path = self.modules[module].path.clone();
        if module != MAIN_MODULE && self.library_calls.is_empty() {
            self.library_calls
                .push((format!("{module_path}::{}", decl.name.name), call_span));
        } else if module != MAIN_MODULE {
            self.library_calls.push((decl.name.name.clone(), call_span));
        }
        self.in_progress.push(key.clone());
        let key_consts = consts.clone();
        self.const_params.push(consts);
        let result = self.check_function(module, decl, &args, on_party);
        self.const_params.pop();
        self.in_progress.pop();
        if module != MAIN_MODULE {
            self.library_calls.pop();
        }
        let Some(function) = result else {
            // A library instance is checked again at each call of the program, so that its
            // errors show at each of them; the library's own calls are bounded.
            if module == MAIN_MODULE {
                self.failed.insert(key);
            }
            return None;
        };
        let id = self.functions.len();
        self.functions.push(function);
        self.instances.insert(key.clone(), id);
        // The function's own gradients are checked for this instance's signature, after it
        // (a gradient function may call the function itself).
        if decl.grads.is_some() {
            if module != MAIN_MODULE {
                self.library_calls
                    .push((format!("{module_path}::{}", decl.name.name), call_span));
            }
            self.const_params.push(key_consts);
            let grads = self.custom_gradients(module, decl, id, on_party, call_span);
            self.const_params.pop();
            if module != MAIN_MODULE {
                self.library_calls.pop();
            }
            match grads {
                Some(grads) => self.functions[id].grads = Some(grads),
                None => {
                    self.instances.remove(&key);
                    return None;
                }
            }
        }
        Some(id)
    }

    fn check_function(
        &mut self,
        module: ModuleId,
        decl: &'a ast::FnDecl,
        args: &[(Type, Placement)],
        on_party: Option<PartyId>,
    ) -> Option<hir::Function> {
        let errors_before = self.errors.len();
        if module != MAIN_MODULE
            && let Some(reveals) = &decl.reveals
        {
            self.error(
                Diagnostic::error(
                    "E0310",
                    format!("the library function `{}` declares reveals", decl.name.name),
                    Label::new(reveals.span, "library code never reveals"),
                )
                .with_help("the standard library never reveals, so no library call can leak behind its caller's back"),
            );
        }
        let allowed_reveals = if module == MAIN_MODULE && decl.name.name == "main" {
            None
        } else {
            let mut allowed = BTreeSet::new();
            for target in decl.reveals.iter().flat_map(|r| &r.targets) {
                match target {
                    ast::Placement::Public(_) => {
                        allowed.insert(Placement::Public);
                    }
                    ast::Placement::Named(name) => {
                        if let Some(p) = self.party(name) {
                            allowed.insert(Placement::Party(p));
                        }
                    }
                }
            }
            Some(allowed)
        };
        let (ret_type, ret_any_shape, ret_placement) = match &decl.ret {
            Some(ret) => {
                let (ty, any) = self.signature_type(module, &ret.ty)?;
                let placement = match &ret.placement {
                    Some(p) => Some(self.placement(p)?),
                    None => None,
                };
                (Some(ty), any, placement)
            }
            None => (None, false, None),
        };
        let mut cx = FnContext {
            module,
            name: decl.name.name.clone(),
            locals: Vec::new(),
            scopes: vec![HashMap::new()],
            on_party,
            on_depth: 0,
            ret_type,
            ret_any_shape,
            ret_placement,
            returns: Vec::new(),
            allowed_reveals,
            reveals: BTreeSet::new(),
            loop_vars: BTreeSet::new(),
        };
        let mut params = Vec::new();
        for (param, (ty, placement)) in decl.params.iter().filter(|p| !p.constant).zip(args) {
            if cx.lookup(&param.name.name).is_some() {
                self.error(Diagnostic::error(
                    "E0103",
                    format!("parameter `{}` is declared twice", param.name.name),
                    Label::new(param.name.span, "declared again here"),
                ));
            }
            params.push(cx.declare(hir::Local {
                name: param.name.name.clone(),
                ty: ty.clone(),
                placement: *placement,
                mutable: false,
                span: param.span,
            }));
        }
        let expected = expr::Expected {
            ty: cx.ret_type.clone().map(|t| (t, cx.ret_any_shape)),
            placement: cx.ret_placement,
        };
        let body = self.block(&mut cx, &decl.body, &expected);
        let (ret_type, ret_placement) = self.function_result(&mut cx, decl, &body)?;
        if self.errors.len() > errors_before {
            return None;
        }
        Some(hir::Function {
            name: decl.name.name.clone(),
            module: self.modules[module].path.clone(),
            params,
            locals: cx.locals,
            ret_type,
            ret_placement,
            body,
            reveals: cx.reveals,
            grads: None,
            span: decl.span,
        })
    }

    /// The type and placement a function returns: the declared ones, or those of its tail and
    /// `return` statements, which must agree.
    fn function_result(
        &mut self,
        cx: &mut FnContext,
        decl: &ast::FnDecl,
        body: &hir::Block,
    ) -> Option<(Type, Placement)> {
        let mut results: Vec<(Type, Placement, Span)> = cx.returns.clone();
        match &body.tail {
            Some(tail) => results.push((tail.ty.clone(), tail.placement, tail.span)),
            None if decl.ret.is_some() && !block_always_returns(body) => {
                self.error(
                    Diagnostic::error(
                        "E0209",
                        format!("`{}` must return a value", decl.name.name),
                        Label::new(decl.body.span, "this body ends without a value"),
                    )
                    .with_help("end the body with an expression (no `;`) or a `return value;`"),
                );
                return None;
            }
            None => {}
        }
        if results.iter().any(|(t, _, _)| *t == Type::Error) {
            return None;
        }
        let Some((first_ty, _, first_span)) = results.first().cloned() else {
            return Some((Type::Unit, Placement::Public));
        };
        let mut placement = Placement::Public;
        for (ty, p, span) in &results {
            if *ty != first_ty && !types_compatible(ty, &first_ty) {
                self.error(
                    Diagnostic::error(
                        "E0209",
                        format!(
                            "`{}` returns values of different types: {first_ty} and {ty}",
                            decl.name.name
                        ),
                        Label::new(*span, format!("this is {ty}")),
                    )
                    .with_secondary(Label::new(first_span, format!("this is {first_ty}"))),
                );
                return None;
            }
            placement = flow::join_quiet(placement, *p).unwrap_or(placement);
        }
        if let Some(declared) = cx.ret_placement {
            placement = declared;
        }
        Some((first_ty, placement))
    }
}

/// Whether two types are the same up to `_` dimensions.
pub(super) fn types_compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Tensor(x), Type::Tensor(y)) => {
            x.scalar == y.scalar
                && x.rank() == y.rank()
                && x.shape
                    .iter()
                    .zip(&y.shape)
                    .all(|(p, q)| crate::types::unify_dim(*p, *q).is_some())
        }
        (Type::Tuple(x), Type::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| types_compatible(p, q))
        }
        _ => a == b,
    }
}

/// Whether a block's statements end in a `return` (so it needs no tail).
fn block_always_returns(block: &hir::Block) -> bool {
    block
        .stmts
        .iter()
        .any(|s| matches!(s, hir::Stmt::Return { .. }))
}
