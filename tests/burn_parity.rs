//! The Burn module against the CPU reference, on the ndarray backend.

mod common;

use burn::backend::NdArray;
use burn::prelude::*;
use common::{diff, lizard};
use nca_sandbox::cli::bench::{alive_grid, bench_weights};
use nca_sandbox::model::perception::SobelPair;
use nca_sandbox::model::spec::GrowingSpec;
use nca_sandbox::model::{Grid, NcaWeights, cpu};
use nca_sandbox::train::model::ActiveBatch;
use nca_sandbox::train::{GrowingNca, fire_mask};

type B = NdArray<f32>;

fn to_tensor(grids: &[&Grid]) -> Tensor<B, 4> {
    let (h, w, c) = (grids[0].height, grids[0].width, grids[0].channels);
    let data: Vec<f32> = grids.iter().flat_map(|g| g.data.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [grids.len(), h, w, c]), &Default::default())
}

fn to_grids(t: Tensor<B, 4>) -> Vec<Grid> {
    let [n, h, w, c] = t.dims();
    let data = t.into_data().to_vec::<f32>().unwrap();
    data.chunks(h * w * c).take(n).map(|d| Grid::from_data(w, h, c, d.to_vec()).unwrap()).collect()
}

/// The two ways the module steps: every cell (`step`), or only the active cells (`step_active`,
/// which training uses).
#[derive(Clone, Copy, Debug)]
enum Path {
    Dense,
    Active,
}

const PATHS: [Path; 2] = [Path::Dense, Path::Active];

fn burn_run_on(path: Path, weights: &NcaWeights, start: &[&Grid], seeds: &[u32], first: u32, steps: u32, sobel: &SobelPair) -> Vec<Grid> {
    let w = weights.expect_growing().unwrap();
    let device = Default::default();
    let module = GrowingNca::<B>::from_weights(w, &device);
    let (h, wd) = (start[0].height, start[0].width);
    let mut state = to_tensor(start);
    match path {
        Path::Dense => {
            for s in 0..steps {
                state = module.step(state, fire_mask::<B>(seeds, first + s, h, wd, w.spec.fire_rate, &device), sobel);
            }
        }
        Path::Active => {
            let mut batch = ActiveBatch::new(state);
            for s in 0..steps {
                batch = module.step_active(batch, seeds, first + s, w.spec.fire_rate, sobel);
            }
            state = batch.into_state();
        }
    }
    to_grids(state)
}

fn burn_run(weights: &NcaWeights, start: &[&Grid], seeds: &[u32], first: u32, steps: u32, sobel: &SobelPair) -> Vec<Grid> {
    burn_run_on(Path::Dense, weights, start, seeds, first, steps, sobel)
}

fn cpu_run(weights: &NcaWeights, grid: &Grid, seed: u32, first: u32, steps: u32, sobel: &SobelPair) -> Grid {
    let w = weights.expect_growing().unwrap();
    let mut g = grid.clone();
    cpu::run(w, &mut g, seed, first, steps, sobel);
    g
}

#[test]
fn weights_round_trip_through_the_module_bit_exactly() {
    let w = lizard().expect_growing().unwrap().clone();
    let module = GrowingNca::<B>::from_weights(&w, &Default::default());
    let back = module.to_weights(w.spec.clone());
    assert_eq!((back.w1, back.b1, back.w2, back.b2), (w.w1.clone(), w.b1.clone(), w.w2.clone(), w.b2.clone()));
}

#[test]
fn one_burn_step_equals_the_cpu_step() {
    let liz = lizard();
    let grown = cpu_run(&liz, &Grid::seeded(72, 72, 16), 5, 0, 60, &SobelPair::default());
    for (name, weights, state) in [("lizard@60", liz, grown), ("random-alive", bench_weights(), alive_grid(40))] {
        for sobel in [SobelPair::default(), SobelPair::rotated_degrees(30.0)] {
            let expected = cpu_run(&weights, &state, 11, 60, 1, &sobel);
            for path in PATHS {
                let got = burn_run_on(path, &weights, &[&state], &[11], 60, 1, &sobel).remove(0);
                let (max, _) = diff(&got.data, &expected.data);
                assert!(max <= 1e-5, "{name} ({path:?}): Burn step differs from the CPU by {max:e}");
            }
            assert_ne!(expected.data, state.data, "{name}: the step changed nothing");
        }
    }
}

#[test]
fn a_batch_with_its_own_seeds_follows_the_cpu_trajectories() {
    let liz = lizard();
    let seed_grid = Grid::seeded(48, 48, 16);
    let seeds = [3u32, 4];
    for path in PATHS {
        let got = burn_run_on(path, &liz, &[&seed_grid, &seed_grid], &seeds, 0, 40, &SobelPair::default());
        for (grid, &seed) in got.iter().zip(&seeds) {
            let expected = cpu_run(&liz, &seed_grid, seed, 0, 40, &SobelPair::default());
            let (max, mean) = diff(&grid.data, &expected.data);
            assert!(mean <= 1e-4, "seed {seed} ({path:?}): mean diff {mean:e} (max {max:e})");
            assert_eq!(grid.alive_mask(), expected.alive_mask(), "seed {seed} ({path:?}): alive masks differ");
        }
        assert_ne!(got[0].data, got[1].data, "different seeds must give different trajectories");
    }
}

#[test]
fn the_active_cell_step_matches_the_dense_step_at_the_border() {
    // Fully alive grid: the border cells' outside neighbours must read as zero on both paths.
    let weights = bench_weights();
    let state = alive_grid(12);
    let dense = burn_run_on(Path::Dense, &weights, &[&state], &[9], 0, 3, &SobelPair::default()).remove(0);
    let active = burn_run_on(Path::Active, &weights, &[&state], &[9], 0, 3, &SobelPair::default()).remove(0);
    let (max, _) = diff(&dense.data, &active.data);
    assert!(max <= 1e-5, "active-cell step differs from the dense step by {max:e}");
    assert_ne!(dense.data, state.data);
}

#[test]
fn zero_update_keeps_the_seed() {
    let zeros = nca_sandbox::model::GrowingWeights::zeros(GrowingSpec::default());
    let seed = Grid::seeded(9, 9, 16);
    let got = burn_run(&NcaWeights::Growing(zeros), &[&seed], &[0], 0, 5, &SobelPair::default()).remove(0);
    assert_eq!(got, seed);
}
