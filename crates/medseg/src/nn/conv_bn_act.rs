//! Convolution + BatchNorm (+ optional ReLU), any kernel shape and dilation, "same" padding.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;

use super::flops::{Form, Macs};

/// A plain burn [`Conv2d`] forward. On Flex, a stride-1, one-group conv with symmetric padding
/// (every conv of our models: the `ConvBn` layers, U2-Net's side and fuse convs, U-Net's heads)
/// runs on our gemm-based kernels ([`super::fast_conv`]: forward, input and weight gradients);
/// anything else, and every other backend, runs burn's conv2d.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if super::fast_bn::supported(&x.device()) && conv.stride == [1, 1] && conv.groups == 1 {
        let [_, _, kh, kw] = conv.weight.shape().dims::<4>();
        let [dh, dw] = conv.dilation;
        let pad = match conv.padding {
            PaddingConfig2d::Valid => Some([0, 0]),
            PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => Some([t, l]),
            PaddingConfig2d::Same if kh % 2 == 1 && kw % 2 == 1 => {
                Some([dh * (kh - 1) / 2, dw * (kw - 1) / 2])
            }
            _ => None,
        };
        if let Some([ph, pw]) = pad {
            let bias = match &conv.bias {
                Some(b) => b.val(),
                None => Tensor::zeros([conv.weight.shape().dims::<4>()[0]], &x.device()),
            };
            return super::fast_conv::conv2d_s1(x, conv.weight.val(), bias, [ph, pw, dh, dw]);
        }
    }
    conv.forward(x)
}

/// Configuration of a [`ConvBn`] layer.
#[derive(Config, Debug)]
pub struct ConvBnConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size `[kh, kw]` (odd values; 1xk and kx1 allowed).
    #[config(default = "[3, 3]")]
    pub kernel: [usize; 2],
    /// Dilation `[dh, dw]`; padding is `dilation * (kernel - 1) / 2` so the size is kept.
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Whether the convolution has a bias (U2-Net and UNet++ do; re-parameterisable branches don't).
    #[config(default = true)]
    pub bias: bool,
    /// Whether a ReLU follows the BatchNorm.
    #[config(default = true)]
    pub relu: bool,
}

/// `conv -> BatchNorm -> (ReLU)`, stride 1, spatial size preserved.
///
/// # Shapes
/// `[B, in_channels, H, W]` -> `[B, out_channels, H, W]`
#[derive(Module, Debug)]
pub struct ConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// The batch normalisation; `None` once folded into the conv ([`ConvBn::fuse`]).
    pub bn: Option<BatchNorm>,
    /// Whether a ReLU follows.
    #[module(skip)]
    pub relu: bool,
}

impl ConvBnConfig {
    /// Builds the layer.
    pub fn init(&self, device: &Device) -> ConvBn {
        assert!(
            self.kernel.iter().all(|k| k % 2 == 1),
            "ConvBn kernel must be odd to keep the size, got {:?}",
            self.kernel
        );
        let pad = [
            self.dilation[0] * (self.kernel[0] - 1) / 2,
            self.dilation[1] * (self.kernel[1] - 1) / 2,
        ];
        let conv = Conv2dConfig::new([self.in_channels, self.out_channels], self.kernel)
            .with_dilation(self.dilation)
            .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]))
            .with_bias(self.bias)
            .init(device);
        ConvBn {
            conv,
            bn: Some(BatchNormConfig::new(self.out_channels).init(device)),
            relu: self.relu,
        }
    }
}

impl ConvBn {
    /// Forward pass; see [`ConvBn`] for shapes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv_forward(x);
        #[cfg(feature = "flex")]
        if let Some(bn) = &self.bn
            && bn.training.is_enabled()
            && x.device().is_autodiff()
            && super::fast_bn::supported(&x.device())
        {
            return Self::fused_bn_train(bn, x, self.relu);
        }
        let x = match &self.bn {
            Some(bn) => bn.forward(x),
            None => x,
        };
        if self.relu {
            burn::tensor::activation::relu(x)
        } else {
            x
        }
    }

    /// Output channels.
    /// The convolution: on Flex our gemm-based stride-1 kernels (forward and both gradients),
    /// elsewhere burn's conv2d.
    fn conv_forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(&self.conv, x)
    }

    /// Training BatchNorm (+ ReLU) as one fused op on Flex, updating the running statistics
    /// exactly as burn's [`BatchNorm`] does (same momentum rule, biased batch variance).
    #[cfg(feature = "flex")]
    fn fused_bn_train(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
        let (y, mean, var) =
            super::fast_bn::bn_act_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon, relu);
        let m = bn.momentum;
        let running_mean = bn.running_mean.value_sync().mul_scalar(1.0 - m) + mean.mul_scalar(m);
        let running_var = bn.running_var.value_sync().mul_scalar(1.0 - m) + var.mul_scalar(m);
        bn.running_mean.update(running_mean.detach());
        bn.running_var.update(running_var.detach());
        y
    }

    pub fn out_channels(&self) -> usize {
        self.conv.weight.shape().dims::<4>()[0]
    }

    /// A conv with bias and no BatchNorm, from its weight `[out, in, kh, kw]` and bias `[out]`,
    /// at `dilation` with "same" padding.
    pub fn from_weights(
        weight: Tensor<4>,
        bias: Tensor<1>,
        dilation: [usize; 2],
        relu: bool,
    ) -> Self {
        let [o, i, kh, kw] = weight.dims();
        let mut layer = ConvBnConfig::new(i, o)
            .with_kernel([kh, kw])
            .with_dilation(dilation)
            .with_relu(relu)
            .init(&weight.device());
        layer.conv.weight = Param::from_tensor(weight);
        layer.conv.bias = Some(Param::from_tensor(bias));
        layer.bn = None;
        layer
    }

    /// The conv's bias, zeros when it has none.
    pub fn bias_or_zeros(&self) -> Tensor<1> {
        match &self.conv.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([self.out_channels()], &self.conv.weight.device()),
        }
    }

    /// Folds the BatchNorm's inference statistics into the conv: `bn(conv(x))` becomes one conv
    /// with weight `w * g / sqrt(var + eps)` and bias `beta + (b - mean) * g / sqrt(var + eps)`.
    /// The result computes the same function as this layer in inference mode.
    pub fn fuse(self) -> Self {
        let Some(bn) = &self.bn else {
            return self;
        };
        let o = self.out_channels();
        let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
        let bias = bn.beta.val() + (self.bias_or_zeros() - bn.running_mean.value()) * scale.clone();
        let weight = self.conv.weight.val() * scale.reshape([o, 1, 1, 1]);
        ConvBn::from_weights(weight, bias, self.conv.dilation, self.relu)
    }
}

impl Macs for ConvBn {
    fn macs(&self, [h, w]: [usize; 2], _form: Form) -> u64 {
        let [o, i, kh, kw] = self.conv.weight.shape().dims::<4>();
        (o * i * kh * kw) as u64 * (h * w) as u64
    }
}
