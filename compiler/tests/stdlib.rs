//! The standard library checks clean at every kind of placement: each elementwise function is
//! called on a party's plaintext, on secret shares and on public values, at several shapes.

use tfe_compiler::RenderOptions;

const ELEMENTWISE: &[&str] = &[
    "std::nn::sigmoid",
    "std::nn::relu",
    "std::nn::relu_grad",
    "std::math::exp",
    "std::math::reciprocal",
    "std::math::inv_sqrt",
    "std::math::sqrt",
    "std::math::log",
];

#[test]
fn elementwise_functions_check_at_every_placement_and_shape() {
    for f in ELEMENTWISE {
        let src = format!(
            "party alice, s0, s1, s2;\n\
             secret rep = aby3(s0, s1, s2);\n\
             fn main() {{\n\
                 let a: fixed[4, 2] @alice = zeros([4, 2]);\n\
                 let r: fixed[7] @rep = zeros([7]);\n\
                 let p: fixed = 0.5;\n\
                 let fa = {f}(a);\n\
                 let fr = {f}(r);\n\
                 let fp = {f}(p);\n\
                 print(fa);\n\
                 print(fp);\n\
             }}\n"
        );
        match tfe_compiler::check(&src) {
            Ok(program) => {
                // One instance per placement and shape, each with the argument's shape.
                let instances: Vec<_> = program
                    .functions
                    .iter()
                    .filter(|i| format!("{}::{}", i.module, i.name) == *f)
                    .collect();
                assert_eq!(instances.len(), 3, "{f}");
            }
            Err(d) => panic!(
                "{}",
                tfe_compiler::render(&d, "stdlib_test.tfe", &src, RenderOptions { color: false })
            ),
        }
    }
}

#[test]
fn library_functions_refuse_what_their_signature_refuses() {
    let src = "party s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
               use std::nn::sigmoid;\n\
               fn main() {\n    let c: bool[3] @rep = zeros([3]) > 1.0;\n    let s = sigmoid(c);\n}\n";
    let errors = tfe_compiler::check(src).expect_err("a bool tensor is not fixed");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "E0201");
}
