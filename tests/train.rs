//! The trainer's core on a tiny problem: the loss falls, and the same seed gives the same run.

use burn::backend::{Autodiff, NdArray};
use nca_sandbox::model::GrowingMode;
use nca_sandbox::model::target::Target;
use nca_sandbox::train::{TrainConfig, Trainer};

type B = Autodiff<NdArray<f32>>;

/// An 8×8 green disc on transparency, padded to 16×16.
fn tiny_target() -> Target {
    let img = image::RgbaImage::from_fn(8, 8, |x, y| {
        let (dx, dy) = (x as f32 - 3.5, y as f32 - 3.5);
        if dx * dx + dy * dy < 12.0 { image::Rgba([40, 180, 60, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    Target::from_image(&image::DynamicImage::ImageRgba8(img), 8, 4)
}

fn tiny_config(seed: u64) -> TrainConfig {
    TrainConfig::new()
        .with_mode(GrowingMode::Persistent)
        .with_pool_size(16)
        .with_batch_size(4)
        .with_min_steps(10)
        .with_max_steps(14)
        .with_target_size(8)
        .with_target_padding(4)
        .with_seed(seed)
}

#[test]
fn a_tiny_training_run_lowers_the_loss() {
    let mut trainer = Trainer::<B>::new(tiny_config(1), tiny_target(), Default::default());
    let losses: Vec<f64> = (0..60).map(|_| trainer.step().loss).collect();
    let first = losses[..5].iter().sum::<f64>() / 5.0;
    let last = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last < 0.5 * first, "loss should at least halve: first {first:e}, last {last:e}");
    eprintln!("tiny run: mean loss of the first 5 iterations {first:.3e}, of the last 5 {last:.3e}");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut t = Trainer::<B>::new(tiny_config(seed), tiny_target(), Default::default());
        let losses: Vec<f64> = (0..4).map(|_| t.step().loss).collect();
        (losses, t.weights(), t.rng)
    };
    let (a, b) = (run(3), run(3));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert_ne!(run(4).0, a.0);
}

#[test]
fn checkpoint_and_resume_reproduce_the_uninterrupted_run() {
    // Regenerating mode exercises the pool, the damage and the RNG.
    let config = || tiny_config(9).with_mode(GrowingMode::Regenerating);
    let mut straight = Trainer::<B>::new(config(), tiny_target(), Default::default());
    let all: Vec<f64> = (0..6).map(|_| straight.step().loss).collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt.safetensors");
    let mut first = Trainer::<B>::new(config(), tiny_target(), Default::default());
    for _ in 0..3 {
        first.step();
    }
    first.save_checkpoint(&path).unwrap();
    drop(first);
    let mut resumed = Trainer::<B>::resume(&path, Default::default()).unwrap();
    assert_eq!(resumed.iteration, 3);
    let rest: Vec<f64> = (0..3).map(|_| resumed.step().loss).collect();
    assert_eq!(rest, all[3..], "losses after resuming differ from the uninterrupted run");
    assert_eq!(resumed.losses, all, "the loss history carries over");
    assert_eq!(resumed.weights(), straight.weights(), "weights differ after resuming");
    assert_eq!(resumed.pool, straight.pool, "pools differ after resuming");
    assert_eq!(resumed.rng, straight.rng);
}

#[test]
fn an_unreadable_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.ckpt.safetensors");
    std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let err = Trainer::<B>::resume(&path, Default::default()).err().expect("must fail").to_string();
    assert!(err.contains("broken.ckpt.safetensors") && err.contains("not a readable checkpoint"), "{err}");
    let err = Trainer::<B>::resume(&dir.path().join("missing"), Default::default()).err().unwrap().to_string();
    assert!(err.contains("cannot read"), "{err}");
}
