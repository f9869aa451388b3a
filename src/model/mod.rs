//! The NCA math and the weight formats, with no Bevy in sight.
//!
//! Everything else in the crate (the WGSL shader, the Burn trainer, the sandbox) is
//! checked against [`cpu`], the plain-Rust reference step, which is the ground truth.
//!
//! - [`spec`]: what a model is (kind, channel layout, hyper-parameters).
//! - [`fire`]: the deterministic stochastic-update hash shared by every backend.
//! - [`grid`]: the cell state, seeding and simple edits.
//! - [`perception`]: the Sobel kernels and their rotation.
//! - [`cpu`]: the reference step.
//! - [`weights`]: the `.safetensors` file format.
//! - [`import`]: converters from the published Distill formats.
//! - [`target`]: target images (thumbnail, premultiply, pad) and the RGBA loss.

pub mod cpu;
pub mod error;
pub mod eval;
pub mod fire;
pub mod grid;
pub mod import;
pub mod perception;
pub mod snapshot;
pub mod spec;
pub mod target;
pub mod weights;

pub use error::ModelError;
pub use grid::Grid;
pub use spec::{GrowingMode, ModelKind};
pub use weights::{GrowingWeights, NcaWeights};
