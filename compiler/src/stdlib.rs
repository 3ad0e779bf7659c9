//! The standard library's sources, embedded at build time so that `tfec` works from any
//! directory. Each entry is a module path and its `.tfe` source from `stdlib/std/`.

/// Every module of the standard library: (`std::nn`, source).
pub const MODULES: &[(&str, &str)] = &[
    ("std::math", include_str!("../../stdlib/std/math.tfe")),
    ("std::nn", include_str!("../../stdlib/std/nn.tfe")),
    ("std::optim", include_str!("../../stdlib/std/optim.tfe")),
    ("std::sort", include_str!("../../stdlib/std/sort.tfe")),
];

/// A library module's syntax tree, parsed once per process. `None` for an unknown path, or
/// (a bug, which a test rules out) a module that does not parse.
pub fn parsed(path: &str) -> Option<&'static tfe_grammar::ast::Program> {
    static PARSED: std::sync::OnceLock<Vec<(&'static str, Option<tfe_grammar::ast::Program>)>> =
        std::sync::OnceLock::new();
    let all = PARSED.get_or_init(|| {
        MODULES
            .iter()
            .map(|(p, src)| (*p, tfe_grammar::parse(src).ok()))
            .collect()
    });
    all.iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, program)| program.as_ref())
}

/// The source of a module, by path (`std::nn`).
pub fn source(path: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, src)| *src)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_under_stdlib_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/std");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "tfe") {
                let module = format!("std::{}", path.file_stem().unwrap().to_string_lossy());
                let on_disk = std::fs::read_to_string(&path).unwrap();
                assert_eq!(
                    super::source(&module),
                    Some(on_disk.as_str()),
                    "{module} is not embedded"
                );
            }
        }
    }
}
