//! Dataset loaders on tiny trees that copy each official layout, file names and formats
//! (DRIVE `.tif`/palette `.gif`, STARE `.ppm[.gz]` with P5 labels, CHASE `.jpg`/`_1stHO.png`,
//! HRF `.JPG`/`.tif`, ISIC `.jpg`/`_segmentation.png`, PH2 `.bmp`/`.png`, nnU-Net folders),
//! plus every bad-input error.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use medseg::Error;
use medseg::data::check::check;
use medseg::data::fov::{FovOrigin, FovSource};
use medseg::data::loader::SampleMode;
use medseg::data::loader::{LoadConfig, SampleCache, decode_case, load_case};
use medseg::data::preprocess::Channel;
use medseg::data::preprocess::PreprocessConfig;
use medseg::data::split::{SplitConfig, SplitScheme};
use medseg::data::synth::{SynthConfig, SynthKind, write_dataset};
use medseg::data::{DatasetKind, Subset, read_mask, read_plane, read_rgb};
use medseg::train::ExperimentConfig;
use medseg::train::plan::{BUDGET_SHARE, PlanOptions, plan};

const W: u32 = 12;
const H: u32 = 10;

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

/// A fundus-like RGB image: bright disc on black.
fn fundus(w: u32, h: u32) -> RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
        if dx * dx + dy * dy < (w.min(h) as f32 / 2.2).powi(2) {
            Rgb([200, 90 + (x * 5) as u8, 40])
        } else {
            Rgb([2, 1, 0])
        }
    })
}

/// A 0/255 mask with a diagonal band.
fn band(w: u32, h: u32) -> GrayImage {
    ImageBuffer::from_fn(w, h, |x, y| Luma([if x.abs_diff(y) < 2 { 255 } else { 0 }]))
}

fn save(img: impl Into<DynamicImage>, path: &Path) {
    mkdir(path.parent().unwrap());
    let img: DynamicImage = img.into();
    let img = if path.extension().is_some_and(|e| e == "gif") {
        DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        img
    };
    img.save(path).unwrap();
}

/// DRIVE's 2nd_manual palette quirk: colours (4,2,4) and (252,254,252).
fn palette_gif(mask: &GrayImage, path: &Path) {
    let rgb: RgbImage = ImageBuffer::from_fn(mask.width(), mask.height(), |x, y| {
        if mask.get_pixel(x, y)[0] > 0 {
            Rgb([252, 254, 252])
        } else {
            Rgb([4, 2, 4])
        }
    });
    save(rgb, path);
}

/// Greyscale P5 data, as STARE ships its `.ah.ppm` labels, with an XV comment line.
fn p5(mask: &GrayImage, path: &Path, gz: bool) {
    let mut bytes = format!(
        "P5\n# CREATOR: XV Version 3.10a\n{} {}\n255\n",
        mask.width(),
        mask.height()
    )
    .into_bytes();
    bytes.extend_from_slice(mask.as_raw());
    write_maybe_gz(&bytes, path, gz);
}

fn write_maybe_gz(bytes: &[u8], path: &Path, gz: bool) {
    mkdir(path.parent().unwrap());
    if gz {
        let f = std::fs::File::create(path).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

fn ppm_bytes(img: &RgbImage) -> Vec<u8> {
    let mut b = format!("P6\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    b.extend_from_slice(img.as_raw());
    b
}

fn drive_tree(root: &Path) {
    for (folder, ids) in [("training", [21, 22]), ("test", [1, 2])] {
        for id in ids {
            let d = root.join(folder);
            save(
                fundus(W, H),
                &d.join(format!("images/{id:02}_{folder}.tif")),
            );
            save(
                band(W, H),
                &d.join(format!("1st_manual/{id:02}_manual1.gif")),
            );
            save(
                band(W, H),
                &d.join(format!("mask/{id:02}_{folder}_mask.gif")),
            );
            if folder == "test" {
                palette_gif(
                    &band(W, H),
                    &d.join(format!("2nd_manual/{id:02}_manual2.gif")),
                );
            }
        }
    }
}

fn ids(cases: &[medseg::data::Case]) -> Vec<&str> {
    cases.iter().map(|c| c.id.as_str()).collect()
}

#[test]
fn drive_official_layout_and_split() {
    let t = tempfile::tempdir().unwrap();
    drive_tree(t.path());
    let cases = DatasetKind::Drive.cases(t.path()).unwrap();
    assert_eq!(ids(&cases), ["21", "22", "01", "02"]);
    let train: Vec<_> = cases
        .iter()
        .filter(|c| c.subset == Some(Subset::Train))
        .collect();
    assert_eq!(train.len(), 2);
    let c = &cases[2];
    assert!(
        c.mask
            .as_ref()
            .unwrap()
            .ends_with("test/1st_manual/01_manual1.gif")
    );
    assert!(
        c.fov
            .as_ref()
            .unwrap()
            .ends_with("test/mask/01_test_mask.gif")
    );
    assert!(
        c.second_observer
            .as_ref()
            .unwrap()
            .ends_with("01_manual2.gif")
    );
    assert!(cases[0].second_observer.is_none());
    // the palette GIF (luminance 3/253) binarises like the 0/255 one
    let m1 = read_mask(c.mask.as_ref().unwrap()).unwrap();
    let m2 = read_mask(c.second_observer.as_ref().unwrap()).unwrap();
    assert_eq!(m1, m2);
    assert_eq!(m1.count(), band(W, H).pixels().filter(|p| p[0] > 0).count());
    // official FOV is used
    let d = decode_case(c, DatasetKind::Drive, FovSource::Auto).unwrap();
    assert_eq!(d.fov_origin, FovOrigin::Official);
    assert_eq!(d.fov, m1);
    let split = SplitConfig::default().apply(&cases).unwrap();
    assert_eq!(ids(&split.train), ["21", "22"]);
    assert_eq!(ids(&split.test), ["01", "02"]);
}

#[test]
fn stare_gz_and_plain_p5_labels_and_10_10_rule() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for (i, id) in ["im0001", "im0002", "im0003", "im0044"].iter().enumerate() {
        let gz = i % 2 == 0;
        let ext = if gz { "ppm.gz" } else { "ppm" };
        write_maybe_gz(
            &ppm_bytes(&fundus(W, H)),
            &r.join(format!("stare-images/{id}.{ext}")),
            gz,
        );
        p5(&band(W, H), &r.join(format!("labels-ah/{id}.ah.{ext}")), gz);
    }
    // an unlabelled image is not part of the benchmark
    write_maybe_gz(
        &ppm_bytes(&fundus(W, H)),
        &r.join("stare-images/im0100.ppm"),
        false,
    );
    p5(&band(W, H), &r.join("labels-vk/im0002.vk.ppm"), false);
    let cases = DatasetKind::Stare.cases(r).unwrap();
    assert_eq!(ids(&cases), ["im0001", "im0002", "im0003", "im0044"]);
    let subsets: Vec<_> = cases.iter().map(|c| c.subset.unwrap()).collect();
    assert_eq!(
        subsets,
        [Subset::Train, Subset::Train, Subset::Test, Subset::Test]
    );
    assert!(cases[1].second_observer.is_some() && cases[0].second_observer.is_none());
    for c in &cases {
        let d = decode_case(c, DatasetKind::Stare, FovSource::Auto).unwrap();
        assert_eq!(d.image.size(), (W, H));
        assert_eq!(d.fov_origin, FovOrigin::Derived, "STARE has no FOV masks");
        let expected = band(W, H).pixels().filter(|p| p[0] > 0).count();
        assert_eq!(d.mask.unwrap().count(), expected);
    }
    // k-fold over all labelled cases
    let kf = SplitConfig {
        scheme: SplitScheme::KFold { k: 4, fold: 1 },
        ..SplitConfig::default()
    }
    .apply(&cases)
    .unwrap();
    assert_eq!((kf.train.len(), kf.test.len()), (3, 1));
}

#[test]
fn chase_db1_flat_layout_20_8_rule() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for id in ["Image_01L", "Image_01R", "Image_02L", "Image_02R"] {
        save(fundus(W, H), &r.join(format!("{id}.jpg")));
        save(band(W, H), &r.join(format!("{id}_1stHO.png")));
        save(band(W, H), &r.join(format!("{id}_2ndHO.png")));
    }
    let cases = DatasetKind::ChaseDb1.cases(r).unwrap();
    assert_eq!(cases.len(), 4);
    assert!(
        cases
            .iter()
            .all(|c| c.second_observer.is_some() && c.fov.is_none())
    );
    let n_train = cases
        .iter()
        .filter(|c| c.subset == Some(Subset::Train))
        .count();
    assert_eq!(n_train, 3, "ceil(20·4/28) = 3");
    assert_eq!(medseg::data::datasets::chase_db1::train_count(28), 20);
}

#[test]
fn hrf_layout_and_documented_split() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for id in ["01_h", "02_dr", "06_g", "15_dr"] {
        save(fundus(W, H), &r.join(format!("images/{id}.JPG")));
        save(band(W, H), &r.join(format!("manual1/{id}.tif")));
        save(band(W, H), &r.join(format!("mask/{id}_mask.tif")));
    }
    let cases = DatasetKind::Hrf.cases(r).unwrap();
    let subsets: Vec<_> = cases.iter().map(|c| (c.id.as_str(), c.subset)).collect();
    assert_eq!(
        subsets,
        [
            ("01_h", Some(Subset::Train)),
            ("02_dr", Some(Subset::Train)),
            ("06_g", Some(Subset::Test)),
            ("15_dr", Some(Subset::Test))
        ]
    );
    assert!(cases.iter().all(|c| c.fov.is_some()));
}

fn isic_tree(r: &Path, parts: &[&str], n: usize) {
    for part in parts {
        let input = r.join(format!("ISIC2018_Task1-2_{part}_Input"));
        let gt = r.join(format!("ISIC2018_Task1_{part}_GroundTruth"));
        for i in 0..n {
            let id = format!("ISIC_{:07}", i + 100 * part.len());
            save(fundus(W, H), &input.join(format!("{id}.jpg")));
            save(band(W, H), &gt.join(format!("{id}_segmentation.png")));
        }
        std::fs::write(input.join("ATTRIBUTION.txt"), "x").unwrap();
        std::fs::write(gt.join("LICENSE.txt"), "x").unwrap();
    }
}

#[test]
fn isic2018_official_folders_and_random_split() {
    let t = tempfile::tempdir().unwrap();
    isic_tree(t.path(), &["Training", "Validation"], 3);
    let cases = DatasetKind::Isic2018.cases(t.path()).unwrap();
    assert_eq!(cases.len(), 6);
    let split = SplitConfig::default().apply(&cases).unwrap();
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (3, 3, 0)
    );
    let d = decode_case(&cases[0], DatasetKind::Isic2018, FovSource::Auto).unwrap();
    assert_eq!(d.fov_origin, FovOrigin::Full);
    // only the training folder: seeded 80/10/10 of it
    let t2 = tempfile::tempdir().unwrap();
    isic_tree(t2.path(), &["Training"], 10);
    let cases = DatasetKind::Isic2018.cases(t2.path()).unwrap();
    let random = SplitConfig {
        scheme: SplitScheme::Random {
            train: 0.8,
            val: 0.1,
            test: 0.1,
        },
        ..SplitConfig::default()
    }
    .apply(&cases)
    .unwrap();
    assert_eq!(
        (random.train.len(), random.val.len(), random.test.len()),
        (8, 1, 1)
    );
}

#[test]
fn ph2_bmp_and_png_with_seeded_split() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for i in 0..10 {
        let id = format!("IMD{:03}", i + 2);
        let ext = if i % 2 == 0 { "bmp" } else { "png" };
        save(
            fundus(W, H),
            &r.join(format!("{id}/{id}_Dermoscopic_Image/{id}.{ext}")),
        );
        save(
            band(W, H),
            &r.join(format!("{id}/{id}_lesion/{id}_lesion.{ext}")),
        );
        mkdir(&r.join(format!("{id}/{id}_roi")));
    }
    std::fs::write(r.join("PH2_dataset.txt"), "table").unwrap();
    let cases = DatasetKind::Ph2.cases(r).unwrap();
    assert_eq!(cases.len(), 10);
    assert!(cases.iter().all(|c| c.subset.is_none()));
    let a = SplitConfig::default().apply(&cases).unwrap();
    let b = SplitConfig::default().apply(&cases).unwrap();
    assert_eq!(a, b);
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (8, 1, 1));
    let c = SplitConfig {
        seed: 7,
        ..SplitConfig::default()
    }
    .apply(&cases)
    .unwrap();
    assert_eq!(c.train.len(), 8);
}

#[test]
fn folder_nnunet_16_bit_and_label_maps() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for i in 0..3 {
        // 16-bit grey image with nnU-Net's channel suffix, 0/1 label map, explicit FOV
        let img: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_fn(W, H, |x, _| Luma([(x * 5000) as u16]));
        save(
            DynamicImage::ImageLuma16(img),
            &r.join(format!("imagesTr/case{i}_0000.png")),
        );
        let lab: GrayImage = ImageBuffer::from_fn(W, H, |x, _| Luma([(x < 3) as u8]));
        save(lab, &r.join(format!("labelsTr/case{i}.png")));
        save(band(W, H), &r.join(format!("fovTr/case{i}.png")));
    }
    save(fundus(W, H), &r.join("imagesTs/new_0000.png"));
    let cases = DatasetKind::Folder.cases(r).unwrap();
    assert_eq!(ids(&cases), ["case0", "case1", "case2", "new"]);
    assert!(cases[3].mask.is_none() && cases[3].subset == Some(Subset::Test));
    let m = read_mask(cases[0].mask.as_ref().unwrap()).unwrap();
    assert_eq!(m.count(), 3 * H as usize, "label 1 is foreground");
    let p = read_plane(&cases[0].image).unwrap();
    assert!(
        (p.get(1, 0) - 5000.0 / 65535.0).abs() < 1e-6,
        "16 bit scales to [0, 1]"
    );
    let rgb = read_rgb(&cases[0].image).unwrap();
    assert_eq!(rgb.planes[0], rgb.planes[2], "grey replicates into RGB");
    let d = decode_case(&cases[0], DatasetKind::Folder, FovSource::Auto).unwrap();
    assert_eq!(d.fov_origin, FovOrigin::Official);
    let split = SplitConfig::default().apply(&cases).unwrap();
    assert!(ids(&split.test).contains(&"new"));
    // two folders paired by stem
    let t2 = tempfile::tempdir().unwrap();
    for id in ["a", "b"] {
        save(fundus(W, H), &t2.path().join(format!("images/{id}.bmp")));
        save(band(W, H), &t2.path().join(format!("masks/{id}.png")));
    }
    assert_eq!(
        ids(&DatasetKind::Folder.cases(t2.path()).unwrap()),
        ["a", "b"]
    );
}

#[test]
fn cache_loads_in_parallel_and_preprocesses() {
    let t = tempfile::tempdir().unwrap();
    drive_tree(t.path());
    let cases = DatasetKind::Drive.cases(t.path()).unwrap();
    let cfg = LoadConfig {
        preprocess: PreprocessConfig::vessels(),
        fov: FovSource::Auto,
        threads: 3,
        scale_to: None,
        labels: Default::default(),
    };
    let cache = SampleCache::load(&cases, DatasetKind::Drive, &cfg).unwrap();
    assert_eq!(cache.len(), 4);
    assert_eq!(cache.samples[0].image.channels, 1);
    // scaled to twice its FOV diameter, a sample doubles in size, mask and FOV with it
    let first = &cache.samples[0];
    let d = medseg::infer::scale::fov_diameter(&first.fov).unwrap();
    let doubled = LoadConfig {
        scale_to: Some(2.0 * d),
        ..cfg.clone()
    };
    let s = load_case(&cases[0], DatasetKind::Drive, &doubled).unwrap();
    assert_eq!(
        (s.image.width, s.mask.width, s.fov.height),
        (
            2 * first.image.width,
            2 * first.mask.width,
            2 * first.fov.height
        )
    );
    let d2 = medseg::infer::scale::fov_diameter(&s.fov).unwrap();
    assert!((d2 - 2.0 * d).abs() <= 2.0, "{d2} vs {}", 2.0 * d);
    let lesions = LoadConfig {
        preprocess: PreprocessConfig::lesions(16),
        ..cfg
    };
    let s = load_case(&cases[0], DatasetKind::Drive, &lesions).unwrap();
    assert_eq!(
        (s.image.channels, s.image.width, s.mask.height),
        (3, 16, 16)
    );
}

// ---- bad input ----------------------------------------------------------------------------

#[test]
fn missing_mask_names_the_expected_file() {
    let t = tempfile::tempdir().unwrap();
    drive_tree(t.path());
    let gone = t.path().join("training/1st_manual/22_manual1.gif");
    std::fs::remove_file(&gone).unwrap();
    match DatasetKind::Drive.cases(t.path()) {
        Err(Error::MissingFile { path }) => assert_eq!(path, gone),
        other => panic!("expected MissingFile, got {other:?}"),
    }
    // an orphan mask names the missing image
    let t2 = tempfile::tempdir().unwrap();
    drive_tree(t2.path());
    let img = t2.path().join("test/images/02_test.tif");
    std::fs::remove_file(&img).unwrap();
    let scan = DatasetKind::Drive.scan(t2.path()).unwrap();
    assert!(
        scan.problems
            .iter()
            .any(|e| matches!(e, Error::MissingFile { path } if *path == img))
    );
}

#[test]
fn size_mismatch_is_reported() {
    let t = tempfile::tempdir().unwrap();
    drive_tree(t.path());
    let bad = t.path().join("training/1st_manual/21_manual1.gif");
    save(band(W + 1, H), &bad);
    let cases = DatasetKind::Drive.cases(t.path()).unwrap();
    match decode_case(&cases[0], DatasetKind::Drive, FovSource::Auto) {
        Err(Error::ShapeMismatch { path, image, mask }) => {
            assert_eq!(path, bad);
            assert_eq!((image, mask), ((W, H), (W + 1, H)));
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

#[test]
fn truncated_and_corrupt_files_are_decode_errors() {
    let t = tempfile::tempdir().unwrap();
    let png = t.path().join("x.png");
    save(fundus(W, H), &png);
    let bytes = std::fs::read(&png).unwrap();
    std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(read_rgb(&png), Err(Error::Decode { path, .. }) if path == png));
    let junk = t.path().join("y.tif");
    std::fs::write(&junk, b"not an image at all").unwrap();
    assert!(matches!(read_mask(&junk), Err(Error::Decode { .. })));
    let empty = t.path().join("z.gif");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(read_plane(&empty), Err(Error::Decode { .. })));
    let badgz = t.path().join("w.ppm.gz");
    std::fs::write(&badgz, b"\x1f\x8b garbage").unwrap();
    assert!(matches!(read_rgb(&badgz), Err(Error::Decode { .. })));
    let none = t.path().join("missing.png");
    assert!(matches!(read_rgb(&none), Err(Error::MissingFile { path }) if path == none));
}

#[test]
fn non_binary_masks_are_rejected_with_the_policy() {
    let t = tempfile::tempdir().unwrap();
    let grey = t.path().join("grey.png");
    save(
        ImageBuffer::from_fn(W, H, |x, _| Luma([(x * 20) as u8])) as GrayImage,
        &grey,
    );
    match read_mask(&grey) {
        Err(Error::NonBinaryMask { path, reason }) => {
            assert_eq!(path, grey);
            assert!(reason.contains("at most 1 %"), "{reason}");
        }
        other => panic!("expected NonBinaryMask, got {other:?}"),
    }
    let multi = t.path().join("multi.png");
    save(
        ImageBuffer::from_fn(W, H, |x, _| Luma([(x % 3) as u8])) as GrayImage,
        &multi,
    );
    assert!(
        matches!(read_mask(&multi), Err(Error::NonBinaryMask { reason, .. }) if reason.contains("multi-class"))
    );
    // a few grey pixels (compression, anti-aliasing) are tolerated
    let mut almost = band(20, 20);
    almost.put_pixel(0, 19, Luma([128]));
    let ok = t.path().join("ok.png");
    save(almost, &ok);
    assert!(read_mask(&ok).is_ok());
}

#[test]
fn empty_folder_and_wrong_root_are_bad_layouts() {
    let t = tempfile::tempdir().unwrap();
    for kind in DatasetKind::ALL {
        assert!(
            matches!(kind.scan(t.path()), Err(Error::BadLayout { .. })),
            "{kind} on an empty folder"
        );
        let nowhere = t.path().join("does-not-exist");
        assert!(
            matches!(kind.scan(&nowhere), Err(Error::BadLayout { root, .. }) if root == nowhere),
            "{kind} on a wrong root"
        );
    }
    // DRIVE root given one level too deep
    let t2 = tempfile::tempdir().unwrap();
    drive_tree(t2.path());
    assert!(matches!(
        DatasetKind::Drive.scan(&t2.path().join("training")),
        Err(Error::BadLayout { .. })
    ));
    // an empty imagesTr
    mkdir(&t.path().join("imagesTr"));
    mkdir(&t.path().join("labelsTr"));
    assert!(matches!(
        DatasetKind::Folder.scan(t.path()),
        Err(Error::BadLayout { .. })
    ));
}

#[test]
fn check_lists_every_problem() {
    let t = tempfile::tempdir().unwrap();
    drive_tree(t.path());
    let root = t.path();
    assert!(check(DatasetKind::Drive, root, 2).unwrap().is_ok());
    std::fs::remove_file(root.join("training/mask/21_training_mask.gif")).unwrap();
    save(
        band(W, H + 2),
        &root.join("training/1st_manual/22_manual1.gif"),
    );
    std::fs::write(root.join("test/images/01_test.tif"), b"II*\0trunc").unwrap();
    let report = check(DatasetKind::Drive, root, 2).unwrap();
    let kinds: Vec<&str> = report.problems.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(report.problems.len(), 3, "{:#?}", report.problems);
    for k in ["missing-file", "shape-mismatch", "decode"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.path.as_ref().is_some_and(|p| p.starts_with(root)))
    );
}

#[test]
fn synthetic_trees_load_in_their_official_layouts() {
    let t = tempfile::tempdir().unwrap();
    let v = t.path().join("vessels");
    let s = write_dataset(
        &SynthConfig {
            kind: SynthKind::Vessels,
            count: 4,
            size: 64,
            seed: 1,
        },
        &v,
    )
    .unwrap();
    assert_eq!((s.train, s.test), (2, 2));
    let report = check(DatasetKind::Drive, &v, 2).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(report.counts.cases, 4);
    let iou = report.fov_derivation_iou.unwrap();
    assert!(iou.min > 0.9, "derived FOV on synthetic fundus: {iou:?}");
    let l: PathBuf = t.path().join("lesions");
    write_dataset(
        &SynthConfig {
            kind: SynthKind::Lesions,
            count: 3,
            size: 64,
            seed: 1,
        },
        &l,
    )
    .unwrap();
    let report = check(DatasetKind::Isic2018, &l, 2).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(report.counts.train, 3);
    let c: PathBuf = t.path().join("chest");
    let s = write_dataset(
        &SynthConfig {
            kind: SynthKind::Chest,
            count: 2,
            size: 32,
            seed: 1,
        },
        &c,
    )
    .unwrap();
    assert_eq!(s.files.len(), 2 * 6, "an image and five masks per case");
    let report = check(DatasetKind::Jsrt, &c, 2).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(report.counts.cases, 2);
    assert_eq!(report.counts.labelled, 2, "per-structure masks are labels");
    assert_eq!(report.structures.len(), 5, "{:?}", report.structures);
    let heart = report.structures["heart"].mean;
    assert!(heart > 0.02 && heart < 0.2, "heart fraction {heart}");
    // the clavicles overlap the lungs (SCR's masks do), the heart does not
    let sample = medseg::data::synth::chest_sample(32, 1, 0);
    let [heart, left_lung, _, left_clavicle, _] = &sample.masks[..] else {
        panic!("five masks")
    };
    assert_eq!(heart.size(), (64, 64));
    let overlap = |a: &medseg::data::Mask, b: &medseg::data::Mask| {
        a.data
            .iter()
            .zip(&b.data)
            .filter(|(x, y)| **x && **y)
            .count()
    };
    assert!(overlap(left_lung, left_clavicle) > 0);
    assert_eq!(overlap(left_lung, heart), 0);
    assert!(left_clavicle.data.iter().any(|&v| v) && heart.data.iter().any(|&v| v));
}

/// The FOV derivation against DRIVE's official masks on the real data (not in CI: the data is
/// not committed). Run: `cargo test -p medseg --test datasets -- --ignored --nocapture`.
#[test]
#[ignore = "needs the real DRIVE tree in ../shared/data/DRIVE"]
fn real_drive_fov_derivation_iou() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/DRIVE");
    let report = check(DatasetKind::Drive, &root, 0).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    let iou = report.fov_derivation_iou.unwrap();
    println!("DRIVE derived-vs-official FOV IoU: {iou:?}");
    assert!(iou.mean >= 0.97 && iou.min >= 0.95, "{iou:?}");
}

fn plan_options() -> PlanOptions {
    PlanOptions {
        budget_minutes: 10.0,
        seed: 42,
        name: None,
        // given, so that the test measures nothing
        step_seconds: Some(0.5),
        val_seconds: Some(0.25),
        threads: 2,
    }
}

/// `medseg plan` writes a valid config on a tree of every built-in layout, and its epochs fit
/// the budget with the given timings.
#[test]
fn plan_writes_a_valid_config_for_every_layout() {
    let t = tempfile::tempdir().unwrap();
    let tree = |name: &str| t.path().join(name);
    drive_tree(&tree("drive"));
    for id in ["im0001", "im0002", "im0003", "im0044"] {
        let r = tree("stare");
        write_maybe_gz(
            &ppm_bytes(&fundus(W, H)),
            &r.join(format!("stare-images/{id}.ppm")),
            false,
        );
        p5(
            &band(W, H),
            &r.join(format!("labels-ah/{id}.ah.ppm")),
            false,
        );
    }
    for id in ["Image_01L", "Image_01R", "Image_02L", "Image_02R"] {
        save(fundus(W, H), &tree("chase").join(format!("{id}.jpg")));
        save(band(W, H), &tree("chase").join(format!("{id}_1stHO.png")));
    }
    for id in ["01_h", "02_dr", "06_g", "15_dr"] {
        let r = tree("hrf");
        save(fundus(W, H), &r.join(format!("images/{id}.JPG")));
        save(band(W, H), &r.join(format!("manual1/{id}.tif")));
        save(band(W, H), &r.join(format!("mask/{id}_mask.tif")));
    }
    isic_tree(&tree("isic"), &["Training"], 10);
    for i in 0..10 {
        let id = format!("IMD{:03}", i + 2);
        let r = tree("ph2");
        save(
            fundus(W, H),
            &r.join(format!("{id}/{id}_Dermoscopic_Image/{id}.bmp")),
        );
        save(
            band(W, H),
            &r.join(format!("{id}/{id}_lesion/{id}_lesion.bmp")),
        );
    }
    for i in 0..10 {
        save(
            fundus(W, H),
            &tree("folder").join(format!("images/{i}.png")),
        );
        save(band(W, H), &tree("folder").join(format!("masks/{i}.png")));
    }
    for (kind, dir) in [
        (DatasetKind::Drive, "drive"),
        (DatasetKind::Stare, "stare"),
        (DatasetKind::ChaseDb1, "chase"),
        (DatasetKind::Hrf, "hrf"),
        (DatasetKind::Isic2018, "isic"),
        (DatasetKind::Ph2, "ph2"),
        (DatasetKind::Folder, "folder"),
    ] {
        let p = plan(kind, &tree(dir), &plan_options()).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(p.config.data.dataset, kind);
        assert_eq!(p.config.name, format!("{kind}-planned"));
        // the written TOML is the config, its rules as comments
        let reread = ExperimentConfig::from_toml(&p.toml, Path::new("plan.toml")).unwrap();
        assert_eq!(
            reread.effective_json().unwrap(),
            p.config.effective_json().unwrap()
        );
        assert!(p.toml.lines().filter(|l| l.starts_with("# - ")).count() >= 8);
        assert!(
            p.expected_minutes <= 10.0 * BUDGET_SHARE + 1e-9,
            "{kind}: {}",
            p.expected_minutes
        );
        assert!(p.config.train.epochs >= 1);
    }
}

/// The rules follow the data: synthetic vessels (thin, in fundus discs) are planned as patches
/// of the green channel, synthetic lesions (wide blobs) as whole resized RGB images; a larger
/// budget buys proportionally more epochs; a bad budget is an error.
#[test]
fn plan_follows_the_structures_and_the_budget() {
    let t = tempfile::tempdir().unwrap();
    let v = t.path().join("vessels");
    write_dataset(
        &SynthConfig {
            kind: SynthKind::Vessels,
            count: 6,
            size: 384,
            seed: 1,
        },
        &v,
    )
    .unwrap();
    let p = plan(DatasetKind::Drive, &v, &plan_options()).unwrap();
    let width = p.fingerprint.structure_width.unwrap().median;
    assert!(width < 0.02 * p.fingerprint.fov_diameter.median, "{width}");
    assert!(matches!(p.config.data.sampling, SampleMode::Patches(_)));
    assert_eq!(p.config.data.preprocess.channel, Channel::Green);
    assert!(p.config.data.preprocess.clahe.is_some());
    assert_eq!(p.config.train.batch_size, 8);
    let l = t.path().join("lesions");
    write_dataset(
        &SynthConfig {
            kind: SynthKind::Lesions,
            count: 10,
            size: 320,
            seed: 1,
        },
        &l,
    )
    .unwrap();
    let p = plan(DatasetKind::Isic2018, &l, &plan_options()).unwrap();
    assert_eq!(p.config.data.sampling, SampleMode::Whole);
    assert_eq!(p.config.data.preprocess.channel, Channel::Rgb);
    assert_eq!(
        p.config.data.preprocess.resize,
        Some([224, 224]),
        "median 320x240"
    );
    // epochs scale with the budget: 8 training images, 2 steps per epoch of 0.5 s
    let long = plan(
        DatasetKind::Isic2018,
        &l,
        &PlanOptions {
            budget_minutes: 20.0,
            ..plan_options()
        },
    )
    .unwrap();
    let (a, b) = (
        p.config.train.epochs as f64,
        long.config.train.epochs as f64,
    );
    assert!((b / a - 2.0).abs() < 0.05, "{a} -> {b}");
    // a short budget trades resolution for epochs: 0.45 min * 0.8 = 21.6 s buys 18 epochs of 3
    // steps at 224 px, 25 at 192 and 36 at 160 (steps scale with the pixels)
    let short = plan(
        DatasetKind::Isic2018,
        &l,
        &PlanOptions {
            budget_minutes: 0.45,
            ..plan_options()
        },
    )
    .unwrap();
    assert_eq!(short.config.data.preprocess.resize, Some([160, 160]));
    assert!(
        short.config.train.epochs >= 20,
        "{}",
        short.config.train.epochs
    );
    for bad in [0.0, -1.0, f64::NAN] {
        let e = plan(
            DatasetKind::Isic2018,
            &l,
            &PlanOptions {
                budget_minutes: bad,
                ..plan_options()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("--budget-minutes"), "{e}");
    }
}
