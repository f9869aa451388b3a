//! Burn: the third implementation of the growing NCA, and the trainer's core.
//!
//! This is the only module that imports Burn. [`GrowingNca`] performs the same step as
//! [`crate::model::cpu`] and `shaders/nca_step.wgsl`, with the same fire hash, generic over the
//! backend so it can run on `ndarray` (CPU) or `wgpu`, with or without autodiff.

pub mod checkpoint;
pub mod config;
pub mod model;
pub mod plot;
pub mod rng;
pub mod trainer;

pub use config::{Retune, TrainConfig};
pub use rng::Pcg32;
pub use model::{GrowingNca, fire_mask};
pub use trainer::{IterationStats, Trainer};
