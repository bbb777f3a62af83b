//! `medseg score` run as a user would: pairing by case ID, FOV, 8/16-bit maps, the JSON/CSV
//! report, and exit code 2 with the offending file named on bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use medseg::data::{Mask, Plane};
use predicates::prelude::*;

const W: u32 = 8;
const H: u32 = 8;

fn medseg() -> Command {
    Command::cargo_bin("medseg").expect("the medseg binary is built")
}

fn mask(f: impl Fn(u32, u32) -> bool) -> Mask {
    let data = (0..H)
        .flat_map(|y| (0..W).map(move |x| (x, y)))
        .map(|(x, y)| f(x, y))
        .collect();
    Mask {
        width: W,
        height: H,
        data,
    }
}

fn save_u16(path: &Path, f: impl Fn(u32, u32) -> u16) {
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(W, H, |x, y| {
        image::Luma([f(x, y)])
    });
    img.save(path).expect("writes a 16-bit PNG");
}

/// DRIVE-style tree: `pred/NN_test.png`, `truth/NN_manual1.gif`, `fov/NN_test_mask.gif`.
/// - 01: 8-bit map equal to the truth (perfect);
/// - 02: 16-bit map covering the left half of the truth, plus false positives outside the FOV;
/// - 03: empty truth and empty prediction.
struct Tree {
    _dir: tempfile::TempDir,
    pred: PathBuf,
    truth: PathBuf,
    fov: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().expect("temp dir");
    let [pred, truth, fov] = ["pred", "truth", "fov"].map(|d| dir.path().join(d));
    for d in [&pred, &truth, &fov] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let square = |x: u32, y: u32| (2..6).contains(&x) && (2..6).contains(&y);
    let inside = |x: u32, y: u32| x < 7 && y < 7;

    mask(square)
        .to_plane()
        .save(&pred.join("01_test.png"))
        .expect("save");
    mask(square)
        .save(&truth.join("01_manual1.gif"))
        .expect("save");
    mask(|_, _| true)
        .save(&fov.join("01_test_mask.gif"))
        .expect("save");

    save_u16(&pred.join("02_test.png"), |x, y| {
        if (square(x, y) && x < 4) || !inside(x, y) {
            65535
        } else {
            0
        }
    });
    mask(square)
        .save(&truth.join("02_manual1.gif"))
        .expect("save");
    mask(inside)
        .save(&fov.join("02_test_mask.gif"))
        .expect("save");

    Plane::filled(W, H, 0.1)
        .save(&pred.join("03_test.png"))
        .expect("save");
    mask(|_, _| false)
        .save(&truth.join("03_manual1.gif"))
        .expect("save");
    mask(|_, _| true)
        .save(&fov.join("03_test_mask.gif"))
        .expect("save");
    std::fs::write(pred.join("notes.txt"), "not an image").expect("write");
    Tree {
        _dir: dir,
        pred,
        truth,
        fov,
    }
}

fn score(t: &Tree) -> Command {
    let mut cmd = medseg();
    cmd.arg("score")
        .arg("--pred")
        .arg(&t.pred)
        .arg("--truth")
        .arg(&t.truth);
    cmd
}

#[test]
fn scores_a_drive_style_tree_with_fov_and_writes_json_and_csv() {
    let t = tree();
    let json = t.pred.parent().unwrap().join("report.json");
    let csv = t.pred.parent().unwrap().join("report.csv");
    score(&t)
        .arg("--fov")
        .arg(&t.fov)
        .arg("--json")
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean (3 images)"))
        .stdout(predicate::str::contains("pooled (all pixels)"))
        .stderr(predicate::str::contains("notes.txt"));

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["threshold"], 0.5);
    let images = v["images"].as_array().unwrap();
    let ids: Vec<&str> = images.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["01", "02", "03"]);
    for key in [
        "f1",
        "iou",
        "sensitivity",
        "specificity",
        "precision",
        "accuracy",
        "auc",
        "ap",
    ] {
        assert!(
            images[0].get(key).is_some() && v["mean"].get(key).is_some(),
            "{key}"
        );
        assert!(v["pooled"].get(key).is_some(), "{key}");
    }
    assert_eq!(images[0]["f1"], 1.0);
    assert_eq!(images[0]["auc"], 1.0);
    // Half the square found; the positives outside the FOV do not count.
    let f1 = images[1]["f1"].as_f64().unwrap();
    assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
    assert_eq!(images[1]["iou"], 0.5);
    assert_eq!(images[1]["precision"], 1.0);
    // Both empty: perfect counts-based scores, AUC/AP undefined (null, not NaN).
    assert_eq!(images[2]["f1"], 1.0);
    assert!(images[2]["auc"].is_null() && images[2]["ap"].is_null());
    assert_eq!(
        v["mean"]["auc"],
        images
            .iter()
            .take(2)
            .map(|i| i["auc"].as_f64().unwrap())
            .sum::<f64>()
            / 2.0
    );
    // Pooled: 16 + 8 true positives, 8 false negatives, no false positives in the FOV.
    let pooled_f1 = v["pooled"]["f1"].as_f64().unwrap();
    assert!((pooled_f1 - 48.0 / 56.0).abs() < 1e-12, "{pooled_f1}");

    let csv = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "row,id,f1,iou,sensitivity,specificity,precision,accuracy,auc,ap"
    );
    assert!(lines[1].starts_with("image,01,1.0,"), "{}", lines[1]);
    assert!(lines[3].starts_with("image,03,") && lines[3].ends_with(",,"));
    assert!(lines[4].starts_with("mean,,") && lines[5].starts_with("pooled,,"));
}

#[test]
fn without_fov_every_pixel_counts() {
    let t = tree();
    let out = score(&t)
        .arg("--json")
        .arg(t.pred.parent().unwrap().join("r.json"))
        .assert()
        .success();
    drop(out);
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.pred.parent().unwrap().join("r.json")).unwrap(),
    )
    .unwrap();
    // Image 02 now has 15 false positives on the bottom row and right column.
    let precision = v["images"][1]["precision"].as_f64().unwrap();
    assert!((precision - 8.0 / 23.0).abs() < 1e-12, "{precision}");
}

#[test]
fn identical_stems_pair_too() {
    let t = tempfile::tempdir().unwrap();
    let (pred, truth) = (t.path().join("p"), t.path().join("t"));
    std::fs::create_dir_all(&pred).unwrap();
    std::fs::create_dir_all(&truth).unwrap();
    let m = mask(|x, _| x < 3);
    m.to_plane().save(&pred.join("case_a.png")).unwrap();
    m.save(&truth.join("case_a.png")).unwrap();
    medseg()
        .arg("score")
        .arg("--pred")
        .arg(&pred)
        .arg("--truth")
        .arg(&truth)
        .arg("--threshold")
        .arg("0.3")
        .assert()
        .success()
        .stdout(predicate::str::contains("case_a"))
        .stdout(predicate::str::contains("threshold 0.3"));
}

#[test]
fn unpaired_prediction_is_an_error_naming_the_file() {
    let t = tree();
    std::fs::remove_file(t.truth.join("02_manual1.gif")).unwrap();
    score(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unpaired prediction"))
        .stderr(predicate::str::contains("02_test.png"));
}

#[test]
fn unpaired_truth_is_an_error_naming_the_file() {
    let t = tree();
    mask(|_, _| false)
        .save(&t.truth.join("04_manual1.gif"))
        .unwrap();
    score(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unpaired truth mask"))
        .stderr(predicate::str::contains("04_manual1.gif"));
}

#[test]
fn missing_fov_mask_is_an_error_naming_the_file() {
    let t = tree();
    std::fs::remove_file(t.fov.join("03_test_mask.gif")).unwrap();
    score(&t)
        .arg("--fov")
        .arg(&t.fov)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("03_test.png"))
        .stderr(predicate::str::contains("no FOV mask"));
}

#[test]
fn size_mismatch_is_an_error_naming_the_file() {
    let t = tree();
    Mask {
        width: 8,
        height: 6,
        data: vec![false; 48],
    }
    .save(&t.truth.join("03_manual1.gif"))
    .unwrap();
    score(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("size mismatch"))
        .stderr(predicate::str::contains("03_manual1.gif"));
}

#[test]
fn unreadable_file_is_an_error_naming_the_file() {
    let t = tree();
    std::fs::write(t.pred.join("02_test.png"), b"definitely not a png").unwrap();
    score(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("02_test.png"));
}

#[test]
fn duplicate_case_ids_and_bad_thresholds_are_errors() {
    let t = tree();
    mask(|_, _| false)
        .save(&t.truth.join("01_manual2.gif"))
        .unwrap();
    score(&t)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("same case ID '01'"));
    let t = tree();
    score(&t)
        .args(["--threshold", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("threshold"));
}

/// SCR-style per-class tree: `pred/{lungs,heart,clavicles}/JPCLN00N.png` (as `predict` writes
/// under `prob/`), `truth/{left_lung,right_lung,heart,left_clavicle,right_clavicle}/JPCLN00N.gif`;
/// lungs and clavicles are each the union of two folders. Case 1 is perfect; in case 2 the heart
/// map misses the right half of the heart.
fn class_tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (pred, truth) = (dir.path().join("prob"), dir.path().join("truth"));
    let left = |x: u32, y: u32| x < 3 && y < 6;
    let right = |x: u32, y: u32| x >= 5 && y < 6;
    let heart = |x: u32, y: u32| (3..5).contains(&x) && y >= 4;
    let clavicle = |x: u32, y: u32| y == 0 && x != 4;
    for d in ["lungs", "heart", "clavicles"] {
        std::fs::create_dir_all(pred.join(d)).unwrap();
    }
    for d in [
        "left_lung",
        "right_lung",
        "heart",
        "left_clavicle",
        "right_clavicle",
    ] {
        std::fs::create_dir_all(truth.join(d)).unwrap();
    }
    for case in ["JPCLN001", "JPCLN002"] {
        let png = |class: &str| pred.join(class).join(format!("{case}.png"));
        let gif = |folder: &str| truth.join(folder).join(format!("{case}.gif"));
        mask(|x, y| left(x, y) || right(x, y))
            .to_plane()
            .save(&png("lungs"))
            .unwrap();
        let half = case == "JPCLN002";
        mask(|x, y| heart(x, y) && !(half && x == 4))
            .to_plane()
            .save(&png("heart"))
            .unwrap();
        mask(clavicle).to_plane().save(&png("clavicles")).unwrap();
        mask(|x, y| clavicle(x, y) && x < 4)
            .save(&gif("left_clavicle"))
            .unwrap();
        mask(|x, y| clavicle(x, y) && x > 4)
            .save(&gif("right_clavicle"))
            .unwrap();
        mask(left).save(&gif("left_lung")).unwrap();
        mask(right).save(&gif("right_lung")).unwrap();
        mask(heart).save(&gif("heart")).unwrap();
    }
    (dir, pred, truth)
}

/// The committed JSRT config: lungs from two mask folders, heart, clavicles from two.
fn jsrt_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/jsrt/msa-u2net.toml")
}

#[test]
fn scores_several_classes_per_class_with_mask_folders_unioned() {
    let (dir, pred, truth) = class_tree();
    let (json, csv) = (dir.path().join("c.json"), dir.path().join("c.csv"));
    medseg()
        .arg("score")
        .arg("--pred")
        .arg(&pred)
        .arg("--truth")
        .arg(&truth)
        .arg("--labels")
        .arg(jsrt_config())
        .arg("--json")
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean over classes"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "multi-label");
    let classes = v["classes"].as_array().unwrap();
    assert_eq!(classes[0]["name"], "lungs");
    // the lungs are the union of both folders: perfect on both cases
    assert_eq!(classes[0]["mean"]["f1"], 1.0);
    assert_eq!(classes[0]["mean"]["hd95"], 0.0);
    // heart of case 2: 4 of 8 pixels found
    assert_eq!(classes[1]["images"][0]["iou"], 1.0);
    assert_eq!(classes[1]["images"][1]["iou"], 0.5);
    assert_eq!(classes[1]["mean"]["iou"], 0.75);
    assert_eq!(classes[2]["mean"]["iou"], 1.0);
    let mean_iou = v["mean_over_classes"]["mean"]["iou"].as_f64().unwrap();
    assert!((mean_iou - 2.75 / 3.0).abs() < 1e-12, "{mean_iou}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("class,row,id,f1,iou,")
            && lines[0].ends_with(",hd95,mean_contour_distance"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("lungs,image,JPCLN001,1.0,"),
        "{}",
        lines[1]
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("mean over classes,pooled,,")
    );
}

#[test]
fn class_folders_are_found_without_flags_and_bad_class_trees_exit_2() {
    // only class sub-folders under --pred: scored per class (sorted names), truth per class
    let (_dir, pred, truth) = class_tree();
    std::fs::rename(truth.join("left_lung"), truth.join("lungs")).unwrap();
    std::fs::rename(truth.join("left_clavicle"), truth.join("clavicles")).unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = medseg();
        cmd.arg("score")
            .arg("--pred")
            .arg(&pred)
            .arg("--truth")
            .arg(&truth)
            .args(extra);
        cmd
    };
    run(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("class folders only"))
        .stdout(predicate::str::contains("heart"));
    // a class without its truth folder is named
    run(&["--classes", "heart,spleen"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("spleen"));
    // a case missing from one class folder is named
    std::fs::remove_file(pred.join("heart").join("JPCLN002.png")).unwrap();
    run(&["--classes", "lungs,heart"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("JPCLN002"));
}

#[test]
fn multi_class_scores_label_maps_and_names_a_bad_label() {
    let dir = tempfile::tempdir().unwrap();
    let (pred, truth) = (dir.path().join("prob"), dir.path().join("truth"));
    std::fs::create_dir_all(&truth).unwrap();
    // label map: 0 background, 1 left half, 2 right half
    let label = |x: u32, _y: u32| if x < 4 { 1u8 } else { 2 };
    let save_map = |name: &str, f: &dyn Fn(u32, u32) -> u8| {
        image::GrayImage::from_fn(W, H, |x, y| image::Luma([f(x, y)]))
            .save(truth.join(name))
            .unwrap();
    };
    save_map("a.png", &|x, y| label(x, y));
    for (k, class) in ["background", "left", "right"].iter().enumerate() {
        std::fs::create_dir_all(pred.join(class)).unwrap();
        save_u16(&pred.join(class).join("a.png"), |x, y| {
            if label(x, y) as usize == k {
                50000
            } else {
                10000
            }
        });
    }
    let json = dir.path().join("m.json");
    let run = || {
        let mut cmd = medseg();
        cmd.arg("score")
            .arg("--pred")
            .arg(&pred)
            .arg("--truth")
            .arg(&truth)
            .args([
                "--classes",
                "background,left,right",
                "--mode",
                "multi-class",
                "--json",
            ])
            .arg(&json);
        cmd
    };
    run().assert().success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "multi-class");
    // the background is reported but left out of the mean over classes
    assert_eq!(
        v["mean_over_classes"]["classes"],
        serde_json::json!(["left", "right"])
    );
    assert_eq!(v["classes"][1]["mean"]["f1"], 1.0);
    save_map("a.png", &|x, y| {
        if x == 0 && y == 0 { 7 } else { label(x, y) }
    });
    run()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a.png"))
        .stderr(predicate::str::contains("7"));
}
