//! `medseg synth` and `medseg data check` run as a user would.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("the medseg binary is built")
}

fn synth(kind: &str, out: &Path, count: &str) {
    medseg()
        .args(["synth", "--kind", kind, "--count", count, "--size", "64"])
        .args(["--seed", "3", "--out"])
        .arg(out)
        .assert()
        .success()
        .stdout(predicate::str::contains("medseg data check"));
}

#[test]
fn synth_then_check_a_good_tree() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("drive");
    synth("vessels", &root, "4");
    assert!(root.join("training/images/03_training.tif").is_file());
    assert!(root.join("training/1st_manual/03_manual1.gif").is_file());
    assert!(root.join("test/mask/01_test_mask.gif").is_file());
    medseg()
        .args(["data", "check", "--dataset", "drive", "--root"])
        .arg(&root)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "cases        4 (train 2, val 0, test 2",
        ))
        .stdout(predicate::str::contains("problems     none"))
        .stdout(predicate::str::contains("derived FOV  IoU vs official"));
    let out = medseg()
        .args(["data", "check", "--dataset", "drive", "--json", "--root"])
        .arg(&root)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["counts"]["cases"], 4);
    assert_eq!(json["sizes"][0]["width"], 64);
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);

    let isic = t.path().join("isic");
    synth("lesions", &isic, "3");
    medseg()
        .args(["data", "check", "--dataset", "isic2018", "--root"])
        .arg(&isic)
        .assert()
        .success()
        .stdout(predicate::str::contains("cases        3 (train 3"));
}

#[test]
fn a_broken_tree_exits_2_listing_every_problem() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("drive");
    synth("vessels", &root, "4");
    std::fs::remove_file(root.join("test/1st_manual/02_manual1.gif")).unwrap();
    std::fs::write(root.join("training/images/04_training.tif"), b"II*\0cut").unwrap();
    medseg()
        .args(["data", "check", "--dataset", "drive", "--root"])
        .arg(&root)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("[missing-file]"))
        .stdout(predicate::str::contains("02_manual1.gif"))
        .stdout(predicate::str::contains("[decode]"))
        .stdout(predicate::str::contains("04_training.tif"))
        .stderr(predicate::str::contains("2 problem(s)"));
    let out = medseg()
        .args(["data", "check", "--dataset", "drive", "--json", "--root"])
        .arg(&root)
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn wrong_root_and_bad_arguments_exit_2() {
    let t = tempfile::tempdir().unwrap();
    medseg()
        .args(["data", "check", "--dataset", "stare", "--root"])
        .arg(t.path().join("nope"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad layout"))
        .stderr(predicate::str::contains("labels-ah"));
    medseg()
        .args(["data", "check", "--dataset", "kaggle", "--root", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("chase-db1"));
    // synth refuses to write into a non-empty folder
    std::fs::write(t.path().join("keep.txt"), "x").unwrap();
    medseg()
        .args(["synth", "--kind", "vessels", "--count", "2", "--out"])
        .arg(t.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}
