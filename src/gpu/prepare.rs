//! Per-grid GPU resources, created or rebuilt only when something they depend on changed.
//!
//! Two systems, in Bevy's two prepare phases: [`prepare_grid_buffers`] (`PrepareResources`)
//! creates or resizes buffers and writes the frame's small data (step parameters, edits, an
//! upload, weights after a swap); [`prepare_grid_bind_groups`] (`PrepareBindGroups`) rebuilds a
//! grid's bind groups only when one of their buffers or its display texture changed.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, Buffer, BufferBinding, BufferDescriptor, BufferId, BufferUsages, PipelineCache, TextureFormat, TextureId,
    TextureView, TextureViewDescriptor,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;

use super::extract::{ExtractedGrid, ExtractedGrids};
use super::model_buffer::GpuNcaModel;
use super::pipeline::NcaPipelines;
use super::readback::ReadbackSender;
use super::types::{GpuEdit, GpuMetricParams, GpuStepParams, gpu_edits, gpu_regions};
use crate::model::ModelKind;
use crate::model::scenario::reduce::{RegionLayout, SLOT_WORDS};
use crate::sim::{GridFramePlan, ReadbackKind, ReadbackResult};

/// One frame's plan as the GPU runs it: its edits (one params entry naming their range in the
/// edits buffer), then its steps (one params entry each).
#[derive(Clone, Debug, Default)]
pub struct WorkSegment {
    /// The params entry of the edits pass, if the plan had edits.
    pub edits_entry: Option<u32>,
    /// The params entries of the steps, in order.
    pub step_entries: std::ops::Range<u32>,
}

/// What `dispatch_grids` records for a grid this frame: the plans deferred from skipped frames,
/// in order, then this frame's.
#[derive(Clone, Debug, Default)]
pub struct FrameWork {
    /// The plans to run, oldest first.
    pub segments: Vec<WorkSegment>,
    /// The step counter after the last segment (what a readback reports).
    pub end_step: u32,
    /// Readback tag and what to copy.
    pub readback: Option<(u64, ReadbackKind)>,
    /// Whether to run the display pass.
    pub display: bool,
}

impl FrameWork {
    /// Whether there is anything to record.
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.edits_entry.is_none() && s.step_entries.is_empty()) && !self.display && self.readback.is_none()
    }
}

/// Frame plans the GPU could not run yet (a species' model was not on the GPU), by grid. They
/// run, in order, before the next plan that can: the main world has already counted their steps
/// and taken their edits, so dropping them would leave its step counter ahead of the state and
/// a replay would silently diverge.
#[derive(Resource, Default)]
pub struct DeferredPlans(pub HashMap<Entity, Vec<GridFramePlan>>);

/// The most plans kept for one grid while it cannot run; past this the grid is considered stuck
/// and its deferred work is dropped with an error.
const MAX_DEFERRED_PLANS: usize = 4096;

/// A test hook: while non-zero, every grid's frame is skipped as if its model were not on the
/// GPU yet, and the count goes down by one per frame.
#[derive(Resource, Default, Clone, Copy, Debug)]
pub struct SkipGridFrames(pub u32);

/// A grid's GPU resources.
pub struct CachedGrid {
    /// The kind of the grid's models: which pipelines run it.
    pub kind: ModelKind,
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Channels per cell.
    pub channels: u32,
    /// Current state (always holds the latest state between frames).
    pub state: Buffer,
    /// The other half of the ping-pong pair: the updated cells.
    pub scratch: Buffer,
    /// One word per cell: the step's flags, or the labels of a labels readback.
    pub aux: Buffer,
    /// Per-cell species ids.
    pub species: Buffer,
    /// One weights block per species.
    pub weights: Buffer,
    /// Species blocks `weights` can hold.
    pub weights_capacity: u32,
    /// Generations of the models whose blocks `weights` holds, by species id.
    pub weights_generations: Vec<u64>,
    /// Step params, one aligned entry per dispatch.
    pub params: Buffer,
    /// Entries `params` can hold.
    pub params_capacity: u32,
    /// Byte stride of a params entry (the device's dynamic-offset alignment).
    pub params_stride: u32,
    /// Edit commands.
    pub edits: Buffer,
    /// Entries `edits` can hold.
    pub edits_capacity: u32,
    /// The values edits carry (pen coverage, placed images).
    pub payload: Buffer,
    /// Floats `payload` can hold.
    pub payload_capacity: u32,
    /// Group 0 and the buffers it was built from.
    pub bind_group: Option<(BindGroup, [BufferId; 8])>,
    /// Group 1 of the display pass, its storage view, and the texture they were built for.
    pub display_bind_group: Option<(BindGroup, TextureView, TextureId)>,
    /// This frame's work.
    pub work: FrameWork,
    /// The metrics passes' resources, from the grid's first metrics readback on.
    pub metrics: Option<CachedMetrics>,
}

/// A grid's metrics resources: made at its first metrics readback, made again when its regions
/// change (which also forgets the previous state: the next update is measured against zero, as
/// the CPU reference's first is).
pub struct CachedMetrics {
    /// The regions they were made for (compared by pointer).
    pub layout: Arc<RegionLayout>,
    /// The metric params (uniform).
    pub params: Buffer,
    /// Partition, rectangles, target windows and targets, as `shaders/metrics.wgsl` reads them.
    pub regions: Buffer,
    /// [`SLOT_WORDS`] words per slot, cleared before each reduction.
    pub sums: Buffer,
    /// Bytes of `sums`.
    pub sums_bytes: u64,
    /// The state at the last metrics readback.
    pub previous: Buffer,
    /// Target windows, and the largest one's size: the loss pass's dispatch.
    pub windows: u32,
    /// See `windows`.
    pub largest_window: [u32; 2],
    /// Its group 0 and the buffers it was built from.
    pub bind_group: Option<(BindGroup, [BufferId; 6])>,
}

impl CachedMetrics {
    fn new(device: &RenderDevice, queue: &RenderQueue, layout: &Arc<RegionLayout>, kind: ModelKind, state_bytes: u64) -> Self {
        let (params, words, largest_window) = gpu_regions(layout, kind);
        let regions = storage(device, "nca_metric_regions", words.len() as u64 * 4, BufferUsages::empty());
        queue.write_buffer(&regions, 0, bytemuck::cast_slice(&words));
        let uniform = device.create_buffer(&BufferDescriptor {
            label: Some("nca_metric_params"),
            size: std::mem::size_of::<GpuMetricParams>() as u64,
            usage: BufferUsages::UNIFORM | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
        let sums_bytes = (layout.slots as u64 * SLOT_WORDS as u64 * 4).max(4);
        Self {
            layout: layout.clone(),
            params: uniform,
            regions,
            sums: storage(device, "nca_metric_sums", sums_bytes, BufferUsages::COPY_SRC),
            sums_bytes,
            previous: storage(device, "nca_metric_previous", state_bytes, BufferUsages::empty()),
            windows: params.window_count,
            largest_window,
            bind_group: None,
        }
    }

    fn buffer_ids(&self, state: &Buffer, labels: &Buffer) -> [BufferId; 6] {
        [self.params.id(), state.id(), self.previous.id(), labels.id(), self.regions.id(), self.sums.id()]
    }
}

/// GPU resources of every grid, by main-world entity.
#[derive(Resource, Default)]
pub struct CachedGrids(pub HashMap<Entity, CachedGrid>);

fn storage(device: &RenderDevice, label: &'static str, size: u64, extra: BufferUsages) -> Buffer {
    device.create_buffer(&BufferDescriptor {
        label: Some(label),
        size: size.max(16),
        usage: BufferUsages::STORAGE | BufferUsages::COPY_DST | extra,
        mapped_at_creation: false,
    })
}

fn uniform(device: &RenderDevice, size: u64) -> Buffer {
    device.create_buffer(&BufferDescriptor {
        label: Some("nca_step_params"),
        size,
        usage: BufferUsages::UNIFORM | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

impl CachedGrid {
    fn new(device: &RenderDevice, kind: ModelKind, width: u32, height: u32) -> Self {
        let channels = kind.channels() as u32;
        let cells = width as u64 * height as u64;
        let state_bytes = cells * channels as u64 * 4;
        let align = device.limits().min_uniform_buffer_offset_alignment;
        let params_stride = (std::mem::size_of::<GpuStepParams>() as u32).div_ceil(align) * align;
        Self {
            kind,
            width,
            height,
            channels,
            state: storage(device, "nca_state", state_bytes, BufferUsages::COPY_SRC),
            scratch: storage(device, "nca_scratch", state_bytes, BufferUsages::empty()),
            aux: storage(device, "nca_aux", cells * 4, BufferUsages::COPY_SRC),
            species: storage(device, "nca_species", cells * 4, BufferUsages::COPY_SRC),
            weights: storage(device, "nca_weights", kind.layout().species_stride as u64 * 4, BufferUsages::empty()),
            weights_capacity: 1,
            weights_generations: Vec::new(),
            params: uniform(device, params_stride as u64 * 4),
            params_capacity: 4,
            params_stride,
            edits: storage(device, "nca_edits", 8 * std::mem::size_of::<GpuEdit>() as u64, BufferUsages::empty()),
            edits_capacity: 8,
            payload: storage(device, "nca_edit_payload", 64 * 4, BufferUsages::empty()),
            payload_capacity: 64,
            bind_group: None,
            display_bind_group: None,
            work: FrameWork::default(),
            metrics: None,
        }
    }

    /// Bytes of the state buffer that hold cells.
    pub fn state_bytes(&self) -> u64 {
        self.width as u64 * self.height as u64 * self.channels as u64 * 4
    }

    fn buffer_ids(&self) -> [BufferId; 8] {
        [
            self.state.id(),
            self.scratch.id(),
            self.weights.id(),
            self.aux.id(),
            self.edits.id(),
            self.params.id(),
            self.species.id(),
            self.payload.id(),
        ]
    }
}

/// The models of a grid's species, if every one is on the GPU and they share one kind.
fn species_models<'a>(grid: &ExtractedGrid, models: &'a RenderAssets<GpuNcaModel>) -> Result<Vec<&'a GpuNcaModel>, String> {
    let species: Option<Vec<&GpuNcaModel>> = grid.species.iter().map(|id| models.get(*id)).collect();
    let species = species.filter(|s| !s.is_empty()).ok_or("a species' model is not on the GPU yet")?;
    match species.iter().find(|m| m.kind != species[0].kind) {
        None => Ok(species),
        Some(other) => Err(format!("species mix {} and {} models; a grid runs one kind", species[0].kind, other.kind)),
    }
}

/// Creates or resizes each grid's buffers and writes this frame's data into them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare_grid_buffers(
    extracted: Option<Res<ExtractedGrids>>,
    mut cached: ResMut<CachedGrids>,
    mut deferred: ResMut<DeferredPlans>,
    mut skip: ResMut<SkipGridFrames>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    models: Res<RenderAssets<GpuNcaModel>>,
    images: Res<RenderAssets<GpuImage>>,
    sender: Option<Res<ReadbackSender>>,
    mut reported: Local<bevy::platform::collections::HashSet<(Entity, String)>>,
) {
    let Some(extracted) = extracted else { return };
    cached.0.retain(|entity, _| extracted.0.iter().any(|g| g.entity == *entity));
    deferred.0.retain(|entity, _| extracted.0.iter().any(|g| g.entity == *entity));
    let answer = |id: u64, message: String| {
        if let Some(sender) = &sender {
            let _ = sender.0.send(ReadbackResult { id, snapshot: Err(message) });
        }
    };
    let fail = |grid: &ExtractedGrid, message: String, reported: &mut bevy::platform::collections::HashSet<(Entity, String)>| {
        if reported.insert((grid.entity, message.clone())) {
            error!("grid {:?}: {message}", grid.entity);
        }
        if let Some((id, _)) = grid.plan.readback {
            answer(id, message);
        }
    };
    let skipping = skip.0 > 0;
    skip.0 = skip.0.saturating_sub(1);

    for grid in &extracted.0 {
        let ready = if skipping { Err("frame skipped on request".to_string()) } else { species_models(grid, &models) };
        let species = match ready {
            Ok(species) => species,
            Err(message) => {
                // Mixed kinds are an error worth a line and end the grid's work; a model not yet
                // on the GPU is a passing state, and the frame's work waits for it.
                let backlog = deferred.0.entry(grid.entity).or_default();
                if message.contains("mix") {
                    if grid.plan.has_work() {
                        fail(grid, message, &mut reported);
                    }
                    backlog.clear();
                } else if grid.plan.has_work() {
                    if backlog.len() >= MAX_DEFERRED_PLANS {
                        error!("grid {:?}: {message} for {MAX_DEFERRED_PLANS} frames; its queued steps and edits are dropped", grid.entity);
                        backlog.clear();
                    }
                    debug!("grid {:?}: {message}, frame deferred", grid.entity);
                    backlog.push(grid.plan.clone());
                }
                if let Some(c) = cached.0.get_mut(&grid.entity) {
                    c.work = FrameWork::default();
                }
                continue;
            }
        };
        let kind = species[0].kind;
        let state_bytes = grid.width as u64 * grid.height as u64 * kind.channels() as u64 * 4;
        let limit = device.limits().max_storage_buffer_binding_size;
        if state_bytes > limit {
            let message = format!(
                "grid {}×{} needs {} MiB of state, more than this GPU binds at once ({} MiB)",
                grid.width,
                grid.height,
                state_bytes >> 20,
                limit >> 20
            );
            fail(grid, message, &mut reported);
            cached.0.remove(&grid.entity);
            deferred.0.remove(&grid.entity);
            continue;
        }
        let c = cached.0.entry(grid.entity).or_insert_with(|| CachedGrid::new(&device, kind, grid.width, grid.height));
        if (c.kind, c.width, c.height) != (kind, grid.width, grid.height) {
            *c = CachedGrid::new(&device, kind, grid.width, grid.height);
        }

        // The deferred plans, then this frame's; a plan made for another size or kind belongs to
        // a grid that no longer exists, and an upload makes everything before it moot.
        let mut plans = deferred.0.remove(&grid.entity).unwrap_or_default();
        plans.retain(|p| p.size == grid.plan.size && p.kind == grid.plan.kind);
        plans.push(grid.plan.clone());
        if let Some(last_upload) = plans.iter().rposition(|p| p.upload.is_some()) {
            plans.drain(..last_upload);
        }
        let mut readback = plans.iter().rev().find_map(|p| p.readback);
        for superseded in plans.iter().filter_map(|p| p.readback).filter(|r| Some(*r) != readback) {
            answer(superseded.0, "the frame of this readback was skipped; read again".into());
        }
        if let Some((id, ReadbackKind::Metrics)) = readback {
            // Regions already on the GPU were checked when they came; only new ones are.
            let known = |layout: &Arc<RegionLayout>| c.metrics.as_ref().is_some_and(|m| Arc::ptr_eq(&m.layout, layout));
            let checked = match grid.metrics.as_ref() {
                None => Err("this grid has no metric regions".to_string()),
                Some(layout) if known(layout) => Ok(None),
                Some(layout) if (layout.width, layout.height) != (grid.width, grid.height) => {
                    Err("the metric regions were laid out for another grid size".into())
                }
                Some(layout) => layout.check().map(|()| Some(layout)),
            };
            match checked {
                Ok(Some(layout)) => c.metrics = Some(CachedMetrics::new(&device, &queue, layout, kind, state_bytes)),
                Ok(None) => {}
                Err(message) => {
                    answer(id, message);
                    readback = None;
                }
            }
        }

        let mut base = GpuStepParams {
            width: grid.width,
            height: grid.height,
            seed: grid.seed,
            step: grid.plan.first_step,
            species_count: species.len() as u32,
            ..default()
        };
        base.set_sobel(&grid.sobel);
        if let Some(d) = &grid.display {
            base.background = [d.background[0], d.background[1], d.background[2], 1.0];
            base.view_mode = d.view.mode_code();
            base.view_channel = d.view.channel();
            base.set_class_colors(d.palette, d.hue_degrees);
        }
        let mut entries: Vec<GpuStepParams> = Vec::new();
        let mut edits = Vec::new();
        let mut segments = Vec::with_capacity(plans.len());
        for plan in &plans {
            let edits_entry = (!plan.edits.is_empty()).then(|| {
                entries.push(GpuStepParams {
                    step: plan.first_step,
                    edit_first: edits.len() as u32,
                    edit_count: plan.edits.len() as u32,
                    ..base
                });
                edits.extend(plan.edits.iter().cloned());
                entries.len() as u32 - 1
            });
            let first = entries.len() as u32;
            entries.extend((0..plan.steps).map(|i| GpuStepParams { step: plan.first_step.wrapping_add(i), ..base }));
            segments.push(WorkSegment { edits_entry, step_entries: first..entries.len() as u32 });
        }
        if entries.is_empty() {
            // The display and labels passes read the view settings from entry 0.
            entries.push(base);
        }
        let end_step = plans.last().map_or(grid.plan.first_step, |p| p.first_step.wrapping_add(p.steps));

        if entries.len() as u32 > c.params_capacity {
            c.params_capacity = (entries.len() as u32).next_power_of_two();
            c.params = uniform(&device, c.params_stride as u64 * c.params_capacity as u64);
        }
        let stride = c.params_stride as usize;
        let mut bytes = vec![0u8; stride * entries.len()];
        for (i, entry) in entries.iter().enumerate() {
            bytes[i * stride..i * stride + std::mem::size_of::<GpuStepParams>()].copy_from_slice(bytemuck::bytes_of(entry));
        }
        queue.write_buffer(&c.params, 0, &bytes);

        if !edits.is_empty() {
            let (commands, payload) = gpu_edits(&edits, grid.width as usize, grid.height as usize);
            let count = commands.len() as u32;
            if count > c.edits_capacity {
                c.edits_capacity = count.next_power_of_two();
                c.edits =
                    storage(&device, "nca_edits", c.edits_capacity as u64 * std::mem::size_of::<GpuEdit>() as u64, BufferUsages::empty());
            }
            queue.write_buffer(&c.edits, 0, bytemuck::cast_slice(&commands));
            if payload.len() as u32 > c.payload_capacity {
                c.payload_capacity = (payload.len() as u32).next_power_of_two();
                c.payload = storage(&device, "nca_edit_payload", c.payload_capacity as u64 * 4, BufferUsages::empty());
            }
            if !payload.is_empty() {
                queue.write_buffer(&c.payload, 0, bytemuck::cast_slice(&payload));
            }
        }
        if let Some(upload) = plans.first().filter(|p| p.upload.is_some()) {
            let data = upload.upload.as_ref().expect("filtered on an upload");
            queue.write_buffer(&c.state, 0, bytemuck::cast_slice(data.as_slice()));
            let zeros;
            let ids: &[u32] = match &upload.upload_species {
                Some(ids) => ids.as_slice(),
                None => {
                    zeros = vec![0u32; (grid.width * grid.height) as usize];
                    &zeros
                }
            };
            queue.write_buffer(&c.species, 0, bytemuck::cast_slice(ids));
        }

        // The weights buffer is rewritten only when a species is added, removed or hot-swapped.
        let generations: Vec<u64> = species.iter().map(|m| m.generation).collect();
        if generations != c.weights_generations {
            let stride = kind.layout().species_stride as u64;
            if species.len() as u32 > c.weights_capacity {
                c.weights_capacity = (species.len() as u32).next_power_of_two();
                c.weights = storage(&device, "nca_weights", c.weights_capacity as u64 * stride * 4, BufferUsages::empty());
            }
            let packed: Vec<f32> = species.iter().flat_map(|m| m.block.iter().copied()).collect();
            queue.write_buffer(&c.weights, 0, bytemuck::cast_slice(&packed));
            c.weights_generations = generations;
        }

        let display =
            grid.display.as_ref().and_then(|d| images.get(d.image)).is_some_and(|image| {
                image.texture_descriptor.size.width == grid.width && image.texture_descriptor.size.height == grid.height
            });
        c.work = FrameWork { segments, end_step, readback, display };
    }
}

/// Rebuilds a grid's bind groups when a buffer or its display texture changed.
pub(crate) fn prepare_grid_bind_groups(
    extracted: Option<Res<ExtractedGrids>>,
    mut cached: ResMut<CachedGrids>,
    device: Res<RenderDevice>,
    images: Res<RenderAssets<GpuImage>>,
    pipelines: Option<Res<NcaPipelines>>,
    cache: Res<PipelineCache>,
) {
    let (Some(extracted), Some(pipelines)) = (extracted, pipelines) else { return };
    for grid in &extracted.0 {
        let Some(c) = cached.0.get_mut(&grid.entity) else { continue };
        if let Some(m) = &mut c.metrics {
            let key = m.buffer_ids(&c.state, &c.aux);
            if m.bind_group.as_ref().is_none_or(|(_, k)| *k != key) {
                let layout = cache.get_bind_group_layout(&pipelines.metrics_layout);
                let group = device.create_bind_group(
                    "nca_metrics_bind_group",
                    &layout,
                    &BindGroupEntries::sequential((
                        m.params.as_entire_binding(),
                        c.state.as_entire_binding(),
                        m.previous.as_entire_binding(),
                        c.aux.as_entire_binding(),
                        m.regions.as_entire_binding(),
                        m.sums.as_entire_binding(),
                    )),
                );
                m.bind_group = Some((group, key));
            }
        }
        let key = c.buffer_ids();
        if c.bind_group.as_ref().is_none_or(|(_, k)| *k != key) {
            let layout = cache.get_bind_group_layout(&pipelines.grid_layout);
            let params_binding = BufferBinding {
                buffer: &c.params,
                offset: 0,
                size: std::num::NonZeroU64::new(std::mem::size_of::<GpuStepParams>() as u64),
            };
            let group = device.create_bind_group(
                "nca_grid_bind_group",
                &layout,
                &BindGroupEntries::with_indices((
                    (0, params_binding),
                    (1, c.state.as_entire_binding()),
                    (2, c.scratch.as_entire_binding()),
                    (3, c.weights.as_entire_binding()),
                    (4, c.aux.as_entire_binding()),
                    (5, c.edits.as_entire_binding()),
                    (6, c.species.as_entire_binding()),
                    (7, c.payload.as_entire_binding()),
                )),
            );
            c.bind_group = Some((group, key));
        }
        let Some(image) = grid.display.as_ref().and_then(|d| images.get(d.image)) else { continue };
        let texture_id = image.texture.id();
        if c.work.display && c.display_bind_group.as_ref().is_none_or(|(_, _, k)| *k != texture_id) {
            // Sprites sample the sRGB view; the shader writes the same bytes through a plain
            // unorm view (storage textures cannot be sRGB).
            let storage_view = image.texture.create_view(&TextureViewDescriptor {
                label: Some("nca_display_storage_view"),
                format: Some(TextureFormat::Rgba8Unorm),
                ..default()
            });
            let layout = cache.get_bind_group_layout(&pipelines.display_layout);
            let group = device.create_bind_group("nca_display_bind_group", &layout, &BindGroupEntries::single(&storage_view));
            c.display_bind_group = Some((group, storage_view, texture_id));
        }
    }
}
