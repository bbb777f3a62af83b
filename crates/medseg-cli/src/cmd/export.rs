//! `medseg export`: write a weights file, optionally in the re-parameterised deploy form, or an
//! ONNX file of the deploy network; read medseg weights, a run folder, a pretrained model or an
//! official U-2-Net checkpoint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use medseg::infer::scale::ScaleReference;
use medseg::models::checkpoint::{is_pytorch_checkpoint, load_official};
use medseg::models::weights::{WeightsMeta, load_weights, load_weights_from_bytes, save_weights};
use medseg::models::{ModelName, SegNet};
use medseg::nn::Form;
use medseg::onnx::{DEFAULT_OPSET, OPSETS, OnnxOptions, to_onnx};

use crate::device::{DeviceKind, select_device};

/// Arguments of `medseg export`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("output").required(true).multiple(true).args(["out", "onnx"])))]
pub struct ExportArgs {
    /// A medseg weights file, a training run folder (its `model_best.safetensors`), or an
    /// official U-2-Net checkpoint (`u2net.pth`, `u2netp.pth`; with --model).
    #[arg(required_unless_present = "pretrained", conflicts_with = "pretrained")]
    pub input: Option<PathBuf>,
    /// A pretrained model embedded in this binary instead of a file (drive, stare, ph2, kvasir, jsrt).
    #[arg(long)]
    pub pretrained: Option<String>,
    /// The preset an official U-2-Net checkpoint is loaded into: u2net or u2netp.
    #[arg(long)]
    pub model: Option<String>,
    /// The weights file to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the deploy network as ONNX to this file: dynamic batch, height and width; input
    /// `image` (preprocessed), output `logits`; the weights' metadata in the metadata properties.
    #[arg(long, value_name = "FILE.onnx")]
    pub onnx: Option<PathBuf>,
    /// The ONNX opset (13 to 21).
    #[arg(long, default_value_t = DEFAULT_OPSET, requires = "onnx")]
    pub opset: i64,
    /// Add a `probabilities` output to the ONNX graph (the sigmoid of the logits).
    #[arg(long, requires = "onnx")]
    pub probabilities: bool,
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

/// The network and its metadata from the command's input.
fn load_input(
    args: &ExportArgs,
    device: &burn::prelude::Device,
) -> anyhow::Result<(PathBuf, SegNet, WeightsMeta)> {
    if let Some(name) = &args.pretrained {
        let origin = crate::pretrained::origin(name);
        let (net, meta) =
            load_weights_from_bytes(crate::pretrained::bytes(name)?, &origin, device)?;
        return Ok((origin, net, meta));
    }
    let input = args
        .input
        .clone()
        .expect("clap requires an input or --pretrained");
    let input = if input.is_dir() {
        input.join("model_best.safetensors")
    } else {
        input
    };
    if is_pytorch_checkpoint(&input) {
        let preset = match args.model.as_deref() {
            Some(m) => ModelName::parse(m)?,
            None => anyhow::bail!(
                "{}: a PyTorch checkpoint needs --model u2net or --model u2netp (the preset it is loaded into)",
                input.display()
            ),
        };
        let (net, meta) = load_official(&input, preset, device)?;
        return Ok((input, net, meta));
    }
    if args.model.is_some() {
        anyhow::bail!(
            "--model applies to PyTorch checkpoints only; {} is a medseg weights file",
            input.display()
        );
    }
    let (net, meta) = load_weights(&input, device)?;
    Ok((input, net, meta))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || (a.canonicalize().ok().is_some() && a.canonicalize().ok() == b.canonicalize().ok())
}

/// Runs `medseg export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    if !OPSETS.contains(&args.opset) {
        return Err(medseg::Error::InvalidConfig(format!(
            "--opset {} is not supported (choose {} to {})",
            args.opset,
            OPSETS.start(),
            OPSETS.end()
        ))
        .into());
    }
    let device = select_device(args.device)?;
    let (input, net, mut meta) = load_input(&args, &device)?;
    for out in [&args.out, &args.onnx].into_iter().flatten() {
        if same_file(out, &input) {
            anyhow::bail!(
                "the output must differ from the input ({})",
                input.display()
            );
        }
    }
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
    let gflops = |macs: u64| 2.0 * macs as f64 / 1e9;
    if let Some(out) = &args.out {
        let after = (net.trainable_params(), net.macs(size, Form::Train));
        save_weights(&net, &meta, out).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "{} -> {}{}: {} -> {} parameters, {:.2} -> {:.2} GFLOPs at 256x256",
            input.display(),
            out.display(),
            if meta.fused { " (deploy form)" } else { "" },
            before.0,
            after.0,
            gflops(before.1),
            gflops(after.1),
        );
    }
    if let Some(path) = &args.onnx {
        // ONNX always gets the deploy form.
        if !meta.fused {
            net = net.fuse();
            meta.fused = true;
        }
        let after = (net.trainable_params(), net.macs(size, Form::Train));
        let options = OnnxOptions {
            opset: args.opset,
            probabilities: args.probabilities,
        };
        let bytes = to_onnx(&net, &meta, options)?;
        medseg::durable::write_atomic(path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{} -> {} (ONNX opset {}, deploy form, {} parameters, {:.2} GFLOPs at 256x256, {:.1} MB)",
            input.display(),
            path.display(),
            args.opset,
            after.0,
            gflops(after.1),
            bytes.len() as f64 / 1e6
        );
    }
    Ok(())
}
