//! `medseg export`: ONNX files from pretrained models, weights files and official U-2-Net
//! checkpoints; bad requests exit 2 with the reason.

use assert_cmd::Command;
use predicates::str::contains;

fn medseg(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("medseg").unwrap();
    cmd.current_dir(dir);
    cmd
}

#[test]
fn exports_onnx_from_a_pretrained_model_and_saves_the_network_input() {
    let dir = tempfile::tempdir().unwrap();
    medseg(dir.path())
        .args([
            "export",
            "--pretrained",
            "ph2",
            "--onnx",
            "ph2.onnx",
            "--opset",
            "13",
        ])
        .assert()
        .success()
        .stdout(contains("ONNX opset 13"));
    let bytes = std::fs::read(dir.path().join("ph2.onnx")).unwrap();
    assert!(bytes.len() > 500_000, "the weights are in the file");

    // `predict --save-input` writes what the network is given, for ONNX runtimes.
    let img = dir.path().join("skin.png");
    image::RgbImage::from_fn(50, 40, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 120])
    })
    .save(&img)
    .unwrap();
    medseg(dir.path())
        .args([
            "predict",
            "--pretrained",
            "ph2",
            "--save-input",
            "--out",
            "pred",
        ])
        .arg(&img)
        .assert()
        .success();
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("pred/skin_input.json")).unwrap())
            .unwrap();
    // PH2's model resizes to 256x256, RGB.
    assert_eq!(info["shape"], serde_json::json!([1, 3, 256, 256]));
    assert_eq!(info["size"], serde_json::json!([50, 40]));
    let raw = std::fs::read(dir.path().join("pred/skin_input.f32")).unwrap();
    assert_eq!(raw.len(), 4 * 3 * 256 * 256);
    assert!(dir.path().join("pred/skin_fov.png").is_file());
}

#[test]
fn bad_export_requests_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // No output asked for.
    medseg(dir.path())
        .args(["export", "--pretrained", "ph2"])
        .assert()
        .code(2);
    // An opset out of range.
    medseg(dir.path())
        .args([
            "export",
            "--pretrained",
            "ph2",
            "--onnx",
            "x.onnx",
            "--opset",
            "9",
        ])
        .assert()
        .code(2)
        .stderr(contains("opset 9"));
    // A PyTorch checkpoint without the preset to load it into, one that is not there, one
    // that is not a checkpoint.
    std::fs::write(dir.path().join("junk.pth"), b"junk").unwrap();
    medseg(dir.path())
        .args(["export", "junk.pth", "--onnx", "x.onnx"])
        .assert()
        .code(2)
        .stderr(contains("--model u2net"));
    medseg(dir.path())
        .args([
            "export", "gone.pth", "--model", "u2netp", "--onnx", "x.onnx",
        ])
        .assert()
        .code(2)
        .stderr(contains("gone.pth"));
    medseg(dir.path())
        .args([
            "export",
            "junk.pth",
            "--model",
            "u2netp",
            "--out",
            "x.safetensors",
        ])
        .assert()
        .code(2)
        .stderr(contains("junk.pth"));
    assert!(!dir.path().join("x.onnx").exists());
    assert!(!dir.path().join("x.safetensors").exists());
}

#[test]
fn an_official_checkpoint_becomes_a_medseg_weights_file() {
    // The official-naming fixture holds U2-NetP's structure at reduced width, so loading it into
    // the full-width preset is refused, naming the first mis-shaped tensor.
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../medseg/tests/fixtures/golden/models/u2netp_small_official.pth");
    medseg(dir.path())
        .args(["export", "--model", "u2netp", "--out", "w.safetensors"])
        .arg(&fixture)
        .assert()
        .code(2)
        .stderr(contains("mis-shaped"))
        .stderr(contains("stage"));
}
