//! `tfe_ir::project` keeps exactly the ops each party takes part in: on every example and every
//! corpus program that lowers, it agrees with the definition written with
//! `tfe_ir::participants` (an op, or a loop or branch with anything inside, that involves the
//! party), for every party.

use std::path::Path;

use tfe_ir::{Node, Op, Program};

/// The projection as first written: keep a node when `participants` marks the party.
fn reference(program: &Program, party: usize) -> Program {
    fn block(program: &Program, body: &[Node], party: usize) -> Vec<Node> {
        body.iter()
            .filter(|n| tfe_ir::participants(program, n)[party])
            .map(|n| Node {
                id: n.id,
                op: match &n.op {
                    Op::For {
                        var,
                        start,
                        end,
                        body,
                    } => Op::For {
                        var: *var,
                        start: *start,
                        end: *end,
                        body: block(program, body, party),
                    },
                    Op::While {
                        cond_body,
                        cond,
                        body,
                    } => Op::While {
                        cond_body: cond_body.clone(),
                        cond: *cond,
                        body: block(program, body, party),
                    },
                    Op::If {
                        cond,
                        then_body,
                        else_body,
                    } => Op::If {
                        cond: *cond,
                        then_body: block(program, then_body, party),
                        else_body: block(program, else_body, party),
                    },
                    other => other.clone(),
                },
            })
            .collect()
    }
    Program {
        body: block(program, &program.body, party),
        ..program.clone()
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["examples", "tests/programs/check_ok", "bench/programs"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "tfe"))
            .collect();
        files.sort();
        for f in files {
            out.push((
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn projection_keeps_the_ops_each_party_takes_part_in() {
    let mut checked = 0;
    for (name, src) in sources() {
        let Ok(ir) = tfe_compiler::check(&src).and_then(|hir| tfe_compiler::lower::lower(&hir))
        else {
            continue;
        };
        for party in 0..ir.parties.len() {
            assert!(
                tfe_ir::project(&ir, party) == reference(&ir, party),
                "{name}: party {}",
                ir.parties[party]
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} programs lowered");
}
