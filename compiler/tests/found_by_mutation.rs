//! Bugs the mutation campaign (tfec/tests/mutation.rs) found, each kept as a test of what the
//! compiler does now. The inputs themselves are in tests/mutation/regressions/, which every
//! campaign runs first.

fn errors(src: &str) -> Vec<tfe_compiler::Diagnostic> {
    tfe_compiler::check(src).expect_err("the program is wrong")
}

fn every_label_inside(src: &str, errors: &[tfe_compiler::Diagnostic]) {
    for d in errors {
        for l in std::iter::once(&d.primary).chain(&d.secondary) {
            assert!(l.span.end <= src.len(), "a label outside the file: {d:?}");
        }
    }
}

#[test]
fn huge_image_sizes_are_an_error_not_an_overflow() {
    // Was: "attempt to multiply with overflow" computing the values per image.
    for image in [
        "[9223372036854775807, 8, 1]",
        "[8, 8, 4611686018427387904]",
        "[-4611686018427387904, -4, 1]",
    ] {
        let src = format!(
            "party a;\nfn main() {{\n    let x: fixed[1, 64] @a = zeros([1, 64]);\n    let c = im2col(x, image: {image}, window: [3, 3]);\n}}\n"
        );
        let e = errors(&src);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].code, "E0214", "{e:?}");
    }
    // Also through a library function, with a huge padding (was: overflow in `h + 2 * pad`).
    let src = "use std::nn::max_pool2d;\nparty a;\nfn main() {\n    let x: fixed[1, 288] @a = zeros([1, 288]);\n    let p = max_pool2d(x, height: 6, width: 6, channels: 9223372036854775807, size: 2);\n}\n";
    let e = errors(src);
    assert!(e.iter().all(|d| d.code == "E0214"), "{e:?}");
}

#[test]
fn a_library_parameter_of_the_wrong_kind_points_only_into_the_program() {
    // Was: a secondary label "declared here" at the library's offsets, outside the file.
    let src = "use std::nn::max_pool2d;\nparty a;\nfn main() {\n    let x: fixed[1, 288] @a = zeros([1, 288]);\n    let p = max_pool2d(x, height: 6.0, width: 6, channels: 8, size: 2);\n}\n";
    let e = errors(src);
    assert_eq!(e[0].code, "E0201", "{e:?}");
    every_label_inside(src, &e);
}
