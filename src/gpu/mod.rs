//! The render-world side: model buffers, pipelines, per-grid buffers, dispatch and readback.
//!
//! Frame flow (render world):
//! 1. `extract_grids` copies each grid's [`GridFramePlan`](crate::sim::GridFramePlan).
//! 2. `prepare_grids` (re)creates buffers and bind groups only when a size, model or texture
//!    changed, and writes the small per-frame data: step params and the edit queue.
//! 3. `dispatch_grids` (in the `RenderGraph` schedule, before the cameras draw) records:
//!    upload, edits, then per step `update` + `mask`, then `display`, then the readback copy.
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
pub use pipeline::NcaPipelines;

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
    /// Buffers, bind groups and per-frame data are prepared.
    Prepare,
    /// Compute passes are recorded.
    Dispatch,
    /// Readback buffers are mapped after submission.
    Readback,
}

/// Runs NCA grids on the GPU. Needs [`crate::sim::SimPlugin`] and Bevy's render plugins.
pub struct NcaGpuPlugin;

impl Plugin for NcaGpuPlugin {
    fn build(&self, app: &mut App) {
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
            .init_resource::<readback::PendingReadbacks>()
            .configure_sets(Render, GpuSystems::Prepare.in_set(RenderSystems::PrepareBindGroups))
            .configure_sets(Render, GpuSystems::Readback.in_set(RenderSystems::Cleanup))
            .configure_sets(RenderGraph, GpuSystems::Dispatch.before(camera_driver))
            .add_systems(RenderStartup, pipeline::init_pipelines)
            .add_systems(ExtractSchedule, extract::extract_grids.in_set(GpuSystems::Extract))
            .add_systems(
                Render,
                (pipeline::check_pipelines, prepare::prepare_grids).chain().in_set(GpuSystems::Prepare),
            )
            .add_systems(RenderGraph, dispatch::dispatch_grids.in_set(GpuSystems::Dispatch))
            .add_systems(Render, readback::map_readbacks.in_set(GpuSystems::Readback));
    }

    fn finish(&self, app: &mut App) {
        let status = app.world().resource::<GpuStatus>().clone();
        let sender = app.world().resource::<GridSnapshots>().sender();
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app.insert_resource(status).insert_resource(readback::ReadbackSender(sender));
        }
    }
}
