//! Records each grid's compute passes in the `RenderGraph` schedule, with its kind's pipelines.

use bevy::prelude::*;
use bevy::render::render_resource::{BufferDescriptor, BufferUsages, ComputePassDescriptor, ComputePipeline, PipelineCache};
use bevy::render::renderer::RenderContext;

use super::pipeline::{KindPipelines, NcaPipelines, WORKGROUP};
use super::prepare::CachedGrids;
use super::readback::{PendingReadback, PendingReadbacks};
use crate::sim::ReadbackKind;

/// A kind's compiled pipelines, all five or none.
struct Ready<'a> {
    update: &'a ComputePipeline,
    commit: &'a ComputePipeline,
    edit: &'a ComputePipeline,
    display: &'a ComputePipeline,
    labels: &'a ComputePipeline,
}

fn ready<'a>(cache: &'a PipelineCache, p: &KindPipelines) -> Option<Ready<'a>> {
    Some(Ready {
        update: cache.get_compute_pipeline(p.update)?,
        commit: cache.get_compute_pipeline(p.commit)?,
        edit: cache.get_compute_pipeline(p.edit)?,
        display: cache.get_compute_pipeline(p.display)?,
        labels: cache.get_compute_pipeline(p.labels)?,
    })
}

pub(crate) fn dispatch_grids(
    mut context: RenderContext,
    grids: Res<CachedGrids>,
    pipelines: Option<Res<NcaPipelines>>,
    cache: Res<PipelineCache>,
    mut readbacks: ResMut<PendingReadbacks>,
) {
    let Some(pipelines) = pipelines else { return };
    let device = context.render_device().clone();
    for (&entity, grid) in &grids.0 {
        let work = &grid.work;
        let Some((bind_group, _)) = &grid.bind_group else { continue };
        if work.is_empty() {
            continue;
        }
        let Some(kind) = pipelines.of(grid.kind).and_then(|p| ready(&cache, p)) else { continue };
        let groups = (grid.width.div_ceil(WORKGROUP), grid.height.div_ceil(WORKGROUP));
        // A metrics readback needs its passes compiled and its bind group built (prepare made
        // its buffers); without them it is answered with an error, not left waiting.
        let metrics = match work.readback {
            Some((id, ReadbackKind::Metrics)) => {
                let passes = cache
                    .get_compute_pipeline(pipelines.metrics.cells)
                    .zip(cache.get_compute_pipeline(pipelines.metrics.loss))
                    .zip(grid.metrics.as_ref().and_then(|m| Some((m, &m.bind_group.as_ref()?.0))));
                if passes.is_none() {
                    readbacks.failed.push((id, "the metrics passes are not ready on this GPU".into()));
                }
                passes
            }
            _ => None,
        };
        let encoder = context.command_encoder();
        if let Some((_, (m, _))) = metrics {
            encoder.clear_buffer(&m.sums, 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&ComputePassDescriptor { label: Some("nca_grid"), ..default() });
            for segment in &work.segments {
                if let Some(entry) = segment.edits_entry {
                    pass.set_pipeline(kind.edit);
                    pass.set_bind_group(0, bind_group, &[entry * grid.params_stride]);
                    pass.dispatch_workgroups(groups.0, groups.1, 1);
                }
                for entry in segment.step_entries.clone() {
                    pass.set_bind_group(0, bind_group, &[entry * grid.params_stride]);
                    pass.set_pipeline(kind.update);
                    pass.dispatch_workgroups(groups.0, groups.1, 1);
                    pass.set_pipeline(kind.commit);
                    pass.dispatch_workgroups(groups.0, groups.1, 1);
                }
            }
            if work.display
                && let Some((display_group, _, _)) = &grid.display_bind_group
            {
                pass.set_pipeline(kind.display);
                pass.set_bind_group(0, bind_group, &[0]);
                pass.set_bind_group(1, display_group, &[]);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
            if matches!(work.readback, Some((_, ReadbackKind::Labels))) || metrics.is_some() {
                pass.set_pipeline(kind.labels);
                pass.set_bind_group(0, bind_group, &[0]);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
            if let Some(((cells, loss), (m, metrics_group))) = metrics {
                pass.set_bind_group(0, metrics_group, &[]);
                pass.set_pipeline(cells);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
                if m.windows > 0 {
                    pass.set_pipeline(loss);
                    let [w, h] = m.largest_window;
                    pass.dispatch_workgroups(w.div_ceil(WORKGROUP), h.div_ceil(WORKGROUP), m.windows);
                }
            }
        }
        if let Some((id, what)) = work.readback {
            if what == ReadbackKind::Metrics && metrics.is_none() {
                continue;
            }
            let cells_bytes = grid.width as u64 * grid.height as u64 * 4;
            // A state readback: the state, then the species ids. A labels readback: one word per
            // cell.
            let size = match what {
                ReadbackKind::State => grid.state_bytes() + cells_bytes,
                ReadbackKind::Labels => cells_bytes,
                ReadbackKind::Metrics => grid.metrics.as_ref().map_or(4, |m| m.sums_bytes),
            };
            let staging = device.create_buffer(&BufferDescriptor {
                label: Some("nca_readback"),
                size,
                usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            match what {
                ReadbackKind::State => {
                    encoder.copy_buffer_to_buffer(&grid.state, 0, &staging, 0, grid.state_bytes());
                    encoder.copy_buffer_to_buffer(&grid.species, 0, &staging, grid.state_bytes(), cells_bytes);
                }
                ReadbackKind::Labels => encoder.copy_buffer_to_buffer(&grid.aux, 0, &staging, 0, cells_bytes),
                ReadbackKind::Metrics => {
                    if let Some((_, (m, _))) = metrics {
                        encoder.copy_buffer_to_buffer(&m.sums, 0, &staging, 0, m.sums_bytes);
                        // The next reduction measures the update against this state.
                        encoder.copy_buffer_to_buffer(&grid.state, 0, &m.previous, 0, grid.state_bytes());
                    }
                }
            }
            readbacks.copied.push(PendingReadback {
                id,
                what,
                entity,
                step: work.end_step,
                width: grid.width,
                height: grid.height,
                channels: grid.channels,
                buffer: staging,
            });
        }
    }
}
