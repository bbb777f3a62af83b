//! Training: experiment configuration, learning-rate schedules, atomic checkpoints and the loop.

pub mod checkpoint;
pub mod config;
pub mod plan;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use config::ExperimentConfig;
pub use trainer::{EpochRecord, TrainObserver, TrainOptions, TrainSummary, train};
