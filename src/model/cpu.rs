//! The plain-Rust reference step: the ground truth every other backend is tested against.
//!
//! One step of the growing NCA, exactly as in the Distill notebook:
//!
//! ```text
//! pre   = maxpool3x3(alpha(x)) > 0.1
//! p     = [x, Kx' * x, Ky' * x]                 (per channel, zero padding, filter-major)
//! dx    = W2ᵀ · relu(W1ᵀ · p + b1) + b2
//! x'    = x + dx · fire(seed, step, cell)
//! post  = maxpool3x3(alpha(x')) > 0.1
//! x_out = x' · (pre ∧ post)
//! ```
//!
//! Several species can share a grid: each cell carries a species id (`Grid::species`) and is
//! updated by that species' weights and fire rate. A living cell (alpha above the threshold)
//! keeps its id; any other cell takes the id of its living neighbour with the largest alpha
//! (the first in reading order on a tie), so ids spread with growth. See [`species_for_step`].
//!
//! Summation orders are fixed (neighbours row-major, inputs ascending, hidden units
//! ascending, biases first) and shared with `shaders/nca_step.wgsl`, so the two agree to
//! rounding. Cells farther than two cells from any alpha above the threshold cannot affect
//! anything that survives the mask, so their update is skipped; the result is identical.

use super::fire;
use super::grid::{Grid, alive_mask, dilate};
use super::perception::SobelPair;
use super::spec::{GROWING_CHANNELS as C, GROWING_HIDDEN as H, GROWING_PERCEPTION as P};
use super::weights::GrowingWeights;

/// Everything a step needs besides weights and state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepContext {
    /// The grid's seed for the fire hash.
    pub seed: u32,
    /// The step number (the fire hash's second input).
    pub step: u32,
    /// The (possibly rotated) gradient kernels.
    pub sobel: SobelPair,
}

/// The perception vector of one cell, filter-major: `[identity(16), Kx(16), Ky(16)]`.
pub fn perceive(grid: &Grid, x: usize, y: usize, sobel: &SobelPair) -> [f32; P] {
    let mut p = [0.0f32; P];
    p[..C].copy_from_slice(grid.cell(x, y));
    for (dy, (row_x, row_y)) in sobel.x.iter().zip(&sobel.y).enumerate() {
        let Some(yy) = (y + dy).checked_sub(1).filter(|&v| v < grid.height) else { continue };
        for dx in 0..3 {
            let Some(xx) = (x + dx).checked_sub(1).filter(|&v| v < grid.width) else { continue };
            let (kx, ky) = (row_x[dx], row_y[dx]);
            for (c, &v) in grid.cell(xx, yy).iter().enumerate() {
                p[C + c] += kx * v;
                p[2 * C + c] += ky * v;
            }
        }
    }
    p
}

/// The update `dx` for one perception vector.
pub fn update(w: &GrowingWeights, p: &[f32; P]) -> [f32; C] {
    let mut hidden = [0.0f32; H];
    hidden.copy_from_slice(&w.b1);
    for (i, &pi) in p.iter().enumerate() {
        let row = &w.w1[i * H..(i + 1) * H];
        for (h, &wij) in hidden.iter_mut().zip(row) {
            *h += pi * wij;
        }
    }
    let mut dx = [0.0f32; C];
    dx.copy_from_slice(&w.b2);
    for (j, &h) in hidden.iter().enumerate() {
        // ReLU; a unit at zero (or NaN) contributes nothing, exactly as in the shader.
        if h.is_nan() || h <= 0.0 {
            continue;
        }
        let row = &w.w2[j * C..(j + 1) * C];
        for (d, &wjk) in dx.iter_mut().zip(row) {
            *d += h * wjk;
        }
    }
    dx
}

/// Advances a single-species `grid` by one step in place (every cell uses `w`).
///
/// # Panics
/// If the grid does not have the model's 16 channels (a programming error: callers build
/// grids from the model).
pub fn step(w: &GrowingWeights, grid: &mut Grid, ctx: &StepContext) {
    step_species(&[w], grid, ctx);
}

/// The species each cell is updated by this step: a living cell's own, otherwise that of its
/// living neighbour with the largest alpha (first in reading order on a tie), otherwise its
/// own. Ids without a model (`>= species_count`) read as 0.
pub fn species_for_step(grid: &Grid, species_count: usize) -> Vec<u32> {
    let (width, height) = (grid.width, grid.height);
    let alpha = |x: usize, y: usize| grid.data[(y * width + x) * grid.channels + super::spec::ALPHA];
    let mut out = Vec::with_capacity(grid.cells());
    for y in 0..height {
        for x in 0..width {
            let own = grid.species[y * width + x];
            let mut chosen = own;
            if alpha(x, y) <= super::spec::ALIVE_THRESHOLD {
                let mut best = super::spec::ALIVE_THRESHOLD;
                for yy in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                    for xx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                        let a = alpha(xx, yy);
                        if a > best {
                            best = a;
                            chosen = grid.species[yy * width + xx];
                        }
                    }
                }
            }
            out.push(if (chosen as usize) < species_count { chosen } else { 0 });
        }
    }
    out
}

/// Advances `grid` by one step in place, each cell updated by `models[its species]`.
///
/// # Panics
/// If `models` is empty or the grid does not have 16 channels (programming errors).
pub fn step_species(models: &[&GrowingWeights], grid: &mut Grid, ctx: &StepContext) {
    assert_eq!(grid.channels, C, "growing NCA grids have {C} channels");
    assert!(!models.is_empty(), "a grid needs at least one model");
    let (width, height) = (grid.width, grid.height);
    let pre = grid.alive_mask();
    let needed = dilate(&pre, width, height);
    let species = species_for_step(grid, models.len());
    let thresholds: Vec<u32> = models.iter().map(|w| fire::threshold(w.spec.fire_rate)).collect();
    let mut next = grid.data.clone();

    let source = &*grid;
    let update_band = |y0: usize, band: &mut [f32]| {
        for (i, cell) in band.chunks_exact_mut(C).enumerate() {
            let (x, y) = (i % width, y0 + i / width);
            let s = species[y * width + x] as usize;
            if !needed[y * width + x] || !fire::fires(ctx.seed, ctx.step, x as u32, y as u32, thresholds[s]) {
                continue;
            }
            let dx = update(models[s], &perceive(source, x, y, &ctx.sobel));
            for (v, d) in cell.iter_mut().zip(dx) {
                *v += d;
            }
        }
    };
    let workers = worker_count();
    if workers == 1 {
        // A page has one thread: the same work, inline.
        update_band(0, &mut next);
    } else {
        let rows_per_job = height.div_ceil(workers);
        let update_band = &update_band;
        std::thread::scope(|scope| {
            for (job, band) in next.chunks_mut(rows_per_job * width * C).enumerate() {
                scope.spawn(move || update_band(job * rows_per_job, band));
            }
        });
    }

    let post = alive_mask(&next, width, height, C);
    for ((cell, &a), &b) in next.chunks_exact_mut(C).zip(&pre).zip(&post) {
        if !(a && b) {
            cell.fill(0.0);
        }
    }
    grid.data = next;
    grid.species = species;
}

/// Runs `steps` steps starting at step number `first_step`.
pub fn run(w: &GrowingWeights, grid: &mut Grid, seed: u32, first_step: u32, steps: u32, sobel: &SobelPair) {
    run_species(&[w], grid, seed, first_step, steps, sobel);
}

/// Runs `steps` steps of a multi-species grid starting at step number `first_step`.
pub fn run_species(models: &[&GrowingWeights], grid: &mut Grid, seed: u32, first_step: u32, steps: u32, sobel: &SobelPair) {
    for s in 0..steps {
        step_species(models, grid, &StepContext { seed, step: first_step.wrapping_add(s), sobel: *sobel });
    }
}

fn worker_count() -> usize {
    crate::platform::worker_count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::GrowingSpec;

    #[test]
    fn zero_weights_keep_a_seed_unchanged() {
        let w = GrowingWeights::zeros(GrowingSpec::default());
        let mut g = Grid::seeded(9, 9, C);
        let before = g.clone();
        run(&w, &mut g, 1, 0, 10, &SobelPair::default());
        assert_eq!(g, before);
    }

    #[test]
    fn dead_cells_far_from_life_stay_dead_even_with_a_bias() {
        let mut w = GrowingWeights::zeros(GrowingSpec { fire_rate: 1.0, ..Default::default() });
        w.b2[3] = 0.05; // every firing cell gains alpha
        let mut g = Grid::seeded(15, 15, C);
        step(&w, &mut g, &StepContext { seed: 0, step: 0, sobel: SobelPair::default() });
        // Alive region can grow by at most one ring per step: the seed's 3×3 neighbourhood.
        let alive = g.data.chunks(C).filter(|c| c.iter().any(|&v| v != 0.0)).count();
        assert_eq!(alive, 9);
        assert!((g.cell(7, 7)[3] - 1.05).abs() < 1e-6);
        assert!((g.cell(6, 7)[3] - 0.05).abs() < 1e-6);
    }

    #[test]
    fn species_spread_to_newly_alive_cells_from_the_strongest_neighbour() {
        let mut g = Grid::new(5, 3, C);
        g.cell_mut(1, 1)[3] = 0.5;
        g.species[5 + 1] = 1;
        g.cell_mut(3, 1)[3] = 0.9;
        g.species[5 + 3] = 2;
        g.species[5 + 2] = 7; // dead cell between them, stale id
        let s = species_for_step(&g, 3);
        assert_eq!(s[5 + 1], 1, "a living cell keeps its id");
        assert_eq!(s[5 + 2], 2, "the dead middle cell joins the stronger neighbour");
        assert_eq!(s[5], 1);
        assert_eq!(s[4], 2);
        assert_eq!(species_for_step(&Grid { species: vec![9; 15], ..Grid::new(5, 3, C) }, 3), vec![0; 15], "unknown ids read as 0");
    }

    #[test]
    fn each_species_is_updated_by_its_own_weights() {
        let spec = GrowingSpec { fire_rate: 1.0, ..Default::default() };
        let (mut a, mut b) = (GrowingWeights::zeros(spec.clone()), GrowingWeights::zeros(spec));
        a.b2[0] = 0.25;
        b.b2[0] = -0.5;
        let mut g = Grid::new(11, 5, C);
        g.apply_growing(&crate::model::grid::Edit::PlantSeed { x: 2, y: 2, species: 0 });
        g.apply_growing(&crate::model::grid::Edit::PlantSeed { x: 8, y: 2, species: 1 });
        step_species(&[&a, &b], &mut g, &StepContext { seed: 0, step: 0, sobel: SobelPair::default() });
        assert!((g.cell(2, 2)[0] - 0.25).abs() < 1e-6);
        assert!((g.cell(8, 2)[0] + 0.5).abs() < 1e-6);
        assert_eq!((g.species[2 * 11 + 3], g.species[2 * 11 + 9]), (0, 1), "neighbours joined their seed's species");
    }

    #[test]
    fn perception_gradient_points_along_x() {
        let mut g = Grid::new(3, 3, C);
        for y in 0..3 {
            for x in 0..3 {
                g.cell_mut(x, y)[0] = x as f32;
            }
        }
        let p = perceive(&g, 1, 1, &SobelPair::default());
        assert!((p[C] - 1.0).abs() < 1e-6, "d/dx of x is 1, got {}", p[C]);
        assert!(p[2 * C].abs() < 1e-6);
    }
}
