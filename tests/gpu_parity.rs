//! The WGSL step (run by Bevy's renderer; lavapipe in CI) against the CPU reference.
//!
//! One Bevy app serves every check (building a renderer per test would multiply the shader
//! compile time), so the checks run in sequence inside one test.

mod common;

use common::{diff, lizard};
use nca_sandbox::app::headless::HeadlessGpu;
use nca_sandbox::cli::bench::{alive_grid, bench_weights};
use nca_sandbox::model::grid::Edit;
use nca_sandbox::model::perception::SobelPair;
use nca_sandbox::model::{Grid, NcaWeights, cpu};

fn cpu_run(weights: &NcaWeights, grid: &Grid, seed: u32, first: u32, steps: u32, degrees: f32) -> Grid {
    let NcaWeights::Growing(w) = weights;
    let mut g = grid.clone();
    cpu::run(w, &mut g, seed, first, steps, &SobelPair::rotated_degrees(degrees));
    g
}

fn one_step_from_the_same_state(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    // A realistic mid-growth state and a fully alive random one (every cell runs the network).
    let grown = cpu_run(&liz, &Grid::seeded(72, 72, 16), 5, 0, 60, 0.0);
    for (name, weights, state) in [("lizard@60", liz.clone(), grown), ("random-alive", bench_weights(), alive_grid(40))] {
        let expected = cpu_run(&weights, &state, 11, 60, 1, 0.0);
        let got = gpu.simulate(&weights, &state, 11, 60, 1, 0.0).unwrap();
        let (max, _) = diff(&got.data, &expected.data);
        assert!(max <= 1e-5, "{name}: one GPU step differs from the CPU by {max:e}");
        assert_ne!(expected.data, state.data, "{name}: the step changed nothing, the check would be vacuous");
    }
}

fn hundred_steps_from_the_seed(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    let seed_grid = Grid::seeded(64, 64, 16);
    for degrees in [0.0, 45.0] {
        let expected = cpu_run(&liz, &seed_grid, 3, 0, 100, degrees);
        let got = gpu.simulate(&liz, &seed_grid, 3, 0, 100, degrees).unwrap();
        let (max, mean) = diff(&got.data, &expected.data);
        assert!(mean <= 1e-3, "rotation {degrees}: mean abs diff after 100 steps {mean:e} (max {max:e})");
        assert_eq!(got.alive_mask(), expected.alive_mask(), "rotation {degrees}: alive masks differ after 100 steps");
        let alive = expected.alive_mask().iter().filter(|&&a| a).count();
        assert!(alive > 300, "rotation {degrees}: only {alive} cells alive, the lizard did not grow");
    }
}

fn rotation_zero_is_no_rotation(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    let start = Grid::seeded(48, 48, 16);
    let plain = gpu.simulate(&liz, &start, 9, 0, 40, 0.0).unwrap();
    let zero = gpu.simulate(&liz, &start, 9, 0, 40, -0.0).unwrap();
    let full_turn = gpu.simulate(&liz, &start, 9, 0, 40, 360.0).unwrap();
    let quarter = gpu.simulate(&liz, &start, 9, 0, 40, 90.0).unwrap();
    assert_eq!(plain.data, zero.data, "rotation by 0 must equal no rotation exactly");
    let (max, _) = diff(&plain.data, &full_turn.data);
    assert!(max < 1e-3, "a full turn should be (nearly) no rotation: {max:e}");
    assert_ne!(plain.data, quarter.data, "a quarter turn must change the trajectory");
}

fn same_seed_same_trajectory(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    let start = Grid::seeded(48, 48, 16);
    let a = gpu.simulate(&liz, &start, 21, 0, 30, 0.0).unwrap();
    let b = gpu.simulate(&liz, &start, 21, 0, 30, 0.0).unwrap();
    let c = gpu.simulate(&liz, &start, 22, 0, 30, 0.0).unwrap();
    assert_eq!(a.data, b.data, "same seed and inputs must give the same trajectory");
    assert_ne!(a.data, c.data, "another seed must give another trajectory");
}

fn edits_match_the_reference(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    let mut expected = cpu_run(&liz, &Grid::seeded(72, 72, 16), 2, 0, 80, 0.0);
    let model = gpu.add_model(liz.clone());
    let entity = gpu.spawn_grid(model, 72, 72, 2);
    gpu.upload(entity, &expected, 80);
    let edits = [
        Edit::EraseDisc { center: [40.3, 33.0], radius: 7.5 },
        Edit::PlantSeed { x: 10, y: 60, species: 0 },
        Edit::EraseDisc { center: [0.0, 0.0], radius: 3.0 },
        Edit::EraseRect { min: [36, 0], max: [72, 72] },
        Edit::EraseRect { min: [5, 50], max: [9, 200] },
    ];
    for edit in &edits {
        gpu.edit(entity, *edit);
        expected.apply(edit);
    }
    let got = gpu.read(entity).unwrap();
    assert_eq!(got.step, 80);
    assert_eq!(got.grid.data, expected.data, "GPU edits differ from Grid::apply");
    gpu.edit(entity, Edit::Clear);
    let cleared = gpu.read(entity).unwrap();
    assert!(cleared.grid.data.iter().all(|&v| v == 0.0));
    gpu.app_mut().world_mut().despawn(entity);
}

fn lizard_grows_into_its_target(gpu: &mut HeadlessGpu) {
    let liz = lizard();
    let seeded = Grid::seeded(72, 72, 16);
    common::assert_lizard_matches_target("gpu", |seed| gpu.simulate(&liz, &seeded, seed, 0, 200, 0.0).unwrap());
}

fn weights_swap_under_a_running_grid(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::GrowingWeights;
    use nca_sandbox::sim::NcaModel;
    let liz = lizard();
    let model = gpu.add_model(liz.clone());
    let entity = gpu.spawn_grid(model.clone(), 64, 64, 8);
    gpu.run(entity, 50, 10);
    let before = gpu.read(entity).unwrap();
    // Swap in weights whose update is zero: the state must stay exactly as it was, so the
    // swap neither reset the grid nor left the old weights in use.
    let still = NcaWeights::Growing(GrowingWeights::zeros(Default::default()));
    gpu.app_mut().world_mut().resource_mut::<bevy::asset::Assets<NcaModel>>().insert(&model, NcaModel::new(still)).unwrap();
    gpu.run(entity, 20, 10);
    let after = gpu.read(entity).unwrap();
    assert_eq!(after.step, before.step + 20);
    assert_eq!(after.grid.data, before.grid.data, "after the swap to zero weights the state must not change");
    // And back: the lizard's weights move it again, continuing from the same state.
    gpu.app_mut().world_mut().resource_mut::<bevy::asset::Assets<NcaModel>>().insert(&model, NcaModel::new(liz.clone())).unwrap();
    gpu.run(entity, 5, 5);
    let moved = gpu.read(entity).unwrap();
    let expected = cpu_run(&liz, &after.grid, 8, after.step, 5, 0.0);
    let (max, _) = diff(&moved.grid.data, &expected.data);
    assert!(max <= 1e-4, "after swapping back the grid must follow the lizard from its state: {max:e}");
    gpu.app_mut().world_mut().despawn(entity);
}

fn resize_restarts_from_a_seed(gpu: &mut HeadlessGpu) {
    use nca_sandbox::sim::CaGrid;
    let model = gpu.add_model(lizard());
    let entity = gpu.spawn_grid(model, 48, 48, 1);
    gpu.run(entity, 30, 10);
    {
        let world = gpu.app_mut().world_mut();
        let mut grid = world.get_mut::<CaGrid>(entity).unwrap();
        grid.width = 64;
        grid.height = 40;
    }
    let got = gpu.read(entity).unwrap();
    assert_eq!((got.grid.width, got.grid.height, got.step), (64, 40, 0));
    assert_eq!(got.grid, Grid::seeded(64, 40, 16), "a resized grid must hold exactly a fresh seed");
    gpu.app_mut().world_mut().despawn(entity);
}

fn oversized_grid_is_a_clear_error(gpu: &mut HeadlessGpu) {
    let model = gpu.add_model(lizard());
    let entity = gpu.spawn_grid(model, 4096, 4096, 1);
    let err = gpu.read(entity).expect_err("a 1 GiB grid cannot be bound");
    assert!(err.to_string().contains("more than this GPU binds"), "{err}");
    gpu.app_mut().world_mut().despawn(entity);
    // The app is still usable afterwards.
    let small = gpu.simulate(&lizard(), &Grid::seeded(16, 16, 16), 0, 0, 3, 0.0).unwrap();
    assert_eq!(small.width, 16);
}

fn display_texture_shows_premultiplied_rgb_over_the_background(gpu: &mut HeadlessGpu) {
    use bevy::prelude::*;
    use bevy::render::gpu_readback::{Readback, ReadbackComplete};
    use nca_sandbox::model::snapshot::to_rgba8;
    use nca_sandbox::sim::GridDisplay;
    use nca_sandbox::sim::display::{DARK_BACKGROUND, display_image};
    use std::sync::{Arc, Mutex};

    // 64 cells × 4 bytes = 256 bytes per row: no row padding in the readback.
    let state = cpu_run(&lizard(), &Grid::seeded(64, 64, 16), 1, 0, 120, 0.0);
    let model = gpu.add_model(lizard());
    let entity = gpu.spawn_grid(model, 64, 64, 1);
    gpu.upload(entity, &state, 120);
    let image = gpu.app_mut().world_mut().resource_mut::<Assets<Image>>().add(display_image(64, 64));
    gpu.app_mut().world_mut().entity_mut(entity).insert(GridDisplay {
        image: image.clone(),
        background: DARK_BACKGROUND,
        view_channel: 0,
    });
    let pixels: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let slot = pixels.clone();
    gpu.app_mut().update(); // the display pass writes the texture
    let reader = gpu
        .app_mut()
        .world_mut()
        .spawn(Readback::texture(image))
        .observe(move |done: On<ReadbackComplete>| {
            slot.lock().unwrap().get_or_insert_with(|| done.data.clone());
        })
        .id();
    for _ in 0..200 {
        gpu.app_mut().update();
        if pixels.lock().unwrap().is_some() {
            break;
        }
    }
    gpu.app_mut().world_mut().despawn(reader);
    gpu.app_mut().world_mut().despawn(entity);
    let got = pixels.lock().unwrap().take().expect("display texture readback never arrived");
    let expected = to_rgba8(&state, DARK_BACKGROUND, 1).into_raw();
    assert_eq!(got.len(), expected.len());
    let worst = got.iter().zip(&expected).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(worst <= 1, "display texture differs from background·(1−a) + rgb by {worst}/255");
    let lit = expected.chunks(4).filter(|p| p[1] > 100).count();
    assert!(lit > 300, "the picture should show the lizard ({lit} green cells)");
}

fn two_species_share_a_grid(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::import;
    use nca_sandbox::sim::CaGrid;
    let liz = lizard();
    let ladybug = import::load_model_file(common::reference("weights/growing_ca_webgl8/ex3_1f41e.json")).unwrap();
    let (NcaWeights::Growing(a), NcaWeights::Growing(b)) = (&liz, &ladybug);
    // The lizard from the centre seed, a ladybug seed planted to its right: they meet.
    let plant = Edit::PlantSeed { x: 80, y: 32, species: 1 };
    let mut expected = Grid::seeded(96, 64, 16);
    expected.apply(&plant);
    cpu::run_species(&[a, b], &mut expected, 4, 0, 150, &SobelPair::default());

    let lizard_model = gpu.add_model(liz.clone());
    let ladybug_model = gpu.add_model(ladybug.clone());
    let entity = gpu.spawn_grid(lizard_model, 96, 64, 4);
    let species = gpu.app_mut().world_mut().get_mut::<CaGrid>(entity).unwrap().species_of(&ladybug_model);
    assert_eq!(species, 1);
    gpu.edit(entity, plant);
    gpu.run(entity, 150, 16);
    let got = gpu.read(entity).unwrap().grid;
    gpu.app_mut().world_mut().despawn(entity);

    let (max, mean) = diff(&got.data, &expected.data);
    assert!(mean <= 1e-3, "two species: mean abs diff after 150 steps {mean:e} (max {max:e})");
    assert_eq!(got.alive_mask(), expected.alive_mask(), "two species: alive masks differ");
    assert_eq!(got.species, expected.species, "two species: species ids differ from the CPU reference");
    let living = |g: &Grid, s: u32| (0..g.cells()).filter(|&i| g.species[i] == s && g.data[i * 16 + 3] > 0.1).count();
    let (lizards, ladybugs) = (living(&got, 0), living(&got, 1));
    assert!(lizards > 200 && ladybugs > 200, "both species must grow: {lizards} lizard cells, {ladybugs} ladybug cells");
    // The ladybug's cells really ran the ladybug's weights: a lizard-only grid differs there.
    let mut lizard_only = Grid::seeded(96, 64, 16);
    lizard_only.apply(&plant);
    cpu::run_species(&[a], &mut lizard_only, 4, 0, 150, &SobelPair::default());
    assert_ne!(lizard_only.data, got.data);
}

#[test]
fn gpu_step_matches_cpu_reference() {
    let mut gpu = HeadlessGpu::new().unwrap_or_else(|e| panic!("GPU unavailable: {e}"));
    eprintln!("adapter: {}", gpu.adapter);
    type Check = fn(&mut HeadlessGpu);
    let checks: [(&str, Check); 11] = [
        ("two species share a grid", two_species_share_a_grid),
        ("display texture shows premultiplied RGB over the background", display_texture_shows_premultiplied_rgb_over_the_background),
        ("resize restarts from a seed", resize_restarts_from_a_seed),
        ("oversized grid is a clear error", oversized_grid_is_a_clear_error),
        ("weights swap under a running grid", weights_swap_under_a_running_grid),
        ("one step from the same state", one_step_from_the_same_state),
        ("100 steps from the seed", hundred_steps_from_the_seed),
        ("rotation 0 is no rotation", rotation_zero_is_no_rotation),
        ("same seed, same trajectory", same_seed_same_trajectory),
        ("edits match the reference", edits_match_the_reference),
        ("lizard grows into its target", lizard_grows_into_its_target),
    ];
    for (name, check) in checks {
        eprintln!("check: {name}");
        check(&mut gpu);
    }
}
