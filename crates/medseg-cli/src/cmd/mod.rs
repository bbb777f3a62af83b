//! One module per subcommand: parse, validate, call the library, print.

pub mod bench;
pub mod compare;
pub mod data;
pub mod demo;
pub mod eval;
pub mod export;
pub mod info;
pub mod plan;
pub mod predict;
pub mod score;
pub mod serve;
pub mod synth;
pub mod train;

use std::path::Path;

use burn::tensor::Device;
use medseg::infer::Predictor;
use medseg::infer::scale::ScaleMode;

use crate::device::DeviceKind;

/// How `eval` and `predict` run the network.
#[derive(clap::Args, Debug)]
pub struct InferenceArgs {
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// Run the network as trained instead of re-parameterised (slower; same logits to 1e-4).
    #[arg(long)]
    pub no_fuse: bool,
    /// Test-time augmentation: average the predictions of the image and its three flips
    /// (four times slower).
    #[arg(long)]
    pub tta: bool,
    /// Scale normalisation: `auto` resamples each image so that its field of view matches the
    /// training images' (when the weights carry that reference), `none` never resamples, a
    /// number resamples every image by that factor (0.5 halves each side). Masks and metrics
    /// stay at the original size.
    #[arg(long, default_value = "auto", value_parser = parse_scale)]
    pub scale: ScaleMode,
}

fn parse_scale(s: &str) -> Result<ScaleMode, String> {
    s.parse().map_err(|e: medseg::Error| e.to_string())
}

impl InferenceArgs {
    /// Loads weights for inference as these options ask (fused unless `--no-fuse`, mirrored
    /// with `--tta`).
    pub fn load(&self, weights: &Path, device: &Device) -> medseg::Result<Predictor> {
        let predictor = Predictor::load_with(weights, device, !self.no_fuse)?;
        Ok(self.configure(predictor))
    }

    /// Loads a pretrained model embedded in the binary, as [`InferenceArgs::load`] does a file.
    pub fn load_pretrained(&self, name: &str, device: &Device) -> anyhow::Result<Predictor> {
        let predictor = crate::pretrained::load(name, device, !self.no_fuse)?;
        Ok(self.configure(predictor))
    }

    /// A predictor for an official U-2-Net checkpoint loaded into `preset` (`--model`).
    pub fn load_official(
        &self,
        path: &Path,
        preset: Option<&str>,
        device: &Device,
    ) -> anyhow::Result<Predictor> {
        let Some(preset) = preset else {
            anyhow::bail!(
                "{}: a PyTorch checkpoint needs --model u2net or --model u2netp (the preset it is loaded into)",
                path.display()
            );
        };
        let preset = medseg::models::ModelName::parse(preset)?;
        let (net, meta) = medseg::models::checkpoint::load_official(path, preset, device)?;
        Ok(self.configure(Predictor::new(net, meta, device, !self.no_fuse)))
    }

    fn configure(&self, mut predictor: Predictor) -> Predictor {
        predictor.meta.tiling.mirror |= self.tta;
        predictor.scale = self.scale;
        predictor
    }
}
