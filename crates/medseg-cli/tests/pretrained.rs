//! The pretrained models named by `--pretrained` are embedded in the binary and segment an
//! image from any working folder; the JSRT model writes its classes' maps.

use assert_cmd::Command;

#[test]
fn every_pretrained_model_ships_and_segments_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("eye.png");
    image::RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&img)
    .unwrap();
    for name in ["drive", "stare", "ph2", "kvasir"] {
        let out = dir.path().join(name);
        Command::cargo_bin("medseg")
            .unwrap()
            .current_dir(dir.path())
            .args(["predict", "--pretrained", name])
            .arg(&img)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let mask = image::open(out.join("eye_mask.png")).unwrap();
        assert_eq!((mask.width(), mask.height()), (48, 40), "{name}: mask size");
    }
    // several structures: a label map and one probability map per class
    let out = dir.path().join("jsrt");
    Command::cargo_bin("medseg")
        .unwrap()
        .current_dir(dir.path())
        .args(["predict", "--pretrained", "jsrt"])
        .arg(&img)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("3 classes"));
    let labels = image::open(out.join("labels/eye.png")).unwrap();
    assert_eq!(
        (labels.width(), labels.height()),
        (48, 40),
        "jsrt: label map size"
    );
    for class in ["lungs", "heart", "clavicles"] {
        assert!(
            out.join(format!("prob/{class}/eye.png")).is_file(),
            "{class}"
        );
    }
}

#[test]
fn an_unknown_pretrained_model_exits_2_naming_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("medseg")
        .unwrap()
        .current_dir(dir.path())
        .args(["predict", "--pretrained", "nope", "x.png"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("drive, stare, ph2, kvasir, jsrt"));
}
