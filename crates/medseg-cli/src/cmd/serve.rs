//! `medseg serve`: a local web page and HTTP API for segmenting images (see `docs/serve.md`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::InferenceArgs;
use crate::device::select_device;
use crate::serve::{Limits, Model, Server};

/// Arguments of `medseg serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A pretrained model embedded in this binary (drive, stare, ph2); repeat for several.
    /// Without `--pretrained` and `--weights`, all of them.
    #[arg(long)]
    pub pretrained: Vec<String>,
    /// A medseg weights file, served under its file stem; repeat for several.
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// Address to listen on. Only loopback addresses unless `--allow-remote`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Allow a non-loopback `--addr`: anyone who can reach it can use the server (no
    /// authentication, no TLS).
    #[arg(long)]
    pub allow_remote: bool,
    /// Largest request body in MiB (larger uploads get 413).
    #[arg(long, default_value_t = 64)]
    pub max_upload_mib: u64,
    /// Largest image in megapixels, checked from its header before decoding (larger get 413).
    #[arg(long, default_value_t = 40)]
    pub max_megapixels: u64,
    /// Requests admitted at once, running or waiting; one more gets 503.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub queue: u32,
    /// Images segmented at once (each uses the whole thread pool).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: u32,
    /// Seconds a request may take from admission to answer, upload included (then 504).
    #[arg(long, default_value_t = 60.0)]
    pub timeout_secs: f64,
    /// Defaults of every request (`--tta`, `--scale`; a request may override them) and how the
    /// models are loaded.
    #[command(flatten)]
    pub inference: InferenceArgs,
}

/// Runs `medseg serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    if !args.addr.ip().is_loopback() {
        if !args.allow_remote {
            anyhow::bail!(
                "--addr {} is not a loopback address: anyone who can reach it could use the \
                 server; pass --allow-remote to do so anyway",
                args.addr
            );
        }
        eprintln!(
            "warning: serving on {} without authentication or TLS: every host that can reach \
             it can upload images",
            args.addr
        );
    }
    if !(args.timeout_secs.is_finite() && args.timeout_secs > 0.0) {
        anyhow::bail!("--timeout-secs must be > 0, got {}", args.timeout_secs);
    }
    let device = select_device(args.inference.device)?;
    let mut models = Vec::new();
    let pretrained: Vec<String> = if args.pretrained.is_empty() && args.weights.is_empty() {
        crate::pretrained::names().map(String::from).collect()
    } else {
        args.pretrained.clone()
    };
    for name in &pretrained {
        let predictor = args.inference.load_pretrained(name, &device)?;
        models.push(Model::new(name.clone(), "pretrained", predictor));
    }
    for path in &args.weights {
        let predictor = args
            .inference
            .load(path, &device)
            .with_context(|| format!("loading {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("weights")
            .to_string();
        models.push(Model::new(name, "weights", predictor));
    }
    let limits = Limits {
        max_upload_bytes: args.max_upload_mib.saturating_mul(1 << 20),
        max_pixels: args.max_megapixels.saturating_mul(1_000_000),
        queue: args.queue as usize,
        jobs: args.jobs as usize,
        timeout: Duration::from_secs_f64(args.timeout_secs),
    };
    let server = Server::new(models, limits, rayon::current_num_threads())?;
    server.run(args.addr)
}
