//! The self-classifying MNIST kind against the published models: importers, the CPU reference
//! against Burn, the evaluation protocol on real test digits, bad input.

mod common;

use std::process::Command;

use burn::backend::NdArray;
use burn::prelude::*;
use common::{adversarial, diff, reference, settled_digits, test_digits};
use nca_sandbox::model::import::{self, Pick};
use nca_sandbox::model::mnist::{self, MnistWeights};
use nca_sandbox::model::mnist_eval::{CpuEval, EvalOptions, evaluate};
use nca_sandbox::model::{Grid, ModelKind, NcaWeights};
use nca_sandbox::train::{MnistBatch, MnistNca, fire_mask, noise_tensor};

type B = NdArray<f32>;

fn distill() -> MnistWeights {
    common::mnist_model()
}

#[test]
fn importers_decode_both_files_and_the_adversary_differs() {
    let graph = distill();
    let base = adversarial(Pick::Main);
    let adversary = adversarial(Pick::Adversary);
    // SOURCES.md: the graph and WEIGHTS_B64 hold identical float32 weights, so two independent
    // importers (node names in a TF graph, base64 arrays in a script) must agree bit for bit.
    assert_eq!(graph.tensors().map(|t| t.2.to_vec()), base.tensors().map(|t| t.2.to_vec()));
    assert_ne!(adversary.conv_w, base.conv_w, "the adversary has weights of its own");
    assert_eq!(adversary.spec.role, mnist::MnistRole::Adversary);
    // A trained model's last layer is not zero, and its biases are the two different [80] ones.
    assert!(graph.w2.iter().any(|&v| v != 0.0));
    assert_ne!(graph.conv_b, graph.b1, "the graph's two [80] biases must not be confused");
    // The growing float graphs still import, now by node name.
    for file in
        ["weights/growing_ca_float/lizard_regenerating_run0_tfjs_graph.json", "weights/growing_ca_float/planarian_8000_tfjs_graph.json"]
    {
        let w = import::load_model_file(reference(file)).unwrap();
        assert_eq!(w.kind(), ModelKind::Growing, "{file}");
    }
}

fn to_tensor(grid: &Grid) -> Tensor<B, 4> {
    Tensor::from_data(TensorData::new(grid.data.clone(), [1, grid.height, grid.width, grid.channels]), &Default::default())
}

fn from_tensor(t: Tensor<B, 4>, like: &Grid) -> Grid {
    Grid::from_data(like.width, like.height, like.channels, t.into_data().to_vec::<f32>().unwrap()).unwrap()
}

#[test]
fn burn_one_step_equals_the_cpu_reference() {
    let w = distill();
    let state = settled_digits(4, 30);
    let (seed, step) = (11, 30);
    let mut expected = state.clone();
    mnist::step(&w, &mut expected, seed, step);
    assert_ne!(expected.data, state.data, "the step changed nothing: the check would be vacuous");

    let device = Default::default();
    let module = MnistNca::<B>::from_weights(&w, &device);
    let fire = fire_mask::<B>(&[seed], step, state.height, state.width, w.spec.fire_rate, &device);
    let noise = noise_tensor::<B>(&[seed], step, state.height, state.width, w.spec.noise_std, &device);
    let dense = from_tensor(module.step(to_tensor(&state), fire, noise), &state);
    let (max, _) = diff(&dense.data, &expected.data);
    assert!(max <= 1e-5, "dense Burn step differs from the CPU by {max:e}");

    let batch = module.step_active(MnistBatch::new(to_tensor(&state)), &[seed], step, w.spec.fire_rate, w.spec.noise_std);
    let active = from_tensor(batch.into_state(), &state);
    let (max, _) = diff(&active.data, &expected.data);
    assert!(max <= 1e-5, "active-cell Burn step differs from the CPU by {max:e}");
}

#[test]
fn weights_round_trip_through_the_burn_module_bit_exactly() {
    let w = distill();
    let module = MnistNca::<B>::from_weights(&w, &Default::default());
    assert_eq!(module.to_weights(w.spec.clone()).tensors().map(|t| t.2.to_vec()), w.tensors().map(|t| t.2.to_vec()));
}

#[test]
fn mixed_species_follow_the_adversarial_rule() {
    // x' = orig(x)·(1 − m) + adv(x)·m: each cell runs its own species' weights.
    let (base, adversary) = (distill(), adversarial(Pick::Adversary));
    let mut grid = settled_digits(1, 20);
    for (i, s) in grid.species.iter_mut().enumerate() {
        *s = u32::from(i % 7 == 0);
    }
    let mut mixed = grid.clone();
    mnist::step_species(&[&base, &adversary], &mut mixed, 5, 20);
    let (mut as_base, mut as_adversary) = (grid.clone(), grid.clone());
    mnist::step(&base, &mut as_base, 5, 20);
    mnist::step(&adversary, &mut as_adversary, 5, 20);
    let mut adversary_cells_changed = 0;
    for (i, &s) in grid.species.iter().enumerate() {
        let c = i * mnist::CHANNELS..(i + 1) * mnist::CHANNELS;
        let expected = if s == 1 { &as_adversary.data[c.clone()] } else { &as_base.data[c.clone()] };
        assert_eq!(&mixed.data[c.clone()], expected, "cell {i}");
        adversary_cells_changed += usize::from(s == 1 && mixed.data[c.clone()] != grid.data[c]);
    }
    assert!(adversary_cells_changed > 3);
}

#[test]
fn the_published_model_classifies_test_digits() {
    // A small slice of the paper's protocol, on the CPU: the full test set's figures are in the
    // README (`nca eval mnist`); this proves the engine reproduces the model, not just runs.
    let w = distill();
    let test = test_digits();
    let options = EvalOptions { digits: 100, seed: 0, magnitudes: false };
    let report = evaluate(&mut CpuEval::new(vec![&w], 0), &test, &options, |_, _| {}).unwrap();
    assert_eq!(report.accuracy.len(), 400);
    let at200 = report.accuracy[199];
    assert!(at200 > 90.0, "accuracy@200 {at200} on the first 100 test digits");
    assert!(report.agreement[199] > 75.0, "agreement@200 {}", report.agreement[199]);
    assert!(report.accuracy[0] < 60.0, "one step cannot classify: {}", report.accuracy[0]);
    // After the mutation the digits must re-decide: accuracy drops, then recovers.
    assert!(report.accuracy[200] < at200 - 5.0 && report.accuracy[399] > 85.0, "{} → {}", report.accuracy[200], report.accuracy[399]);
}

#[test]
fn eval_cli_prints_the_protocols_keys_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    NcaWeights::Mnist(distill()).save(&model).unwrap();
    let plot = dir.path().join("curves.png");
    let mnist_dir = common::reference_dir().join("mnist");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args([
            "eval",
            "mnist",
            model.to_str().unwrap(),
            "--mnist",
            mnist_dir.to_str().unwrap(),
            "--digits",
            "20",
            "--plot",
            plot.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "accuracy@200",
        "agreement@200",
        "accuracy@400",
        "agreement@400",
        "top_accuracy",
        "top_accuracy_step",
        "top_agreement",
        "top_agreement_step",
        "digits",
        "seed",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    assert_eq!(json["accuracy"].as_array().unwrap().len(), 400);
    assert_eq!(json["digits"], 20);
    assert_eq!(image::open(&plot).unwrap().width(), 800);

    let growing = dir.path().join("growing.safetensors");
    common::lizard().save(&growing).unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("t10k-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2]).unwrap();
    std::fs::write(broken.join("t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    let model_arg = model.to_str().unwrap();
    // An output that could be written: outputs are judged before the work (and /dev/null is no
    // regular file), so the refusal heard is the missing digit's.
    let state = dir.path().join("state.safetensors");
    let state_arg = state.to_str().unwrap();
    for (args, expect) in [
        (vec!["eval", "mnist", growing.to_str().unwrap()], "growing model, but an MNIST model is needed"),
        (vec!["eval", "growing", model_arg], "mnist model, but a growing model is needed"),
        (vec!["eval", "mnist", model_arg, "--mnist", "/no/such/dir"], "t10k-images-idx3-ubyte"),
        (vec!["eval", "mnist", model_arg, "--mnist", broken.to_str().unwrap()], "truncated"),
        (vec!["step", "--model", model_arg, "--steps", "1", "--out", state_arg], "needs a digit"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nca")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: expected '{expect}' in {stderr}");
    }
}

#[test]
fn step_and_render_start_from_a_test_digit() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    NcaWeights::Mnist(distill()).save(&model).unwrap();
    let mnist_dir = common::reference_dir().join("mnist");
    let state = dir.path().join("state.safetensors");
    let picture = dir.path().join("digit.png");
    for (command, out) in [("step", &state), ("render", &picture)] {
        let status = Command::new(env!("CARGO_BIN_EXE_nca"))
            .args([
                command,
                "--model",
                model.to_str().unwrap(),
                "--steps",
                "100",
                "--digit-index",
                "0",
                "--mnist",
                mnist_dir.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(status.success(), "nca {command}");
    }
    let (grid, kind) = nca_sandbox::model::snapshot::load_state_with_kind(&state).unwrap();
    assert_eq!((grid.width, grid.channels, kind), (28, 20, Some(ModelKind::Mnist)));
    // Test digit 0 is a 7: most living cells vote 7 after 100 steps.
    let labels: Vec<_> = grid.data.chunks_exact(20).map(mnist::cell_label).filter(|l| l.alive).collect();
    let sevens = labels.iter().filter(|l| l.class == 7).count();
    assert!(sevens * 10 > labels.len() * 8, "{sevens} of {} cells vote 7", labels.len());
    let img = image::open(&picture).unwrap().to_rgb8();
    let seven = mnist::PALETTE[7];
    let near = |p: &image::Rgb<u8>| p.0.iter().zip(seven).all(|(&a, b)| (a as i32 - b as i32).abs() <= 2);
    assert!(img.pixels().filter(|p| near(p)).count() > 20 * 16, "the render shows 7's colour on the full-grey cells");
}

#[test]
fn the_published_adversary_hijacks_the_vote_and_the_digits_recover() {
    let dir = tempfile::tempdir().unwrap();
    let (base, adversary) = (dir.path().join("base.safetensors"), dir.path().join("adversary.safetensors"));
    NcaWeights::Mnist(adversarial(Pick::Main)).save(&base).unwrap();
    NcaWeights::Mnist(adversarial(Pick::Adversary)).save(&adversary).unwrap();
    let mnist_dir = common::reference_dir().join("mnist");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args([
            "eval",
            "mnist-adversary",
            base.to_str().unwrap(),
            adversary.to_str().unwrap(),
            "--mnist",
            mnist_dir.to_str().unwrap(),
            "--digits",
            "40",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figure = |key: &str| json[key].as_f64().unwrap_or_else(|| panic!("no {key} in {json}"));
    // The article: about a tenth of the cells turn almost every digit into an 8, and most
    // digits go back to their class once the adversaries are gone.
    assert_eq!(json["target_class"], 8);
    assert!(figure("hijacked@200") > 80.0, "{json}");
    assert!(figure("target_without_adversaries@200") < 30.0, "{json}");
    assert!(figure("correct_without_adversaries@200") > 80.0, "{json}");
    assert!(figure("recovered@400") > 70.0, "{json}");
}
