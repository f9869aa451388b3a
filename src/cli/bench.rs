//! `nca bench`: steps and cell-updates per second of the CPU reference and the GPU path, with
//! one or more species per grid.
//!
//! Every cell of the grid starts alive (random state, alpha 1), so every cell that fires runs
//! the full network: this is the worst case, not a mostly-empty grid. A "cell-update" is one
//! cell advanced by one step, whether or not it fired.

use std::time::Instant;

use clap::Args;

use crate::app::headless::HeadlessGpu;
use crate::model::perception::SobelPair;
use crate::model::spec::{ALPHA, GrowingSpec};
use crate::model::{Grid, GrowingWeights, NcaWeights, fire};

/// Options of `nca bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// `train`: seconds per training iteration of the growing recipe instead of cell-updates per
    /// second; `train-mnist`: the same for the MNIST recipe (dense and active-cell steps);
    /// `mnist`: the MNIST step on a grid of tiled test digits (and, with --eval, the full
    /// evaluation).
    #[arg(value_parser = ["train", "train-mnist", "mnist"])]
    pub what: Option<String>,
    /// `bench mnist`: folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub mnist: Option<std::path::PathBuf>,
    /// `bench mnist`: test digits tiled into the benchmark grid.
    #[arg(long, default_value_t = 1000)]
    pub digits: usize,
    /// `bench mnist`: also time `nca eval mnist` on the whole test set, per backend.
    #[arg(long)]
    pub eval: bool,
    /// Training iterations to time per backend (`bench train`).
    #[arg(long, default_value_t = 2)]
    pub iterations: usize,
    /// Grid sides to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [64u32, 256, 1024])]
    pub sizes: Vec<u32>,
    /// Which implementations to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("cpu"), String::from("gpu")])]
    pub backends: Vec<String>,
    /// Minimum seconds to spend per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Model file (default: deterministic random weights of the right shape).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Species per grid to measure: the grid is split into vertical stripes, one species each,
    /// every species with its own weights.
    #[arg(long, value_delimiter = ',', default_values_t = [1u32, 4])]
    pub species: Vec<u32>,
}

/// Random but reproducible weights, scaled like a trained model's.
pub fn bench_weights() -> NcaWeights {
    bench_weights_variant(0)
}

/// Another set of random weights (for extra species), reproducible per `variant`.
pub fn bench_weights_variant(variant: u32) -> NcaWeights {
    let mut w = GrowingWeights::zeros(GrowingSpec::default());
    let mut i = variant.wrapping_mul(100_003);
    let mut next = |scale: f32| {
        i += 1;
        (fire::pcg(i) as f32 / u32::MAX as f32 - 0.5) * scale
    };
    w.w1.iter_mut().for_each(|v| *v = next(0.3));
    w.b1.iter_mut().for_each(|v| *v = next(0.1));
    w.w2.iter_mut().for_each(|v| *v = next(0.05));
    NcaWeights::Growing(w)
}

/// A fully alive grid with reproducible random values.
pub fn alive_grid(size: usize) -> Grid {
    let mut g = Grid::new(size, size, 16);
    for (i, v) in g.data.iter_mut().enumerate() {
        *v = if i % 16 == ALPHA { 1.0 } else { fire::pcg(i as u32) as f32 / u32::MAX as f32 * 0.2 };
    }
    g
}

pub(super) fn run(args: BenchArgs) -> Result<(), String> {
    if args.seconds.is_nan() || args.seconds < 0.0 {
        return Err(format!("--seconds {} is not a duration", args.seconds));
    }
    match args.what.as_deref() {
        Some("train") => return bench_train(&args),
        Some("train-mnist") => return bench_train_mnist(&args),
        Some("mnist") => return bench_mnist(&args),
        _ => {}
    }
    let weights = match &args.model {
        Some(path) => crate::model::import::load_model_file(path).map_err(|e| e.to_string())?,
        None => bench_weights(),
    };
    let mut gpu = None;
    println!("backend  size        species  steps   seconds   steps/s    cell-updates/s");
    for backend in &args.backends {
        for &size in &args.sizes {
            for &species in &args.species {
                let species = species.clamp(1, 8);
                // Species 0 is the chosen model; the others get their own random weights.
                let models: Vec<NcaWeights> = std::iter::once(weights.clone()).chain((1..species).map(bench_weights_variant)).collect();
                let mut grid = alive_grid(size as usize);
                for (i, s) in grid.species.iter_mut().enumerate() {
                    *s = ((i % size as usize) * species as usize / size as usize) as u32;
                }
                let (steps, seconds) = match backend.as_str() {
                    "cpu" => time_cpu(&models, grid, args.seconds),
                    "gpu" => {
                        if gpu.is_none() {
                            let runner = HeadlessGpu::new().map_err(|e| e.to_string())?;
                            println!("# gpu adapter: {}", runner.adapter);
                            gpu = Some(runner);
                        }
                        time_gpu(gpu.as_mut().unwrap(), &models, &grid, args.seconds)?
                    }
                    other => return Err(format!("unknown backend '{other}' (cpu or gpu)")),
                };
                let steps_per_second = steps as f64 / seconds;
                let rate = (size as f64).powi(2) * steps_per_second;
                println!(
                    "{backend:<8} {:<11} {species:<8} {steps:<7} {seconds:<9.3} {steps_per_second:<10.2} {rate:.3e}",
                    format!("{size}x{size}")
                );
            }
        }
    }
    Ok(())
}

fn time_cpu(models: &[NcaWeights], mut grid: Grid, budget: f64) -> (u32, f64) {
    let models: Vec<&NcaWeights> = models.iter().collect();
    let sobel = SobelPair::default();
    let start = Instant::now();
    let mut steps = 0;
    while steps == 0 || start.elapsed().as_secs_f64() < budget {
        crate::model::reference::run(&models, &mut grid, 1, steps, 1, &sobel).expect("models of one kind, grid of its channels");
        steps += 1;
    }
    (steps, start.elapsed().as_secs_f64())
}

/// Seconds per iteration of the MNIST recipe (batch 16, 20 steps, pool of 160) per Burn
/// backend, with the active-cell step training uses and with the dense step, after one warm-up
/// iteration.
fn bench_train_mnist(args: &BenchArgs) -> Result<(), String> {
    use crate::model::idx::{Digits, Split, default_dir};
    use crate::train::{MnistTrainConfig, MnistTrainer};
    use burn::backend::{Autodiff, NdArray, Wgpu};
    use burn::tensor::backend::AutodiffBackend;

    let dir = args.mnist.clone().unwrap_or_else(default_dir);
    let data = std::sync::Arc::new(Digits::load(&dir, Split::Train).map_err(|e| e.to_string())?);
    let weights = match &args.model {
        Some(path) => crate::model::import::load_model_file(path).map_err(|e| e.to_string())?,
        None => bench_mnist_weights(),
    };
    let weights = weights.expect_mnist().map_err(|e| format!("bench train-mnist: {e}"))?.clone();
    fn run<B: AutodiffBackend>(
        data: &std::sync::Arc<Digits>,
        weights: &crate::model::MnistWeights,
        dense: bool,
        iterations: usize,
    ) -> Result<f64, String> {
        let config = MnistTrainConfig::new().with_dense(dense);
        let rng = crate::train::Pcg32::new(config.seed);
        let mut trainer = MnistTrainer::<B>::from_weights(config, data.clone(), None, weights, rng, Default::default())?;
        trainer.step();
        let start = Instant::now();
        for _ in 0..iterations {
            trainer.step();
        }
        Ok(start.elapsed().as_secs_f64() / iterations as f64)
    }
    println!("backend  step    seconds/iteration (batch 16, 28x28, 20 steps)");
    let backends = if args.backends.iter().any(|b| b == "cpu" || b == "gpu") {
        vec!["ndarray".to_string(), "flex".to_string()]
    } else {
        args.backends.clone()
    };
    for backend in backends {
        for dense in [false, true] {
            let seconds = match backend.as_str() {
                "ndarray" => run::<Autodiff<NdArray<f32>>>(&data, &weights, dense, args.iterations)?,
                "flex" => run::<Autodiff<burn::backend::Flex>>(&data, &weights, dense, args.iterations)?,
                "wgpu" => {
                    crate::app::probe_adapter().map_err(|e| e.to_string())?;
                    run::<Autodiff<Wgpu>>(&data, &weights, dense, args.iterations)?
                }
                other => return Err(format!("unknown training backend '{other}' (ndarray, flex or wgpu)")),
            };
            println!("{backend:<8} {:<7} {seconds:.3}", if dense { "dense" } else { "active" });
        }
    }
    Ok(())
}

/// Random MNIST weights scaled like a trained model's, for benchmarks without a model file.
pub fn bench_mnist_weights() -> NcaWeights {
    let mut w = crate::model::MnistWeights::zeros(Default::default());
    let mut i = 0u32;
    for (t, scale) in w.tensors_mut().into_iter().zip([0.15f32, 0.05, 0.2, 0.05, 0.1, 0.02]) {
        for v in t.iter_mut() {
            i += 1;
            *v = (fire::pcg(i) as f32 / u32::MAX as f32 - 0.5) * scale;
        }
    }
    NcaWeights::Mnist(w)
}

/// `nca bench mnist`: the MNIST step on `--digits` tiled test digits, on each backend; with
/// `--eval`, the full evaluation's time too.
fn bench_mnist(args: &BenchArgs) -> Result<(), String> {
    use crate::model::idx::{Digits, Split, default_dir};
    use crate::model::mnist_eval::{CpuEval, EvalOptions, Tiling, evaluate};
    let weights = match &args.model {
        Some(path) => crate::model::import::load_model_file(path).map_err(|e| e.to_string())?,
        None => bench_mnist_weights(),
    };
    weights.expect_mnist().map_err(|e| format!("bench mnist: {e}"))?;
    let dir = args.mnist.clone().unwrap_or_else(default_dir);
    let test = Digits::load(&dir, Split::Test).map_err(|e| e.to_string())?;
    let digits = args.digits.clamp(1, test.len());
    let tiling = Tiling::new(digits);
    let images: Vec<&[u8]> = (0..digits).map(|i| test.image(i)).collect();
    let grid = tiling.grid(&images);
    let alive = grid.data.chunks_exact(crate::model::mnist::CHANNELS).filter(|c| crate::model::mnist::is_alive(c)).count();
    println!(
        "# {digits} test digits tiled in a {}×{} grid, {alive} living cells ({:.0}%)",
        grid.width,
        grid.height,
        alive as f64 / grid.cells() as f64 * 100.0
    );
    println!("backend  steps   seconds   steps/s    cell-updates/s  living-cell-updates/s");
    let mut gpu = None;
    for backend in &args.backends {
        let (steps, seconds) = match backend.as_str() {
            "cpu" => time_cpu(std::slice::from_ref(&weights), grid.clone(), args.seconds),
            "gpu" => {
                let runner = gpu.get_or_insert(HeadlessGpu::new().map_err(|e| e.to_string())?);
                println!("# gpu adapter: {}", runner.adapter);
                time_gpu(runner, std::slice::from_ref(&weights), &grid, args.seconds)?
            }
            other => return Err(format!("unknown backend '{other}' (cpu or gpu)")),
        };
        let per_second = steps as f64 / seconds;
        println!(
            "{backend:<8} {steps:<7} {seconds:<9.3} {per_second:<10.2} {:<15.3e} {:.3e}",
            grid.cells() as f64 * per_second,
            alive as f64 * per_second
        );
    }
    if args.eval {
        let w = weights.expect_mnist()?;
        let options = EvalOptions { digits: test.len(), seed: 0, magnitudes: false };
        for backend in &args.backends {
            let start = Instant::now();
            let report = match backend.as_str() {
                "cpu" => evaluate(&mut CpuEval::new(vec![w], 0), &test, &options, |_, _| {})?,
                _ => {
                    let mut runner = crate::app::headless::GpuEval::new(weights.clone(), 0).map_err(|e| e.to_string())?;
                    evaluate(&mut runner, &test, &options, |_, _| {})?
                }
            };
            println!(
                "# {backend}: full evaluation ({} digits × 400 steps) in {:.1} s, accuracy@200 {:.1}",
                report.digits,
                start.elapsed().as_secs_f64(),
                report.accuracy[199]
            );
        }
    }
    Ok(())
}

fn time_gpu(gpu: &mut HeadlessGpu, models: &[NcaWeights], grid: &Grid, budget: f64) -> Result<(u32, f64), String> {
    let handles: Vec<_> = models.iter().map(|m| gpu.add_model(m.clone())).collect();
    let entity = gpu.spawn_grid(handles[0].clone(), grid.width as u32, grid.height as u32, 1);
    if let Some(mut g) = gpu.app_mut().world_mut().get_mut::<crate::sim::CaGrid>(entity) {
        g.extra_species = handles[1..].to_vec();
    }
    gpu.upload(entity, grid, 0);
    // Warm-up: one step and a readback, so buffers exist and the GPU is idle.
    gpu.run(entity, 1, 1);
    gpu.read(entity).map_err(|e| e.to_string())?;
    let mut batch = 1u32;
    loop {
        let start = Instant::now();
        gpu.run(entity, batch, batch);
        gpu.read(entity).map_err(|e| e.to_string())?;
        let seconds = start.elapsed().as_secs_f64();
        if seconds >= budget || batch >= 1 << 14 {
            gpu.app_mut().world_mut().despawn(entity);
            return Ok((batch, seconds));
        }
        batch = (batch as f64 * (budget / seconds.max(1e-3)).clamp(2.0, 16.0)).ceil() as u32;
    }
}

/// Seconds per iteration of the default recipe (batch 8, 72×72, exactly 80 CA steps) per Burn
/// backend, after one warm-up iteration.
///
/// The measurement is taken mid-training, not at iteration 0: every pool state starts as a
/// grown lizard (the target's RGBA, hidden channels filled with a fixed pattern), so as many
/// cells are alive as in a real run. The weights are `--model`'s, or random ones scaled like a
/// trained model's.
fn bench_train(args: &BenchArgs) -> Result<(), String> {
    use burn::backend::{Autodiff, NdArray, Wgpu};
    use burn::tensor::backend::AutodiffBackend;

    let target_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/targets/lizard.png");
    let target = crate::model::target::Target::load(&target_path, 40, 16).map_err(|e| e.to_string())?;
    let weights = match &args.model {
        Some(path) => crate::model::import::load_model_file(path).map_err(|e| e.to_string())?,
        None => bench_weights(),
    };
    let weights = weights.expect_growing().map_err(|e| format!("bench train: {e}"))?.clone();
    let mut grown = Grid::new(target.width(), target.height(), 16);
    for (i, v) in grown.data.iter_mut().enumerate() {
        let (cell, channel) = (i / 16, i % 16);
        *v = if channel < 4 { target.rgba.data[cell * 4 + channel] } else { (fire::pcg(i as u32) as f32 / u32::MAX as f32 - 0.5) * 0.2 };
    }

    let time = |backend: &str, iterations: usize| -> Result<f64, String> {
        fn run<B: AutodiffBackend>(
            target: &crate::model::target::Target,
            weights: &GrowingWeights,
            grown: &Grid,
            iterations: usize,
        ) -> f64 {
            let config = crate::train::TrainConfig::new().with_min_steps(80).with_max_steps(80);
            let rng = crate::train::Pcg32::new(config.seed);
            let mut trainer = crate::train::Trainer::<B>::from_weights(config, target.clone(), weights, rng, Default::default());
            trainer.pool.iter_mut().for_each(|state| *state = grown.clone());
            trainer.step();
            let start = Instant::now();
            for _ in 0..iterations {
                trainer.step();
            }
            start.elapsed().as_secs_f64() / iterations as f64
        }
        match backend {
            "ndarray" => Ok(run::<Autodiff<NdArray<f32>>>(&target, &weights, &grown, iterations)),
            "flex" => Ok(run::<Autodiff<burn::backend::Flex>>(&target, &weights, &grown, iterations)),
            "wgpu" => {
                crate::app::probe_adapter().map_err(|e| e.to_string())?;
                Ok(run::<Autodiff<Wgpu>>(&target, &weights, &grown, iterations))
            }
            other => Err(format!("unknown training backend '{other}' (ndarray, flex or wgpu)")),
        }
    };

    println!("backend  seconds/iteration (batch 8, 72x72, 80 steps)");
    let backends = if args.backends.iter().any(|b| b == "cpu" || b == "gpu") {
        vec!["ndarray".to_string(), "flex".to_string(), "wgpu".to_string()]
    } else {
        args.backends.clone()
    };
    for backend in backends {
        let seconds = time(&backend, args.iterations)?;
        println!("{backend:<8} {seconds:.2}");
    }
    Ok(())
}
