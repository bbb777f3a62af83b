//! `medseg compare` run as a user would: result folders and JSON files of two recipes, the
//! report and its verdict, the JSON output, and exit code 2 naming the offending file.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("the medseg binary is built")
}

fn scores(f1: f64) -> serde_json::Value {
    serde_json::json!({
        "f1": f1, "iou": f1 / (2.0 - f1), "sensitivity": f1, "specificity": 0.97,
        "precision": f1, "accuracy": 0.95, "auc": 0.98, "ap": null
    })
}

/// A metrics report of 12 images whose F1 is `base + shift` (plus a per-image wobble), as
/// `medseg eval` writes it, at `dir/last/metrics.json`.
fn run(dir: &Path, shift: f64) {
    let values: Vec<f64> = (0..12).map(|i| 0.70 + 0.01 * i as f64 + shift).collect();
    let images: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut s = scores(*v);
            s["id"] = serde_json::json!(format!("{:02}", i + 1));
            s
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let report = serde_json::json!({
        "threshold": 0.5, "images": images, "mean": scores(mean), "pooled": scores(mean + 0.01)
    });
    std::fs::create_dir_all(dir.join("last")).unwrap();
    std::fs::write(dir.join("last/metrics.json"), report.to_string()).unwrap();
}

#[test]
fn finds_a_clear_gain_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, shift) in [
        ("a1", 0.0),
        ("a2", 0.002),
        ("a3", -0.001),
        ("b1", 0.05),
        ("b2", 0.052),
        ("b3", 0.049),
    ] {
        run(&d.join(name), shift);
    }
    let json = d.join("cmp.json");
    medseg()
        .args([
            "compare", "--name-a", "plain", "--name-b", "msac", "--metric", "dice", "--a",
        ])
        .args([
            d.join("a1"),
            d.join("a2"),
            d.join("a3").join("last/metrics.json"),
        ])
        .arg("--b")
        .args([d.join("b1"), d.join("b2"), d.join("b3")])
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(predicate::str::contains("12 test images"))
        .stdout(predicate::str::contains("msac higher on 12 of 12"))
        .stdout(predicate::str::contains("verdict: msac better than plain"));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(c["verdict"], "b-better");
    assert_eq!(c["a"]["runs"].as_array().unwrap().len(), 3);
    assert!((c["difference"].as_f64().unwrap() - 0.0507).abs() < 1e-3);

    // Pooled, one run each: nothing is decided.
    medseg()
        .args(["compare", "--aggregate", "pooled", "--a"])
        .arg(d.join("a1"))
        .arg("--b")
        .arg(d.join("b1"))
        .assert()
        .success()
        .stdout(predicate::str::contains("not decidable"));
}

#[test]
fn bad_results_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(&d.join("a"), 0.0);
    std::fs::create_dir_all(d.join("empty")).unwrap();
    medseg()
        .args(["compare", "--a"])
        .arg(d.join("a"))
        .arg("--b")
        .arg(d.join("empty"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "neither last/metrics.json nor metrics.json",
        ));
    let garbled = d.join("garbled.json");
    std::fs::write(&garbled, "{\"threshold\": 0.5").unwrap();
    medseg()
        .args(["compare", "--a"])
        .arg(d.join("a"))
        .arg("--b")
        .arg(&garbled)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "garbled.json is not a medseg metrics report",
        ));
    medseg()
        .args(["compare", "--metric", "hd95", "--a"])
        .arg(d.join("a"))
        .arg("--b")
        .arg(d.join("a"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown metric 'hd95'"));
}

/// A per-class report (the schema `medseg eval` writes for a K-class model) of the same 12
/// images, at `dir/last/metrics.json`: `heart` as `run` writes it, `clavicles` shifted by
/// `clavicles_shift`.
fn classes_run(dir: &Path, clavicles_shift: f64) {
    let class = |name: &str, shift: f64| {
        let values: Vec<f64> = (0..12).map(|i| 0.70 + 0.01 * i as f64 + shift).collect();
        let images: Vec<serde_json::Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut s = scores(*v);
                s["id"] = serde_json::json!(format!("{:02}", i + 1));
                s["hd95"] = serde_json::json!(3.0);
                s["mean_contour_distance"] = serde_json::json!(1.0);
                s
            })
            .collect();
        let mut mean = scores(values.iter().sum::<f64>() / 12.0);
        mean["hd95"] = serde_json::json!(3.0);
        mean["mean_contour_distance"] = serde_json::json!(1.0);
        mean["distances_undefined"] = serde_json::json!(0);
        serde_json::json!({"name": name, "images": images, "mean": mean, "pooled": scores(0.8)})
    };
    let heart = class("heart", 0.0);
    let report = serde_json::json!({
        "mode": "multi-label", "threshold": 0.5,
        "classes": [heart, class("clavicles", clavicles_shift)],
        "mean_over_classes": {"classes": ["heart", "clavicles"], "mean": heart["mean"], "pooled": scores(0.8)}
    });
    std::fs::create_dir_all(dir.join("last")).unwrap();
    std::fs::write(dir.join("last/metrics.json"), report.to_string()).unwrap();
}

#[test]
fn per_class_results_compare_on_the_named_class() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, shift) in [
        ("a1", 0.0),
        ("a2", 0.002),
        ("a3", -0.001),
        ("b1", 0.05),
        ("b2", 0.052),
        ("b3", 0.049),
    ] {
        classes_run(&d.join(name), shift);
    }
    let compare = |class: Option<&str>| {
        let mut cmd = medseg();
        cmd.arg("compare");
        if let Some(class) = class {
            cmd.args(["--class", class]);
        }
        cmd.arg("--a")
            .args([d.join("a1"), d.join("a2"), d.join("a3")])
            .arg("--b")
            .args([d.join("b1"), d.join("b2"), d.join("b3")]);
        cmd.assert()
    };
    compare(Some("clavicles"))
        .success()
        .stdout(predicate::str::contains("B higher on 12 of 12"))
        .stdout(predicate::str::contains("verdict: B better than A"));
    // The heart is the same in every run.
    compare(Some("heart"))
        .success()
        .stdout(predicate::str::contains("B - A: +0.0000"));
    compare(None).code(2).stderr(predicate::str::contains(
        "name the class to compare with --class (one of heart, clavicles)",
    ));
    compare(Some("lungs"))
        .code(2)
        .stderr(predicate::str::contains(
            "no class 'lungs' in this report (its classes: heart, clavicles)",
        ));
    // A binary result has no classes.
    run(&d.join("binary"), 0.0);
    medseg()
        .args(["compare", "--class", "heart", "--a"])
        .arg(d.join("binary"))
        .arg("--b")
        .arg(d.join("a1"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--class heart: this is the report of a binary model",
        ));
}
