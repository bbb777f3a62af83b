//! medseg: 2D medical image segmentation in Rust.
//!
//! - [`nn`]: shared building blocks (conv-BN-ReLU, multi-scale asymmetric conv, RSU, nested nodes).
//! - [`models`]: MSA-U2Net and the baselines (U2-Net, U2-NetP, UNet++, U-Net); all return logits.
//! - [`loss`]: BCE, focal, soft Dice, MS-SSIM and their deep-supervised combination.
//! - [`metrics`]: confusion counts, F1/IoU/sensitivity/..., exact ROC-AUC and average precision.
//! - [`data`]: dataset loaders (DRIVE, STARE, CHASE_DB1, HRF, ISIC-2018, PH2, folders), FOV, splits,
//!   preprocessing, augmentation and synthetic data.

pub mod data;
pub mod durable;
pub mod error;
pub mod eval;
pub mod infer;
pub mod loss;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod onnx;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
