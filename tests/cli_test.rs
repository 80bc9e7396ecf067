//! The `edgeprice` binary as a user runs it: stdout carries only the scores, errors name
//! the line and column of a bad row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

fn edgeprice(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgeprice")).args(args).output().unwrap()
}

#[test]
fn score_prints_one_probability_per_row() {
    let data = common::train_csv();
    let models = common::models();
    for extra in [&[][..], &["--int8"][..]] {
        let mut args = vec!["score", "--model", models.to_str().unwrap(), "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = edgeprice(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let probs: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(probs.len(), common::read_rows().len());
        assert!(probs.iter().all(|p| *p > 0.0 && *p < 1.0));
    }
}

#[test]
fn bad_row_is_named_by_line_and_column() {
    let dir = std::env::temp_dir().join(format!("edgeprice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(common::train_csv()).unwrap();
    let mut lines: Vec<String> = text.lines().take(6).map(String::from).collect();
    let mut cells: Vec<String> = lines[4].split(',').map(String::from).collect();
    cells[7] = "twelve".into();
    lines[4] = cells.join(",");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = edgeprice(&["score", "--model", common::models().to_str().unwrap(), "--data", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "partial output on error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 5, column ExitRates: expected a number, found \"twelve\""), "{err}");
}

#[test]
fn features_match_the_schema() {
    let out = edgeprice(&[
        "features",
        "--model",
        common::models().to_str().unwrap(),
        "--data",
        common::train_csv().to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"log1p(PageValues)") && header.contains(&"Month=Nov"));
    assert!(!header.iter().any(|h| h.starts_with("Region")), "Region must not be a model input");
    for line in lines.take(100) {
        assert_eq!(line.split(',').count(), header.len());
    }
}
