//! `nca eval growing` on the published Distill lizards reproduces their published quality, and
//! the bars our own models will be held to are met by them.

mod common;

use std::process::Command;

use common::reference;
use nca_sandbox::model::{GrowingMode, NcaWeights};

fn eval(model: &str, extra: &[&str]) -> serde_json::Value {
    let model = reference(&format!("weights/growing_ca_webgl8/{model}.json"));
    let target = reference("emoji_noto_2019/emoji_u1f98e.png");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["eval", "growing", model.to_str().unwrap(), "--target", target.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn figure(report: &serde_json::Value, key: &str) -> f64 {
    report[key].as_f64().unwrap_or_else(|| panic!("no {key} in {report}"))
}

#[test]
fn distill_models_meet_the_published_figures() {
    // Published (Distill): regenerating loss@1000 ≈ 1.1e-4, regen_half ≈ 6e-4, regen_disc ≈ 9e-4;
    // persistent loss@1000 ≈ 9e-5; growing loss@96 ≈ 4e-4. The bars are issue 4's.
    let regenerating = eval("ex3_1f98e", &[]);
    assert_eq!(regenerating["seeds"], 8);
    assert!(figure(&regenerating, "loss@1000") <= 3e-4, "{regenerating}");
    assert!(figure(&regenerating, "regen_half@200") <= 2e-3, "{regenerating}");
    assert!(figure(&regenerating, "regen_disc@200") <= 2e-3, "{regenerating}");
    let persistent = eval("ex2_1f98e", &["--seeds", "4"]);
    assert!(figure(&persistent, "loss@1000") <= 3e-4, "{persistent}");
    let growing = eval("ex1_1f98e", &["--seeds", "4"]);
    assert!(figure(&growing, "loss@96") <= 1e-3, "{growing}");
    // The protocol discriminates: a model that only grows does not regenerate or persist.
    assert!(figure(&growing, "loss@1000") > 3e-3 && figure(&growing, "regen_half@200") > 3e-3, "{growing}");
    for key in ["loss@96", "loss@200", "loss@500", "loss@1000", "regen_half@200", "regen_disc@200"] {
        assert_eq!(growing["per_seed"][key].as_array().unwrap().len(), 4, "{key}");
        assert!(growing["mean"][key].is_f64(), "{key}");
    }
}

#[test]
fn eval_reports_a_missing_target_clearly() {
    let model = reference("weights/growing_ca_webgl8/ex3_1f98e.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["eval", "growing", model.to_str().unwrap(), "--target", "/no/such/target.png"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/no/such/target.png"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// Every model this project ships in `trained/` meets the bar of its mode (issue 4), judged with
/// `nca eval growing` against its own target in `assets/targets/` (the default lookup).
#[test]
fn shipped_models_meet_their_bars() {
    let trained = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trained");
    let mut models: Vec<_> = std::fs::read_dir(&trained)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    models.sort();
    assert!(!models.is_empty(), "trained/ ships no model");
    for model in models {
        let loaded = NcaWeights::load(&model).unwrap();
        let Ok(weights) = loaded.expect_growing().cloned() else { continue }; // MNIST: below
        assert!(weights.provenance.contains_key("nca.train.command"), "{}: not trained by nca train", model.display());
        let out = Command::new(env!("CARGO_BIN_EXE_nca"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["eval", "growing", model.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let bars: &[(&str, f64)] = match weights.spec.mode {
            GrowingMode::Growing => &[("loss@96", 1e-3)],
            GrowingMode::Persistent => &[("loss@1000", 3e-4)],
            GrowingMode::Regenerating => &[("loss@1000", 3e-4), ("regen_half@200", 2e-3), ("regen_disc@200", 2e-3)],
        };
        for (key, bar) in bars {
            let value = figure(&report, key);
            assert!(value <= *bar, "{}: {key} = {value:e} is above the bar {bar:e}", model.display());
            eprintln!("{}: {key} = {value:.2e} (bar {bar:e})", model.file_name().unwrap().to_string_lossy());
        }
    }
}

/// `--strip` saves seed 0's run as a picture: growth, then each damage and its healing. The
/// published regenerating lizard must show a lizard in every cell of the growth row and a
/// healed one at the end of each damage row.
#[test]
fn eval_strip_shows_growth_and_healing() {
    let dir = tempfile::tempdir().unwrap();
    let strip = dir.path().join("strip.png");
    let report = eval("ex3_1f98e", &["--seeds", "1", "--strip", strip.to_str().unwrap()]);
    assert_eq!(report["strip"], strip.display().to_string());
    let img = image::open(&strip).unwrap().to_rgb8();
    let (cell, gap) = (72 * 3, 6);
    assert_eq!(img.dimensions(), (4 * (cell + gap) + gap, 3 * (cell + gap) + gap));
    let green_in = |row: u32, column: u32| {
        let (x0, y0) = (gap + column * (cell + gap), gap + row * (cell + gap));
        (y0..y0 + cell)
            .flat_map(|y| (x0..x0 + cell).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = img.get_pixel(x, y);
                p[1] > 120 && p[1] as i32 - p[0] as i32 > 40 && p[1] as i32 - p[2] as i32 > 40
            })
            .count()
    };
    for column in 0..4 {
        assert!(green_in(0, column) > 1500, "growth frame {column} holds no lizard");
    }
    for row in [1, 2] {
        assert!(green_in(row, 0) < green_in(row, 3), "damage row {row}: the lizard should heal");
    }
}

fn nca_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_nca")).current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap();
    assert!(out.status.success(), "nca {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The shipped MNIST classifier is at least as good as the published one (issue 16's bar, on the
/// full test set in the README), judged here on the first 500 test digits against the published
/// model on the same digits, with one point of margin for the subset; the shipped adversary
/// hijacks most digits and lets them recover.
#[test]
fn shipped_mnist_models_meet_their_bars() {
    let trained = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trained");
    let (classifier, adversary) = (trained.join("mnist.safetensors"), trained.join("mnist_adversary.safetensors"));
    if !classifier.is_file() {
        eprintln!("trained/mnist.safetensors is not shipped yet");
        return;
    }
    let digits_dir = common::reference_dir().join("mnist");
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published.safetensors");
    let graph = reference("weights/mnist_ca/mnist_ca_tfjs_graph.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["import", graph.to_str().unwrap(), "--out", published.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let judge = |model: &std::path::Path| {
        nca_json(&["eval", "mnist", model.to_str().unwrap(), "--mnist", digits_dir.to_str().unwrap(), "--digits", "500"])
    };
    let (ours, theirs) = (judge(&classifier), judge(&published));
    let weights = NcaWeights::load(&classifier).unwrap();
    assert!(weights.expect_mnist().is_ok_and(|w| w.provenance.contains_key("nca.train.command")), "not trained by nca train");
    for key in ["accuracy@200", "agreement@200"] {
        let (a, b) = (figure(&ours, key), figure(&theirs, key));
        eprintln!("{key}: ours {a:.2}, published {b:.2} (first 500 test digits)");
        assert!(a >= b - 1.0, "{key}: ours {a:.2} is below the published model's {b:.2} by more than a point");
    }
    assert!(adversary.is_file(), "trained/mnist_adversary.safetensors should ship with the classifier");
    let report = nca_json(&[
        "eval",
        "mnist-adversary",
        classifier.to_str().unwrap(),
        adversary.to_str().unwrap(),
        "--mnist",
        digits_dir.to_str().unwrap(),
        "--digits",
        "200",
    ]);
    eprintln!("adversary: {report}");
    assert!(figure(&report, "hijacked@200") >= 80.0, "the adversary should hijack most digits: {report}");
    assert!(figure(&report, "target_without_adversaries@200") <= 20.0, "{report}");
    assert!(figure(&report, "recovered@400") >= 80.0, "digits should recover once the adversaries are gone: {report}");
}
