//! Per-grid GPU resources, created or rebuilt only when something they depend on changed.
//!
//! Two systems, in Bevy's two prepare phases: [`prepare_grid_buffers`] (`PrepareResources`)
//! creates or resizes buffers and writes the frame's small data (step parameters, edits, an
//! upload, weights after a swap); [`prepare_grid_bind_groups`] (`PrepareBindGroups`) rebuilds a
//! grid's bind groups only when one of their buffers or its display texture changed.

use std::collections::HashMap;

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
use super::types::{GpuEdit, GpuStepParams, gpu_edits};
use crate::model::ModelKind;
use crate::sim::{ReadbackKind, ReadbackResult};

/// What `dispatch_grids` records for a grid this frame.
#[derive(Clone, Debug, Default)]
pub struct FrameWork {
    /// First step number.
    pub first_step: u32,
    /// Steps to run.
    pub steps: u32,
    /// Edits in the edit buffer.
    pub edit_count: u32,
    /// Readback tag and what to copy.
    pub readback: Option<(u64, ReadbackKind)>,
    /// Whether to run the display pass.
    pub display: bool,
}

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
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    models: Res<RenderAssets<GpuNcaModel>>,
    images: Res<RenderAssets<GpuImage>>,
    sender: Option<Res<ReadbackSender>>,
    mut reported: Local<bevy::platform::collections::HashSet<(Entity, String)>>,
) {
    let Some(extracted) = extracted else { return };
    cached.0.retain(|entity, _| extracted.0.iter().any(|g| g.entity == *entity));
    let fail = |grid: &ExtractedGrid, message: String, reported: &mut bevy::platform::collections::HashSet<(Entity, String)>| {
        if reported.insert((grid.entity, message.clone())) {
            error!("grid {:?}: {message}", grid.entity);
        }
        if let (Some((id, _)), Some(sender)) = (grid.plan.readback, &sender) {
            let _ = sender.0.send(ReadbackResult { id, snapshot: Err(message) });
        }
    };

    for grid in &extracted.0 {
        let species = match species_models(grid, &models) {
            Ok(species) => species,
            Err(message) => {
                if grid.plan.has_work() {
                    // Not yet loaded is a passing state; mixed kinds are an error worth a line.
                    if message.contains("mix") {
                        fail(grid, message, &mut reported);
                    } else {
                        warn!("grid {:?}: {message}, frame skipped", grid.entity);
                    }
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
            continue;
        }
        let c = cached.0.entry(grid.entity).or_insert_with(|| CachedGrid::new(&device, kind, grid.width, grid.height));
        if (c.kind, c.width, c.height) != (kind, grid.width, grid.height) {
            *c = CachedGrid::new(&device, kind, grid.width, grid.height);
        }

        let plan = &grid.plan;
        let entries = plan.steps.max(1);
        if entries > c.params_capacity {
            c.params_capacity = entries.next_power_of_two();
            c.params = uniform(&device, c.params_stride as u64 * c.params_capacity as u64);
        }
        let mut params = GpuStepParams {
            width: grid.width,
            height: grid.height,
            seed: grid.seed,
            step: plan.first_step,
            edit_count: plan.edits.len() as u32,
            species_count: species.len() as u32,
            ..default()
        };
        params.set_sobel(&grid.sobel);
        if let Some(d) = &grid.display {
            params.background = [d.background[0], d.background[1], d.background[2], 1.0];
            params.view_mode = d.view.mode_code();
            params.view_channel = d.view.channel();
            params.set_class_colors(d.palette, d.hue_degrees);
        }
        let stride = c.params_stride as usize;
        let mut bytes = vec![0u8; stride * entries as usize];
        for i in 0..entries {
            params.step = plan.first_step.wrapping_add(i);
            let at = i as usize * stride;
            bytes[at..at + std::mem::size_of::<GpuStepParams>()].copy_from_slice(bytemuck::bytes_of(&params));
        }
        queue.write_buffer(&c.params, 0, &bytes);

        if !plan.edits.is_empty() {
            let (commands, payload) = gpu_edits(&plan.edits, grid.width as usize, grid.height as usize);
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
        if let Some(data) = &plan.upload {
            queue.write_buffer(&c.state, 0, bytemuck::cast_slice(data.as_slice()));
            let zeros;
            let ids: &[u32] = match &plan.upload_species {
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
        c.work = FrameWork {
            first_step: plan.first_step,
            steps: plan.steps,
            edit_count: plan.edits.len() as u32,
            readback: plan.readback,
            display,
        };
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
