//! The Wilcoxon signed-rank test and the seed spread against SciPy 1.16.3 (fixture from
//! `tools/golden/gen_stats.py`): the exact distribution at n = 5, 10, 20 and 50, the normal
//! approximation at n = 80, with tied differences and with zero differences.

use std::path::PathBuf;

use medseg::metrics::stats::{Method, Spread, wilcoxon_signed_rank};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    tolerance: Tol,
    wilcoxon: Vec<Case>,
    spread: Vec<SpreadCase>,
}

#[derive(Deserialize)]
struct Tol {
    p_value_relative: f64,
    statistic_absolute: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    differences: Vec<f64>,
    w_plus: f64,
    statistic: f64,
    p_value: f64,
    medseg_method: String,
}

#[derive(Deserialize)]
struct SpreadCase {
    values: Vec<f64>,
    mean: f64,
    sd: f64,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/stats.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn wilcoxon_matches_scipy() {
    let f = fixture();
    assert!(f.wilcoxon.len() >= 8);
    for c in &f.wilcoxon {
        let w = wilcoxon_signed_rank(&c.differences).unwrap();
        let method = match w.method {
            Method::Exact => "exact",
            Method::Normal => "normal",
        };
        assert_eq!(method, c.medseg_method, "{}", c.name);
        assert!(
            (w.w_plus - c.w_plus).abs() <= f.tolerance.statistic_absolute,
            "{}",
            c.name
        );
        assert!(
            (w.statistic - c.statistic).abs() <= f.tolerance.statistic_absolute,
            "{}: statistic {} vs {}",
            c.name,
            w.statistic,
            c.statistic
        );
        let rel = (w.p_value - c.p_value).abs() / c.p_value;
        assert!(
            rel <= f.tolerance.p_value_relative,
            "{}: p {} vs SciPy {} (relative {rel:e})",
            c.name,
            w.p_value,
            c.p_value
        );
    }
}

#[test]
fn spread_matches_numpy() {
    for c in fixture().spread {
        let s = Spread::of(&c.values).unwrap().unwrap();
        assert!((s.mean - c.mean).abs() < 1e-12);
        assert!((s.sd.unwrap() - c.sd).abs() < 1e-12);
    }
}
