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
use nca_sandbox::model::{Grid, ModelKind, NcaWeights, cpu, mnist};

fn cpu_run(weights: &NcaWeights, grid: &Grid, seed: u32, first: u32, steps: u32, degrees: f32) -> Grid {
    let w = weights.expect_growing().unwrap();
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
        gpu.edit(entity, edit.clone());
        ModelKind::Growing.apply_edit(&mut expected, edit);
    }
    let got = gpu.read(entity).unwrap();
    assert_eq!(got.step, 80);
    assert_eq!(got.grid.data, expected.data, "GPU edits differ from Grid::apply");
    gpu.edit(entity, Edit::Clear);
    let cleared = gpu.read(entity).unwrap();
    assert!(cleared.grid.data.iter().all(|&v| v == 0.0));
    gpu.app_mut().world_mut().despawn(entity);
}

/// A frame the render world cannot run (its model not on the GPU yet) must not lose the steps and
/// edits the main world already counted: they run, in order, in the next frame that can.
fn a_skipped_frame_keeps_the_step_counter(gpu: &mut HeadlessGpu) {
    use nca_sandbox::gpu::SkipGridFrames;
    use nca_sandbox::sim::CaGrid;
    let liz = lizard();
    let start = cpu_run(&liz, &Grid::seeded(56, 56, 16), 4, 0, 40, 0.0);
    let model = gpu.add_model(liz.clone());
    let entity = gpu.spawn_grid(model, 56, 56, 4);
    gpu.upload(entity, &start, 40);
    let mut expected = start.clone();
    let mut step = 40;
    // Frame by frame: edits then steps, with two skipped frames in the middle (one with edits).
    let frames: [(Option<Edit>, u32, bool); 6] = [
        (None, 3, false),
        (Some(Edit::EraseDisc { center: [30.0, 26.0], radius: 6.0 }), 4, true),
        (None, 2, true),
        (Some(Edit::EraseRect { min: [0, 0], max: [20, 56] }), 5, false),
        (None, 1, false),
        (Some(Edit::PlantSeed { x: 8, y: 40, species: 0 }), 3, false),
    ];
    for (edit, steps, skipped) in frames {
        if skipped {
            let render = gpu.app_mut().get_sub_app_mut(bevy::render::RenderApp).unwrap();
            render.world_mut().insert_resource(SkipGridFrames(1));
        }
        if let Some(edit) = edit {
            ModelKind::Growing.apply_edit(&mut expected, &edit);
            gpu.edit(entity, edit);
        }
        cpu::run(liz.expect_growing().unwrap(), &mut expected, 4, step, steps, &SobelPair::default());
        step += steps;
        gpu.run(entity, steps, steps);
    }
    let counter = gpu.app_mut().world().get::<CaGrid>(entity).unwrap().step;
    let got = gpu.read(entity).unwrap();
    assert_eq!((counter, got.step), (step, step), "the step counter and the GPU's steps agree");
    let (max, _) = diff(&got.grid.data, &expected.data);
    assert!(max <= 1e-4, "after skipped frames the GPU state differs from the CPU's by {max:e}");
    assert_ne!(got.grid.data, start.data);
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

/// Uploads `state` into a fresh grid of `weights`, lets the display pass draw it with `view` and
/// `style`, and reads the texture back (RGBA bytes, one pixel per cell).
fn displayed(
    gpu: &mut HeadlessGpu,
    weights: NcaWeights,
    state: &Grid,
    view: nca_sandbox::model::View,
    style: nca_sandbox::model::display::DisplayStyle,
) -> Vec<u8> {
    use bevy::prelude::*;
    use bevy::render::gpu_readback::{Readback, ReadbackComplete};
    use nca_sandbox::sim::GridDisplay;
    use nca_sandbox::sim::display::display_image;
    use std::sync::{Arc, Mutex};

    let (width, height) = (state.width as u32, state.height as u32);
    let model = gpu.add_model(weights);
    let entity = gpu.spawn_grid(model, width, height, 1);
    gpu.upload(entity, state, 0);
    let image = gpu.app_mut().world_mut().resource_mut::<Assets<Image>>().add(display_image(width, height));
    gpu.app_mut().world_mut().entity_mut(entity).insert(GridDisplay {
        image: image.clone(),
        background: style.background,
        view,
        hue_degrees: style.hue_degrees,
        palette: style.palette,
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
    pixels.lock().unwrap().take().expect("display texture readback never arrived")
}

fn display_texture_shows_premultiplied_rgb_over_the_background(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::View;
    use nca_sandbox::model::display::{DisplayStyle, render};
    use nca_sandbox::sim::display::DARK_BACKGROUND;

    // 64 cells × 4 bytes = 256 bytes per row: no row padding in the readback.
    let state = cpu_run(&lizard(), &Grid::seeded(64, 64, 16), 1, 0, 120, 0.0);
    let style = DisplayStyle { background: DARK_BACKGROUND, ..Default::default() };
    let got = displayed(gpu, lizard(), &state, View::Natural, style);
    let expected = render(ModelKind::Growing, &state, View::Natural, &style, 1).into_raw();
    assert_eq!(got.len(), expected.len());
    let worst = got.iter().zip(&expected).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(worst <= 1, "display texture differs from background·(1−a) + rgb by {worst}/255");
    let lit = expected.chunks(4).filter(|p| p[1] > 100).count();
    assert!(lit > 300, "the picture should show the lizard ({lit} green cells)");
}

fn mnist_display_shows_each_vote_in_its_class_colour(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::View;
    use nca_sandbox::model::display::{DisplayStyle, render};
    // Four digits settled for 60 steps, in a 64×64 corner of a bigger tiling: rows of 256 bytes.
    let settled = common::settled_digits(4, 60);
    let mut state = Grid::new(64, 64, mnist::CHANNELS);
    for y in 0..57 {
        for x in 0..57 {
            state.cell_mut(x, y).copy_from_slice(settled.cell(x, y));
        }
    }
    use nca_sandbox::model::display::ClassPalette;
    let views = [
        (View::Natural, 0.0, ClassPalette::Paper),
        (View::Natural, 140.0, ClassPalette::Paper),
        (View::Natural, 0.0, ClassPalette::ColourSafe),
        (View::Channel(0), 0.0, ClassPalette::Paper),
        (View::Channel(15), 0.0, ClassPalette::Paper),
        (View::Species, 0.0, ClassPalette::Paper),
    ];
    for (view, hue, palette) in views {
        let style = DisplayStyle { background: [1.0, 1.0, 1.0], hue_degrees: hue, palette };
        let got = displayed(gpu, NcaWeights::Mnist(common::mnist_model()), &state, view, style);
        let expected = render(ModelKind::Mnist, &state, view, &style, 1);
        let worst = got.iter().zip(expected.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 1, "{view:?} at hue {hue} ({palette:?}): the MNIST display differs from the CPU picture by {worst}/255");
        if let Ok(dir) = std::env::var("NCA_TEST_PICTURES") {
            let picture = image::RgbaImage::from_raw(64, 64, got).unwrap();
            picture.save(format!("{dir}/mnist_display_{view:?}_{hue}_{palette:?}.png").replace(['(', ')'], "")).unwrap();
        }
    }
}

fn two_species_share_a_grid(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::import;
    use nca_sandbox::sim::CaGrid;
    let liz = lizard();
    let ladybug = import::load_model_file(common::reference("weights/growing_ca_webgl8/ex3_1f41e.json")).unwrap();
    let (a, b) = (liz.expect_growing().unwrap(), ladybug.expect_growing().unwrap());
    // The lizard from the centre seed, a ladybug seed planted to its right: they meet.
    let plant = Edit::PlantSeed { x: 80, y: 32, species: 1 };
    let mut expected = Grid::seeded(96, 64, 16);
    ModelKind::Growing.apply_edit(&mut expected, &plant);
    cpu::run_species(&[a, b], &mut expected, 4, 0, 150, &SobelPair::default());

    let lizard_model = gpu.add_model(liz.clone());
    let ladybug_model = gpu.add_model(ladybug.clone());
    let entity = gpu.spawn_grid(lizard_model, 96, 64, 4);
    let species = gpu.app_mut().world_mut().get_mut::<CaGrid>(entity).unwrap().species_of(&ladybug_model);
    assert_eq!(species, 1);
    gpu.edit(entity, plant.clone());
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
    ModelKind::Growing.apply_edit(&mut lizard_only, &plant);
    cpu::run_species(&[a], &mut lizard_only, 4, 0, 150, &SobelPair::default());
    assert_ne!(lizard_only.data, got.data);
}

fn mnist_one_step_from_the_same_state(gpu: &mut HeadlessGpu) {
    let w = common::mnist_model();
    let state = common::settled_digits(9, 25);
    let mut expected = state.clone();
    mnist::step(&w, &mut expected, 11, 25);
    let got = gpu.simulate(&NcaWeights::Mnist(w), &state, 11, 25, 1, 0.0).unwrap();
    let (max, _) = diff(&got.data, &expected.data);
    assert!(max <= 1e-5, "one MNIST GPU step differs from the CPU by {max:e}");
    assert_ne!(expected.data, state.data, "the step changed nothing, the check would be vacuous");
    let grey = |g: &Grid| g.data.iter().step_by(mnist::CHANNELS).copied().collect::<Vec<_>>();
    assert_eq!(grey(&got), grey(&state), "grey is never written");
}

fn mnist_hundred_steps_on_test_digits(gpu: &mut HeadlessGpu) {
    let w = common::mnist_model();
    let start = common::settled_digits(4, 0);
    let mut expected = start.clone();
    mnist::run_species(&[&w], &mut expected, 2, 0, 100);
    let got = gpu.simulate(&NcaWeights::Mnist(w), &start, 2, 0, 100, 0.0).unwrap();
    let (max, mean) = diff(&got.data, &expected.data);
    assert!(mean <= 1e-3, "mean abs diff after 100 MNIST steps {mean:e} (max {max:e})");
    let (mut alive, mut sevens) = (0, 0);
    for (a, b) in got.data.chunks_exact(mnist::CHANNELS).zip(expected.data.chunks_exact(mnist::CHANNELS)) {
        let (la, lb) = (mnist::cell_label(a), mnist::cell_label(b));
        assert_eq!(la, lb, "a living cell's vote differs between GPU and CPU after 100 steps");
        alive += usize::from(lb.alive);
        sevens += usize::from(lb.alive && lb.class == 7);
    }
    assert!(alive > 300 && sevens > 50, "{alive} living cells, {sevens} for the first digit's 7");
}

fn mnist_species_follow_the_mixed_rule(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::import::Pick;
    let (base, adversary) = (common::adversarial(Pick::Main), common::adversarial(Pick::Adversary));
    let mut start = common::settled_digits(4, 10);
    for (i, s) in start.species.iter_mut().enumerate() {
        *s = u32::from(nca_sandbox::model::fire::pcg(i as u32).is_multiple_of(10));
    }
    let mut expected = start.clone();
    mnist::run_species(&[&base, &adversary], &mut expected, 6, 10, 30);
    let got = gpu.simulate_species(&[NcaWeights::Mnist(base.clone()), NcaWeights::Mnist(adversary)], &start, 6, 10, 30, 0.0).unwrap();
    let (max, mean) = diff(&got.data, &expected.data);
    assert!(mean <= 1e-4 && max <= 1e-2, "base + adversary: mean {mean:e}, max {max:e}");
    assert_eq!(got.species, start.species, "MNIST species never spread");
    let mut base_only = start.clone();
    mnist::run_species(&[&base], &mut base_only, 6, 10, 30);
    let (max_apart, _) = diff(&base_only.data, &expected.data);
    assert!(max_apart > 0.1, "the adversary's cells must run its own weights");
}

fn mnist_edits_are_bit_identical(gpu: &mut HeadlessGpu) {
    use nca_sandbox::model::grid::GreyImage;
    let w = NcaWeights::Mnist(common::mnist_model());
    let mut expected = common::settled_digits(4, 15);
    let model = gpu.add_model(w);
    let entity = gpu.spawn_grid(model, expected.width as u32, expected.height as u32, 1);
    gpu.upload(entity, &expected, 15);
    let test = common::test_digits();
    let image = |i: usize| test.image(i).iter().map(|&v| v as f32 / 255.0).collect::<Vec<f32>>();
    let edits = [
        Edit::Draw { center: [10.3, 7.8], radius: 2.5, species: 0 },
        Edit::Draw { center: [40.0, 40.0], radius: 1.5, species: 2 },
        Edit::Draw { center: [0.2, 56.5], radius: 3.0, species: 1 },
        Edit::PlaceImage(GreyImage { origin: [29, 0], width: 28, height: 28, grey: image(9).into() }),
        Edit::PlaceImage(GreyImage { origin: [-5, 40], width: 28, height: 28, grey: image(3).into() }),
        Edit::EraseDisc { center: [20.0, 20.0], radius: 4.0 },
        Edit::PaintSpecies { center: [45.0, 12.0], radius: 6.0, species: 1 },
        Edit::EraseRect { min: [50, 50], max: [57, 200] },
        Edit::PlantSeed { x: 3, y: 3, species: 0 },
    ];
    for edit in &edits {
        gpu.edit(entity, edit.clone());
        ModelKind::Mnist.apply_edit(&mut expected, edit);
    }
    let got = gpu.read(entity).unwrap();
    assert_eq!(got.grid.data, expected.data, "GPU MNIST edits differ from the CPU's");
    assert_eq!(got.grid.species, expected.species, "GPU MNIST edits set other species than the CPU's");
    let labels = gpu.read_labels(entity).unwrap().labels;
    assert_eq!(labels, ModelKind::Mnist.labels(&expected), "the labels pass differs from the CPU's labels");
    gpu.edit(entity, Edit::Clear);
    assert!(gpu.read(entity).unwrap().grid.data.iter().all(|&v| v == 0.0));
    gpu.app_mut().world_mut().despawn(entity);
}

fn a_model_of_another_kind_restarts_the_grid(gpu: &mut HeadlessGpu) {
    use nca_sandbox::sim::CaGrid;
    let lizard_model = gpu.add_model(lizard());
    let entity = gpu.spawn_grid(lizard_model, 40, 30, 1);
    gpu.run(entity, 20, 10);
    let digits = gpu.add_model(NcaWeights::Mnist(common::mnist_model()));
    gpu.app_mut().world_mut().get_mut::<CaGrid>(entity).unwrap().model = digits;
    let got = gpu.read(entity).unwrap();
    assert_eq!((got.grid.channels, got.step), (mnist::CHANNELS, 0));
    assert!(got.grid.data.iter().all(|&v| v == 0.0), "an MNIST grid starts as an empty canvas");
    gpu.app_mut().world_mut().despawn(entity);
}

#[test]
fn gpu_step_matches_cpu_reference() {
    let mut gpu = HeadlessGpu::new().unwrap_or_else(|e| panic!("GPU unavailable: {e}"));
    eprintln!("adapter: {}", gpu.adapter);
    type Check = fn(&mut HeadlessGpu);
    let checks: [(&str, Check); 18] = [
        ("a skipped frame keeps the step counter", a_skipped_frame_keeps_the_step_counter),
        ("mnist: the display shows each vote in its class colour", mnist_display_shows_each_vote_in_its_class_colour),
        ("mnist: one step from the same state", mnist_one_step_from_the_same_state),
        ("mnist: 100 steps on test digits", mnist_hundred_steps_on_test_digits),
        ("mnist: species follow the mixed rule", mnist_species_follow_the_mixed_rule),
        ("mnist: edits are bit-identical", mnist_edits_are_bit_identical),
        ("a model of another kind restarts the grid", a_model_of_another_kind_restarts_the_grid),
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
