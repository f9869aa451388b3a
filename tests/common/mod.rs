//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use nca_sandbox::model::{NcaWeights, import};

/// `../shared/reference`, from `NCA_REFERENCE_DIR`. Missing reference data is a failure, never a
/// skip: these tests are how we know the engine matches the published models.
pub fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("NCA_REFERENCE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        panic!("NCA_REFERENCE_DIR is not set: point it at the shared reference folder (.ci/run sets ../shared/reference)")
    });
    assert!(dir.join("SOURCES.md").is_file(), "NCA_REFERENCE_DIR={} does not hold the reference material", dir.display());
    dir
}

/// A reference file by its path inside the reference folder.
pub fn reference(path: &str) -> PathBuf {
    let p = reference_dir().join(path);
    assert!(p.is_file(), "reference file {} is missing", p.display());
    p
}

/// The Distill regenerating lizard (WebGL uint8), imported.
pub fn lizard() -> NcaWeights {
    import::load_model_file(reference("weights/growing_ca_webgl8/ex3_1f98e.json")).expect("lizard imports")
}

/// The Distill self-classifying MNIST model (TF.js graph), imported.
pub fn mnist_model() -> nca_sandbox::model::MnistWeights {
    let w = import::load_model_file(reference("weights/mnist_ca/mnist_ca_tfjs_graph.json")).expect("the Distill MNIST graph imports");
    w.expect_mnist().unwrap().clone()
}

/// A model of the adversarial-reprogramming demo's data: the classifier or the adversary.
pub fn adversarial(pick: import::Pick) -> nca_sandbox::model::MnistWeights {
    let w = import::load_model_file_picking(reference("weights/adversarial/mnist_adversarial_data.js"), pick)
        .expect("the adversarial data imports");
    w.expect_mnist().unwrap().clone()
}

/// MNIST's test set from the reference folder.
pub fn test_digits() -> nca_sandbox::model::idx::Digits {
    nca_sandbox::model::idx::Digits::load(&reference_dir().join("mnist"), nca_sandbox::model::idx::Split::Test).expect("MNIST test set")
}

/// The first `count` test digits tiled into one grid, after `steps` steps of the published model
/// (fire-hash seed 3): a realistic MNIST state.
pub fn settled_digits(count: usize, steps: u32) -> nca_sandbox::model::Grid {
    use nca_sandbox::model::{mnist, mnist_eval::Tiling};
    let test = test_digits();
    let images: Vec<&[u8]> = (0..count).map(|i| test.image(i)).collect();
    let mut grid = Tiling::new(count).grid(&images);
    mnist::run_species(&[&mnist_model()], &mut grid, 3, 0, steps);
    grid
}

/// Max and mean absolute difference of two equally long slices.
pub fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let mut max = 0.0f32;
    let mut sum = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        max = max.max(d);
        sum += d as f64;
    }
    (max, (sum / a.len() as f64) as f32)
}

/// Seeds used for the "grows into its target" checks.
pub const LIZARD_SEEDS: std::ops::Range<u32> = 0..16;

/// The published lizard's acceptance check, given a way to grow it 200 steps with a seed.
///
/// At step 200 the lizard is still finishing its tail, so the loss depends on the fire pattern
/// (over seeds 0..24 it spans 1.5e-4 to 1.0e-3, median 2.3e-4; it falls to ≈1.2e-4 by step
/// 1000, the published figure). Requiring one lucky seed would be cherry-picking, so the
/// typical run must match (median ≤ 5e-4) and none may fail to become a lizard (≤ 2e-3).
pub fn assert_lizard_matches_target(backend: &str, mut grow_200: impl FnMut(u32) -> nca_sandbox::model::Grid) {
    let target = nca_sandbox::model::target::Target::load(reference("emoji_noto_2019/emoji_u1f98e.png"), 40, 16).unwrap();
    let mut losses: Vec<(f64, u32)> = LIZARD_SEEDS.map(|seed| (target.rgba_mse(&grow_200(seed)).unwrap(), seed)).collect();
    losses.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = losses.len();
    let median = (losses[n / 2 - 1].0 + losses[n / 2].0) / 2.0;
    let report: Vec<String> = losses.iter().map(|(l, s)| format!("{s}:{l:.2e}")).collect();
    eprintln!("{backend} lizard RGBA MSE @200 by seed: {}; median {median:.2e}", report.join(" "));
    assert!(median <= 5e-4, "{backend}: median RGBA MSE after 200 steps {median:e} > 5e-4 ({report:?})");
    let worst = losses[n - 1];
    assert!(worst.0 <= 2e-3, "{backend}: seed {} grew no lizard (MSE {:e})", worst.1, worst.0);
}

/// Runs `command` with its output captured, killing it if it outlives `limit`: `None` then. The
/// pipes are drained on threads of their own, so a chatty process never blocks on a full pipe
/// and passes for hung.
pub fn run_bounded(command: &mut std::process::Command, limit: std::time::Duration) -> Option<std::process::Output> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    status.map(|status| std::process::Output { status, stdout, stderr })
}

/// An idx file: the magic number, the dimensions, then the body.
pub fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}
