//! The growing NCA as a Burn [`Module`].

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::IndexingUpdateOp;
use burn::tensor::ops::ConvOptions;

use crate::model::perception::SobelPair;
use crate::model::spec::{
    ALIVE_THRESHOLD, ALPHA, GROWING_CHANNELS as C, GROWING_FILTERS as F, GROWING_HIDDEN as H,
    GROWING_PERCEPTION as P, GrowingSpec,
};
use crate::model::{GrowingWeights, fire};

/// The growing NCA's trainable weights: `dx = W2ᵀ·relu(W1ᵀ·p + b1) + b2`.
#[derive(Module, Debug)]
pub struct GrowingNca<B: Backend> {
    /// `[48, 128]`, layout `[in, out]`, inputs filter-major.
    pub w1: Param<Tensor<B, 2>>,
    /// `[128]`.
    pub b1: Param<Tensor<B, 1>>,
    /// `[128, 16]`, layout `[in, out]`.
    pub w2: Param<Tensor<B, 2>>,
    /// `[16]`.
    pub b2: Param<Tensor<B, 1>>,
}

impl<B: Backend> GrowingNca<B> {
    /// The module holding `weights`.
    pub fn from_weights(weights: &GrowingWeights, device: &B::Device) -> Self {
        let t2 = |data: &[f32], shape: [usize; 2]| Param::from_tensor(Tensor::from_data(TensorData::new(data.to_vec(), shape), device));
        let t1 = |data: &[f32]| Param::from_tensor(Tensor::from_data(TensorData::new(data.to_vec(), [data.len()]), device));
        Self { w1: t2(&weights.w1, [P, H]), b1: t1(&weights.b1), w2: t2(&weights.w2, [H, C]), b2: t1(&weights.b2) }
    }

    /// The ids of `w1`, `b1`, `w2`, `b2`: the optimiser's state is keyed by them.
    pub fn param_ids(&self) -> [u64; 4] {
        [self.w1.id.val(), self.b1.id.val(), self.w2.id.val(), self.b2.id.val()]
    }

    /// The module holding `weights` under given parameter ids (to match a saved optimiser state).
    pub fn from_weights_with_ids(weights: &GrowingWeights, ids: [u64; 4], device: &B::Device) -> Self {
        let mut module = Self::from_weights(weights, device);
        module.w1 = Param::initialized(ids[0].into(), module.w1.val());
        module.b1 = Param::initialized(ids[1].into(), module.b1.val());
        module.w2 = Param::initialized(ids[2].into(), module.w2.val());
        module.b2 = Param::initialized(ids[3].into(), module.b2.val());
        module
    }

    /// The weights, with `spec` and no provenance (the caller adds what it knows).
    pub fn to_weights(&self, spec: GrowingSpec) -> GrowingWeights {
        let values = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().expect("f32 tensors");
        let mut w = GrowingWeights::zeros(spec);
        w.w1 = values(self.w1.val().reshape([P * H]));
        w.b1 = values(self.b1.val());
        w.w2 = values(self.w2.val().reshape([H * C]));
        w.b2 = values(self.b2.val());
        w
    }

    /// Perception: `[N, H, W, 16]` → `[N, H, W, 48]`, filter-major (identity, Kx', Ky').
    pub fn perceive(state: Tensor<B, 4>, sobel: &SobelPair) -> Tensor<B, 4> {
        let [n, h, w, _] = state.dims();
        let device = state.device();
        // A depthwise convolution: group c produces outputs 3c .. 3c+2 (channel-major).
        let mut kernels: Vec<f32> = Vec::with_capacity(C * F * 9);
        let identity: [[f32; 3]; 3] = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
        for _ in 0..C {
            for k in [identity, sobel.x, sobel.y] {
                kernels.extend(k.iter().flatten());
            }
        }
        let weight = Tensor::<B, 4>::from_data(TensorData::new(kernels, [C * F, 1, 3, 3]), &device);
        let nchw = state.permute([0, 3, 1, 2]);
        let channel_major = conv2d(nchw, weight, None, ConvOptions::new([1, 1], [1, 1], [1, 1], C));
        channel_major
            .reshape([n, C, F, h, w])
            .swap_dims(1, 2)
            .reshape([n, P, h, w])
            .permute([0, 2, 3, 1])
    }

    /// The update for each cell: `[N, H, W, 48]` → `[N, H, W, 16]`.
    pub fn update(&self, perception: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, h, w, _] = perception.dims();
        let rows = perception.reshape([n * h * w, P]);
        let hidden = relu(rows.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0));
        let dx = hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0);
        dx.reshape([n, h, w, C])
    }

    /// One step: `state` `[N, H, W, 16]`, `fire` `[N, H, W, 1]` (1 where a cell updates).
    pub fn step(&self, state: Tensor<B, 4>, fire: Tensor<B, 4>, sobel: &SobelPair) -> Tensor<B, 4> {
        let pre = alive(state.clone());
        let dx = self.update(Self::perceive(state.clone(), sobel));
        let next = state + dx * fire;
        let post = alive(next.clone());
        next * pre.bool_and(post).float()
    }
}

impl<B: Backend> GrowingNca<B> {
    /// The same step as [`GrowingNca::step`], computing the update only for the cells that both
    /// fire and are alive before it: every other cell's update is multiplied by zero anyway.
    ///
    /// On a growing lizard that is a fifth of the grid or less. Perception is computed for those
    /// cells alone too, as their 3×3 neighbourhoods (gathered rows) times a fixed `[144, 48]`
    /// matrix, which also replaces the depthwise convolution whose gradient dominated training
    /// on the CPU.
    ///
    /// The alive masks are computed on the host from alpha read back each step (free on a CPU
    /// backend, one small transfer on a GPU), outside the autodiff graph, where they belong: a
    /// mask has no gradient. `alive` is the mask of `state` (see [`host_alive_mask`]); the mask
    /// of the result is returned with it. Masking only ever zeroes cells whose alpha is at most
    /// the threshold, so the mask after the step is the next step's mask before it.
    pub fn step_active(
        &self,
        state: Tensor<B, 4>,
        alive: &[bool],
        seeds: &[u32],
        step: u32,
        fire_rate: f32,
        sobel: &SobelPair,
    ) -> (Tensor<B, 4>, Vec<bool>) {
        let [n, h, w, _] = state.dims();
        let device = state.device();
        let active = active_cells(alive, seeds, step, h, w, fire_rate);
        if active.is_empty() {
            return (state, alive.to_vec());
        }
        let count = active.len();
        let cells = n * h * w;
        let (neighbours, inside) = neighbourhood_rows(&active, h, w);
        let gathered = state.clone().reshape([cells, C]).select(0, Tensor::from_data(TensorData::new(neighbours, [count * 9]), &device))
            * Tensor::<B, 2>::from_data(TensorData::new(inside, [count * 9, 1]), &device);
        let perception = gathered.reshape([count, 9 * C]).matmul(neighbourhood_to_perception::<B>(sobel, &device));
        let hidden = relu(perception.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0));
        let dx = hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0);
        let index = Tensor::<B, 1, Int>::from_data(TensorData::new(active, [count]), &device);
        let dx = Tensor::<B, 2>::zeros([cells, C], &device).select_assign(0, index, dx, IndexingUpdateOp::Add);
        let next = state + dx.reshape([n, h, w, C]);
        let post = host_alive_mask(&next);
        let keep: Vec<f32> = alive.iter().zip(&post).map(|(&a, &b)| if a && b { 1.0 } else { 0.0 }).collect();
        (next * Tensor::from_data(TensorData::new(keep, [n, h, w, 1]), &device), post)
    }
}

/// The alive mask `[N·H·W]` of a batch `[N, H, W, 16]`, computed on the host.
pub fn host_alive_mask<B: Backend>(state: &Tensor<B, 4>) -> Vec<bool> {
    let [_, h, w, _] = state.dims();
    let alpha = state.clone().narrow(3, ALPHA, 1).into_data().convert::<f32>().to_vec::<f32>().expect("float state");
    let above: Vec<bool> = alpha.iter().map(|&a| a > ALIVE_THRESHOLD).collect();
    above.chunks_exact(h * w).flat_map(|grid| crate::model::grid::dilate(grid, w, h)).collect()
}

/// Flat indices (into `[N·H·W]`) of the cells that are alive before the step and fire in it.
fn active_cells(pre_alive: &[bool], seeds: &[u32], step: u32, height: usize, width: usize, fire_rate: f32) -> Vec<i64> {
    let threshold = fire::threshold(fire_rate);
    let mut active = Vec::new();
    for (k, &seed) in seeds.iter().enumerate() {
        for y in 0..height {
            for x in 0..width {
                let flat = (k * height + y) * width + x;
                if pre_alive[flat] && fire::fires(seed, step, x as u32, y as u32, threshold) {
                    active.push(flat as i64);
                }
            }
        }
    }
    active
}

/// For each cell, the rows of its 3×3 neighbourhood in reading order (`(dy, dx)` from
/// `(-1, -1)`), and 1 where that neighbour is inside the grid, 0 where it is not (its row is
/// then the cell's own, zeroed by that factor).
fn neighbourhood_rows(cells: &[i64], height: usize, width: usize) -> (Vec<i64>, Vec<f32>) {
    let (h, w) = (height as i64, width as i64);
    let mut rows = Vec::with_capacity(cells.len() * 9);
    let mut inside = Vec::with_capacity(cells.len() * 9);
    for &cell in cells {
        let (x, y) = (cell % w, (cell / w) % h);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let within = (0..h).contains(&(y + dy)) && (0..w).contains(&(x + dx));
                rows.push(if within { cell + dy * w + dx } else { cell });
                inside.push(if within { 1.0 } else { 0.0 });
            }
        }
    }
    (rows, inside)
}

/// The perception as a matrix: a cell's neighbourhood `[9 · 16]` (offset-major) times this
/// `[144, 48]` matrix gives its perception vector (filter-major), the same numbers the
/// depthwise convolution in [`GrowingNca::perceive`] produces.
fn neighbourhood_to_perception<B: Backend>(sobel: &SobelPair, device: &B::Device) -> Tensor<B, 2> {
    let identity: [[f32; 3]; 3] = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
    let mut matrix = vec![0.0f32; 9 * C * P];
    for (f, kernel) in [identity, sobel.x, sobel.y].iter().enumerate() {
        for offset in 0..9 {
            for c in 0..C {
                matrix[(offset * C + c) * P + f * C + c] = kernel[offset / 3][offset % 3];
            }
        }
    }
    Tensor::from_data(TensorData::new(matrix, [9 * C, P]), device)
}

/// Alive mask `[N, H, W, 1]`: 3×3 max of alpha above the threshold, outside cells dead.
pub fn alive<B: Backend>(state: Tensor<B, 4>) -> Tensor<B, 4, Bool> {
    let alpha = state.narrow(3, ALPHA, 1).permute([0, 3, 1, 2]);
    // Padding cannot create life: the threshold is positive.
    max_pool2d(alpha, [3, 3], [1, 1], [1, 1], [1, 1], false).greater_elem(ALIVE_THRESHOLD).permute([0, 2, 3, 1])
}

/// The fire mask `[N, H, W, 1]` of one step for a batch of grids with their own seeds: the same
/// decisions as the CPU reference and the shader.
pub fn fire_mask<B: Backend>(seeds: &[u32], step: u32, height: usize, width: usize, fire_rate: f32, device: &B::Device) -> Tensor<B, 4> {
    let threshold = fire::threshold(fire_rate);
    let mut values = Vec::with_capacity(seeds.len() * height * width);
    for &seed in seeds {
        for y in 0..height as u32 {
            for x in 0..width as u32 {
                values.push(if fire::fires(seed, step, x, y, threshold) { 1.0f32 } else { 0.0 });
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [seeds.len(), height, width, 1]), device)
}
