//! The sandbox app without a window (lavapipe in CI): tools, transport, species, hot reload
//! and bad input, driven through the same messages and resources the window's devices and
//! panel use.
//!
//! One app serves every check (a renderer per test would multiply the shader compile time).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;
use common::{diff, lizard};
use nca_sandbox::app::window::{SandboxPlugin, SandboxState, WindowOptions, set_start_model};
use nca_sandbox::app::{finish_plugins, headless_plugins, probe_adapter};
use nca_sandbox::input::{PointerInput, PointerPhase, Tool, ToolSettings, cell_to_world};
use nca_sandbox::library::{self, ModelLibrary};
use nca_sandbox::model::GrowingMode;
use nca_sandbox::model::digits::{self, SampleDigits};
use nca_sandbox::model::grid::Edit;
use nca_sandbox::model::import::Pick;
use nca_sandbox::model::perception::SobelPair;
use nca_sandbox::model::{Grid, GrowingWeights, ModelKind, NcaWeights, cpu, import, mnist};
use nca_sandbox::scene::digits::{DigitCommand, DigitReadout, DigitSource, DigitsSettings, DigitsState};
use nca_sandbox::scene::teach::{LessonStatus, TeachCommand, TeachFrom, TeachPreviewGrid, TeachSettings, TeachState, TeachTarget};
use nca_sandbox::scene::{SandboxGrid, SceneCommand};
use nca_sandbox::sim::readback::next_readback_id;
use nca_sandbox::sim::{CaGrid, GridSnapshots, NcaModel, Playback, ReadbackRequest, Speed};

const PATIENCE: Duration = Duration::from_secs(300);

struct Sandbox {
    app: App,
    model_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        probe_adapter().unwrap_or_else(|e| panic!("GPU unavailable: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let model_file = dir.path().join("lizard.safetensors");
        lizard().save(&model_file).unwrap();
        let mut app = App::new();
        library::register_source(&mut app);
        app.add_plugins(headless_plugins().set(AssetPlugin { meta_check: bevy::asset::AssetMetaCheck::Never, ..default() }))
            .add_plugins(SandboxPlugin)
            .insert_resource(WindowOptions {
                model: model_file.clone(),
                trained_dir: dir.path().join("no-such-folder"),
                grid_size: 96,
                speed: Speed::One,
                seed: 3,
                plant: Vec::new(),
                start_edits: Vec::new(),
                digits: Default::default(),
                view: nca_sandbox::model::View::Natural,
                dark_background: false,
                kiosk: false,
                frames: None,
                seconds: None,
                screenshot: None,
                record_gif: None,
                teach: None,
                report: None,
                monkey: None,
                scenario: None,
                playlist: None,
                exhibit: Default::default(),
            });
        // Lessons keep their checkpoints beside the test's files, not in the repository.
        app.insert_resource(TeachSettings { lesson_dir: dir.path().join("lessons"), ..default() });
        set_start_model(&mut app, model_file.clone());
        finish_plugins(&mut app);
        let mut this = Self { app, model_file, _dir: dir };
        this.until("the scene starts", |app| {
            app.world().resource::<State<SandboxState>>().get() == &SandboxState::Running && grid_step(app).is_some_and(|s| s > 0)
        });
        this
    }

    fn update(&mut self) {
        self.app.update();
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&mut App) -> bool) {
        let start = Instant::now();
        loop {
            self.app.update();
            if done(&mut self.app) {
                return;
            }
            assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn grid(&mut self) -> Entity {
        let mut q = self.app.world_mut().query_filtered::<Entity, With<SandboxGrid>>();
        q.single(self.app.world()).expect("one sandbox grid")
    }

    fn step(&mut self) -> u32 {
        grid_step(&mut self.app).unwrap()
    }

    fn read(&mut self) -> Grid {
        let entity = self.grid();
        let id = next_readback_id();
        self.app.world_mut().entity_mut(entity).insert(ReadbackRequest { id: Some(id), ..Default::default() });
        let mut out = None;
        self.until("a readback arrives", |app| {
            out = app.world_mut().resource_mut::<GridSnapshots>().take(id);
            out.is_some()
        });
        out.unwrap().unwrap().grid
    }

    fn playback(&mut self) -> Mut<'_, Playback> {
        self.app.world_mut().resource_mut::<Playback>()
    }

    /// A press (and release) at a cell, through the same messages the mouse produces.
    fn click(&mut self, cell: Vec2, times: usize) {
        let entity = self.grid();
        self.update(); // transforms are propagated
        let world = {
            let w = self.app.world();
            cell_to_world(w.get::<CaGrid>(entity).unwrap(), w.get::<GlobalTransform>(entity).unwrap(), cell)
        };
        for _ in 0..times {
            self.app.world_mut().write_message(PointerInput { pointer: 0, phase: PointerPhase::Pressed, world });
            self.app.world_mut().write_message(PointerInput { pointer: 0, phase: PointerPhase::Released, world });
        }
        self.update();
    }

    /// Pauses, lets queued work drain, and returns the state.
    fn pause_and_read(&mut self) -> Grid {
        self.playback().paused = true;
        self.update();
        self.read()
    }
}

fn grid_step(app: &mut App) -> Option<u32> {
    let mut q = app.world_mut().query_filtered::<&CaGrid, With<SandboxGrid>>();
    q.iter(app.world()).next().map(|g| g.step)
}

fn alive_cells(g: &Grid) -> usize {
    g.data.chunks(16).filter(|c| c[3] > 0.1).count()
}

/// Steps the grid advanced over `frames` frames with these transport settings (after one frame
/// for the change to take effect).
fn steps_over(s: &mut Sandbox, speed: Speed, paused: bool, frames: u32) -> u32 {
    s.playback().speed = speed;
    s.playback().paused = paused;
    s.update();
    let start = s.step();
    for _ in 0..frames {
        s.update();
    }
    s.step() - start
}

fn transport(s: &mut Sandbox) {
    assert_eq!(steps_over(s, Speed::One, false, 5), 5, "1× runs one step per frame");
    assert_eq!(steps_over(s, Speed::Four, false, 5), 20, "4× runs four steps per frame");
    assert_eq!(steps_over(s, Speed::Half, false, 10), 5, "1/2× runs a step every other frame");
    assert_eq!(steps_over(s, Speed::Tenth, false, 20), 2, "1/10× runs a step every ten frames");
    assert_eq!(steps_over(s, Speed::Four, true, 5), 0, "pause stops the step counter");
    let a = s.step();
    s.playback().single_steps = 1;
    s.update();
    assert_eq!(s.step(), a + 1, "a single step runs while paused");
}

fn grow(s: &mut Sandbox, steps: u32) {
    s.playback().paused = false;
    s.playback().speed = Speed::Four;
    let target = s.step() + steps;
    s.until("the lizard grows", |app| grid_step(app).unwrap() >= target);
}

fn click_erases_a_disc(s: &mut Sandbox) {
    grow(s, 120);
    let before = s.pause_and_read();
    assert!(alive_cells(&before) > 300, "the lizard should have grown first");
    let radius = 6.0;
    s.app.world_mut().resource_mut::<ToolSettings>().brush_radius = radius;
    s.app.world_mut().resource_mut::<ToolSettings>().tool = Tool::Erase;
    let center = Vec2::new(48.0, 50.0);
    s.click(center, 1);
    let after = s.read();
    let (mut erased, mut kept) = (0, 0);
    for y in 0..before.height {
        for x in 0..before.width {
            let d = Vec2::new(x as f32 + 0.5, y as f32 + 0.5).distance(center);
            if d < radius {
                assert!(after.cell(x, y).iter().all(|&v| v == 0.0), "cell ({x}, {y}) inside the brush survived");
                erased += 1;
            } else {
                assert_eq!(after.cell(x, y), before.cell(x, y), "cell ({x}, {y}) outside the brush changed");
                kept += 1;
            }
        }
    }
    assert!(erased > 100 && kept > 0);

    // Two fingers at once: each erases its own disc.
    let entity = s.grid();
    let (a, b) = (Vec2::new(30.5, 40.5), Vec2::new(62.5, 56.5));
    let to_world = |s: &Sandbox, cell: Vec2| {
        let w = s.app.world();
        cell_to_world(w.get::<CaGrid>(entity).unwrap(), w.get::<GlobalTransform>(entity).unwrap(), cell)
    };
    let (wa, wb) = (to_world(s, a), to_world(s, b));
    for (pointer, world) in [(1, wa), (2, wb)] {
        s.app.world_mut().write_message(PointerInput { pointer, phase: PointerPhase::Pressed, world });
    }
    s.update();
    let touched = s.read();
    for (pointer, world) in [(1, wa), (2, wb)] {
        s.app.world_mut().write_message(PointerInput { pointer, phase: PointerPhase::Released, world });
    }
    for c in [a, b] {
        assert!(touched.cell(c.x as usize, c.y as usize).iter().all(|&v| v == 0.0), "finger at {c} did not erase");
        assert!(touched.cell(c.x as usize + 5, c.y as usize).iter().all(|&v| v == 0.0));
    }
}

fn double_click_plants_a_seed_that_grows(s: &mut Sandbox) {
    s.app.world_mut().write_message(SceneCommand::Reset);
    s.update();
    let spot = Vec2::new(20.5, 20.5);
    s.click(spot, 2);
    let planted = s.read();
    assert_eq!(planted.cell(20, 20)[3], 1.0, "the double-click should plant a seed");
    grow(s, 60);
    let grown = s.pause_and_read();
    let near = (10..31).flat_map(|y| (10..31).map(move |x| (x, y))).filter(|&(x, y)| grown.cell(x, y)[3] > 0.1).count();
    assert!(near > 30, "the planted seed should grow ({near} living cells around it)");
}

fn species_brush_plants_another_species(s: &mut Sandbox) {
    let ladybug = import::load_model_file(common::reference("weights/growing_ca_webgl8/ex3_1f41e.json")).unwrap();
    let ladybug_file = s._dir.path().join("ladybug.safetensors");
    ladybug.save(&ladybug_file).unwrap();
    let handle = {
        let server = s.app.world().resource::<AssetServer>().clone();
        s.app.world_mut().resource_mut::<ModelLibrary>().open(&ladybug_file, &server)
    };
    s.until("the second model loads", |app| app.world().resource::<Assets<NcaModel>>().contains(&handle));
    s.app.world_mut().write_message(SceneCommand::Reset);
    s.update();
    {
        let mut tools = s.app.world_mut().resource_mut::<ToolSettings>();
        tools.tool = Tool::Species;
        tools.species_model = Some(handle);
    }
    s.click(Vec2::new(75.5, 48.5), 1);
    let start = s.read();
    assert_eq!(start.species[48 * 96 + 75], 1, "the species brush plants species 1");
    assert_eq!(start.cell(75, 48)[3], 1.0);
    let step = s.step();
    s.playback().single_steps = 40;
    s.update();
    let got = s.read();
    let (a, b) = (lizard().expect_growing().unwrap().clone(), ladybug.expect_growing().unwrap().clone());
    let mut expected = start.clone();
    cpu::run_species(&[&a, &b], &mut expected, 3, step, 40, &SobelPair::default());
    let (max, mean) = diff(&got.data, &expected.data);
    assert!(mean <= 1e-3, "species grid differs from the CPU reference: mean {mean:e} max {max:e}");
    let species_differ = got.species.iter().zip(&expected.species).filter(|(a, b)| a != b).count();
    assert_eq!(species_differ, 0, "species ids differ from the CPU reference");
    assert!(got.species.iter().zip(&got.data.chunks(16).collect::<Vec<_>>()).filter(|(s, c)| **s == 1 && c[3] > 0.1).count() > 9);
    s.app.world_mut().resource_mut::<ToolSettings>().tool = Tool::Erase;
}

fn hot_reload_swaps_weights_and_keeps_the_state(s: &mut Sandbox) {
    // A lizard alone (the reset forgets the ladybug species of the previous check).
    s.app.world_mut().write_message(SceneCommand::Reset);
    s.update();
    grow(s, 40);
    let before = s.pause_and_read();
    let step = s.step();
    let still = NcaWeights::Growing(GrowingWeights::zeros(Default::default()));
    write_later(&s.model_file, &still.to_safetensors());
    let entity = s.grid();
    s.until("the changed file is reloaded", |app| {
        let models = app.world().resource::<Assets<NcaModel>>();
        let grid = app.world().get::<CaGrid>(entity).unwrap();
        models.get(&grid.model).is_some_and(|m| m.weights.as_growing().is_some_and(|w| w.w1.iter().all(|&v| v == 0.0)))
    });
    s.playback().single_steps = 10;
    s.update();
    let after = s.read();
    assert_eq!(s.step(), step + 10, "the reload must not reset the step counter");
    let changed = after.data.iter().zip(&before.data).filter(|(a, b)| a != b).count();
    assert_eq!(changed, 0, "zero weights keep the state exactly: the new weights are in use and nothing was reset");
    assert!(alive_cells(&after) > 50, "the grown state must still be there");

    // A corrupted file: an error for the panel, and the last good weights keep running.
    write_later(&s.model_file, b"not a model at all");
    s.until("the broken file is reported", |app| {
        app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.is_error && m.text.contains("lizard.safetensors"))
    });
    s.playback().single_steps = 3;
    s.update();
    assert_eq!(s.step(), step + 13, "the grid keeps running after a bad reload");

    // Deleted: noted, nothing crashes, the grid still runs.
    std::fs::remove_file(&s.model_file).unwrap();
    s.until("the deletion is noted", |app| app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.text.contains("deleted")));
    s.playback().single_steps = 2;
    s.update();
    assert_eq!(s.step(), step + 15);
}

fn dropping_a_non_model_is_an_error(s: &mut Sandbox) {
    let window = Entity::PLACEHOLDER;
    let png = s._dir.path().join("photo.png");
    std::fs::write(&png, b"\x89PNG").unwrap();
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: png });
    s.update();
    let library = s.app.world().resource::<ModelLibrary>();
    // On a growing grid a picture is what to teach it; a broken one is said so, and no lesson starts.
    assert!(library.messages.iter().any(|m| m.is_error && m.text.contains("photo.png") && m.text.contains("not a readable picture")));
    let unknown = s._dir.path().join("mystery.safetensors");
    std::fs::write(&unknown, b"{}").unwrap();
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: unknown });
    s.until("the broken drop is reported", |app| {
        app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.is_error && m.text.contains("mystery.safetensors"))
    });
    // A valid file of a kind this build does not know.
    let mut bytes = lizard().to_safetensors();
    let (known, unknown) = (br#""nca.kind":"growing""#, br#""nca.kind":"mystery""#);
    let at = bytes.windows(known.len()).position(|w| w == known).expect("kind in the header");
    bytes[at..at + known.len()].copy_from_slice(unknown);
    let alien = s._dir.path().join("alien.safetensors");
    std::fs::write(&alien, bytes).unwrap();
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: alien });
    s.until("the unknown kind is reported", |app| {
        app.world()
            .resource::<ModelLibrary>()
            .messages
            .iter()
            .any(|m| m.is_error && m.text.contains("alien.safetensors") && m.text.contains("unknown model kind"))
    });
    // Errors are for people: the whole path, no Bevy internals, no type names.
    let full = s._dir.path().join("alien.safetensors").display().to_string();
    let library = s.app.world().resource::<ModelLibrary>();
    assert!(library.messages.iter().any(|m| m.text.contains(&full)), "the path keeps its leading /");
    for m in &library.messages {
        assert!(!m.text.contains("::") && !m.text.contains("asset loader") && !m.text.contains("nca://"), "internals in '{}'", m.text);
    }
    let step = s.step();
    s.playback().single_steps = 1;
    s.update();
    assert_eq!(s.step(), step + 1, "the scene keeps running");
}

fn kiosk_starts_over_when_nothing_lives_and_after_idling(s: &mut Sandbox) {
    use nca_sandbox::model::grid::Edit;
    use nca_sandbox::scene::kiosk::KioskSettings;
    use nca_sandbox::sim::GridEdits;
    grow(s, 20);
    s.app.world_mut().insert_resource(KioskSettings { extinction_check_seconds: Some(0.0), ..Default::default() });
    let entity = s.grid();
    s.app.world_mut().get_mut::<GridEdits>(entity).unwrap().push(Edit::Clear);
    let before = s.step();
    s.until("an empty grid starts over", |app| grid_step(app).unwrap() < before);
    s.playback().paused = true;
    s.update();
    let fresh = s.read();
    assert!(
        fresh.cell(48, 48)[3] > 0.1 && alive_cells(&fresh) < 200,
        "a fresh seed grows in the centre ({} cells alive)",
        alive_cells(&fresh)
    );

    s.app.world_mut().insert_resource(KioskSettings { idle_reset_seconds: Some(0.3), ..Default::default() });
    grow(s, 30);
    s.click(Vec2::new(10.5, 10.5), 1);
    let touched = s.step();
    let start = Instant::now();
    s.until("an idle kiosk starts over", |app| grid_step(app).unwrap() < touched);
    assert!(start.elapsed() >= Duration::from_millis(250), "reset before the idle time passed");
    s.app.world_mut().insert_resource(KioskSettings::default());
}

/// Opens a model file made from `weights` in the library and waits until it has loaded.
fn open_model(s: &mut Sandbox, name: &str, weights: NcaWeights) -> Handle<NcaModel> {
    let file = s._dir.path().join(name);
    weights.save(&file).unwrap();
    let server = s.app.world().resource::<AssetServer>().clone();
    let handle = s.app.world_mut().resource_mut::<ModelLibrary>().open(&file, &server);
    s.until("the model loads", |app| app.world().resource::<Assets<NcaModel>>().contains(&handle));
    handle
}

fn digits_state(s: &Sandbox) -> &DigitsState {
    s.app.world().resource::<DigitsState>()
}

fn samples(s: &Sandbox) -> SampleDigits {
    digits_state(s).samples.clone().expect("samples tried").expect("the bundled samples load")
}

fn digit_command(s: &mut Sandbox, command: DigitCommand) {
    s.app.world_mut().write_message(command);
    s.update();
}

/// The grey image a sample placed at `center` (scale 1) puts on the canvas.
fn placed_sample(pixels: &[u8], center: [f32; 2]) -> Edit {
    let (side, grey) = digits::scaled(pixels, 1.0);
    Edit::PlaceImage(digits::placed(side, grey, center))
}

/// Waits for a read-out of the digits at step `step` or later.
fn readout_at(s: &mut Sandbox, step: u32) -> Vec<DigitReadout> {
    s.until("the read-out catches up", |app| app.world().resource::<DigitsState>().readout_step >= step);
    digits_state(s).readout.clone()
}

fn an_mnist_model_opens_a_canvas_with_a_digit_the_pen_and_the_adversary_brush(s: &mut Sandbox) {
    let digits = open_model(s, "mnist.safetensors", NcaWeights::Mnist(common::mnist_model()));
    let adversary = open_model(s, "adversary.safetensors", NcaWeights::Mnist(common::adversarial(Pick::Adversary)));
    s.app.world_mut().resource_mut::<DigitsSettings>().adversary = Some(adversary.clone());
    s.playback().paused = true;
    s.app.world_mut().write_message(SceneCommand::SetModel(digits));
    s.update();
    let canvas = s.read();
    assert_eq!((canvas.width, canvas.height, canvas.channels), (160, 64, mnist::CHANNELS), "a wide MNIST canvas");
    let mut expected = Grid::new(160, 64, mnist::CHANNELS);
    ModelKind::Mnist.apply_edit(&mut expected, &placed_sample(samples(s).get(3, 0), [80.0, 32.0]));
    assert_eq!(canvas.data, expected.data, "the canvas starts with the first sample 3 in the middle, state zero");

    // Let the digit think, so its cells carry a state for the pen to wipe.
    s.playback().single_steps = 20;
    s.update();
    let thought = s.read();
    let (x, y) = (80usize, 32usize);
    let on_stroke = (60..100).find(|&x| thought.cell(x, y)[mnist::GREY] > 0.5).expect("the 3 crosses row 32");
    assert!(thought.cell(on_stroke, y)[1..].iter().any(|&v| v != 0.0), "after 20 steps the cells have a state");

    // One fast stroke: a press, a single move 30 cells away, a release. The pen fills the gap
    // and wipes the state it fully covers.
    {
        let mut tools = s.app.world_mut().resource_mut::<ToolSettings>();
        tools.tool = Tool::Draw;
        tools.pen_radius = 2.0;
    }
    let entity = s.grid();
    let world = |s: &Sandbox, cell: Vec2| {
        let w = s.app.world();
        cell_to_world(w.get::<CaGrid>(entity).unwrap(), w.get::<GlobalTransform>(entity).unwrap(), cell)
    };
    let (from, to) = (world(s, Vec2::new(60.5, y as f32 + 0.5)), world(s, Vec2::new(100.5, y as f32 + 0.5)));
    for (phase, at) in [(PointerPhase::Pressed, from), (PointerPhase::Moved, to), (PointerPhase::Released, to)] {
        s.app.world_mut().write_message(PointerInput { pointer: 0, phase, world: at });
    }
    s.update();
    let drawn = s.read();
    for x in 60..=100 {
        assert!(drawn.cell(x, y)[mnist::GREY] > 0.9, "the stroke left a gap at ({x}, {y})");
        assert!(drawn.cell(x, y)[1..].iter().all(|&v| v == 0.0), "the pen wiped the state at ({x}, {y})");
    }
    assert_eq!(drawn.cell(x, y + 5), thought.cell(x, y + 5), "the pen stays within its radius");

    // The adversary brush turns single cells into the adversary species.
    {
        let mut tools = s.app.world_mut().resource_mut::<ToolSettings>();
        tools.tool = Tool::Species;
        tools.species_model = Some(adversary);
    }
    s.click(Vec2::new(70.5, y as f32 + 0.5), 1);
    let painted = s.read();
    let adversaries: Vec<usize> = (0..painted.species.len()).filter(|&i| painted.species[i] != 0).collect();
    assert_eq!(adversaries, vec![y * 160 + 70], "exactly the cell under the brush became an adversary");
    assert_eq!(painted.data, drawn.data, "painting a species leaves the state alone");
    let lizard_handle =
        s.app.world().resource::<ModelLibrary>().entries.iter().find(|e| e.path.ends_with("lizard.safetensors")).map(|e| e.handle.clone());
    if let Some(lizard_handle) = lizard_handle {
        s.app.world_mut().resource_mut::<ToolSettings>().species_model = Some(lizard_handle);
        s.click(Vec2::new(50.5, 40.5), 1);
        assert!(
            s.app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.is_error && m.text.contains("cannot share")),
            "a growing species on an MNIST grid is refused with a message"
        );
    }
    s.app.world_mut().resource_mut::<ToolSettings>().tool = Tool::Draw;
    digit_command(s, DigitCommand::RemoveAdversaries);
    assert!(s.read().species.iter().all(|&v| v == 0), "removal hands every cell back");
}

fn a_digit_button_mutates_the_digit_and_the_read_out_agrees_with_the_cpu(s: &mut Sandbox) {
    s.playback().single_steps = 10;
    s.update();
    let before = s.read();
    let step = s.step();
    let k = digits_state(s).next_sample[7];
    digit_command(s, DigitCommand::Place { source: DigitSource::Sample { class: 7, index: None }, at: Some([80.0, 32.0]) });
    let after = s.read();
    let mut expected = before.clone();
    ModelKind::Mnist.apply_edit(&mut expected, &placed_sample(samples(s).get(7, k), [80.0, 32.0]));
    assert_eq!(after.data, expected.data, "grey replaced, state kept exactly where the new grey is alive");
    assert_eq!(digits_state(s).next_sample[7], k + 1, "the next click takes the next sample");

    // The cells re-decide. The read-out after 40 steps matches the CPU reference of the same run.
    s.playback().single_steps = 40;
    s.update();
    let readout = readout_at(s, step + 40);
    let mut cpu = after.clone();
    mnist::run_species(&[&common::mnist_model()], &mut cpu, 3, step, 40);
    let regions = digits::regions(&ModelKind::Mnist.labels(&cpu), 160, 64, 12);
    assert_eq!(readout.len(), regions.len(), "as many digits as the CPU finds");
    assert_eq!(readout[0].region.cells, regions[0].cells);
    assert_eq!(readout[0].region.majority(), regions[0].majority(), "the read-out's majority is the CPU's");
    assert_eq!(readout[0].region.majority(), Some(7), "the mutated digit became a 7: {:?}", readout[0].region.votes);
    let off: u32 = readout[0].region.votes.iter().zip(regions[0].votes).map(|(a, b)| a.abs_diff(b)).sum();
    assert!(off <= 2, "votes {:?} on the GPU, {:?} on the CPU", readout[0].region.votes, regions[0].votes);
}

fn two_digits_far_apart_are_read_out_as_two(s: &mut Sandbox) {
    digit_command(s, DigitCommand::Clear);
    for (class, x) in [(1, 30.0), (4, 130.0)] {
        s.app.world_mut().write_message(DigitCommand::Place { source: DigitSource::Sample { class, index: Some(0) }, at: Some([x, 32.0]) });
    }
    s.playback().single_steps = 30;
    s.update();
    let step = s.step();
    let readout = readout_at(s, step);
    assert_eq!(readout.len(), 2, "two separate digits");
    let mut lefts: Vec<u32> = readout.iter().map(|d| d.region.bounds[0]).collect();
    lefts.sort();
    assert!(lefts[0] < 45 && lefts[1] > 110, "one on each side: {lefts:?}");
    assert!(readout.iter().all(|d| d.shape_since <= step && d.region.majority().is_some()));
}

fn a_chimera_preset_builds_the_papers_chimera(s: &mut Sandbox) {
    digit_command(s, DigitCommand::Clear);
    let (k3, k5) = (digits_state(s).next_sample[3], digits_state(s).next_sample[5]);
    digit_command(s, DigitCommand::Place { source: DigitSource::Chimera { upper: 3, lower: 5, split: None }, at: Some([80.0, 32.0]) });
    let got = s.read();
    let samples = samples(s);
    let chimera = digits::chimera(samples.get(3, k3), samples.get(5, k5), 14);
    assert_eq!(&chimera[..14 * 28], &samples.get(3, k3)[..14 * 28]);
    assert_eq!(&chimera[14 * 28..], &samples.get(5, k5)[14 * 28..]);
    let mut expected = Grid::new(160, 64, mnist::CHANNELS);
    ModelKind::Mnist.apply_edit(&mut expected, &placed_sample(&chimera, [80.0, 32.0]));
    assert_eq!(got.data, expected.data, "the canvas holds the 3/5 chimera");
}

fn sprinkling_adversaries_and_removing_them(s: &mut Sandbox) {
    for (class, x) in [(2, 30.0), (6, 130.0)] {
        s.app.world_mut().write_message(DigitCommand::Place { source: DigitSource::Sample { class, index: Some(1) }, at: Some([x, 32.0]) });
    }
    s.update();
    digit_command(s, DigitCommand::Sprinkle { fraction: 0.1, everywhere: true });
    let entity = s.grid();
    s.until("the sprinkle lands", |app| app.world().get::<CaGrid>(entity).is_some_and(|g| !g.extra_species.is_empty()));
    let mut sprinkled = s.read();
    for _ in 0..100 {
        if sprinkled.species.iter().any(|&v| v != 0) {
            break;
        }
        sprinkled = s.read();
    }
    let regions = digits::regions(&ModelKind::Mnist.labels(&sprinkled), 160, 64, 12);
    assert_eq!(regions.len(), 3, "the chimera and two digits");
    for region in &regions {
        let wanted = (0.1 * region.cells.len() as f32).round() as u32;
        assert_eq!(region.other_species, wanted, "{} of {} cells of a digit became adversaries", region.other_species, region.cells.len());
    }
    let in_digits: u32 = regions.iter().map(|r| r.other_species).sum();
    let everywhere = sprinkled.species.iter().filter(|&&v| v != 0).count() as u32;
    assert_eq!(everywhere, in_digits, "only living cells of digits were chosen");
    digit_command(s, DigitCommand::RemoveAdversaries);
    assert!(s.read().species.iter().all(|&v| v == 0), "removal hands every cell back to the base model");
}

fn the_kiosk_plays_by_itself_until_touched(s: &mut Sandbox) {
    use nca_sandbox::scene::kiosk::KioskSettings;
    let placed_before: usize = digits_state(s).next_sample.iter().sum();
    s.playback().paused = false;
    s.app.world_mut().insert_resource(KioskSettings { self_play_seconds: Some(0.2), ..Default::default() });
    s.app.world_mut().resource_mut::<DigitsSettings>().self_play_interval = 0.05;
    s.until("self-play starts", |app| app.world().resource::<DigitsState>().self_playing);
    s.until("self-play writes a digit", |app| app.world().resource::<DigitsState>().next_sample.iter().sum::<usize>() > placed_before);
    s.click(Vec2::new(5.5, 5.5), 1);
    s.update();
    assert!(!digits_state(s).self_playing, "a touch hands control back at once");
    s.app.world_mut().insert_resource(KioskSettings::default());
    s.playback().paused = true;
    s.update();
}

fn bad_digit_pictures_and_missing_samples_are_reported(s: &mut Sandbox) {
    let window = Entity::PLACEHOLDER;
    let errors =
        |s: &Sandbox, needle: &str| s.app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.is_error && m.text.contains(needle));
    let broken = s._dir.path().join("scribble.png");
    std::fs::write(&broken, b"\x89PNG not really").unwrap();
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: broken });
    s.update();
    assert!(errors(s, "scribble.png"), "a broken picture is reported");
    let big = s._dir.path().join("big.png");
    image::GrayImage::new(40, 30).save(&big).unwrap();
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: big });
    s.update();
    assert!(errors(s, "28×28"), "a picture of the wrong size is reported with the size wanted");
    // A good one lands under the pointer.
    let good = s._dir.path().join("mine.png");
    image::GrayImage::from_fn(28, 28, |x, _| image::Luma([if (12..16).contains(&x) { 255 } else { 0 }])).save(&good).unwrap();
    digit_command(s, DigitCommand::Clear);
    s.until("the read-out sees the empty canvas", |app| app.world().resource::<DigitsState>().readout.is_empty());
    s.app.world_mut().resource_mut::<DigitsState>().focus = Some(Vec2::new(40.0, 20.0));
    s.app.world_mut().write_message(FileDragAndDrop::DroppedFile { window, path_buf: good });
    s.update();
    s.update();
    let dropped = s.read();
    assert!(dropped.cell(40, 20)[mnist::GREY] > 0.99 && dropped.cell(30, 20)[mnist::GREY] == 0.0, "the dropped 1 stands at the pointer");

    s.app.world_mut().resource_mut::<DigitsSettings>().samples_path = s._dir.path().join("no-samples.png");
    s.app.world_mut().resource_mut::<DigitsState>().samples = None;
    s.update();
    assert!(errors(s, "sample digits did not load"), "missing samples are reported");
    digit_command(s, DigitCommand::Place { source: DigitSource::Sample { class: 2, index: None }, at: None });
    assert!(errors(s, "no sample digits"), "a digit button without samples says why");
    let step = s.step();
    s.playback().single_steps = 3;
    s.update();
    assert_eq!(s.step(), step + 3, "the scene keeps running");
    s.app.world_mut().resource_mut::<DigitsSettings>().samples_path = nca_sandbox::scene::digits::default_samples_path();
    s.app.world_mut().resource_mut::<DigitsState>().samples = None;
    s.update();
}

/// Records what `act` does from a fresh start, then plays the recording back in the same window:
/// the same state, bit for bit (same backend, same steps, the edits on the steps they landed on).
/// Returns the recording; the player stays (the caller leaves it by picking a model).
fn record_and_replay(s: &mut Sandbox, name: &str, act: &dyn Fn(&mut Sandbox)) -> nca_sandbox::model::scenario::LoadedScenario {
    use nca_sandbox::scene::scenario::{ScenarioCommand, ScenarioRecorder};
    let file = s._dir.path().join(name);
    s.app.world_mut().write_message(ScenarioCommand::StartRecording);
    s.until("the recording starts", |app| app.world().resource::<ScenarioRecorder>().event_count() > 0);
    act(s);
    let recorded = s.pause_and_read();
    s.app.world_mut().write_message(ScenarioCommand::StopRecording(file.clone()));
    s.update();
    replays_to(s, &file, &recorded)
}

/// Plays the scenario `file` in the window and checks it ends at `expected`'s step with its
/// state, bit for bit. Returns the scenario; the player stays.
fn replays_to(s: &mut Sandbox, file: &std::path::Path, expected: &Grid) -> nca_sandbox::model::scenario::LoadedScenario {
    use nca_sandbox::model::scenario::LoadedScenario;
    use nca_sandbox::scene::scenario::{ScenarioPlayer, stage};
    let expected_step = s.step();
    let scene = LoadedScenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scene.scenario.steps, expected_step, "the scenario ends where the grid is");
    let first = {
        let world = s.app.world_mut();
        let mut player = ScenarioPlayer::new(scene.clone(), file.to_path_buf());
        let first = world.resource_scope(|world, mut settings: Mut<nca_sandbox::scene::SceneSettings>| {
            world.resource_scope(|world, mut digits: Mut<DigitsSettings>| {
                world.resource_scope(|_, mut models: Mut<Assets<NcaModel>>| stage(&mut player, &mut settings, &mut digits, &mut models))
            })
        });
        world.insert_resource(player);
        first
    };
    s.app.world_mut().write_message(SceneCommand::SetModel(first));
    s.playback().paused = false;
    s.playback().speed = Speed::Four;
    s.until("the replay finishes", |app| app.world().resource::<ScenarioPlayer>().finished);
    let replayed = s.pause_and_read();
    assert_eq!(s.step(), expected_step);
    assert!(replayed.data == expected.data, "the replay differs by {:e}", diff(&replayed.data, &expected.data).0);
    assert_eq!(replayed.species, expected.species);
    scene
}

/// Leaves a playing scenario by picking `model`; the scene is given back as it was.
fn leave_scenario(s: &mut Sandbox, model: Handle<NcaModel>) {
    use nca_sandbox::scene::scenario::ScenarioPlayer;
    s.app.world_mut().resource_mut::<nca_sandbox::scene::SceneSettings>().rotation_degrees = 0.0;
    s.app.world_mut().write_message(SceneCommand::SetModel(model));
    s.update();
    s.update();
    assert!(s.app.world().resource::<ScenarioPlayer>().abandoned);
    assert_eq!(s.app.world().resource::<nca_sandbox::scene::SceneSettings>().grid_shape, None);
    assert_eq!(s.app.world().resource::<DigitsSettings>().canvas, (160, 64), "the digits canvas is given back");
    s.app.world_mut().remove_resource::<ScenarioPlayer>();
}

fn a_recording_replays_to_the_same_state(s: &mut Sandbox) {
    use nca_sandbox::model::scenario::Action;
    let original = sandbox_model(s);
    s.playback().paused = false;
    s.playback().speed = Speed::Two;
    let scene = record_and_replay(s, "recorded.ron", &|s| {
        let target = s.step() + 40;
        s.until("the lizard grows", |app| grid_step(app).unwrap() >= target);
        s.app.world_mut().resource_mut::<ToolSettings>().tool = Tool::Erase;
        s.app.world_mut().resource_mut::<ToolSettings>().brush_radius = 5.0;
        s.click(Vec2::new(48.0, 44.0), 1);
        s.app.world_mut().resource_mut::<nca_sandbox::scene::SceneSettings>().rotation_degrees = 30.0;
        let target = s.step() + 25;
        s.until("it heals a little", |app| grid_step(app).unwrap() >= target);
    });
    let count = |f: &dyn Fn(&Action) -> bool| scene.scenario.events.iter().filter(|e| f(&e.action)).count();
    assert_eq!(count(&|a| matches!(a, Action::Rotate(_))), 1, "{:?}", scene.scenario.events);
    assert!(count(&|a| matches!(a, Action::Edits(_))) >= 2, "the start and the erase");
    leave_scenario(s, original);
}

/// On a digits canvas too (a canvas reset keeps its step, so Record once never started there).
fn a_recording_on_a_canvas_replays(s: &mut Sandbox) {
    use nca_sandbox::model::grid::Edit;
    use nca_sandbox::model::scenario::Action;
    let original = sandbox_model(s);
    s.playback().paused = false;
    s.playback().speed = Speed::Two;
    let scene = record_and_replay(s, "canvas.ron", &|s| {
        digit_command(s, DigitCommand::Place { source: DigitSource::Sample { class: 7, index: Some(0) }, at: Some([40.0, 32.0]) });
        let target = s.step() + 15;
        s.until("the 7 thinks", |app| grid_step(app).unwrap() >= target);
        digit_command(s, DigitCommand::Place { source: DigitSource::Sample { class: 1, index: Some(0) }, at: Some([40.0, 32.0]) });
        let target = s.step() + 10;
        s.until("the 1 thinks", |app| grid_step(app).unwrap() >= target);
    });
    assert_eq!(scene.kind, ModelKind::Mnist);
    let placed = scene
        .scenario
        .events
        .iter()
        .filter(|e| matches!(&e.action, Action::Edits(list) if list.iter().any(|x| matches!(x, Edit::PlaceImage(_)))));
    assert_eq!(placed.count(), 2, "both digits are in the recording");
    leave_scenario(s, original);
    s.playback().paused = false;
}

/// Save scene with no scenario playing writes what happened since the grid last started over,
/// and that file replays to the scene as it is, bit for bit: nothing drawn is lost.
fn a_saved_scene_replays_to_the_same_state(s: &mut Sandbox) {
    use nca_sandbox::scene::scenario::{ScenarioCommand, ScenarioStatus};
    let original = sandbox_model(s);
    s.app.world_mut().write_message(SceneCommand::Reset);
    s.playback().paused = false;
    s.playback().speed = Speed::Two;
    let target = s.step() + 30;
    s.until("the lizard grows", |app| grid_step(app).unwrap() >= target);
    s.app.world_mut().resource_mut::<ToolSettings>().tool = Tool::Erase;
    s.app.world_mut().resource_mut::<ToolSettings>().brush_radius = 4.0;
    s.click(Vec2::new(46.0, 46.0), 1);
    s.app.world_mut().resource_mut::<nca_sandbox::scene::SceneSettings>().rotation_degrees = -20.0;
    let target = s.step() + 20;
    s.until("it heals a little", |app| grid_step(app).unwrap() >= target);
    let now = s.pause_and_read();
    let file = s._dir.path().join("scene.ron");
    s.app.world_mut().write_message(ScenarioCommand::SaveScene(file.clone()));
    s.update();
    let status = s.app.world().resource::<ScenarioStatus>().message.clone().unwrap_or_default();
    assert!(status.starts_with("saved"), "{status}");
    let scene = replays_to(s, &file, &now);
    assert!(scene.scenario.events.len() >= 3, "the start, the erase and the turn: {:?}", scene.scenario.events);
    leave_scenario(s, original);
    s.playback().paused = false;
}

/// A kiosk's playlist plays its scenarios in turn, each on its own grid, and a snapshot does not
/// stop an unattended show (it once paused it for good); Save scene writes the scene with its
/// model beside it, and the file reads back.
fn a_playlist_plays_in_turn_and_a_scene_saves(s: &mut Sandbox) {
    use nca_sandbox::model::scenario::LoadedScenario;
    use nca_sandbox::scene::scenario::{Playlist, ScenarioCommand, ScenarioPlayer, ScenarioStatus, stage};
    let original = sandbox_model(s);
    let model = s.model_file.display().to_string();
    let write = |name: &str, size: (u32, u32)| {
        let file = s._dir.path().join(name);
        let text = format!(
            r#"Scenario(version: 1, name: "{name}", grid: (width: {}, height: {}), species: [(name: "l", model: "{model}")],
               organisms: [(species: "l", at: (10, 10))], steps: 12, events: [(step: 5, do: Snapshot("mid"))])"#,
            size.0, size.1
        );
        std::fs::write(&file, text).unwrap();
        (std::sync::Arc::new(LoadedScenario::load(&file).unwrap()), file)
    };
    let items = vec![write("a.ron", (40, 40)), write("b.ron", (56, 32))];
    let mut playlist = Playlist::new(items.clone());
    playlist.hold_seconds = 0.0;
    let first = {
        let world = s.app.world_mut();
        let mut player = ScenarioPlayer::new((*items[0].0).clone(), items[0].1.clone());
        let first = world.resource_scope(|world, mut settings: Mut<nca_sandbox::scene::SceneSettings>| {
            world.resource_scope(|world, mut digits: Mut<DigitsSettings>| {
                world.resource_scope(|_, mut models: Mut<Assets<NcaModel>>| stage(&mut player, &mut settings, &mut digits, &mut models))
            })
        });
        world.insert_resource(player);
        world.insert_resource(playlist);
        first
    };
    s.app.world_mut().write_message(SceneCommand::SetModel(first));
    s.playback().paused = false;
    s.playback().speed = Speed::Four;
    let shape = |s: &mut Sandbox| {
        let entity = s.grid();
        let g = s.app.world().get::<CaGrid>(entity).unwrap();
        (g.width, g.height)
    };
    s.until("the first scenario runs", |app| app.world().resource::<ScenarioPlayer>().source == items[0].1);
    s.until("the second scenario starts", |app| app.world().resource::<ScenarioPlayer>().source == items[1].1);
    s.until("its grid is its own", |app| {
        let mut q = app.world_mut().query_filtered::<&CaGrid, With<SandboxGrid>>();
        q.iter(app.world()).next().is_some_and(|g| (g.width, g.height) == (56, 32) && g.step > 0)
    });
    assert_eq!(shape(s), (56, 32));
    s.until("the playlist comes round again", |app| app.world().resource::<Playlist>().index == 0);

    // Save scene: the playing scenario, its model written beside it.
    let saved = s._dir.path().join("saved.ron");
    s.app.world_mut().write_message(ScenarioCommand::SaveScene(saved.clone()));
    s.update();
    let status = s.app.world().resource::<ScenarioStatus>().message.clone().unwrap_or_default();
    assert!(status.starts_with("saved"), "{status}");
    let back = LoadedScenario::load(&saved).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.model_paths[0], s._dir.path().join("saved.species0.safetensors"));
    assert_eq!(back.scenario.organisms.len(), 1);

    s.app.world_mut().remove_resource::<Playlist>();
    s.app.world_mut().write_message(SceneCommand::SetModel(original));
    s.update();
    s.update();
    assert_eq!(s.app.world().resource::<DigitsSettings>().canvas, (160, 64), "leaving gives back the scene before the playlist");
    s.app.world_mut().remove_resource::<ScenarioPlayer>();
    s.playback().paused = false;
}

fn lesson<T>(s: &Sandbox, read: impl FnOnce(&nca_sandbox::scene::teach::ActiveLesson) -> T) -> T {
    read(s.app.world().resource::<TeachState>().lesson.as_ref().expect("a lesson"))
}

fn sandbox_model(s: &mut Sandbox) -> Handle<NcaModel> {
    let entity = s.grid();
    s.app.world().get::<CaGrid>(entity).unwrap().model.clone()
}

fn a_lesson_teaches_the_grid_while_it_runs(s: &mut Sandbox) {
    // A small picture and a small recipe, so that iterations are quick in a test build.
    let picture = s._dir.path().join("red.png");
    image::RgbaImage::from_pixel(8, 8, image::Rgba([220, 30, 30, 255])).save(&picture).unwrap();
    {
        let mut settings = s.app.world_mut().resource_mut::<TeachSettings>();
        settings.pool_size = 16;
        settings.batch_size = 2;
        settings.steps = (8, 12);
        settings.threads = 1;
        settings.publish_every_iterations = 3;
        settings.publish_every_seconds = 3600.0;
    }
    let broken = s._dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n").unwrap();
    s.app.world_mut().write_message(TeachCommand::Start {
        target: TeachTarget::Picture(broken),
        mode: GrowingMode::Persistent,
        from: TeachFrom::Current,
    });
    s.update();
    let library = s.app.world().resource::<ModelLibrary>();
    assert!(library.messages.iter().any(|m| m.is_error && m.text.contains("did not start") && m.text.contains("broken.png")));
    assert!(s.app.world().resource::<TeachState>().lesson.is_none(), "no job for a broken picture");

    let transport = (s.playback().paused, s.playback().speed);
    s.playback().paused = false;
    s.playback().speed = Speed::One;
    let parent = sandbox_model(s);
    let step_before = s.step();
    s.app.world_mut().write_message(TeachCommand::Start {
        target: TeachTarget::Picture(picture),
        mode: GrowingMode::Persistent,
        from: TeachFrom::Current,
    });
    let mut frames = 0;
    s.until("the lesson publishes twice", |app| {
        frames += 1;
        app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| l.swaps >= 2)
    });
    let (fork, shown) = lesson(s, |l| (l.fork.clone(), l.last_good.clone().unwrap()));
    assert_eq!(sandbox_model(s).id(), fork.id(), "the grid runs the lesson's copy");
    assert_ne!(fork.id(), parent.id());
    let running = s.app.world().resource::<Assets<NcaModel>>().get(&fork).unwrap().weights.clone();
    assert!(Arc::ptr_eq(&running, &shown), "the grid runs the published weights");
    let original = s.app.world().resource::<Assets<NcaModel>>().get(&parent).unwrap().weights.clone();
    assert_ne!(*running, *original, "they are learnt, not the original");
    // At 1× every frame is one step: a reset anywhere on the way would have restarted the count.
    let step = s.step();
    assert_eq!(step, step_before + frames, "the grid went on stepping through the swaps, without a reset");

    // Side by side: the learner beside the original.
    s.app.world_mut().resource_mut::<TeachSettings>().side_by_side = true;
    s.update();
    s.update();
    let mut previews = s.app.world_mut().query_filtered::<&CaGrid, With<TeachPreviewGrid>>();
    let preview = previews.iter(s.app.world()).next().expect("a second grid").clone();
    assert_eq!(preview.model.id(), fork.id());
    assert_eq!(sandbox_model(s).id(), parent.id(), "the first grid keeps the original");
    s.app.world_mut().resource_mut::<TeachSettings>().side_by_side = false;
    s.update();
    s.update();
    assert_eq!(previews.iter(s.app.world()).count(), 0);
    assert_eq!(sandbox_model(s).id(), fork.id());

    // The loss falls over the iterations (a deterministic run: one thread, seed 0).
    s.until("30 iterations", |app| app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| l.iteration >= 30));
    let (first, last) = lesson(s, |l| l.loss_first_last().unwrap());
    assert!(last < first * 0.8, "the loss falls: {first:.4} → {last:.4}");

    // Save as: a loadable model with its provenance, offered in the picker.
    let out = s._dir.path().join("red_taught.safetensors");
    s.app.world_mut().write_message(TeachCommand::SaveAs(out.clone()));
    s.until("the lesson is saved", |app| app.world().resource::<ModelLibrary>().entries.iter().any(|e| e.path == out));
    let saved = nca_sandbox::model::NcaWeights::load(&out).unwrap();
    let meta = saved.provenance();
    assert_eq!(meta.get("nca.teach.parent").map(String::as_str), Some("lizard.safetensors"));
    assert_eq!(saved.as_growing().unwrap().spec.target, "red");
    assert!(meta.get("nca.train.recipe").is_some_and(|r| r.contains("\"pool_size\":16")), "{meta:?}");

    // The model's file may go while the lesson runs: the lesson has its own copy.
    let file_bytes = lizard().to_safetensors();
    write_later(&s.model_file, &file_bytes);
    std::fs::remove_file(&s.model_file).unwrap();
    let iteration = lesson(s, |l| l.iteration);
    s.until("the lesson goes on without its file", |app| {
        app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| l.iteration >= iteration + 3 && l.is_live())
    });
    write_later(&s.model_file, &file_bytes);

    // Stop ends the job; the grid keeps what it learnt.
    s.app.world_mut().write_message(TeachCommand::Stop);
    s.until("the job ends", |app| app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| !l.is_live()));
    assert!(matches!(lesson(s, |l| l.status.clone()), LessonStatus::Ended(_)));
    assert_eq!(sandbox_model(s).id(), fork.id());

    // An unfinished lesson of another kind, or with a broken checkpoint, is refused with a reason.
    let lessons = s.app.world().resource::<TeachSettings>().lesson_dir.clone();
    std::fs::create_dir_all(&lessons).unwrap();
    for (kind, checkpoint, expected) in
        [("mnist", &b"junk"[..], "teaches a mnist model"), ("growing", &b"junk"[..], "not a readable checkpoint")]
    {
        let record = format!(r#"{{"version":1,"kind":"{kind}","what":"x","parent":"p","iteration":3}}"#);
        std::fs::write(lessons.join("lesson.json"), record).unwrap();
        std::fs::write(lessons.join("lesson.ckpt.safetensors"), checkpoint).unwrap();
        let found = nca_sandbox::scene::teach::read_unfinished(&lessons).unwrap();
        assert!(found.is_some());
        s.app.world_mut().resource_mut::<TeachState>().unfinished = found;
        s.app.world_mut().write_message(TeachCommand::Continue);
        s.until("the refusal is said", |app| {
            app.world().resource::<ModelLibrary>().messages.iter().any(|m| m.is_error && m.text.contains(expected))
        });
    }
    s.app.world_mut().write_message(TeachCommand::Discard);
    s.update();
    assert!(!lessons.join("lesson.json").exists(), "discarding forgets it");

    // "This, as it is now": the organism's own picture becomes the target.
    s.app.world_mut().write_message(TeachCommand::Start {
        target: TeachTarget::AsItIsNow,
        mode: GrowingMode::Growing,
        from: TeachFrom::Current,
    });
    s.until("a lesson toward the organism starts", |app| {
        app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| l.what == "this, as it was" && l.iteration >= 1)
    });
    s.app.world_mut().write_message(TeachCommand::Stop);
    s.until("it ends", |app| app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| !l.is_live()));
    let step = s.step();
    s.update();
    assert!(s.step() > step, "the scene keeps running");
    (s.playback().paused, s.playback().speed) = transport;
}

fn a_labelled_digit_is_kept_as_handwriting(s: &mut Sandbox) {
    let before = s.app.world().resource::<TeachState>().handwriting.len();
    s.app.world_mut().write_message(TeachCommand::Label(7));
    s.until("the digit is kept", |app| app.world().resource::<TeachState>().handwriting.len() > before);
    let (picture, label) = s.app.world().resource::<TeachState>().handwriting.last().unwrap().clone();
    assert_eq!(label, 7);
    assert_eq!(picture.len(), 28 * 28);
    let inked: Vec<usize> = (0..28 * 28).filter(|&p| picture[p] > 64).collect();
    assert!(inked.len() > 20, "the digit's ink is kept ({} pixels)", inked.len());
    let rows: Vec<usize> = inked.iter().map(|p| p / 28).collect();
    let (top, bottom) = (*rows.iter().min().unwrap(), *rows.iter().max().unwrap());
    assert!(top >= 2 && bottom <= 25, "it fits MNIST's box ({top}..{bottom})");
}

fn a_handwriting_lesson_learns_under_the_persons_writing(s: &mut Sandbox) {
    {
        let mut settings = s.app.world_mut().resource_mut::<TeachSettings>();
        settings.mnist_dir = common::reference_dir().join("mnist");
        settings.publish_every_iterations = 2;
        settings.threads = 1;
    }
    let grey = |g: &Grid| g.data.chunks(g.channels).map(|c| c[0]).collect::<Vec<f32>>();
    let before = grey(&s.pause_and_read());
    s.playback().paused = false;
    s.app.world_mut().write_message(TeachCommand::StartHandwriting);
    s.until("the lesson scores the digits and swaps its weights in", |app| {
        app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| l.swaps >= 1 && l.score_last.is_some())
    });
    let (kind, score) = lesson(s, |l| (l.kind, l.score_first));
    assert_eq!(kind, ModelKind::Mnist);
    let total = s.app.world().resource::<TeachState>().handwriting.len();
    assert_eq!(score.map(|(_, of)| of), Some(total), "the person's digits are scored");
    assert_eq!(sandbox_model(s).id(), lesson(s, |l| l.fork.id()), "the canvas runs the lesson's copy");
    s.app.world_mut().write_message(TeachCommand::Stop);
    s.until("it ends", |app| app.world().resource::<TeachState>().lesson.as_ref().is_some_and(|l| !l.is_live()));
    // The model's swap did not start the canvas over: the person's ink is as it was.
    assert_eq!(grey(&s.pause_and_read()), before, "the writing on the canvas is untouched");
}

/// Writes a file so its modification time visibly changes (coarse file-system clocks).
fn write_later(path: &Path, bytes: &[u8]) {
    std::thread::sleep(Duration::from_millis(20));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    let _ = std::fs::File::options().write(true).open(path).and_then(|f| f.set_modified(later));
}

#[test]
fn sandbox_tools_transport_species_and_reload() {
    let mut s = Sandbox::new();
    type Check = fn(&mut Sandbox);
    let checks: [(&str, Check); 21] = [
        ("kiosk: starts over when nothing lives and after idling", kiosk_starts_over_when_nothing_lives_and_after_idling),
        ("transport: speed and pause", transport),
        ("a recording replays to the same state", a_recording_replays_to_the_same_state),
        ("a saved scene replays to the same state", a_saved_scene_replays_to_the_same_state),
        ("a playlist plays in turn; a scene saves", a_playlist_plays_in_turn_and_a_scene_saves),
        ("a click erases a disc of the brush radius", click_erases_a_disc),
        ("a double-click plants a seed that grows", double_click_plants_a_seed_that_grows),
        ("the species brush plants another species", species_brush_plants_another_species),
        ("hot reload swaps the weights and keeps the state", hot_reload_swaps_weights_and_keeps_the_state),
        ("a lesson teaches the grid while it runs", a_lesson_teaches_the_grid_while_it_runs),
        ("dropping a non-model is an error", dropping_a_non_model_is_an_error),
        (
            "an MNIST model opens a canvas with a digit, the pen and the adversary brush",
            an_mnist_model_opens_a_canvas_with_a_digit_the_pen_and_the_adversary_brush,
        ),
        (
            "a digit button mutates the digit; the read-out agrees with the CPU",
            a_digit_button_mutates_the_digit_and_the_read_out_agrees_with_the_cpu,
        ),
        ("two digits far apart are read out as two", two_digits_far_apart_are_read_out_as_two),
        ("a labelled digit is kept as handwriting", a_labelled_digit_is_kept_as_handwriting),
        ("a handwriting lesson learns under the person's writing", a_handwriting_lesson_learns_under_the_persons_writing),
        ("a chimera preset builds the paper's chimera", a_chimera_preset_builds_the_papers_chimera),
        ("sprinkling adversaries and removing them", sprinkling_adversaries_and_removing_them),
        ("a recording on a canvas replays", a_recording_on_a_canvas_replays),
        ("the kiosk plays by itself until touched", the_kiosk_plays_by_itself_until_touched),
        ("bad digit pictures and missing samples are reported", bad_digit_pictures_and_missing_samples_are_reported),
    ];
    for (name, check) in checks {
        eprintln!("check: {name}");
        check(&mut s);
    }
}
