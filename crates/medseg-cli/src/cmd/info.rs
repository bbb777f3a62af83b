//! `medseg info`: parameters, FLOPs and output shapes of a model preset or of an experiment
//! config's network (its preset with its overrides).

use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::*;
use medseg::models::ModelName;
use medseg::nn::Form;
use medseg::train::ExperimentConfig;

/// Arguments of `medseg info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Model preset: u2net, u2netp, unet, unet-pp, unet-pp-ds, msa-u2net, msa-u2net-tiny,
    /// nested-u2net (formerly msa-u2net-plain), nested-u2net-wide.
    #[arg(long, value_parser = parse_model, required_unless_present = "config", conflicts_with = "config")]
    pub model: Option<ModelName>,
    /// An experiment config (TOML): its network, with its overrides and its preprocessing's
    /// channel count.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Set a key of the config, as `medseg train --set` does (e.g. `--set model.preset=unet`).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "config")]
    pub set: Vec<String>,
    /// Input shape CxHxW for the FLOPs count and output shapes [default: 3x256x256, or the
    /// config's channels x 256x256].
    #[arg(long, value_parser = parse_input)]
    pub input: Option<[usize; 3]>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_model(s: &str) -> Result<ModelName, String> {
    ModelName::parse(s).map_err(|e| e.to_string())
}

fn parse_input(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let bad = || format!("expected CxHxW with positive integers (e.g. 3x256x256), got '{s}'");
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = [0usize; 3];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = p.trim().parse().map_err(|_| bad())?;
        if *o == 0 {
            return Err(bad());
        }
    }
    Ok(out)
}

/// Runs `medseg info`.
pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let (name, config, [c, h, w]) = match &args.config {
        Some(path) => {
            let experiment = ExperimentConfig::load_with(path, &args.set)?;
            let config = experiment.model_config()?;
            let channels = experiment.data.preprocess.in_channels();
            let input = args.input.unwrap_or([channels, 256, 256]);
            if input[0] != channels {
                anyhow::bail!(
                    "--input has {} channels but {}'s preprocessing gives the network {channels}",
                    input[0],
                    path.display()
                );
            }
            (path.display().to_string(), config, input)
        }
        None => {
            // clap requires --model whenever --config is absent.
            let model = args.model.context("give --model NAME or --config FILE")?;
            let input = args.input.unwrap_or([3, 256, 256]);
            let config = model.config().with_in_channels(input[0]);
            (model.as_str().to_string(), config, input)
        }
    };
    let device = crate::device::select_device(crate::device::DeviceKind::Cpu)?;
    let net = config.init(&device).context("building the model")?;
    let params = net.trainable_params();
    let macs = net.macs([h, w], Form::Deploy);
    let macs_train = net.macs([h, w], Form::Train);
    let out = net.forward(Tensor::<4>::zeros([1, c, h, w], &device));
    let fused = out.fused.dims();
    let sides: Vec<[usize; 4]> = out.sides.iter().map(|s| s.dims()).collect();
    if args.json {
        let v = serde_json::json!({
            "model": name,
            "input": [1, c, h, w],
            "trainable_params": params,
            "macs": macs,
            "gflops": 2.0 * macs as f64 / 1e9,
            "macs_train_form": macs_train,
            "gflops_train_form": 2.0 * macs_train as f64 / 1e9,
            "outputs": { "fused": fused, "sides": sides },
            "config": config,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("model             {name}");
        println!("input             [1, {c}, {h}, {w}]");
        println!("trainable params  {params}");
        println!(
            "MACs              {macs} ({:.3} GMACs, deployed form)",
            macs as f64 / 1e9
        );
        println!(
            "FLOPs (2 x MACs)  {:.3} G deployed, {:.3} G as trained",
            2.0 * macs as f64 / 1e9,
            2.0 * macs_train as f64 / 1e9
        );
        println!("fused output      {fused:?}");
        println!(
            "side outputs      {} x {:?}",
            sides.len(),
            sides.first().copied().unwrap_or(fused)
        );
    }
    Ok(())
}
