//! One entry point to the CPU reference of every kind: run a grid whose species may be any
//! models of one kind.

use super::grid::Grid;
use super::perception::SobelPair;
use super::weights::NcaWeights;
use super::{ModelKind, cpu, mnist};

/// The kind every model in `models` shares, or why there is none.
pub fn common_kind(models: &[&NcaWeights]) -> Result<ModelKind, String> {
    let first = models.first().ok_or("a grid needs at least one model")?.kind();
    match models.iter().find(|m| m.kind() != first) {
        None => Ok(first),
        Some(other) => Err(format!("a grid runs one kind of model, but species mix {first} and {}", other.kind())),
    }
}

/// Runs `steps` steps from step number `first_step`, each cell updated by `models[species]`.
/// `sobel` is the growing kind's (rotated) perception; other kinds ignore it.
pub fn run(models: &[&NcaWeights], grid: &mut Grid, seed: u32, first_step: u32, steps: u32, sobel: &SobelPair) -> Result<(), String> {
    let kind = common_kind(models)?;
    if grid.channels != kind.channels() {
        return Err(format!("a {kind} model runs grids of {} channels, this grid has {}", kind.channels(), grid.channels));
    }
    match kind {
        ModelKind::Growing => {
            let models: Vec<_> = models.iter().filter_map(|m| m.as_growing()).collect();
            cpu::run_species(&models, grid, seed, first_step, steps, sobel);
        }
        ModelKind::Mnist => {
            let models: Vec<_> = models.iter().filter_map(|m| m.as_mnist()).collect();
            mnist::run_species(&models, grid, seed, first_step, steps);
        }
    }
    Ok(())
}
