//! `medseg`: a thin command-line front end over the `medseg` library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod device;

/// 2D medical image segmentation: MSA-U2Net and baselines, training, evaluation and scoring.
#[derive(Parser, Debug)]
#[command(name = "medseg", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the whole tool on synthetic data: generate, train, evaluate, predict, report.
    Demo(cmd::demo::DemoArgs),
    /// Measure training throughput, tiled inference time and peak memory (synthetic inputs).
    Bench(cmd::bench::BenchArgs),
    /// Print a model's parameters, FLOPs and output shapes.
    Info(cmd::info::InfoArgs),
    /// Score saved probability maps against ground-truth masks.
    Score(cmd::score::ScoreArgs),
    /// Dataset tools (check a dataset tree).
    #[command(subcommand)]
    Data(cmd::data::DataCmd),
    /// Train a model from an experiment config (TOML).
    Train(cmd::train::TrainArgs),
    /// Evaluate a trained model on a dataset split (metrics and pictures).
    Eval(cmd::eval::EvalArgs),
    /// Segment images with a weights file or a pretrained model.
    Predict(cmd::predict::PredictArgs),
    /// Generate a procedural dataset (vessels or lesions) in an official layout.
    Synth(cmd::synth::SynthArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Info(args) => cmd::info::run(args),
        Cmd::Bench(args) => cmd::bench::run(args),
        Cmd::Demo(args) => cmd::demo::run(args),
        Cmd::Score(args) => cmd::score::run(args),
        Cmd::Data(args) => cmd::data::run(args),
        Cmd::Synth(args) => cmd::synth::run(args),
        Cmd::Train(args) => cmd::train::run(args),
        Cmd::Eval(args) => cmd::eval::run(args),
        Cmd::Predict(args) => cmd::predict::run(args),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
