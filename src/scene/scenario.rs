//! Scenarios in the window: play one (`nca run --scenario`), its events landing on their exact
//! steps; record what a person does into a scenario that replays exactly; save the scene as it
//! is; and, in a kiosk, play a folder of scenarios in turn while nobody touches the screen.
//!
//! Playing and recording sit between the transport controls and the frame plan
//! ([`SimSystems::Script`]): the player trims the frame's steps so no event step is passed and
//! queues the step's events, and the recorder reads the queue the plan is about to take. So a
//! recorded edit is written with the step it really landed on.

use std::path::PathBuf;

use bevy::prelude::*;

use super::{SandboxGrid, SceneSettings};
use crate::model::NcaWeights;
use crate::model::grid::Edit;
use crate::model::scenario::{
    Action, Event, GridSpec, LoadedScenario, RecordSpec, SCENARIO_VERSION, Scenario, SpeciesSpec, Step as TimelineStep,
};
use crate::sim::{CaGrid, GridEdits, NcaModel, Playback, SimSystems};

/// The digits scene's canvas settings a scenario takes over: size, start digits, start sprinkle.
type DigitsCanvas = ((u32, u32), Option<Vec<(super::digits::DigitSource, Option<[f32; 2]>)>>, Option<f32>);

/// The scenario playing in the window.
#[derive(Resource)]
pub struct ScenarioPlayer {
    /// The scenario, its files read.
    pub scene: LoadedScenario,
    /// Where it came from (shown in the panel).
    pub source: PathBuf,
    /// Each species' model as the scenario starts.
    start_models: Vec<Handle<NcaModel>>,
    /// The first timeline step not yet applied.
    cursor: u32,
    /// The grid's step last frame (a smaller one means the scene was reset).
    last_step: u32,
    /// The grid runs something else now (another model was picked).
    pub abandoned: bool,
    /// The run reached its last step.
    pub finished: bool,
    /// The digits scene's canvas settings before the scenario took them, for when it leaves.
    digits_before: Option<DigitsCanvas>,
    /// The panel's names of the models the scenario made.
    names: Vec<(AssetId<NcaModel>, String)>,
}

impl ScenarioPlayer {
    /// A player for `scene`.
    pub fn new(scene: LoadedScenario, source: PathBuf) -> Self {
        Self {
            scene,
            source,
            start_models: Vec::new(),
            cursor: 0,
            last_step: 0,
            abandoned: false,
            finished: false,
            digits_before: None,
            names: Vec::new(),
        }
    }

    /// The step the run ends at.
    pub fn end(&self) -> u32 {
        self.scene.scenario.steps
    }

    /// The name of a model the scenario put on the grid (its species' name and file), for the
    /// panel: these models live in memory, outside the library.
    pub fn model_name(&self, model: AssetId<NcaModel>) -> Option<String> {
        self.names.iter().find(|(id, _)| *id == model).map(|(_, name)| name.clone())
    }
}

/// A recording of what a person does: every edit at the step it landed on, every species added
/// or swapped, every turn of the kernels.
#[derive(Resource, Default)]
pub struct ScenarioRecorder {
    /// Recording now.
    pub active: bool,
    /// Waiting for the grid to start over before recording.
    starting: bool,
    /// The scene as the recording started.
    start: Option<Scenario>,
    /// The model of each species file the recording names, in order: the species' models first,
    /// then one per swap.
    models: Vec<NcaWeights>,
    /// What happened, by step.
    events: Vec<Event>,
    /// The grid's step at the last recorded frame.
    step: u32,
    /// The grid's rotation at the last frame.
    rotation: f32,
    /// The grid's species' models at the last frame.
    species: Vec<AssetId<NcaModel>>,
}

impl ScenarioRecorder {
    /// The step the recording has reached.
    pub fn step(&self) -> u32 {
        self.step
    }

    /// Events recorded so far.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// The recording as a scenario with its model files (names relative to the scenario, which
    /// finds them beside itself).
    fn to_scenario(&self, path: &std::path::Path) -> Result<(Scenario, Vec<(PathBuf, NcaWeights)>), String> {
        let mut scenario = self.start.clone().ok_or("nothing was recorded")?;
        let files: Vec<(PathBuf, NcaWeights)> =
            self.models.iter().enumerate().map(|(i, weights)| (model_file_for(path, i), weights.clone())).collect();
        let name_of = |i: usize| PathBuf::from(files[i].0.file_name().expect("a file name"));
        for (i, species) in scenario.species.iter_mut().enumerate() {
            species.model = name_of(i);
        }
        let mut next_file = scenario.species.len();
        scenario.events = self.events.clone();
        for event in &mut scenario.events {
            if let Action::SwapModel { model, .. } = &mut event.action {
                *model = name_of(next_file);
                next_file += 1;
            }
        }
        scenario.steps = self.step.max(1);
        scenario.events.retain(|e| e.step <= scenario.steps);
        Ok((scenario, files))
    }

    /// Stops, and gives the recording as [`ScenarioRecorder::to_scenario`] does.
    fn finish(&mut self, path: &std::path::Path) -> Result<(Scenario, Vec<(PathBuf, NcaWeights)>), String> {
        let recording = self.to_scenario(path);
        self.active = false;
        self.start = None;
        self.models.clear();
        self.events.clear();
        recording
    }

    /// Starts over on `grid` as it is now (step 0, about to take its queued edits).
    fn begin(&mut self, name: &str, grid: &CaGrid, kind: crate::model::ModelKind, settings: &SceneSettings) {
        self.start = Some(grid_as_scenario(name, grid, kind, settings));
        self.rotation = grid.rotation_degrees;
        self.species.clear();
        self.models.clear();
        self.events.clear();
        self.step = 0;
    }

    /// Writes down this frame's changes: species added or swapped, a turn of the kernels, the
    /// edits the plan is about to take (at the step they land on), and the steps it will run.
    fn observe(&mut self, grid: &CaGrid, edits: &GridEdits, models: &Assets<NcaModel>) {
        let step = grid.step;
        self.step = step;
        let species: Vec<AssetId<NcaModel>> = grid.species_models().map(Handle::id).collect();
        if species != self.species {
            for (i, id) in species.iter().enumerate() {
                if self.species.get(i) == Some(id) {
                    continue;
                }
                let Some(model) = models.get(*id) else { continue };
                let Some(start) = self.start.as_mut() else { return };
                if i >= start.species.len() {
                    start.species.push(SpeciesSpec { name: format!("species{i}"), model: PathBuf::new(), target: None });
                } else {
                    let name = start.species[i].name.clone();
                    self.events.push(Event { step, action: Action::SwapModel { species: name, model: PathBuf::new() } });
                }
                self.models.push((*model.weights).clone());
            }
            self.species = species;
        }
        if grid.rotation_degrees != self.rotation {
            self.rotation = grid.rotation_degrees;
            self.events.push(Event { step, action: Action::Rotate(grid.rotation_degrees) });
        }
        if !edits.queue.is_empty() {
            self.events.push(Event { step, action: Action::Edits(edits.queue.clone()) });
        }
        self.step = step + grid.single_steps + if grid.paused { 0 } else { grid.steps_per_frame };
    }
}

/// What the panel and the keyboard ask of scenarios.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum ScenarioCommand {
    /// Start recording (the grid starts over, so the recording replays from an empty grid).
    StartRecording,
    /// Stop recording and write the scenario here.
    StopRecording(PathBuf),
    /// Write the current scene (grid, organisms, models) as a scenario here.
    SaveScene(PathBuf),
    /// Start the playing scenario over.
    Restart,
    /// Play the scenario in this file (the panel's picker, a dropped or opened `.ron`).
    Play(PathBuf),
    /// Save what the window shows as a PNG here (in a page: a download of that name).
    Screenshot(PathBuf),
}

/// Where model files of a scene are saved next to a scenario (models that exist only in memory,
/// such as a lesson's, are written beside it).
fn model_file_for(scenario_path: &std::path::Path, species: usize) -> PathBuf {
    let stem = scenario_path.file_stem().and_then(|s| s.to_str()).unwrap_or("scene");
    scenario_path.with_file_name(format!("{stem}.species{species}.safetensors"))
}

/// Plays scenarios, records and saves scenes.
pub struct ScenarioPlugin;

impl Plugin for ScenarioPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ScenarioRecorder>()
            .init_resource::<SceneHistory>()
            .init_resource::<ScenarioStatus>()
            .init_resource::<ScreenGif>()
            .init_resource::<ScenarioOutcome>()
            .add_systems(Last, capture_screen)
            .add_systems(Update, measure_finished_scenario)
            .add_systems(PreUpdate, play_dropped_scenarios)
            .add_message::<ScenarioCommand>()
            .add_message::<PlaylistJump>()
            .add_systems(
                Update,
                (advance_playlist, apply_commands, play_chosen_scenario).in_set(super::SceneSystems::Apply).before(super::apply_commands),
            )
            .add_systems(PostUpdate, (play, record).chain().in_set(SimSystems::Script));
    }
}

/// A finished scenario's living cells per region, named as `metrics.csv` names them, measured
/// by the GPU's own reduction (`shaders/metrics.wgsl`, as `nca scenario run --backend gpu`
/// measures), so a run in the window, or in a page, can be held against a headless one.
#[derive(Resource, Default, Clone, Debug)]
pub struct ScenarioOutcome {
    /// The readback asked for and not yet come, and the names of the regions it sums.
    pending: Option<(u64, Vec<String>)>,
    /// The step the counts were taken at (the scenario's last).
    pub step: u32,
    /// Each region's living cells, in `metrics.csv` order (empty until measured).
    pub alive: Vec<(String, u64)>,
}

fn measure_finished_scenario(
    mut commands: Commands,
    player: Option<Res<ScenarioPlayer>>,
    grids: Query<(Entity, &CaGrid), With<SandboxGrid>>,
    mut snapshots: ResMut<crate::sim::GridSnapshots>,
    mut outcome: ResMut<ScenarioOutcome>,
) {
    let Some(player) = player.filter(|p| !p.abandoned) else { return };
    if !player.finished {
        if outcome.pending.is_some() || !outcome.alive.is_empty() {
            *outcome = ScenarioOutcome::default();
        }
        return;
    }
    let Ok((entity, grid)) = grids.single() else { return };
    match outcome.pending.as_ref().map(|(id, _)| *id) {
        None if outcome.alive.is_empty() => {
            let regions = crate::model::scenario::run::Regions::of(&player.scene);
            let id = crate::sim::readback::next_readback_id();
            commands.entity(entity).insert((
                crate::sim::GridMetricRegions(regions.layout.clone()),
                crate::sim::ReadbackRequest { id: Some(id), kind: crate::sim::ReadbackKind::Metrics },
            ));
            outcome.pending = Some((id, regions.names().map(str::to_string).collect()));
        }
        Some(id) => match snapshots.take_metrics(id) {
            None => {}
            Some(Err(e)) => {
                warn!("the finished scenario's regions could not be measured: {e}");
                outcome.pending = None;
                outcome.alive = vec![("unmeasured".into(), 0)];
            }
            Some(Ok(snapshot)) => {
                let sums = crate::model::scenario::reduce::SlotSums::from_words(&snapshot.words).unwrap_or_default();
                let names = outcome.pending.take().map(|(_, names)| names).unwrap_or_default();
                outcome.step = snapshot.step.min(grid.step);
                outcome.alive = names.into_iter().zip(sums.iter().map(|s| s.alive)).collect();
            }
        },
        None => {}
    }
}

/// What the panel shows about scenarios: the last message (saved, refused, …).
#[derive(Resource, Default, Clone, Debug)]
pub struct ScenarioStatus {
    /// The last outcome, for people.
    pub message: Option<String>,
}

/// Sets the scene up for `player`'s scenario: its grid shape, seed, rotation, background and
/// models, with species 0 made current.
pub fn stage(
    player: &mut ScenarioPlayer,
    settings: &mut SceneSettings,
    digits: &mut super::digits::DigitsSettings,
    models: &mut Assets<NcaModel>,
) -> Handle<NcaModel> {
    let g = &player.scene.scenario.grid;
    settings.grid_shape = Some((g.width, g.height));
    settings.seed = g.seed;
    settings.rotation_degrees = g.rotation;
    settings.dark_background = g.background.iter().sum::<f32>() < 1.5;
    // The scenario places its own digits on a canvas of its size.
    player.digits_before.get_or_insert_with(|| (digits.canvas, digits.start.clone(), digits.start_adversaries));
    digits.canvas = (g.width, g.height);
    digits.start = Some(Vec::new());
    digits.start_adversaries = None;
    player.start_models = player.scene.models.iter().map(|w| models.add(NcaModel::new(w.clone()))).collect();
    let file_name = |p: &std::path::Path| p.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    player.names = (player.start_models.iter().zip(&player.scene.scenario.species).zip(&player.scene.model_paths))
        .map(|((handle, species), path)| (handle.id(), format!("{} ({})", species.name, file_name(path))))
        .collect();
    player.cursor = 0;
    player.last_step = 0;
    player.finished = false;
    player.abandoned = false;
    player.start_models[0].clone()
}

/// Applies the events due at the grid's step and keeps this frame's steps from passing the next.
#[allow(clippy::too_many_arguments)]
fn play(
    player: Option<ResMut<ScenarioPlayer>>,
    mut playback: ResMut<Playback>,
    mut settings: ResMut<SceneSettings>,
    mut digits: ResMut<super::digits::DigitsSettings>,
    mut models: ResMut<Assets<NcaModel>>,
    mut grids: Query<(&mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
    playlist: Option<Res<Playlist>>,
    kiosk: Res<super::kiosk::KioskSettings>,
) {
    let Some(mut player) = player else { return };
    let unattended = playlist.is_some() || kiosk.idle_reset_seconds.is_some();
    let Some((mut grid, mut edits)) = grids.iter_mut().next() else { return };
    if player.start_models.is_empty() || player.abandoned {
        return;
    }
    if settings.model.as_ref().map(Handle::id) != Some(player.start_models[0].id()) {
        if player.cursor > 0 {
            // The person picked another model: the scenario gives the scene back.
            player.abandoned = true;
            settings.grid_shape = None;
            if let Some((canvas, start, adversaries)) = player.digits_before.take() {
                digits.canvas = canvas;
                digits.start = start;
                digits.start_adversaries = adversaries;
            }
            info!("scenario '{}' left: another model was picked", player.scene.scenario.name);
        }
        return;
    }
    let now = grid.step;
    if now < player.last_step || (grid.is_added() && player.cursor > 0) {
        // The scene was reset: the scenario starts over.
        player.cursor = 0;
        player.finished = false;
    }
    player.last_step = now;
    if player.cursor == 0 {
        grid.model = player.start_models[0].clone();
        grid.extra_species = player.start_models[1..].to_vec();
        grid.rotation_degrees = player.scene.scenario.grid.rotation;
        settings.rotation_degrees = grid.rotation_degrees;
    }
    if player.cursor <= now {
        let due: Vec<(u32, Vec<TimelineStep>)> =
            player.scene.timeline.range(player.cursor..=now).map(|(s, steps)| (*s, steps.clone())).collect();
        for (step, steps) in due {
            if step != now {
                warn!("scenario event of step {step} applied late, at step {now}");
            }
            for event in steps {
                match event {
                    TimelineStep::Edits(list) => edits.queue.extend(list),
                    TimelineStep::Swap { species, weights } => {
                        let handle = models.add(NcaModel::new(*weights));
                        let name = player.scene.scenario.species.get(species).map_or("?", |s| s.name.as_str());
                        let name = format!("{name} (swapped at step {step})");
                        player.names.push((handle.id(), name));
                        match species {
                            0 => grid.model = handle,
                            i => {
                                if let Some(slot) = grid.extra_species.get_mut(i - 1) {
                                    *slot = handle;
                                }
                            }
                        }
                    }
                    TimelineStep::Rotate(degrees) => {
                        grid.rotation_degrees = degrees;
                        settings.rotation_degrees = degrees;
                    }
                    TimelineStep::Snapshot(name) if unattended => info!("scenario snapshot '{name}' at step {now}"),
                    TimelineStep::Snapshot(name) => {
                        // A person at the panel gets a pause to look; an installation plays on,
                        // since nobody would press Play.
                        info!("scenario snapshot '{name}' at step {now}: paused");
                        playback.paused = true;
                    }
                    TimelineStep::Relabel { .. } => {}
                }
            }
        }
        player.cursor = now + 1;
    }
    let end = player.end();
    let next = player.scene.timeline.range(now + 1..).next().map_or(end, |(s, _)| (*s).min(end));
    if now >= end {
        grid.single_steps = 0;
        if !player.finished {
            player.finished = true;
            playback.paused = true;
            info!("scenario '{}' finished at step {end}", player.scene.scenario.name);
        }
    } else if now + grid.single_steps > next {
        grid.single_steps = next - now;
    }
}

/// Everything done to the sandbox grid since it last started over, always written down: what
/// Save scene writes when no scenario plays, so the saved file replays to the scene as it is.
/// A history that grew past its bounds (a very long session) is given up until the next reset.
#[derive(Resource, Default)]
pub struct SceneHistory {
    recorder: ScenarioRecorder,
    /// The grid's step last frame (a smaller one means it started over).
    last_step: u32,
    /// Size and kind the history was started for.
    started_for: Option<(u32, u32, crate::model::ModelKind)>,
    /// Why the history cannot replay the scene, if it cannot.
    given_up: Option<String>,
}

/// Most edit events a scene history keeps.
const HISTORY_MAX_EVENTS: usize = 20_000;
/// Most model versions a scene history keeps (a lesson swaps weights in every few seconds).
const HISTORY_MAX_MODELS: usize = 64;

impl SceneHistory {
    fn observe(
        &mut self,
        grid: &CaGrid,
        edits: &GridEdits,
        kind: crate::model::ModelKind,
        settings: &SceneSettings,
        models: &Assets<NcaModel>,
    ) {
        let reset = grid.step == 0 && edits.queue.contains(&Edit::Clear);
        let other_grid = self.started_for != Some((grid.width, grid.height, kind));
        if reset || other_grid || grid.step < self.last_step {
            self.recorder.begin("Saved from the window", grid, kind, settings);
            self.started_for = Some((grid.width, grid.height, kind));
            self.given_up = None;
            if !reset {
                // A fresh grid is made empty and takes its kind's start edits in the plan, after
                // this system; a replay starts the same way.
                if grid.step == 0 {
                    let mut start = vec![Edit::Clear];
                    start.extend(kind.start_edits(grid.width, grid.height));
                    self.recorder.events.push(Event { step: 0, action: Action::Edits(start) });
                } else {
                    self.given_up = Some("the scene's start was not seen".into());
                }
            }
        }
        self.last_step = grid.step;
        if self.given_up.is_some() {
            return;
        }
        self.recorder.observe(grid, edits, models);
        if self.recorder.events.len() > HISTORY_MAX_EVENTS || self.recorder.models.len() > HISTORY_MAX_MODELS {
            self.given_up = Some("too much happened since the last reset to replay it".into());
            self.recorder.events.clear();
            self.recorder.models.clear();
        }
    }
}

/// Writes down the edits the plan is about to take, with the step they land on: into the
/// recording (Record), and into the scene's history.
fn record(
    mut recorder: ResMut<ScenarioRecorder>,
    mut history: ResMut<SceneHistory>,
    settings: Res<SceneSettings>,
    models: Res<Assets<NcaModel>>,
    grids: Query<(&CaGrid, &GridEdits), With<SandboxGrid>>,
) {
    let Some((grid, edits)) = grids.iter().next() else { return };
    let Some(kind) = grid.kind(&models) else { return };
    history.observe(grid, edits, kind, &settings, &models);
    if !recorder.active {
        return;
    }
    if recorder.starting {
        // The reset that starts a recording has landed when the step is back at 0 and its
        // clear is queued.
        if grid.step != 0 || !edits.queue.contains(&Edit::Clear) {
            return;
        }
        recorder.starting = false;
        recorder.begin("Recorded in the window", grid, kind, &settings);
    }
    recorder.observe(grid, edits, &models);
}

/// A scenario of the grid as it is (size, seed, background, rotation) with nothing on it yet.
fn grid_as_scenario(name: &str, grid: &CaGrid, kind: crate::model::ModelKind, settings: &SceneSettings) -> Scenario {
    let background = if settings.dark_background { crate::sim::display::DARK_BACKGROUND } else { crate::sim::display::LIGHT_BACKGROUND };
    Scenario {
        version: SCENARIO_VERSION,
        name: name.into(),
        description: String::new(),
        grid: GridSpec {
            kind: Some(kind),
            width: grid.width,
            height: grid.height,
            seed: grid.seed,
            background,
            rotation: grid.rotation_degrees,
        },
        species: Vec::new(),
        organisms: Vec::new(),
        digits: Vec::new(),
        steps: 1,
        events: Vec::new(),
        record: RecordSpec::default(),
    }
}

/// Saves a scenario and its models; the message for the panel.
fn save_with_models(path: &std::path::Path, scenario: &Scenario, files: &[(PathBuf, NcaWeights)]) -> Result<String, String> {
    for (file, weights) in files {
        weights.save(file).map_err(|e| e.to_string())?;
    }
    scenario.save(path)?;
    Ok(format!(
        "saved {} ({} events, {} steps, {} model files beside it)",
        path.display(),
        scenario.events.len(),
        scenario.steps,
        files.len()
    ))
}

/// Recording, saving and restarting.
#[allow(clippy::too_many_arguments)]
fn apply_commands(
    mut commands: Commands,
    mut messages: MessageReader<ScenarioCommand>,
    mut recorder: ResMut<ScenarioRecorder>,
    mut status: ResMut<ScenarioStatus>,
    settings: Res<SceneSettings>,
    player: Option<Res<ScenarioPlayer>>,
    history: Res<SceneHistory>,
    models: Res<Assets<NcaModel>>,
    mut scene_commands: MessageWriter<super::SceneCommand>,
    mut grids: Query<(&mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
) {
    for message in messages.read() {
        let outcome = match message {
            ScenarioCommand::StartRecording => match grids.iter_mut().next() {
                None => Err("there is no grid to record yet".to_string()),
                Some((mut grid, mut edits)) => {
                    // From step 0 and a cleared grid (a canvas starts empty), so the replay, which
                    // starts there too, meets the same fire hash at every step.
                    super::reset(&mut grid, &mut edits, &models);
                    recorder.active = true;
                    recorder.starting = true;
                    Ok("recording: the grid started over; everything you do is written with its step".to_string())
                }
            },
            ScenarioCommand::StopRecording(path) => {
                recorder.finish(path).and_then(|(scenario, files)| save_with_models(path, &scenario, &files))
            }
            ScenarioCommand::SaveScene(path) => match grids.iter().next() {
                None => Err("there is no grid to save yet".to_string()),
                Some((grid, _)) => scene_as_scenario(grid, &settings, player.as_deref(), &history, &models, path)
                    .and_then(|(scenario, files)| save_with_models(path, &scenario, &files)),
            },
            ScenarioCommand::Restart => {
                scene_commands.write(super::SceneCommand::Reset);
                Ok("the scenario starts over".to_string())
            }
            ScenarioCommand::Play(_) => continue,
            ScenarioCommand::Screenshot(path) => {
                commands
                    .spawn(bevy::render::view::screenshot::Screenshot::primary_window())
                    .observe(bevy::render::view::screenshot::save_to_disk(path.clone()));
                Ok(format!("screenshot saved as {}", path.display()))
            }
        };
        match outcome {
            Ok(message) => {
                info!("{message}");
                status.message = Some(message);
            }
            Err(e) => {
                error!("scenario: {e}");
                status.message = Some(format!("not saved: {e}"));
            }
        }
    }
}

/// The scene as it is: the playing scenario if there is one (its events and all), otherwise the
/// scene's history since it last started over (which replays to the scene as it is now), or,
/// where that history was given up, the grid, its species' models and the organism every fresh
/// grid of the kind starts with.
fn scene_as_scenario(
    grid: &CaGrid,
    settings: &SceneSettings,
    player: Option<&ScenarioPlayer>,
    history: &SceneHistory,
    models: &Assets<NcaModel>,
    path: &std::path::Path,
) -> Result<(Scenario, Vec<(PathBuf, NcaWeights)>), String> {
    if player.is_none_or(|p| p.abandoned) {
        match &history.given_up {
            None => return history.recorder.to_scenario(path),
            Some(why) => warn!("Save scene: {why}; the grid, its models and its start are saved instead"),
        }
    }
    let weights: Vec<NcaWeights> = grid
        .species_models()
        .map(|h| models.get(h).map(|m| (*m.weights).clone()).ok_or("a species' model has not loaded"))
        .collect::<Result<_, _>>()?;
    let files: Vec<(PathBuf, NcaWeights)> = weights.into_iter().enumerate().map(|(i, w)| (model_file_for(path, i), w)).collect();
    let file_name = |i: usize| PathBuf::from(files[i].0.file_name().expect("a file name"));
    if let Some(player) = player.filter(|p| !p.abandoned) {
        let mut scenario = player.scene.scenario.clone();
        for (i, species) in scenario.species.iter_mut().enumerate().take(files.len()) {
            species.model = file_name(i);
        }
        // Swaps name their files relative to the original scenario's folder.
        let base = player.source.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        for event in &mut scenario.events {
            if let Action::SwapModel { model, .. } = &mut event.action {
                *model = crate::model::scenario::resolve(&base, model).and_then(|p| std::path::absolute(p).map_err(|e| e.to_string()))?;
            }
        }
        return Ok((scenario, files));
    }
    let kind = models.get(&grid.model).map(|m| m.weights.kind()).ok_or("the model has not loaded")?;
    let mut scenario = grid_as_scenario("Saved from the window", grid, kind, settings);
    scenario.species = (0..files.len()).map(|i| SpeciesSpec { name: format!("species{i}"), model: file_name(i), target: None }).collect();
    if kind == crate::model::ModelKind::Growing {
        let (x, y) = grid.center();
        scenario.organisms = vec![crate::model::scenario::Organism { species: "species0".into(), at: [x, y], name: None }];
    }
    scenario.steps = grid.step.max(1);
    Ok((scenario, files))
}

/// A kiosk's scenarios, played in turn (`nca run --kiosk --playlist DIR`).
#[derive(Resource, Clone, Debug)]
pub struct Playlist {
    /// The scenarios, read and checked, in file-name order.
    pub items: Vec<(std::sync::Arc<LoadedScenario>, PathBuf)>,
    /// The one playing.
    pub index: usize,
    /// Seconds a finished scenario stays on screen before the next starts.
    pub hold_seconds: f32,
    /// Seconds since the playing one finished.
    held: f32,
}

impl Playlist {
    /// A playlist of `items`, starting with the first.
    pub fn new(items: Vec<(std::sync::Arc<LoadedScenario>, PathBuf)>) -> Self {
        Self { items, index: 0, hold_seconds: 5.0, held: 0.0 }
    }
}

/// Reads every `.ron` scenario of `dir`, in name order. A file that cannot be played is left
/// out with its reason in the log, and the show plays the rest: an exhibit should not go dark
/// at opening time because one file of its folder is broken. Only a folder with nothing
/// playable is an error.
pub fn read_playlist(dir: &std::path::Path) -> Result<Playlist, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("--playlist {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "ron")).collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("--playlist {}: no .ron scenario files in it", dir.display()));
    }
    let (items, skipped) = load_playable(files);
    for reason in &skipped {
        // Bevy's log is not up yet: stderr is the kiosk's log either way.
        eprintln!("playlist: skipped {reason}");
    }
    if items.is_empty() {
        return Err(format!(
            "--playlist {}: none of its {} scenarios can be played ({})",
            dir.display(),
            skipped.len(),
            skipped.join("; ")
        ));
    }
    Ok(Playlist::new(items))
}

/// The scenarios of `files` that load, and for each one that does not, its reason.
fn load_playable(files: Vec<PathBuf>) -> (Vec<(std::sync::Arc<LoadedScenario>, PathBuf)>, Vec<String>) {
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        match LoadedScenario::load(&file) {
            Ok(scene) => items.push((std::sync::Arc::new(scene), file)),
            Err(reason) => skipped.push(reason),
        }
    }
    (items, skipped)
}

/// Moves a playlist by this many scenarios at once (the operator's next and previous, and the
/// exhibit supervisor's `next`/`previous`).
#[derive(Message, Clone, Copy, Debug)]
pub struct PlaylistJump(pub i32);

/// Starts the next scenario of the playlist once the playing one has finished, been shown for a
/// while, and nobody is touching the screen; or another at once when asked to jump.
#[allow(clippy::too_many_arguments)]
fn advance_playlist(
    time: Res<Time<Real>>,
    playlist: Option<ResMut<Playlist>>,
    player: Option<ResMut<ScenarioPlayer>>,
    idle: Res<super::kiosk::KioskIdle>,
    mut jumps: MessageReader<PlaylistJump>,
    mut playback: ResMut<Playback>,
    mut settings: ResMut<SceneSettings>,
    mut digits: ResMut<super::digits::DigitsSettings>,
    mut models: ResMut<Assets<NcaModel>>,
    mut scene_commands: MessageWriter<super::SceneCommand>,
) {
    let jump: i32 = jumps.read().map(|j| j.0).sum();
    let (Some(mut playlist), Some(mut player)) = (playlist, player) else { return };
    let len = playlist.items.len() as i32;
    if jump == 0 {
        if !player.finished || idle.seconds < playlist.hold_seconds {
            playlist.held = 0.0;
            return;
        }
        playlist.held += time.delta_secs();
        if playlist.held < playlist.hold_seconds {
            return;
        }
    }
    playlist.held = 0.0;
    playlist.index = (playlist.index as i32 + if jump == 0 { 1 } else { jump }).rem_euclid(len) as usize;
    let (scene, path) = playlist.items[playlist.index].clone();
    info!("playlist: scenario {} of {}: {}", playlist.index + 1, len, path.display());
    // What the scene was before the first scenario is what leaving the playlist gives back.
    let before = player.digits_before.take();
    *player = ScenarioPlayer::new((*scene).clone(), path);
    player.digits_before = before;
    let first = stage(&mut player, &mut settings, &mut digits, &mut models);
    playback.paused = false;
    scene_commands.write(super::SceneCommand::SetModel(first));
}

/// Whether `path` names a scenario file.
pub fn is_scenario_file(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ron"))
}

/// A dropped `.ron` (natively, or opened in a page) is played.
fn play_dropped_scenarios(mut drops: MessageReader<bevy::window::FileDragAndDrop>, mut commands: MessageWriter<ScenarioCommand>) {
    for drop in drops.read() {
        if let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = drop
            && is_scenario_file(path_buf)
        {
            commands.write(ScenarioCommand::Play(path_buf.clone()));
        }
    }
}

/// Plays a scenario file: read whole and checked first, refused in the panel with its reason.
#[allow(clippy::too_many_arguments)]
fn play_chosen_scenario(
    mut messages: MessageReader<ScenarioCommand>,
    mut commands: Commands,
    mut status: ResMut<ScenarioStatus>,
    mut playback: ResMut<Playback>,
    mut settings: ResMut<SceneSettings>,
    mut digits: ResMut<super::digits::DigitsSettings>,
    mut models: ResMut<Assets<NcaModel>>,
    mut scene_commands: MessageWriter<super::SceneCommand>,
) {
    for message in messages.read() {
        let ScenarioCommand::Play(path) = message else { continue };
        match crate::model::scenario::LoadedScenario::load(path) {
            Err(e) => {
                error!("scenario: {e}");
                status.message = Some(format!("cannot play {}: {e}", path.display()));
            }
            Ok(scene) => {
                let mut player = ScenarioPlayer::new(scene, path.clone());
                let first = stage(&mut player, &mut settings, &mut digits, &mut models);
                commands.insert_resource(player);
                playback.paused = false;
                settings.model = Some(first.clone());
                scene_commands.write(super::SceneCommand::SetModel(first));
                status.message = Some(format!("playing {}", path.display()));
            }
        }
    }
}

/// Record GIF: what is on screen, every few frames, into an animated GIF.
#[derive(Resource)]
pub struct ScreenGif {
    /// Capturing now.
    pub active: bool,
    /// A screenshot every this many frames.
    pub every_frames: u32,
    /// Most frames kept (about 4 MB each at full size before halving; the recording stops there).
    pub max_frames: usize,
    /// Frames captured so far, halved in size.
    frames: std::sync::Arc<std::sync::Mutex<Vec<image::RgbaImage>>>,
    since: u32,
    /// Where the GIF goes when capturing stops.
    pub out: PathBuf,
    /// The thread writing the last recording.
    writing: Option<std::thread::JoinHandle<()>>,
}

impl Default for ScreenGif {
    fn default() -> Self {
        Self {
            active: false,
            every_frames: 4,
            max_frames: 300,
            frames: Default::default(),
            since: 0,
            out: PathBuf::from("recordings/screen.gif"),
            writing: None,
        }
    }
}

impl ScreenGif {
    /// Whether a stopped recording is still being written.
    pub fn is_writing(&self) -> bool {
        self.writing.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Frames captured so far.
    pub fn frame_count(&self) -> usize {
        self.frames.lock().map_or(0, |f| f.len())
    }

    /// Starts capturing into a fresh GIF at `out`.
    pub fn start(&mut self, out: PathBuf) {
        if let Ok(mut frames) = self.frames.lock() {
            frames.clear();
        }
        self.out = out;
        self.since = 0;
        self.active = true;
    }

    /// Stops and writes the GIF on a thread of its own (quantising takes a while); the result
    /// goes to the log.
    pub fn stop(&mut self) -> String {
        self.active = false;
        let frames = std::mem::take(&mut *self.frames.lock().expect("not poisoned"));
        let out = self.out.clone();
        let count = frames.len();
        let write = move || {
            let result = crate::model::scenario::output::encode_gif(&frames, 8)
                .and_then(|bytes| crate::model::weights::write_atomically(&out, &bytes).map_err(|e| e.to_string()));
            match result {
                Ok(()) => info!("screen recording: {} frames written to {}", frames.len(), out.display()),
                Err(e) => error!("screen recording not written: {e}"),
            }
        };
        if crate::platform::THREADS {
            self.writing = Some(std::thread::spawn(write));
        } else {
            // A page has one thread: the frame waits while the GIF is encoded (and downloaded).
            write();
        }
        format!("writing {count} frames to {}", self.out.display())
    }
}

/// Takes a screenshot every few frames while a screen GIF is recording.
fn capture_screen(mut gif: ResMut<ScreenGif>, mut commands: Commands) {
    if !gif.active {
        return;
    }
    if gif.frame_count() >= gif.max_frames {
        gif.active = false;
        info!("screen recording full ({} frames): press Stop to write it", gif.max_frames);
        return;
    }
    gif.since += 1;
    if gif.since < gif.every_frames {
        return;
    }
    gif.since = 0;
    let frames = gif.frames.clone();
    commands.spawn(bevy::render::view::screenshot::Screenshot::primary_window()).observe(
        move |captured: On<bevy::render::view::screenshot::ScreenshotCaptured>| {
            let Ok(picture) = captured.image.clone().try_into_dynamic() else { return };
            let half = picture.resize(picture.width() / 2, picture.height() / 2, image::imageops::FilterType::Triangle).to_rgba8();
            if let Ok(mut frames) = frames.lock() {
                // Frames must share a size; a window resized mid-recording starts a new size.
                if frames.first().is_none_or(|f| f.dimensions() == half.dimensions()) {
                    frames.push(half);
                }
            }
        },
    );
}
