//! Analytic multiply-accumulate (MAC) counting.
//!
//! Convention (as thop/ptflops count convolutional nets): only convolutions count, one MAC per
//! kernel tap per input channel per output element; BatchNorm, ReLU, pooling, resizing, additions
//! and biases are not counted. FLOPs are reported as 2 x MACs.
//!
//! Two forms are counted: [`Form::Train`], the network as trained (every MSAC branch a separate
//! conv), and [`Form::Deploy`], after structural re-parameterisation (each MSAC scale's `3x3`,
//! `1x3` and `3x1` branches and their BatchNorms fold into one dilated `3x3` conv), which is what
//! inference runs and what ACNet/RepVGG-style papers report.

/// Which form of the network to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// As trained: every branch is a conv.
    Train,
    /// Re-parameterised for inference: each MSAC scale is one dilated 3x3 conv.
    Deploy,
}

/// Blocks that can count their MACs for an input of spatial size `[h, w]`.
pub trait Macs {
    /// Multiply-accumulates of one forward pass of a single image of spatial size `[h, w]`.
    fn macs(&self, size: [usize; 2], form: Form) -> u64;
}

/// MACs of a plain burn `Conv2d` (stride 1, size-preserving) on an `[h, w]` map.
pub fn conv2d_macs(conv: &burn::nn::conv::Conv2d, [h, w]: [usize; 2]) -> u64 {
    conv.weight.shape().num_elements() as u64 * (h * w) as u64
}
