//! Model weights as a render asset: each model's species block, ready to be packed into the
//! weights buffers of the grids that use it. Replacing the asset makes a new generation, which
//! tells those grids to rewrite their buffers (the hot swap).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::ecs::system::SystemParamItem;
use bevy::prelude::*;
use bevy::render::render_asset::{PrepareAssetError, RenderAsset};

use crate::model::ModelKind;
use crate::sim::NcaModel;

/// A model's weights as the GPU lays them out.
pub struct GpuNcaModel {
    /// The species block (the kind's [`crate::model::KindLayout::species_stride`] floats).
    pub block: Arc<Vec<f32>>,
    /// Distinct for every prepared version of every model.
    pub generation: u64,
    /// The model's kind: which pipelines run it and how its grid's buffers are laid out.
    pub kind: ModelKind,
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
        Ok(Self {
            block: Arc::new(source.weights.species_block()),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            kind: source.weights.kind(),
        })
    }
}
