//! The main-world side of the simulation: grid entities, their model assets, edits, and the
//! per-frame plan that tells the render world what to compute.
//!
//! Nothing here touches wgpu. Each frame, [`plan_frames`] turns a grid's settings and queued
//! edits into a [`GridFramePlan`] (edits, then `steps` steps starting at `first_step`), which
//! the render world extracts and executes exactly. The step counter therefore always equals
//! the number of steps the GPU has run, and a rerun with the same seed and edits gives the
//! same trajectory.

pub mod display;
mod grid;
mod model_asset;
pub mod playback;
pub mod readback;

pub use display::GridDisplay;
pub use grid::{CaGrid, GridEdits, GridFramePlan, GridStateUpload};
pub use model_asset::{NcaModel, NcaModelLoader, NcaModelLoaderError};
pub use playback::{FollowsPlayback, Playback, PlaybackPlugin, Speed};
pub use readback::{
    GridMetricRegions, GridSnapshot, GridSnapshots, LabelSnapshot, MetricSnapshot, Readback, ReadbackKind, ReadbackRequest, ReadbackResult,
};

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy::prelude::*;

/// System sets of the simulation, in frame order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SimSystems {
    /// Input and tools push edits into [`GridEdits`] (in `Update`).
    Edit,
    /// Readbacks that arrived from the GPU are published (in `PreUpdate`).
    Receive,
    /// The transport controls set this frame's steps (in `PostUpdate`, before `Plan`).
    Playback,
    /// Scripts (a playing scenario, a recording) adjust and read the frame's steps and edits
    /// (in `PostUpdate`, between `Playback` and `Plan`).
    Script,
    /// Plans are built from settings and queued edits (in `PostUpdate`, last).
    Plan,
}

/// Whether the render world can run NCA work. Shared by both worlds; set by the render world
/// once every NCA pipeline compiled, or with the error if one failed.
#[derive(Resource, Clone, Default)]
pub struct GpuStatus(Arc<GpuStatusInner>);

#[derive(Default)]
struct GpuStatusInner {
    ready: AtomicBool,
    error: Mutex<Option<String>>,
}

impl GpuStatus {
    /// True once the pipelines are compiled.
    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::Acquire)
    }

    /// The pipeline error, if compiling failed.
    pub fn error(&self) -> Option<String> {
        self.0.error.lock().ok().and_then(|e| e.clone())
    }

    /// Called by the render world.
    pub fn set_ready(&self) {
        self.0.ready.store(true, Ordering::Release);
    }

    /// Called by the render world.
    pub fn set_error(&self, message: String) {
        if let Ok(mut e) = self.0.error.lock() {
            e.get_or_insert(message);
        }
    }
}

/// Draws every grid as a sprite (windowed apps; headless tools leave it out).
pub struct GridViewPlugin;

impl Plugin for GridViewPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PostUpdate, display::attach_displays.before(SimSystems::Plan));
    }
}

/// Registers grids, model assets and frame planning. Pair with [`crate::gpu::NcaGpuPlugin`].
pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.init_asset::<NcaModel>()
            .init_asset_loader::<NcaModelLoader>()
            .init_resource::<GpuStatus>()
            .init_resource::<GridSnapshots>()
            .configure_sets(PostUpdate, (SimSystems::Playback, SimSystems::Script, SimSystems::Plan).chain())
            .configure_sets(Update, SimSystems::Edit)
            .configure_sets(PreUpdate, SimSystems::Receive)
            .add_systems(PreUpdate, readback::receive_readbacks.in_set(SimSystems::Receive))
            .add_systems(PostUpdate, grid::plan_frames.in_set(SimSystems::Plan));
    }
}
