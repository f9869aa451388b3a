//! Bind group layouts and compute pipelines, queued once at render start-up.

use std::borrow::Cow;
use std::num::NonZeroU64;

use bevy::prelude::*;
use bevy::render::render_resource::binding_types::{
    storage_buffer_read_only_sized, storage_buffer_sized, texture_storage_2d, uniform_buffer_sized,
};
use bevy::render::render_resource::{
    BindGroupLayoutDescriptor, BindGroupLayoutEntries, CachedComputePipelineId, CachedPipelineState,
    ComputePipelineDescriptor, PipelineCache, ShaderStages, StorageTextureAccess, TextureFormat,
};
use bevy::shader::ShaderCacheError;

use super::shaders::NcaShaders;
use super::types::GpuStepParams;
use crate::sim::GpuStatus;

/// Threads per workgroup side in every NCA shader (`@workgroup_size(8, 8, 1)`).
pub const WORKGROUP: u32 = 8;

/// Layouts and pipeline ids of the NCA shaders.
#[derive(Resource)]
pub struct NcaPipelines {
    /// Group 0: params, state, scratch, weights (one block per species), pre-alive flags,
    /// edits, species ids.
    pub grid_layout: BindGroupLayoutDescriptor,
    /// Group 1 of the display pass: the output texture.
    pub display_layout: BindGroupLayoutDescriptor,
    /// `nca_step.wgsl::update`.
    pub update: CachedComputePipelineId,
    /// `nca_step.wgsl::mask`.
    pub mask: CachedComputePipelineId,
    /// `nca_edit.wgsl::apply_edits`.
    pub edit: CachedComputePipelineId,
    /// `nca_display.wgsl::display`.
    pub display: CachedComputePipelineId,
}

impl NcaPipelines {
    fn all(&self) -> [(&'static str, CachedComputePipelineId); 4] {
        [("update", self.update), ("mask", self.mask), ("edit", self.edit), ("display", self.display)]
    }
}

pub(crate) fn init_pipelines(mut commands: Commands, cache: Res<PipelineCache>, shaders: Res<NcaShaders>) {
    let params_size = NonZeroU64::new(std::mem::size_of::<GpuStepParams>() as u64);
    let grid_layout = BindGroupLayoutDescriptor::new(
        "nca_grid_layout",
        &BindGroupLayoutEntries::with_indices(
            ShaderStages::COMPUTE,
            (
                (0, uniform_buffer_sized(true, params_size)),
                (1, storage_buffer_sized(false, None)),
                (2, storage_buffer_sized(false, None)),
                (3, storage_buffer_read_only_sized(false, None)),
                (4, storage_buffer_sized(false, None)),
                (5, storage_buffer_read_only_sized(false, None)),
                (6, storage_buffer_sized(false, None)),
            ),
        ),
    );
    let display_layout = BindGroupLayoutDescriptor::new(
        "nca_display_layout",
        &BindGroupLayoutEntries::single(
            ShaderStages::COMPUTE,
            texture_storage_2d(TextureFormat::Rgba8Unorm, StorageTextureAccess::WriteOnly),
        ),
    );
    let queue = |label: &'static str, shader: &Handle<bevy::shader::Shader>, entry: &'static str, layouts: Vec<BindGroupLayoutDescriptor>| {
        cache.queue_compute_pipeline(ComputePipelineDescriptor {
            label: Some(Cow::Borrowed(label)),
            layout: layouts,
            shader: shader.clone(),
            entry_point: Some(Cow::Borrowed(entry)),
            ..default()
        })
    };
    let update = queue("nca_update", &shaders.step, "update", vec![grid_layout.clone()]);
    let mask = queue("nca_mask", &shaders.step, "mask", vec![grid_layout.clone()]);
    let edit = queue("nca_edit", &shaders.edit, "apply_edits", vec![grid_layout.clone()]);
    let display = queue("nca_display", &shaders.display, "display", vec![grid_layout.clone(), display_layout.clone()]);
    commands.insert_resource(NcaPipelines { grid_layout, display_layout, update, mask, edit, display });
}

/// Flips [`GpuStatus`] to ready once every pipeline compiled, or records the first error.
pub(crate) fn check_pipelines(pipelines: Option<Res<NcaPipelines>>, cache: Res<PipelineCache>, status: Res<GpuStatus>) {
    let Some(pipelines) = pipelines else { return };
    if status.is_ready() {
        return;
    }
    let mut ready = true;
    for (name, id) in pipelines.all() {
        match cache.get_compute_pipeline_state(id) {
            CachedPipelineState::Ok(_) => {}
            CachedPipelineState::Err(
                ShaderCacheError::ShaderNotLoaded(_) | ShaderCacheError::ShaderImportNotYetAvailable,
            ) => ready = false,
            CachedPipelineState::Err(err) => {
                let message = format!("NCA pipeline '{name}' failed to compile: {err}");
                if status.error().is_none() {
                    error!("{message}");
                }
                status.set_error(message);
                ready = false;
            }
            _ => ready = false,
        }
    }
    if ready {
        status.set_ready();
    }
}
