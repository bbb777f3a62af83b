//! Multi-structure data: the structures (SCR) layout, the JSRT loader with its half-size
//! masks and grouped classes, and multi-class label maps. Tiny fake trees with the real file
//! names and formats (JSRT: `.png` images, `.gif` masks at twice the image size).

use std::path::Path;

use image::{GrayImage, Luma};
use medseg::Error;
use medseg::data::DatasetKind;
use medseg::data::augment::rot90;
use medseg::data::datasets::jsrt::{STRUCTURES, jsrt_labels};
use medseg::data::datasets::structures::read_structure_masks;
use medseg::data::fov::FovSource;
use medseg::data::labels::{ClassSpec, LabelsConfig};
use medseg::data::loader::{Batch, LoadConfig, load_case};
use medseg::data::patches::crop;
use medseg::data::preprocess::PreprocessConfig;

mod common;
use common::save_grey as save;

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

fn load_config(labels: LabelsConfig) -> LoadConfig {
    LoadConfig {
        preprocess: PreprocessConfig {
            resize: None,
            ..PreprocessConfig::lesions(8)
        },
        fov: FovSource::Full,
        threads: 1,
        scale_to: None,
        labels,
    }
}

/// Multi-label samples carry one mask per class through loading, augmentation, patches and
/// batching; `mask` is their union.
#[test]
fn multi_label_samples_keep_k_masks_through_the_pipeline() {
    let t = tempfile::tempdir().unwrap();
    jsrt_tree(t.path());
    let cases = DatasetKind::Jsrt.cases(t.path()).unwrap();
    let cfg = load_config(jsrt_labels(true));
    let s = load_case(&cases[0], DatasetKind::Jsrt, &cfg).unwrap();
    assert_eq!(s.classes.len(), 3);
    assert_eq!(s.mask.count(), 64, "union of lungs, heart, clavicles");
    // rot90 moves every class mask with the image: the clavicles (top rows) go to a side.
    let r = rot90(&s);
    assert_eq!(r.classes.len(), 3);
    assert_eq!(r.classes[2].count(), s.classes[2].count());
    assert_ne!(r.classes[2].data, s.classes[2].data);
    let p = crop(&s, 2, 0, 4, 4);
    assert_eq!(p.classes.len(), 3);
    assert_eq!(
        p.classes[2].count(),
        4 + 2,
        "clavicle rows of the 4x4 window"
    );
    let b = Batch::stack(&[s.clone(), s]).unwrap();
    assert_eq!(b.mask_channels, 3);
    assert_eq!(b.masks.len(), 2 * 3 * 64);
    let (_, y, _) = b.to_tensors(&burn::prelude::Device::flex());
    assert_eq!(y.dims(), [2, 3, 8, 8]);
}

/// Two folders with label maps: one-hot class masks; a value outside the classes is a typed
/// error naming the file and the value.
#[test]
fn multi_class_label_maps_load_one_hot_and_reject_stray_values() {
    let t = tempfile::tempdir().unwrap();
    for (id, bad) in [("a", false), ("b", true)] {
        save(
            GrayImage::from_pixel(6, 4, Luma([90])),
            &t.path().join(format!("images/{id}.png")),
        );
        let map = GrayImage::from_fn(6, 4, |x, y| {
            Luma([if bad && (x, y) == (5, 3) {
                7
            } else {
                (x / 2) as u8
            }])
        });
        save(map, &t.path().join(format!("masks/{id}.png")));
    }
    let cases = DatasetKind::Folder.cases(t.path()).unwrap();
    let labels = LabelsConfig::multi_class(vec![
        ClassSpec::new("background"),
        ClassSpec::new("x"),
        ClassSpec::new("y"),
    ]);
    let s = load_case(&cases[0], DatasetKind::Folder, &load_config(labels.clone())).unwrap();
    assert_eq!(s.classes.len(), 3);
    assert!(s.classes.iter().all(|m| m.count() == 8));
    assert_eq!(s.mask.count(), 16, "foreground = classes 1 and 2");
    let err = load_case(&cases[1], DatasetKind::Folder, &load_config(labels)).unwrap_err();
    match &err {
        Error::BadLabel { path, value, .. } => {
            assert!(path.ends_with("masks/b.png"), "{path:?}");
            assert_eq!(*value, 7);
        }
        e => panic!("expected BadLabel, got {e}"),
    }
}

/// The fingerprint (and so `medseg plan`) measures single-mask datasets; a multi-structure tree
/// gets an error that says so and where to start instead, not "no labelled cases".
#[test]
fn fingerprint_of_a_multi_structure_tree_says_what_to_use_instead() {
    use medseg::data::fingerprint::fingerprint;
    use medseg::data::synth::{SynthConfig, SynthKind, write_dataset};
    let t = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        kind: SynthKind::Chest,
        count: 2,
        size: 16,
        seed: 1,
    };
    write_dataset(&cfg, t.path()).unwrap();
    let err = fingerprint(DatasetKind::Jsrt, t.path(), 1).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("configs/jsrt"), "{err}");
}
