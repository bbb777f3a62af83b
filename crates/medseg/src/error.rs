//! The library's one error type. Every variant names the file or value at fault.

use std::path::PathBuf;

/// Errors returned by the medseg library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the dataset layout requires is absent.
    #[error("missing file: {path}")]
    MissingFile { path: PathBuf },
    /// A folder does not have the expected layout.
    #[error("bad layout under {root}: expected {expected}")]
    BadLayout { root: PathBuf, expected: String },
    /// An image and its mask (or FOV) differ in size.
    #[error("size mismatch for {path}: image is {image:?} (w, h) but this file is {mask:?}")]
    ShapeMismatch {
        path: PathBuf,
        image: (u32, u32),
        mask: (u32, u32),
    },
    /// A file could not be decoded.
    #[error("cannot decode {path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    /// An image has more pixels than the decoder accepts (a guard against decompression bombs).
    #[error("{path}: a {width}x{height} image has more than the {limit_mp} megapixels accepted")]
    TooManyPixels {
        path: PathBuf,
        width: u32,
        height: u32,
        limit_mp: u64,
    },
    /// A mask holds values other than the allowed binary ones.
    #[error("non-binary mask {path}: {reason}")]
    NonBinaryMask { path: PathBuf, reason: String },
    /// A label map holds a value that is not a class id (`0..classes-1`).
    #[error(
        "bad label in {path}: value {value} is not a class id (the config lists {classes} classes, ids 0..{})",
        classes.saturating_sub(1)
    )]
    BadLabel {
        path: PathBuf,
        value: u32,
        classes: u32,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// An unknown name (model, dataset, preset) was asked for.
    #[error("unknown {kind} '{name}' (valid: {valid})")]
    Unknown {
        kind: &'static str,
        name: String,
        valid: String,
    },
    /// Any I/O failure, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Training diverged: the loss became NaN or infinite. The last checkpoint is kept.
    #[error(
        "the loss became NaN or infinite at epoch {epoch}, step {step}; the last good checkpoint in {run} is kept (lower the learning rate or enable optim.grad_clip, then --resume)"
    )]
    NonFinite {
        epoch: usize,
        step: usize,
        run: PathBuf,
    },
    /// The disk (or the file-size limit) is full: `path` could not be written. The file that
    /// was at `path` before, if any, is intact.
    #[error(
        "{path}: cannot write it, no space left ({source}); the earlier version of the file, if any, is intact: free some space and run again"
    )]
    DiskFull {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A run has checkpoints, but none is intact (every file or folder tried, with its fault).
    #[error("no intact checkpoint in {dir}: {reasons}")]
    NoIntactCheckpoint { dir: PathBuf, reasons: String },
    /// Inputs that cannot be combined (lengths, shapes).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// Result alias for the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
