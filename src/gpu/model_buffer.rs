//! Model weights as a render asset: each model's species block, ready to be packed into the
//! weights buffers of the grids that use it. Replacing the asset makes a new generation, which
//! tells those grids to rewrite their buffers (the hot swap).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::ecs::system::SystemParamItem;
use bevy::prelude::*;
use bevy::render::render_asset::{PrepareAssetError, RenderAsset};

use super::types::species_block;
use crate::model::NcaWeights;
use crate::sim::NcaModel;

/// A model's weights as the GPU lays them out.
pub struct GpuNcaModel {
    /// The species block (see [`super::types::SPECIES_STRIDE`]).
    pub block: Arc<Vec<f32>>,
    /// Distinct for every prepared version of every model.
    pub generation: u64,
    /// Channels per cell.
    pub channels: u32,
}

impl RenderAsset for GpuNcaModel {
    type SourceAsset = NcaModel;
    type Param = ();

    fn prepare_asset(
        source: Self::SourceAsset,
        _id: AssetId<NcaModel>,
        _param: &mut SystemParamItem<Self::Param>,
        _previous: Option<&Self>,
    ) -> Result<Self, PrepareAssetError<Self::SourceAsset>> {
        static GENERATION: AtomicU64 = AtomicU64::new(1);
        let NcaWeights::Growing(w) = &*source.weights;
        Ok(Self {
            block: Arc::new(species_block(w)),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            channels: source.weights.channels() as u32,
        })
    }
}
