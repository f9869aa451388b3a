//! Cell state on the CPU, and the edits that every backend applies the same way.

use std::sync::Arc;

use super::kind::EditKind;
use super::spec::{ALIVE_THRESHOLD, ALPHA};

/// An H×W×C grid of `f32` cells, row-major `[y][x][channel]` (the `state` tensor layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Cells per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Channels per cell.
    pub channels: usize,
    /// `height * width * channels` values.
    pub data: Vec<f32>,
    /// The species of each cell, row-major: which model updates it (0 is the grid's first
    /// model). See [`crate::model::cpu::species_for_step`] for how ids spread.
    pub species: Vec<u32>,
}

/// A change to the grid made from outside the update rule (a person, a scenario, a test).
///
/// Each kind gives an edit its meaning ([`super::ModelKind::apply_edit`]) and ignores the edits
/// it does not accept; its WGSL applies the same commands. Coordinates are in cells, with cell
/// `(x, y)` covering `[x, x + 1) × [y, y + 1)`, so its centre is `(x + 0.5, y + 0.5)`. Scenario
/// files record edits as they are (`Edits([...])`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Edit {
    /// Zero every cell whose centre lies strictly inside the disc.
    EraseDisc {
        /// Disc centre, in cells.
        center: [f32; 2],
        /// Disc radius, in cells.
        radius: f32,
    },
    /// Make `(x, y)` a seed of `species` (growing: RGB zero, alpha and hidden channels one).
    PlantSeed {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// The species id the seed (and what grows from it) carries.
        species: u32,
    },
    /// Zero every cell with `min ≤ (x, y) < max` (component-wise).
    EraseRect {
        /// First column and row inside.
        min: [u32; 2],
        /// First column and row past the rectangle.
        max: [u32; 2],
    },
    /// Zero the whole grid.
    Clear,
    /// Draw with a soft round pen (MNIST): `state = state · (1 − s) + [s, 0, …, 0]`, where `s` is
    /// the pen's coverage of the cell ([`pen_coverage`]). Grey rises towards one and the hidden
    /// state under the pen is wiped; cells the pen touches take `species`.
    Draw {
        /// Pen centre, in cells.
        center: [f32; 2],
        /// Pen radius, in cells: full coverage up to `radius − 0.5`, none from `radius + 0.5`.
        radius: f32,
        /// The species of the drawn cells.
        species: u32,
    },
    /// Place a grey image (MNIST's "switcheroo"): under the image, grey is replaced and the
    /// rest of the state is kept only where the new grey is above the life threshold.
    PlaceImage(GreyImage),
    /// Set the species of every cell whose centre lies strictly inside the disc.
    PaintSpecies {
        /// Disc centre, in cells.
        center: [f32; 2],
        /// Disc radius, in cells.
        radius: f32,
        /// The species the cells take.
        species: u32,
    },
}

/// A grey picture placed on a grid, one value in [0, 1] per cell.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GreyImage {
    /// Grid cell of the image's top-left pixel (may lie outside the grid; what does is clipped).
    pub origin: [i32; 2],
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height` values, row-major.
    #[serde(with = "shared_values")]
    pub grey: Arc<[f32]>,
}

/// A shared slice written as a plain list.
mod shared_values {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &Arc<[f32]>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<[f32]>, D::Error> {
        Vec::<f32>::deserialize(deserializer).map(Arc::from)
    }
}

impl GreyImage {
    /// The image's pixels that land on a `grid_width × grid_height` grid, as
    /// `(cell x, cell y, grey)`.
    pub fn cells(&self, grid_width: usize, grid_height: usize) -> impl Iterator<Item = (usize, usize, f32)> + '_ {
        (0..self.height as i64).flat_map(move |py| {
            (0..self.width as i64).filter_map(move |px| {
                let (x, y) = (self.origin[0] as i64 + px, self.origin[1] as i64 + py);
                let inside = (0..grid_width as i64).contains(&x) && (0..grid_height as i64).contains(&y);
                inside.then(|| (x as usize, y as usize, self.grey[(py * self.width as i64 + px) as usize]))
            })
        })
    }
}

impl Edit {
    /// What sort of edit this is (kinds accept sorts, not single edits).
    pub fn kind(&self) -> EditKind {
        match self {
            Edit::EraseDisc { .. } | Edit::EraseRect { .. } | Edit::Clear => EditKind::Erase,
            Edit::PlantSeed { .. } => EditKind::Seed,
            Edit::Draw { .. } => EditKind::Draw,
            Edit::PlaceImage(_) => EditKind::PlaceImage,
            Edit::PaintSpecies { .. } => EditKind::PaintSpecies,
        }
    }
}

/// The pen's coverage of cell `(x, y)`: one within `radius − 0.5` of the centre, zero from
/// `radius + 0.5`, linear in between (a one-cell soft edge). Computed on the CPU only: the GPU
/// is handed the values ([`pen_stamp`]), so both apply bit-identical coverage.
pub fn pen_coverage(x: u32, y: u32, center: [f32; 2], radius: f32) -> f32 {
    let dx = x as f64 + 0.5 - center[0] as f64;
    let dy = y as f64 + 0.5 - center[1] as f64;
    (radius as f64 + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0) as f32
}

/// The cells a pen can cover on a `width × height` grid, as `(first cell, size)` of a clipped
/// box, and the coverage of each cell of that box, row-major.
pub fn pen_stamp(center: [f32; 2], radius: f32, width: usize, height: usize) -> ([u32; 2], [u32; 2], Vec<f32>) {
    let reach = radius.max(0.0) + 0.5;
    let clip = |v: f32, n: usize| (v.floor().max(0.0) as usize).min(n);
    let (x0, x1) = (clip(center[0] - reach, width), clip(center[0] + reach + 1.0, width));
    let (y0, y1) = (clip(center[1] - reach, height), clip(center[1] + reach + 1.0, height));
    let mut coverage = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        for x in x0..x1 {
            coverage.push(pen_coverage(x as u32, y as u32, center, radius));
        }
    }
    ([x0 as u32, y0 as u32], [(x1 - x0) as u32, (y1 - y0) as u32], coverage)
}

impl Grid {
    /// An all-dead grid.
    pub fn new(width: usize, height: usize, channels: usize) -> Self {
        Self { width, height, channels, data: vec![0.0; width * height * channels], species: vec![0; width * height] }
    }

    /// A dead grid with one seed in the centre: the usual start of a growing model.
    pub fn seeded(width: usize, height: usize, channels: usize) -> Self {
        let mut grid = Self::new(width, height, channels);
        grid.apply_growing(&Edit::PlantSeed { x: (width / 2) as u32, y: (height / 2) as u32, species: 0 });
        grid
    }

    /// Wraps existing data (every cell species 0); `None` if the length does not match the shape.
    pub fn from_data(width: usize, height: usize, channels: usize, data: Vec<f32>) -> Option<Self> {
        (data.len() == width * height * channels).then(|| Self { width, height, channels, data, species: vec![0; width * height] })
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.width * self.height
    }

    /// The channels of one cell.
    pub fn cell(&self, x: usize, y: usize) -> &[f32] {
        let i = (y * self.width + x) * self.channels;
        &self.data[i..i + self.channels]
    }

    /// The channels of one cell, mutably.
    pub fn cell_mut(&mut self, x: usize, y: usize) -> &mut [f32] {
        let i = (y * self.width + x) * self.channels;
        &mut self.data[i..i + self.channels]
    }

    /// One value per cell for whether the cell is alive (3×3 max of alpha above the threshold).
    pub fn alive_mask(&self) -> Vec<bool> {
        alive_mask(&self.data, self.width, self.height, self.channels)
    }

    /// Applies the edits every kind shares (erasing, painting species); `false` if `edit` is
    /// not one of them.
    pub(crate) fn apply_shared(&mut self, edit: &Edit) -> bool {
        match *edit {
            Edit::Clear => self.data.fill(0.0),
            Edit::EraseRect { min, max } => {
                for y in min[1].min(self.height as u32)..max[1].min(self.height as u32) {
                    for x in min[0].min(self.width as u32)..max[0].min(self.width as u32) {
                        self.cell_mut(x as usize, y as usize).fill(0.0);
                    }
                }
            }
            Edit::EraseDisc { center, radius } => {
                for y in 0..self.height {
                    for x in 0..self.width {
                        if inside_disc(x as u32, y as u32, center, radius) {
                            self.cell_mut(x, y).fill(0.0);
                        }
                    }
                }
            }
            Edit::PaintSpecies { center, radius, species } => {
                for y in 0..self.height {
                    for x in 0..self.width {
                        if inside_disc(x as u32, y as u32, center, radius) {
                            self.species[y * self.width + x] = species;
                        }
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// Applies an edit with the growing NCA's meaning, exactly as its shader does (see
    /// [`super::ModelKind::apply_edit`], which also filters what a kind accepts).
    pub(crate) fn apply_growing(&mut self, edit: &Edit) {
        if self.apply_shared(edit) {
            return;
        }
        if let Edit::PlantSeed { x, y, species } = *edit {
            let (x, y) = (x as usize, y as usize);
            if x < self.width && y < self.height {
                for (c, v) in self.cell_mut(x, y).iter_mut().enumerate() {
                    *v = if c >= ALPHA { 1.0 } else { 0.0 };
                }
                self.species[y * self.width + x] = species;
            }
        }
    }
}

/// Whether cell `(x, y)`'s centre lies strictly inside the disc (shared with the shader).
#[inline]
pub fn inside_disc(x: u32, y: u32, center: [f32; 2], radius: f32) -> bool {
    let dx = x as f32 + 0.5 - center[0];
    let dy = y as f32 + 0.5 - center[1];
    dx * dx + dy * dy < radius * radius
}

/// Alive mask of a raw `[H, W, C]` buffer: 3×3 max-pool of alpha > [`ALIVE_THRESHOLD`],
/// cells outside the grid counting as dead.
pub fn alive_mask(data: &[f32], width: usize, height: usize, channels: usize) -> Vec<bool> {
    let above: Vec<bool> = data.chunks_exact(channels).map(|cell| cell[ALPHA] > ALIVE_THRESHOLD).collect();
    dilate(&above, width, height)
}

/// 3×3 dilation of a boolean map (any neighbour set, borders treated as unset).
pub fn dilate(map: &[bool], width: usize, height: usize) -> Vec<bool> {
    let mut out = vec![false; map.len()];
    for y in 0..height {
        let y0 = y.saturating_sub(1);
        let y1 = (y + 1).min(height - 1);
        for x in 0..width {
            let x0 = x.saturating_sub(1);
            let x1 = (x + 1).min(width - 1);
            out[y * width + x] = (y0..=y1).any(|yy| (x0..=x1).any(|xx| map[yy * width + xx]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sets_alpha_and_hidden_only() {
        let g = Grid::seeded(5, 5, 16);
        assert_eq!(&g.cell(2, 2)[..3], &[0.0; 3]);
        assert!(g.cell(2, 2)[3..].iter().all(|&v| v == 1.0));
        assert_eq!(g.data.iter().filter(|&&v| v != 0.0).count(), 13);
        assert_eq!(g.alive_mask().iter().filter(|&&a| a).count(), 9);
    }

    #[test]
    fn erase_disc_hits_cells_by_centre() {
        let mut g = Grid::new(10, 10, 4);
        g.data.fill(1.0);
        g.apply_growing(&Edit::EraseDisc { center: [5.0, 5.0], radius: 1.0 });
        // Centres at distance sqrt(0.5) < 1 from (5, 5): cells 4 and 5 on both axes.
        let erased: Vec<(usize, usize)> =
            (0..10).flat_map(|y| (0..10).map(move |x| (x, y))).filter(|&(x, y)| g.cell(x, y)[0] == 0.0).collect();
        assert_eq!(erased, vec![(4, 4), (5, 4), (4, 5), (5, 5)]);
    }

    #[test]
    fn seed_outside_grid_is_ignored() {
        let mut g = Grid::new(4, 4, 16);
        g.apply_growing(&Edit::PlantSeed { x: 9, y: 1, species: 0 });
        assert!(g.data.iter().all(|&v| v == 0.0));
    }
}
