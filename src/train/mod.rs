//! Burn: the third implementation of the growing NCA, and (next) the trainer.
//!
//! This is the only module that imports Burn. [`GrowingNca`] performs the same step as
//! [`crate::model::cpu`] and `shaders/nca_step.wgsl`, with the same fire hash, generic over the
//! backend so it can run on `ndarray` (CPU) or `wgpu`, with or without autodiff.

pub mod model;

pub use model::{GrowingNca, fire_mask};
