//! Checkpoints: everything a run needs to continue exactly where it stopped, in one
//! `.safetensors` file written atomically.
//!
//! Tensors: `w1`, `b1`, `w2`, `b2` (the model), `pool` [P, H, W, 16], `target` [H, W, 4],
//! `losses` [iterations] (F64), `optimizer` (U8: Burn's bincode record of Adam's moments).
//! Metadata: `nca.ckpt.format`, `nca.ckpt.iteration`, `nca.ckpt.rng`, `nca.ckpt.config` (JSON),
//! and `nca.ckpt.param_ids`: Adam's state is keyed by parameter id, so the resumed module must
//! carry the same ids.

use std::path::Path;

use burn::optim::Optimizer;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::config::TrainConfig;
use super::rng::Pcg32;
use super::trainer::Trainer;
use crate::model::error::ModelError;
use crate::model::grid::Grid;
use crate::model::spec::GROWING_CHANNELS as C;
use crate::model::target::Target;
use crate::model::weights::{f32_to_le_bytes, read_f32, write_atomically};

const FORMAT: &str = "1";

/// Largest checkpoint read: a growing run's pool is about 340 MB.
pub const MAX_CHECKPOINT_BYTES: u64 = 2 << 30;

impl<B: AutodiffBackend> Trainer<B> {
    /// Writes the checkpoint to `path` (via a temporary file and a rename).
    pub fn save_checkpoint(&self, path: &Path) -> Result<(), ModelError> {
        let fail = |m: String| ModelError::format(path, m);
        let weights = self.weights();
        let optimizer = BinBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.optimizer().to_record(), ())
            .map_err(|e| fail(format!("cannot record the optimiser state ({e})")))?;
        let (h, w) = (self.target().height(), self.target().width());
        let pool: Vec<f32> = self.pool.iter().flat_map(|g| g.data.iter().copied()).collect();
        let losses: Vec<u8> = self.losses.iter().flat_map(|l| l.to_le_bytes()).collect();
        let mut buffers: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> =
            weights.tensors().into_iter().map(|(name, shape, data)| (name, Dtype::F32, shape, f32_to_le_bytes(data))).collect();
        buffers.extend([
            ("pool", Dtype::F32, vec![self.pool.len(), h, w, C], f32_to_le_bytes(&pool)),
            ("target", Dtype::F32, vec![h, w, 4], f32_to_le_bytes(&self.target().rgba.data)),
            ("losses", Dtype::F64, vec![self.losses.len()], losses),
            ("optimizer", Dtype::U8, vec![optimizer.len()], optimizer),
        ]);
        let views: Vec<(&str, TensorView<'_>)> = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| (*name, TensorView::new(*dtype, shape.clone(), bytes).expect("shapes match")))
            .collect();
        let config = serde_json::to_string(&self.config).expect("the config serialises");
        let meta = std::collections::BTreeMap::from([
            ("nca.ckpt.format".to_string(), FORMAT.to_string()),
            ("nca.ckpt.iteration".to_string(), self.iteration.to_string()),
            ("nca.ckpt.rng".to_string(), self.rng.state.to_string()),
            ("nca.ckpt.seconds".to_string(), self.seconds.to_string()),
            ("nca.ckpt.config".to_string(), config),
            ("nca.ckpt.param_ids".to_string(), self.model.param_ids().map(|id| id.to_string()).join(",")),
            ("nca.ckpt.restarts".to_string(), join_iterations(&self.restarts)),
        ]);
        let bytes =
            crate::model::weights::serialize_with_sorted_metadata(views, meta).map_err(|e| fail(format!("cannot serialise ({e})")))?;
        write_atomically(path, &bytes)
    }

    /// Restores a run from a checkpoint written by [`Trainer::save_checkpoint`].
    pub fn resume(path: &Path, device: B::Device) -> Result<Self, ModelError> {
        let bytes = crate::model::files::read_input(path, "checkpoint", MAX_CHECKPOINT_BYTES)?;
        let fail = |m: String| ModelError::format(path, m);
        let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a readable checkpoint ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(format!("not a readable checkpoint ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| meta.get(key).ok_or_else(|| fail(format!("checkpoint metadata has no '{key}'")));
        if get("nca.ckpt.format")? != FORMAT {
            return Err(fail(format!("checkpoint format {} is not {FORMAT}", get("nca.ckpt.format")?)));
        }
        let iteration: usize = get("nca.ckpt.iteration")?
            .parse()
            .ok()
            .filter(|&n| n <= super::validate::MAX_ITERATIONS)
            .ok_or_else(|| fail(format!("bad nca.ckpt.iteration (a count up to {})", super::validate::MAX_ITERATIONS)))?;
        let rng = Pcg32 { state: get("nca.ckpt.rng")?.parse().map_err(|_| fail("bad nca.ckpt.rng".into()))? };
        let config = recipe_from_json(get("nca.ckpt.config")?).map_err(|e| fail(format!("bad nca.ckpt.config ({e})")))?;
        let tensor = |name: &str| st.tensor(name).map_err(|_| fail(format!("checkpoint has no tensor '{name}'")));

        let target_view = tensor("target")?;
        let shape = target_view.shape().to_vec();
        if shape.len() != 3 || shape[2] != 4 {
            return Err(fail(format!("tensor 'target' has shape {shape:?}, expected [H, W, 4]")));
        }
        let (h, w) = (shape[0], shape[1]);
        let target =
            Target { rgba: Grid::from_data(w, h, 4, read_f32("target", &target_view, &shape).map_err(fail)?).expect("shape checked") };

        let mut weights = crate::model::GrowingWeights::zeros(config.spec());
        weights.read_tensors(&st).map_err(fail)?;
        let pool_view = tensor("pool")?;
        let pool_len = pool_view.shape().first().copied().unwrap_or(0);
        let pool_data = read_f32("pool", &pool_view, &[pool_len, h, w, C]).map_err(fail)?;
        let pool: Vec<Grid> = pool_data.chunks(h * w * C).map(|d| Grid::from_data(w, h, C, d.to_vec()).expect("shape checked")).collect();
        let losses_view = tensor("losses")?;
        if losses_view.dtype() != Dtype::F64 {
            return Err(fail("tensor 'losses' is not F64".into()));
        }
        let losses: Vec<f64> = losses_view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        let optimizer_bytes = tensor("optimizer")?.data().to_vec();
        let record = BinBytesRecorder::<FullPrecisionSettings>::new()
            .load(optimizer_bytes, &device)
            .map_err(|e| fail(format!("cannot read the optimiser state ({e})")))?;

        let ids: Vec<u64> = get("nca.ckpt.param_ids")?.split(',').filter_map(|v| v.parse().ok()).collect();
        let ids: [u64; 4] = ids.try_into().map_err(|_| fail("bad nca.ckpt.param_ids".into()))?;
        let mut trainer = Trainer::from_weights(config, target, &weights, rng, device);
        trainer.model = super::GrowingNca::from_weights_with_ids(&weights, ids, &trainer.device);
        trainer.pool = pool;
        trainer.iteration = iteration;
        trainer.losses = losses;
        trainer.seconds = meta.get("nca.ckpt.seconds").and_then(|v| v.parse().ok()).unwrap_or(0.0);
        // Absent from checkpoints written before `--init` existed.
        trainer.restarts = match meta.get("nca.ckpt.restarts") {
            Some(list) => parse_iterations(list).map_err(|e| fail(format!("bad nca.ckpt.restarts ({e})")))?,
            None => Vec::new(),
        };
        trainer.load_optimizer_record(record);
        Ok(trainer)
    }
}

/// `"3,8"` for iterations 3 and 8; empty for none.
pub(crate) fn join_iterations(iterations: &[usize]) -> String {
    iterations.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// The inverse of [`join_iterations`].
pub(crate) fn parse_iterations(list: &str) -> Result<Vec<usize>, String> {
    list.split(',').filter(|v| !v.trim().is_empty()).map(|v| v.trim().parse().map_err(|_| format!("'{v}' is not an iteration"))).collect()
}

/// The recipe stored in a checkpoint. Fields added to [`TrainConfig`] since the checkpoint was
/// written take their defaults, so a run started by an older build still resumes.
pub(crate) fn recipe_from_json(json: &str) -> Result<TrainConfig, serde_json::Error> {
    let mut stored: serde_json::Value = serde_json::from_str(json)?;
    let defaults = serde_json::to_value(TrainConfig::new())?;
    if let (Some(stored), serde_json::Value::Object(defaults)) = (stored.as_object_mut(), defaults) {
        for (key, value) in defaults {
            stored.entry(key).or_insert(value);
        }
    }
    serde_json::from_value(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_missing_newer_fields_takes_their_defaults() {
        let mut json: serde_json::Value = serde_json::to_value(TrainConfig::new().with_seed(9).with_damaged(2)).unwrap();
        json.as_object_mut().unwrap().remove("half_cuts");
        let recipe = recipe_from_json(&json.to_string()).unwrap();
        assert_eq!((recipe.seed, recipe.damaged, recipe.half_cuts), (9, 2, 0));
        assert!(recipe_from_json(r#"{"seed": "nine"}"#).is_err());
    }

    #[test]
    fn restart_lists_round_trip() {
        assert_eq!(parse_iterations(&join_iterations(&[3, 4200])).unwrap(), vec![3, 4200]);
        assert_eq!(parse_iterations("").unwrap(), Vec::<usize>::new());
        assert!(parse_iterations("3,x").unwrap_err().contains("'x'"));
    }
}
