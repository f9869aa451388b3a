//! Grid states on disk: `.safetensors` with tensor `state` [H, W, C], the kind in `nca.kind`,
//! and, where any cell is not of species 0, tensor `species` [H, W] (U32) with each cell's
//! species id (pictures are [`super::display`]'s).

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::ModelError;
use super::grid::Grid;
use super::kind::ModelKind;
use super::weights::{f32_to_le_bytes, read_f32, write_atomically};

/// Largest state file read: a 4096² grid of the widest kind, with its species, and room to spare.
pub const MAX_STATE_FILE_BYTES: u64 = 2 << 30;

/// Writes `grid` as tensor `state` [H, W, C] with string `metadata`.
pub fn save_state(path: &Path, grid: &Grid, metadata: HashMap<String, String>) -> Result<(), ModelError> {
    let out = state_bytes(grid, metadata).map_err(|m| ModelError::format(path, m))?;
    write_atomically(path, &out)
}

/// The bytes [`save_state`] writes.
pub fn state_bytes(grid: &Grid, metadata: HashMap<String, String>) -> Result<Vec<u8>, String> {
    let bytes = f32_to_le_bytes(&grid.data);
    let view = TensorView::new(Dtype::F32, vec![grid.height, grid.width, grid.channels], &bytes).expect("grid shape matches its data");
    let mut tensors = vec![("state", view)];
    // A one-species state stays one tensor, as files before species were written.
    let species_bytes: Vec<u8> = grid.species.iter().flat_map(|s| s.to_le_bytes()).collect();
    if grid.species.iter().any(|&s| s != 0) {
        let view = TensorView::new(Dtype::U32, vec![grid.height, grid.width], &species_bytes).map_err(|e| format!("species ids: {e}"))?;
        tensors.push(("species", view));
    }
    super::weights::serialize_with_sorted_metadata(tensors, metadata.into_iter().collect())
        .map_err(|e| format!("cannot serialise state ({e})"))
}

/// Reads a state written by [`save_state`].
pub fn load_state(path: &Path) -> Result<Grid, ModelError> {
    load_state_with_kind(path).map(|(grid, _)| grid)
}

/// Reads a state and the kind it belongs to: `nca.kind` in its metadata, else the kind with its
/// channel count (`None` if neither tells).
pub fn load_state_with_kind(path: &Path) -> Result<(Grid, Option<ModelKind>), ModelError> {
    let bytes = super::files::read_input(path, "state", MAX_STATE_FILE_BYTES)?;
    let fail = |m: String| ModelError::format(path, m);
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
    let view = st.tensor("state").map_err(|_| fail("missing tensor 'state'".into()))?;
    let shape = view.shape().to_vec();
    if shape.len() != 3 {
        return Err(fail(format!("tensor 'state' has shape {shape:?}, expected [H, W, C]")));
    }
    let data = read_f32("state", &view, &shape).map_err(fail)?;
    let mut grid = Grid::from_data(shape[1], shape[0], shape[2], data).expect("shape checked");
    if let Ok(species) = st.tensor("species") {
        if species.dtype() != Dtype::U32 || species.shape() != [shape[0], shape[1]] {
            return Err(fail(format!(
                "tensor 'species' is {:?} {:?}, expected U32 [{}, {}]",
                species.dtype(),
                species.shape(),
                shape[0],
                shape[1]
            )));
        }
        grid.species = species.data().chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn species_ids_travel_with_the_state_only_when_there_are_several() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.safetensors");
        let mut grid = Grid::new(3, 2, ModelKind::Growing.channels());
        grid.data[5] = 0.25;
        save_state(&file, &grid, HashMap::new()).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        assert!(SafeTensors::deserialize(&bytes).unwrap().tensor("species").is_err(), "one species: one tensor");
        grid.species[4] = 2;
        save_state(&file, &grid, HashMap::new()).unwrap();
        let back = load_state(&file).unwrap();
        assert_eq!((back.data, back.species), (grid.data.clone(), grid.species.clone()));
        // A species tensor of the wrong shape is refused by name.
        let species = [0u8; 4 * 5];
        let state = f32_to_le_bytes(&grid.data);
        let tensors = [
            ("state", TensorView::new(Dtype::F32, vec![2, 3, grid.channels], &state).unwrap()),
            ("species", TensorView::new(Dtype::U32, vec![5], &species).unwrap()),
        ];
        std::fs::write(&file, safetensors::serialize(tensors, None).unwrap()).unwrap();
        let e = load_state(&file).unwrap_err().to_string();
        assert!(e.contains("tensor 'species'"), "{e}");
    }
}
