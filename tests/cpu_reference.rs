//! The CPU reference against the published lizard: the engine grows what Distill trained.

mod common;

use common::{lizard, reference};
use nca_sandbox::model::perception::SobelPair;
use nca_sandbox::model::target::Target;
use nca_sandbox::model::{Grid, NcaWeights, cpu};

fn grow(weights: &NcaWeights, steps: u32, sobel: &SobelPair) -> Grid {
    let w = weights.expect_growing().unwrap();
    let mut g = Grid::seeded(72, 72, 16);
    cpu::run(w, &mut g, 0, 0, steps, sobel);
    g
}

#[test]
fn imported_lizard_grows_into_its_target_on_the_cpu() {
    let liz = lizard();
    common::assert_lizard_matches_target("cpu", |seed| {
        let w = &liz.expect_growing().unwrap();
        let mut g = Grid::seeded(72, 72, 16);
        cpu::run(w, &mut g, seed, 0, 200, &SobelPair::default());
        g
    });
}

#[test]
fn another_target_does_not_pass_for_the_lizard() {
    // The check discriminates: a smiley grown the same way is far from the lizard.
    let target = Target::load(reference("emoji_noto_2019/emoji_u1f98e.png"), 40, 16).unwrap();
    let other = nca_sandbox::model::import::load_model_file(reference("weights/growing_ca_webgl8/ex3_1f600.json")).unwrap();
    let wrong = target.rgba_mse(&grow(&other, 200, &SobelPair::default())).unwrap();
    assert!(wrong > 5e-3, "a smiley should not look like the lizard: {wrong:e}");
}

#[test]
fn rotation_by_zero_equals_no_rotation_on_the_cpu() {
    let liz = lizard();
    let plain = grow(&liz, 30, &SobelPair::default());
    assert_eq!(grow(&liz, 30, &SobelPair::rotated(0.0)), plain);
    assert_ne!(grow(&liz, 30, &SobelPair::rotated_degrees(90.0)), plain);
}

#[test]
fn the_tfjs_float_lizard_also_grows() {
    let target = Target::load(reference("emoji_noto_2019/emoji_u1f98e.png"), 40, 16).unwrap();
    let weights =
        nca_sandbox::model::import::load_model_file(reference("weights/growing_ca_float/lizard_regenerating_run0_tfjs_graph.json"))
            .unwrap();
    // Seed 0 grows (seed 2 happens to die in its first steps: this run is fragile at birth).
    let mse = target.rgba_mse(&grow(&weights, 200, &SobelPair::default())).unwrap();
    assert!(mse <= 5e-4, "TF.js lizard after 200 steps: RGBA MSE {mse:e}");
}
