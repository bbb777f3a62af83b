//! The pretrained models named by `--pretrained` ship in `weights/` and segment an image.

use std::path::Path;

use assert_cmd::Command;

#[test]
fn every_pretrained_model_ships_and_segments_an_image() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("eye.png");
    image::RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&img)
    .unwrap();
    for name in ["drive", "stare", "ph2"] {
        let out = dir.path().join(name);
        Command::cargo_bin("medseg")
            .unwrap()
            .current_dir(&repo)
            .env_remove("MEDSEG_WEIGHTS_DIR")
            .args(["predict", "--pretrained", name])
            .arg(&img)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let mask = image::open(out.join("eye_mask.png")).unwrap();
        assert_eq!((mask.width(), mask.height()), (48, 40), "{name}: mask size");
    }
}
