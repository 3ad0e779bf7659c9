//! Every shipped example and stdlib module parses.

use std::path::Path;

fn tfe_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            tfe_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "tfe") {
            out.push(path);
        }
    }
}

#[test]
fn examples_and_stdlib_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    tfe_files(&root.join("examples"), &mut files);
    tfe_files(&root.join("stdlib"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("examples/logreg.tfe")));
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        if let Err(errors) = tfe_grammar::parse(&src) {
            panic!("{} does not parse: {errors:#?}", file.display());
        }
    }
}
