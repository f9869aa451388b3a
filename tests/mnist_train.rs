//! The MNIST trainer's core: gradients, the loss falling, determinism, exact resume, the
//! adversary's mixing rule, and bad input through the CLI.

mod common;

use std::process::Command;
use std::sync::Arc;

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use nca_sandbox::model::idx::Digits;
use nca_sandbox::model::mnist;
use nca_sandbox::model::{Grid, NcaWeights, fire};
use nca_sandbox::train::{MnistBatch, MnistNca, MnistTrainConfig, MnistTrainer, step_active_species};

type B = Autodiff<NdArray<f32>>;

/// The test digits 0 and 1 among the first `n`: a tiny problem a few hundred iterations dent.
fn zeros_and_ones(n: usize) -> Arc<Digits> {
    let test = common::test_digits();
    let keep: Vec<usize> = (0..n).filter(|&i| test.labels[i] < 2).collect();
    let pixels = keep.iter().flat_map(|&i| test.image(i).to_vec()).collect();
    Arc::new(Digits { rows: 28, cols: 28, pixels, labels: keep.iter().map(|&i| test.labels[i]).collect() })
}

/// The first `n` test digits, as a small training set.
fn few_digits(n: usize) -> Arc<Digits> {
    let test = common::test_digits();
    Arc::new(Digits { rows: 28, cols: 28, pixels: test.pixels[..n * 784].to_vec(), labels: test.labels[..n].to_vec() })
}

const TINY_LR: f64 = 2e-3;
const TINY_ITERATIONS: usize = 200;

fn tiny_config(seed: u64) -> MnistTrainConfig {
    MnistTrainConfig::new().with_pool_size(16).with_batch_size(8).with_fresh(2).with_mutated(2).with_steps(8).with_seed(seed)
}

#[test]
fn a_tiny_run_lowers_the_loss() {
    // Two classes and a faster learning rate than the notebook's, so a couple of hundred
    // iterations show it.
    let config = tiny_config(1).with_learning_rate(TINY_LR);
    let mut trainer = MnistTrainer::<B>::new(config, zeros_and_ones(500), None, Default::default()).unwrap();
    let losses: Vec<f64> = (0..TINY_ITERATIONS).map(|_| trainer.step().loss).collect();
    let first = losses[..20].iter().sum::<f64>() / 20.0;
    let last = losses[losses.len() - 20..].iter().sum::<f64>() / 20.0;
    eprintln!("tiny MNIST run: mean loss of the first 20 iterations {first:.2}, of the last 20 {last:.2}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last < 0.85 * first, "the loss should fall: first {first:.2}, last {last:.2}");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut t = MnistTrainer::<B>::new(tiny_config(seed), few_digits(100), None, Default::default()).unwrap();
        let losses: Vec<f64> = (0..3).map(|_| t.step().loss).collect();
        (losses, t.weights(), t.pool.clone(), t.rng)
    };
    let (a, b) = (run(3), run(3));
    assert_eq!(a, b);
    assert_ne!(run(4).0, a.0);
}

#[test]
fn checkpoint_and_resume_reproduce_the_uninterrupted_run() {
    let data = few_digits(100);
    let mut straight = MnistTrainer::<B>::new(tiny_config(9), data.clone(), None, Default::default()).unwrap();
    let all: Vec<f64> = (0..6).map(|_| straight.step().loss).collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt.safetensors");
    let mut first = MnistTrainer::<B>::new(tiny_config(9), data.clone(), None, Default::default()).unwrap();
    for _ in 0..3 {
        first.step();
    }
    first.save_checkpoint(&path).unwrap();
    drop(first);
    let mut resumed = MnistTrainer::<B>::resume(&path, data.clone(), Default::default()).unwrap();
    assert_eq!(resumed.iteration, 3);
    let rest: Vec<f64> = (0..3).map(|_| resumed.step().loss).collect();
    assert_eq!(rest, all[3..], "losses after resuming differ from the uninterrupted run");
    assert_eq!(resumed.losses, all);
    assert_eq!(resumed.weights(), straight.weights(), "weights differ after resuming");
    assert_eq!(resumed.pool, straight.pool, "pools differ after resuming");
    assert_eq!(resumed.rng, straight.rng);
    // Another training set than the run's is refused, not silently used.
    let err = MnistTrainer::<B>::resume(&path, few_digits(50), Default::default()).err().unwrap().to_string();
    assert!(err.contains("trained on 100 digits"), "{err}");
}

#[test]
fn an_adversary_run_resumes_exactly_with_its_base_and_masks() {
    let data = few_digits(100);
    let base = common::mnist_model();
    let config = || tiny_config(5).with_adversary_target(Some(8)).with_base_model("base".into());
    let mut straight = MnistTrainer::<B>::new(config(), data.clone(), Some(base.clone()), Default::default()).unwrap();
    let all: Vec<f64> = (0..4).map(|_| straight.step().loss).collect();
    let masked: usize = straight.pool.iter().map(|s| s.mask.iter().filter(|&&m| m == 1).count()).sum();
    let share = masked as f64 / (straight.pool.len() * 784) as f64;
    assert!((0.07..0.13).contains(&share), "about a tenth of the cells run the adversary: {share}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adv.ckpt.safetensors");
    let mut first = MnistTrainer::<B>::new(config(), data.clone(), Some(base), Default::default()).unwrap();
    first.step();
    first.step();
    first.save_checkpoint(&path).unwrap();
    let mut resumed = MnistTrainer::<B>::resume(&path, data, Default::default()).unwrap();
    let rest: Vec<f64> = (0..2).map(|_| resumed.step().loss).collect();
    assert_eq!(rest, all[2..]);
    assert_eq!(resumed.pool, straight.pool);
}

fn to_tensor<Bk: Backend>(grid: &Grid, device: &Bk::Device) -> Tensor<Bk, 4> {
    Tensor::from_data(TensorData::new(grid.data.clone(), [1, grid.height, grid.width, grid.channels]), device)
}

#[test]
fn the_mixed_step_follows_the_cpu_reference_of_the_adversarial_rule() {
    use nca_sandbox::model::import::Pick;
    type P = NdArray<f32>;
    let (base, adversary) = (common::adversarial(Pick::Main), common::adversarial(Pick::Adversary));
    let mut grid = common::settled_digits(4, 15);
    let species: Vec<u8> = (0..grid.cells()).map(|i| u8::from(fire::pcg(i as u32 ^ 77).is_multiple_of(10))).collect();
    grid.species = species.iter().map(|&s| s as u32).collect();
    let mut expected = grid.clone();
    mnist::step_species(&[&base, &adversary], &mut expected, 4, 15);

    let device = Default::default();
    let (b, a) = (MnistNca::<P>::from_weights(&base, &device), MnistNca::<P>::from_weights(&adversary, &device));
    let batch = step_active_species(&[&b, &a], Some(&species), MnistBatch::new(to_tensor::<P>(&grid, &device)), &[4], 15, 0.5, 0.02);
    let got = batch.into_state().into_data().to_vec::<f32>().unwrap();
    let (max, _) = common::diff(&got, &expected.data);
    assert!(max <= 1e-5, "the mixed Burn step differs from the CPU's mixed rule by {max:e}");
}

fn nca(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nca")).args(args).output().unwrap()
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let growing = dir.path().join("growing.safetensors");
    common::lizard().save(&growing).unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("train-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 9]).unwrap();
    std::fs::write(broken.join("train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1, 3]).unwrap();
    let reference = common::reference_dir().join("mnist");
    let (out_s, reference_s) = (out.to_str().unwrap(), reference.to_str().unwrap());
    for (args, expect) in [
        (vec!["train", "mnist", "--out", out_s, "--mnist", "/no/such/folder", "--iterations", "1"], "train-images-idx3-ubyte"),
        (vec!["train", "mnist", "--out", out_s, "--mnist", broken.to_str().unwrap(), "--iterations", "1"], "too short"),
        (
            vec!["train", "mnist", "--out", out_s, "--mnist", reference_s, "--init", growing.to_str().unwrap()],
            "growing model, but an MNIST model is needed",
        ),
        (vec!["train", "mnist", "--out", out_s, "--mnist", reference_s, "--pool", "5"], "smaller than the batch"),
        (
            vec!["train", "mnist-adversary", "--base", growing.to_str().unwrap(), "--out", out_s, "--mnist", reference_s],
            "growing model, but an MNIST model is needed",
        ),
        (
            vec![
                "train",
                "mnist",
                "--out",
                out_s,
                "--mnist",
                reference_s,
                "--learning-rate",
                "1e30",
                "--iterations",
                "50",
                "--batch-size",
                "2",
                "--pool",
                "0",
                "--fresh",
                "1",
                "--mutated",
                "1",
            ],
            "loss became",
        ),
    ] {
        let o = nca(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let last = stderr.trim().lines().last().unwrap_or("");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(last.contains(expect), "{args:?}: expected '{expect}' in: {last}");
        assert!(!out.exists(), "{args:?}: a model was written despite the error");
    }
}

#[test]
fn the_cli_trains_writes_the_model_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits.safetensors");
    let reference = common::reference_dir().join("mnist");
    let args = |iterations: &str| {
        vec![
            "train".to_string(),
            "mnist".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--mnist".into(),
            reference.to_str().unwrap().into(),
            "--iterations".into(),
            iterations.into(),
            "--steps".into(),
            "4".into(),
            "--batch-size".into(),
            "4".into(),
            "--pool".into(),
            "8".into(),
            "--fresh".into(),
            "1".into(),
            "--mutated".into(),
            "1".into(),
        ]
    };
    let first = Command::new(env!("CARGO_BIN_EXE_nca")).args(args("2")).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let checkpoint = dir.path().join("digits.ckpt.safetensors");
    let mut resume = args("4");
    resume.extend(["--resume".to_string(), checkpoint.to_str().unwrap().into()]);
    let second = Command::new(env!("CARGO_BIN_EXE_nca")).args(&resume).output().unwrap();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let model = NcaWeights::load(&out).unwrap();
    let w = model.expect_mnist().unwrap();
    assert_eq!(w.provenance.get("nca.train.iterations").map(String::as_str), Some("4"));
    assert!(w.provenance.get("nca.train.recipe").is_some_and(|r| r.contains("\"pool_size\":8")));
    assert_eq!(nca_sandbox::plot::read_csv(&dir.path().join("digits.loss.csv")).unwrap().len(), 4);
    assert!(dir.path().join("digits.loss.png").is_file());
}

/// Flex (the default CPU backend) gathers neighbourhoods with `gather_nd` too; its gradient (a
/// `scatter_nd` over repeated rows) must add up like ndarray's, which `mnist_gradients.rs` holds
/// to finite differences.
#[test]
fn flex_computes_the_same_gradients_as_ndarray() {
    use burn::backend::Flex;
    fn conv_w_gradient<Bk: Backend>() -> Vec<f32> {
        let device = Default::default();
        let module = MnistNca::<Autodiff<Bk>>::from_weights(&common::mnist_model(), &device);
        let state = common::settled_digits(2, 10);
        let mut batch = MnistBatch::new(to_tensor::<Autodiff<Bk>>(&state, &device));
        for step in 0..4 {
            batch = module.step_active(batch, &[3], step, 0.5, 0.02);
        }
        let loss = batch.into_state().narrow(3, 10, 10).powi_scalar(2).sum();
        let grads = loss.backward();
        module.conv_w.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap()
    }
    let (ndarray, flex) = (conv_w_gradient::<NdArray<f32>>(), conv_w_gradient::<Flex>());
    let scale = ndarray.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    let (max, _) = common::diff(&ndarray, &flex);
    assert!(scale > 0.0 && max <= 1e-4 * scale, "flex's gradient differs from ndarray's by {max:e} (largest {scale:e})");
}
