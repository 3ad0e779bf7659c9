//! examples/sort_max.tfe and std::sort::sort: the revealed results against plaintext sorting
//! and maxima. Sorting and max are exact on the shared values: the only error is the encoding of
//! the inputs (2^-17 per value). Under each protocol.

#[macro_use]
mod support;

use support::{Protocol, read_matrix, run_example, scratch_data};

per_protocol!(
    sort_and_maxima_match_plaintext,
    sort_handles_any_length_and_duplicates,
);

fn sort_and_maxima_match_plaintext(protocol: Protocol) {
    let data = scratch_data(&format!("sort-max-{}", protocol.name()));
    let stdout = run_example(protocol, "sort_max.tfe", &data, &[]);
    let mut values: Vec<f64> = read_matrix(&data.join("alice/values.csv"))
        .iter()
        .copied()
        .collect();
    values.sort_by(f64::total_cmp);
    let sorted: Vec<f64> = read_matrix(&data.join("alice/sorted.csv"))
        .iter()
        .copied()
        .collect();
    assert_eq!(sorted.len(), 1000);
    for (a, b) in values.iter().zip(&sorted) {
        assert!((a - b).abs() <= 2f64.powi(-16), "{a} vs {b}");
    }
    let max: f64 = stdout
        .trim()
        .trim_start_matches("[alice] ")
        .parse()
        .unwrap();
    assert!((max - values[999]).abs() <= 2f64.powi(-16));
    let windows = read_matrix(&data.join("bob/windows.csv"));
    let maxima: Vec<f64> = read_matrix(&data.join("bob/window_max.csv"))
        .iter()
        .copied()
        .collect();
    for (row, m) in windows.rows().into_iter().zip(&maxima) {
        let want = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!((want - m).abs() <= 2f64.powi(-16), "{want} vs {m}");
    }
}

/// `sort` on lengths that are not powers of two, with duplicates and both signs.
fn sort_handles_any_length_and_duplicates(protocol: Protocol) {
    for n in [1usize, 2, 3, 37, 64] {
        let dir = std::env::temp_dir().join(format!(
            "tfe-sort-{n}-{}-{}",
            std::process::id(),
            protocol.name()
        ));
        std::fs::create_dir_all(dir.join("data/alice")).unwrap();
        let values: Vec<f64> = (0..n)
            .map(|i| (((i * 7919) % 23) as f64 - 11.0) * 1.5)
            .collect();
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(dir.join("data/alice/v.csv"), text).unwrap();
        std::fs::write(
            dir.join("p.tfe"),
            protocol.switch(
                "use std::sort::sort;\nparty alice, s0, s1, s2;\nsecret rep = aby3(s0, s1, s2);\n\
                 fn main() {\nlet va: fixed[_] @alice = read_csv(\"v.csv\");\nlet v: fixed[_] @rep = va;\n\
                 write_csv(reveal(sort(v), to: alice), \"s.csv\");\n}\n",
            ),
        )
        .unwrap();
        support::tfec(&["run".as_ref(), dir.join("p.tfe").as_os_str()]);
        let got: Vec<f64> = read_matrix(&dir.join("data/alice/s.csv"))
            .iter()
            .copied()
            .collect();
        let mut want = values.clone();
        want.sort_by(f64::total_cmp);
        assert_eq!(got, want, "n = {n}");
    }
}
