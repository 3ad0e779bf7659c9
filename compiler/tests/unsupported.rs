//! E0401: valid programs whose constructs the lowering does not handle yet are refused with a
//! span and a help line, never run with a different meaning. (Rings are not among them: `ring =
//! 128` is lowered as such, not quietly run on 64 bits.)

fn lower_errors(src: &str) -> String {
    tfe_compiler::check(src).unwrap_or_else(|d| panic!("the program checks: {d:?}"));
    let errors = tfe_compiler::compile(src, &tfe_compiler::Options::default())
        .expect_err("the lowering refuses it");
    assert!(errors.iter().all(|d| d.code == "E0401"), "{errors:?}");
    tfe_compiler::render(
        &errors,
        "prog.tfe",
        src,
        tfe_compiler::RenderOptions { color: false },
    )
}

#[test]
fn pond_is_lowered_as_pond() {
    let src = "party alice, bob, carol;\nsecret two = pond(alice, bob, dealer = carol);\n\
               fn main() {\n    let x: fixed @alice = 1.0;\n    let y: fixed @two = x;\n    print(reveal(y * y, to: bob));\n}\n";
    let hir = tfe_compiler::check(src).unwrap();
    let ir = tfe_compiler::lower::lower(&hir).unwrap();
    assert_eq!(ir.secrets[0].protocol, tfe_ir::Protocol::Pond);
    // The dealer is the last member.
    assert_eq!(ir.secrets[0].parties, vec![0, 1, 2]);
}

#[test]
fn a_128_bit_ring_is_lowered_as_128_bits() {
    for secret in [
        "secret rep = aby3(a, b, c, ring = 128, frac = 40);",
        "secret rep = pond(a, b, dealer = c, ring = 128, frac = 40);",
    ] {
        let src = format!(
            "party a, b, c;\n{secret}\n\
             fn main() {{\n    let x: fixed @a = 1.0;\n    let y: fixed @rep = x;\n    print(reveal(y * y, to: b));\n}}\n"
        );
        let ir = tfe_compiler::compile(&src, &tfe_compiler::Options::default()).unwrap();
        assert_eq!(
            (ir.secrets[0].ring_bits, ir.secrets[0].frac_bits),
            (128, 40)
        );
    }
}

#[test]
fn an_early_return_is_refused() {
    let out = lower_errors(
        "party a;\nfn pick(c: bool, v: fixed) -> fixed {\n    if c { return v; }\n    0.0\n}\n\
         fn main() {\n    let x: fixed @a = pick(true, 1.0);\n    print(x);\n}\n",
    );
    insta::assert_snapshot!(out);
}

#[test]
fn the_64_bit_ring_with_another_frac_is_accepted() {
    let src = "party a, b, c;\nsecret rep = aby3(a, b, c, frac = 20);\n\
               fn main() {\n    let x: fixed @a = 1.0;\n    let y: fixed @rep = x;\n    print(reveal(y * y, to: b));\n}\n";
    let ir = tfe_compiler::compile(src, &tfe_compiler::Options::default()).unwrap();
    assert_eq!(ir.secrets[0].frac_bits, 20);
}
