//! The growing NCA as a Burn [`Module`].

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::ConvOptions;

use crate::model::perception::SobelPair;
use crate::model::spec::{
    ALIVE_THRESHOLD, ALPHA, GROWING_CHANNELS as C, GROWING_FILTERS as F, GROWING_HIDDEN as H, GROWING_PERCEPTION as P, GrowingSpec,
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
        channel_major.reshape([n, C, F, h, w]).swap_dims(1, 2).reshape([n, P, h, w]).permute([0, 2, 3, 1])
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

/// A batch of grids in the layout the active-cell step works in: one row of 16 channels per
/// cell, `[N·H·W + 1, 16]`, whose last row is always zero. That row is the neighbour every
/// border cell reads outside the grid, so zero padding costs no mask and no copy, and the batch
/// stays in one layout for a whole rollout (on the CPU backend every reshape copies).
///
/// Beside the tensor, the host keeps each cell's alpha (exactly the tensor's values: they are
/// read back, never recomputed), which cells are alive and which rows may hold anything but
/// zeros. The alive masks need no gradient, so they live outside the autodiff graph.
#[derive(Debug)]
pub struct ActiveBatch<B: Backend> {
    rows: Tensor<B, 2>,
    grids: usize,
    height: usize,
    width: usize,
    alpha: Vec<f64>,
    alive: Vec<bool>,
    written: Vec<bool>,
    gather: RowGather,
}

/// How neighbourhoods are gathered. `gather_nd` copies whole rows and is the fast way on the CPU
/// (`select` builds one view per row there), but its gradient is a `scatter_nd` that the cubecl
/// backends run without atomics, which is wrong when rows repeat, as neighbourhoods do. `select`'s
/// gradient is right on every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowGather {
    GatherNd,
    Select,
}

impl RowGather {
    /// The right way for `device`'s backend.
    pub(crate) fn for_device<B: Backend>(device: &B::Device) -> Self {
        let name = B::name(device);
        if name.contains("ndarray") || name.contains("flex") { RowGather::GatherNd } else { RowGather::Select }
    }

    /// The rows `rows` of `table`, `[rows.len(), columns]`.
    pub(crate) fn gather<B: Backend>(self, table: &Tensor<B, 2>, rows: &[i64]) -> Tensor<B, 2> {
        let device = table.device();
        match self {
            RowGather::GatherNd => {
                table.clone().gather_nd(Tensor::<B, 2, Int>::from_data(TensorData::new(rows.to_vec(), [rows.len(), 1]), &device))
            }
            RowGather::Select => {
                table.clone().select(0, Tensor::<B, 1, Int>::from_data(TensorData::new(rows.to_vec(), [rows.len()]), &device))
            }
        }
    }
}

/// `table` with `values` `[k, columns]` added to its rows `rows` (distinct, so no backend races).
pub(crate) fn add_to_rows<B: Backend>(table: Tensor<B, 2>, rows: &[i64], values: Tensor<B, 2>) -> Tensor<B, 2> {
    let index = Tensor::<B, 2, Int>::from_data(TensorData::new(rows.to_vec(), [rows.len(), 1]), &values.device());
    table.scatter_nd(index, values, IndexingUpdateOp::Add)
}

impl<B: Backend> ActiveBatch<B> {
    /// The batch holding `state` `[N, H, W, 16]` (read back once, for the masks).
    pub fn new(state: Tensor<B, 4>) -> Self {
        let [grids, height, width, channels] = state.dims();
        assert_eq!(channels, C, "the growing NCA has {C} channels");
        let device = state.device();
        let values = state.clone().into_data().convert::<f64>().to_vec::<f64>().expect("float state");
        let alpha: Vec<f64> = values.chunks_exact(C).map(|cell| cell[ALPHA]).collect();
        let written = values.chunks_exact(C).map(|cell| cell.iter().any(|&v| v != 0.0)).collect();
        let cells = grids * height * width;
        let rows = Tensor::cat(vec![state.reshape([cells, C]), Tensor::zeros([1, C], &device)], 0);
        let gather = RowGather::for_device::<B>(&device);
        let alive = alive_from_alpha(&alpha, height, width);
        Self { rows, grids, height, width, alpha, alive, written, gather }
    }

    /// The grids, `[N, H, W, 16]`.
    pub fn into_state(self) -> Tensor<B, 4> {
        let cells = self.cells();
        self.rows.narrow(0, 0, cells).reshape([self.grids, self.height, self.width, C])
    }

    /// Which cells are alive (before the next step), `[N·H·W]`.
    pub fn alive(&self) -> &[bool] {
        &self.alive
    }

    fn cells(&self) -> usize {
        self.grids * self.height * self.width
    }

    /// The index of the always-zero row.
    fn zero_row(&self) -> i64 {
        self.cells() as i64
    }

    fn gather_rows(&self, rows: &[i64]) -> Tensor<B, 2> {
        self.gather.gather(&self.rows, rows)
    }

    /// Adds `values` `[k, 16]` to the rows `rows` (distinct, so no backend races).
    fn add_to_rows(&mut self, rows: &[i64], values: Tensor<B, 2>) {
        self.rows = add_to_rows(self.rows.clone(), rows, values);
    }
}

/// Per grid of `height × width` cells: alive where the 3×3 maximum of alpha is above the
/// threshold.
fn alive_from_alpha(alpha: &[f64], height: usize, width: usize) -> Vec<bool> {
    let above: Vec<bool> = alpha.iter().map(|&a| a > ALIVE_THRESHOLD as f64).collect();
    above.chunks_exact(height * width).flat_map(|grid| crate::model::grid::dilate(grid, width, height)).collect()
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
    /// Masking only ever zeroes cells whose alpha is at most the threshold, so the mask after the
    /// step is the next step's mask before it. Only cells that die and may hold values are
    /// zeroed, by subtracting their own values (exact, and the gradient through them vanishes as
    /// it does through the dense step's mask); every other row is left as it is.
    pub fn step_active(&self, mut batch: ActiveBatch<B>, seeds: &[u32], step: u32, fire_rate: f32, sobel: &SobelPair) -> ActiveBatch<B> {
        let (h, w) = (batch.height, batch.width);
        let device = batch.rows.device();
        let active = active_cells(&batch.alive, seeds, step, h, w, fire_rate);
        if active.is_empty() {
            return batch;
        }
        let count = active.len();
        let neighbours = neighbourhood_rows(&active, h, w, batch.zero_row());
        let perception = batch.gather_rows(&neighbours).reshape([count, 9 * C]).matmul(neighbourhood_to_perception::<B>(sobel, &device));
        let hidden = relu(perception.matmul(self.w1.val()) + self.b1.val().unsqueeze_dim(0));
        let dx = hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze_dim(0);
        batch.add_to_rows(&active, dx);

        // The updated cells' alpha, as the backend computed it.
        let updated = batch.gather_rows(&active).narrow(1, ALPHA, 1).into_data().convert::<f64>().to_vec::<f64>().expect("float state");
        for (&cell, alpha) in active.iter().zip(updated) {
            batch.alpha[cell as usize] = alpha;
            batch.written[cell as usize] = true;
        }
        let post = alive_from_alpha(&batch.alpha, h, w);
        let dying: Vec<i64> = (0..batch.cells()).filter(|&c| batch.written[c] && !(batch.alive[c] && post[c])).map(|c| c as i64).collect();
        if !dying.is_empty() {
            let values = batch.gather_rows(&dying);
            batch.add_to_rows(&dying, values.neg());
            for &cell in &dying {
                batch.alpha[cell as usize] = 0.0;
                batch.written[cell as usize] = false;
            }
        }
        batch.alive = post;
        batch
    }
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
/// `(-1, -1)`); a neighbour outside the grid is `zero_row`.
pub(crate) fn neighbourhood_rows(cells: &[i64], height: usize, width: usize, zero_row: i64) -> Vec<i64> {
    let (h, w) = (height as i64, width as i64);
    let mut rows = Vec::with_capacity(cells.len() * 9);
    for &cell in cells {
        let (x, y) = (cell % w, (cell / w) % h);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let within = (0..h).contains(&(y + dy)) && (0..w).contains(&(x + dx));
                rows.push(if within { cell + dy * w + dx } else { zero_row });
            }
        }
    }
    rows
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
