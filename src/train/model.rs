//! The growing NCA as a Burn [`Module`].

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
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
