//! `nca train growing` end to end on a tiny target: outputs, provenance, exact `--resume`, and
//! clear errors for bad targets and runaway losses.

use std::path::Path;
use std::process::{Command, Output};

use nca_sandbox::model::NcaWeights;

fn nca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nca")).args(args).output().unwrap()
}

fn tiny_target(dir: &Path) -> String {
    let img = image::RgbaImage::from_fn(8, 8, |x, y| {
        let (dx, dy) = (x as f32 - 3.5, y as f32 - 3.5);
        if dx * dx + dy * dy < 12.0 { image::Rgba([40, 180, 60, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let path = dir.join("disc.png");
    img.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

const TINY: [&str; 12] =
    ["--pool-size", "8", "--batch-size", "4", "--min-steps", "8", "--max-steps", "10", "--target-size", "8", "--target-padding", "4"];

fn train(target: &str, out: &Path, iterations: &str, extra: &[&str]) -> Output {
    let mut args =
        vec!["train", "growing", "--target", target, "--mode", "regenerating", "--iterations", iterations, "--out", out.to_str().unwrap()];
    args.extend(TINY);
    args.extend(extra);
    nca(&args)
}

#[test]
fn train_writes_model_curves_and_provenance_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let straight = dir.path().join("straight.safetensors");
    let out = train(&target, &straight, "6", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for suffix in [".ckpt.safetensors", ".loss.csv", ".loss.png"] {
        assert!(dir.path().join(format!("straight{suffix}")).is_file(), "missing {suffix}");
    }
    let csv = std::fs::read_to_string(dir.path().join("straight.loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "header + 6 iterations");
    let w = NcaWeights::load(&straight).unwrap().expect_growing().unwrap().clone();
    assert_eq!(w.spec.target, "disc");
    assert_eq!(w.provenance["nca.train.iterations"], "6");
    assert!(w.provenance["nca.train.command"].contains("train growing"));
    assert!(w.provenance["nca.train.loss"].parse::<f64>().unwrap() > 0.0);

    // 3 iterations, then --resume to 6: the same model as the straight run.
    let split = dir.path().join("split.safetensors");
    assert!(train(&target, &split, "3", &[]).status.success());
    let ckpt = dir.path().join("split.ckpt.safetensors");
    let out = nca(&["train", "growing", "--resume", ckpt.to_str().unwrap(), "--iterations", "6", "--out", split.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resumed = NcaWeights::load(&split).unwrap().expect_growing().unwrap().clone();
    assert_eq!((&resumed.w1, &resumed.b1, &resumed.w2, &resumed.b2), (&w.w1, &w.b1, &w.w2, &w.b2));

    // The recipe travels in the metadata; --half-cuts given with --resume changes it.
    let recipe =
        |w: &nca_sandbox::model::GrowingWeights| -> serde_json::Value { serde_json::from_str(&w.provenance["nca.train.recipe"]).unwrap() };
    assert_eq!(recipe(&w)["half_cuts"], 0);
    let out = nca(&[
        "train",
        "growing",
        "--resume",
        ckpt.to_str().unwrap(),
        "--iterations",
        "8",
        "--half-cuts",
        "2",
        "--out",
        split.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cut = NcaWeights::load(&split).unwrap().expect_growing().unwrap().clone();
    assert_eq!((recipe(&cut)["half_cuts"].clone(), recipe(&cut)["damaged"].clone()), (2.into(), 3.into()));
    assert_ne!(cut.w2, resumed.w2, "two more iterations should move the weights");
}

#[test]
fn bad_targets_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, "hello").unwrap();
    for (target, expect) in [("/no/such/target.png", "cannot read"), (not_image.to_str().unwrap(), "not a readable image")] {
        let result = train(target, &out, "2", &[]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success() && stderr.contains(expect) && stderr.contains(target), "{stderr}");
        assert!(!out.exists(), "no model may be written on failure");
    }
}

/// Recipes that cannot train are refused by flag and range, before anything is allocated or
/// written (the campaign of issue 20 found each of these panicking, aborting or training).
#[test]
fn impossible_recipes_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let out = dir.path().join("m.safetensors");
    let cases: [(&[&str], &str); 10] = [
        (&["--batch-size", "0"], "--batch-size 0 is outside 1..=256"),
        (&["--pool-size", "3"], "--pool-size 3 is smaller than the batch"),
        (&["--target-padding", "100000"], "--target-padding 100000 is outside 0..=256"),
        (&["--target-size", "0"], "--target-size 0"),
        (&["--fire-rate", "2"], "--fire-rate 2 is outside (0, 1]"),
        (&["--fire-rate", "NaN"], "--fire-rate NaN"),
        (&["--learning-rate", "inf"], "--learning-rate inf is not a positive number"),
        (&["--min-steps", "12"], "--max-steps 10 is outside 12..=10000"),
        (&["--damaged", "9"], "--damaged 9 is outside 0..=3"),
        (&["--damage-radius-min", "0.5", "--damage-radius-max", "0.2"], "damage radii"),
    ];
    for (extra, expected) in cases {
        // The tiny recipe with the flags under test replacing its own.
        let mut args = vec!["train", "growing", "--target", &target, "--iterations", "2", "--out", out.to_str().unwrap()];
        for pair in TINY.chunks(2) {
            if !extra.contains(&pair[0]) {
                args.extend(pair);
            }
        }
        args.extend(extra);
        let result = std::process::Command::new(env!("CARGO_BIN_EXE_nca")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success() && stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{extra:?} panicked: {stderr}");
        assert!(!out.exists() && !dir.path().join("m.ckpt.safetensors").exists(), "{extra:?}: nothing may be written");
    }
    let zero = train(&target, &out, "0", &[]);
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--iterations 0 is outside"), "{zero:?}");
}

#[test]
fn a_loss_that_turns_nan_stops_without_writing_a_broken_model() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let out = dir.path().join("m.safetensors");
    // An absurd learning rate blows the state up within a few iterations.
    let result = train(&target, &out, "40", &["--learning-rate", "1e12", "--lr-drop-at", "100000"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{stderr}");
    assert!(stderr.contains("loss became") && stderr.contains("stopped"), "{stderr}");
    assert!(!out.exists(), "a NaN run must not write a model");

    // Checkpointing every iteration: the model and checkpoint left behind are the last good ones.
    let result = train(&target, &out, "40", &["--learning-rate", "1e12", "--lr-drop-at", "100000", "--checkpoint-minutes", "0"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success() && stderr.contains("the last good checkpoint is"), "{stderr}");
    let kept = NcaWeights::load(&out).unwrap_or_else(|e| panic!("the last good model should load: {e}")).expect_growing().unwrap().clone();
    let iterations: usize = kept.provenance["nca.train.iterations"].parse().unwrap();
    assert!(stderr.contains(&format!("at iteration {iterations};")), "the model is the one before the NaN: {stderr}");
}

/// Burn's flex (the default) and wgpu (lavapipe in CI) backends train the same run as ndarray,
/// iteration by iteration.
#[test]
fn every_backend_trains_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let mut curves = Vec::new();
    for backend in ["ndarray", "wgpu", "flex"] {
        let out = dir.path().join(format!("{backend}.safetensors"));
        let result = train(&target, &out, "4", &["--backend", backend]);
        assert!(result.status.success(), "{backend}: {}", String::from_utf8_lossy(&result.stderr));
        let csv = std::fs::read_to_string(dir.path().join(format!("{backend}.loss.csv"))).unwrap();
        let losses: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
        curves.push(losses);
    }
    assert_eq!(curves[0].len(), 4);
    for (name, other) in [("wgpu", &curves[1]), ("flex", &curves[2])] {
        for (i, (a, b)) in curves[0].iter().zip(other).enumerate() {
            assert!((a - b).abs() <= 1e-5 * a.abs(), "iteration {i}: ndarray {a:e} vs {name} {b:e}");
        }
    }
}

/// `--init` goes on from a model's weights alone (its checkpoint gone): recipe, iteration count,
/// time and curve carry on, and the restart is recorded.
#[test]
fn init_goes_on_from_a_models_weights_and_records_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let first = dir.path().join("first.safetensors");
    assert!(train(&target, &first, "3", &["--half-cuts", "1"]).status.success());
    std::fs::remove_file(dir.path().join("first.ckpt.safetensors")).unwrap();
    let parent = NcaWeights::load(&first).unwrap().expect_growing().unwrap().clone();

    let next = dir.path().join("next.safetensors");
    let out = nca(&[
        "train",
        "growing",
        "--init",
        first.to_str().unwrap(),
        "--target",
        &target,
        "--iterations",
        "5",
        "--out",
        next.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let child = NcaWeights::load(&next).unwrap().expect_growing().unwrap().clone();
    assert_eq!(child.provenance["nca.train.iterations"], "5");
    assert_eq!(child.provenance["nca.train.restarts"], "3");
    assert_eq!(child.spec, parent.spec);
    let recipe: serde_json::Value = serde_json::from_str(&child.provenance["nca.train.recipe"]).unwrap();
    assert_eq!(
        (recipe["half_cuts"].clone(), recipe["pool_size"].clone()),
        (1.into(), 8.into()),
        "the parent's recipe, not the flags' defaults"
    );
    assert_ne!(child.w2, parent.w2, "two iterations should move the weights");
    let csv = std::fs::read_to_string(dir.path().join("next.loss.csv")).unwrap();
    let first_csv = std::fs::read_to_string(dir.path().join("first.loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "header + the parent's 3 iterations + 2 more");
    assert!(csv.starts_with(&first_csv), "the parent's curve continues");

    // Neither a broken model nor --init with --resume is accepted.
    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, b"not a model").unwrap();
    let out = nca(&[
        "train",
        "growing",
        "--init",
        broken.to_str().unwrap(),
        "--target",
        &target,
        "--iterations",
        "5",
        "--out",
        next.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("broken.safetensors"), "{stderr}");
    let out = nca(&[
        "train",
        "growing",
        "--init",
        first.to_str().unwrap(),
        "--resume",
        first.to_str().unwrap(),
        "--iterations",
        "5",
        "--out",
        next.to_str().unwrap(),
    ]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

/// `--from` starts a new run for a new target from a trained model's weights: iteration 0, the
/// flags' recipe, and the parent named in it.
#[test]
fn from_starts_a_new_run_from_a_models_weights() {
    let dir = tempfile::tempdir().unwrap();
    let target = tiny_target(dir.path());
    let parent_path = dir.path().join("parent.safetensors");
    assert!(train(&target, &parent_path, "3", &[]).status.success());
    let parent = NcaWeights::load(&parent_path).unwrap().expect_growing().unwrap().clone();

    let ring = image::RgbaImage::from_fn(8, 8, |x, y| {
        let r2 = (x as f32 - 3.5).powi(2) + (y as f32 - 3.5).powi(2);
        if (4.0..12.0).contains(&r2) { image::Rgba([200, 40, 40, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let ring_path = dir.path().join("ring.png");
    ring.save(&ring_path).unwrap();
    let child_path = dir.path().join("child.safetensors");
    let out = train(ring_path.to_str().unwrap(), &child_path, "1", &["--from", parent_path.to_str().unwrap(), "--learning-rate", "1e-30"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let child = NcaWeights::load(&child_path).unwrap().expect_growing().unwrap().clone();
    assert_eq!(child.spec.target, "ring");
    assert_eq!(child.provenance["nca.train.iterations"], "1");
    assert!(!child.provenance.contains_key("nca.train.restarts"), "a new run, not a restart");
    let recipe: serde_json::Value = serde_json::from_str(&child.provenance["nca.train.recipe"]).unwrap();
    let started = recipe["started_from"].as_str().unwrap();
    assert!(started.contains("parent.safetensors") && started.contains("'disc'") && started.contains("3 iterations"), "{started}");
    // A vanishing learning rate: one Adam step of normalised gradients moves each weight by
    // about the rate, so the child still holds the parent's weights, not fresh ones.
    let moved = child.w1.iter().zip(&parent.w1).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved < 1e-20, "the run should start from the parent's weights (moved {moved:e})");
    let csv = std::fs::read_to_string(dir.path().join("child.loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "header + 1 iteration: the parent's curve is not carried over");

    let out = train(&target, &child_path, "1", &["--from", "/no/such/model.safetensors"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/no/such/model.safetensors"), "{stderr}");
}
