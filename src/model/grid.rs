//! Cell state on the CPU, and the edits that every backend applies the same way.

use super::spec::{ALPHA, ALIVE_THRESHOLD};

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
/// The GPU applies the same commands in `shaders/nca_edit.wgsl`; [`Grid::apply`] is the
/// reference for what they mean. Coordinates are in cells, with cell `(x, y)` covering
/// `[x, x + 1) × [y, y + 1)`, so its centre is `(x + 0.5, y + 0.5)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Edit {
    /// Zero every cell whose centre lies strictly inside the disc.
    EraseDisc {
        /// Disc centre, in cells.
        center: [f32; 2],
        /// Disc radius, in cells.
        radius: f32,
    },
    /// Make `(x, y)` a seed of `species`: RGB zero, alpha and hidden channels one.
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
}

impl Grid {
    /// An all-dead grid.
    pub fn new(width: usize, height: usize, channels: usize) -> Self {
        Self { width, height, channels, data: vec![0.0; width * height * channels], species: vec![0; width * height] }
    }

    /// A dead grid with one seed in the centre: the usual start of a growing model.
    pub fn seeded(width: usize, height: usize, channels: usize) -> Self {
        let mut grid = Self::new(width, height, channels);
        grid.apply(&Edit::PlantSeed { x: (width / 2) as u32, y: (height / 2) as u32, species: 0 });
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

    /// Applies an edit exactly as the GPU does.
    pub fn apply(&mut self, edit: &Edit) {
        match *edit {
            Edit::Clear => self.data.fill(0.0),
            Edit::PlantSeed { x, y, species } => {
                let (x, y) = (x as usize, y as usize);
                if x < self.width && y < self.height {
                    for (c, v) in self.cell_mut(x, y).iter_mut().enumerate() {
                        *v = if c >= ALPHA { 1.0 } else { 0.0 };
                    }
                    self.species[y * self.width + x] = species;
                }
            }
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
    let above: Vec<bool> =
        data.chunks_exact(channels).map(|cell| cell[ALPHA] > ALIVE_THRESHOLD).collect();
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
        g.apply(&Edit::EraseDisc { center: [5.0, 5.0], radius: 1.0 });
        // Centres at distance sqrt(0.5) < 1 from (5, 5): cells 4 and 5 on both axes.
        let erased: Vec<(usize, usize)> = (0..10)
            .flat_map(|y| (0..10).map(move |x| (x, y)))
            .filter(|&(x, y)| g.cell(x, y)[0] == 0.0)
            .collect();
        assert_eq!(erased, vec![(4, 4), (5, 4), (4, 5), (5, 5)]);
    }

    #[test]
    fn seed_outside_grid_is_ignored() {
        let mut g = Grid::new(4, 4, 16);
        g.apply(&Edit::PlantSeed { x: 9, y: 1, species: 0 });
        assert!(g.data.iter().all(|&v| v == 0.0));
    }
}
