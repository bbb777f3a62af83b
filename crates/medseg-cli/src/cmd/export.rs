//! `medseg export`: write a weights file, optionally in the re-parameterised deploy form.

use std::path::PathBuf;

use anyhow::Context;
use burn::module::Module;
use medseg::infer::scale::ScaleReference;
use medseg::models::weights::{load_weights, save_weights};
use medseg::nn::Form;

use crate::device::{DeviceKind, select_device};

/// Arguments of `medseg export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A medseg weights file, or a training run folder (its `model_best.safetensors`).
    pub input: PathBuf,
    /// The weights file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Re-parameterise for inference: fold every BatchNorm into its conv and merge the parallel
    /// branches of each conv unit (ACNet-style). Same logits, fewer operations; inference only.
    #[arg(long)]
    pub fuse: bool,
    /// Set the scale reference stored with the weights: the training images' median FOV
    /// diameter in pixels (`medseg data check` prints it), `WxH` for a model trained on images
    /// resized to that size, or `none` to remove it. Weights trained by this medseg already
    /// carry one.
    #[arg(long, value_name = "PIXELS|WxH|none", value_parser = parse_reference)]
    pub scale_reference: Option<Reference>,
    /// Device the network is loaded on and re-parameterised on.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

/// A `--scale-reference` value.
#[derive(Clone, Copy, Debug)]
pub enum Reference {
    None,
    Pixels(f64),
    Size([u32; 2]),
}

fn parse_reference(s: &str) -> Result<Reference, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Reference::None);
    }
    if let Some((w, h)) = s.split_once('x')
        && let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>())
        && w > 0
        && h > 0
    {
        return Ok(Reference::Size([w, h]));
    }
    match s.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 1.0 => Ok(Reference::Pixels(p)),
        _ => Err(format!(
            "expected a diameter in pixels (>= 1), WxH or `none`, got '{s}'"
        )),
    }
}

/// Runs `medseg export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let input = if args.input.is_dir() {
        args.input.join("model_best.safetensors")
    } else {
        args.input.clone()
    };
    if args.out == input {
        anyhow::bail!("--out must differ from the input ({})", input.display());
    }
    let device = select_device(args.device)?;
    let (net, mut meta) = load_weights(&input, &device)?;
    let mut net = net.valid();
    let size = [256, 256];
    let before = (net.trainable_params(), net.macs(size, Form::Train));
    if let Some(r) = args.scale_reference {
        meta.scale_reference = match r {
            Reference::None => None,
            Reference::Pixels(p) => Some(ScaleReference::FovDiameter(p)),
            Reference::Size(size) => Some(ScaleReference::ImageSize(size)),
        };
    }
    if args.fuse && !meta.fused {
        net = net.fuse();
        meta.fused = true;
    }
    let after = (net.trainable_params(), net.macs(size, Form::Train));
    save_weights(&net, &meta, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let gflops = |macs: u64| 2.0 * macs as f64 / 1e9;
    println!(
        "{} -> {}{}: {} -> {} parameters, {:.2} -> {:.2} GFLOPs at 256x256",
        input.display(),
        args.out.display(),
        if meta.fused { " (deploy form)" } else { "" },
        before.0,
        after.0,
        gflops(before.1),
        gflops(after.1),
    );
    Ok(())
}
