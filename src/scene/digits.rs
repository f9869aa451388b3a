//! The digits scene: an MNIST canvas where people write, erase, mutate and splice digits, watch
//! each digit's cells vote, and let adversaries hijack the vote.
//!
//! Everything here becomes ordinary grid edits (`PlaceImage`, `Draw`, `PaintSpecies`, …) that
//! the GPU applies before the frame's steps, so a digit button is exactly the paper's mutation:
//! grey replaced, hidden state kept where the new grey is alive. What the cells think comes
//! back as label words through the [`GridFeed`], and [`digits::regions`] turns them into
//! separate digits with their votes.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::{FileDragAndDrop, PrimaryWindow};

use super::feed::GridFeed;
use super::kiosk::{KioskIdle, KioskSettings};
use super::{SandboxGrid, SceneSettings, SceneSystems};
use crate::input::{PointerInput, PointerPhase, world_to_cell};
use crate::library::ModelLibrary;
use crate::model::ModelKind;
use crate::model::digits::{self, CHIMERAS, DigitRegion, SIDE, SampleDigits};
use crate::model::grid::Edit;
use crate::model::kind::{LABEL_ALIVE, LABEL_SPECIES_SHIFT};
use crate::model::mnist::CLASSES;
use crate::sim::{CaGrid, GridEdits, NcaModel};

/// Canvas sizes the panel offers (width × height, cells).
pub const CANVAS_SIZES: [(u32, u32); 5] = [(64, 64), (96, 64), (160, 64), (224, 96), (320, 128)];

/// Scales a placed digit can take (the paper: cells cope with sizes they were not trained on).
pub const SCALES: [f32; 3] = [1.0, 1.5, 2.0];

pub use crate::model::digits::default_samples_path;

/// A digit to put on the canvas.
#[derive(Clone, Debug, PartialEq)]
pub enum DigitSource {
    /// A bundled sample of a class: the given one, or the next one after the last placed.
    Sample {
        /// The class.
        class: usize,
        /// Which sample (`None`: the next).
        index: Option<usize>,
    },
    /// A 28×28 grey picture (a dropped PNG).
    Picture(Vec<u8>),
    /// The paper's chimera: the upper rows of one class's next sample over another's lower rows.
    Chimera {
        /// Class of the upper part.
        upper: usize,
        /// Class of the lower part.
        lower: usize,
        /// First row taken from the lower digit (`None`: the settings' split row).
        split: Option<usize>,
    },
    /// One class's sample with another's laid over it at the settings' offset.
    Overlay {
        /// The digit underneath.
        base: usize,
        /// The digit on top.
        over: usize,
    },
}

/// What the panel, the command line, the kiosk and tests ask of the digits scene.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum DigitCommand {
    /// Put a digit on the canvas, at the settings' scale, centred on `at` (cells) or, if
    /// `None`, on the digit under the pointer, the pointer, or the canvas centre.
    Place {
        /// What.
        source: DigitSource,
        /// Where.
        at: Option<[f32; 2]>,
    },
    /// The same digits with a zeroed state (and every cell back to the base model).
    ResetState,
    /// Empty the canvas.
    Clear,
    /// Turn this share (0–1) of the alive cells of the digit under the pointer (or of every
    /// digit) into adversaries.
    Sprinkle {
        /// Share of each digit's alive cells.
        fraction: f32,
        /// Every digit, not only the one under the pointer.
        everywhere: bool,
    },
    /// Hand every cell back to the base model.
    RemoveAdversaries,
}

/// The digits scene's settings.
#[derive(Resource, Clone, Debug)]
pub struct DigitsSettings {
    /// Canvas width and height in cells.
    pub canvas: (u32, u32),
    /// Scale of placed digits.
    pub scale: f32,
    /// The chimera's split row (the first row from the lower digit).
    pub split_row: usize,
    /// The two classes of the free composition (chimera or overlay).
    pub compose: [usize; 2],
    /// Offset of the overlaid digit, in its pixels.
    pub overlay_offset: [i32; 2],
    /// The sprinkle's share of alive cells, in percent (1–20).
    pub sprinkle_percent: f32,
    /// The adversary model (`None`: the first model in the library whose name says adversary).
    pub adversary: Option<Handle<NcaModel>>,
    /// Show each digit's votes beside it.
    pub show_readout: bool,
    /// Groups of fewer living cells are specks, not digits.
    pub min_digit_cells: usize,
    /// The bundled samples.
    pub samples_path: PathBuf,
    /// What a fresh canvas starts with (`nca run --digit/--chimera`), each digit at a cell or
    /// spread across the canvas; `None`: one sample digit in the middle.
    pub start: Option<Vec<(DigitSource, Option<[f32; 2]>)>>,
    /// Sprinkle adversaries over every digit at the start (`--adversaries`), as a share.
    pub start_adversaries: Option<f32>,
    /// Seconds between two self-play moves of a kiosk.
    pub self_play_interval: f32,
}

impl Default for DigitsSettings {
    fn default() -> Self {
        Self {
            canvas: (160, 64),
            scale: 1.0,
            split_row: SIDE / 2,
            compose: [3, 5],
            overlay_offset: [6, 0],
            sprinkle_percent: 10.0,
            adversary: None,
            show_readout: true,
            min_digit_cells: 12,
            samples_path: default_samples_path(),
            start: None,
            start_adversaries: None,
            self_play_interval: 4.0,
        }
    }
}

/// One separate digit and what its cells think.
#[derive(Clone, Debug, PartialEq)]
pub struct DigitReadout {
    /// Its cells and votes.
    pub region: DigitRegion,
    /// The step at which its shape (its set of living cells) last changed.
    pub shape_since: u32,
}

/// What the digits scene knows now.
#[derive(Resource, Debug, Default)]
pub struct DigitsState {
    /// The bundled samples, or why they could not be read (`None`: not tried yet).
    pub samples: Option<Result<SampleDigits, String>>,
    /// The next sample of each class a digit button places.
    pub next_sample: [usize; CLASSES],
    /// The last canvas cell the pointer pressed or hovered.
    pub focus: Option<Vec2>,
    /// Every separate digit, largest first, from the latest labels.
    pub readout: Vec<DigitReadout>,
    /// The step of those labels.
    pub readout_step: u32,
    /// The feed request those labels answered.
    pub readout_number: u64,
    /// Living cells run by another species than 0 (row-major indices), for the markers.
    pub adversary_cells: Vec<u32>,
    /// Whether the kiosk is playing by itself.
    pub self_playing: bool,
    /// The canvas a start was made for: grid, size and model.
    started: Option<(Entity, (u32, u32), AssetId<NcaModel>)>,
    /// Sprinkles waiting for labels read after they were asked for.
    pending_sprinkles: Vec<(u64, f32, bool)>,
    /// A reset waiting for the state read after it was asked for.
    pending_reset: Option<u64>,
    /// Sprinkles made so far: each one picks other cells.
    sprinkles: u32,
    self_play_beat: u32,
    self_play_clock: f32,
}

impl DigitsState {
    /// The readout of the digit whose bounds (one cell around) contain `cell`.
    pub fn digit_at(&self, cell: Vec2) -> Option<&DigitReadout> {
        self.readout.iter().find(|d| near(&d.region, cell))
    }
}

/// Whether `cell` lies in a digit's bounds or the ring of cells around them.
fn near(region: &DigitRegion, cell: Vec2) -> bool {
    let [x0, y0, x1, y1] = region.bounds.map(|v| v as f32);
    cell.x >= x0 - 1.0 && cell.y >= y0 - 1.0 && cell.x < x1 + 2.0 && cell.y < y1 + 2.0
}

/// System sets of the digits scene, in `Update` (inside [`SceneSystems::Apply`]).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum DigitsSystems {
    /// Samples load, the canvas starts, commands become edits, labels become the read-out.
    Apply,
}

/// The digits scene.
pub struct DigitsPlugin;

impl Plugin for DigitsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<DigitsSettings>()
            .init_resource::<DigitsState>()
            .add_message::<DigitCommand>()
            .configure_sets(Update, DigitsSystems::Apply.in_set(SceneSystems::Apply).after(super::sync_grid))
            .add_systems(
                Update,
                (load_samples, track_focus, accept_dropped_pictures, self_play, start_canvas, apply_digit_commands, follow_feed)
                    .chain()
                    .in_set(DigitsSystems::Apply),
            );
    }
}

/// The sandbox grid if it runs an MNIST model.
fn mnist_grid<'a>(
    grids: &'a mut Query<(Entity, &mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
    models: &Assets<NcaModel>,
) -> Option<(Entity, Mut<'a, CaGrid>, Mut<'a, GridEdits>)> {
    let (entity, grid, edits) = grids.iter_mut().next()?;
    (grid.kind(models) == Some(ModelKind::Mnist)).then_some((entity, grid, edits))
}

fn load_samples(settings: Res<DigitsSettings>, mut state: ResMut<DigitsState>, mut library: ResMut<ModelLibrary>) {
    if state.samples.is_some() {
        return;
    }
    let loaded = SampleDigits::load(&settings.samples_path).map_err(|e| e.to_string());
    if let Err(e) = &loaded {
        library.error(format!("the sample digits did not load, so the digit buttons are off: {e}"));
    }
    state.samples = Some(loaded);
}

/// Remembers where on the canvas the pointer last pressed or hovered: digit buttons act there.
fn track_focus(
    mut inputs: MessageReader<PointerInput>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    grids: Query<(&CaGrid, &GlobalTransform), With<SandboxGrid>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut state: ResMut<DigitsState>,
) {
    let Some((grid, transform)) = grids.iter().next() else { return };
    let focus = |world: Vec2, state: &mut DigitsState| {
        let cell = world_to_cell(grid, transform, world);
        if grid.contains(cell) {
            state.focus = Some(cell);
        }
    };
    for input in inputs.read() {
        if input.phase != PointerPhase::Released {
            focus(input.world, &mut state);
        }
    }
    let over_panel = egui.is_some_and(|e| e.wants_any_pointer_input());
    if let (Ok(window), Some((camera, camera_transform))) = (windows.single(), cameras.iter().next())
        && !over_panel
        && let Some(world) = window.cursor_position().and_then(|p| camera.viewport_to_world_2d(camera_transform, p).ok())
    {
        focus(world, &mut state);
    }
}

/// A 28×28 PNG dropped on the window becomes a digit under the pointer.
fn accept_dropped_pictures(
    mut drops: MessageReader<FileDragAndDrop>,
    mut library: ResMut<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
    mut commands: MessageWriter<DigitCommand>,
) {
    for drop in drops.read() {
        let FileDragAndDrop::DroppedFile { path_buf, .. } = drop else { continue };
        if !crate::library::is_picture_file(path_buf) {
            continue;
        }
        let on_canvas = grids.iter().next().and_then(|g| g.kind(&models)) == Some(ModelKind::Mnist);
        if !on_canvas {
            // A growing grid's teach panel takes the picture as what to become.
            continue;
        }
        match digit_picture(path_buf) {
            Ok(pixels) => {
                commands.write(DigitCommand::Place { source: DigitSource::Picture(pixels), at: None });
            }
            Err(e) => library.error(e),
        }
    }
}

/// Reads a picture of one digit: 28×28, any colour type; a light background is inverted so the
/// strokes are bright, as in MNIST (the same reading as `nca run --digit-image`).
pub fn digit_picture(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let (width, height, grey) = crate::model::mnist::grey_picture(path).map_err(|e| e.to_string())?;
    if (width, height) != (SIDE, SIDE) {
        return Err(format!("{}: a digit picture is {SIDE}×{SIDE} pixels, as MNIST's; this one is {width}×{height}", path.display()));
    }
    Ok(grey.iter().map(|&g| (g.clamp(0.0, 1.0) * 255.0).round() as u8).collect())
}

/// Gives a fresh canvas (a new grid, a resize, another model) its starting digits.
#[allow(clippy::too_many_arguments)]
fn start_canvas(
    settings: Res<DigitsSettings>,
    scene: Res<SceneSettings>,
    mut state: ResMut<DigitsState>,
    mut feed: ResMut<GridFeed>,
    models: Res<Assets<NcaModel>>,
    mut grids: Query<(Entity, &mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
    tools: Option<ResMut<crate::input::ToolSettings>>,
    mut commands: MessageWriter<DigitCommand>,
) {
    let Some((entity, grid, _)) = mnist_grid(&mut grids, &models) else { return };
    // The person's model, not the grid's handle: a lesson swaps its own copy of the model into
    // the grid, and that must not start the canvas over under the person's writing.
    let Some(model) = scene.model.as_ref().map(Handle::id) else { return };
    let key = (entity, (grid.width, grid.height), model);
    if state.started == Some(key) || (grid.width, grid.height) != settings.canvas {
        return;
    }
    state.started = Some(key);
    // On a canvas a touch writes: a visitor's finger draws rather than erases.
    if let Some(mut tools) = tools
        && matches!(tools.tool, crate::input::Tool::Erase | crate::input::Tool::Seed)
    {
        tools.tool = crate::input::Tool::Draw;
    }
    state.readout.clear();
    state.adversary_cells.clear();
    feed.forget();
    for command in start_commands(&settings, grid.width) {
        commands.write(command);
    }
}

/// The commands that set up a fresh canvas: the start digits spread across it (one sample
/// digit in the middle by default), then the start sprinkle.
pub fn start_commands(settings: &DigitsSettings, width: u32) -> Vec<DigitCommand> {
    let default = [(DigitSource::Sample { class: 3, index: Some(0) }, None)];
    let sources = settings.start.as_deref().unwrap_or(&default);
    let spread = sources.iter().filter(|(_, at)| at.is_none()).count().max(1);
    let mut next_slot = 0;
    let mut out: Vec<DigitCommand> = sources
        .iter()
        .map(|(source, at)| {
            let at = at.unwrap_or_else(|| {
                next_slot += 1;
                [(next_slot as f32 - 0.5) * width as f32 / spread as f32, f32::NAN]
            });
            DigitCommand::Place { source: source.clone(), at: Some(at) }
        })
        .collect();
    if let Some(fraction) = settings.start_adversaries {
        out.push(DigitCommand::Sprinkle { fraction, everywhere: true });
    }
    out
}

/// The 28×28 pixels of a source, or why there are none.
fn source_pixels(source: &DigitSource, settings: &DigitsSettings, state: &mut DigitsState) -> Result<Vec<u8>, String> {
    if let DigitSource::Picture(pixels) = source {
        return Ok(pixels.clone());
    }
    let samples = match &state.samples {
        Some(Ok(samples)) => samples,
        Some(Err(e)) => return Err(format!("no sample digits: {e}")),
        None => return Err("the sample digits are not loaded yet".into()),
    };
    let next = |state_next: &mut [usize; CLASSES], class: usize| {
        let k = state_next[class % CLASSES];
        state_next[class % CLASSES] = k + 1;
        k
    };
    let mut counters = state.next_sample;
    let pixels = match *source {
        DigitSource::Sample { class, index } => {
            let k = index.unwrap_or_else(|| next(&mut counters, class));
            samples.get(class, k).to_vec()
        }
        DigitSource::Chimera { upper, lower, split } => {
            let (a, b) = (next(&mut counters, upper), next(&mut counters, lower));
            digits::chimera(samples.get(upper, a), samples.get(lower, b), split.unwrap_or(settings.split_row).min(SIDE))
        }
        DigitSource::Overlay { base, over } => {
            let (a, b) = (next(&mut counters, base), next(&mut counters, over));
            digits::overlay(samples.get(base, a), samples.get(over, b), settings.overlay_offset)
        }
        DigitSource::Picture(_) => unreachable!("handled above"),
    };
    state.next_sample = counters;
    Ok(pixels)
}

/// Where a placement without coordinates goes: on the digit under the pointer, else the
/// pointer, else the canvas centre. A NaN coordinate means "centred on that axis".
fn placement_center(at: Option<[f32; 2]>, state: &DigitsState, grid: &CaGrid) -> [f32; 2] {
    let center = [grid.width as f32 / 2.0, grid.height as f32 / 2.0];
    let [x, y] = match at {
        Some(at) => at,
        None => match state.focus {
            Some(focus) => match state.digit_at(focus) {
                Some(d) => {
                    let [x0, y0, x1, y1] = d.region.bounds;
                    [(x0 + x1 + 1) as f32 / 2.0, (y0 + y1 + 1) as f32 / 2.0]
                }
                None => focus.to_array(),
            },
            None => center,
        },
    };
    [if x.is_finite() { x } else { center[0] }, if y.is_finite() { y } else { center[1] }]
}

/// The adversary's species id in `grid` (joining it if needed), `None` while its model is
/// still loading, or why there is none.
fn adversary_species(
    grid: &mut CaGrid,
    settings: &DigitsSettings,
    library: &ModelLibrary,
    models: &Assets<NcaModel>,
    server: &AssetServer,
) -> Result<Option<u32>, String> {
    let model = settings.adversary.clone().or_else(|| default_adversary(library, models));
    let Some(model) = model else {
        return Err("no adversary model: open one (trained/mnist_adversary.safetensors) or pick it in the panel".into());
    };
    match models.get(&model).map(|m| m.weights.kind()) {
        Some(ModelKind::Mnist) => Ok(Some(grid.species_of(&model))),
        Some(other) => Err(format!("the adversary must be an MNIST model, not a {other} one")),
        None if server.load_state(&model).is_failed() => Err("the adversary model did not load (see above)".into()),
        None => Ok(None),
    }
}

/// The first loaded MNIST model in the library whose file name says "adversary".
pub fn default_adversary(library: &ModelLibrary, models: &Assets<NcaModel>) -> Option<Handle<NcaModel>> {
    library
        .entries
        .iter()
        .filter(|e| e.name.to_lowercase().contains("adversar"))
        .find(|e| models.get(&e.handle).is_some_and(|m| m.weights.kind() == ModelKind::Mnist))
        .map(|e| e.handle.clone())
}

#[allow(clippy::too_many_arguments)]
fn apply_digit_commands(
    mut messages: MessageReader<DigitCommand>,
    settings: Res<DigitsSettings>,
    mut state: ResMut<DigitsState>,
    mut feed: ResMut<GridFeed>,
    mut library: ResMut<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    mut grids: Query<(Entity, &mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
) {
    let Some((_, grid, mut edits)) = mnist_grid(&mut grids, &models) else {
        messages.clear();
        return;
    };
    for command in messages.read() {
        match command {
            DigitCommand::Place { source, at } => match source_pixels(source, &settings, &mut state) {
                Ok(pixels) => {
                    let (side, grey) = digits::scaled(&pixels, settings.scale);
                    let center = placement_center(*at, &state, &grid);
                    edits.push(Edit::PlaceImage(digits::placed(side, grey, center)));
                }
                Err(e) => library.error(e),
            },
            DigitCommand::ResetState => {
                feed.want_state = true;
                state.pending_reset = Some(feed.requests);
            }
            DigitCommand::Clear => edits.push(Edit::Clear),
            DigitCommand::Sprinkle { fraction, everywhere } => {
                state.pending_sprinkles.push((feed.requests, fraction.clamp(0.0, 1.0), *everywhere));
            }
            DigitCommand::RemoveAdversaries => {
                let (w, h) = (grid.width as f32, grid.height as f32);
                edits.push(Edit::PaintSpecies { center: [w / 2.0, h / 2.0], radius: w + h, species: 0 });
            }
        }
    }
}

/// Labels become the read-out, and waiting sprinkles and resets are carried out on what was
/// read after they were asked for.
#[allow(clippy::too_many_arguments)]
fn follow_feed(
    settings: Res<DigitsSettings>,
    mut state: ResMut<DigitsState>,
    mut feed: ResMut<GridFeed>,
    mut library: ResMut<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    server: Res<AssetServer>,
    mut grids: Query<(Entity, &mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
    mut commands: MessageWriter<DigitCommand>,
) {
    let Some((_, mut grid, mut edits)) = mnist_grid(&mut grids, &models) else { return };
    feed.want_labels = true;
    if let Some(since) = state.pending_reset
        && let Some((_, snapshot)) = feed.state.as_ref().filter(|(n, _)| *n > since)
    {
        state.pending_reset = None;
        let grey: Vec<f32> = snapshot.grid.data.chunks_exact(snapshot.grid.channels).map(|c| c[crate::model::mnist::GREY]).collect();
        edits.push(Edit::Clear);
        if grey.iter().any(|&g| g > crate::model::mnist::LIVE_THRESHOLD) {
            let (width, height) = (snapshot.grid.width as u32, snapshot.grid.height as u32);
            edits.push(Edit::PlaceImage(crate::model::grid::GreyImage { origin: [0, 0], width, height, grey: grey.into() }));
        } else {
            // Nothing left to reset: the canvas starts again.
            for command in start_commands(&settings, grid.width) {
                commands.write(command);
            }
        }
    }
    let Some((number, labels)) = feed.labels.as_ref() else { return };
    if (labels.width, labels.height) != (grid.width, grid.height) {
        return;
    }
    let number = *number;
    if state.readout_number != number {
        state.readout_number = number;
        let found = digits::regions(&labels.labels, labels.width as usize, labels.height as usize, settings.min_digit_cells);
        let previous = std::mem::take(&mut state.readout);
        state.readout = found
            .into_iter()
            .map(|region| {
                let key = region.shape_key();
                let shape_since =
                    previous.iter().find(|p| p.region.shape_key() == key).map_or(labels.step, |p| p.shape_since.min(labels.step));
                DigitReadout { region, shape_since }
            })
            .collect();
        state.readout_step = labels.step;
        state.adversary_cells = labels
            .labels
            .iter()
            .enumerate()
            .filter(|(_, w)| *w & LABEL_ALIVE != 0 && *w >> LABEL_SPECIES_SHIFT != 0)
            .map(|(i, _)| i as u32)
            .collect();
    }
    if !state.pending_sprinkles.iter().any(|(since, _, _)| number > *since) {
        return;
    }
    let species = match adversary_species(&mut grid, &settings, &library, &models, &server) {
        Ok(Some(species)) => species,
        Ok(None) => return, // the adversary is still loading: the sprinkles wait
        Err(e) => {
            library.error(e);
            state.pending_sprinkles.clear();
            return;
        }
    };
    let ready: Vec<(u64, f32, bool)> = state.pending_sprinkles.iter().copied().filter(|(since, _, _)| number > *since).collect();
    state.pending_sprinkles.retain(|(since, _, _)| number <= *since);
    // The read-out was just made from these very labels: its digits are the ones to sprinkle.
    let width = labels.width;
    for (_, fraction, everywhere) in ready {
        state.sprinkles += 1;
        let state = &*state;
        let digits: Vec<&DigitRegion> = if everywhere {
            state.readout.iter().map(|d| &d.region).collect()
        } else {
            let under = state.focus.and_then(|f| state.digit_at(f));
            under.or(state.readout.first()).map(|d| &d.region).into_iter().collect()
        };
        for region in digits {
            for cell in sprinkle_cells(region, fraction, state.sprinkles) {
                let (x, y) = (cell % width, cell / width);
                edits.push(Edit::PaintSpecies { center: [x as f32 + 0.5, y as f32 + 0.5], radius: 0.5, species });
            }
        }
    }
}

/// Exactly `round(fraction · cells)` of a digit's cells, picked by a hash of the cell and the
/// sprinkle's number: the same sprinkle picks the same cells, the next one others.
pub fn sprinkle_cells(region: &DigitRegion, fraction: f32, salt: u32) -> Vec<u32> {
    let count = (fraction.clamp(0.0, 1.0) * region.cells.len() as f32).round() as usize;
    let mut ranked: Vec<(u32, u32)> =
        region.cells.iter().map(|&c| (crate::model::fire::pcg(c.wrapping_mul(0x9e37_79b9) ^ salt.wrapping_mul(0x85eb_ca6b)), c)).collect();
    ranked.sort_unstable();
    let mut cells: Vec<u32> = ranked.into_iter().take(count).map(|(_, c)| c).collect();
    cells.sort_unstable();
    cells
}

/// A kiosk nobody touches plays by itself: it writes sample digits, mutates them into other
/// classes, builds chimeras, and sprinkles adversaries and takes them away again.
#[allow(clippy::too_many_arguments)]
fn self_play(
    time: Res<Time<Real>>,
    kiosk: Res<KioskSettings>,
    idle: Res<KioskIdle>,
    settings: Res<DigitsSettings>,
    mut state: ResMut<DigitsState>,
    models: Res<Assets<NcaModel>>,
    mut grids: Query<(Entity, &mut CaGrid, &mut GridEdits), With<SandboxGrid>>,
    mut commands: MessageWriter<DigitCommand>,
) {
    let wanted = kiosk.self_play_seconds.is_some_and(|after| idle.seconds >= after);
    let Some((_, grid, _)) = mnist_grid(&mut grids, &models).filter(|_| wanted) else {
        state.self_playing = false;
        return;
    };
    if !state.self_playing {
        state.self_playing = true;
        state.self_play_clock = settings.self_play_interval;
    }
    state.self_play_clock += time.delta_secs();
    if state.self_play_clock < settings.self_play_interval {
        return;
    }
    state.self_play_clock = 0.0;
    let beat = state.self_play_beat;
    state.self_play_beat = beat.wrapping_add(1);
    for command in self_play_move(beat, grid.width, grid.height) {
        commands.write(command);
    }
}

/// The kiosk's script, one move per beat, in a loop of ten.
pub fn self_play_move(beat: u32, width: u32, height: u32) -> Vec<DigitCommand> {
    let slots = (width as usize / 40).clamp(1, 6);
    let slot_x = |k: usize| (k % slots) as f32 * width as f32 / slots as f32 + width as f32 / slots as f32 / 2.0;
    let class = |k: u32| (crate::model::fire::pcg(k ^ 0x5eed) % CLASSES as u32) as usize;
    let place = |source, k: usize| DigitCommand::Place { source, at: Some([slot_x(k), height as f32 / 2.0]) };
    let round = beat / 10;
    match beat % 10 {
        b @ 0..=2 => vec![place(DigitSource::Sample { class: class(beat), index: None }, b as usize)],
        // The paper's mutation: a new digit over the old cells, which must change their minds.
        3 => vec![place(DigitSource::Sample { class: class(beat), index: None }, 0)],
        4 => {
            let (upper, lower) = CHIMERAS[round as usize % CHIMERAS.len()];
            vec![place(DigitSource::Chimera { upper, lower, split: None }, 1 % slots)]
        }
        5 => vec![DigitCommand::Sprinkle { fraction: 0.1, everywhere: true }],
        6 | 7 => Vec::new(),
        8 => vec![DigitCommand::RemoveAdversaries],
        _ => vec![DigitCommand::Clear],
    }
}
