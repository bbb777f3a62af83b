//! The HTTP server behind `medseg serve`: an axum router over a shared, read-only set of
//! [`Model`]s. The page ([`page.html`](./page.html)) is compiled into the binary; the API is in
//! [`api`]; every failure is a JSON [`error::ApiError`].
//!
//! Resource bounds, all per server: a request is admitted only while fewer than
//! [`Limits::queue`] are in flight (else 503); its body is read up to
//! [`Limits::max_upload_bytes`] (else 413); at most [`Limits::jobs`] images are segmented at
//! once, each on blocking threads inside one rayon pool of the `--threads` size; and the whole
//! request (upload, wait and work) must finish within [`Limits::timeout`] (else 504). A
//! segmentation that overruns keeps its queue slot until it ends, so the queue bound also holds
//! for abandoned work.

mod api;
mod error;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use medseg::infer::Predictor;
use tokio::sync::Semaphore;

/// A model the server offers, by name.
pub struct Model {
    /// The name requests select it by (`?model=`).
    pub name: String,
    /// Where it came from: `pretrained` or `weights`.
    pub source: &'static str,
    /// The loaded network.
    pub predictor: Predictor,
}

impl Model {
    /// A model served under `name`.
    pub fn new(name: String, source: &'static str, predictor: Predictor) -> Self {
        Model {
            name,
            source,
            predictor,
        }
    }
}

/// The server's resource bounds (see the module docs).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_upload_bytes: u64,
    /// Largest decoded image in pixels.
    pub max_pixels: u64,
    /// Requests in flight at once.
    pub queue: usize,
    /// Images segmented at once.
    pub jobs: usize,
    /// Deadline of a request from its admission.
    pub timeout: Duration,
}

/// What every request handler shares.
struct AppState {
    models: Vec<Model>,
    limits: Limits,
    queue: Arc<Semaphore>,
    jobs: Arc<Semaphore>,
    pool: rayon::ThreadPool,
}

/// A configured server, ready to bind.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// A server for `models` (at least one; unique names) whose segmentations run in a pool of
    /// `threads` threads.
    pub fn new(models: Vec<Model>, limits: Limits, threads: usize) -> anyhow::Result<Self> {
        if models.is_empty() {
            anyhow::bail!("no model to serve");
        }
        for (i, m) in models.iter().enumerate() {
            if models[..i].iter().any(|o| o.name == m.name) {
                anyhow::bail!(
                    "two models are named '{}': rename one of the weights files",
                    m.name
                );
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("medseg-infer-{i}"))
            .build()
            .context("starting the inference threads")?;
        Ok(Server {
            state: Arc::new(AppState {
                queue: Arc::new(Semaphore::new(limits.queue)),
                jobs: Arc::new(Semaphore::new(limits.jobs)),
                models,
                limits,
                pool,
            }),
        })
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/", get(api::page))
            .route("/healthz", get(api::health))
            .route("/v1/models", get(api::models))
            .route("/v1/segment", post(api::segment))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::not_found)
            // The segment handler reads and bounds the body itself (JSON 413s).
            .layer(DefaultBodyLimit::disable())
            .with_state(self.state.clone())
    }

    /// Binds `addr`, prints `listening on http://ADDR` on stdout and serves until Ctrl-C or
    /// SIGTERM.
    pub fn run(self, addr: SocketAddr) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(self.state.limits.jobs + 4)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let bound = listener.local_addr().context("reading the bound address")?;
            let names: Vec<&str> = self.state.models.iter().map(|m| m.name.as_str()).collect();
            {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "medseg serve: listening on http://{bound} (models: {})",
                    names.join(", ")
                )?;
                out.flush()?;
            }
            axum::serve(listener, self.router())
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving")
        })
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
