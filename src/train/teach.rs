//! Teaching jobs: a training run on threads of its own, beside a running app, that publishes its
//! weights as it learns.
//!
//! A [`Lesson`] says what to train (a growing model toward a target, an MNIST model on a
//! person's handwriting, or a lesson continued from its checkpoint); [`TeachJob::start`] runs it
//! on a thread named `nca-teach` inside a rayon pool of its own, so Burn's CPU kernels use the
//! job's threads and never every core. The job answers through a channel ([`TeachEvent`]):
//! progress after every iteration, and every few iterations or seconds the weights as they
//! stand, checked to be finite first. A loss that is not finite, or that explodes, ends the job
//! with the last good weights as its result: nothing bad is ever published.
//!
//! Nothing here knows Bevy; `crate::scene::teach` swaps the published weights into the grids.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, Flex, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use crossbeam_channel::{Receiver, Sender};

use super::run::{Run, model_with_provenance, write_curves};
use super::{MnistTrainConfig, MnistTrainer, TrainConfig, Trainer};
use crate::model::idx::{Digits, Split};
use crate::model::target::Target;
use crate::model::{GrowingWeights, MnistWeights, NcaWeights};

/// A loss above this is taken as the run exploding: a growing model's loss is a mean squared
/// RGBA error (a sane state stays within [0, 1], so below 1) and an MNIST model's is a mean
/// squared logit error of tens at most. Stopping here leaves the weights before the
/// state ran away.
pub const EXPLODED_LOSS: f64 = 1e4;

/// Where a job's tensors live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TeachDevice {
    /// Burn's flex backend on the CPU (faster than ndarray here: see the README).
    #[default]
    Cpu,
    /// Burn's wgpu backend (worth it on a real GPU; lavapipe is slower than the CPU backend).
    Gpu,
}

impl TeachDevice {
    /// The backend's name, as the provenance records it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "flex",
            Self::Gpu => "wgpu",
        }
    }
}

type MakeRun = Box<dyn FnOnce() -> Result<Box<dyn Run>, String> + Send>;
type Score = Box<dyn FnMut(&NcaWeights) -> Option<(usize, usize)> + Send>;

/// What a job trains: how to build the run (on the job's thread, so a big pool or the MNIST
/// training set is never made on the app's frame), and optionally how to score the weights.
pub struct Lesson {
    make: MakeRun,
    score: Option<Score>,
    /// Bytes the run's pool holds (and, for handwriting, its training digits).
    pub memory_bytes: u64,
    /// The backend's name.
    pub backend: &'static str,
}

impl Lesson {
    /// A lesson from any run (tests bring their own).
    pub fn new(make: impl FnOnce() -> Result<Box<dyn Run>, String> + Send + 'static, memory_bytes: u64, backend: &'static str) -> Self {
        Self { make: Box::new(make), score: None, memory_bytes, backend }
    }

    /// Builds the run on this thread (what a job does on its own).
    pub fn build(self) -> Result<Box<dyn Run>, String> {
        (self.make)()
    }

    /// Also scores the weights at the start and at every publication (right, of total).
    pub fn with_score(mut self, score: impl FnMut(&NcaWeights) -> Option<(usize, usize)> + Send + 'static) -> Self {
        self.score = Some(Box::new(score));
        self
    }

    /// A growing model learning `target` with `config`, from `start` (fine-tuning) or from fresh
    /// weights.
    pub fn growing(config: TrainConfig, target: Target, start: Option<GrowingWeights>, device: TeachDevice) -> Result<Self, String> {
        config.validate()?;
        let memory = growing_pool_bytes(&config, &target);
        let make: MakeRun = match device {
            TeachDevice::Cpu => Box::new(move || Ok(Box::new(growing_trainer::<Autodiff<Flex>>(config, target, start)) as Box<dyn Run>)),
            TeachDevice::Gpu => Box::new(move || Ok(Box::new(growing_trainer::<Autodiff<Wgpu>>(config, target, start)) as Box<dyn Run>)),
        };
        Ok(Self { make, score: None, memory_bytes: memory, backend: device.name() })
    }

    /// A growing lesson continued from its checkpoint.
    pub fn resume_growing(checkpoint: PathBuf, device: TeachDevice) -> Self {
        let memory = std::fs::metadata(&checkpoint).map(|m| m.len()).unwrap_or(0);
        let make: MakeRun = match device {
            TeachDevice::Cpu => Box::new(move || resumed::<Autodiff<Flex>>(&checkpoint)),
            TeachDevice::Gpu => Box::new(move || resumed::<Autodiff<Wgpu>>(&checkpoint)),
        };
        Self { make, score: None, memory_bytes: memory, backend: device.name() }
    }

    /// An MNIST model learning a person's `samples` (28×28 pictures and their labels) among
    /// MNIST's training digits from `mnist_dir`, with the paper's recipe otherwise, so it does
    /// not forget MNIST. Scored on the person's digits. `checkpoint`: continue that run instead.
    pub fn handwriting(plan: HandwritingPlan, device: TeachDevice) -> Result<Self, String> {
        plan.config.validate()?;
        if plan.samples.is_empty() {
            return Err("label at least one of your digits first".into());
        }
        let memory = (plan.config.pool_size * 28 * 28 * crate::model::mnist::CHANNELS * 4 + 60_000 * 28 * 28) as u64;
        let samples = plan.samples.clone();
        let score = move |weights: &NcaWeights| Some((read_right(weights.as_mnist()?, &samples), samples.len()));
        let make: MakeRun = match device {
            TeachDevice::Cpu => Box::new(move || handwriting_trainer::<Autodiff<Flex>>(plan)),
            TeachDevice::Gpu => Box::new(move || handwriting_trainer::<Autodiff<Wgpu>>(plan)),
        };
        Ok(Self { make, score: Some(Box::new(score)), memory_bytes: memory, backend: device.name() })
    }
}

/// How many of a person's `samples` (28×28 pictures and labels) `weights` read right after the
/// evaluation's 200 steps, each digit alone.
pub fn read_right(weights: &MnistWeights, samples: &[(Vec<u8>, u8)]) -> usize {
    let pictures: Vec<&[u8]> = samples.iter().map(|(p, _)| p.as_slice()).collect();
    let verdicts = crate::model::mnist_eval::classify(weights, &pictures, crate::model::mnist_eval::PHASE_STEPS, 0);
    verdicts.iter().zip(samples).filter(|(v, (_, label))| **v == Some(*label)).count()
}

/// Everything a handwriting lesson needs.
#[derive(Clone, Debug)]
pub struct HandwritingPlan {
    /// The recipe (see [`handwriting_config`]).
    pub config: MnistTrainConfig,
    /// The model the lesson starts from.
    pub start: MnistWeights,
    /// Folder of MNIST's idx files.
    pub mnist_dir: PathBuf,
    /// The person's digits: 28×28 pictures and labels.
    pub samples: Vec<(Vec<u8>, u8)>,
    /// Share of the training digits that are the person's (each repeated to make it up).
    pub share: f32,
    /// Continue this checkpoint instead of starting afresh.
    pub checkpoint: Option<PathBuf>,
}

/// The paper's recipe for fine-tuning `parent` on a person's digits: everything as the paper
/// trains, at the recipe's middle learning rate throughout. The final rate (1e-5) moves a model
/// too little to learn a handful of new digits in minutes; the first (1e-3) shakes what a
/// trained model knows.
pub fn handwriting_config(parent: &str, seed: u64) -> MnistTrainConfig {
    let recipe = MnistTrainConfig::new();
    let rate = recipe.learning_rate_after;
    recipe.with_learning_rate(rate).with_learning_rate_final(rate).with_lr_drop_at(0).with_seed(seed).with_started_from(parent.to_string())
}

/// MNIST's digits with the person's appended, each repeated so that together they are `share`
/// of the whole: a handful among 60,000 would otherwise almost never be drawn.
pub fn with_handwriting(mnist: &Digits, samples: &[(Vec<u8>, u8)], share: f32) -> Digits {
    let mut digits = mnist.clone();
    if samples.is_empty() {
        return digits;
    }
    let share = share.clamp(0.0, 0.9) as f64;
    let wanted = (share / (1.0 - share) * mnist.len() as f64).round() as usize;
    let repeats = wanted.div_ceil(samples.len()).max(1);
    for _ in 0..repeats {
        for (picture, label) in samples {
            digits.pixels.extend_from_slice(picture);
            digits.labels.push(*label);
        }
    }
    digits
}

fn growing_pool_bytes(config: &TrainConfig, target: &Target) -> u64 {
    (config.pool_size * target.width() * target.height() * crate::model::spec::GROWING_CHANNELS * 4) as u64
}

fn growing_trainer<B: AutodiffBackend>(config: TrainConfig, target: Target, start: Option<GrowingWeights>) -> Trainer<B> {
    match start {
        Some(weights) => {
            let rng = super::Pcg32::new(config.seed);
            Trainer::from_weights(config, target, &weights, rng, Default::default())
        }
        None => Trainer::new(config, target, Default::default()),
    }
}

fn resumed<B: AutodiffBackend>(checkpoint: &Path) -> Result<Box<dyn Run>, String> {
    Ok(Box::new(Trainer::<B>::resume(checkpoint, Default::default()).map_err(|e| e.to_string())?))
}

fn handwriting_trainer<B: AutodiffBackend>(plan: HandwritingPlan) -> Result<Box<dyn Run>, String> {
    let mnist = Digits::load(&plan.mnist_dir, Split::Train)
        .map_err(|e| format!("learning your handwriting needs MNIST's training digits ({e}); scripts/get-mnist fetches them"))?;
    let data = Arc::new(with_handwriting(&mnist, &plan.samples, plan.share));
    let run: Box<dyn Run> = match &plan.checkpoint {
        Some(path) => Box::new(MnistTrainer::<B>::resume(path, data, Default::default()).map_err(|e| e.to_string())?),
        None => {
            let rng = super::Pcg32::new(plan.config.seed);
            Box::new(MnistTrainer::<B>::from_weights(plan.config, data, None, &plan.start, rng, Default::default())?)
        }
    };
    Ok(run)
}

/// How a job publishes and where it keeps its checkpoint.
#[derive(Clone, Debug)]
pub struct JobOptions {
    /// Publish the weights after this many iterations…
    pub publish_every_iterations: usize,
    /// …or after this long, whichever comes first.
    pub publish_every: Duration,
    /// Write the checkpoint this often (and when the job is dropped or asked to).
    pub checkpoint_every: Duration,
    /// The job's threads (Burn's CPU kernels run on them).
    pub threads: usize,
    /// The checkpoint file (`None`: never written).
    pub checkpoint: Option<PathBuf>,
    /// The model the lesson started from, recorded as `nca.teach.parent`.
    pub parent: String,
    /// Publish the starting weights at once (a resumed lesson's differ from the grid's).
    pub publish_at_start: bool,
    /// End after this many iterations in all, publishing the last weights (`None`: until
    /// stopped, as in the app).
    pub iterations: Option<usize>,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            publish_every_iterations: 5,
            publish_every: Duration::from_secs(20),
            checkpoint_every: Duration::from_secs(300),
            threads: default_threads(),
            checkpoint: None,
            parent: String::new(),
            publish_at_start: false,
            iterations: None,
        }
    }
}

/// All cores but one: the app keeps at least one for its frames.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1)
}

/// What a job says, in order.
#[derive(Clone, Debug)]
pub enum TeachEvent {
    /// The run was built and starts at `iteration`.
    Started {
        /// Iterations already done (a continued lesson's).
        iteration: usize,
        /// The backend.
        backend: &'static str,
        /// Threads the job's pool has.
        threads: usize,
    },
    /// An iteration ended.
    Progress {
        /// Iterations done.
        iteration: usize,
        /// Its loss.
        loss: f64,
        /// Iterations per second of training (pauses excluded).
        per_second: f64,
        /// Seconds of training in all.
        seconds: f64,
    },
    /// New weights, finite, with their provenance.
    Weights {
        /// The iteration they stand at.
        iteration: usize,
        /// The weights.
        weights: Arc<NcaWeights>,
    },
    /// How many of the lesson's own examples the weights get right.
    Score {
        /// The iteration scored.
        iteration: usize,
        /// Right.
        right: usize,
        /// Of.
        total: usize,
    },
    /// The model was saved.
    Saved(PathBuf),
    /// The checkpoint was written.
    Checkpointed(PathBuf),
    /// The loss was not finite or exploded at `iteration`: the job stopped, and the weights of
    /// iteration `kept` (the last published) are its result.
    RolledBack {
        /// Where it went wrong.
        iteration: usize,
        /// The loss there.
        loss: f64,
        /// The iteration of the last good weights.
        kept: usize,
    },
    /// Something failed (building the run, saving); said in a sentence.
    Failed(String),
    /// The thread is done.
    Finished,
}

enum Request {
    SaveAs(PathBuf),
    Checkpoint,
}

#[derive(Default)]
struct Control {
    cancel: AtomicBool,
    keep_checkpoint: AtomicBool,
    paused: AtomicBool,
    requests: Mutex<Vec<Request>>,
}

/// A running lesson. Dropping it stops the thread (keeping a checkpoint) and waits for it.
pub struct TeachJob {
    events: Receiver<TeachEvent>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    /// Bytes the lesson's run holds.
    pub memory_bytes: u64,
}

impl TeachJob {
    /// Starts `lesson` on its own thread.
    pub fn start(lesson: Lesson, options: JobOptions) -> Result<Self, String> {
        let (sender, events) = crossbeam_channel::unbounded();
        let control = Arc::new(Control::default());
        let memory_bytes = lesson.memory_bytes;
        let worker_control = control.clone();
        let thread = std::thread::Builder::new()
            .name("nca-teach".into())
            .spawn(move || {
                let threads = options.threads.max(1);
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("nca-teach-{i}")).build();
                match pool {
                    Ok(pool) => pool.install(|| work(lesson, &options, &worker_control, &sender)),
                    Err(e) => {
                        let _ = sender.send(TeachEvent::Failed(format!("cannot start the job's threads ({e})")));
                        let _ = sender.send(TeachEvent::Finished);
                    }
                }
            })
            .map_err(|e| format!("cannot start a teaching thread ({e})"))?;
        Ok(Self { events, control, thread: Some(thread), memory_bytes })
    }

    /// Everything the job said since the last call.
    pub fn poll(&self) -> Vec<TeachEvent> {
        self.events.try_iter().collect()
    }

    /// Pauses or resumes training (the thread idles while paused).
    pub fn set_paused(&self, paused: bool) {
        self.control.paused.store(paused, Ordering::SeqCst);
    }

    /// Whether the job is paused.
    pub fn is_paused(&self) -> bool {
        self.control.paused.load(Ordering::SeqCst)
    }

    /// Saves the weights as they stand to `path` (answered with [`TeachEvent::Saved`]).
    pub fn save_as(&self, path: PathBuf) {
        self.request(Request::SaveAs(path));
    }

    /// Writes the checkpoint now (when the job has a checkpoint file).
    pub fn checkpoint(&self) {
        self.request(Request::Checkpoint);
    }

    fn request(&self, request: Request) {
        if let Ok(mut requests) = self.control.requests.lock() {
            requests.push(request);
        }
    }

    /// Asks the job to stop after the iteration it is in, writing its checkpoint first if
    /// `keep_checkpoint`. Returns at once; see [`TeachJob::join`].
    pub fn stop(&self, keep_checkpoint: bool) {
        self.control.keep_checkpoint.store(keep_checkpoint, Ordering::SeqCst);
        self.control.cancel.store(true, Ordering::SeqCst);
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits for the thread to end; false if it panicked.
    pub fn join(&mut self) -> bool {
        self.thread.take().is_none_or(|t| t.join().is_ok())
    }
}

impl Drop for TeachJob {
    fn drop(&mut self) {
        if self.is_running() {
            self.stop(true);
        }
        self.join();
    }
}

/// Writes a taught model and its loss curves (`OUT.loss.csv`, `OUT.loss.png`).
pub fn save_lesson(weights: &NcaWeights, losses: &[f64], path: &Path) -> Result<(), String> {
    crate::model::weights::check_output(path).map_err(|e| e.to_string())?;
    weights.save(path).map_err(|e| e.to_string())?;
    write_curves(path, losses)
}

/// The run's weights with every provenance key a taught model carries.
fn publishable(run: &dyn Run, options: &JobOptions, backend: &str) -> Result<NcaWeights, String> {
    let (mut weights, _) = model_with_provenance(run, backend)?;
    let provenance = weights.provenance_mut();
    provenance.insert("nca.source".into(), "taught in the nca-sandbox window".into());
    if !options.parent.is_empty() {
        provenance.insert("nca.teach.parent".into(), options.parent.clone());
    }
    Ok(weights)
}

fn work(lesson: Lesson, options: &JobOptions, control: &Control, events: &Sender<TeachEvent>) {
    let send = |event: TeachEvent| {
        let _ = events.send(event);
    };
    let Lesson { make, mut score, backend, .. } = lesson;
    let mut run = match make() {
        Ok(run) => run,
        Err(e) => {
            send(TeachEvent::Failed(e));
            send(TeachEvent::Finished);
            return;
        }
    };
    send(TeachEvent::Started { iteration: run.iteration(), backend, threads: rayon::current_num_threads() });
    let mut last_good = match publishable(run.as_ref(), options, backend) {
        Ok(weights) if weights.is_finite() => Arc::new(weights),
        Ok(_) => {
            send(TeachEvent::Failed("the starting weights are not all finite numbers; nothing to teach from".into()));
            send(TeachEvent::Finished);
            return;
        }
        Err(e) => {
            send(TeachEvent::Failed(e));
            send(TeachEvent::Finished);
            return;
        }
    };
    let mut last_good_iteration = run.iteration();
    if options.publish_at_start {
        send(TeachEvent::Weights { iteration: last_good_iteration, weights: last_good.clone() });
    }
    let mut scored = |weights: &NcaWeights, iteration: usize| {
        if let Some((right, total)) = score.as_mut().and_then(|s| s(weights)) {
            send(TeachEvent::Score { iteration, right, total });
        }
    };
    scored(&last_good, last_good_iteration);
    let checkpoint = |run: &dyn Run| {
        if let Some(path) = &options.checkpoint {
            match run.save_checkpoint(path) {
                Ok(()) => send(TeachEvent::Checkpointed(path.clone())),
                Err(e) => send(TeachEvent::Failed(format!("cannot keep the lesson's checkpoint: {e}"))),
            }
        }
    };
    let first = run.iteration();
    let seconds_before = run.seconds();
    let mut training = Duration::ZERO;
    let (mut last_publish, mut last_checkpoint) = (Instant::now(), Instant::now());
    let mut healthy = true;
    loop {
        let requests = control.requests.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
        for request in requests {
            match request {
                Request::SaveAs(path) => {
                    if run.iteration() > last_good_iteration && healthy {
                        match publishable(run.as_ref(), options, backend) {
                            Ok(weights) if weights.is_finite() => {
                                last_good = Arc::new(weights);
                                last_good_iteration = run.iteration();
                                send(TeachEvent::Weights { iteration: last_good_iteration, weights: last_good.clone() });
                            }
                            _ => {}
                        }
                    }
                    match save_lesson(&last_good, &run.losses()[..last_good_iteration.min(run.losses().len())], &path) {
                        Ok(()) => send(TeachEvent::Saved(path)),
                        Err(e) => send(TeachEvent::Failed(format!("cannot save the lesson: {e}"))),
                    }
                }
                Request::Checkpoint => checkpoint(run.as_ref()),
            }
        }
        if control.cancel.load(Ordering::SeqCst) {
            break;
        }
        if control.paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(30));
            continue;
        }
        let started = Instant::now();
        let stats = run.step();
        training += started.elapsed();
        run.set_seconds(seconds_before + training.as_secs_f64());
        if !stats.loss.is_finite() || stats.loss > EXPLODED_LOSS {
            healthy = false;
            send(TeachEvent::RolledBack { iteration: stats.iteration, loss: stats.loss, kept: last_good_iteration });
            break;
        }
        let done = run.iteration() - first;
        send(TeachEvent::Progress {
            iteration: run.iteration(),
            loss: stats.loss,
            per_second: done as f64 / training.as_secs_f64().max(1e-9),
            seconds: run.seconds(),
        });
        let last = options.iterations.is_some_and(|n| run.iteration() >= n);
        let due = last
            || run.iteration() - last_good_iteration >= options.publish_every_iterations.max(1)
            || last_publish.elapsed() >= options.publish_every;
        if due {
            last_publish = Instant::now();
            match publishable(run.as_ref(), options, backend) {
                Ok(weights) if weights.is_finite() => {
                    last_good = Arc::new(weights);
                    last_good_iteration = run.iteration();
                    send(TeachEvent::Weights { iteration: last_good_iteration, weights: last_good.clone() });
                    scored(&last_good, last_good_iteration);
                }
                Ok(_) => {
                    healthy = false;
                    send(TeachEvent::RolledBack { iteration: run.iteration(), loss: stats.loss, kept: last_good_iteration });
                    break;
                }
                Err(e) => send(TeachEvent::Failed(e)),
            }
        }
        // A job asked to stop writes no routine checkpoint on its way out: a person who stopped
        // a lesson must not be offered it again.
        if last_checkpoint.elapsed() >= options.checkpoint_every && !control.cancel.load(Ordering::SeqCst) {
            last_checkpoint = Instant::now();
            checkpoint(run.as_ref());
        }
        if last {
            break;
        }
    }
    // A run that went bad keeps the checkpoint it wrote before, which holds good weights.
    if healthy && control.keep_checkpoint.load(Ordering::SeqCst) {
        checkpoint(run.as_ref());
    }
    send(TeachEvent::Finished);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::GrowingMode;
    use crate::model::spec::GrowingSpec;
    use crate::train::IterationStats;

    /// A run whose weights drift a little every iteration and whose loss turns NaN at
    /// `fails_at`.
    struct Drifting {
        weights: GrowingWeights,
        losses: Vec<f64>,
        fails_at: usize,
        seconds: f64,
    }

    impl Drifting {
        fn new(fails_at: usize) -> Self {
            let spec = GrowingSpec { fire_rate: 0.5, mode: GrowingMode::Regenerating, target: "test".into() };
            Self { weights: GrowingWeights::zeros(spec), losses: Vec::new(), fails_at, seconds: 0.0 }
        }
    }

    impl Run for Drifting {
        fn iteration(&self) -> usize {
            self.losses.len()
        }
        fn step(&mut self) -> IterationStats {
            let iteration = self.losses.len();
            std::thread::sleep(Duration::from_millis(2));
            let broken = iteration >= self.fails_at;
            self.weights.b2[0] = if broken { f32::NAN } else { iteration as f32 + 1.0 };
            let loss = if broken { f64::NAN } else { 1.0 / (iteration as f64 + 1.0) };
            self.losses.push(loss);
            IterationStats { iteration, loss, steps: 1 }
        }
        fn losses(&self) -> &[f64] {
            &self.losses
        }
        fn seconds(&self) -> f64 {
            self.seconds
        }
        fn set_seconds(&mut self, seconds: f64) {
            self.seconds = seconds;
        }
        fn save_checkpoint(&self, path: &Path) -> Result<(), crate::model::ModelError> {
            std::fs::write(path, format!("{}", self.losses.len()))
                .map_err(|source| crate::model::ModelError::Io { path: path.into(), source })
        }
        fn model(&self) -> Result<NcaWeights, String> {
            Ok(NcaWeights::Growing(self.weights.clone()))
        }
    }

    fn drain(job: &mut TeachJob) -> Vec<TeachEvent> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut events = Vec::new();
        while Instant::now() < deadline {
            let batch = job.poll();
            let finished = batch.iter().any(|e| matches!(e, TeachEvent::Finished));
            events.extend(batch);
            if finished {
                return events;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the job did not finish: {events:?}");
    }

    fn publishing_every(every: usize) -> JobOptions {
        JobOptions { publish_every_iterations: every, publish_every: Duration::from_secs(3600), threads: 1, ..Default::default() }
    }

    #[test]
    fn a_nan_rolls_back_to_the_last_published_weights_and_stops() {
        let mut job =
            TeachJob::start(Lesson::new(|| Ok(Box::new(Drifting::new(7)) as Box<dyn Run>), 0, "test"), publishing_every(3)).unwrap();
        let events = drain(&mut job);
        let published: Vec<usize> =
            events.iter().filter_map(|e| if let TeachEvent::Weights { iteration, .. } = e { Some(*iteration) } else { None }).collect();
        assert_eq!(published, [3, 6], "weights every 3 iterations until the NaN");
        for event in &events {
            if let TeachEvent::Weights { weights, .. } = event {
                assert!(weights.is_finite(), "only finite weights are published");
                assert_eq!(weights.provenance().get("nca.source").map(String::as_str), Some("taught in the nca-sandbox window"));
            }
        }
        let rolled = events
            .iter()
            .find_map(|e| if let TeachEvent::RolledBack { iteration, kept, .. } = e { Some((*iteration, *kept)) } else { None });
        assert_eq!(rolled, Some((7, 6)), "the NaN at iteration 7 keeps iteration 6's weights");
        assert!(!events.iter().any(|e| matches!(e, TeachEvent::Progress { iteration, .. } if *iteration > 7)), "it stopped: {events:?}");
        assert!(job.join());
    }

    #[test]
    fn stopping_ends_the_thread_promptly_and_keeps_a_checkpoint_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lesson.ckpt");
        let options = JobOptions { checkpoint: Some(path.clone()), ..publishing_every(1_000_000) };
        let mut job = TeachJob::start(Lesson::new(|| Ok(Box::new(Drifting::new(usize::MAX)) as Box<dyn Run>), 0, "test"), options).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !job.poll().iter().any(|e| matches!(e, TeachEvent::Progress { iteration, .. } if *iteration >= 5)) {
            assert!(Instant::now() < deadline, "no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        let asked = Instant::now();
        job.stop(true);
        assert!(job.join(), "the thread ended cleanly");
        assert!(asked.elapsed() < Duration::from_secs(2), "stopping took {:?}", asked.elapsed());
        assert!(!job.is_running());
        let written: usize = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        assert!(written >= 5, "the checkpoint holds the run as it stopped ({written} iterations)");
        // Dropping a job without asking also stops it; its channel then closes.
        let job = TeachJob::start(Lesson::new(|| Ok(Box::new(Drifting::new(usize::MAX)) as Box<dyn Run>), 0, "test"), publishing_every(10))
            .unwrap();
        let events = job.events.clone();
        drop(job);
        let last = events.try_iter().last();
        assert!(matches!(last, Some(TeachEvent::Finished)), "the worker said it finished: {last:?}");
    }

    #[test]
    fn a_lesson_that_cannot_start_says_why_and_ends() {
        let mut job = TeachJob::start(Lesson::new(|| Err("no digits".into()), 0, "test"), publishing_every(1)).unwrap();
        let events = drain(&mut job);
        assert!(matches!(&events[0], TeachEvent::Failed(m) if m == "no digits"), "{events:?}");
    }

    #[test]
    fn save_as_writes_the_weights_with_provenance_and_curves() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("taught.safetensors");
        let options = JobOptions { parent: "lizard_regenerating.safetensors".into(), ..publishing_every(1_000_000) };
        let mut job = TeachJob::start(Lesson::new(|| Ok(Box::new(Drifting::new(usize::MAX)) as Box<dyn Run>), 0, "test"), options).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !job.poll().iter().any(|e| matches!(e, TeachEvent::Progress { iteration, .. } if *iteration >= 4)) {
            assert!(Instant::now() < deadline, "no progress");
        }
        job.save_as(out.clone());
        let mut saved = false;
        while !saved {
            assert!(Instant::now() < deadline, "not saved");
            saved = job.poll().iter().any(|e| matches!(e, TeachEvent::Saved(p) if *p == out));
        }
        job.stop(false);
        job.join();
        let weights = NcaWeights::load(&out).unwrap();
        let meta = weights.provenance();
        assert_eq!(meta.get("nca.teach.parent").map(String::as_str), Some("lizard_regenerating.safetensors"));
        let iterations: usize = meta["nca.train.iterations"].parse().unwrap();
        assert!(iterations >= 4);
        assert_eq!(weights.as_growing().unwrap().b2[0], iterations as f32, "the weights of the iteration recorded");
        for key in ["nca.train.seconds", "nca.train.loss", "nca.train.backend"] {
            assert!(meta.contains_key(key), "{key} missing: {meta:?}");
        }
        assert!(dir.path().join("taught.loss.csv").is_file() && dir.path().join("taught.loss.png").is_file());
    }

    #[test]
    fn handwriting_joins_mnist_at_the_share_asked() {
        let mnist = Digits { rows: 28, cols: 28, pixels: vec![0; 28 * 28 * 90], labels: vec![1; 90] };
        let samples = vec![(vec![255u8; 28 * 28], 7u8), (vec![128u8; 28 * 28], 3u8)];
        let joined = with_handwriting(&mnist, &samples, 0.1);
        let mine = joined.labels.iter().filter(|&&l| l != 1).count();
        assert_eq!(joined.len(), 90 + mine);
        assert_eq!(mine, 10, "10 of 100 digits are the person's (5 copies of each)");
        assert_eq!(joined.image(90), samples[0].0.as_slice());
        assert_eq!(joined.labels[91], 3);
        assert_eq!(with_handwriting(&mnist, &[], 0.5).len(), 90);
    }
}
