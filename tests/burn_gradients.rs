//! Autodiff through a short rollout agrees with central finite differences (tiny grid, f64).

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use nca_sandbox::cli::bench::{alive_grid, bench_weights};
use nca_sandbox::model::fire;
use nca_sandbox::model::perception::SobelPair;
use nca_sandbox::train::model::ActiveBatch;
use nca_sandbox::train::{GrowingNca, fire_mask};

type Plain = NdArray<f64>;
type Diff = Autodiff<Plain>;

const SIZE: usize = 8;
const STEPS: u32 = 3;

/// RGBA MSE after `STEPS` steps from a fully alive random state, against a fixed pattern.
/// `active`: step with [`GrowingNca::step_active`] (as training does) instead of the dense step.
fn rollout_loss<B: Backend>(module: &GrowingNca<B>, active: bool, device: &B::Device) -> Tensor<B, 1> {
    let start = alive_grid(SIZE);
    let mut state = Tensor::<B, 4>::from_data(TensorData::new(start.data.clone(), [1, SIZE, SIZE, 16]), device);
    if active {
        let mut batch = ActiveBatch::new(state);
        for step in 0..STEPS {
            batch = module.step_active(batch, &[7], step, 0.5, &SobelPair::default());
        }
        state = batch.into_state();
    } else {
        for step in 0..STEPS {
            state = module.step(state, fire_mask::<B>(&[7], step, SIZE, SIZE, 0.5, device), &SobelPair::default());
        }
    }
    let target: Vec<f32> = (0..SIZE * SIZE * 4).map(|i| (fire::pcg(i as u32 + 99) % 1000) as f32 / 1000.0).collect();
    let target = Tensor::<B, 4>::from_data(TensorData::new(target, [1, SIZE, SIZE, 4]), device);
    (state.narrow(3, 0, 4) - target).powi_scalar(2).mean()
}

/// The f64 loss for weights given in f64, so perturbations need not be representable in f32.
fn loss_of(tensors: &[Vec<f64>; 4]) -> f64 {
    use burn::module::Param;
    let device = Default::default();
    let t2 =
        |d: &Vec<f64>, shape: [usize; 2]| Param::from_tensor(Tensor::<Plain, 2>::from_data(TensorData::new(d.clone(), shape), &device));
    let t1 = |d: &Vec<f64>| Param::from_tensor(Tensor::<Plain, 1>::from_data(TensorData::new(d.clone(), [d.len()]), &device));
    let module = GrowingNca { w1: t2(&tensors[0], [48, 128]), b1: t1(&tensors[1]), w2: t2(&tensors[2], [128, 16]), b2: t1(&tensors[3]) };
    rollout_loss(&module, false, &device).into_scalar()
}

#[test]
fn gradients_match_finite_differences() {
    gradients_match_finite_differences_on(false);
}

#[test]
fn active_cell_gradients_match_finite_differences() {
    gradients_match_finite_differences_on(true);
}

fn gradients_match_finite_differences_on(active: bool) {
    let weights = bench_weights().expect_growing().unwrap().clone();
    let device = Default::default();
    let module = GrowingNca::<Diff>::from_weights(&weights, &device);
    let grads = rollout_loss(&module, active, &device).backward();
    let grad = |t: Option<Tensor<Plain, 2>>| t.unwrap().into_data().to_vec::<f64>().unwrap();
    let g_w1 = grad(module.w1.grad(&grads));
    let g_w2 = grad(module.w2.grad(&grads));
    let g_b1 = module.b1.grad(&grads).unwrap().into_data().to_vec::<f64>().unwrap();
    let g_b2 = module.b2.grad(&grads).unwrap().into_data().to_vec::<f64>().unwrap();

    let mut checked = 0;
    let mut worst: f64 = 0.0;
    // A spread of entries in every tensor, including the alpha row of the update.
    let picks: [(&str, usize); 10] = [
        ("w1", 5),
        ("w1", 3 * 128 + 17),
        ("w1", 40 * 128 + 100),
        ("b1", 9),
        ("b1", 77),
        ("w2", 0),
        ("w2", 50 * 16 + 3),
        ("w2", 127 * 16 + 15),
        ("b2", 3),
        ("b2", 12),
    ];
    let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let base = [as_f64(&weights.w1), as_f64(&weights.b1), as_f64(&weights.w2), as_f64(&weights.b2)];
    for (name, index) in picks {
        // Small enough that no ReLU or alive threshold is crossed, large enough for f64.
        let eps = 1e-6;
        let slot = ["w1", "b1", "w2", "b2"].iter().position(|n| *n == name).unwrap();
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[slot][index] += eps;
        minus[slot][index] -= eps;
        let numeric = (loss_of(&plus) - loss_of(&minus)) / (2.0 * eps);
        let analytic = [&g_w1, &g_b1, &g_w2, &g_b2][slot][index];
        let error = (numeric - analytic).abs() / (numeric.abs().max(analytic.abs()).max(1e-6));
        assert!(error < 1e-4, "{name}[{index}]: autodiff {analytic:e} vs finite difference {numeric:e}");
        worst = worst.max(error);
        checked += 1;
    }
    assert_eq!(checked, 10);
    assert!(g_w1.iter().any(|&g| g != 0.0) && g_w2.iter().any(|&g| g != 0.0), "gradients must reach both layers");
    eprintln!("worst relative error over {checked} entries: {worst:e}");
}
