//! The self-classifying MNIST paper's evaluation (the notebook's `eval_all`), on any backend.
//!
//! The test digits are taken in batches of 1000. A batch runs 200 steps; then every digit is
//! mutated into a random digit of the same batch (new grey; the rest of the state kept where
//! the new grey is alive), and runs 200 more. After every step:
//!
//! - **accuracy** = living cells whose class argmax is the digit's label / all living cells;
//! - **total agreement** = share of digits whose living cells all vote alike, where a vote is
//!   [`CellLabel::vote`] (slot 10, "no vote", is not counted, exactly as in the notebook).
//!
//! Each figure is computed per batch and averaged over the batches, as the notebook does.
//!
//! A batch runs as one grid: 28×28 tiles one dead, all-zero cell apart. A dead cell never
//! changes and holds zeros, so that gap is exactly the zero padding each digit would see alone,
//! and one step of the big grid is one step of every digit.

use super::fire::pcg;
use super::grid::{Edit, GreyImage, Grid};
use super::idx::Digits;
use super::mnist::{self, CellLabel};

/// Digits per batch (the notebook's).
pub const BATCH: usize = 1000;
/// Steps before the mutation, and after it.
pub const PHASE_STEPS: u32 = 200;
/// Pixels per digit side.
pub const DIGIT: usize = 28;
/// Tile pitch: a digit and one dead cell.
pub const PITCH: usize = DIGIT + 1;

/// What a backend must do for the evaluation: hold a grid, step it, apply edits and tell each
/// cell's label (and, for `--magnitudes`, the whole state).
pub trait EvalBackend {
    /// Replaces the grid with `grid` (every cell species 0) and continues from step `first_step`.
    fn load(&mut self, grid: &Grid, first_step: u32) -> Result<(), String>;
    /// Applies edits (before the next step).
    fn edit(&mut self, edits: Vec<Edit>) -> Result<(), String>;
    /// Runs one step.
    fn step(&mut self) -> Result<(), String>;
    /// Every cell's packed [`CellLabel`], row-major.
    fn labels(&mut self) -> Result<Vec<u32>, String>;
    /// The whole state.
    fn state(&mut self) -> Result<Grid, String>;
}

/// The CPU reference as an [`EvalBackend`].
pub struct CpuEval<'a> {
    models: Vec<&'a mnist::MnistWeights>,
    seed: u32,
    grid: Grid,
    step: u32,
}

impl<'a> CpuEval<'a> {
    /// A backend running `models` (species 0 first) with fire-hash `seed`.
    pub fn new(models: Vec<&'a mnist::MnistWeights>, seed: u32) -> Self {
        Self { models, seed, grid: Grid::new(1, 1, mnist::CHANNELS), step: 0 }
    }
}

impl EvalBackend for CpuEval<'_> {
    fn load(&mut self, grid: &Grid, first_step: u32) -> Result<(), String> {
        self.grid = grid.clone();
        self.step = first_step;
        Ok(())
    }
    fn edit(&mut self, edits: Vec<Edit>) -> Result<(), String> {
        for edit in &edits {
            super::ModelKind::Mnist.apply_edit(&mut self.grid, edit);
        }
        Ok(())
    }
    fn step(&mut self) -> Result<(), String> {
        mnist::step_species(&self.models, &mut self.grid, self.seed, self.step);
        self.step = self.step.wrapping_add(1);
        Ok(())
    }
    fn labels(&mut self) -> Result<Vec<u32>, String> {
        Ok(super::ModelKind::Mnist.labels(&self.grid))
    }
    fn state(&mut self) -> Result<Grid, String> {
        Ok(self.grid.clone())
    }
}

/// Where the digits of a batch sit: `columns × rows` tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    /// Digits in the batch.
    pub digits: usize,
    /// Tiles per row.
    pub columns: usize,
    /// Rows of tiles.
    pub rows: usize,
}

impl Tiling {
    /// A near-square tiling of `digits` digits.
    pub fn new(digits: usize) -> Self {
        let columns = (digits as f64).sqrt().ceil().max(1.0) as usize;
        Self { digits, columns, rows: digits.div_ceil(columns).max(1) }
    }

    /// Grid width in cells (no gap after the last column: the grid border pads it).
    pub fn width(&self) -> usize {
        self.columns * PITCH - 1
    }

    /// Grid height in cells.
    pub fn height(&self) -> usize {
        self.rows * PITCH - 1
    }

    /// Top-left cell of tile `i`.
    pub fn origin(&self, i: usize) -> (usize, usize) {
        ((i % self.columns) * PITCH, (i / self.columns) * PITCH)
    }

    /// A fresh grid holding `images` (28×28 bytes each) in their tiles.
    pub fn grid(&self, images: &[&[u8]]) -> Grid {
        let mut grid = Grid::new(self.width(), self.height(), mnist::CHANNELS);
        for (i, image) in images.iter().enumerate() {
            let (ox, oy) = self.origin(i);
            for (p, &v) in image.iter().enumerate() {
                grid.cell_mut(ox + p % DIGIT, oy + p / DIGIT)[mnist::GREY] = v as f32 / 255.0;
            }
        }
        grid
    }

    /// The edit that mutates tile `i` into `image`.
    pub fn placement(&self, i: usize, image: &[u8]) -> Edit {
        let (ox, oy) = self.origin(i);
        let grey: Vec<f32> = image.iter().map(|&v| v as f32 / 255.0).collect();
        Edit::PlaceImage(GreyImage { origin: [ox as i32, oy as i32], width: DIGIT as u32, height: DIGIT as u32, grey: grey.into() })
    }
}

/// Accuracy and agreement of one batch at one step, from every cell's packed label.
///
/// `tiles[i]` lists the grid cells of digit `i` (its living cells suffice: dead ones count for
/// nothing) and `labels[i]` its label.
pub fn batch_metrics(cell_labels: &[u32], tiles: &[Vec<u32>], labels: &[u8]) -> (f64, f64) {
    let (mut alive, mut correct, mut agreeing) = (0u64, 0u64, 0usize);
    for (cells, &label) in tiles.iter().zip(labels) {
        let mut votes = [0u32; mnist::CLASSES];
        for &cell in cells {
            let l = CellLabel::unpack(cell_labels[cell as usize]);
            if !l.alive {
                continue;
            }
            alive += 1;
            correct += (l.class == label) as u64;
            if l.vote != CellLabel::NO_VOTE {
                votes[l.vote as usize] += 1;
            }
        }
        // Total agreement: the most voted class holds every vote cast (none cast counts too).
        let (max, sum) = (votes.iter().max().copied().unwrap_or(0), votes.iter().sum::<u32>());
        agreeing += (max == sum) as usize;
    }
    let accuracy = if alive == 0 { 0.0 } else { correct as f64 / alive as f64 * 100.0 };
    (accuracy, agreeing as f64 / tiles.len().max(1) as f64 * 100.0)
}

/// The class each digit's living cells vote for most after `steps` steps, each digit alone
/// (a tile of its own, as in the evaluation), run by the CPU reference: how a person's own
/// digits are judged before and after a model learns them. `None` where no cell voted.
pub fn classify(weights: &mnist::MnistWeights, images: &[&[u8]], steps: u32, seed: u32) -> Vec<Option<u8>> {
    let mut verdicts = Vec::with_capacity(images.len());
    for chunk in images.chunks(BATCH) {
        let tiling = Tiling::new(chunk.len());
        let grid = tiling.grid(chunk);
        let tiles = living_cells(&grid, &tiling);
        let mut backend = CpuEval::new(vec![weights], seed);
        // Loading and stepping the CPU reference cannot fail.
        let _ = backend.load(&grid, 0);
        for _ in 0..steps {
            let _ = backend.step();
        }
        let labels = backend.labels().unwrap_or_default();
        for cells in &tiles {
            let mut votes = [0u32; mnist::CLASSES];
            for &cell in cells {
                let label = CellLabel::unpack(labels[cell as usize]);
                if label.alive && label.vote != CellLabel::NO_VOTE {
                    votes[label.vote as usize] += 1;
                }
            }
            let (class, &most) = votes.iter().enumerate().max_by_key(|&(c, v)| (*v, std::cmp::Reverse(c))).expect("ten classes");
            verdicts.push((most > 0).then_some(class as u8));
        }
    }
    verdicts
}

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// How many test digits (the first N; all by default).
    pub digits: usize,
    /// Fire-hash seed, also the seed of the mutation partners.
    pub seed: u32,
    /// Also record the mean |state| and |update| of living cells per step.
    pub magnitudes: bool,
}

/// The protocol's curves; index `t` is after step `t + 1`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalReport {
    /// Accuracy (%) after each of the 400 steps.
    pub accuracy: Vec<f64>,
    /// Total agreement (%) after each step.
    pub agreement: Vec<f64>,
    /// Mean |state| of living cells (channels 1–19) after each step, if asked.
    pub state_magnitude: Vec<f64>,
    /// Mean |update| of living cells after each step, if asked.
    pub update_magnitude: Vec<f64>,
    /// Digits evaluated.
    pub digits: usize,
    /// The seed.
    pub seed: u32,
}

impl EvalReport {
    /// The maximum of `curve` over steps 1–200 and the step it is reached at (the first).
    pub fn top(curve: &[f64]) -> (f64, usize) {
        let mut best = (f64::MIN, 0);
        for (i, &v) in curve.iter().take(PHASE_STEPS as usize).enumerate() {
            if v > best.0 {
                best = (v, i + 1);
            }
        }
        best
    }

    /// The report as the JSON `nca eval mnist` prints.
    pub fn to_json(&self) -> serde_json::Value {
        let at = |curve: &[f64], step: usize| curve.get(step - 1).copied().unwrap_or(f64::NAN);
        let (top_accuracy, top_accuracy_step) = Self::top(&self.accuracy);
        let (top_agreement, top_agreement_step) = Self::top(&self.agreement);
        let mut json = serde_json::json!({
            "accuracy@200": at(&self.accuracy, 200),
            "agreement@200": at(&self.agreement, 200),
            "accuracy@400": at(&self.accuracy, 400),
            "agreement@400": at(&self.agreement, 400),
            "top_accuracy": top_accuracy,
            "top_accuracy_step": top_accuracy_step,
            "top_agreement": top_agreement,
            "top_agreement_step": top_agreement_step,
            "digits": self.digits,
            "seed": self.seed,
            "mutation_after_step": PHASE_STEPS,
            "accuracy": self.accuracy,
            "agreement": self.agreement,
        });
        if !self.state_magnitude.is_empty() {
            json["state_magnitude"] = serde_json::json!(self.state_magnitude);
            json["update_magnitude"] = serde_json::json!(self.update_magnitude);
        }
        json
    }
}

/// The mutation partner of digit `k` in a batch of `n`: a digit of the same batch, drawn from
/// the seed (`pcg` of the seed, batch and position; the same on every backend and every run).
pub fn partner(seed: u32, batch: usize, k: usize, n: usize) -> usize {
    (pcg(pcg(seed ^ 0x6d75_7461).wrapping_add(pcg(batch as u32).wrapping_add(k as u32))) as usize) % n
}

/// Runs the protocol on `backend`, calling `progress(done, total)` after every batch.
pub fn evaluate(
    backend: &mut dyn EvalBackend,
    test: &Digits,
    options: &EvalOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalReport, String> {
    if (test.rows, test.cols) != (DIGIT, DIGIT) {
        return Err(format!("the test images are {}×{}, the model reads 28×28 digits", test.cols, test.rows));
    }
    let total = options.digits.min(test.len());
    if total == 0 {
        return Err("no digits to evaluate".into());
    }
    let steps = 2 * PHASE_STEPS as usize;
    let mut report = EvalReport { digits: total, seed: options.seed, ..Default::default() };
    let mut sums = vec![(0.0f64, 0.0f64, 0.0f64, 0.0f64); steps];
    let batches = total.div_ceil(BATCH);
    for b in 0..batches {
        let range = b * BATCH..total.min((b + 1) * BATCH);
        let n = range.len();
        let tiling = Tiling::new(n);
        let images: Vec<&[u8]> = range.clone().map(|i| test.image(i)).collect();
        let mut labels: Vec<u8> = range.clone().map(|i| test.labels[i]).collect();
        let grid = tiling.grid(&images);
        backend.load(&grid, 0)?;
        let mut tiles = living_cells(&grid, &tiling);
        let mut previous = options.magnitudes.then(|| grid.clone());
        for (t, sum) in sums.iter_mut().enumerate() {
            if t == PHASE_STEPS as usize {
                let partners: Vec<usize> = (0..n).map(|k| partner(options.seed, b, k, n)).collect();
                let edits = partners.iter().enumerate().map(|(k, &p)| tiling.placement(k, images[p])).collect();
                labels = partners.iter().map(|&p| labels[p]).collect();
                backend.edit(edits)?;
                let state = backend.state()?;
                tiles = living_cells(&state, &tiling);
                if previous.is_some() {
                    previous = Some(state);
                }
            }
            backend.step()?;
            let (accuracy, agreement) = batch_metrics(&backend.labels()?, &tiles, &labels);
            sum.0 += accuracy;
            sum.1 += agreement;
            if let Some(before) = &mut previous {
                let now = backend.state()?;
                let (state, update) = magnitudes(before, &now);
                sum.2 += state;
                sum.3 += update;
                *before = now;
            }
        }
        progress(range.end, total);
    }
    let average = |v: f64| v / batches as f64;
    report.accuracy = sums.iter().map(|s| average(s.0)).collect();
    report.agreement = sums.iter().map(|s| average(s.1)).collect();
    if options.magnitudes {
        report.state_magnitude = sums.iter().map(|s| average(s.2)).collect();
        report.update_magnitude = sums.iter().map(|s| average(s.3)).collect();
    }
    Ok(report)
}

/// Every digit's majority vote: the class most of its living cells vote for (the smallest on a
/// tie), `None` where none votes.
pub fn majority_votes(cell_labels: &[u32], tiles: &[Vec<u32>]) -> Vec<Option<u8>> {
    tiles
        .iter()
        .map(|cells| {
            let mut votes = [0u32; mnist::CLASSES];
            for &cell in cells {
                let l = CellLabel::unpack(cell_labels[cell as usize]);
                if l.alive && l.vote != CellLabel::NO_VOTE {
                    votes[l.vote as usize] += 1;
                }
            }
            let best = (0..mnist::CLASSES).max_by_key(|&c| (votes[c], std::cmp::Reverse(c)))?;
            (votes[best] > 0).then_some(best as u8)
        })
        .collect()
}

/// The adversarial-reprogramming evaluation's figures (shares of digits, %).
#[derive(Clone, Debug, PartialEq)]
pub struct AdversaryReport {
    /// Digits evaluated.
    pub digits: usize,
    /// Share of cells that ran the adversary.
    pub fraction: f32,
    /// The class the adversary pushes to.
    pub target: u8,
    /// Digits whose majority vote is the target 200 steps after start, with the adversaries.
    pub hijacked: f64,
    /// The same without adversaries (the digits that are, or look like, the target anyway).
    pub baseline: f64,
    /// Digits whose majority vote is their true class without adversaries.
    pub baseline_correct: f64,
    /// Digits whose majority vote is their true class 200 steps after the adversaries were
    /// removed (their cells run the base model again).
    pub recovered: f64,
    /// Of the digits the adversary hijacked, the share that recovered.
    pub recovered_of_hijacked: f64,
}

impl AdversaryReport {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "digits": self.digits,
            "fraction": (self.fraction as f64 * 1e6).round() / 1e6,
            "target_class": self.target,
            "hijacked@200": self.hijacked,
            "target_without_adversaries@200": self.baseline,
            "correct_without_adversaries@200": self.baseline_correct,
            "recovered@400": self.recovered,
            "recovered_of_hijacked@400": self.recovered_of_hijacked,
        })
    }
}

/// Whether the cell at `(x, y)` runs the adversary: a Bernoulli(`fraction`) draw from the seed.
pub fn adversary_cell(seed: u32, x: u32, y: u32, fraction: f32) -> bool {
    (super::fire::cell_hash(seed ^ 0x0ad7_e45a, 0, x, y) >> 8) < super::fire::threshold(fraction)
}

/// What [`evaluate_adversary`] runs.
#[derive(Clone, Debug)]
pub struct AdversaryOptions {
    /// How many test digits (the first N).
    pub digits: usize,
    /// Share of cells that run the adversary.
    pub fraction: f32,
    /// The class the adversary pushes to.
    pub target: u8,
    /// Fire-hash seed, also the seed of the adversary cells.
    pub seed: u32,
}

/// The adversarial article's evaluation on the CPU reference, per batch of 1000 tiled test
/// digits: 200 steps with a share of cells running `adversary` (the rest `base`); then the
/// adversaries removed and 200 steps more; and, apart, 200 steps with no adversaries.
pub fn evaluate_adversary(
    base: &mnist::MnistWeights,
    adversary: &mnist::MnistWeights,
    test: &Digits,
    options: &AdversaryOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<AdversaryReport, String> {
    let AdversaryOptions { digits, fraction, target, seed } = *options;
    if target as usize >= mnist::CLASSES {
        return Err(format!("target class {target} is not a digit 0–9"));
    }
    let total = digits.min(test.len());
    if total == 0 {
        return Err("no digits to evaluate".into());
    }
    let (mut hijacked, mut baseline, mut baseline_correct, mut recovered, mut recovered_hijacked) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for b in 0..total.div_ceil(BATCH) {
        let range = b * BATCH..total.min((b + 1) * BATCH);
        let tiling = Tiling::new(range.len());
        let images: Vec<&[u8]> = range.clone().map(|i| test.image(i)).collect();
        let labels: Vec<u8> = range.clone().map(|i| test.labels[i]).collect();
        let start = tiling.grid(&images);
        let tiles = living_cells(&start, &tiling);
        let majority = |grid: &Grid| majority_votes(&super::ModelKind::Mnist.labels(grid), &tiles);

        let mut clean = start.clone();
        mnist::run_species(&[base], &mut clean, seed, 0, PHASE_STEPS);
        let clean_votes = majority(&clean);

        let mut attacked = start.clone();
        for (cell, species) in attacked.species.iter_mut().enumerate() {
            let (x, y) = ((cell % attacked.width) as u32, (cell / attacked.width) as u32);
            *species = u32::from(adversary_cell(seed, x, y, fraction));
        }
        mnist::run_species(&[base, adversary], &mut attacked, seed, 0, PHASE_STEPS);
        let attacked_votes = majority(&attacked);
        attacked.species.fill(0);
        mnist::run_species(&[base], &mut attacked, seed, PHASE_STEPS, PHASE_STEPS);
        let after_votes = majority(&attacked);

        for (k, &label) in labels.iter().enumerate() {
            let was_hijacked = attacked_votes[k] == Some(target);
            hijacked += usize::from(was_hijacked);
            baseline += usize::from(clean_votes[k] == Some(target));
            baseline_correct += usize::from(clean_votes[k] == Some(label));
            recovered += usize::from(after_votes[k] == Some(label));
            recovered_hijacked += usize::from(was_hijacked && after_votes[k] == Some(label));
        }
        progress(range.end, total);
    }
    let share = |n: usize| n as f64 / total as f64 * 100.0;
    Ok(AdversaryReport {
        digits: total,
        fraction,
        target,
        hijacked: share(hijacked),
        baseline: share(baseline),
        baseline_correct: share(baseline_correct),
        recovered: share(recovered),
        recovered_of_hijacked: if hijacked == 0 { 0.0 } else { recovered_hijacked as f64 / hijacked as f64 * 100.0 },
    })
}

/// The living cells of every tile.
fn living_cells(grid: &Grid, tiling: &Tiling) -> Vec<Vec<u32>> {
    (0..tiling.digits)
        .map(|i| {
            let (ox, oy) = tiling.origin(i);
            let mut cells = Vec::new();
            for y in oy..oy + DIGIT {
                for x in ox..ox + DIGIT {
                    if mnist::is_alive(grid.cell(x, y)) {
                        cells.push((y * grid.width + x) as u32);
                    }
                }
            }
            cells
        })
        .collect()
}

/// Mean |state| (channels 1–19) of the living cells of `now`, and mean |now − before| over them.
pub fn magnitudes(before: &Grid, now: &Grid) -> (f64, f64) {
    let (mut state, mut update, mut count) = (0.0f64, 0.0f64, 0usize);
    for (b, n) in before.data.chunks_exact(mnist::CHANNELS).zip(now.data.chunks_exact(mnist::CHANNELS)) {
        if !mnist::is_alive(n) {
            continue;
        }
        count += 1;
        state += n[mnist::MUTABLE].iter().map(|v| v.abs() as f64).sum::<f64>() / mnist::UPDATE as f64;
        update += n[mnist::MUTABLE].iter().zip(&b[mnist::MUTABLE]).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / mnist::UPDATE as f64;
    }
    let n = count.max(1) as f64;
    (state / n, update / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(alive: bool, scores: [f32; 10]) -> u32 {
        let mut c = [0.0f32; mnist::CHANNELS];
        c[mnist::GREY] = if alive { 0.8 } else { 0.05 };
        c[mnist::CLASS_SCORES].copy_from_slice(&scores);
        mnist::cell_label(&c).pack()
    }

    fn one_hot(class: usize, value: f32) -> [f32; 10] {
        let mut s = [-0.5f32; 10];
        s[class] = value;
        s
    }

    #[test]
    fn metrics_on_hand_made_digits() {
        // Digit 0: four cells, all for 3 (label 3). Digit 1: three for 5, one dissenter for 6
        // (label 5). Digit 2: two for 2 and one living cell whose scores are all below zero,
        // plus a dead cell voting 9 (label 2). Digit 3: every living cell below zero (label 1).
        let labels_by_cell = vec![
            cell(true, one_hot(3, 1.0)),
            cell(true, one_hot(3, 0.4)),
            cell(true, one_hot(3, 2.0)),
            cell(true, one_hot(3, 0.1)),
            cell(true, one_hot(5, 1.0)),
            cell(true, one_hot(5, 1.0)),
            cell(true, one_hot(5, 1.0)),
            cell(true, one_hot(6, 1.0)),
            cell(true, one_hot(2, 1.0)),
            cell(true, one_hot(2, 0.5)),
            cell(true, one_hot(4, -0.1)),
            cell(false, one_hot(9, 3.0)),
            cell(true, one_hot(1, -0.2)),
            cell(true, one_hot(7, -0.1)),
        ];
        let tiles = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9, 10, 11], vec![12, 13]];
        let (accuracy, agreement) = batch_metrics(&labels_by_cell, &tiles, &[3, 5, 2, 1]);
        // Living cells: 4 + 4 + 3 + 2 = 13; correct: 4 + 3 + 2 + 1 (cell 12's argmax is 1).
        assert!((accuracy - 10.0 / 13.0 * 100.0).abs() < 1e-9, "{accuracy}");
        // Digits 0 and 2 agree (the unsure and the dead cell cast no vote); digit 1 has a
        // dissenter; digit 3 casts no vote at all, which the notebook counts as agreement.
        assert!((agreement - 75.0).abs() < 1e-9, "{agreement}");
    }

    #[test]
    fn majority_votes_ignore_no_votes_and_break_ties_low() {
        let labels = vec![
            cell(true, one_hot(3, 1.0)),
            cell(true, one_hot(5, 1.0)),
            cell(true, one_hot(5, 1.0)),
            cell(true, one_hot(2, -0.1)),
            cell(true, one_hot(7, 1.0)),
            cell(true, one_hot(4, 1.0)),
            cell(false, one_hot(9, 1.0)),
        ];
        let tiles = vec![vec![0, 1, 2, 3], vec![4, 5], vec![6]];
        assert_eq!(majority_votes(&labels, &tiles), vec![Some(5), Some(4), None]);
    }

    #[test]
    fn about_the_asked_share_of_cells_runs_the_adversary() {
        let hits = (0..100_000u32).filter(|&i| adversary_cell(7, i % 300, i / 300, 0.1)).count();
        assert!((9_500..10_500).contains(&hits), "{hits}");
    }

    #[test]
    fn tiles_are_one_dead_cell_apart() {
        let t = Tiling::new(10);
        assert_eq!((t.columns, t.rows), (4, 3));
        assert_eq!((t.width(), t.height()), (4 * 29 - 1, 3 * 29 - 1));
        assert_eq!(t.origin(5), (29, 29));
        let image = vec![255u8; 28 * 28];
        let grid = t.grid(&[&image, &image]);
        assert_eq!(grid.cell(27, 0)[0], 1.0);
        assert_eq!(grid.cell(28, 0)[0], 0.0, "the gap");
        assert_eq!(grid.cell(29, 0)[0], 1.0);
    }

    #[test]
    fn a_tiled_digit_steps_exactly_as_it_does_alone() {
        let mut w = mnist::MnistWeights::zeros(Default::default());
        for (k, t) in w.tensors_mut().into_iter().enumerate() {
            for (i, v) in t.iter_mut().enumerate() {
                *v = ((pcg((k * 100_000 + i) as u32) % 1000) as f32 / 1000.0 - 0.5) * 0.2;
            }
        }
        let digit: Vec<u8> = (0..784).map(|i| if (i / 28 + i % 28) % 5 < 2 { 200 } else { 0 }).collect();
        let other: Vec<u8> = (0..784).map(|i| if i % 3 == 0 { 255 } else { 0 }).collect();
        let tiling = Tiling::new(4);
        let mut tiled = tiling.grid(&[&other, &other, &other, &digit]);
        let mut alone = mnist::digit_grid(28, 28, &digit);
        let (ox, oy) = tiling.origin(3);
        for step in 0..5 {
            mnist::step(&w, &mut tiled, 1, step);
            // The fire hash and the noise depend on the cell's position: shift the lone digit's
            // grid so its cells sit where the tile's do.
            let mut placed = Grid::new(tiling.width(), tiling.height(), mnist::CHANNELS);
            for y in 0..28 {
                for x in 0..28 {
                    placed.cell_mut(ox + x, oy + y).copy_from_slice(alone.cell(x, y));
                }
            }
            mnist::step(&w, &mut placed, 1, step);
            for y in 0..28 {
                for x in 0..28 {
                    alone.cell_mut(x, y).copy_from_slice(placed.cell(ox + x, oy + y));
                    assert_eq!(tiled.cell(ox + x, oy + y), placed.cell(ox + x, oy + y), "step {step} ({x},{y})");
                }
            }
        }
    }
}
