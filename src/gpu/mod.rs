//! The render-world side: model buffers, pipelines, per-grid buffers, dispatch and readback.
//!
//! Every kind runs through the same machinery; a kind only brings its shader (`update`,
//! `commit`, `apply_edits`, `display`, `labels`) and its weights block layout. The metrics
//! shader (`shaders/metrics.wgsl`) is shared: it reads the `labels` pass's words.
//!
//! Frame flow (render world):
//! 1. `extract_grids` copies each grid's [`GridFramePlan`](crate::sim::GridFramePlan).
//! 2. `prepare_grid_buffers` (`PrepareResources`) (re)creates buffers only when a size, kind or
//!    model changed, and writes the small per-frame data: step params, the edit queue and its
//!    payload; `prepare_grid_bind_groups` (`PrepareBindGroups`) rebuilds bind groups only when
//!    a buffer or the display texture changed.
//! 3. `dispatch_grids` (in the `RenderGraph` schedule, before the cameras draw) records, with
//!    the grid's kind's pipelines: edits, then per step `update` + `commit`, then `display`, then
//!    `labels` and the readback copy. A metrics readback clears the region sums, runs
//!    `labels`, `measure_cells` and `measure_loss`, copies the sums out and keeps the state as
//!    the one the next reduction measures the update against.
//! 4. `map_readbacks` (cleanup) maps readback buffers and sends results to the main world.

mod dispatch;
mod extract;
mod model_buffer;
mod pipeline;
mod prepare;
mod readback;
pub mod shaders;
pub mod types;

pub use model_buffer::GpuNcaModel;
pub use pipeline::{KindPipelines, NcaPipelines};
pub use prepare::SkipGridFrames;

use bevy::core_pipeline::schedule::camera_driver;
use bevy::prelude::*;
use bevy::render::render_asset::RenderAssetPlugin;
use bevy::render::renderer::RenderGraph;
use bevy::render::{ExtractSchedule, Render, RenderApp, RenderStartup, RenderSystems};

use crate::sim::{GpuStatus, GridSnapshots};

/// Render-world systems of the NCA, in frame order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum GpuSystems {
    /// Grid plans are copied from the main world.
    Extract,
    /// Buffers and per-frame data are prepared.
    PrepareResources,
    /// Bind groups are (re)built where a buffer or texture changed.
    Prepare,
    /// Compute passes are recorded.
    Dispatch,
    /// Readback buffers are mapped after submission.
    Readback,
}

/// Runs NCA grids on the GPU: the render-world half. Most apps want [`NcaPlugin`], which adds
/// both halves; this one alone still works (it brings the shared resources it needs).
pub struct NcaGpuPlugin;

/// Both worlds of the NCA: [`crate::sim::SimPlugin`] (grids, models, frame plans) and
/// [`NcaGpuPlugin`] (buffers, pipelines, dispatch, readback). Needs Bevy's render plugins.
pub struct NcaPlugin;

impl Plugin for NcaPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((crate::sim::SimPlugin, NcaGpuPlugin));
    }
}

impl Plugin for NcaGpuPlugin {
    fn build(&self, app: &mut App) {
        // Shared with the main world; present even when SimPlugin was left out, so `finish`
        // can hand them to the render world.
        app.init_resource::<GpuStatus>().init_resource::<GridSnapshots>();
        let shaders = {
            let mut assets = app.world_mut().resource_mut::<Assets<bevy::shader::Shader>>();
            shaders::NcaShaders::add_to(&mut assets)
        };
        app.insert_resource(shaders.clone());
        app.add_plugins(RenderAssetPlugin::<GpuNcaModel>::default());
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .insert_resource(shaders)
            .init_resource::<prepare::CachedGrids>()
            .init_resource::<prepare::DeferredPlans>()
            .init_resource::<prepare::SkipGridFrames>()
            .init_resource::<readback::PendingReadbacks>()
            .configure_sets(Render, GpuSystems::PrepareResources.in_set(RenderSystems::PrepareResources))
            .configure_sets(Render, GpuSystems::Prepare.in_set(RenderSystems::PrepareBindGroups))
            .configure_sets(Render, GpuSystems::Readback.in_set(RenderSystems::Cleanup))
            .configure_sets(RenderGraph, GpuSystems::Dispatch.before(camera_driver))
            .add_systems(RenderStartup, pipeline::init_pipelines)
            .add_systems(ExtractSchedule, extract::extract_grids.in_set(GpuSystems::Extract))
            .add_systems(Render, prepare::prepare_grid_buffers.in_set(GpuSystems::PrepareResources))
            .add_systems(Render, (pipeline::check_pipelines, prepare::prepare_grid_bind_groups).chain().in_set(GpuSystems::Prepare))
            .add_systems(RenderGraph, dispatch::dispatch_grids.in_set(GpuSystems::Dispatch))
            .add_systems(Render, readback::map_readbacks.in_set(GpuSystems::Readback));
    }

    fn finish(&self, app: &mut App) {
        let status = app.world_mut().get_resource_or_init::<GpuStatus>().clone();
        let sender = app.world_mut().get_resource_or_init::<GridSnapshots>().sender();
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app.insert_resource(status).insert_resource(readback::ReadbackSender(sender));
        }
    }
}
