//! Seeded, documented splits of a dataset's cases into train / val / test.
//!
//! Rules:
//! - [`SplitScheme::Official`]: each case's official [`Subset`] (DRIVE training/test, STARE first
//!   ten IDs train, CHASE_DB1 first 20 train, HRF 01–05 train, ISIC-2018 folders). Cases without
//!   an official subset (PH2, folders) get a seeded 80/10/10.
//! - [`SplitScheme::Random`]: a seeded shuffle of all labelled cases cut by the given fractions.
//! - [`SplitScheme::KFold`]: labelled cases sorted by ID, shuffled with the seed, case at position
//!   `p` in fold `p % k`; fold `fold` tests, the others train. Folds are disjoint and cover all.
//! - Then, if `val_fraction > 0` and val is still empty, `round(val_fraction × n_train)` (at least
//!   one, at most `n_train − 1`) seeded training cases move to val.
//!
//! Unlabelled cases (no mask) only ever land in test. The same seed gives the same split on any
//! machine (see [`Rng`]). Output lists are sorted by ID.

use serde::{Deserialize, Serialize};

use super::{Case, Rng, Subset};
use crate::{Error, Result};

/// How cases are divided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitScheme {
    /// The dataset's official split (see module docs).
    Official,
    /// Seeded random fractions (train, val, test); they must sum to 1.
    Random { train: f64, val: f64, test: f64 },
    /// Fold `fold` of a seeded `k`-fold split.
    KFold { k: usize, fold: usize },
}

/// A split with its seed and validation carve-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    pub scheme: SplitScheme,
    /// Fraction of training cases moved to validation when the scheme gives none.
    #[serde(default)]
    pub val_fraction: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    42
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            scheme: SplitScheme::Official,
            val_fraction: 0.0,
            seed: default_seed(),
        }
    }
}

/// Cases of each part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub train: Vec<Case>,
    pub val: Vec<Case>,
    pub test: Vec<Case>,
}

impl SplitConfig {
    /// Checks fractions and fold indices.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(Error::InvalidConfig(format!(
                "val_fraction must be in [0, 1), got {}",
                self.val_fraction
            )));
        }
        match self.scheme {
            SplitScheme::Random { train, val, test } => {
                let sum = train + val + test;
                if [train, val, test].iter().any(|f| *f < 0.0) || (sum - 1.0).abs() > 1e-6 {
                    return Err(Error::InvalidConfig(format!(
                        "random split fractions must be ≥ 0 and sum to 1, got {train}/{val}/{test}"
                    )));
                }
            }
            SplitScheme::KFold { k, fold } => {
                if k < 2 || fold >= k {
                    return Err(Error::InvalidConfig(format!(
                        "k-fold needs k ≥ 2 and fold < k, got k = {k}, fold = {fold}"
                    )));
                }
            }
            SplitScheme::Official => {}
        }
        Ok(())
    }

    /// Splits `cases` (see module docs).
    pub fn apply(&self, cases: &[Case]) -> Result<Split> {
        self.validate()?;
        let mut cases: Vec<Case> = cases.to_vec();
        cases.sort_by(|a, b| a.id.cmp(&b.id).then(a.image.cmp(&b.image)));
        let (labelled, unlabelled): (Vec<Case>, Vec<Case>) =
            cases.into_iter().partition(Case::is_labelled);
        let mut split = Split {
            test: unlabelled,
            ..Split::default()
        };
        match &self.scheme {
            SplitScheme::Official => {
                let mut free = Vec::new();
                for c in labelled {
                    match c.subset {
                        Some(Subset::Train) => split.train.push(c),
                        Some(Subset::Val) => split.val.push(c),
                        Some(Subset::Test) => split.test.push(c),
                        None => free.push(c),
                    }
                }
                random_parts(free, (0.8, 0.1, 0.1), self.seed, &mut split);
            }
            SplitScheme::Random { train, val, test } => {
                random_parts(labelled, (*train, *val, *test), self.seed, &mut split);
            }
            SplitScheme::KFold { k, fold } => {
                let mut order: Vec<usize> = (0..labelled.len()).collect();
                Rng::with_stream(self.seed, 1).shuffle(&mut order);
                let mut in_test = vec![false; labelled.len()];
                for (pos, &i) in order.iter().enumerate() {
                    in_test[i] = pos % k == *fold;
                }
                for (c, t) in labelled.into_iter().zip(in_test) {
                    if t {
                        split.test.push(c)
                    } else {
                        split.train.push(c)
                    }
                }
            }
        }
        if self.val_fraction > 0.0 && split.val.is_empty() && split.train.len() >= 2 {
            let n = split.train.len();
            let n_val = ((self.val_fraction * n as f64).round() as usize).clamp(1, n - 1);
            let mut order: Vec<usize> = (0..n).collect();
            Rng::with_stream(self.seed, 2).shuffle(&mut order);
            let mut to_val = vec![false; n];
            for &i in &order[..n_val] {
                to_val[i] = true;
            }
            let train = std::mem::take(&mut split.train);
            for (c, v) in train.into_iter().zip(to_val) {
                if v {
                    split.val.push(c)
                } else {
                    split.train.push(c)
                }
            }
        }
        for part in [&mut split.train, &mut split.val, &mut split.test] {
            part.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(split)
    }
}

/// Seeded shuffle of `cases` cut into (train, val, test) fractions, appended to `split`.
/// Counts: `n_val = round(val·n)`, `n_test = round(test·n)`, the rest train.
fn random_parts(cases: Vec<Case>, (_, val, test): (f64, f64, f64), seed: u64, split: &mut Split) {
    let n = cases.len();
    if n == 0 {
        return;
    }
    let n_val = (val * n as f64).round() as usize;
    let n_test = ((test * n as f64).round() as usize).min(n - n_val.min(n));
    let mut order: Vec<usize> = (0..n).collect();
    Rng::with_stream(seed, 0).shuffle(&mut order);
    let mut part = vec![0u8; n];
    for (pos, &i) in order.iter().enumerate() {
        part[i] = if pos < n_val {
            1
        } else if pos < n_val + n_test {
            2
        } else {
            0
        };
    }
    for (c, p) in cases.into_iter().zip(part) {
        match p {
            1 => split.val.push(c),
            2 => split.test.push(c),
            _ => split.train.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn cases(n: usize, subset: Option<Subset>) -> Vec<Case> {
        (0..n)
            .map(|i| Case {
                id: format!("{i:03}"),
                image: PathBuf::from(format!("{i}.png")),
                mask: Some(PathBuf::from(format!("{i}_m.png"))),
                fov: None,
                second_observer: None,
                structures: Default::default(),
                subset,
            })
            .collect()
    }

    fn ids(v: &[Case]) -> BTreeSet<String> {
        v.iter().map(|c| c.id.clone()).collect()
    }

    #[test]
    fn official_keeps_subsets_and_splits_the_rest_80_10_10() {
        let mut all = cases(4, Some(Subset::Train));
        all.extend(cases(2, Some(Subset::Test)).into_iter().map(|mut c| {
            c.id = format!("t{}", c.id);
            c
        }));
        let s = SplitConfig::default().apply(&all).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (4, 0, 2));
        let free = cases(50, None);
        let s = SplitConfig::default().apply(&free).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (40, 5, 5));
    }

    #[test]
    fn same_seed_same_split_other_seed_differs() {
        let all = cases(30, None);
        let cfg = |seed| SplitConfig {
            scheme: SplitScheme::Random {
                train: 0.8,
                val: 0.1,
                test: 0.1,
            },
            val_fraction: 0.0,
            seed,
        };
        let a = cfg(1).apply(&all).unwrap();
        let b = cfg(1).apply(&all).unwrap();
        let c = cfg(2).apply(&all).unwrap();
        assert_eq!(a, b);
        assert_ne!(ids(&a.test), ids(&c.test));
    }

    #[test]
    fn kfold_folds_are_disjoint_and_cover_everything() {
        let all = cases(23, None);
        let mut seen = BTreeSet::new();
        for fold in 0..5 {
            let s = SplitConfig {
                scheme: SplitScheme::KFold { k: 5, fold },
                val_fraction: 0.0,
                seed: 3,
            }
            .apply(&all)
            .unwrap();
            assert_eq!(s.train.len() + s.test.len(), 23);
            assert!(ids(&s.train).is_disjoint(&ids(&s.test)));
            assert!(s.test.len() == 4 || s.test.len() == 5);
            for id in ids(&s.test) {
                assert!(seen.insert(id), "a case is in two test folds");
            }
        }
        assert_eq!(seen.len(), 23);
    }

    #[test]
    fn validation_is_carved_from_train() {
        let all = cases(20, Some(Subset::Train));
        let s = SplitConfig {
            val_fraction: 0.2,
            ..SplitConfig::default()
        }
        .apply(&all)
        .unwrap();
        assert_eq!((s.train.len(), s.val.len()), (16, 4));
        assert!(ids(&s.train).is_disjoint(&ids(&s.val)));
    }

    #[test]
    fn bad_configs_are_rejected() {
        let bad = SplitConfig {
            scheme: SplitScheme::KFold { k: 3, fold: 3 },
            ..SplitConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
    }
}
