//! Model weights as a render asset: one storage buffer per model, replaced when the asset changes.

use bevy::ecs::system::{SystemParamItem, lifetimeless::SRes};
use bevy::prelude::*;
use bevy::render::render_asset::{PrepareAssetError, RenderAsset};
use bevy::render::render_resource::{Buffer, BufferUsages, BufferInitDescriptor};
use bevy::render::renderer::RenderDevice;

use super::types::flatten_growing;
use crate::model::{NcaWeights, fire};
use crate::sim::NcaModel;

/// A model's weights on the GPU.
pub struct GpuNcaModel {
    /// Flat `w1 | b1 | w2 | b2`.
    pub buffer: Buffer,
    /// Integer fire threshold for the fire hash.
    pub fire_threshold: u32,
    /// Channels per cell.
    pub channels: u32,
}

impl RenderAsset for GpuNcaModel {
    type SourceAsset = NcaModel;
    type Param = SRes<RenderDevice>;

    fn prepare_asset(
        source: Self::SourceAsset,
        _id: AssetId<NcaModel>,
        device: &mut SystemParamItem<Self::Param>,
        _previous: Option<&Self>,
    ) -> Result<Self, PrepareAssetError<Self::SourceAsset>> {
        let NcaWeights::Growing(w) = &*source.weights;
        let flat = flatten_growing(w);
        let buffer = device.create_buffer_with_data(&BufferInitDescriptor {
            label: Some("nca_model_weights"),
            contents: bytemuck::cast_slice(&flat),
            usage: BufferUsages::STORAGE,
        });
        Ok(Self {
            buffer,
            fire_threshold: fire::threshold(w.spec.fire_rate),
            channels: source.weights.channels() as u32,
        })
    }
}
