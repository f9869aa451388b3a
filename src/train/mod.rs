//! Burn: the third implementation of every kind, and the trainer's core.
//!
//! This is the only module that imports Burn. [`GrowingNca`] performs the same step as
//! [`crate::model::cpu`] and `shaders/growing.wgsl`, [`MnistNca`] the same as
//! [`crate::model::mnist`] and `shaders/mnist.wgsl`, with the same fire hash and noise, generic
//! over the backend so they run on `ndarray` (CPU) or `wgpu`, with or without autodiff.

pub mod checkpoint;
pub mod config;
pub mod mnist;
pub mod mnist_trainer;
pub mod model;
pub mod rng;
pub mod run;
pub mod teach;

/// Loss plots live outside the Burn module; re-exported for the trainer's callers.
pub use crate::plot;
pub mod trainer;
pub mod validate;

pub use config::{Retune, TrainConfig};
pub use mnist::{MnistBatch, MnistNca, noise_tensor, step_active_species};
pub use mnist_trainer::{MnistLoss, MnistTrainConfig, MnistTrainer};
pub use model::{GrowingNca, fire_mask};
pub use rng::Pcg32;
pub use run::{IterationStats, Run};
pub use trainer::Trainer;
