//! `nca teach handwriting`: the digits scene's "teach it my handwriting" lesson without the
//! window, on a folder of labelled pictures, for scripts and for measuring what a lesson does to
//! the model's MNIST accuracy.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::model::mnist::MnistRole;
use crate::train::teach::{self, HandwritingPlan, JobOptions, Lesson, TeachDevice, TeachEvent, TeachJob};

/// Options of `nca teach handwriting`.
#[derive(Args, Debug)]
pub struct HandwritingArgs {
    /// The MNIST classifier to teach.
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of the person's digits: pictures named `<label>…png` (`7_a.png`), any size.
    #[arg(long)]
    pub samples: PathBuf,
    /// Iterations of the lesson.
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// The taught model (its loss CSV and plot go next to it).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// Share of the training digits that are the person's.
    #[arg(long, default_value_t = 0.1)]
    pub share: f32,
    /// Seed of the lesson.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads (default: all cores but one).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also judge these other digits of the person's (not taught; named like --samples) before
    /// and after: does the lesson carry over to new writing?
    #[arg(long)]
    pub check: Option<PathBuf>,
}

/// The labelled pictures of a folder, sorted by name.
fn read_folder(dir: &std::path::Path, flag: &str) -> Result<Vec<(Vec<u8>, u8)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{flag} {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| crate::library::is_picture_file(p))
        .collect();
    files.sort();
    let samples = files.iter().map(|p| crate::model::digits::read_handwriting(p)).collect::<Result<Vec<_>, _>>()?;
    if samples.is_empty() {
        return Err(format!("{flag} {}: no PNG pictures of digits here", dir.display()));
    }
    Ok(samples)
}

pub(super) fn handwriting(args: HandwritingArgs) -> Result<(), String> {
    crate::train::validate::iterations(args.iterations)?;
    if !(args.share > 0.0 && args.share < 1.0) {
        return Err(format!("--share {} is not a share between 0 and 1", args.share));
    }
    let weights = super::load(&args.model)?;
    let start = weights.expect_mnist().map_err(|e| format!("{}: {e}", args.model.display()))?.clone();
    if start.spec.role != MnistRole::Classifier {
        return Err(format!("{}: handwriting is taught to a classifier, not an adversary", args.model.display()));
    }
    let samples = read_folder(&args.samples, "--samples")?;
    let check = args.check.as_ref().map(|dir| read_folder(dir, "--check")).transpose()?;
    let checked_before = check.as_ref().map(|c| teach::read_right(&start, c));
    for path in [args.out.clone(), crate::train::run::sibling(&args.out, ".loss.csv")] {
        crate::model::weights::check_output(&path).map_err(|e| e.to_string())?;
    }
    let parent = args.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let plan = HandwritingPlan {
        config: teach::handwriting_config(&parent, args.seed),
        start,
        mnist_dir: args.mnist.clone().unwrap_or_else(crate::model::idx::default_dir),
        samples,
        share: args.share,
        checkpoint: None,
    };
    let options = JobOptions {
        publish_every_iterations: args.iterations,
        publish_every: Duration::from_secs(u64::MAX / 4),
        threads: args.threads.unwrap_or_else(teach::default_threads),
        parent,
        iterations: Some(args.iterations),
        ..Default::default()
    };
    let mut job = TeachJob::start(Lesson::handwriting(plan, TeachDevice::Cpu)?, options)?;
    let (mut scores, mut losses, mut last, mut failure) = (Vec::new(), Vec::new(), None, None);
    loop {
        let events = job.poll();
        let finished = events.iter().any(|e| matches!(e, TeachEvent::Finished));
        for event in events {
            match event {
                TeachEvent::Progress { iteration, loss, per_second, .. } => {
                    losses.push(loss);
                    eprint!("\r[{iteration}/{}] loss {loss:.3e}  {per_second:.2} it/s   ", args.iterations);
                }
                TeachEvent::Score { right, total, .. } => scores.push((right, total)),
                TeachEvent::Weights { weights, .. } => last = Some(weights),
                TeachEvent::RolledBack { iteration, loss, kept } => {
                    failure = Some(format!("the loss became {loss} at iteration {iteration}; the weights of iteration {kept} are kept"))
                }
                TeachEvent::Failed(e) => failure = Some(e),
                _ => {}
            }
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    job.join();
    eprintln!();
    if let Some(e) = failure {
        return Err(e);
    }
    let weights = last.ok_or("the lesson ended without weights")?;
    teach::save_lesson(&weights, &losses, &args.out)?;
    if let (Some(check), Some(before), Some(after)) = (&check, checked_before, weights.as_mnist()) {
        println!(
            "your other digits (not taught) read right: {before} of {} before, {} of {} after",
            check.len(),
            teach::read_right(after, check),
            check.len()
        );
    }
    let (first, now) = (scores.first().copied().unwrap_or_default(), scores.last().copied().unwrap_or_default());
    println!(
        "{}: {} iterations; your digits read right: {} of {} before, {} of {} after",
        args.out.display(),
        losses.len(),
        first.0,
        first.1,
        now.0,
        now.1
    );
    Ok(())
}
