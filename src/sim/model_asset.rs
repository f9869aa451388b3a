//! Model weights as a Bevy asset, loadable from `.safetensors` or the Distill JSON formats.

use std::sync::Arc;

use bevy::asset::{AssetLoader, LoadContext, io::Reader};
use bevy::prelude::*;

use bevy::tasks::futures_lite::AsyncReadExt;

use crate::model::weights::MAX_MODEL_BYTES;
use crate::model::{NcaWeights, import};

/// A model the GPU can run. Cheap to clone; replace the asset to hot-swap a grid's weights.
#[derive(Asset, TypePath, Clone, Debug)]
pub struct NcaModel {
    /// The validated weights.
    pub weights: Arc<NcaWeights>,
}

impl NcaModel {
    /// Wraps weights.
    pub fn new(weights: NcaWeights) -> Self {
        Self { weights: Arc::new(weights) }
    }
}

/// Loads `.safetensors` and Distill `.json` model files.
#[derive(Default, TypePath)]
pub struct NcaModelLoader;

/// Why a model file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum NcaModelLoaderError {
    /// Reading the bytes failed.
    #[error("cannot read model: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid model.
    #[error("{0}")]
    Model(#[from] crate::model::ModelError),
}

impl AssetLoader for NcaModelLoader {
    type Asset = NcaModel;
    type Settings = ();
    type Error = NcaModelLoaderError;

    async fn load(&self, reader: &mut dyn Reader, _settings: &(), context: &mut LoadContext<'_>) -> Result<NcaModel, NcaModelLoaderError> {
        // At most one byte past the limit is read: a huge file is judged without reading it.
        let mut bytes = Vec::new();
        (&mut *reader).take(MAX_MODEL_BYTES + 1).read_to_end(&mut bytes).await?;
        let path = context.path().path().to_path_buf();
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(crate::model::ModelError::format(
                &path,
                format!("larger than any model (at most {} MB): not read", MAX_MODEL_BYTES >> 20),
            )
            .into());
        }
        let hint = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        let weights = import::load_model_bytes(&bytes, &hint).map_err(|e| e.with_path(&path))?;
        Ok(NcaModel::new(weights))
    }

    fn extensions(&self) -> &[&str] {
        &["safetensors", "json"]
    }
}
