//! The self-classifying MNIST NCA as a Burn [`Module`]: the third implementation of
//! [`crate::model::mnist`]'s step, generic over the backend.
//!
//! Like the TF graph's `manual_noise` input, the residual noise is handed in as a tensor
//! ([`noise_tensor`], or per active cell in [`MnistNca::step_active`]), computed from the shared
//! hash, so Burn adds the same noise as the CPU and the GPU.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::model::{RowGather, add_to_rows, neighbourhood_rows};
use crate::model::fire;
use crate::model::mnist::{CHANNELS, GREY, HIDDEN, MnistSpec, MnistWeights, PERCEPTION, UPDATE, is_alive};

/// The MNIST NCA's trainable weights, in the file format's layouts (`conv_w` flattened to
/// `[ky·3·20 + kx·20 + c, out]`, i.e. `[180, 80]`).
#[derive(Module, Debug)]
pub struct MnistNca<B: Backend> {
    /// `[180, 80]`: the learned 3×3 perception, rows neighbour-major then channel.
    pub conv_w: Param<Tensor<B, 2>>,
    /// `[80]`.
    pub conv_b: Param<Tensor<B, 1>>,
    /// `[80, 80]`.
    pub w1: Param<Tensor<B, 2>>,
    /// `[80]`.
    pub b1: Param<Tensor<B, 1>>,
    /// `[80, 19]`.
    pub w2: Param<Tensor<B, 2>>,
    /// `[19]`.
    pub b2: Param<Tensor<B, 1>>,
}

impl<B: Backend> MnistNca<B> {
    /// The module holding `weights`.
    pub fn from_weights(weights: &MnistWeights, device: &B::Device) -> Self {
        let t2 = |data: &[f32], shape: [usize; 2]| Param::from_tensor(Tensor::from_data(TensorData::new(data.to_vec(), shape), device));
        let t1 = |data: &[f32]| Param::from_tensor(Tensor::from_data(TensorData::new(data.to_vec(), [data.len()]), device));
        Self {
            conv_w: t2(&weights.conv_w, [PERCEPTION, HIDDEN]),
            conv_b: t1(&weights.conv_b),
            w1: t2(&weights.w1, [HIDDEN, HIDDEN]),
            b1: t1(&weights.b1),
            w2: t2(&weights.w2, [HIDDEN, UPDATE]),
            b2: t1(&weights.b2),
        }
    }

    /// The module holding `weights` under given parameter ids (to match a saved optimiser state).
    pub fn from_weights_with_ids(weights: &MnistWeights, ids: [u64; 6], device: &B::Device) -> Self {
        let mut module = Self::from_weights(weights, device);
        module.conv_w = Param::initialized(ids[0].into(), module.conv_w.val());
        module.conv_b = Param::initialized(ids[1].into(), module.conv_b.val());
        module.w1 = Param::initialized(ids[2].into(), module.w1.val());
        module.b1 = Param::initialized(ids[3].into(), module.b1.val());
        module.w2 = Param::initialized(ids[4].into(), module.w2.val());
        module.b2 = Param::initialized(ids[5].into(), module.b2.val());
        module
    }

    /// The ids of the six parameters, in file order: the optimiser's state is keyed by them.
    pub fn param_ids(&self) -> [u64; 6] {
        [self.conv_w.id.val(), self.conv_b.id.val(), self.w1.id.val(), self.b1.id.val(), self.w2.id.val(), self.b2.id.val()]
    }

    /// The weights, with `spec` and no provenance.
    pub fn to_weights(&self, spec: MnistSpec) -> MnistWeights {
        let flat = |t: Tensor<B, 2>| {
            let n: usize = t.dims().iter().product();
            t.reshape([n]).into_data().to_vec::<f32>().expect("f32 tensors")
        };
        let values = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().expect("f32 tensors");
        let mut w = MnistWeights::zeros(spec);
        w.conv_w = flat(self.conv_w.val());
        w.conv_b = values(self.conv_b.val());
        w.w1 = flat(self.w1.val());
        w.b1 = values(self.b1.val());
        w.w2 = flat(self.w2.val());
        w.b2 = values(self.b2.val());
        w
    }

    /// The update of cells from their perception inputs: `[k, 180]` → `[k, 19]`.
    pub fn update(&self, neighbourhoods: Tensor<B, 2>) -> Tensor<B, 2> {
        let hidden = relu(neighbourhoods.matmul(self.conv_w.val()) + self.conv_b.val().unsqueeze_dim(0));
        let hidden = relu(hidden.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0));
        hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0)
    }

    /// One step of every cell: `state` `[N, H, W, 20]`, `fire` `[N, H, W, 1]` (1 where a cell
    /// fires), `noise` `[N, H, W, 19]` (the residual noise, or zeros).
    pub fn step(&self, state: Tensor<B, 4>, fire: Tensor<B, 4>, noise: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, h, w, _] = state.dims();
        // HWIO → OIHW for Burn's convolution (cross-correlation, like TensorFlow's).
        let kernel = self.conv_w.val().reshape([3, 3, CHANNELS, HIDDEN]).permute([3, 2, 0, 1]);
        let perceived =
            conv2d(state.clone().permute([0, 3, 1, 2]), kernel, Some(self.conv_b.val()), ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
        let rows = relu(perceived).permute([0, 2, 3, 1]).reshape([n * h * w, HIDDEN]);
        let hidden = relu(rows.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0));
        let ds = (hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0)).reshape([n, h, w, UPDATE]) + noise;
        let grey = state.clone().narrow(3, GREY, 1);
        let alive = grey.clone().greater_elem(crate::model::mnist::LIVE_THRESHOLD).float();
        let rest = state.narrow(3, 1, UPDATE) + ds * (fire * alive);
        Tensor::cat(vec![grey, rest], 3)
    }

    /// The same step as [`MnistNca::step`] for the cells that are alive and fire, which is all
    /// that changes: about a tenth of an MNIST grid. Their 3×3 neighbourhoods are gathered as rows
    /// and run through the network alone, and the updates scattered back.
    pub fn step_active(&self, batch: MnistBatch<B>, seeds: &[u32], step: u32, fire_rate: f32, noise_std: f32) -> MnistBatch<B> {
        step_active_species(&[self], None, batch, seeds, step, fire_rate, noise_std)
    }
}

/// [`MnistNca::step_active`] for a batch whose cells run different models: cell `c` runs
/// `models[species[c]]` (the adversarial article's mixing rule, `x = orig(x)·(1 − m) +
/// adv(x)·m`); without `species` every cell runs `models[0]`. All share the fire rate and noise.
pub fn step_active_species<B: Backend>(
    models: &[&MnistNca<B>],
    species: Option<&[u8]>,
    mut batch: MnistBatch<B>,
    seeds: &[u32],
    step: u32,
    fire_rate: f32,
    noise_std: f32,
) -> MnistBatch<B> {
    let (h, w) = (batch.height, batch.width);
    let threshold = fire::threshold(fire_rate);
    let mut groups: Vec<Vec<i64>> = vec![Vec::new(); models.len()];
    for (k, &seed) in seeds.iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let flat = (k * h + y) * w + x;
                if batch.alive[flat] && fire::fires(seed, step, x as u32, y as u32, threshold) {
                    let s = species.map_or(0, |s| s[flat] as usize);
                    groups[if s < models.len() { s } else { 0 }].push(flat as i64);
                }
            }
        }
    }
    let device = batch.rows.device();
    let scale = fire::noise_scale(noise_std);
    let (mut cells, mut updates) = (Vec::new(), Vec::new());
    for (model, active) in models.iter().zip(groups) {
        if active.is_empty() {
            continue;
        }
        let count = active.len();
        let neighbours = neighbourhood_rows(&active, h, w, batch.zero_row());
        let perception = batch.gather.gather(&batch.rows, &neighbours).reshape([count, PERCEPTION]);
        let mut ds = model.update(perception);
        if scale != 0.0 {
            let mut noise = Vec::with_capacity(count * UPDATE);
            for &cell in &active {
                let (k, rest) = (cell as usize / (h * w), cell as usize % (h * w));
                let hash = fire::cell_hash(seeds[k], step, (rest % w) as u32, (rest / w) as u32);
                noise.extend((0..UPDATE as u32).map(|c| fire::noise_sum(hash, c) as f32 * scale));
            }
            ds = ds + Tensor::from_data(TensorData::new(noise, [count, UPDATE]), &device);
        }
        // Grey is never written: the update goes to channels 1–19.
        updates.push(Tensor::cat(vec![Tensor::zeros([count, 1], &device), ds], 1));
        cells.extend(active);
    }
    if !cells.is_empty() {
        batch.rows = add_to_rows(batch.rows, &cells, Tensor::cat(updates, 0));
    }
    batch
}

/// A batch of MNIST grids as the active-cell step keeps it: one row of 20 channels per cell,
/// `[N·H·W + 1, 20]`, the last row always zero (every border cell's neighbour outside the grid).
/// Which cells are alive never changes during a rollout (grey is immutable), so it is read once.
#[derive(Debug)]
pub struct MnistBatch<B: Backend> {
    rows: Tensor<B, 2>,
    grids: usize,
    height: usize,
    width: usize,
    alive: Vec<bool>,
    gather: RowGather,
}

impl<B: Backend> MnistBatch<B> {
    /// The batch holding `state` `[N, H, W, 20]` (read back once, for the alive mask).
    pub fn new(state: Tensor<B, 4>) -> Self {
        let [grids, height, width, channels] = state.dims();
        assert_eq!(channels, CHANNELS, "the MNIST NCA has {CHANNELS} channels");
        let device = state.device();
        let values = state.clone().into_data().convert::<f32>().to_vec::<f32>().expect("float state");
        let alive = values.chunks_exact(CHANNELS).map(is_alive).collect();
        let cells = grids * height * width;
        let rows = Tensor::cat(vec![state.reshape([cells, CHANNELS]), Tensor::zeros([1, CHANNELS], &device)], 0);
        Self { rows, grids, height, width, alive, gather: RowGather::for_device::<B>(&device) }
    }

    /// The grids, `[N, H, W, 20]`.
    pub fn into_state(self) -> Tensor<B, 4> {
        let cells = self.grids * self.height * self.width;
        self.rows.narrow(0, 0, cells).reshape([self.grids, self.height, self.width, CHANNELS])
    }

    /// Which cells are alive, `[N·H·W]`.
    pub fn alive(&self) -> &[bool] {
        &self.alive
    }

    /// The batch's rows `[N·H·W + 1, 20]` (the last one the zero border row).
    pub fn rows(&self) -> &Tensor<B, 2> {
        &self.rows
    }

    fn zero_row(&self) -> i64 {
        (self.grids * self.height * self.width) as i64
    }
}

/// The residual noise `[N, H, W, 19]` of one step for a batch of grids with their own seeds:
/// the same values the CPU reference and the shader add.
pub fn noise_tensor<B: Backend>(seeds: &[u32], step: u32, height: usize, width: usize, noise_std: f32, device: &B::Device) -> Tensor<B, 4> {
    let scale = fire::noise_scale(noise_std);
    let mut values = Vec::with_capacity(seeds.len() * height * width * UPDATE);
    for &seed in seeds {
        for y in 0..height as u32 {
            for x in 0..width as u32 {
                let hash = fire::cell_hash(seed, step, x, y);
                values.extend((0..UPDATE as u32).map(|c| fire::noise_sum(hash, c) as f32 * scale));
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [seeds.len(), height, width, UPDATE]), device)
}
