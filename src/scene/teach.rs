//! Teaching in the scene: a person picks what an organism should become, and watches it learn
//! while still playing with it.
//!
//! A lesson is a [`crate::train::teach::TeachJob`] on threads of its own. The plugin forks the
//! grid's model into an asset of its own (so a later change of the file on disk does not revert
//! what was learnt, nor the other way round), points the grid at the fork, and replaces the
//! fork's weights each time the job publishes, after checking them: the render world re-packs
//! a replaced model and the grid goes on from its state, without a reset. With "side by side",
//! a second grid runs the fork while the first keeps the original weights.
//!
//! A lesson keeps a checkpoint and a small record (`lesson.json`) in
//! [`TeachSettings::lesson_dir`] every few minutes, when the panel is hidden and when the app
//! closes; the next start offers to continue it.

use crate::platform::Instant;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::feed::GridFeed;
use super::{SandboxGrid, SceneCommand, SceneSettings};
use crate::library::ModelLibrary;
use crate::model::grid::Edit;
use crate::model::spec::GrowingMode;
use crate::model::target::{DEFAULT_TARGET_PADDING, DEFAULT_TARGET_SIZE, Target};
use crate::model::{ModelKind, NcaWeights};
use crate::sim::{CaGrid, FollowsPlayback, GridEdits, NcaModel};
use crate::train::TrainConfig;
use crate::train::teach::{self, HandwritingPlan, JobOptions, Lesson, TeachDevice, TeachEvent, TeachJob};

/// How lessons train and publish.
#[derive(Resource, Clone, Debug)]
pub struct TeachSettings {
    /// Publish new weights after this many iterations…
    pub publish_every_iterations: usize,
    /// …or after this many seconds, whichever comes first.
    pub publish_every_seconds: f32,
    /// Samples in a growing lesson's pool: its memory is this × 72² cells × 16 channels × 4
    /// bytes (256: 85 MB; the CLI's 1,024: 340 MB).
    pub pool_size: usize,
    /// Samples per iteration of a growing lesson.
    pub batch_size: usize,
    /// Fewest and most CA steps per iteration of a growing lesson (the recipe's 64–96: fewer
    /// would teach a model that grows in fewer steps than the scene runs it for).
    pub steps: (u32, u32),
    /// The job's threads (default: all cores but one, so the app keeps one).
    pub threads: usize,
    /// Where the job's tensors live.
    pub device: TeachDevice,
    /// A second grid beside the first runs the learning weights; the first keeps the original.
    pub side_by_side: bool,
    /// Where an unfinished lesson keeps its checkpoint and record.
    pub lesson_dir: PathBuf,
    /// Where "save as" suggests to save (the library's folder).
    pub save_dir: PathBuf,
    /// Share of a handwriting lesson's training digits that are the person's.
    pub handwriting_share: f32,
    /// MNIST's idx files, for handwriting lessons.
    pub mnist_dir: PathBuf,
    /// Seed of every lesson's trainer.
    pub seed: u64,
    /// Minutes between a lesson's checkpoints.
    pub checkpoint_minutes: f32,
}

impl Default for TeachSettings {
    fn default() -> Self {
        Self {
            publish_every_iterations: 5,
            publish_every_seconds: 20.0,
            pool_size: 256,
            batch_size: 4,
            steps: (64, 96),
            threads: teach::default_threads(),
            device: TeachDevice::Cpu,
            side_by_side: false,
            lesson_dir: PathBuf::from("trained/lessons"),
            save_dir: PathBuf::from("trained"),
            handwriting_share: 0.1,
            mnist_dir: crate::model::idx::default_dir(),
            seed: 0,
            checkpoint_minutes: 5.0,
        }
    }
}

/// What a growing organism should become.
#[derive(Clone, Debug, PartialEq)]
pub enum TeachTarget {
    /// A picture file (PNG), thumbnailed as the trainer does.
    Picture(PathBuf),
    /// The selected organism's current RGBA ("this, as it is now").
    AsItIsNow,
}

/// Where a lesson's weights start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TeachFrom {
    /// The grid's current weights (fine-tuning).
    #[default]
    Current,
    /// Fresh weights.
    Scratch,
}

/// Requests from the teach panel, the keyboard and the command line.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum TeachCommand {
    /// Teach the grid's growing model to become `target`, able to do what `mode` trains.
    Start {
        /// What to become.
        target: TeachTarget,
        /// Grow, persist or regenerate.
        mode: GrowingMode,
        /// From the current weights or from scratch.
        from: TeachFrom,
    },
    /// Pause the lesson (the scene goes on).
    Pause,
    /// Resume it.
    Resume,
    /// End it; the grid keeps what it learnt.
    Stop,
    /// Save the weights as they stand, with their provenance.
    SaveAs(PathBuf),
    /// Continue the unfinished lesson found at start-up.
    Continue,
    /// Forget the unfinished lesson.
    Discard,
    /// The digit under the focus (or the largest) is a `class`: keep it as a handwriting sample.
    Label(u8),
    /// Forget the handwriting samples.
    ForgetHandwriting,
    /// Teach the MNIST model the handwriting samples.
    StartHandwriting,
}

/// Where a lesson is.
#[derive(Clone, Debug, PartialEq)]
pub enum LessonStatus {
    /// The job builds its run.
    Starting,
    /// Training.
    Running,
    /// Paused by the person.
    Paused,
    /// Over (stopped, or it could not start): why.
    Ended(String),
    /// It went wrong and kept its last good weights.
    RolledBack(String),
}

/// A lesson that runs or ran in this session.
pub struct ActiveLesson {
    job: TeachJob,
    /// What it teaches ("butterfly", "this, as it is now", "your handwriting").
    pub what: String,
    /// The kind of model taught.
    pub kind: ModelKind,
    /// The model the grid ran before.
    pub parent: Handle<NcaModel>,
    /// The lesson's own copy, whose weights are replaced as it learns.
    pub fork: Handle<NcaModel>,
    /// Every iteration's loss (this session's), with its time since the lesson started.
    pub losses: Vec<(f32, f64)>,
    /// Iterations done (in all, for a continued lesson).
    pub iteration: usize,
    /// Iterations per second.
    pub per_second: f64,
    /// Seconds of training in all.
    pub seconds: f64,
    /// Weights swapped into the grid.
    pub swaps: usize,
    /// The iteration of the weights the grid runs.
    pub shown_iteration: usize,
    /// The last published weights (save as, after the job ended, writes these).
    pub last_good: Option<Arc<NcaWeights>>,
    /// Handwriting: the person's digits right at the start, and now.
    pub score_first: Option<(usize, usize)>,
    /// See [`ActiveLesson::score_first`].
    pub score_last: Option<(usize, usize)>,
    /// Where it is.
    pub status: LessonStatus,
    /// Bytes the job holds.
    pub memory_bytes: u64,
    /// Threads and backend, once started.
    pub threads: usize,
    /// See [`ActiveLesson::threads`].
    pub backend: &'static str,
    started: Instant,
    record: LessonRecord,
    all_losses: Vec<f64>,
}

impl ActiveLesson {
    /// Whether the job still trains (or is paused).
    pub fn is_live(&self) -> bool {
        matches!(self.status, LessonStatus::Starting | LessonStatus::Running | LessonStatus::Paused)
    }

    /// Mean loss of the first and of the last [`crate::train::run::FINAL_LOSS_WINDOW`]
    /// iterations of this session.
    pub fn loss_first_last(&self) -> Option<(f64, f64)> {
        let n = crate::train::run::FINAL_LOSS_WINDOW;
        let mean = |v: &[(f32, f64)]| v.iter().map(|l| l.1).sum::<f64>() / v.len().max(1) as f64;
        (!self.losses.is_empty())
            .then(|| (mean(&self.losses[..n.min(self.losses.len())]), mean(&self.losses[self.losses.len().saturating_sub(n)..])))
    }
}

/// The record beside a lesson's checkpoint: what the checkpoint alone does not say.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LessonRecord {
    /// Layout of this record.
    pub version: u32,
    /// "growing" or "mnist".
    pub kind: String,
    /// What it teaches.
    pub what: String,
    /// The model it started from (file name).
    pub parent: String,
    /// Iterations at the last checkpoint.
    pub iteration: usize,
    /// Handwriting lessons: the person's digits (28×28) and labels.
    #[serde(default)]
    pub handwriting: Vec<(Vec<u8>, u8)>,
}

const RECORD_VERSION: u32 = 1;

/// An unfinished lesson found at start-up.
#[derive(Clone, Debug, PartialEq)]
pub struct UnfinishedLesson {
    /// Its record.
    pub record: LessonRecord,
    /// Its checkpoint.
    pub checkpoint: PathBuf,
}

/// Lessons and handwriting samples.
#[derive(Resource, Default)]
pub struct TeachState {
    /// The current (or last) lesson.
    pub lesson: Option<ActiveLesson>,
    /// A lesson left unfinished by an earlier session, offered to continue.
    pub unfinished: Option<UnfinishedLesson>,
    /// The person's labelled digits (28×28 pictures).
    pub handwriting: Vec<(Vec<u8>, u8)>,
    /// A picture the person opened or dropped, offered as what to become.
    pub picked_target: Option<PathBuf>,
    /// A lesson to start once the sandbox grid runs a loaded model (`nca run --teach`).
    pub start_when_ready: Option<TeachCommand>,
    /// A start or a label waiting for the grid's state (the feed request it needs to answer).
    waiting: Option<(u64, Waiting)>,
    panel_was_visible: bool,
}

#[derive(Clone, Debug)]
enum Waiting {
    Target { mode: GrowingMode, from: TeachFrom },
    Label(u8),
}

/// Marks the grid that runs a lesson's weights beside the sandbox grid.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct TeachPreviewGrid;

/// System sets of teaching, in `Update` (after the scene applied its commands).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TeachSystems {
    /// Commands start and steer lessons; published weights reach the grids.
    Apply,
}

/// Lessons in the scene.
pub struct TeachPlugin;

impl Plugin for TeachPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TeachSettings>()
            .init_resource::<TeachState>()
            .add_message::<TeachCommand>()
            .configure_sets(Update, TeachSystems::Apply.after(super::SceneSystems::Apply).before(super::SceneSystems::Feed))
            .add_systems(Startup, find_unfinished_lesson)
            .add_systems(
                Update,
                (
                    start_when_ready,
                    accept_dropped_targets,
                    apply_teach_commands,
                    take_captures,
                    follow_lesson,
                    route_lesson_weights,
                    reset_preview,
                    keep_when_panel_closes,
                )
                    .chain()
                    .in_set(TeachSystems::Apply),
            )
            .add_systems(Last, keep_lesson_on_exit);
    }
}

fn record_path(dir: &Path) -> PathBuf {
    dir.join("lesson.json")
}

fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("lesson.ckpt.safetensors")
}

/// Reads the unfinished lesson in `dir`, if there is one; an unreadable one is an error.
pub fn read_unfinished(dir: &Path) -> Result<Option<UnfinishedLesson>, String> {
    let (record_file, checkpoint) = (record_path(dir), checkpoint_path(dir));
    if !record_file.is_file() || !checkpoint.is_file() {
        return Ok(None);
    }
    let text = crate::model::files::read_input_text(&record_file, "lesson record", 1 << 20).map_err(|e| e.to_string())?;
    let record: LessonRecord = serde_json::from_str(&text).map_err(|e| format!("{}: not a lesson record ({e})", record_file.display()))?;
    if record.version != RECORD_VERSION {
        return Err(format!("{}: lesson record version {} is not {RECORD_VERSION}", record_file.display(), record.version));
    }
    Ok(Some(UnfinishedLesson { record, checkpoint }))
}

fn find_unfinished_lesson(settings: Res<TeachSettings>, mut state: ResMut<TeachState>, mut library: ResMut<ModelLibrary>) {
    match read_unfinished(&settings.lesson_dir) {
        Ok(found) => state.unfinished = found,
        Err(e) => library.error(format!("an unfinished lesson could not be read, so it is not offered: {e}")),
    }
}

fn write_record(dir: &Path, record: &LessonRecord) -> Result<(), String> {
    let json = serde_json::to_string(record).map_err(|e| e.to_string())?;
    crate::model::weights::write_atomically(&record_path(dir), json.as_bytes()).map_err(|e| e.to_string())
}

fn forget_unfinished(dir: &Path) {
    for path in [record_path(dir), checkpoint_path(dir)] {
        let _ = std::fs::remove_file(path);
    }
}

/// Sends the start-up lesson once the grid's model has loaded.
fn start_when_ready(
    mut state: ResMut<TeachState>,
    models: Res<Assets<NcaModel>>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
    mut commands: MessageWriter<TeachCommand>,
) {
    if state.start_when_ready.is_some()
        && grids.iter().next().is_some_and(|g| g.kind(&models).is_some())
        && let Some(command) = state.start_when_ready.take()
    {
        commands.write(command);
    }
}

/// A picture dropped on a growing grid is offered as what to become (a broken one is refused
/// here, before any lesson could start from it).
fn accept_dropped_targets(
    mut drops: MessageReader<bevy::window::FileDragAndDrop>,
    mut state: ResMut<TeachState>,
    mut library: ResMut<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
) {
    for drop in drops.read() {
        let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = drop else { continue };
        let growing = grids.iter().next().and_then(|g| g.kind(&models)) == Some(ModelKind::Growing);
        if growing && crate::library::is_picture_file(path_buf) {
            pick_target(&mut state, &mut library, path_buf);
        }
    }
}

/// Offers `path` as what to become if it reads as a target; says why not otherwise.
pub fn pick_target(state: &mut TeachState, library: &mut ModelLibrary, path: &Path) {
    match Target::load(path, DEFAULT_TARGET_SIZE, DEFAULT_TARGET_PADDING) {
        Ok(_) => {
            library.note(format!("{} is ready to teach: press Teach", path.display()));
            state.picked_target = Some(path.to_path_buf());
        }
        Err(e) => library.error(format!("{}: not a readable picture, so it cannot be taught ({})", path.display(), cause(&e))),
    }
}

/// The loader's sentence without the path it starts with (the message names the file itself).
fn cause(e: &crate::model::ModelError) -> String {
    let text = e.to_string();
    text.split_once(": ").map(|(_, why)| why.to_string()).unwrap_or(text)
}

/// The sandbox grid's entity, grid and edits.
type SandboxGrids<'w, 's> = Query<'w, 's, (Entity, &'static mut CaGrid, &'static mut GridEdits), With<SandboxGrid>>;

#[allow(clippy::too_many_arguments)]
fn apply_teach_commands(
    mut messages: MessageReader<TeachCommand>,
    settings: Res<TeachSettings>,
    mut state: ResMut<TeachState>,
    mut feed: ResMut<GridFeed>,
    mut library: ResMut<ModelLibrary>,
    mut models: ResMut<Assets<NcaModel>>,
    grids: SandboxGrids,
) {
    for message in messages.read() {
        let grid = grids.iter().next().map(|(_, g, _)| g.clone());
        let kind = grid.as_ref().and_then(|g| g.kind(&models));
        match message {
            TeachCommand::Start { target, mode, from } => {
                if state.lesson.as_ref().is_some_and(ActiveLesson::is_live) {
                    library.error("a lesson is already running; stop it first");
                    continue;
                }
                if kind != Some(ModelKind::Growing) {
                    library.error("pictures are taught to growing models; open one first");
                    continue;
                }
                match target {
                    TeachTarget::Picture(path) => {
                        let picture = Target::load(path, DEFAULT_TARGET_SIZE, DEFAULT_TARGET_PADDING).map_err(|e| e.to_string());
                        let what = path.file_stem().and_then(|s| s.to_str()).unwrap_or("picture").to_string();
                        let parent = grid.as_ref().map(|g| parent_name(g, &library)).unwrap_or_default();
                        let started =
                            picture.and_then(|t| start_growing(t, what, parent, *mode, *from, grid.as_ref(), &settings, &mut models));
                        finish_start(&mut state, &mut library, &settings, started);
                    }
                    TeachTarget::AsItIsNow => {
                        feed.want_state = true;
                        state.waiting = Some((feed.requests, Waiting::Target { mode: *mode, from: *from }));
                    }
                }
            }
            TeachCommand::Pause | TeachCommand::Resume => {
                let paused = *message == TeachCommand::Pause;
                if let Some(lesson) = state.lesson.as_mut().filter(|l| l.is_live()) {
                    lesson.job.set_paused(paused);
                    lesson.status = if paused { LessonStatus::Paused } else { LessonStatus::Running };
                }
            }
            TeachCommand::Stop => {
                if let Some(lesson) = state.lesson.as_mut().filter(|l| l.is_live()) {
                    lesson.job.stop(false);
                    lesson.status = LessonStatus::Ended(format!("stopped at iteration {}", lesson.iteration));
                    forget_unfinished(&settings.lesson_dir);
                }
            }
            TeachCommand::SaveAs(path) => save_as(&mut state, &mut library, path),
            TeachCommand::Continue => {
                let Some(unfinished) = state.unfinished.clone() else { continue };
                if state.lesson.as_ref().is_some_and(ActiveLesson::is_live) {
                    library.error("a lesson is already running; stop it first");
                    continue;
                }
                let started = continue_lesson(&unfinished, grid.as_ref(), &settings, &mut models);
                finish_start(&mut state, &mut library, &settings, started);
            }
            TeachCommand::Discard => {
                state.unfinished = None;
                forget_unfinished(&settings.lesson_dir);
            }
            TeachCommand::Label(class) => {
                if kind != Some(ModelKind::Mnist) {
                    library.error("digits are labelled on an MNIST canvas");
                    continue;
                }
                feed.want_state = true;
                state.waiting = Some((feed.requests, Waiting::Label(*class)));
            }
            TeachCommand::ForgetHandwriting => state.handwriting.clear(),
            TeachCommand::StartHandwriting => {
                if state.lesson.as_ref().is_some_and(ActiveLesson::is_live) {
                    library.error("a lesson is already running; stop it first");
                    continue;
                }
                let samples = state.handwriting.clone();
                let parent = grid.as_ref().map(|g| parent_name(g, &library)).unwrap_or_default();
                let started = start_handwriting(samples, None, parent, grid.as_ref(), &settings, &mut models);
                finish_start(&mut state, &mut library, &settings, started);
            }
        }
    }
}

/// Takes a lesson that started (its record is written at once, so the checkpoint the job keeps
/// when the app closes is offered next time; it replaces any older unfinished lesson) or says
/// why it did not.
fn finish_start(state: &mut TeachState, library: &mut ModelLibrary, settings: &TeachSettings, started: Result<ActiveLesson, String>) {
    match started {
        Ok(lesson) => {
            state.unfinished = None;
            if let Err(e) = write_record(&settings.lesson_dir, &lesson.record) {
                library.error(format!("the lesson cannot be kept for next time: {e}"));
            }
            library.note(format!("teaching {}: the job holds {:.0} MB", lesson.what, lesson.memory_bytes as f64 / 1e6));
            state.lesson = Some(lesson);
        }
        Err(e) => library.error(format!("the lesson did not start: {e}")),
    }
}

fn save_as(state: &mut TeachState, library: &mut ModelLibrary, path: &Path) {
    let Some(lesson) = state.lesson.as_ref() else {
        library.error("there is no lesson to save");
        return;
    };
    if lesson.is_live() {
        lesson.job.save_as(path.to_path_buf());
        return;
    }
    // The job has ended: its last published weights are the lesson's result.
    match &lesson.last_good {
        Some(weights) => match teach::save_lesson(weights, &lesson.all_losses, path) {
            Ok(()) => library.note(format!("saved {}", path.display())),
            Err(e) => library.error(format!("cannot save the lesson: {e}")),
        },
        None => library.error("the lesson has not learnt anything to save yet"),
    }
}

fn parent_name(grid: &CaGrid, library: &ModelLibrary) -> String {
    library
        .entry(&grid.model)
        .and_then(|e| e.path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "a model of this session".into())
}

fn options(settings: &TeachSettings, parent: String, publish_at_start: bool) -> JobOptions {
    let keeps = std::fs::create_dir_all(&settings.lesson_dir).is_ok();
    JobOptions {
        publish_every_iterations: settings.publish_every_iterations.max(1),
        publish_every: Duration::from_secs_f32(settings.publish_every_seconds.max(0.1)),
        checkpoint_every: Duration::from_secs_f32((settings.checkpoint_minutes * 60.0).max(1.0)),
        threads: settings.threads.max(1),
        checkpoint: keeps.then(|| checkpoint_path(&settings.lesson_dir)),
        parent,
        publish_at_start,
        iterations: None,
    }
}

fn new_lesson(
    job: TeachJob,
    what: String,
    kind: ModelKind,
    parent: Handle<NcaModel>,
    models: &mut Assets<NcaModel>,
    record: LessonRecord,
) -> Result<ActiveLesson, String> {
    let current = models.get(&parent).cloned().ok_or("the model has not loaded yet")?;
    let fork = models.add(current);
    let memory_bytes = job.memory_bytes;
    Ok(ActiveLesson {
        job,
        what,
        kind,
        parent,
        fork,
        losses: Vec::new(),
        iteration: 0,
        per_second: 0.0,
        seconds: 0.0,
        swaps: 0,
        shown_iteration: 0,
        last_good: None,
        score_first: None,
        score_last: None,
        status: LessonStatus::Starting,
        memory_bytes,
        threads: 0,
        backend: "",
        started: Instant::now(),
        record,
        all_losses: Vec::new(),
    })
}

/// The recipe of the panel's growing lessons: `settings`' pool, batch and steps, and a damaged
/// share like the notebook's (3 of 8) for any batch.
pub fn growing_lesson_config(settings: &TeachSettings, mode: GrowingMode, what: String) -> TrainConfig {
    let damaged = (settings.batch_size * 3 / 8).max(1);
    TrainConfig::new()
        .with_mode(mode)
        .with_pool_size(settings.pool_size)
        .with_batch_size(settings.batch_size)
        .with_min_steps(settings.steps.0)
        .with_max_steps(settings.steps.1)
        .with_damaged(damaged)
        .with_seed(settings.seed)
        .with_target_name(what)
}

/// Starts a growing lesson toward `target` (already thumbnailed and padded as the trainer does).
#[allow(clippy::too_many_arguments)]
pub fn start_growing(
    target: Target,
    what: String,
    parent: String,
    mode: GrowingMode,
    from: TeachFrom,
    grid: Option<&CaGrid>,
    settings: &TeachSettings,
    models: &mut Assets<NcaModel>,
) -> Result<ActiveLesson, String> {
    let grid = grid.ok_or("there is no grid to teach")?;
    let current = models.get(&grid.model).ok_or("the model has not loaded yet")?;
    let weights = current.weights.expect_growing()?;
    let start = (from == TeachFrom::Current).then(|| weights.clone());
    let config = growing_lesson_config(settings, mode, what.clone()).with_started_from(if from == TeachFrom::Current {
        parent.clone()
    } else {
        String::new()
    });
    let job = TeachJob::start(Lesson::growing(config, target, start, settings.device)?, options(settings, parent.clone(), false))?;
    let record = LessonRecord {
        version: RECORD_VERSION,
        kind: ModelKind::Growing.to_string(),
        what: what.clone(),
        parent,
        iteration: 0,
        handwriting: Vec::new(),
    };
    new_lesson(job, what, ModelKind::Growing, grid.model.clone(), models, record)
}

fn start_handwriting(
    samples: Vec<(Vec<u8>, u8)>,
    checkpoint: Option<PathBuf>,
    parent: String,
    grid: Option<&CaGrid>,
    settings: &TeachSettings,
    models: &mut Assets<NcaModel>,
) -> Result<ActiveLesson, String> {
    let grid = grid.ok_or("there is no canvas to teach")?;
    let current = models.get(&grid.model).ok_or("the model has not loaded yet")?;
    let weights = current.weights.expect_mnist()?.clone();
    if weights.spec.role != crate::model::mnist::MnistRole::Classifier {
        return Err("handwriting is taught to a classifier, and this canvas runs an adversary".into());
    }
    let plan = HandwritingPlan {
        config: teach::handwriting_config(&parent, settings.seed),
        start: weights,
        mnist_dir: settings.mnist_dir.clone(),
        samples: samples.clone(),
        share: settings.handwriting_share,
        checkpoint: checkpoint.clone(),
    };
    let job = TeachJob::start(Lesson::handwriting(plan, settings.device)?, options(settings, parent.clone(), checkpoint.is_some()))?;
    let what = format!("your handwriting ({} digits)", samples.len());
    let record = LessonRecord {
        version: RECORD_VERSION,
        kind: ModelKind::Mnist.to_string(),
        what: what.clone(),
        parent,
        iteration: 0,
        handwriting: samples,
    };
    new_lesson(job, what, ModelKind::Mnist, grid.model.clone(), models, record)
}

/// Continues a lesson from its checkpoint, on a grid of the kind it teaches.
fn continue_lesson(
    unfinished: &UnfinishedLesson,
    grid: Option<&CaGrid>,
    settings: &TeachSettings,
    models: &mut Assets<NcaModel>,
) -> Result<ActiveLesson, String> {
    let record = &unfinished.record;
    let grid = grid.ok_or("there is no grid to teach")?;
    let kind = grid.kind(models).ok_or("the model has not loaded yet")?;
    if record.kind != kind.to_string() {
        return Err(format!(
            "the unfinished lesson teaches a {} model and the scene runs a {kind} model; open one of its kind first",
            record.kind
        ));
    }
    let checkpoint = unfinished.checkpoint.clone();
    match kind {
        ModelKind::Growing => {
            let job = TeachJob::start(Lesson::resume_growing(checkpoint, settings.device), options(settings, record.parent.clone(), true))?;
            new_lesson(job, record.what.clone(), kind, grid.model.clone(), models, record.clone())
        }
        ModelKind::Mnist => {
            let mut started =
                start_handwriting(record.handwriting.clone(), Some(checkpoint), record.parent.clone(), Some(grid), settings, models)?;
            started.record = record.clone();
            started.what = record.what.clone();
            Ok(started)
        }
    }
}

/// Starts what waited for the grid's state: a lesson toward the organism as it is now, or a
/// handwriting sample.
fn take_captures(
    feed: Res<GridFeed>,
    settings: Res<TeachSettings>,
    mut state: ResMut<TeachState>,
    mut library: ResMut<ModelLibrary>,
    mut models: ResMut<Assets<NcaModel>>,
    digits: Res<super::digits::DigitsState>,
    grids: SandboxGrids,
) {
    let Some((since, waiting)) = state.waiting.clone() else { return };
    let Some((_, snapshot)) = feed.state.as_ref().filter(|(n, _)| *n > since) else { return };
    state.waiting = None;
    let grid = grids.iter().next().map(|(_, g, _)| g.clone());
    match waiting {
        Waiting::Target { mode, from } => {
            let Some(target) = Target::from_state(&snapshot.grid, DEFAULT_TARGET_SIZE, DEFAULT_TARGET_PADDING) else {
                library.error("nothing is alive to teach from: grow or sculpt an organism first");
                return;
            };
            let parent = grid.as_ref().map(|g| parent_name(g, &library)).unwrap_or_default();
            let started = start_growing(target, "this, as it was".into(), parent, mode, from, grid.as_ref(), &settings, &mut models);
            finish_start(&mut state, &mut library, &settings, started);
        }
        Waiting::Label(class) => {
            let digit = digits.focus.and_then(|f| digits.digit_at(f)).or(digits.readout.first());
            let Some(digit) = digit else {
                library.error("write a digit first, then say which it is");
                return;
            };
            let grid = &snapshot.grid;
            let grey: Vec<f32> = grid.data.chunks_exact(grid.channels).map(|c| c[crate::model::mnist::GREY]).collect();
            let picture = crate::model::digits::as_mnist_digit(&grey, grid.width, &digit.region.cells);
            state.handwriting.push((picture, class));
            library.note(format!("kept your {class} ({} digits to teach)", state.handwriting.len()));
        }
    }
}

/// Takes what the job said: progress, weights (checked, then swapped into the fork), scores,
/// saves, checkpoints, and the end.
fn follow_lesson(
    settings: Res<TeachSettings>,
    mut state: ResMut<TeachState>,
    mut library: ResMut<ModelLibrary>,
    mut models: ResMut<Assets<NcaModel>>,
    server: Res<AssetServer>,
) {
    let Some(lesson) = state.lesson.as_mut() else { return };
    for event in lesson.job.poll() {
        match event {
            TeachEvent::Started { iteration, backend, threads } => {
                lesson.iteration = iteration;
                lesson.shown_iteration = iteration;
                lesson.threads = threads;
                lesson.backend = backend;
                if lesson.status == LessonStatus::Starting {
                    lesson.status = LessonStatus::Running;
                }
            }
            TeachEvent::Progress { iteration, loss, per_second, seconds } => {
                lesson.iteration = iteration;
                lesson.per_second = per_second;
                lesson.seconds = seconds;
                lesson.losses.push((lesson.started.elapsed().as_secs_f32(), loss));
                lesson.all_losses.push(loss);
            }
            TeachEvent::Weights { iteration, weights } => match swap_weights(&mut models, &lesson.fork, lesson.kind, &weights) {
                Ok(()) => {
                    lesson.swaps += 1;
                    lesson.shown_iteration = iteration;
                    lesson.last_good = Some(weights);
                }
                Err(e) => library.error(format!("the lesson's weights were not used: {e}")),
            },
            TeachEvent::Score { right, total, .. } => {
                if lesson.score_first.is_none() {
                    lesson.score_first = Some((right, total));
                }
                lesson.score_last = Some((right, total));
            }
            TeachEvent::Saved(path) => {
                library.note(format!("saved {}", path.display()));
                library.open(&path, &server);
            }
            // Only a live lesson is kept to continue (one the person stopped is forgotten).
            TeachEvent::Checkpointed(_) if lesson.is_live() => {
                lesson.record.iteration = lesson.iteration;
                if let Err(e) = write_record(&settings.lesson_dir, &lesson.record) {
                    library.error(format!("cannot keep the lesson's record: {e}"));
                }
            }
            TeachEvent::Checkpointed(_) => {}
            TeachEvent::RolledBack { iteration, loss, kept } => {
                let text = format!(
                    "the lesson went wrong at iteration {iteration} (loss {loss:.3e}); it stopped, and the grid keeps the weights of iteration {kept}"
                );
                library.error(text.clone());
                lesson.status = LessonStatus::RolledBack(text);
            }
            TeachEvent::Failed(e) => {
                library.error(e.clone());
                if lesson.status == LessonStatus::Starting {
                    lesson.status = LessonStatus::Ended(e);
                }
            }
            TeachEvent::Finished => {
                if lesson.is_live() {
                    lesson.status = LessonStatus::Ended(format!("ended at iteration {}", lesson.iteration));
                }
            }
        }
    }
}

/// Replaces the fork's weights: only finite weights of the lesson's kind ever reach a grid.
pub fn swap_weights(
    models: &mut Assets<NcaModel>,
    fork: &Handle<NcaModel>,
    kind: ModelKind,
    weights: &Arc<NcaWeights>,
) -> Result<(), String> {
    if !weights.is_finite() {
        return Err("they hold numbers that are not finite".into());
    }
    if weights.kind() != kind {
        return Err(format!("they are a {} model, the lesson teaches a {kind} model", weights.kind()));
    }
    models.insert(fork.id(), NcaModel { weights: weights.clone() }).map_err(|e| e.to_string())
}

/// Points the grids at the lesson's fork: the sandbox grid, or with "side by side" a second grid
/// beside it while the sandbox grid keeps the original.
fn route_lesson_weights(
    mut commands: Commands,
    settings: Res<TeachSettings>,
    state: Res<TeachState>,
    scene: Res<SceneSettings>,
    mut sandbox: Query<&mut CaGrid, (With<SandboxGrid>, Without<TeachPreviewGrid>)>,
    mut previews: Query<(Entity, &mut CaGrid), With<TeachPreviewGrid>>,
) {
    let lesson = state.lesson.as_ref();
    let Some(mut grid) = sandbox.iter_mut().next() else { return };
    let preview_wanted = settings.side_by_side && lesson.is_some_and(|l| l.kind == ModelKind::Growing);
    if let Some(lesson) = lesson {
        let (from, to) = if preview_wanted { (&lesson.fork, &lesson.parent) } else { (&lesson.parent, &lesson.fork) };
        if grid.species_models().any(|m| m.id() == from.id()) {
            if grid.model.id() == from.id() {
                grid.model = to.clone();
            }
            for species in grid.extra_species.iter_mut().filter(|m| m.id() == from.id()) {
                *species = to.clone();
            }
        }
    }
    match (preview_wanted, previews.iter_mut().next()) {
        (true, None) => {
            let lesson = lesson.expect("a preview needs a lesson");
            let mut preview = CaGrid::new(grid.width, grid.height, lesson.fork.clone());
            preview.seed = grid.seed;
            preview.rotation_degrees = scene.rotation_degrees;
            commands.spawn((preview, FollowsPlayback, TeachPreviewGrid, Transform::default()));
        }
        (true, Some((_, mut preview))) => {
            let fork = &lesson.expect("a preview needs a lesson").fork;
            if preview.model.id() != fork.id() {
                preview.model = fork.clone();
            }
            if (preview.width, preview.height) != (grid.width, grid.height) {
                (preview.width, preview.height) = (grid.width, grid.height);
            }
            if preview.rotation_degrees != scene.rotation_degrees {
                preview.rotation_degrees = scene.rotation_degrees;
            }
        }
        (false, Some((entity, _))) => commands.entity(entity).despawn(),
        (false, None) => {}
    }
}

/// "Reset" starts the side-by-side grid over with the sandbox grid, so before and after grow
/// from their seeds together.
fn reset_preview(
    mut messages: MessageReader<SceneCommand>,
    models: Res<Assets<NcaModel>>,
    mut previews: Query<(&mut CaGrid, &mut GridEdits), With<TeachPreviewGrid>>,
) {
    for message in messages.read() {
        if matches!(message, SceneCommand::Reset) {
            for (mut grid, mut edits) in &mut previews {
                grid.step = 0;
                edits.queue.clear();
                edits.push(Edit::Clear);
                if let Some(kind) = grid.kind(&models) {
                    edits.queue.extend(kind.start_edits(grid.width, grid.height));
                }
            }
        }
    }
}

/// Hiding the panel mid-lesson writes the checkpoint (the lesson goes on).
fn keep_when_panel_closes(scene: Res<SceneSettings>, mut state: ResMut<TeachState>) {
    let visible = scene.panel_visible;
    if state.panel_was_visible
        && !visible
        && let Some(lesson) = state.lesson.as_ref().filter(|l| l.is_live())
    {
        lesson.job.checkpoint();
    }
    state.panel_was_visible = visible;
}

/// When the app closes mid-lesson, the job writes its checkpoint and record before the app
/// goes: the next start offers to continue.
pub fn keep_lesson_on_exit(mut exits: MessageReader<AppExit>, settings: Res<TeachSettings>, mut state: ResMut<TeachState>) {
    if exits.read().next().is_none() {
        return;
    }
    keep_lesson(&settings, &mut state);
}

/// Stops a live lesson keeping its checkpoint, and writes its record.
pub fn keep_lesson(settings: &TeachSettings, state: &mut TeachState) {
    let Some(lesson) = state.lesson.as_mut().filter(|l| l.is_live()) else { return };
    lesson.job.stop(true);
    lesson.job.join();
    let mut checkpointed = false;
    for event in lesson.job.poll() {
        match event {
            TeachEvent::Checkpointed(_) => checkpointed = true,
            TeachEvent::Progress { iteration, .. } => lesson.iteration = iteration,
            _ => {}
        }
    }
    if checkpointed {
        lesson.record.iteration = lesson.iteration;
        if let Err(e) = write_record(&settings.lesson_dir, &lesson.record) {
            warn!("cannot keep the lesson's record: {e}");
        }
    }
    lesson.status = LessonStatus::Ended(format!("kept at iteration {} to continue next time", lesson.iteration));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GrowingWeights;
    use crate::model::spec::GrowingSpec;

    fn growing(bias: f32) -> Arc<NcaWeights> {
        let mut w = GrowingWeights::zeros(GrowingSpec { fire_rate: 0.5, mode: GrowingMode::Regenerating, target: "t".into() });
        w.b2[0] = bias;
        Arc::new(NcaWeights::Growing(w))
    }

    #[test]
    fn only_finite_weights_of_the_lessons_kind_reach_the_fork() {
        let mut models = Assets::<NcaModel>::default();
        let fork = models.add(NcaModel { weights: growing(1.0) });
        swap_weights(&mut models, &fork, ModelKind::Growing, &growing(2.0)).unwrap();
        assert_eq!(models.get(&fork).unwrap().weights.as_growing().unwrap().b2[0], 2.0);
        let error = swap_weights(&mut models, &fork, ModelKind::Growing, &growing(f32::NAN)).unwrap_err();
        assert!(error.contains("not finite"), "{error}");
        let error = swap_weights(&mut models, &fork, ModelKind::Mnist, &growing(3.0)).unwrap_err();
        assert!(error.contains("growing"), "{error}");
        assert_eq!(models.get(&fork).unwrap().weights.as_growing().unwrap().b2[0], 2.0, "the last good weights stay");
    }

    #[test]
    fn an_unfinished_lesson_is_offered_only_when_whole_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_unfinished(dir.path()), Ok(None), "nothing there");
        let record = LessonRecord {
            version: RECORD_VERSION,
            kind: "growing".into(),
            what: "butterfly".into(),
            parent: "lizard.safetensors".into(),
            iteration: 40,
            handwriting: Vec::new(),
        };
        write_record(dir.path(), &record).unwrap();
        assert_eq!(read_unfinished(dir.path()), Ok(None), "a record without its checkpoint is not a lesson to continue");
        std::fs::write(checkpoint_path(dir.path()), b"checkpoint").unwrap();
        let found = read_unfinished(dir.path()).unwrap().unwrap();
        assert_eq!(found.record, record);
        write_record(dir.path(), &LessonRecord { version: 99, ..record }).unwrap();
        let error = read_unfinished(dir.path()).unwrap_err();
        assert!(error.contains("version 99"), "{error}");
        std::fs::write(record_path(dir.path()), b"{ not json").unwrap();
        assert!(read_unfinished(dir.path()).unwrap_err().contains("not a lesson record"));
        forget_unfinished(dir.path());
        assert_eq!(read_unfinished(dir.path()), Ok(None));
    }
}
