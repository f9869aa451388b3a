//! Grid states on disk: `.safetensors` with one tensor `state` [H, W, C] and the kind in
//! `nca.kind` (pictures are [`super::display`]'s).

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::ModelError;
use super::grid::Grid;
use super::kind::ModelKind;
use super::weights::{f32_to_le_bytes, read_f32, write_atomically};

/// Writes `grid` as tensor `state` [H, W, C] with string `metadata`.
pub fn save_state(path: &Path, grid: &Grid, metadata: HashMap<String, String>) -> Result<(), ModelError> {
    let out = state_bytes(grid, metadata).map_err(|m| ModelError::format(path, m))?;
    write_atomically(path, &out)
}

/// The bytes [`save_state`] writes.
pub fn state_bytes(grid: &Grid, metadata: HashMap<String, String>) -> Result<Vec<u8>, String> {
    let bytes = f32_to_le_bytes(&grid.data);
    let view = TensorView::new(Dtype::F32, vec![grid.height, grid.width, grid.channels], &bytes).expect("grid shape matches its data");
    safetensors::serialize([("state", view)], Some(metadata)).map_err(|e| format!("cannot serialise state ({e})"))
}

/// Reads a state written by [`save_state`].
pub fn load_state(path: &Path) -> Result<Grid, ModelError> {
    load_state_with_kind(path).map(|(grid, _)| grid)
}

/// Reads a state and the kind it belongs to: `nca.kind` in its metadata, else the kind with its
/// channel count (`None` if neither tells).
pub fn load_state_with_kind(path: &Path) -> Result<(Grid, Option<ModelKind>), ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    let fail = |m: String| ModelError::format(path, m);
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
    let view = st.tensor("state").map_err(|_| fail("missing tensor 'state'".into()))?;
    let shape = view.shape().to_vec();
    if shape.len() != 3 {
        return Err(fail(format!("tensor 'state' has shape {shape:?}, expected [H, W, C]")));
    }
    let data = read_f32("state", &view, &shape).map_err(fail)?;
    let grid = Grid::from_data(shape[1], shape[0], shape[2], data).expect("shape checked");
    let named =
        SafeTensors::read_metadata(&bytes).ok().and_then(|(_, header)| header.metadata().as_ref().and_then(|m| m.get("nca.kind").cloned()));
    let kind = match named {
        Some(name) => Some(name.parse::<ModelKind>().map_err(fail)?),
        None => ModelKind::from_channels(grid.channels),
    };
    if let Some(kind) = kind.filter(|k| k.channels() != grid.channels) {
        return Err(fail(format!("a {kind} state has {} channels, this one {}", kind.channels(), grid.channels)));
    }
    Ok((grid, kind))
}
