//! The self-classifying MNIST NCA (Randazzo et al., Distill 2020): its layout, weights, the
//! reference step, its edits and how a cell's vote is read.
//!
//! ```text
//! state   20 channels: [grey, hidden × 9, class scores × 10]; grey is never written
//! alive   grey > 0.1 (the cell's own, no neighbourhood rule)
//! p       = relu(conv3x3(state; conv_w, conv_b))      20 → 80, zero padding
//! ds      = w2ᵀ · relu(w1ᵀ · p + b1) + b2             80 → 80 → 19
//! state[1..20] += (ds + noise) · fire · alive
//! vote    = argmax of the 10 class scores
//! ```
//!
//! `fire` is the shared hash ([`super::fire::fires`]) and `noise` the shared residual noise
//! ([`super::fire::noise`]), so every backend takes the same decisions. Dead cells never change
//! but are seen by their neighbours. Each cell runs the weights of its species (the adversarial
//! article's mixing rule); species ids never spread.
//!
//! The step batches the cells that are alive and fire, of every digit in the grid, into three
//! matrix products per species (`matrixmultiply`'s SGEMM), in fixed chunks of rows, so the result
//! does not depend on the number of threads.

use std::collections::BTreeMap;
use std::ops::Range;

use super::fire;
use super::grid::{Edit, Grid, pen_coverage};

/// Channels of an MNIST cell.
pub const CHANNELS: usize = 20;
/// The grey channel: the pixel value in [0, 1], read but never written by the update.
pub const GREY: usize = 0;
/// The channels the update writes: everything but grey.
pub const MUTABLE: Range<usize> = 1..CHANNELS;
/// Channels the update writes.
pub const UPDATE: usize = CHANNELS - 1;
/// The class scores of digits 0–9: the last ten channels.
pub const CLASS_SCORES: Range<usize> = 10..20;
/// Digits.
pub const CLASSES: usize = 10;
/// Width of both hidden layers.
pub const HIDDEN: usize = 80;
/// Inputs of the perception: a 3×3 neighbourhood of all 20 channels, `[ky, kx, channel]`.
pub const PERCEPTION: usize = 9 * CHANNELS;
/// A cell is alive while its grey is strictly above this.
pub const LIVE_THRESHOLD: f32 = 0.1;
/// The published fire rate.
pub const DEFAULT_FIRE_RATE: f32 = 0.5;
/// The published residual noise (standard deviation).
pub const DEFAULT_NOISE_STD: f32 = 0.02;
/// A cell whose class scores all stay below this has not made up its mind: the display draws
/// it dark (the notebook's `color_labels`).
pub const UNSURE_THRESHOLD: f32 = 0.01;
/// The paper's class colours, digits 0–9 (sRGB).
pub const PALETTE: [[u8; 3]; CLASSES] = [
    [128, 0, 0],
    [230, 25, 75],
    [70, 240, 240],
    [210, 245, 60],
    [250, 190, 190],
    [170, 110, 40],
    [170, 255, 195],
    [165, 163, 159],
    [0, 128, 128],
    [128, 128, 0],
];
/// Offsets of the tensors in a species block of the GPU weights buffer, then its constants.
pub mod block {
    use super::{CHANNELS, HIDDEN, PERCEPTION, UPDATE};
    /// `conv_w` `[180, 80]`.
    pub const CONV_W: usize = 0;
    /// `conv_b` `[80]`.
    pub const CONV_B: usize = CONV_W + PERCEPTION * HIDDEN;
    /// `w1` `[80, 80]`.
    pub const W1: usize = CONV_B + HIDDEN;
    /// `b1` `[80]`.
    pub const B1: usize = W1 + HIDDEN * HIDDEN;
    /// `w2` `[80, 20]`: a zero column, then the 19 outputs, so a row lines up with the state's
    /// 20 channels (five whole `vec4`s) and grey gets exactly nothing added.
    pub const W2: usize = B1 + HIDDEN;
    /// `b2` `[20]` (padded like `w2`).
    pub const B2: usize = W2 + HIDDEN * CHANNELS;
    /// The fire threshold (u32 bits), the noise scale, then two zeros.
    pub const CONSTANTS: usize = B2 + CHANNELS;
    /// Floats per species.
    pub const STRIDE: usize = CONSTANTS + 4;
    const _: () = assert!(UPDATE < CHANNELS && STRIDE.is_multiple_of(4));
}
/// Floats per MNIST species in the GPU weights buffer.
pub const SPECIES_STRIDE: usize = block::STRIDE;

/// What an MNIST model was trained to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MnistRole {
    /// Classify the digit the cells form (the paper's model).
    #[default]
    Classifier,
    /// Hijack the vote of a frozen classifier from a few cells (the adversarial article's).
    Adversary,
}

impl MnistRole {
    /// The value stored in `nca.role`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MnistRole::Classifier => "classifier",
            MnistRole::Adversary => "adversary",
        }
    }
}

impl std::str::FromStr for MnistRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "classifier" => Ok(MnistRole::Classifier),
            "adversary" => Ok(MnistRole::Adversary),
            other => Err(format!("unknown nca.role '{other}' (expected classifier or adversary)")),
        }
    }
}

/// The hyper-parameters of an MNIST NCA that are not weights.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistSpec {
    /// Probability that a cell applies its update in a step.
    pub fire_rate: f32,
    /// Standard deviation of the residual noise added before the fire mask (0: none).
    pub noise_std: f32,
    /// What the model does.
    pub role: MnistRole,
}

impl Default for MnistSpec {
    fn default() -> Self {
        Self { fire_rate: DEFAULT_FIRE_RATE, noise_std: DEFAULT_NOISE_STD, role: MnistRole::Classifier }
    }
}

/// Weights of an MNIST NCA, in TensorFlow's layouts (`[ky, kx, in, out]` and `[in, out]`).
#[derive(Clone, Debug, PartialEq)]
pub struct MnistWeights {
    /// Hyper-parameters.
    pub spec: MnistSpec,
    /// `[3, 3, 20, 80]`: the learned perception.
    pub conv_w: Vec<f32>,
    /// `[80]`.
    pub conv_b: Vec<f32>,
    /// `[80, 80]`.
    pub w1: Vec<f32>,
    /// `[80]`.
    pub b1: Vec<f32>,
    /// `[80, 19]`: the update of channels 1–19.
    pub w2: Vec<f32>,
    /// `[19]`.
    pub b2: Vec<f32>,
    /// Provenance metadata, kept verbatim.
    pub provenance: BTreeMap<String, String>,
}

impl MnistWeights {
    /// All-zero weights: every update is pure noise (and none without it).
    pub fn zeros(spec: MnistSpec) -> Self {
        Self {
            spec,
            conv_w: vec![0.0; PERCEPTION * HIDDEN],
            conv_b: vec![0.0; HIDDEN],
            w1: vec![0.0; HIDDEN * HIDDEN],
            b1: vec![0.0; HIDDEN],
            w2: vec![0.0; HIDDEN * UPDATE],
            b2: vec![0.0; UPDATE],
            provenance: BTreeMap::new(),
        }
    }

    /// The tensors by name with their shapes (the file format's names).
    pub fn tensors(&self) -> [(&'static str, Vec<usize>, &[f32]); 6] {
        [
            ("conv_w", vec![3, 3, CHANNELS, HIDDEN], &self.conv_w),
            ("conv_b", vec![HIDDEN], &self.conv_b),
            ("w1", vec![HIDDEN, HIDDEN], &self.w1),
            ("b1", vec![HIDDEN], &self.b1),
            ("w2", vec![HIDDEN, UPDATE], &self.w2),
            ("b2", vec![UPDATE], &self.b2),
        ]
    }

    /// The tensors, mutably, in the order of [`MnistWeights::tensors`].
    pub fn tensors_mut(&mut self) -> [&mut Vec<f32>; 6] {
        [&mut self.conv_w, &mut self.conv_b, &mut self.w1, &mut self.b1, &mut self.w2, &mut self.b2]
    }

    /// Checks lengths, finiteness and the hyper-parameters.
    pub fn validate(&self) -> Result<(), String> {
        super::weights::validate_tensors(&self.tensors())?;
        if !(self.spec.fire_rate > 0.0 && self.spec.fire_rate <= 1.0) {
            return Err(format!("nca.fire_rate {} is outside (0, 1]", self.spec.fire_rate));
        }
        if !(self.spec.noise_std >= 0.0 && self.spec.noise_std.is_finite()) {
            return Err(format!("nca.noise_std {} is not a finite value ≥ 0", self.spec.noise_std));
        }
        Ok(())
    }

    /// A short human description ("mnist · classifier").
    pub fn describe(&self) -> String {
        format!("mnist · {}", self.spec.role.as_str())
    }

    /// One species' block of the GPU weights buffer ([`block`]): the tensors, `w2` and `b2`
    /// with a leading zero column (20 outputs, aligned with the state's channels), then the fire
    /// threshold (bits) and the noise scale.
    pub fn species_block(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(block::STRIDE);
        out.extend_from_slice(&self.conv_w);
        out.extend_from_slice(&self.conv_b);
        out.extend_from_slice(&self.w1);
        out.extend_from_slice(&self.b1);
        for row in self.w2.chunks_exact(UPDATE) {
            out.push(0.0);
            out.extend_from_slice(row);
        }
        out.push(0.0);
        out.extend_from_slice(&self.b2);
        out.push(f32::from_bits(fire::threshold(self.spec.fire_rate)));
        out.push(fire::noise_scale(self.spec.noise_std));
        out.resize(block::STRIDE, 0.0);
        out
    }
}

/// Whether a cell (its 20 channels) is alive.
#[inline]
pub fn is_alive(cell: &[f32]) -> bool {
    cell[GREY] > LIVE_THRESHOLD
}

/// A cell's vote, as the evaluation and the display read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CellLabel {
    /// The cell is alive (grey above the threshold).
    pub alive: bool,
    /// The argmax of the 10 class scores (the first on a tie): what accuracy counts.
    pub class: u8,
    /// What agreement counts: the argmax of the scores followed by an 11th slot (10) that is 1
    /// for dead cells and 0 for living ones, as in the notebook's `eval_perform_steps`. So a dead
    /// cell, or a living one whose scores are all below zero, falls in slot 10, which no class
    /// counts; ties go to the first slot, so a living cell whose best score is exactly 0 votes
    /// for that class.
    pub vote: u8,
}

impl CellLabel {
    /// The slot of cells that vote for no class.
    pub const NO_VOTE: u8 = CLASSES as u8;

    /// The label packed in one word, as the GPU writes it: bits 0–3 class, 4–7 vote, 8 alive
    /// ([`super::kind::LABEL_ALIVE`]; a label word's species bits are left out here).
    pub const fn pack(self) -> u32 {
        self.class as u32 | (self.vote as u32) << 4 | (self.alive as u32) << 8
    }

    /// The inverse of [`CellLabel::pack`] (species bits are ignored).
    pub const fn unpack(word: u32) -> Self {
        Self { class: (word & 0xf) as u8, vote: ((word >> 4) & 0xf) as u8, alive: word & 0x100 != 0 }
    }
}

/// The label of one cell (its 20 channels).
pub fn cell_label(cell: &[f32]) -> CellLabel {
    let scores = &cell[CLASS_SCORES];
    let mut class = 0;
    for (i, &s) in scores.iter().enumerate() {
        // `>` keeps the first of equal maxima, as tf.argmax does.
        if s > scores[class] {
            class = i;
        }
    }
    let alive = is_alive(cell);
    let vote = if alive && scores[class] >= 0.0 { class as u8 } else { CellLabel::NO_VOTE };
    CellLabel { alive, class: class as u8, vote }
}

/// MNIST's meaning of the edits it accepts (see [`Edit`]); `Grid::apply_shared` does the rest.
pub(crate) fn apply_edit(grid: &mut Grid, edit: &Edit) {
    if grid.apply_shared(edit) {
        return;
    }
    match edit {
        Edit::Draw { center, radius, species } => {
            let (origin, size, coverage) = super::grid::pen_stamp(*center, *radius, grid.width, grid.height);
            for (i, &s) in coverage.iter().enumerate() {
                if s <= 0.0 {
                    continue;
                }
                let (x, y) = (origin[0] as usize + i % size[0] as usize, origin[1] as usize + i / size[0] as usize);
                debug_assert_eq!(s, pen_coverage(x as u32, y as u32, *center, *radius));
                draw_on_cell(grid.cell_mut(x, y), s);
                grid.species[y * grid.width + x] = *species;
            }
        }
        Edit::PlaceImage(image) => {
            let (width, height) = (grid.width, grid.height);
            for (x, y, grey) in image.cells(width, height) {
                place_on_cell(grid.cell_mut(x, y), grey);
            }
        }
        _ => {}
    }
}

/// The pen's rule on one cell: `state · (1 − s) + [s, 0, …, 0]`.
#[inline]
pub fn draw_on_cell(cell: &mut [f32], coverage: f32) {
    let keep = 1.0 - coverage;
    for v in cell.iter_mut() {
        *v *= keep;
    }
    cell[GREY] += coverage;
}

/// The switcheroo on one cell: grey replaced, the rest kept only where the new grey is alive.
#[inline]
pub fn place_on_cell(cell: &mut [f32], grey: f32) {
    cell[GREY] = grey;
    if grey <= LIVE_THRESHOLD {
        cell[MUTABLE].fill(0.0);
    }
}

/// A fresh state for a digit: grey from the pixels, everything else zero.
pub fn digit_grid(width: usize, height: usize, pixels: &[u8]) -> Grid {
    assert_eq!(pixels.len(), width * height, "one pixel per cell");
    let mut grid = Grid::new(width, height, CHANNELS);
    for (cell, &p) in grid.data.chunks_exact_mut(CHANNELS).zip(pixels) {
        cell[GREY] = p as f32 / 255.0;
    }
    grid
}

/// A picture as digit greys in [0, 1], `(width, height, greys)`: luminance over white, inverted
/// if the picture is mostly light (MNIST digits are light strokes on black). Pictures larger than
/// 4096 pixels a side are refused before they are decoded.
pub fn grey_picture(path: &std::path::Path) -> Result<(usize, usize, Vec<f32>), super::ModelError> {
    let picture = super::target::load_picture(path)?;
    let luma = picture.to_luma_alpha8();
    // Transparent pixels are paper: composite over white first.
    let grey: Vec<f32> = luma
        .pixels()
        .map(|p| {
            let a = p[1] as f32 / 255.0;
            p[0] as f32 / 255.0 * a + (1.0 - a)
        })
        .collect();
    let mean = grey.iter().sum::<f32>() / grey.len().max(1) as f32;
    let grey = if mean > 0.5 { grey.iter().map(|v| 1.0 - v).collect() } else { grey };
    Ok((luma.width() as usize, luma.height() as usize, grey))
}

/// Rows of one matrix-product job: fixed, so results never depend on the thread count.
const CHUNK: usize = 256;

/// One matrix-product job: a species' weights, up to [`CHUNK`] cells, and their updates' rows.
type Job<'a> = (&'a MnistWeights, &'a [u32], &'a mut [f32]);

/// Advances a single-species grid by one step in place.
pub fn step(w: &MnistWeights, grid: &mut Grid, seed: u32, step: u32) {
    step_species(&[w], grid, seed, step);
}

/// Runs `steps` steps of a multi-species grid starting at step number `first_step`.
pub fn run_species(models: &[&MnistWeights], grid: &mut Grid, seed: u32, first_step: u32, steps: u32) {
    for s in 0..steps {
        step_species(models, grid, seed, first_step.wrapping_add(s));
    }
}

/// The cells that update this step (alive and firing), grouped by species.
pub fn active_cells(models: &[&MnistWeights], grid: &Grid, seed: u32, step: u32) -> Vec<Vec<u32>> {
    let thresholds: Vec<u32> = models.iter().map(|w| fire::threshold(w.spec.fire_rate)).collect();
    let mut active = vec![Vec::new(); models.len()];
    for (cell, values) in grid.data.chunks_exact(CHANNELS).enumerate() {
        if !is_alive(values) {
            continue;
        }
        let species = grid.species[cell] as usize;
        let species = if species < models.len() { species } else { 0 };
        let (x, y) = ((cell % grid.width) as u32, (cell / grid.width) as u32);
        if fire::fires(seed, step, x, y, thresholds[species]) {
            active[species].push(cell as u32);
        }
    }
    active
}

/// Advances `grid` by one step in place, each cell updated by `models[its species]` (ids
/// without a model read as 0).
///
/// # Panics
/// If `models` is empty or the grid does not have 20 channels (programming errors).
pub fn step_species(models: &[&MnistWeights], grid: &mut Grid, seed: u32, step: u32) {
    assert_eq!(grid.channels, CHANNELS, "MNIST grids have {CHANNELS} channels");
    assert!(!models.is_empty(), "a grid needs at least one model");
    let active = active_cells(models, grid, seed, step);
    let total: usize = active.iter().map(Vec::len).sum();
    if total == 0 {
        return;
    }
    // Every update is computed from the state before the step, then added.
    let mut updates = vec![0.0f32; total * UPDATE];
    {
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut rest = updates.as_mut_slice();
        for (species, cells) in active.iter().enumerate() {
            for chunk in cells.chunks(CHUNK) {
                let (out, tail) = rest.split_at_mut(chunk.len() * UPDATE);
                rest = tail;
                jobs.push((models[species], chunk, out));
            }
        }
        let source = &*grid;
        let workers = if total < 2 * CHUNK { 1 } else { worker_count().min(jobs.len()) };
        if workers == 1 {
            let mut scratch = Scratch::default();
            for (w, cells, out) in jobs {
                update_rows(w, source, cells, seed, step, &mut scratch, out);
            }
        } else {
            let mut shares: Vec<Vec<Job<'_>>> = (0..workers).map(|_| Vec::new()).collect();
            for (i, job) in jobs.into_iter().enumerate() {
                shares[i % workers].push(job);
            }
            std::thread::scope(|scope| {
                for share in shares {
                    scope.spawn(move || {
                        let mut scratch = Scratch::default();
                        for (w, cells, out) in share {
                            update_rows(w, source, cells, seed, step, &mut scratch, out);
                        }
                    });
                }
            });
        }
    }
    let mut at = 0;
    for cells in &active {
        for &cell in cells {
            let values = &mut grid.data[cell as usize * CHANNELS..(cell as usize + 1) * CHANNELS];
            for (v, d) in values[MUTABLE].iter_mut().zip(&updates[at..at + UPDATE]) {
                *v += d;
            }
            at += UPDATE;
        }
    }
}

/// Per-thread buffers of [`update_rows`].
#[derive(Default)]
struct Scratch {
    perception: Vec<f32>,
    hidden: Vec<f32>,
    hidden2: Vec<f32>,
}

/// The updates (network output plus noise) of `cells`, into `out` `[cells, 19]`.
fn update_rows(w: &MnistWeights, grid: &Grid, cells: &[u32], seed: u32, step: u32, scratch: &mut Scratch, out: &mut [f32]) {
    let rows = cells.len();
    let (width, height) = (grid.width as i64, grid.height as i64);
    scratch.perception.clear();
    scratch.perception.resize(rows * PERCEPTION, 0.0);
    for (row, &cell) in scratch.perception.chunks_exact_mut(PERCEPTION).zip(cells) {
        let (x, y) = ((cell as i64) % width, (cell as i64) / width);
        for (offset, slot) in row.chunks_exact_mut(CHANNELS).enumerate() {
            let (xx, yy) = (x + offset as i64 % 3 - 1, y + offset as i64 / 3 - 1);
            if (0..width).contains(&xx) && (0..height).contains(&yy) {
                slot.copy_from_slice(grid.cell(xx as usize, yy as usize));
            }
        }
    }
    scratch.hidden.resize(rows * HIDDEN, 0.0);
    scratch.hidden2.resize(rows * HIDDEN, 0.0);
    dense(&scratch.perception, PERCEPTION, &w.conv_w, &w.conv_b, &mut scratch.hidden, true);
    dense(&scratch.hidden, HIDDEN, &w.w1, &w.b1, &mut scratch.hidden2, true);
    dense(&scratch.hidden2, HIDDEN, &w.w2, &w.b2, out, false);
    let scale = fire::noise_scale(w.spec.noise_std);
    if scale != 0.0 {
        for (row, &cell) in out.chunks_exact_mut(UPDATE).zip(cells) {
            let (x, y) = (cell % grid.width as u32, cell / grid.width as u32);
            let hash = fire::cell_hash(seed, step, x, y);
            for (c, v) in row.iter_mut().enumerate() {
                *v += fire::noise_sum(hash, c as u32) as f32 * scale;
            }
        }
    }
}

/// `out = input · weights + bias` (row-major, `[rows, k] · [k, n]`), then ReLU if asked.
fn dense(input: &[f32], k: usize, weights: &[f32], bias: &[f32], out: &mut [f32], relu: bool) {
    let n = bias.len();
    let rows = input.len() / k;
    assert!(input.len() == rows * k && weights.len() == k * n && out.len() == rows * n, "matrix shapes");
    for row in out.chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
    // SAFETY: the asserts above give every matrix exactly the extent the strides describe, and
    // `out` does not alias the inputs (it is a distinct `&mut`).
    unsafe {
        matrixmultiply::sgemm(
            rows,
            k,
            n,
            1.0,
            input.as_ptr(),
            k as isize,
            1,
            weights.as_ptr(),
            n as isize,
            1,
            1.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    if relu {
        for v in out.iter_mut() {
            // NaN and negative values both become 0, as in the shader.
            if v.is_nan() || *v <= 0.0 {
                *v = 0.0;
            }
        }
    }
}

fn worker_count() -> usize {
    crate::platform::worker_count()
}

/// One update of one cell computed term by term in plain loops: the definition that
/// [`step_species`]' matrix products must match (tests compare them).
pub fn update_by_definition(w: &MnistWeights, grid: &Grid, x: usize, y: usize, seed: u32, step: u32) -> [f32; UPDATE] {
    let mut hidden = [0.0f64; HIDDEN];
    for (o, h) in hidden.iter_mut().enumerate() {
        *h = w.conv_b[o] as f64;
        for ky in 0..3 {
            for kx in 0..3 {
                let (xx, yy) = (x as i64 + kx as i64 - 1, y as i64 + ky as i64 - 1);
                if !(0..grid.width as i64).contains(&xx) || !(0..grid.height as i64).contains(&yy) {
                    continue;
                }
                for (c, &v) in grid.cell(xx as usize, yy as usize).iter().enumerate() {
                    *h += v as f64 * w.conv_w[((ky * 3 + kx) * CHANNELS + c) * HIDDEN + o] as f64;
                }
            }
        }
        *h = h.max(0.0);
    }
    let mut hidden2 = [0.0f64; HIDDEN];
    for (o, h2) in hidden2.iter_mut().enumerate() {
        *h2 = (w.b1[o] as f64 + (0..HIDDEN).map(|i| hidden[i] * w.w1[i * HIDDEN + o] as f64).sum::<f64>()).max(0.0);
    }
    let scale = fire::noise_scale(w.spec.noise_std);
    std::array::from_fn(|o| {
        let d = w.b2[o] as f64 + (0..HIDDEN).map(|i| hidden2[i] * w.w2[i * UPDATE + o] as f64).sum::<f64>();
        (d as f32) + fire::noise(seed, step, x as u32, y as u32, o as u32, scale)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_weights(salt: u32) -> MnistWeights {
        let mut w = MnistWeights::zeros(MnistSpec::default());
        let mut i = salt.wrapping_mul(7919);
        for (t, scale) in w.tensors_mut().into_iter().zip([0.2f32, 0.05, 0.15, 0.05, 0.1, 0.02]) {
            for v in t.iter_mut() {
                i = i.wrapping_add(1);
                *v = (fire::pcg(i) as f32 / u32::MAX as f32 - 0.5) * scale;
            }
        }
        w
    }

    fn digit_like(width: usize, height: usize) -> Grid {
        let pixels: Vec<u8> = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32, (i / width) as f32);
                let d = ((x - width as f32 / 2.0).powi(2) + (y - height as f32 / 2.0).powi(2)).sqrt();
                if (d - 6.0).abs() < 2.0 { 220 } else { 0 }
            })
            .collect();
        let mut g = digit_grid(width, height, &pixels);
        for (cell, values) in g.data.chunks_exact_mut(CHANNELS).enumerate() {
            if is_alive(values) {
                for (c, v) in values[MUTABLE].iter_mut().enumerate() {
                    *v = (fire::pcg((cell * CHANNELS + c) as u32) as f32 / u32::MAX as f32 - 0.5) * 0.5;
                }
            }
        }
        g
    }

    #[test]
    fn batched_step_matches_the_definition() {
        let w = random_weights(1);
        let before = digit_like(31, 29);
        let mut after = before.clone();
        step(&w, &mut after, 5, 17);
        let t = fire::threshold(w.spec.fire_rate);
        let mut updated = 0;
        for y in 0..before.height {
            for x in 0..before.width {
                let (old, new) = (before.cell(x, y), after.cell(x, y));
                assert_eq!(old[GREY], new[GREY], "grey is never written");
                if is_alive(old) && fire::fires(5, 17, x as u32, y as u32, t) {
                    updated += 1;
                    let expected = update_by_definition(&w, &before, x, y, 5, 17);
                    for c in 0..UPDATE {
                        let got = new[c + 1] - old[c + 1];
                        assert!((got - expected[c]).abs() < 2e-5, "({x},{y}) channel {}: {got} vs {}", c + 1, expected[c]);
                    }
                } else {
                    assert_eq!(old, new, "({x},{y}) is dead or did not fire, yet changed");
                }
            }
        }
        assert!(updated > 20, "only {updated} cells updated: the check would be weak");
    }

    #[test]
    fn threads_and_chunks_do_not_change_the_result() {
        // Large enough for several chunks on several threads; one-chunk-at-a-time runs must agree.
        let w = random_weights(2);
        let grid = digit_like(120, 90);
        let mut parallel = grid.clone();
        step(&w, &mut parallel, 1, 2);
        let mut serial = grid.clone();
        let active = active_cells(&[&w], &grid, 1, 2);
        let mut scratch = Scratch::default();
        for chunk in active[0].chunks(CHUNK) {
            let mut out = vec![0.0; chunk.len() * UPDATE];
            update_rows(&w, &grid, chunk, 1, 2, &mut scratch, &mut out);
            for (&cell, d) in chunk.iter().zip(out.chunks_exact(UPDATE)) {
                for (c, v) in d.iter().enumerate() {
                    serial.data[cell as usize * CHANNELS + 1 + c] += v;
                }
            }
        }
        assert_eq!(parallel.data, serial.data);
    }

    #[test]
    fn each_species_runs_its_own_weights_and_ids_never_spread() {
        let (a, b) = (random_weights(3), random_weights(4));
        let mut grid = digit_like(30, 30);
        for y in 0..30 {
            for x in 15..30 {
                grid.species[y * 30 + x] = 1;
            }
        }
        let mut mixed = grid.clone();
        step_species(&[&a, &b], &mut mixed, 9, 0);
        let (mut only_a, mut only_b) = (grid.clone(), grid.clone());
        step(&a, &mut only_a, 9, 0);
        step(&b, &mut only_b, 9, 0);
        for y in 0..30 {
            for x in 0..30 {
                let expected = if x < 15 { only_a.cell(x, y) } else { only_b.cell(x, y) };
                assert_eq!(mixed.cell(x, y), expected, "({x},{y})");
            }
        }
        assert_eq!(mixed.species, grid.species);
    }

    #[test]
    fn labels_follow_the_notebook() {
        let mut cell = [0.0f32; CHANNELS];
        cell[GREY] = 0.5;
        // A fresh living cell: every score is 0, so tf.argmax picks class 0 for both.
        assert_eq!(cell_label(&cell), CellLabel { alive: true, class: 0, vote: 0 });
        for s in &mut cell[CLASS_SCORES] {
            *s = -0.3;
        }
        cell[CLASS_SCORES.start + 7] = -0.1;
        assert_eq!(cell_label(&cell), CellLabel { alive: true, class: 7, vote: CellLabel::NO_VOTE });
        cell[CLASS_SCORES.start + 4] = 0.2;
        cell[CLASS_SCORES.start + 9] = 0.2;
        assert_eq!(cell_label(&cell), CellLabel { alive: true, class: 4, vote: 4 }, "ties go to the first");
        cell[GREY] = 0.1;
        assert_eq!(cell_label(&cell).vote, CellLabel::NO_VOTE, "dead at exactly the threshold");
        let label = cell_label(&cell);
        assert_eq!(CellLabel::unpack(label.pack()), label);
    }

    #[test]
    fn pen_and_placement_follow_the_demo() {
        let mut grid = digit_like(28, 28);
        let before = grid.clone();
        apply_edit(&mut grid, &Edit::Draw { center: [14.0, 8.0], radius: 2.0, species: 3 });
        let full = grid.cell(13, 7);
        assert_eq!(full[GREY], 1.0);
        assert!(full[1..].iter().all(|&v| v == 0.0), "the pen wipes the hidden state");
        assert_eq!(grid.species[7 * 28 + 13], 3);
        // A cell on the soft edge keeps part of its state.
        let (x, y) = (15, 7);
        let s = pen_coverage(x, y, [14.0, 8.0], 2.0);
        assert!(s > 0.0 && s < 1.0, "coverage {s}");
        let mut expected = before.cell(x as usize, y as usize).to_vec();
        draw_on_cell(&mut expected, s);
        assert_eq!(grid.cell(x as usize, y as usize), &expected[..]);

        let mut placed = before.clone();
        let grey: Vec<f32> = (0..16).map(|i| if i % 2 == 0 { 0.9 } else { 0.05 }).collect();
        let image = super::super::grid::GreyImage { origin: [12, 12], width: 4, height: 4, grey: grey.into() };
        apply_edit(&mut placed, &Edit::PlaceImage(image));
        assert_eq!(placed.cell(12, 12)[GREY], 0.9);
        assert_eq!(&placed.cell(12, 12)[1..], &before.cell(12, 12)[1..], "kept where the new grey is alive");
        assert!(placed.cell(13, 12)[1..].iter().all(|&v| v == 0.0), "wiped where it is not");
    }

    #[test]
    fn species_block_lays_out_padded_rows() {
        let w = random_weights(5);
        let b = w.species_block();
        assert_eq!(b.len(), SPECIES_STRIDE);
        assert_eq!(&b[block::W1..block::W1 + 3], &w.w1[..3]);
        assert_eq!(b[block::W2 + CHANNELS + 2], w.w2[UPDATE + 1], "row 1 starts at 20, after its zero");
        assert_eq!(b[block::W2 + CHANNELS], 0.0, "the padding column");
        assert_eq!(b[block::B2 + 1], w.b2[0]);
        assert_eq!(b[block::CONSTANTS].to_bits(), fire::threshold(0.5));
        assert_eq!(b[block::CONSTANTS + 1], fire::noise_scale(0.02));
    }
}
