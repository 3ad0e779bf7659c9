//! The printer's contract: printing any tree and parsing the text again gives the same tree
//! (spans aside), and printing is idempotent.

use proptest::prelude::*;
use tfe_grammar::ast::*;
use tfe_grammar::spanless::erase_program;
use tfe_grammar::token::KEYWORDS;
use tfe_grammar::{Span, parse, print};

const S: Span = Span::new(0, 0);

fn ident() -> impl Strategy<Value = Ident> {
    "[a-z_][a-z0-9_]{0,5}"
        .prop_filter("keywords and `_` are not names", |s| {
            s != "_" && !KEYWORDS.contains(&s.as_str())
        })
        .prop_map(|s| Ident::new(s, S))
}

fn fixed_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| f64::from(n) / 1000.0),
        any::<f64>().prop_filter("literals are finite and non-negative", |v| {
            v.is_finite() && v.is_sign_positive()
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        any::<u64>().prop_map(ExprKind::Int),
        fixed_value().prop_map(ExprKind::Fixed),
        any::<bool>().prop_map(ExprKind::Bool),
        "(\\PC|[\"\\\\\n\t\r\0]){0,8}".prop_map(ExprKind::Str),
        ident().prop_map(ExprKind::Var),
    ]
    .prop_map(|kind| Expr::new(kind, S))
}

fn scalar() -> impl Strategy<Value = ScalarType> {
    prop_oneof![
        Just(ScalarType::Fixed),
        Just(ScalarType::Int),
        Just(ScalarType::Bool),
        Just(ScalarType::Float),
    ]
}

fn dim() -> impl Strategy<Value = Dim> {
    prop_oneof![
        any::<u64>().prop_map(|n| Dim::Fixed(n, S)),
        ident().prop_map(Dim::Named),
        Just(Dim::Unknown(S)),
        Just(Dim::Any(S)),
    ]
}

fn tensor_ty() -> impl Strategy<Value = Type> {
    (
        scalar(),
        prop::option::of(prop::collection::vec(dim(), 0..3)),
    )
        .prop_map(|(scalar, dims)| Type {
            kind: TypeKind::Tensor { scalar, dims },
            span: S,
        })
}

fn ty() -> impl Strategy<Value = Type> {
    let simple = prop_oneof![
        3 => tensor_ty(),
        1 => ident().prop_map(|name| Type { kind: TypeKind::Named(name), span: S }),
    ];
    simple.prop_recursive(2, 6, 3, |inner| {
        prop::collection::vec(inner, 2..4).prop_map(|items| Type {
            kind: TypeKind::Tuple(items),
            span: S,
        })
    })
}

fn binding() -> impl Strategy<Value = Binding> {
    prop_oneof![
        (any::<bool>(), ident()).prop_map(|(mutable, name)| Binding {
            mutable,
            name: Some(name),
            span: S
        }),
        Just(Binding {
            mutable: false,
            name: None,
            span: S
        }),
    ]
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        Just(Placement::Public(S)),
        ident().prop_map(Placement::Named)
    ]
}

fn bin_op() -> impl Strategy<Value = BinOp> {
    prop::sample::select(BinOp::ALL.to_vec())
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(ident(), 1..3).prop_map(|segments| Path { segments, span: S })
}

fn stmt_with(expr: BoxedStrategy<Expr>, body: BoxedStrategy<Block>) -> BoxedStrategy<Stmt> {
    prop_oneof![
        (
            any::<bool>(),
            ident(),
            prop::option::of(ty()),
            prop::option::of(placement()),
            expr.clone()
        )
            .prop_map(|(mutable, name, ty, placement, value)| StmtKind::Let {
                mutable,
                name,
                ty,
                placement,
                value
            }),
        (
            prop::collection::vec(binding(), 0..3),
            prop::option::of(ty()),
            prop::option::of(placement()),
            expr.clone()
        )
            .prop_map(|(bindings, ty, placement, value)| StmtKind::LetTuple {
                bindings,
                ty,
                placement,
                value
            }),
        (ident(), expr.clone()).prop_map(|(target, value)| StmtKind::Assign { target, value }),
        (ident(), expr.clone(), expr.clone(), body.clone()).prop_map(|(var, start, end, body)| {
            StmtKind::For {
                var,
                start,
                end,
                body,
            }
        }),
        (expr.clone(), body).prop_map(|(cond, body)| StmtKind::While { cond, body }),
        prop::option::of(expr.clone()).prop_map(StmtKind::Return),
        (expr, any::<bool>()).prop_map(|(expr, semi)| {
            // Only block-like expressions may go without `;`.
            let semi = semi || !expr.is_block_like();
            StmtKind::Expr { expr, semi }
        }),
    ]
    .prop_map(|kind| Stmt { kind, span: S })
    .boxed()
}

fn block_with(expr: BoxedStrategy<Expr>) -> BoxedStrategy<Block> {
    let empty = Just(Block::new(Vec::new(), None, S)).boxed();
    let flat_body = (
        prop::collection::vec(stmt_with(expr.clone(), empty.clone()), 0..2),
        prop::option::of(expr.clone()),
    )
        .prop_map(|(stmts, tail)| Block::new(stmts, tail.map(Box::new), S))
        .boxed();
    (
        prop::collection::vec(stmt_with(expr.clone(), flat_body), 0..4),
        prop::option::of(expr),
    )
        .prop_map(|(stmts, tail)| Block::new(stmts, tail.map(Box::new), S))
        .boxed()
}

fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 48, 4, |inner| {
            let inner = inner.boxed();
            let block = block_with(inner.clone());
            let index_item = prop_oneof![
                inner.clone().prop_map(IndexItem::Single),
                (inner.clone(), inner.clone()).prop_map(|(start, end)| IndexItem::Range {
                    start,
                    end,
                    span: S
                }),
            ];
            let arg = (prop::option::of(ident()), inner.clone())
                .prop_map(|(name, value)| Arg { name, value });
            let else_branch = prop_oneof![
                block.clone().prop_map(|b| Expr::new(ExprKind::Block(b), S)),
                (inner.clone(), block.clone()).prop_map(|(cond, then_branch)| Expr::new(
                    ExprKind::If {
                        cond: Box::new(cond),
                        then_branch,
                        else_branch: None
                    },
                    S
                )),
            ];
            let field_init =
                (ident(), inner.clone()).prop_map(|(name, value)| FieldInit { name, value });
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(ExprKind::Array),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ExprKind::Tuple),
                (ident(), prop::collection::vec(field_init, 0..3))
                    .prop_map(|(name, fields)| ExprKind::StructLit { name, fields }),
                (inner.clone(), ident()).prop_map(|(base, field)| ExprKind::Field {
                    base: Box::new(base),
                    field
                }),
                (path(), prop::collection::vec(arg, 0..3))
                    .prop_map(|(callee, args)| ExprKind::Call { callee, args }),
                (inner.clone(), prop::collection::vec(index_item, 1..3)).prop_map(
                    |(base, indices)| ExprKind::Index {
                        base: Box::new(base),
                        indices
                    }
                ),
                (prop_oneof![Just(UnOp::Neg), Just(UnOp::Not)], inner.clone()).prop_map(
                    |(op, operand)| ExprKind::Unary {
                        op,
                        operand: Box::new(operand)
                    }
                ),
                (bin_op(), inner.clone(), inner.clone()).prop_map(|(op, lhs, rhs)| {
                    ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    }
                }),
                (inner.clone(), block.clone(), prop::option::of(else_branch)).prop_map(
                    |(cond, then_branch, else_branch)| ExprKind::If {
                        cond: Box::new(cond),
                        then_branch,
                        else_branch: else_branch.map(Box::new),
                    }
                ),
                (ident(), block.clone()).prop_map(|(party, body)| ExprKind::On { party, body }),
                block.prop_map(ExprKind::Block),
            ]
            .prop_map(|kind| Expr::new(kind, S))
        })
        .boxed()
}

fn item() -> impl Strategy<Value = Item> {
    let expr = expr();
    let use_decl = (
        prop::collection::vec(ident(), 1..3),
        prop_oneof![
            prop::collection::vec(ident(), 0..3).prop_map(UseNames::Names),
            Just(UseNames::Glob(S)),
        ],
    )
        .prop_map(|(module, names)| {
            Item::Use(UseDecl {
                module,
                names,
                span: S,
            })
        });
    let party = prop::collection::vec(ident(), 1..4)
        .prop_map(|names| Item::Party(PartyDecl { names, span: S }));
    let protocol_arg = prop_oneof![
        ident().prop_map(ProtocolArg::Party),
        (ident(), leaf()).prop_map(|(key, value)| ProtocolArg::Option { key, value }),
    ];
    let secret = (ident(), ident(), prop::collection::vec(protocol_arg, 0..4)).prop_map(
        |(name, protocol, args)| {
            Item::Secret(SecretDecl {
                name,
                protocol,
                args,
                span: S,
            })
        },
    );
    let constant = (ident(), prop::option::of(ty()), expr.clone()).prop_map(|(name, ty, value)| {
        Item::Const(ConstDecl {
            name,
            ty,
            value,
            span: S,
        })
    });
    let param = (any::<bool>(), ident(), ty(), prop::option::of(placement())).prop_map(
        |(constant, name, ty, placement)| Param {
            constant,
            name,
            ty,
            placement,
            span: S,
        },
    );
    let ret = (ty(), prop::option::of(placement())).prop_map(|(ty, placement)| RetType {
        ty,
        placement,
        span: S,
    });
    let reveals =
        prop::collection::vec(placement(), 0..3).prop_map(|targets| Reveals { targets, span: S });
    let grads = prop::collection::vec(
        (ident(), ident()).prop_map(|(param, function)| GradEntry { param, function }),
        0..3,
    )
    .prop_map(|entries| GradClause { entries, span: S });
    let function = (
        ident(),
        prop::collection::vec(param, 0..3),
        prop::option::of(ret),
        prop::option::of(reveals),
        prop::option::of(grads),
        block_with(expr),
    )
        .prop_map(|(name, params, ret, reveals, grads, body)| {
            Item::Fn(FnDecl {
                name,
                params,
                ret,
                reveals,
                grads,
                body,
                span: S,
            })
        });
    let field = (ident(), ty()).prop_map(|(name, ty)| FieldDecl { name, ty, span: S });
    let structure = (ident(), prop::collection::vec(field, 0..3)).prop_map(|(name, fields)| {
        Item::Struct(StructDecl {
            name,
            fields,
            span: S,
        })
    });
    prop_oneof![use_decl, party, secret, constant, structure, function]
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(item(), 0..5).prop_map(|items| Program { items, span: S })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_tree(ast in program()) {
        let printed = print::program(&ast);
        let mut reparsed = match parse(&printed) {
            Ok(p) => p,
            Err(errors) => panic!("printed program does not parse: {errors:?}\n{printed}"),
        };
        erase_program(&mut reparsed);
        prop_assert_eq!(&reparsed, &ast, "printed:\n{}", printed);
        prop_assert_eq!(print::program(&reparsed), printed);
    }
}

#[test]
fn struct_literals_in_conditions_are_parenthesised() {
    let src = "fn main() {\n    if (S { a: 1 }).a > 0 {\n        let (x, mut y, _) = (1, m.w, S { a: 2 });\n    }\n    \
               for i in 0 .. (T { n: 3 }).n {}\n    while (U {}).c {}\n}\n";
    let mut first = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
    let printed = print::program(&first);
    assert_eq!(printed, src);
    let mut second = parse(&printed).unwrap();
    erase_program(&mut first);
    erase_program(&mut second);
    assert_eq!(first, second);
    // Without parentheses, `S {` after `if` starts the branch, as in Rust.
    assert!(parse("fn main() { if S { a: 1 }.a > 0 {} }").is_err());
}

#[test]
fn the_contract_programs_round_trip() {
    for src in [
        include_str!("../../examples/logreg.tfe"),
        "struct Mlp {\n    w1: fixed[64, 16],\n    b1: fixed[16],\n}\n\n\
         fn loss(m: Mlp, x: fixed[_, 64]) -> (fixed, Mlp) @rep grad(m: loss_grad) {\n    \
         let (l, g) = value_and_grad(f, m, x);\n    (l, Mlp { w1: g.w1, b1: -m.b1 })\n}\n",
    ] {
        let mut first = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        let printed = print::program(&first);
        let mut second = parse(&printed).unwrap();
        erase_program(&mut first);
        erase_program(&mut second);
        assert_eq!(first, second);
    }
}

#[test]
fn logreg_round_trips() {
    let src = include_str!("../../examples/logreg.tfe");
    let mut first = parse(src).unwrap();
    let printed = print::program(&first);
    let mut second = parse(&printed).unwrap();
    erase_program(&mut first);
    erase_program(&mut second);
    assert_eq!(first, second);
}
