//! Per-grid GPU resources, created or rebuilt only when something they depend on changed.

use std::collections::HashMap;

use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, Buffer, BufferBinding, BufferDescriptor, BufferId, BufferUsages,
    PipelineCache, TextureFormat, TextureId, TextureView, TextureViewDescriptor,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;

use super::extract::ExtractedGrids;
use super::model_buffer::GpuNcaModel;
use super::pipeline::NcaPipelines;
use super::readback::ReadbackSender;
use crate::sim::ReadbackResult;
use super::types::{GpuEdit, GpuStepParams, SPECIES_STRIDE};

/// What `dispatch_grids` records for a grid this frame.
#[derive(Clone, Debug, Default)]
pub struct FrameWork {
    /// First step number.
    pub first_step: u32,
    /// Steps to run.
    pub steps: u32,
    /// Edits in the edit buffer.
    pub edit_count: u32,
    /// Readback tag.
    pub readback: Option<u64>,
    /// Whether to run the display pass.
    pub display: bool,
}

/// A grid's GPU resources.
pub struct CachedGrid {
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Channels per cell.
    pub channels: u32,
    /// Current state (always holds the latest state between frames).
    pub state: Buffer,
    /// The other half of the ping-pong pair: the unmasked update.
    pub scratch: Buffer,
    /// Per-cell pre-update alive flags, packed with the species of the step.
    pub pre_alive: Buffer,
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
    /// Group 0 and the buffers it was built from.
    pub bind_group: Option<(BindGroup, [BufferId; 7])>,
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
    fn new(device: &RenderDevice, width: u32, height: u32, channels: u32) -> Self {
        let cells = width as u64 * height as u64;
        let state_bytes = cells * channels as u64 * 4;
        let align = device.limits().min_uniform_buffer_offset_alignment;
        let params_stride = (std::mem::size_of::<GpuStepParams>() as u32).div_ceil(align) * align;
        Self {
            width,
            height,
            channels,
            state: storage(device, "nca_state", state_bytes, BufferUsages::COPY_SRC),
            scratch: storage(device, "nca_scratch", state_bytes, BufferUsages::empty()),
            pre_alive: storage(device, "nca_pre_alive", cells * 4, BufferUsages::empty()),
            species: storage(device, "nca_species", cells * 4, BufferUsages::COPY_SRC),
            weights: storage(device, "nca_weights", SPECIES_STRIDE as u64 * 4, BufferUsages::empty()),
            weights_capacity: 1,
            weights_generations: Vec::new(),
            params: uniform(device, params_stride as u64 * 4),
            params_capacity: 4,
            params_stride,
            edits: storage(device, "nca_edits", 8 * std::mem::size_of::<GpuEdit>() as u64, BufferUsages::empty()),
            edits_capacity: 8,
            bind_group: None,
            display_bind_group: None,
            work: FrameWork::default(),
        }
    }

    /// Bytes of the state buffer that hold cells.
    pub fn state_bytes(&self) -> u64 {
        self.width as u64 * self.height as u64 * self.channels as u64 * 4
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare_grids(
    extracted: Option<Res<ExtractedGrids>>,
    mut cached: ResMut<CachedGrids>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    models: Res<RenderAssets<GpuNcaModel>>,
    images: Res<RenderAssets<GpuImage>>,
    pipelines: Option<Res<NcaPipelines>>,
    cache: Res<PipelineCache>,
    sender: Option<Res<ReadbackSender>>,
    mut reported_too_big: bevy::ecs::system::Local<bevy::platform::collections::HashSet<(Entity, u32, u32)>>,
) {
    let (Some(extracted), Some(pipelines)) = (extracted, pipelines) else { return };
    cached.0.retain(|entity, _| extracted.0.iter().any(|g| g.entity == *entity));

    for grid in &extracted.0 {
        let species: Option<Vec<&GpuNcaModel>> = grid.species.iter().map(|id| models.get(*id)).collect();
        let Some(species) = species.filter(|s| !s.is_empty() && s.iter().all(|m| m.channels == s[0].channels)) else {
            if grid.plan.has_work() {
                warn!("grid {:?}: a species' model is not on the GPU yet, frame skipped", grid.entity);
            }
            if let Some(c) = cached.0.get_mut(&grid.entity) {
                c.work = FrameWork::default();
            }
            continue;
        };
        let model = species[0];
        let state_bytes = grid.width as u64 * grid.height as u64 * model.channels as u64 * 4;
        let limit = device.limits().max_storage_buffer_binding_size;
        if state_bytes > limit {
            let message = format!(
                "grid {}×{} needs {} MiB of state, more than this GPU binds at once ({} MiB)",
                grid.width,
                grid.height,
                state_bytes >> 20,
                limit >> 20
            );
            if reported_too_big.insert((grid.entity, grid.width, grid.height)) {
                error!("{message}");
            }
            if let (Some(id), Some(sender)) = (grid.plan.readback, &sender) {
                let _ = sender.0.send(ReadbackResult { id, snapshot: Err(message) });
            }
            cached.0.remove(&grid.entity);
            continue;
        }
        let entry = cached.0.entry(grid.entity);
        let c = entry.or_insert_with(|| CachedGrid::new(&device, grid.width, grid.height, model.channels));
        if (c.width, c.height, c.channels) != (grid.width, grid.height, model.channels) {
            *c = CachedGrid::new(&device, grid.width, grid.height, model.channels);
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
            view_channel: grid.display.as_ref().map_or(0, |d| d.view_channel),
            species_count: species.len() as u32,
            ..default()
        };
        params.set_sobel(&grid.sobel);
        if let Some(d) = &grid.display {
            params.background = [d.background[0], d.background[1], d.background[2], 1.0];
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
            let count = plan.edits.len() as u32;
            if count > c.edits_capacity {
                c.edits_capacity = count.next_power_of_two();
                c.edits = storage(&device, "nca_edits", c.edits_capacity as u64 * std::mem::size_of::<GpuEdit>() as u64, BufferUsages::empty());
            }
            let gpu: Vec<GpuEdit> = plan.edits.iter().map(GpuEdit::from).collect();
            queue.write_buffer(&c.edits, 0, bytemuck::cast_slice(&gpu));
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
            if species.len() as u32 > c.weights_capacity {
                c.weights_capacity = (species.len() as u32).next_power_of_two();
                c.weights = storage(&device, "nca_weights", c.weights_capacity as u64 * SPECIES_STRIDE as u64 * 4, BufferUsages::empty());
            }
            let packed: Vec<f32> = species.iter().flat_map(|m| m.block.iter().copied()).collect();
            queue.write_buffer(&c.weights, 0, bytemuck::cast_slice(&packed));
            c.weights_generations = generations;
        }

        let key = [c.state.id(), c.scratch.id(), c.weights.id(), c.pre_alive.id(), c.edits.id(), c.params.id(), c.species.id()];
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
                    (4, c.pre_alive.as_entire_binding()),
                    (5, c.edits.as_entire_binding()),
                    (6, c.species.as_entire_binding()),
                )),
            );
            c.bind_group = Some((group, key));
        }

        let mut display = false;
        if let Some(d) = &grid.display
            && let Some(image) = images.get(d.image)
            && image.texture_descriptor.size.width == grid.width
            && image.texture_descriptor.size.height == grid.height
        {
            let texture_id = image.texture.id();
            if c.display_bind_group.as_ref().is_none_or(|(_, _, k)| *k != texture_id) {
                // Sprites sample the sRGB view; the shader writes the same bytes through a
                // plain unorm view (storage textures cannot be sRGB).
                let storage_view = image.texture.create_view(&TextureViewDescriptor {
                    label: Some("nca_display_storage_view"),
                    format: Some(TextureFormat::Rgba8Unorm),
                    ..default()
                });
                let layout = cache.get_bind_group_layout(&pipelines.display_layout);
                let group = device.create_bind_group(
                    "nca_display_bind_group",
                    &layout,
                    &BindGroupEntries::single(&storage_view),
                );
                c.display_bind_group = Some((group, storage_view, texture_id));
            }
            display = true;
        }

        c.work = FrameWork {
            first_step: plan.first_step,
            steps: plan.steps,
            edit_count: plan.edits.len() as u32,
            readback: plan.readback,
            display,
        };
    }
}
