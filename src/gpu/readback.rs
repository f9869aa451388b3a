//! Maps readback buffers once their copies were submitted and sends the data to the main world.

use bevy::prelude::*;
use bevy::render::render_resource::{Buffer, MapMode, PollType};
use bevy::render::renderer::RenderDevice;
use crossbeam_channel::Sender;

use crate::model::Grid;
use crate::sim::{GridSnapshot, LabelSnapshot, MetricSnapshot, Readback, ReadbackKind, ReadbackResult};

/// A readback whose copy was recorded this frame.
pub struct PendingReadback {
    pub(crate) id: u64,
    pub(crate) what: ReadbackKind,
    pub(crate) entity: Entity,
    pub(crate) step: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) channels: u32,
    pub(crate) buffer: Buffer,
}

/// Readbacks waiting for submission, and those that could not be recorded (answered with
/// their reason, so nobody waits for them).
#[derive(Resource, Default)]
pub struct PendingReadbacks {
    pub(crate) copied: Vec<PendingReadback>,
    pub(crate) failed: Vec<(u64, String)>,
}

/// The channel to the main world's [`crate::sim::GridSnapshots`].
#[derive(Resource)]
pub struct ReadbackSender(pub Sender<ReadbackResult>);

pub(crate) fn map_readbacks(mut pending: ResMut<PendingReadbacks>, sender: Option<Res<ReadbackSender>>, device: Res<RenderDevice>) {
    let Some(sender) = sender else { return };
    for (id, message) in pending.failed.drain(..) {
        let _ = sender.0.send(ReadbackResult { id, snapshot: Err(message) });
    }
    if pending.copied.is_empty() {
        let _ = device.poll(PollType::Poll);
        return;
    }
    for readback in pending.copied.drain(..) {
        let sender = sender.0.clone();
        let buffer = readback.buffer.clone();
        readback.buffer.slice(..).map_async(MapMode::Read, move |result| {
            let snapshot = result.map_err(|e| format!("GPU readback failed: {e}")).and_then(|()| {
                let words: Vec<u32> = bytemuck::cast_slice(&buffer.slice(..).get_mapped_range()).to_vec();
                buffer.unmap();
                let cells = readback.width as usize * readback.height as usize;
                let wrong_size = || "GPU readback returned the wrong size".to_string();
                if readback.what == ReadbackKind::Metrics {
                    let (entity, step) = (readback.entity, readback.step);
                    return Ok(Readback::Metrics(MetricSnapshot { entity, step, words }));
                }
                if readback.what == ReadbackKind::Labels {
                    if words.len() != cells {
                        return Err(wrong_size());
                    }
                    let (entity, step, width, height) = (readback.entity, readback.step, readback.width, readback.height);
                    return Ok(Readback::Labels(LabelSnapshot { entity, step, width, height, labels: words }));
                }
                let values = cells * readback.channels as usize;
                if words.len() != values + cells {
                    return Err(wrong_size());
                }
                let data = words[..values].iter().map(|&w| f32::from_bits(w)).collect();
                let mut grid = Grid::from_data(readback.width as usize, readback.height as usize, readback.channels as usize, data)
                    .ok_or_else(wrong_size)?;
                grid.species = words[values..].to_vec();
                Ok(Readback::State(GridSnapshot { entity: readback.entity, step: readback.step, grid }))
            });
            let _ = sender.send(ReadbackResult { id: readback.id, snapshot });
        });
    }
    let _ = device.poll(PollType::Poll);
}
