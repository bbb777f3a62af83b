//! `medseg`: a thin command-line front end over the `medseg` library.

use std::num::NonZeroUsize;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod device;
mod pretrained;
mod serve;

/// 2D medical image segmentation: MSA-U2Net and baselines, training, evaluation and scoring.
#[derive(Parser, Debug)]
#[command(name = "medseg", version, about, long_about = None)]
struct Cli {
    /// Worker threads for the CPU backend (default: every core). Work runs inside one pool of
    /// this size, so no thread sits idle beside it.
    #[arg(long, global = true, env = "MEDSEG_THREADS")]
    threads: Option<NonZeroUsize>,
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
    /// Compare two training recipes over several runs each: spread over seeds, paired test
    /// over test images, verdict.
    Compare(cmd::compare::CompareArgs),
    /// Dataset tools: check, fingerprint, resample.
    #[command(subcommand)]
    Data(cmd::data::DataCmd),
    /// Plan a training config for a dataset: from its fingerprint and this machine's speed,
    /// fitted to a time budget.
    Plan(cmd::plan::PlanArgs),
    /// Train a model from an experiment config (TOML).
    Train(cmd::train::TrainArgs),
    /// Evaluate a trained model on a dataset split (metrics and pictures).
    Eval(cmd::eval::EvalArgs),
    /// Segment images with a weights file or a pretrained model.
    Predict(cmd::predict::PredictArgs),
    /// Serve a local web page and HTTP API that segment uploaded images.
    Serve(cmd::serve::ServeArgs),
    /// Write a weights file, optionally re-parameterised for fast inference (`--fuse`).
    Export(cmd::export::ExportArgs),
    /// Generate a procedural dataset (vessels or lesions) in an official layout.
    Synth(cmd::synth::SynthArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Info(args) => cmd::info::run(args),
        Cmd::Bench(args) => cmd::bench::run(args),
        Cmd::Demo(args) => cmd::demo::run(args),
        Cmd::Score(args) => cmd::score::run(args),
        Cmd::Compare(args) => cmd::compare::run(args),
        Cmd::Data(args) => cmd::data::run(args),
        Cmd::Synth(args) => cmd::synth::run(args),
        Cmd::Plan(args) => cmd::plan::run(args),
        Cmd::Train(args) => cmd::train::run(args),
        Cmd::Eval(args) => cmd::eval::run(args),
        Cmd::Predict(args) => cmd::predict::run(args),
        Cmd::Export(args) => cmd::export::run(args),
        Cmd::Serve(args) => cmd::serve::run(args),
    }
}

/// Allocator settings for training-sized tensors (glibc): keep freed blocks of up to 32 MiB in
/// the heap instead of returning them to the OS after every step (which costs a page fault per
/// 4 KiB on the next step), and one arena per worker thread (at most 8), so that the workers'
/// per-sample scratch buffers do not queue on one arena's lock. With a single arena (our earlier
/// setting) two threads trained slower at the same peak memory (docs/lab-notes.md).
fn tune_allocator(threads: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; called once, before the worker
    // threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_ARENA_MAX, threads.clamp(1, 8) as libc::c_int);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = threads;
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
    let threads = cli
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    tune_allocator(threads);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: cannot start {threads} worker threads: {e}");
            return ExitCode::from(2);
        }
    };
    match pool.install(|| run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // A batch that finished with some inputs skipped (`predict --keep-going`).
        Err(e) if e.is::<cmd::predict::SomeFailed>() => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(argv: &[&str]) -> Option<usize> {
        Cli::try_parse_from(argv)
            .expect("arguments parse")
            .threads
            .map(NonZeroUsize::get)
    }

    /// A subcommand must not shadow the global pool size: a `--threads` default of 0 in
    /// `train` once propagated up and ran every training on one thread.
    #[test]
    fn thread_count_is_global_and_unset_by_default() {
        // SAFETY: the test reads MEDSEG_THREADS through clap; it only removes it.
        unsafe { std::env::remove_var("MEDSEG_THREADS") };
        for sub in [
            &["medseg", "train", "--config", "c.toml"][..],
            &[
                "medseg",
                "data",
                "check",
                "--dataset",
                "drive",
                "--root",
                "r",
            ],
            &["medseg", "bench"],
            &["medseg", "eval", "--run", "r"],
        ] {
            assert_eq!(threads(sub), None, "{sub:?}");
        }
        assert_eq!(
            threads(&["medseg", "train", "--threads", "2", "--config", "c"]),
            Some(2)
        );
        assert_eq!(threads(&["medseg", "--threads", "3", "bench"]), Some(3));
        assert!(Cli::try_parse_from(["medseg", "--threads", "0", "bench"]).is_err());
    }
}
