//! Multi-structure data: the structures (SCR) layout, the JSRT loader with its half-size
//! masks and grouped classes, and multi-class label maps. Tiny fake trees with the real file
//! names and formats (JSRT: `.png` images, `.gif` masks at twice the image size).

use std::path::Path;

use image::{GrayImage, Luma};
use medseg::Error;
use medseg::data::DatasetKind;
use medseg::data::datasets::jsrt::{STRUCTURES, jsrt_labels};
use medseg::data::datasets::structures::read_structure_masks;
use medseg::data::labels::{ClassSpec, LabelsConfig};

fn save(img: GrayImage, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::DynamicImage::ImageLuma8(img);
    if path.extension().is_some_and(|e| e == "gif") {
        // The GIF encoder takes RGB(A); the file decodes back to 0/255 grey.
        image::DynamicImage::ImageRgb8(img.to_rgb8())
            .save(path)
            .unwrap();
    } else {
        img.save(path).unwrap();
    }
}

/// A `2w x 2h` mask (JSRT masks are twice the image size) with the rectangle `[x0, x1) x
/// [y0, y1)` (in mask pixels) set to 255.
fn mask(w: u32, h: u32, x0: u32, x1: u32, y0: u32, y1: u32) -> GrayImage {
    GrayImage::from_fn(2 * w, 2 * h, |x, y| {
        Luma([if x >= x0 && x < x1 && y >= y0 && y < y1 {
            255
        } else {
            0
        }])
    })
}

/// Two JSRT cases of 8x8 images: left lung in columns 0..4, right lung 4..8 (mask pixels
/// 0..8 / 8..16), a clavicle over the top rows of each lung, the heart in the middle.
fn jsrt_tree(root: &Path) {
    for id in ["JPCLN001", "JPCNN002"] {
        save(
            GrayImage::from_pixel(8, 8, Luma([100])),
            &root.join(format!("images/{id}.png")),
        );
        let masks = [
            ("heart", mask(8, 8, 6, 10, 6, 12)),
            ("left_lung", mask(8, 8, 0, 8, 0, 16)),
            ("right_lung", mask(8, 8, 8, 16, 0, 16)),
            ("left_clavicle", mask(8, 8, 0, 8, 0, 2)),
            ("right_clavicle", mask(8, 8, 8, 16, 0, 3)),
        ];
        for (s, m) in masks {
            save(m, &root.join(format!("masks/{s}/{id}.gif")));
        }
    }
}

#[test]
fn jsrt_pairs_every_structure_and_halves_the_masks() {
    let t = tempfile::tempdir().unwrap();
    jsrt_tree(t.path());
    let cases = DatasetKind::Jsrt.cases(t.path()).unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].id, "JPCLN001");
    assert_eq!(cases[0].structures.len(), 5);
    for s in STRUCTURES {
        assert!(cases[1].structures[s].ends_with(format!("{s}/JPCNN002.gif")));
    }
    // Five structures, 8x8 after 2x2 majority.
    let five = read_structure_masks(&cases[0], &jsrt_labels(false), (8, 8)).unwrap();
    assert_eq!(five.len(), 5);
    assert!(five.iter().all(|m| (m.width, m.height) == (8, 8)));
    let count = |m: &medseg::data::Mask| m.count();
    assert_eq!(count(&five[1]), 32); // left lung: 4 columns x 8 rows
    assert_eq!(count(&five[3]), 4); // left clavicle: mask rows 0..2 -> image row 0
    // right clavicle: mask rows 0..3 -> image rows 0 (4 of 4) and 1 (2 of 4: a tie, kept)
    assert_eq!(count(&five[4]), 8);
    // Grouped: lungs = both lungs, overlapping the clavicles (multi-label).
    let grouped = jsrt_labels(true);
    assert_eq!(grouped.names(), ["lungs", "heart", "clavicles"]);
    let three = read_structure_masks(&cases[0], &grouped, (8, 8)).unwrap();
    assert_eq!(count(&three[0]), 64);
    assert_eq!(count(&three[2]), 12);
    assert!(three[0].data[0] && three[2].data[0], "overlap kept");
}

#[test]
fn missing_structure_mask_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    jsrt_tree(t.path());
    std::fs::remove_file(t.path().join("masks/heart/JPCNN002.gif")).unwrap();
    let err = DatasetKind::Jsrt.cases(t.path()).unwrap_err();
    match err {
        Error::MissingFile { path } => assert!(path.ends_with("heart/JPCNN002.gif"), "{path:?}"),
        e => panic!("expected MissingFile, got {e}"),
    }
    // A JSRT tree without one of the five folders is a bad layout that lists it.
    let t2 = tempfile::tempdir().unwrap();
    jsrt_tree(t2.path());
    std::fs::remove_dir_all(t2.path().join("masks/left_clavicle")).unwrap();
    let err = DatasetKind::Jsrt.scan(t2.path()).unwrap_err().to_string();
    assert!(err.contains("left_clavicle"), "{err}");
    // ... which the generic structures layout accepts (four structures).
    let cases = DatasetKind::Structures.cases(t2.path()).unwrap();
    assert_eq!(cases[0].structures.len(), 4);
}

#[test]
fn classes_naming_absent_folders_and_odd_mask_sizes_are_errors() {
    let t = tempfile::tempdir().unwrap();
    jsrt_tree(t.path());
    let cases = DatasetKind::Jsrt.cases(t.path()).unwrap();
    let labels = LabelsConfig::multi_label(vec![ClassSpec::new("liver")]);
    let err = read_structure_masks(&cases[0], &labels, (8, 8))
        .unwrap_err()
        .to_string();
    assert!(err.contains("liver") && err.contains("heart"), "{err}");
    let err = read_structure_masks(&cases[0], &jsrt_labels(true), (7, 8)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
}

/// The real JSRT copy in `shared/data/JSRT` (skipped when absent): 198 cases, 512x512 images,
/// masks to 512x512. Reads every mask of two cases.
#[test]
#[ignore = "reads the shared JSRT data (about 2 s)"]
fn shared_jsrt_copy_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/JSRT");
    if !root.is_dir() {
        eprintln!("{} absent: skipped", root.display());
        return;
    }
    let cases = DatasetKind::Jsrt.cases(&root).unwrap();
    assert_eq!(cases.len(), 198);
    for case in &cases[..2] {
        let masks = read_structure_masks(case, &jsrt_labels(false), (512, 512)).unwrap();
        for m in &masks {
            let f = m.fraction();
            assert!(f > 0.001 && f < 0.3, "{}: fraction {f}", case.id);
        }
    }
}
