//! # nca-sandbox
//!
//! Neural Cellular Automata that grow, break and regenerate live on the GPU, inside a Bevy app.
//!
//! ## Layout
//! - [`model`]: the NCA math and the weight formats, no Bevy. Its CPU step is the ground truth.
//! - [`sim`]: main-world ECS: grid entities, model assets, edits, per-frame plans, readback.
//! - [`gpu`]: render-world: model buffers, pipelines, per-grid buffers, compute dispatch.
//! - [`train`]: Burn: the growing NCA as a module, generic over the backend.
//! - [`library`]: the model library: files → assets, hot reload, drag-and-drop, load errors.
//! - [`scene`]: the sandbox's grid, its settings and the commands that change them.
//! - [`input`]: mouse, touch and keys → tool strokes → grid edits; camera pan and zoom.
//! - [`ui`]: the egui side panel and the brush-outline overlay.
//! - [`app`]: ready-made apps: the headless GPU runner and the sandbox window.
//! - [`cli`]: the `nca` command line.
//! - [`exhibit`]: installations: the installation file, the supervisor and its health endpoint,
//!   and the window's side of it.
//!
//! ## How the data flows
//! A person or tool pushes an [`model::grid::Edit`] into a grid's [`sim::GridEdits`]. At the
//! end of the frame, `plan_frames` moves the queue and the frame's step count into a
//! [`sim::GridFramePlan`] and advances the grid's step counter. The render world extracts the
//! plan, writes the edits and the per-step parameters into small buffers, and records compute
//! passes: edits, then `update` + `mask` per step (`shaders/nca_step.wgsl`), then `display`
//! into the grid's texture, which a sprite shows. Readbacks copy the state buffer and come
//! back through a channel into [`sim::GridSnapshots`]. The whole grid is never uploaded per
//! frame; the state stays on the GPU.
#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod exhibit;
pub mod gpu;
pub mod input;
pub mod library;
pub mod model;
pub mod platform;
pub mod plot;
pub mod scene;
pub mod sim;
pub mod train;
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;
