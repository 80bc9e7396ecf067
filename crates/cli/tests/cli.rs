//! The `edgeprice` binary as a user runs it: stdout carries only the scores, errors name
//! the line and column of a bad row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn read_rows() -> Vec<edgeprice_learn::dataset::Row> {
    edgeprice_learn::dataset::parse(&edgeprice_testkit::train_text()).unwrap()
}

fn edgeprice(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgeprice")).args(args).output().unwrap()
}

#[test]
fn score_prints_one_probability_per_row() {
    let data = edgeprice_testkit::train_csv();
    let models = edgeprice_testkit::models();
    for extra in [&[][..], &["--int8"][..]] {
        let mut args = vec!["score", "--model", models.to_str().unwrap(), "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = edgeprice(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let probs: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(probs.len(), read_rows().len());
        assert!(probs.iter().all(|p| *p > 0.0 && *p < 1.0));
    }
}

#[test]
fn bad_row_is_named_by_line_and_column() {
    let dir = std::env::temp_dir().join(format!("edgeprice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(edgeprice_testkit::train_csv()).unwrap();
    let mut lines: Vec<String> = text.lines().take(6).map(String::from).collect();
    let mut cells: Vec<String> = lines[4].split(',').map(String::from).collect();
    cells[7] = "twelve".into();
    lines[4] = cells.join(",");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = edgeprice(&[
        "score",
        "--model",
        edgeprice_testkit::models().to_str().unwrap(),
        "--data",
        bad.to_str().unwrap(),
    ]);
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
        edgeprice_testkit::models().to_str().unwrap(),
        "--data",
        edgeprice_testkit::train_csv().to_str().unwrap(),
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

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edgeprice-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn keygen_bundle_verify_inspect_price() {
    let dir = temp_dir("bundle");
    let key = dir.join("shop.key");
    let out = edgeprice(&["keygen", "--out", key.to_str().unwrap(), "--key-id", "shop-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(public["key_id"], "shop-1");
    let pub_file = dir.join("shop.key.pub.json");
    let bundle = dir.join("p7.epb");
    let models = edgeprice_testkit::models();
    let out = edgeprice(&[
        "bundle",
        "--model",
        models.to_str().unwrap(),
        "--rules",
        models.join("rules.toml").to_str().unwrap(),
        "--policy-version",
        "7",
        "--key",
        key.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
        "--created",
        "2026-11-01T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verify = |pubkey: &std::path::Path| {
        edgeprice(&[
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--public-key",
            pubkey.to_str().unwrap(),
            "--now",
            "2026-11-28T12:00:00Z",
        ])
    };
    assert!(verify(&pub_file).status.success());
    // The default key does not know this bundle's key.
    let out = edgeprice(&["verify", "--bundle", bundle.to_str().unwrap(), "--now", "2026-11-28T12:00:00Z"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("bundle_unknown_key"));
    // A flipped byte: non-zero exit and the reason code.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let out = verify(&pub_file);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("bundle_bad_signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bytes[at] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();

    let out = edgeprice(&["inspect", "--bundle", bundle.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["manifest"]["policy_version"], 7);
    assert_eq!(doc["rules"]["objective"], "profit");

    let session = dir.join("s.json");
    std::fs::write(
        &session,
        r#"{"session_id": "cli-1", "features": {"ProductRelated": 12, "PageValues": 8, "VisitorType": "New_Visitor"}}"#,
    )
    .unwrap();
    let out = edgeprice(&[
        "price",
        "--bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        pub_file.to_str().unwrap(),
        "--session",
        session.to_str().unwrap(),
        "--product",
        models.join("demo_product.json").to_str().unwrap(),
        "--now",
        "2026-11-28T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "sku",
        "price",
        "list_price",
        "currency",
        "discount",
        "arm",
        "propensity",
        "purchase_probability",
        "expected_profit",
        "policy_version",
        "decision_id",
        "reasons",
        "personalized",
    ] {
        assert!(d.get(field).is_some(), "decision lacks {field}");
    }
    assert_eq!(d["policy_version"], 7);
}

#[test]
fn price_every_session_of_the_data_set_with_the_default_bundle() {
    let out = edgeprice(&[
        "price",
        "--data",
        edgeprice_testkit::train_csv().to_str().unwrap(),
        "--product",
        edgeprice_testkit::models().join("demo_product.json").to_str().unwrap(),
        "--now",
        "2026-11-28T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let decisions: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(decisions.len(), read_rows().len());
    assert!(decisions.iter().all(|d| d["price"].as_f64().unwrap() <= 49.99 && d["price"].as_f64().unwrap() >= 25.3));
    let control = decisions.iter().filter(|d| d["arm"] == "control").count() as f64 / decisions.len() as f64;
    assert!((0.08..0.12).contains(&control), "control share {control}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sessions priced with policy 1"));
}

#[test]
fn simulate_and_evaluate_take_any_csv_of_the_data_sets_format() {
    let dir = std::env::temp_dir().join(format!("edgeprice-cli-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 400 sessions of the train file, from its end: another CSV in the same format.
    let text = std::fs::read_to_string(edgeprice_testkit::train_csv()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let csv = dir.join("other.csv");
    std::fs::write(&csv, [&lines[..1], &lines[lines.len() - 400..]].concat().join("\n")).unwrap();
    let product = edgeprice_testkit::models().join("demo_product.json");
    let log = dir.join("log.ndjson");
    let base =
        ["--data", csv.to_str().unwrap(), "--product", product.to_str().unwrap(), "--now", "2026-12-05T12:00:00Z"];
    let bundle = edgeprice_testkit::models().join("default.epb");
    let mut args = vec!["simulate", "--policy", bundle.to_str().unwrap(), "--json", "--log", log.to_str().unwrap()];
    args.extend_from_slice(&base);
    let out = edgeprice(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in
        ["profit_per_session", "profit_ci_low", "profit_ci_high", "revenue_per_session", "conversion", "sessions"]
    {
        assert!(summary[key].is_number(), "{key} in {summary}");
    }
    assert_eq!(summary["sessions"], 400);
    assert!(summary["profit_ci_low"].as_f64() <= summary["profit_per_session"].as_f64());
    assert!(summary["fairness"]["groups"]["VisitorType"].is_object(), "fairness report by group");
    // A bundle's figures against the reachable ceiling, on the same sessions and valuations.
    let fo = &summary["feature_oracle"];
    for key in ["profit_per_session", "uniform_profit_per_session", "captured_share"] {
        assert!(fo[key].is_number(), "feature_oracle.{key} in {summary}");
    }
    assert!(fo["feature_oracle_minus_uniform"]["mean"].as_f64().unwrap() >= -1e-9, "{fo}");
    assert_eq!(summary["market"]["family"], "v1");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 800, "a decision and an outcome per session");
    for policy in ["list", "uniform", "feature-oracle", "oracle"] {
        let mut args = vec!["simulate", "--policy", policy, "--json"];
        args.extend_from_slice(&base);
        let out = edgeprice(&args);
        assert!(out.status.success(), "{policy}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Another market family from its file; a bad market file is refused with its code.
    let flat = edgeprice_testkit::repo().join("markets/flat.toml");
    let mut args = vec!["simulate", "--policy", "uniform", "--json", "--market", flat.to_str().unwrap()];
    args.extend_from_slice(&base);
    let out = edgeprice(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["market"]["family"], "flat");
    let bad = dir.join("bad-market.toml");
    std::fs::write(&bad, "family = \"flat\"\n[parameters]\nbuy_share = 2.0\n").unwrap();
    let mut args = vec!["simulate", "--policy", "uniform", "--market", bad.to_str().unwrap()];
    args.extend_from_slice(&base);
    let out = edgeprice(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("buy_share"), "{}", String::from_utf8_lossy(&out.stderr));
    // Off-policy: the logged policy evaluated on its own log, and the list price.
    for policy in [bundle.to_str().unwrap(), "list"] {
        let out = edgeprice(&[
            "evaluate",
            "--log",
            log.to_str().unwrap(),
            "--policy",
            policy,
            "--product",
            product.to_str().unwrap(),
            "--now",
            "2026-12-05T12:00:00Z",
            "--json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(e["decisions"], 400);
        for est in ["ips", "snips", "dr"] {
            assert!(e[est]["ci_low"].as_f64() <= e[est]["ci_high"].as_f64(), "{est}: {e}");
        }
        assert!(e["effective_sample_size"].as_f64().unwrap() > 0.0);
    }
    let out = edgeprice(&["simulate", "--policy", "nonsense.epb", "--data", csv.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn resign_turns_a_format_1_bundle_into_format_2_under_a_new_key() {
    let dir = temp_dir("resign");
    let key = dir.join("new.key");
    let out = edgeprice(&["keygen", "--out", key.to_str().unwrap(), "--key-id", "rotated"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fixtures = edgeprice_testkit::repo().join("crates/core/tests/fixtures");
    let (old, old_key) = (fixtures.join("default-format1.epb"), fixtures.join("default-format1.pub.json"));
    let new = dir.join("new.epb");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let resign = |public_key: &std::path::Path| {
        edgeprice(&[
            "resign",
            "--bundle",
            &path(&old),
            "--public-key",
            &path(public_key),
            "--key",
            &path(&key),
            "--out",
            &path(&new),
            "--now",
            "2026-12-02T00:00:00Z",
        ])
    };
    // A bundle that does not verify under the given key is not signed again.
    let refused = resign(&edgeprice_testkit::models().join("default.pub.json"));
    assert!(!refused.status.success() && !new.exists(), "{}", String::from_utf8_lossy(&refused.stdout));
    let out = resign(&old_key);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&new).unwrap();
    assert_eq!(edgeprice_core::bundle::format_of(&bytes).unwrap(), 2, "format 2");
    let mut keys = edgeprice_core::bundle::TrustedKeys::default();
    keys.add_json(&std::fs::read(dir.join("new.key.pub.json")).unwrap()).unwrap();
    let at = edgeprice_testkit::now();
    let (a, b) = (
        edgeprice_core::bundle::verify(&bytes, &keys, at, None).unwrap(),
        edgeprice_core::bundle::verify(
            edgeprice_core::bundle::DEFAULT_BUNDLE,
            &edgeprice_core::bundle::default_keys().unwrap(),
            at,
            None,
        )
        .unwrap(),
    );
    assert_eq!(a.manifest().key_id, "rotated");
    assert_eq!((a.rules(), a.manifest().policy_version, &a.manifest().expires), (b.rules(), 1, &b.manifest().expires));
}
