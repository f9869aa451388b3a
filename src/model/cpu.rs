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

/// Advances `grid` by one step in place.
///
/// # Panics
/// If the grid does not have the model's 16 channels (a programming error: callers build
/// grids from the model).
pub fn step(w: &GrowingWeights, grid: &mut Grid, ctx: &StepContext) {
    assert_eq!(grid.channels, C, "growing NCA grids have {C} channels");
    let (width, height) = (grid.width, grid.height);
    let pre = grid.alive_mask();
    let needed = dilate(&pre, width, height);
    let threshold = fire::threshold(w.spec.fire_rate);
    let mut next = grid.data.clone();

    let source = &*grid;
    let rows_per_job = height.div_ceil(worker_count());
    std::thread::scope(|scope| {
        for (job, chunk) in next.chunks_mut(rows_per_job * width * C).enumerate() {
            let needed = &needed;
            scope.spawn(move || {
                let y0 = job * rows_per_job;
                for (i, cell) in chunk.chunks_exact_mut(C).enumerate() {
                    let (x, y) = (i % width, y0 + i / width);
                    if !needed[y * width + x]
                        || !fire::fires(ctx.seed, ctx.step, x as u32, y as u32, threshold)
                    {
                        continue;
                    }
                    let dx = update(w, &perceive(source, x, y, &ctx.sobel));
                    for (v, d) in cell.iter_mut().zip(dx) {
                        *v += d;
                    }
                }
            });
        }
    });

    let post = alive_mask(&next, width, height, C);
    for ((cell, &a), &b) in next.chunks_exact_mut(C).zip(&pre).zip(&post) {
        if !(a && b) {
            cell.fill(0.0);
        }
    }
    grid.data = next;
}

/// Runs `steps` steps starting at step number `first_step`.
pub fn run(w: &GrowingWeights, grid: &mut Grid, seed: u32, first_step: u32, steps: u32, sobel: &SobelPair) {
    for s in 0..steps {
        step(w, grid, &StepContext { seed, step: first_step.wrapping_add(s), sobel: *sobel });
    }
}

fn worker_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
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
