//! Grid states on disk (`.safetensors` with one tensor `state` [H, W, C]) and as pictures.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::ModelError;
use super::grid::Grid;
use super::spec::ALPHA;
use super::weights::{f32_to_le_bytes, read_f32, write_atomically};

/// Writes `grid` as tensor `state` [H, W, C] with string `metadata`.
pub fn save_state(path: &Path, grid: &Grid, metadata: HashMap<String, String>) -> Result<(), ModelError> {
    let bytes = f32_to_le_bytes(&grid.data);
    let view = TensorView::new(Dtype::F32, vec![grid.height, grid.width, grid.channels], &bytes)
        .expect("grid shape matches its data");
    let out = safetensors::serialize([("state", view)], Some(metadata))
        .map_err(|e| ModelError::format(path, format!("cannot serialise state ({e})")))?;
    write_atomically(path, &out)
}

/// Reads a state written by [`save_state`].
pub fn load_state(path: &Path) -> Result<Grid, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    let fail = |m: String| ModelError::format(path, m);
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
    let view = st.tensor("state").map_err(|_| fail("missing tensor 'state'".into()))?;
    let shape = view.shape().to_vec();
    if shape.len() != 3 {
        return Err(fail(format!("tensor 'state' has shape {shape:?}, expected [H, W, C]")));
    }
    let data = read_f32("state", &view, &shape).map_err(fail)?;
    Ok(Grid::from_data(shape[1], shape[0], shape[2], data).expect("shape checked"))
}

/// The picture of a grid as the display shader draws it in RGB view: RGB is premultiplied,
/// so a cell shows as `background · (1 − a) + rgb`, clamped; each cell becomes a
/// `scale`×`scale` block.
pub fn to_rgba8(grid: &Grid, background: [f32; 3], scale: u32) -> image::RgbaImage {
    let scale = scale.max(1);
    image::RgbaImage::from_fn(grid.width as u32 * scale, grid.height as u32 * scale, |px, py| {
        let cell = grid.cell((px / scale) as usize, (py / scale) as usize);
        let a = cell[ALPHA].clamp(0.0, 1.0);
        let channel = |c: usize| {
            let v = (background[c] * (1.0 - a) + cell[c]).clamp(0.0, 1.0);
            (v * 255.0).round() as u8
        };
        image::Rgba([channel(0), channel(1), channel(2), 255])
    })
}
