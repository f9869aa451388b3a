//! Autodiff through the MNIST module's active-cell step agrees with the dense step and with
//! central finite differences (tiny grid, f64). Its own test binary: Burn's ndarray backend keeps
//! one float type per process, so f64 tests must not share a process with f32 ones.

mod common;

use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use nca_sandbox::model::mnist::{self, MnistWeights};
use nca_sandbox::model::{Grid, fire};
use nca_sandbox::train::{MnistBatch, MnistNca, fire_mask, noise_tensor};

fn to_tensor<Bk: Backend>(grid: &Grid, device: &Bk::Device) -> Tensor<Bk, 4> {
    Tensor::from_data(TensorData::new(grid.data.clone(), [1, grid.height, grid.width, grid.channels]), device)
}

/// A 6×6 patch of a real digit's neighbourhood, 3 steps, f64: small enough for finite differences.
fn tiny_state() -> Grid {
    let test = common::test_digits();
    let mut g = Grid::new(6, 6, mnist::CHANNELS);
    for y in 0..6 {
        for x in 0..6 {
            let p = test.image(0)[(y + 9) * 28 + x + 12];
            let cell = g.cell_mut(x, y);
            cell[0] = p as f32 / 255.0;
            for (c, v) in cell[1..].iter_mut().enumerate() {
                *v = ((fire::pcg((y * 6 + x) as u32 * 31 + c as u32) % 1000) as f32 / 1000.0 - 0.5) * 0.4;
            }
        }
    }
    g
}

fn tiny_weights() -> MnistWeights {
    let mut w = MnistWeights::zeros(Default::default());
    for (k, t) in w.tensors_mut().into_iter().enumerate() {
        for (i, v) in t.iter_mut().enumerate() {
            *v = ((fire::pcg((k * 100_000 + i) as u32) % 2000) as f32 / 2000.0 - 0.5) * 0.3;
        }
    }
    w
}

/// L2 against a fixed class target after 3 steps, by the dense or the active-cell step.
fn rollout_loss<Bk: Backend>(module: &MnistNca<Bk>, active: bool, device: &Bk::Device) -> Tensor<Bk, 1> {
    let start = tiny_state();
    let mut state = to_tensor::<Bk>(&start, device);
    if active {
        let mut batch = MnistBatch::new(state);
        for step in 0..3 {
            batch = module.step_active(batch, &[2], step, 0.5, 0.02);
        }
        state = batch.into_state();
    } else {
        for step in 0..3 {
            let fire = fire_mask::<Bk>(&[2], step, 6, 6, 0.5, device);
            let noise = noise_tensor::<Bk>(&[2], step, 6, 6, 0.02, device);
            state = module.step(state, fire, noise);
        }
    }
    let target: Vec<f32> = (0..36 * 10).map(|i| if i % 10 == 3 { 1.0 } else { 0.0 }).collect();
    let target = Tensor::<Bk, 4>::from_data(TensorData::new(target, [1, 6, 6, 10]), device);
    (state.narrow(3, 10, 10) - target).powi_scalar(2).sum().div_scalar(2.0)
}

#[test]
fn active_cell_gradients_match_the_dense_step_and_finite_differences() {
    gradients_match::<NdArray<f64>>();
}

fn gradients_match<F: Backend<FloatElem = f64>>() {
    let w = tiny_weights();
    let device = Default::default();
    let module = MnistNca::<Autodiff<F>>::from_weights(&w, &device);
    let dense = rollout_loss(&module, false, &device);
    let active = rollout_loss(&module, true, &device);
    let (ld, la) = (dense.clone().into_scalar(), active.clone().into_scalar());
    assert!((ld - la).abs() < 1e-9 * ld.abs().max(1.0), "the two steps' losses differ: {ld} vs {la}");
    let (gd, ga) = (dense.backward(), active.backward());
    let dense_grad = module.conv_w.grad(&gd).unwrap().into_data().to_vec::<f64>().unwrap();
    let active_grad = module.conv_w.grad(&ga).unwrap().into_data().to_vec::<f64>().unwrap();
    let w1_grad = module.w1.grad(&ga).unwrap().into_data().to_vec::<f64>().unwrap();
    for (a, b) in dense_grad.iter().zip(&active_grad) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-6), "conv_w gradients differ: {a} vs {b}");
    }
    // Central differences on a few weights of conv_w and w1.
    let loss_with = |tensor: usize, index: usize, delta: f64| -> f64 {
        let mut values: Vec<Vec<f64>> = w.tensors().iter().map(|(_, _, d)| d.iter().map(|&v| v as f64).collect()).collect();
        values[tensor][index] += delta;
        use burn::module::Param;
        let t2 =
            |d: &Vec<f64>, shape: [usize; 2]| Param::from_tensor(Tensor::<F, 2>::from_data(TensorData::new(d.clone(), shape), &device));
        let t1 = |d: &Vec<f64>| Param::from_tensor(Tensor::<F, 1>::from_data(TensorData::new(d.clone(), [d.len()]), &device));
        let m = MnistNca {
            conv_w: t2(&values[0], [180, 80]),
            conv_b: t1(&values[1]),
            w1: t2(&values[2], [80, 80]),
            b1: t1(&values[3]),
            w2: t2(&values[4], [80, 19]),
            b2: t1(&values[5]),
        };
        rollout_loss(&m, true, &device).into_scalar()
    };
    let h = 1e-5;
    let mut checked = 0;
    for (tensor, grads) in [(0usize, &active_grad), (2, &w1_grad)] {
        // The largest gradients: small ones drown in the difference's rounding.
        let mut order: Vec<usize> = (0..grads.len()).collect();
        order.sort_by(|&a, &b| grads[b].abs().total_cmp(&grads[a].abs()));
        for &i in order.iter().take(4) {
            let numeric = (loss_with(tensor, i, h) - loss_with(tensor, i, -h)) / (2.0 * h);
            let analytic = grads[i];
            assert!(
                (numeric - analytic).abs() <= 1e-4 * analytic.abs().max(1e-3),
                "tensor {tensor}[{i}]: autodiff {analytic}, finite differences {numeric}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}
