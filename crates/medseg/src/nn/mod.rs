//! Shared building blocks, written once and used by every model in [`crate::models`].
//!
//! - [`conv_bn_act`]: conv (any kernel shape, padding and dilation) + BatchNorm + ReLU.
//! - [`msac`]: the conv unit inside RSU blocks: plain 3x3, multi-scale asymmetric (MSAC) or factorised.
//! - [`rsu`]: U2-Net's residual U-block, parameterised by height, with the dilated "F" variant.
//! - [`vgg`]: UNet/UNet++'s two conv-BN-ReLU block.
//! - [`grid`]: the encoder/decoder wiring of U-Net (plain skips) and UNet++ (nested dense skips).
//! - [`resize`]: bilinear resize-to-like (align_corners selectable) and 2x2 max-pooling.
//!   On Flex, [`fast_conv`], [`fast_bn`] and [`fast_resize`] are our CPU kernels behind them.
//! - [`flops`]: analytic multiply-accumulate counting.

pub mod conv_bn_act;
#[cfg(feature = "flex")]
pub mod fast_bn;
#[cfg(feature = "flex")]
pub mod fast_conv;
#[cfg(feature = "flex")]
pub mod fast_resize;
pub mod flops;
pub mod grid;
pub mod msac;
pub mod resize;
pub mod rsu;
pub(crate) mod taps;
pub mod vgg;

pub use conv_bn_act::{ConvBn, ConvBnConfig, conv2d};
pub use flops::{Form, Macs, conv2d_macs};
pub use grid::{ConcatOrder, GridDecoder, SkipKind};
pub use msac::{ConvUnit, ConvUnitConfig, ConvUnitKind};
pub use resize::{PoolMode, level_sizes, max_pool2x2, pooled_size, resize_like};
pub use rsu::{Rsu, RsuConfig};
pub use vgg::{VggBlock, VggBlockConfig};
