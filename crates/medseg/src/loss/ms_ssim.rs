//! Multi-scale structural similarity (MS-SSIM, Wang, Simoncelli & Bovik 2003,
//! <https://doi.org/10.1109/ACSSC.2003.1292216>) and the loss `1 - MS-SSIM(σ(logits), target)`.
//!
//! Mirrors pytorch-msssim 1.0.0 (`pytorch_msssim/ssim.py`, `ms_ssim` with `data_range = 1`):
//! - an 11-tap Gaussian window, σ = 1.5, applied separably (rows, then columns) as a depthwise
//!   convolution with **valid** padding (no border);
//! - `C1 = (K1 L)^2`, `C2 = (K2 L)^2` with `K1 = 0.01`, `K2 = 0.03`, `L = 1`;
//! - per scale, `cs` and `ssim` are the means of their maps over `H, W`;
//! - between scales a 2×2 average pool with stride 2, padded by `H mod 2` / `W mod 2` on both
//!   sides and counting the padding (PyTorch's `avg_pool2d(x, 2, padding=[H % 2, W % 2])`);
//! - `MS-SSIM = Π_{i<n} relu(cs_i)^{w_i} · relu(ssim_n)^{w_n}` per image and channel, then the
//!   mean over batch and channels; weights `0.0448, 0.2856, 0.3001, 0.2363, 0.1333`.
//!
//! # Small inputs
//! pytorch-msssim asserts `min(H, W) > (win - 1) · 2^4 = 160` for five scales. We generalise its
//! condition instead of failing ([`MsSsimLossConfig::plan`]):
//! 1. use the largest `n <= weights.len()` with `min(H, W) > (win - 1) · 2^(n - 1)`. That keeps
//!    the coarsest scale at least `win` pixels wide, so no scale skips its smoothing;
//! 2. with `n` smaller than `weights.len()`, use the first `n` weights divided by their sum (the
//!    full set is used as published, which sums to 1.0001);
//! 3. if not even one scale fits (`min(H, W) <= win - 1`), use one scale (plain SSIM) with the
//!    window shrunk to the largest odd size `<= min(H, W)`, σ unchanged.
//!
//! So a 64×64 patch uses 3 scales (weights `0.0711, 0.4530, 0.4760`), 24×40 uses 2, and 9×12 uses
//! one scale with a 9-tap window. The first time a reduced plan is used, a `tracing` warning says
//! so (once per process).

use std::sync::atomic::{AtomicBool, Ordering};

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};

use super::{assert_same_shape, check};

/// The five scale weights of Wang et al. (2003), as pytorch-msssim uses them.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

static WARNED_SMALL: AtomicBool = AtomicBool::new(false);

/// Configuration of [`MsSsimLoss`] and [`ms_ssim`].
#[derive(Config, Debug, PartialEq)]
pub struct MsSsimLossConfig {
    /// Gaussian window size in pixels, odd and `>= 1`.
    #[config(default = 11)]
    pub window_size: usize,
    /// Gaussian standard deviation in pixels, `> 0`.
    #[config(default = 1.5)]
    pub sigma: f64,
    /// Weight of each scale, finest first (one entry per scale), each `> 0`.
    #[config(default = "MS_SSIM_WEIGHTS.to_vec()")]
    pub weights: Vec<f64>,
    /// `K1` in `C1 = (K1 L)^2`.
    #[config(default = 0.01)]
    pub k1: f64,
    /// `K2` in `C2 = (K2 L)^2`.
    #[config(default = 0.03)]
    pub k2: f64,
    /// Dynamic range `L` of the inputs (1 for probabilities).
    #[config(default = 1.0)]
    pub data_range: f64,
}

/// Scales, window and weights used for one input size; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct MsSsimPlan {
    /// Number of scales.
    pub scales: usize,
    /// Window size used at every scale.
    pub window_size: usize,
    /// Weight of each scale (`scales` entries).
    pub weights: Vec<f64>,
}

impl MsSsimPlan {
    /// Whether the plan differs from the configured one (fewer scales or a smaller window).
    pub fn is_reduced(&self, config: &MsSsimLossConfig) -> bool {
        self.scales < config.weights.len() || self.window_size < config.window_size
    }
}

impl MsSsimLossConfig {
    /// Checks the configuration.
    pub fn validate(&self) -> crate::Result<()> {
        let w = self.window_size;
        if w.is_multiple_of(2) {
            return Err(crate::Error::InvalidConfig(format!(
                "ms_ssim.window_size = {w} is invalid: must be odd"
            )));
        }
        check("ms_ssim.sigma", self.sigma, self.sigma > 0.0, "must be > 0")?;
        check("ms_ssim.k1", self.k1, self.k1 > 0.0, "must be > 0")?;
        check("ms_ssim.k2", self.k2, self.k2 > 0.0, "must be > 0")?;
        let r = self.data_range;
        check("ms_ssim.data_range", r, r > 0.0, "must be > 0")?;
        if self.weights.is_empty() {
            return Err(crate::Error::InvalidConfig(
                "ms_ssim.weights is empty: give at least one scale weight".into(),
            ));
        }
        for (i, &v) in self.weights.iter().enumerate() {
            check(&format!("ms_ssim.weights[{i}]"), v, v > 0.0, "must be > 0")?;
        }
        Ok(())
    }

    /// The scales, window and weights for an input of `height × width`; see the module docs.
    pub fn plan(&self, height: usize, width: usize) -> MsSsimPlan {
        let side = height.min(width);
        let fits = |n: usize| side > (self.window_size - 1) << (n - 1);
        match (1..=self.weights.len()).rev().find(|&n| fits(n)) {
            Some(n) if n == self.weights.len() => MsSsimPlan {
                scales: n,
                window_size: self.window_size,
                weights: self.weights.clone(),
            },
            Some(n) => {
                let sum: f64 = self.weights[..n].iter().sum();
                MsSsimPlan {
                    scales: n,
                    window_size: self.window_size,
                    weights: self.weights[..n].iter().map(|w| w / sum).collect(),
                }
            }
            None => MsSsimPlan {
                scales: 1,
                window_size: if side % 2 == 1 {
                    side
                } else {
                    side.saturating_sub(1).max(1)
                },
                weights: vec![1.0],
            },
        }
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self) -> MsSsimLoss {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        MsSsimLoss {
            config: self.clone(),
        }
    }
}

/// `1 - MS-SSIM(σ(logits), targets)`.
#[derive(Debug, Clone)]
pub struct MsSsimLoss {
    /// The (validated) configuration.
    pub config: MsSsimLossConfig,
}

impl MsSsimLoss {
    /// `1 - MS-SSIM(σ(logits), targets)`, averaged over the batch.
    ///
    /// # Shapes
    /// - `logits`, `targets`: `[B, C, H, W]` (equal); output `[1]`.
    pub fn forward(&self, logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
        assert_same_shape("ms_ssim_loss", &logits, &targets);
        ms_ssim(sigmoid(logits), targets, &self.config)
            .neg()
            .add_scalar(1.0)
    }
}

/// MS-SSIM between two image batches with values in `[0, data_range]`, averaged over batch and
/// channels (pytorch-msssim's `size_average=True`).
///
/// # Shapes
/// - `x`, `y`: `[B, C, H, W]` (equal); output `[1]`.
///
/// # Panics
/// If the shapes differ.
pub fn ms_ssim(x: Tensor<4>, y: Tensor<4>, config: &MsSsimLossConfig) -> Tensor<1> {
    assert_same_shape("ms_ssim", &x, &y);
    let [_, channels, height, width] = x.dims();
    let plan = config.plan(height, width);
    if plan.is_reduced(config) && !WARNED_SMALL.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "MS-SSIM input {height}x{width} is too small for {} scales with a {}-pixel window: \
             using {} scale(s), window {}, weights {:?} (warned once)",
            config.weights.len(),
            config.window_size,
            plan.scales,
            plan.window_size,
            plan.weights
        );
    }
    let device = x.device();
    let window = gaussian_window(plan.window_size, config.sigma);
    // Depthwise weights for the five stacked statistics of every channel.
    let groups = 5 * channels;
    let taps = plan.window_size;
    let column = Tensor::<1>::from_floats(window.as_slice(), &device)
        .reshape([1, 1, taps, 1])
        .repeat_dim(0, groups); // [5C, 1, win, 1]
    let row = column.clone().reshape([groups, 1, 1, taps]); // [5C, 1, 1, win]
    let c1 = (config.k1 * config.data_range).powi(2);
    let c2 = (config.k2 * config.data_range).powi(2);

    let (mut x, mut y) = (x, y);
    let mut factors = Vec::with_capacity(plan.scales);
    for (level, &weight) in plan.weights.iter().enumerate() {
        let (ssim, cs) = ssim_and_cs(x.clone(), y.clone(), &column, &row, c1, c2);
        if level + 1 < plan.scales {
            factors.push(relu(cs).powf_scalar(weight));
            let [_, _, h, w] = x.dims();
            let pool = AvgPoolOptions::new([2, 2]).with_padding([h % 2, w % 2]);
            x = avg_pool2d(x, pool.clone()); // [B, C, ceil(H/2), ceil(W/2)]
            y = avg_pool2d(y, pool);
        } else {
            factors.push(relu(ssim).powf_scalar(weight));
        }
    }
    let product = factors
        .into_iter()
        .reduce(|a, b| a * b)
        .expect("a plan has at least one scale"); // [B, C]
    product.mean()
}

/// Normalised 1-D Gaussian window, computed in f32 as pytorch-msssim's `_fspecial_gauss_1d`.
fn gaussian_window(size: usize, sigma: f64) -> Vec<f32> {
    let sigma = sigma as f32;
    let half = (size / 2) as f32;
    let g: Vec<f32> = (0..size)
        .map(|i| {
            let c = i as f32 - half;
            (-(c * c) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f32 = g.iter().sum();
    g.into_iter().map(|v| v / sum).collect()
}

/// Mean SSIM and mean contrast-structure term per image and channel (`[B, C]` each).
fn ssim_and_cs(
    x: Tensor<4>,
    y: Tensor<4>,
    column: &Tensor<4>,
    row: &Tensor<4>,
    c1: f64,
    c2: f64,
) -> (Tensor<2>, Tensor<2>) {
    let [b, c, _, _] = x.dims();
    // [B, 5C, H, W]: x, y, x², y², xy, blurred together (one depthwise conv per direction).
    let stats = Tensor::cat(
        vec![
            x.clone(),
            y.clone(),
            x.clone() * x.clone(),
            y.clone() * y.clone(),
            x * y,
        ],
        1,
    );
    let groups = 5 * c;
    let blurred = conv2d(
        stats,
        column.clone(),
        None,
        ConvOptions::new([1, 1], [0, 0], [1, 1], groups),
    ); // [B, 5C, H - win + 1, W]
    let blurred = conv2d(
        blurred,
        row.clone(),
        None,
        ConvOptions::new([1, 1], [0, 0], [1, 1], groups),
    ); // [B, 5C, H - win + 1, W - win + 1]
    let part = |k: usize| blurred.clone().narrow(1, k * c, c);
    let (mu1, mu2) = (part(0), part(1));
    let mu1_sq = mu1.clone() * mu1.clone();
    let mu2_sq = mu2.clone() * mu2.clone();
    let mu12 = mu1 * mu2;
    let sigma1_sq = part(2) - mu1_sq.clone();
    let sigma2_sq = part(3) - mu2_sq.clone();
    let sigma12 = part(4) - mu12.clone();
    let cs_map = sigma12.mul_scalar(2.0).add_scalar(c2) / (sigma1_sq + sigma2_sq).add_scalar(c2);
    let luminance = mu12.mul_scalar(2.0).add_scalar(c1) / (mu1_sq + mu2_sq).add_scalar(c1);
    let ssim_map = luminance * cs_map.clone();
    let mean_hw = |t: Tensor<4>| -> Tensor<2> {
        let [_, _, h, w] = t.dims();
        t.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    };
    (mean_hw(ssim_map), mean_hw(cs_map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_follows_the_documented_rule() {
        let config = MsSsimLossConfig::new();
        let full = config.plan(192, 192);
        assert_eq!((full.scales, full.window_size), (5, 11));
        assert_eq!(full.weights, MS_SSIM_WEIGHTS.to_vec());
        assert_eq!(config.plan(161, 400).scales, 5);
        assert_eq!(config.plan(160, 400).scales, 4);
        let patch = config.plan(64, 64);
        assert_eq!((patch.scales, patch.window_size), (3, 11));
        let sum: f64 = patch.weights.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);
        let ratio = patch.weights[1] / patch.weights[0];
        assert!((ratio - 0.2856 / 0.0448).abs() < 1e-12);
        assert!(patch.is_reduced(&config));
        assert_eq!(config.plan(24, 40).scales, 2);
        assert_eq!(config.plan(11, 11).scales, 1);
        let tiny = config.plan(9, 12);
        assert_eq!(
            (tiny.scales, tiny.window_size, tiny.weights),
            (1, 9, vec![1.0])
        );
        assert_eq!(config.plan(8, 8).window_size, 7);
        assert_eq!(config.plan(1, 5).window_size, 1);
    }

    /// Counts WARN events on the current thread.
    struct WarnCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for WarnCounter {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// The only unit test that runs `ms_ssim`, so the process-wide flag is still unset here.
    #[test]
    fn small_inputs_warn_once() {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = WarnCounter(count.clone());
        WARNED_SMALL.store(false, Ordering::SeqCst);
        tracing::subscriber::with_default(subscriber, || {
            let device = Device::flex();
            let config = MsSsimLossConfig::new();
            let x = Tensor::<4>::ones([1, 1, 192, 192], &device);
            let full = ms_ssim(x.clone(), x, &config).into_scalar::<f32>();
            assert!((full - 1.0).abs() < 1e-6);
            assert_eq!(
                count.load(Ordering::SeqCst),
                0,
                "a full-size input does not warn"
            );
            for (h, w) in [(64, 64), (64, 64), (9, 12)] {
                let x = Tensor::<4>::ones([2, 1, h, w], &device).mul_scalar(0.5);
                let v = ms_ssim(x.clone(), x, &config).into_scalar::<f32>();
                assert!(
                    (v - 1.0).abs() < 1e-6,
                    "identical inputs give MS-SSIM 1, got {v}"
                );
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn window_is_normalised_and_symmetric() {
        let w = gaussian_window(11, 1.5);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(w[0], w[10]);
        assert!(w[5] > w[4]);
    }

    #[test]
    fn config_validation_names_the_field() {
        assert!(MsSsimLossConfig::new().validate().is_ok());
        let err = MsSsimLossConfig::new().with_window_size(10).validate();
        assert!(err.unwrap_err().to_string().contains("window_size = 10"));
        let err = MsSsimLossConfig::new()
            .with_weights(vec![0.5, -1.0])
            .validate();
        assert!(err.unwrap_err().to_string().contains("weights[1]"));
    }
}
