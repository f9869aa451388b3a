//! Bind group layouts and compute pipelines, queued once at render start-up: one set of
//! pipelines per model kind, all sharing one bind group layout, so a grid of any kind goes
//! through the same buffers, bind groups and dispatch code.

use std::borrow::Cow;
use std::num::NonZeroU64;

use bevy::prelude::*;
use bevy::render::render_resource::binding_types::{
    storage_buffer_read_only_sized, storage_buffer_sized, texture_storage_2d, uniform_buffer_sized,
};
use bevy::render::render_resource::{
    BindGroupLayoutDescriptor, BindGroupLayoutEntries, CachedComputePipelineId, CachedPipelineState, ComputePipelineDescriptor,
    PipelineCache, ShaderStages, StorageTextureAccess, TextureFormat,
};
use bevy::shader::ShaderCacheError;

use super::shaders::NcaShaders;
use super::types::{GpuMetricParams, GpuStepParams};
use crate::model::ModelKind;
use crate::sim::GpuStatus;

/// Threads per workgroup side in every NCA shader (`@workgroup_size(8, 8, 1)`).
pub const WORKGROUP: u32 = 8;

/// A kind's pipelines: its shader's five entry points.
#[derive(Clone, Copy, Debug)]
pub struct KindPipelines {
    /// `update`: the step's first pass, state → scratch.
    pub update: CachedComputePipelineId,
    /// `commit`: the step's second pass, scratch → state.
    pub commit: CachedComputePipelineId,
    /// `apply_edits`: the frame's edit commands.
    pub edit: CachedComputePipelineId,
    /// `display`: state → display texture.
    pub display: CachedComputePipelineId,
    /// `labels`: each cell's label, for cheap readbacks.
    pub labels: CachedComputePipelineId,
}

impl KindPipelines {
    fn all(&self) -> [(&'static str, CachedComputePipelineId); 5] {
        [("update", self.update), ("commit", self.commit), ("apply_edits", self.edit), ("display", self.display), ("labels", self.labels)]
    }
}

/// The metrics shader's pipelines, shared by every kind.
#[derive(Clone, Copy, Debug)]
pub struct MetricPipelines {
    /// `measure_cells`: each living cell's sums into its regions.
    pub cells: CachedComputePipelineId,
    /// `measure_loss`: each placed target's squared error.
    pub loss: CachedComputePipelineId,
}

/// Layouts and pipeline ids of the NCA shaders.
#[derive(Resource)]
pub struct NcaPipelines {
    /// Group 0: params, state, scratch, weights (one block per species), aux (per-cell flags or
    /// labels), edits, species ids, edit payload.
    pub grid_layout: BindGroupLayoutDescriptor,
    /// Group 1 of the display pass: the output texture.
    pub display_layout: BindGroupLayoutDescriptor,
    /// Each kind's pipelines, in [`ModelKind::ALL`] order.
    pub kinds: Vec<(ModelKind, KindPipelines)>,
    /// Group 0 of the metrics passes: metric params, state, previous state, labels, regions,
    /// sums.
    pub metrics_layout: BindGroupLayoutDescriptor,
    /// The metrics passes.
    pub metrics: MetricPipelines,
}

impl NcaPipelines {
    /// The pipelines of `kind`.
    pub fn of(&self, kind: ModelKind) -> Option<&KindPipelines> {
        self.kinds.iter().find(|(k, _)| *k == kind).map(|(_, p)| p)
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
                (7, storage_buffer_read_only_sized(false, None)),
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
    let metrics_layout = BindGroupLayoutDescriptor::new(
        "nca_metrics_layout",
        &BindGroupLayoutEntries::with_indices(
            ShaderStages::COMPUTE,
            (
                (0, uniform_buffer_sized(false, NonZeroU64::new(std::mem::size_of::<GpuMetricParams>() as u64))),
                (1, storage_buffer_read_only_sized(false, None)),
                (2, storage_buffer_read_only_sized(false, None)),
                (3, storage_buffer_read_only_sized(false, None)),
                (4, storage_buffer_read_only_sized(false, None)),
                (5, storage_buffer_sized(false, None)),
            ),
        ),
    );
    let queue = |kind: ModelKind, shader: &Handle<bevy::shader::Shader>, entry: &'static str, layouts: Vec<BindGroupLayoutDescriptor>| {
        cache.queue_compute_pipeline(ComputePipelineDescriptor {
            label: Some(Cow::Owned(format!("nca_{kind}_{entry}"))),
            layout: layouts,
            shader: shader.clone(),
            entry_point: Some(Cow::Borrowed(entry)),
            ..default()
        })
    };
    let kinds = shaders
        .kinds
        .iter()
        .map(|(kind, shader)| {
            let grid = || vec![grid_layout.clone()];
            (
                *kind,
                KindPipelines {
                    update: queue(*kind, shader, "update", grid()),
                    commit: queue(*kind, shader, "commit", grid()),
                    edit: queue(*kind, shader, "apply_edits", grid()),
                    display: queue(*kind, shader, "display", vec![grid_layout.clone(), display_layout.clone()]),
                    labels: queue(*kind, shader, "labels", grid()),
                },
            )
        })
        .collect();
    let measure = |entry: &'static str| {
        cache.queue_compute_pipeline(ComputePipelineDescriptor {
            label: Some(Cow::Owned(format!("nca_metrics_{entry}"))),
            layout: vec![metrics_layout.clone()],
            shader: shaders.metrics.clone(),
            entry_point: Some(Cow::Borrowed(entry)),
            ..default()
        })
    };
    let metrics = MetricPipelines { cells: measure("measure_cells"), loss: measure("measure_loss") };
    commands.insert_resource(NcaPipelines { grid_layout, display_layout, kinds, metrics_layout, metrics });
}

/// Flips [`GpuStatus`] to ready once every pipeline compiled, or records the first error.
pub(crate) fn check_pipelines(pipelines: Option<Res<NcaPipelines>>, cache: Res<PipelineCache>, status: Res<GpuStatus>) {
    let Some(pipelines) = pipelines else { return };
    if status.is_ready() {
        return;
    }
    let mut ready = true;
    let metrics = [("measure_cells", pipelines.metrics.cells), ("measure_loss", pipelines.metrics.loss)];
    let every = pipelines
        .kinds
        .iter()
        .flat_map(|(kind, p)| p.all().into_iter().map(move |(name, id)| (kind.to_string(), name, id)))
        .chain(metrics.into_iter().map(|(name, id)| ("metrics".to_string(), name, id)));
    for (kind, name, id) in every {
        match cache.get_compute_pipeline_state(id) {
            CachedPipelineState::Ok(_) => {}
            CachedPipelineState::Err(ShaderCacheError::ShaderNotLoaded(_) | ShaderCacheError::ShaderImportNotYetAvailable) => ready = false,
            CachedPipelineState::Err(err) => {
                let message = format!("NCA pipeline '{kind} {name}' failed to compile: {err}");
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
