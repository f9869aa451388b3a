//! The NCA math and the weight formats, with no Bevy in sight.
//!
//! Everything else in the crate (the WGSL shader, the Burn trainer, the sandbox) is
//! checked against [`cpu`], the plain-Rust reference step, which is the ground truth.
//!
//! - [`kind`]: what each model kind declares (channels, life rule, edits, views).
//! - [`spec`]: the growing NCA's channel layout and hyper-parameters.
//! - [`fire`]: the deterministic fire hash and residual noise shared by every backend.
//! - [`files`]: what every loader and writer asks of a path (regular files, bounded reads,
//!   outputs judged before the work).
//! - [`grid`]: the cell state, seeding and edits.
//! - [`perception`]: the Sobel kernels and their rotation.
//! - [`cpu`]: the growing NCA's reference step.
//! - [`mnist`]: the self-classifying MNIST NCA: layout, reference step, edits, cell labels.
//! - [`mnist_eval`]: the paper's evaluation protocol on tiled test digits.
//! - [`idx`]: MNIST's idx files (gzipped or not).
//! - [`display`]: a grid as a picture, as the display shader draws it.
//! - [`digits`]: sample digits, scaling, chimeras, and the separate digits on a canvas.
//! - [`reference`]: one entry point to every kind's CPU step.
//! - [`weights`]: the `.safetensors` file format.
//! - [`import`]: converters from the published Distill formats.
//! - [`target`]: target images (thumbnail, premultiply, pad) and the RGBA loss.
//! - [`scenario`]: scenario files, their runs on any backend, and what the runs record.

pub mod cpu;
pub mod digits;
pub mod display;
pub mod error;
pub mod eval;
pub mod files;
pub mod fire;
pub mod grid;
pub mod idx;
pub mod import;
pub mod kind;
pub mod mnist;
pub mod mnist_eval;
pub mod perception;
pub mod reference;
pub mod scenario;
pub mod snapshot;
pub mod spec;
pub mod target;
pub mod weights;

pub use error::ModelError;
pub use grid::Grid;
pub use kind::{KindLayout, ModelKind, View};
pub use spec::GrowingMode;
pub use weights::{GrowingWeights, MnistWeights, NcaWeights};
