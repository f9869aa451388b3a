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
