//! Records each grid's compute passes in the `RenderGraph` schedule.

use bevy::prelude::*;
use bevy::render::render_resource::{BufferDescriptor, BufferUsages, ComputePassDescriptor, PipelineCache};
use bevy::render::renderer::RenderContext;

use super::pipeline::{NcaPipelines, WORKGROUP};
use super::prepare::CachedGrids;
use super::readback::{PendingReadback, PendingReadbacks};

pub(crate) fn dispatch_grids(
    mut context: RenderContext,
    grids: Res<CachedGrids>,
    pipelines: Option<Res<NcaPipelines>>,
    cache: Res<PipelineCache>,
    mut readbacks: ResMut<PendingReadbacks>,
) {
    let Some(pipelines) = pipelines else { return };
    let (Some(update), Some(mask), Some(edit), Some(display)) = (
        cache.get_compute_pipeline(pipelines.update),
        cache.get_compute_pipeline(pipelines.mask),
        cache.get_compute_pipeline(pipelines.edit),
        cache.get_compute_pipeline(pipelines.display),
    ) else {
        return;
    };
    let device = context.render_device().clone();
    for (&entity, grid) in &grids.0 {
        let work = &grid.work;
        let Some((bind_group, _)) = &grid.bind_group else { continue };
        if work.edit_count == 0 && work.steps == 0 && !work.display && work.readback.is_none() {
            continue;
        }
        let groups = (grid.width.div_ceil(WORKGROUP), grid.height.div_ceil(WORKGROUP));
        let encoder = context.command_encoder();
        {
            let mut pass = encoder.begin_compute_pass(&ComputePassDescriptor { label: Some("nca_grid"), ..default() });
            if work.edit_count > 0 {
                pass.set_pipeline(edit);
                pass.set_bind_group(0, bind_group, &[0]);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
            for i in 0..work.steps {
                pass.set_bind_group(0, bind_group, &[i * grid.params_stride]);
                pass.set_pipeline(update);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
                pass.set_pipeline(mask);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
            if work.display
                && let Some((display_group, _, _)) = &grid.display_bind_group
            {
                pass.set_pipeline(display);
                pass.set_bind_group(0, bind_group, &[0]);
                pass.set_bind_group(1, display_group, &[]);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
        }
        if let Some(id) = work.readback {
            // One staging buffer: the state, then the species ids.
            let size = grid.state_bytes();
            let species_size = grid.width as u64 * grid.height as u64 * 4;
            let staging = device.create_buffer(&BufferDescriptor {
                label: Some("nca_readback"),
                size: size + species_size,
                usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            encoder.copy_buffer_to_buffer(&grid.state, 0, &staging, 0, size);
            encoder.copy_buffer_to_buffer(&grid.species, 0, &staging, size, species_size);
            readbacks.copied.push(PendingReadback {
                id,
                entity,
                step: work.first_step.wrapping_add(work.steps),
                width: grid.width,
                height: grid.height,
                channels: grid.channels,
                buffer: staging,
            });
        }
    }
}
