//! Pictures: error maps, overlays, probability/mask PNGs, panels, charts, curve points and
//! atomic saving.

use std::path::Path;

use image::RgbImage;
use medseg::Error;
use medseg::viz::{
    self, CURVE_CHART_SIZE, EpochRow, FALSE_NEGATIVE_COLOR, FALSE_POSITIVE_COLOR,
    OUTSIDE_FOV_COLOR, PANEL_CAPTION_HEIGHT, PANEL_PADDING, TRAINING_CHART_SIZE,
    TRUE_NEGATIVE_COLOR, TRUE_POSITIVE_COLOR,
};

/// A 4×3 RGB gradient.
fn gradient(w: u32, h: u32) -> Vec<u8> {
    (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect()
}

fn decode_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{} should decode: {e}", path.display()));
    (img.width(), img.height())
}

fn epoch_rows(n: usize) -> Vec<EpochRow> {
    (1..=n)
        .map(|e| {
            let t = e as f64;
            EpochRow {
                epoch: e,
                train_loss: 0.7 / t + 0.05,
                val_loss: (e % 2 == 0).then(|| 0.8 / t + 0.08),
                val_f1: (e % 2 == 0).then(|| 0.8 - 0.5 / t),
                lr: 1e-3 * (0.5 + 0.5 * (std::f64::consts::PI * t / n as f64).cos()),
            }
        })
        .collect()
}

#[test]
fn error_map_colours_each_confusion_class() {
    // Pixels (x, y) in a 3×2 image: TP, FP, FN / TN, TN outside FOV, TP outside FOV.
    let pred = [true, true, false, false, false, true];
    let truth = [true, false, true, false, false, true];
    let fov = [true, true, true, true, false, false];
    let img = viz::error_map(&pred, &truth, Some(&fov), 3, 2);
    assert_eq!(img.dimensions(), (3, 2));
    assert_eq!(img.get_pixel(0, 0).0, TRUE_POSITIVE_COLOR);
    assert_eq!(img.get_pixel(1, 0).0, FALSE_POSITIVE_COLOR);
    assert_eq!(img.get_pixel(2, 0).0, FALSE_NEGATIVE_COLOR);
    assert_eq!(img.get_pixel(0, 1).0, TRUE_NEGATIVE_COLOR);
    assert_eq!(img.get_pixel(1, 1).0, OUTSIDE_FOV_COLOR);
    assert_eq!(img.get_pixel(2, 1).0, OUTSIDE_FOV_COLOR);
    assert_eq!(TRUE_POSITIVE_COLOR, [255, 255, 255]);
    assert_eq!(FALSE_POSITIVE_COLOR, [255, 0, 0]);
    assert_eq!(TRUE_NEGATIVE_COLOR, [0, 0, 0]);

    let no_fov = viz::error_map(&pred, &truth, None, 3, 2);
    assert_eq!(no_fov.get_pixel(2, 1).0, TRUE_POSITIVE_COLOR);
    let legend: Vec<[u8; 3]> = viz::ERROR_MAP_LEGEND.iter().map(|(_, c)| *c).collect();
    assert!(legend.contains(&FALSE_NEGATIVE_COLOR));
}

#[test]
fn overlay_changes_only_masked_pixels() {
    let (w, h) = (4, 3);
    let rgb = gradient(w, h);
    let mask: Vec<bool> = (0..w * h).map(|i| i % 3 == 0).collect();
    let out = viz::overlay(&rgb, w, h, &mask, [255, 0, 0], 0.5);
    for (i, m) in mask.iter().enumerate() {
        let (x, y) = (i as u32 % w, i as u32 / w);
        let before = &rgb[i * 3..i * 3 + 3];
        let after = out.get_pixel(x, y).0;
        if *m {
            let expected = [
                ((f32::from(before[0]) + 255.0) / 2.0).round() as u8,
                (f32::from(before[1]) / 2.0).round() as u8,
                (f32::from(before[2]) / 2.0).round() as u8,
            ];
            assert_eq!(after, expected, "masked pixel {i}");
        } else {
            assert_eq!(after, before, "unmasked pixel {i} must not change");
        }
    }
    // Alpha 1 paints the colour; alpha 0 (and NaN) leaves the image as it was.
    assert_eq!(
        viz::overlay(&rgb, w, h, &mask, [1, 2, 3], 1.0)
            .get_pixel(0, 0)
            .0,
        [1, 2, 3]
    );
    assert_eq!(
        viz::overlay(&rgb, w, h, &mask, [1, 2, 3], f32::NAN).into_raw(),
        rgb
    );
    let outlined = viz::overlay_outline(&rgb, w, h, &mask, [0, 255, 0]);
    assert_eq!(
        outlined.get_pixel(1, 0).0,
        rgb[3..6],
        "unmasked pixel unchanged"
    );
}

#[test]
#[should_panic(expected = "overlay mask has 5 values")]
fn overlay_rejects_a_mask_of_the_wrong_size() {
    let _ = viz::overlay(&gradient(4, 3), 4, 3, &[true; 5], [0, 0, 0], 0.5);
}

#[test]
fn probability_and_mask_images() {
    let prob = [-0.5f32, 0.0, 0.5, 1.0, 2.0, f32::NAN];
    let g8 = viz::probability_png(&prob, 3, 2);
    assert_eq!(g8.into_raw(), vec![0, 0, 128, 255, 255, 0]);
    let g16 = viz::probability_png16(&prob, 3, 2);
    assert_eq!(g16.into_raw(), vec![0, 0, 32768, 65535, 65535, 0]);
    let m = viz::mask_png(&[true, false, false, true], 2, 2);
    assert_eq!(m.into_raw(), vec![255, 0, 0, 255]);
}

#[test]
fn sixteen_bit_probabilities_survive_a_png_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prob: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
    let img = viz::probability_png16(&prob, 8, 8);
    let path = dir.path().join("prob16.png");
    viz::save_png(&img, &path).expect("save 16-bit PNG");
    let back = image::open(&path).expect("decode").into_luma16();
    assert_eq!(back, img);
}

#[test]
fn panel_size_follows_tiles_and_captions() {
    let a = RgbImage::from_pixel(120, 80, image::Rgb([10, 20, 30]));
    let b = RgbImage::from_pixel(100, 90, image::Rgb([200, 0, 0]));
    let p = viz::panel(&[("image", a.clone()), ("prediction", b)]);
    assert_eq!(
        p.dimensions(),
        (
            PANEL_PADDING * 3 + 120 + 100,
            PANEL_PADDING * 2 + PANEL_CAPTION_HEIGHT + 90
        )
    );
    // The first image sits below its caption band, unchanged.
    let top = PANEL_PADDING + PANEL_CAPTION_HEIGHT;
    assert_eq!(p.get_pixel(PANEL_PADDING, top).0, [10, 20, 30]);
    assert_eq!(p.get_pixel(PANEL_PADDING + 119, top + 79).0, [10, 20, 30]);
    // The caption band holds dark text pixels.
    let caption_ink = (PANEL_PADDING..PANEL_PADDING + 120)
        .flat_map(|x| (PANEL_PADDING..top).map(move |y| (x, y)))
        .filter(|&(x, y)| p.get_pixel(x, y).0[0] < 128)
        .count();
    assert!(
        caption_ink > 20,
        "caption should be drawn, found {caption_ink} dark pixels"
    );

    // A caption wider than a tiny image widens its tile.
    let tiny = RgbImage::new(4, 4);
    let wide = viz::panel(&[("a long caption for a tiny image", tiny)]);
    assert!(wide.width() > PANEL_PADDING * 2 + 4 + 100);
    assert_eq!(viz::panel(&[]).dimensions(), (0, 0));
}

#[test]
fn roc_points_of_a_perfect_classifier_pass_through_the_corner() {
    let truth: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
    let probs: Vec<f32> = truth.iter().map(|&t| if t { 0.9 } else { 0.1 }).collect();
    let pts = viz::roc_points(&hist(&probs, &truth, None), 50);
    assert_eq!(pts.first(), Some(&(0.0, 0.0)));
    assert_eq!(pts.last(), Some(&(1.0, 1.0)));
    assert!(pts.contains(&(0.0, 1.0)), "{pts:?}");
    assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));

    let pr = viz::pr_points(&hist(&probs, &truth, None), 50);
    assert!(pr.contains(&(1.0, 1.0)), "{pr:?}");
    assert_eq!(pr.last(), Some(&(1.0, 0.25)));
}

#[test]
fn curve_points_respect_the_fov_and_the_point_budget() {
    // Outside the FOV a confident false positive; inside a perfect split.
    let probs = [0.99f32, 0.8, 0.2, 0.3];
    let truth = [false, true, false, false];
    let fov = [false, true, true, true];
    let pts = viz::roc_points(&hist(&probs, &truth, Some(&fov)), 100);
    assert!(pts.contains(&(0.0, 1.0)), "{pts:?}");
    let without = viz::roc_points(&hist(&probs, &truth, None), 100);
    assert!(!without.contains(&(0.0, 1.0)), "{without:?}");

    let many: Vec<f32> = (0..10_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
    let labels: Vec<bool> = (0..10_000).map(|i| (i * 7919) % 3 == 0).collect();
    let thinned = viz::roc_points(&hist(&many, &labels, None), 64);
    assert_eq!(thinned.len(), 64);
    assert_eq!(thinned.last(), Some(&(1.0, 1.0)));
    assert!(viz::roc_points(&hist(&[0.5], &[true], None), 10).is_empty());
    assert!(viz::pr_points(&hist(&[0.5], &[false], None), 10).is_empty());
}

#[test]
fn charts_write_decodable_pngs_of_the_stated_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth: Vec<bool> = (0..4096).map(|i| (i * 31) % 5 == 0).collect();
    let probs: Vec<f32> = truth
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let noise = ((i * 2_654_435_761) % 1000) as f32 / 1000.0;
            if t { 0.3 + 0.7 * noise } else { 0.7 * noise }
        })
        .collect();

    let roc = dir.path().join("nested/roc.png");
    viz::roc_curve(
        &viz::roc_points(&hist(&probs, &truth, None), 200),
        0.93,
        &roc,
    )
    .expect("roc");
    assert_eq!(decode_size(&roc), CURVE_CHART_SIZE);

    let pr = dir.path().join("pr.png");
    viz::pr_curve(&viz::pr_points(&hist(&probs, &truth, None), 200), 0.81, &pr).expect("pr");
    assert_eq!(decode_size(&pr), CURVE_CHART_SIZE);

    let train = dir.path().join("training.png");
    viz::training_curves(&epoch_rows(30), &train).expect("training curves");
    assert_eq!(decode_size(&train), TRAINING_CHART_SIZE);

    // Degenerate inputs still give a picture.
    let empty = dir.path().join("empty.png");
    viz::training_curves(&[], &empty).expect("empty training curves");
    assert_eq!(decode_size(&empty), TRAINING_CHART_SIZE);
    viz::roc_curve(&[(f64::NAN, 0.5)], f64::NAN, &empty).expect("roc of nothing");
    assert_eq!(decode_size(&empty), CURVE_CHART_SIZE);
}

#[test]
fn charts_render_text() {
    // The title band of a chart holds dark text pixels only if the embedded font works.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("roc.png");
    viz::roc_curve(&[(0.0, 0.0), (1.0, 1.0)], 0.5, &path).expect("roc");
    let img = image::open(&path).expect("decode").into_rgb8();
    let ink = (0..img.width())
        .flat_map(|x| (0..40).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count();
    assert!(
        ink > 100,
        "title text should be drawn, found {ink} dark pixels"
    );
}

#[test]
fn save_png_creates_missing_parent_folders_atomically() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/c/mask.png");
    let img = viz::mask_png(&[true, false, true, false], 2, 2);
    viz::save_png(&img, &path).expect("save with missing parents");
    assert_eq!(image::open(&path).expect("decode").into_luma8(), img);
    // Overwriting works and leaves no temporary files behind.
    viz::save_png(&img, &path).expect("overwrite");
    let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("mask.png")]);
}

#[test]
fn save_png_under_a_file_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write file");
    let path = file.join("out.png");
    let err = viz::save_png(&viz::mask_png(&[true], 1, 1), &path).expect_err("must fail");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("not-a-folder: is a file"), "{msg}");
    assert!(msg.contains("out.png"), "{msg}");
    let Error::Io { source, .. } = &err else {
        unreachable!()
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);

    let chart_err = viz::roc_curve(&[], 0.5, &path).expect_err("chart must fail too");
    assert!(
        chart_err.to_string().contains("not-a-folder"),
        "{chart_err}"
    );
}

/// Renders example pictures to `$TMPDIR/medseg-viz-examples/` for eyeballing:
/// `cargo test -p medseg --test viz -- --ignored`.
#[test]
#[ignore = "writes example pictures outside the temp dir"]
fn render_examples() {
    let out = std::env::temp_dir().join("medseg-viz-examples");
    let (w, h) = (160u32, 120u32);
    let inside = |x: u32, y: u32, r: f32| {
        let (dx, dy) = (x as f32 - 80.0, y as f32 - 60.0);
        dx * dx + dy * dy < r * r
    };
    let rgb: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / w) as u8, (y * 255 / h) as u8, 120]
        })
        .collect();
    let truth: Vec<bool> = (0..w * h).map(|i| inside(i % w, i / w, 40.0)).collect();
    let pred: Vec<bool> = (0..w * h).map(|i| inside(i % w + 8, i / w, 38.0)).collect();
    let fov: Vec<bool> = (0..w * h).map(|i| inside(i % w, i / w, 58.0)).collect();
    let prob: Vec<f32> = (0..w * h)
        .map(|i| {
            let (dx, dy) = ((i % w) as f32 - 72.0, (i / w) as f32 - 60.0);
            1.0 / (1.0 + ((dx * dx + dy * dy).sqrt() - 38.0).exp() / 4.0)
        })
        .collect();
    let image = RgbImage::from_raw(w, h, rgb.clone()).expect("size");
    let truth_img = viz::overlay(&rgb, w, h, &truth, [0, 255, 0], 0.5);
    let pred_img = viz::overlay_outline(
        &viz::overlay(&rgb, w, h, &pred, [255, 0, 0], 0.4),
        w,
        h,
        &truth,
        [0, 255, 0],
    );
    let errors = viz::error_map(&pred, &truth, Some(&fov), w, h);
    let p = viz::panel(&[
        ("image", image),
        ("truth", truth_img),
        ("prediction", pred_img),
        ("error map", errors),
    ]);
    viz::save_png(&p, out.join("panel.png")).expect("panel");
    viz::save_png(&viz::probability_png(&prob, w, h), out.join("prob.png")).expect("prob");
    viz::roc_curve(
        &viz::roc_points(&hist(&prob, &truth, Some(&fov)), 256),
        0.97,
        out.join("roc.png"),
    )
    .expect("roc");
    viz::pr_curve(
        &viz::pr_points(&hist(&prob, &truth, Some(&fov)), 256),
        0.9,
        out.join("pr.png"),
    )
    .expect("pr");
    viz::training_curves(&epoch_rows(30), out.join("training.png")).expect("training");
}

/// The metrics histogram of `probs` against `truth` (inside `fov` when given).
fn hist(probs: &[f32], truth: &[bool], fov: Option<&[bool]>) -> medseg::metrics::ScoreHistogram {
    let mut h = medseg::metrics::ScoreHistogram::new();
    h.extend(probs, truth, fov).expect("valid curve input");
    h
}
