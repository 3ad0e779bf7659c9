//! The privacy policy follows data from each party's inputs through explicit and implicit
//! flows, and lists every declassification.

fn policy(src: &str) -> String {
    let program = tfe_compiler::check(src).unwrap_or_else(|d| {
        panic!(
            "{}",
            tfe_compiler::render(
                &d,
                "p.tfe",
                src,
                tfe_compiler::RenderOptions { color: false }
            )
        )
    });
    let policy = tfe_compiler::policy::analyze(&program);
    tfe_compiler::policy::render(&program, &policy, "p.tfe", src)
}

#[test]
fn a_value_chosen_under_a_private_condition_depends_on_it() {
    let text = policy(
        "party alice, bob;\n\
         fn main() {\n\
             let flag: bool @alice = read_csv(\"flag.csv\");\n\
             let v: int @alice = on alice {\n\
                 let mut r = 0;\n\
                 if flag { r = 1; }\n\
                 r\n\
             };\n\
             print(reveal(v, to: bob));\n\
         }\n",
    );
    assert!(text.contains("alice reads flag.csv (line 3)"), "{text}");
    assert!(
        text.contains("- reaches bob only through the declassifications at line 9"),
        "{text}"
    );
    assert!(
        text.contains(
            "line 9: `v` (held by alice) is revealed to bob; it depends on the data of alice"
        ),
        "{text}"
    );
}

#[test]
fn public_reveals_and_parties_without_data() {
    let text = policy(
        "party alice, bob, carol, s0, s1, s2;\n\
         secret rep = aby3(s0, s1, s2);\n\
         fn main() {\n\
             let a: fixed[_, 2] @alice = read_csv(\"a.csv\");\n\
             let b: fixed[_, 2] @bob = read_csv(\"b.csv\");\n\
             let total: fixed[2] @rep = sum(a, axis: 0) + sum(b, axis: 0);\n\
             print(reveal(total));\n\
             let c: fixed @carol = 1.0;\n\
             print(c);\n\
         }\n",
    );
    for party in ["alice", "bob"] {
        assert!(text.contains(&format!("{party} reads")), "{text}");
    }
    assert!(
        text.contains("- is secret-shared into rep (line 6)"),
        "{text}"
    );
    assert!(
        text.contains(
            "- reaches every party (public) only through the declassifications at line 7"
        ),
        "{text}"
    );
    assert!(text.contains("carol, s0, s1, s2 read no data"), "{text}");
    assert!(text.contains("line 7: `total` (secret at rep) is revealed to every party (public); it depends on the data of alice, bob"), "{text}");
}

#[test]
fn data_that_is_never_revealed_stays_put() {
    let text = policy(
        "party alice, s0, s1, s2;\n\
         secret rep = aby3(s0, s1, s2);\n\
         fn main() {\n\
             let a: fixed[_, 2] @alice = read_csv(\"a.csv\");\n\
             let s: fixed[_, 2] @rep = a;\n\
             let m = on alice { sum(a, axis: 0) };\n\
             print(m);\n\
         }\n",
    );
    assert!(
        text.contains("- is secret-shared into rep (line 5)"),
        "{text}"
    );
    assert!(!text.contains("reaches"), "{text}");
    assert!(
        text.contains("none: no party learns anything it does not hold"),
        "{text}"
    );
}

#[test]
fn stores_and_loads_are_listed_and_loaded_shares_are_a_source() {
    let text = policy(
        "party alice, bob, s0, s1, s2;\n\
         secret two = pond(s0, s1, dealer = s2);\n\
         fn main() {\n\
             let a: fixed[_, 2] @alice = read_csv(\"a.csv\");\n\
             let kept: fixed[2] @two = read_shares(\"old\");\n\
             let s: fixed[2] @two = sum(a, axis: 0) + kept;\n\
             write_shares(s, \"new\");\n\
             print(reveal(kept * 2.0, to: bob));\n\
         }\n",
    );
    assert!(
        text.contains("    - is kept as shares in `new` (line 7)"),
        "{text}"
    );
    assert!(
        text.contains(
            "line 7: `s` (secret at two) is stored as `new` by s0, s1, each its own share; it depends on the data of alice and the shares stored as `old`"
        ),
        "{text}"
    );
    assert!(
        text.contains("line 5: `old` is loaded into two: shares an earlier run stored"),
        "{text}"
    );
    assert!(
        text.contains(
            "line 8: `kept * 2.0` (secret at two) is revealed to bob; it depends on the shares stored as `old`"
        ),
        "{text}"
    );
}
