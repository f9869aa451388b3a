//! Scenarios: exact replay, events on their step, CPU and GPU (lavapipe in CI) agreeing, and what
//! a run writes. The models are the project's own (`trained/`), the samples `assets/mnist`.

mod common;

use std::path::Path;

use nca_sandbox::app::headless::GpuScenario;
use nca_sandbox::model::scenario::reduce::{SlotSums, reduce};
use nca_sandbox::model::scenario::run::{CpuBackend, DiscardStates, Regions, RunRecord, ScenarioBackend, run};
use nca_sandbox::model::scenario::{LoadedScenario, Scenario, Step, output};

fn scene(text: &str) -> LoadedScenario {
    let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
    LoadedScenario::from_scenario(scenario, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn play(scene: &LoadedScenario, seed: u32, backend: &mut dyn ScenarioBackend) -> RunRecord {
    run(scene, seed, backend, &mut DiscardStates, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// Two lizards of two species, a wound at step 25 and a swap at 30.
const LIZARDS: &str = r#"Scenario(
    version: 1,
    grid: (width: 56, height: 40, seed: 5),
    species: [
        (name: "lizard", model: "trained/lizard_regenerating.safetensors"),
        (name: "butterfly", model: "trained/butterfly_regenerating.safetensors"),
    ],
    organisms: [(species: "lizard", at: (16, 20)), (species: "butterfly", at: (40, 20))],
    steps: 48,
    events: [
        (step: 25, do: EraseDisc(center: (16.0, 20.0), radius: 5.0)),
        (step: 30, do: SwapModel(species: "butterfly", model: "trained/lizard_growing.safetensors")),
        (step: 33, do: Rotate(90.0)),
        (step: 40, do: Cut(from: (0.0, 30.0), to: (56.0, 10.0), width: 2.0)),
    ],
    record: (every: 1, gif: (every: 6, scale: 2)),
)"#;

/// Two digits, adversaries at step 10, a mutation and a stroke.
const DIGITS: &str = r#"Scenario(
    version: 1,
    grid: (width: 60, height: 30, seed: 2, background: (0.0, 0.0, 0.0)),
    species: [
        (name: "classifier", model: "trained/mnist.safetensors"),
        (name: "adversary", model: "trained/mnist_adversary.safetensors"),
    ],
    digits: [(digit: Sample(class: 4), at: (15.0, 15.0)), (digit: Chimera(upper: 3, lower: 5), at: (45.0, 15.0))],
    steps: 30,
    events: [
        (step: 10, do: Adversaries(species: "adversary", fraction: 0.2)),
        (step: 18, do: Mutate(digit: 0, into: Sample(class: 7))),
        (step: 22, do: Stroke(points: [(40.0, 5.0), (50.0, 25.0)], radius: 1.5)),
    ],
    record: (every: 1, gif: None),
)"#;

fn row<'a>(record: &'a RunRecord, step: u32, region: &str) -> &'a nca_sandbox::model::scenario::run::MetricRow {
    record.rows.iter().find(|r| r.step == step && r.region == region).unwrap_or_else(|| panic!("no row for {region} at {step}"))
}

#[test]
fn a_scenario_run_twice_is_bit_identical() {
    let scene = scene(LIZARDS);
    let a = play(&scene, 5, &mut CpuBackend::default());
    let b = play(&scene, 5, &mut CpuBackend::default());
    assert_eq!(a.last.data, b.last.data);
    assert_eq!(output::metrics_csv(std::slice::from_ref(&a)), output::metrics_csv(&[b]));
    let other = play(&scene, 6, &mut CpuBackend::default());
    assert_ne!(a.last.data, other.last.data, "another seed gives another run");
    // Every recorded step has a row for the grid, both species and both organisms.
    assert_eq!(a.rows.len(), 49 * 5);
    assert!(row(&a, 48, "organism 0").alive > 50, "the lizard grew");
}

#[test]
fn an_event_lands_exactly_on_its_step() {
    let with = scene(LIZARDS);
    let mut without_wound = Scenario::parse(LIZARDS).unwrap();
    without_wound.events.remove(0);
    let without = LoadedScenario::from_scenario(without_wound, Path::new(".")).unwrap();
    let a = play(&with, 5, &mut CpuBackend::default());
    let b = play(&without, 5, &mut CpuBackend::default());
    assert_eq!(row(&a, 24, "organism 0"), row(&b, 24, "organism 0"), "nothing differs before step 25");
    assert!(row(&a, 25, "organism 0").alive < row(&b, 25, "organism 0").alive, "the wound shows at step 25");
}

#[test]
fn digits_are_measured_and_mutations_relabel_them() {
    let scene = scene(DIGITS);
    let record = play(&scene, 2, &mut CpuBackend::default());
    let four = row(&record, 9, "digit 0");
    assert_eq!(four.majority, Some(4), "a sample 4 is read as 4 after 9 steps: {four:?}");
    // The majority is the true class, so the share agreeing with it is the share that is right.
    assert!(four.accuracy.unwrap() > 0.3 && four.agreement == four.accuracy, "{four:?}");
    assert_eq!(row(&record, 9, "digit 1").accuracy, None, "a chimera has no true class");
    assert!(row(&record, 12, "species adversary").alive > 0, "adversaries took cells at step 10");
    let seven = row(&record, 30, "digit 0");
    assert!(seven.accuracy.is_some(), "after the mutation the digit is judged as a 7: {seven:?}");
}

#[test]
fn outputs_are_written_under_their_names() {
    let scene = scene(LIZARDS);
    let dir = tempfile::tempdir().unwrap();
    let (records, _) = output::run_into(&scene, &[1, 2], &mut CpuBackend::default(), dir.path(), &mut |_, _| {}).unwrap();
    for (record, seed) in records.iter().zip([1, 2]) {
        assert_eq!(record.rows, play(&scene, seed, &mut CpuBackend::default()).rows, "writing as it goes changes nothing measured");
    }
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 49 * 5);
    let summary = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    assert!(summary.lines().any(|l| l.starts_with("48,organism 0,alive,2,")), "{summary}");
    for seed in [1, 2] {
        let folder = dir.path().join(format!("seed-{seed}"));
        let state = nca_sandbox::model::snapshot::load_state(&folder.join("final.safetensors")).unwrap();
        assert_eq!(state.data, records[seed as usize - 1].last.data);
        assert_eq!(state.species, records[seed as usize - 1].last.species, "the two species are told apart");
        assert!(state.species.contains(&1));
        // Frames every 6 steps and the last: 0, 6, …, 42, 48.
        let gif = std::fs::File::open(folder.join("run.gif")).unwrap();
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(gif).unwrap();
        assert_eq!((decoder.width(), decoder.height()), (112, 80));
        let mut frames = 0;
        while decoder.read_next_frame().unwrap().is_some() {
            frames += 1;
        }
        assert_eq!(frames, 9);
    }
}

#[test]
fn bad_scenario_files_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.ron");
    std::fs::write(&file, "Scenario(\n  version: 1,\n  grid: (width: 32, height: 32)\n  steps: 3,\n)").unwrap();
    let e = LoadedScenario::load(&file).unwrap_err();
    assert!(e.starts_with(&format!("{}:4:", file.display())), "{e}");
    let e = LoadedScenario::load(dir.path()).unwrap_err();
    assert!(e.contains("is a folder"), "{e}");
    std::fs::write(&file, LIZARDS.replace("trained/lizard_growing.safetensors", "trained/nope.safetensors")).unwrap();
    let e = LoadedScenario::load(&file).unwrap_err();
    assert!(e.contains("trained/nope.safetensors") && e.contains("events[1]"), "{e}");
    std::fs::write(
        &file,
        DIGITS.replace(
            "(name: \"classifier\", model: \"trained/mnist.safetensors\"),",
            "(name: \"classifier\", model: \"trained/lizard_growing.safetensors\"),",
        ),
    )
    .unwrap();
    let e = LoadedScenario::load(&file).unwrap_err();
    assert!(e.contains("mix"), "{e}");
}

#[test]
fn the_bundled_scenarios_load() {
    for entry in std::fs::read_dir("assets/scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            LoadedScenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The GPU's region sums against the CPU reference's on the very same states (read back from
/// the GPU): integers, so everything but the loss must be equal to the bit. The loss may differ
/// by a fused multiply-add.
fn gpu_sums_equal_the_reference(gpu: &mut GpuScenario, name: &str, scene: &LoadedScenario, seed: u32) {
    let regions = Regions::of(scene);
    gpu.start(scene, seed).unwrap();
    let mut now = 0;
    for (&step, events) in scene.timeline.range(..=20) {
        gpu.run(step - now).unwrap();
        now = step;
        for event in events {
            if let Step::Edits(edits) = event {
                gpu.edit(edits).unwrap();
            }
        }
    }
    gpu.run(20 - now).unwrap();
    let before = gpu.state().unwrap();
    let first = gpu.reduce(&regions.layout).unwrap();
    gpu.run(1).unwrap();
    let after = gpu.state().unwrap();
    let second = gpu.reduce(&regions.layout).unwrap();
    for (gpu_sums, reference) in [
        (first, reduce(scene.kind, &regions.layout, &before, None).unwrap()),
        (second, reduce(scene.kind, &regions.layout, &after, Some(&before)).unwrap()),
    ] {
        assert_eq!(gpu_sums.len(), reference.len());
        assert!(reference[0].alive > 0, "{name}: something lives");
        for (slot, (g, c)) in gpu_sums.iter().zip(&reference).enumerate() {
            let without_loss = |s: &SlotSums| SlotSums { loss: Default::default(), ..*s };
            assert_eq!(without_loss(g), without_loss(c), "{name}: slot {slot}");
            let (gl, cl) = (g.loss.value(), c.loss.value());
            assert!((gl - cl).abs() <= 1e-5 * (1.0 + cl.abs()), "{name}: slot {slot} loss {gl} vs {cl}");
        }
    }
}

/// The GPU against the CPU reference, on one renderer for every check.
#[test]
fn gpu_runs_match_the_cpu() {
    let mut gpu = GpuScenario::new().unwrap_or_else(|e| panic!("GPU unavailable: {e}"));
    eprintln!("adapter: {}", gpu.adapter());
    for (name, text, seed, tolerance) in [("lizards", LIZARDS, 5, 2e-4), ("digits", DIGITS, 2, 2e-3)] {
        let scene = scene(text);
        gpu_sums_equal_the_reference(&mut gpu, name, &scene, seed);
        let cpu = play(&scene, seed, &mut CpuBackend::default());
        gpu.steps_per_frame = 7;
        let on_gpu = play(&scene, seed, &mut gpu);
        assert_eq!(cpu.rows.len(), on_gpu.rows.len());
        let close = |a: f64, b: f64| (a - b).abs() <= tolerance * (1.0 + a.abs());
        let close_or_none = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => close(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        for (c, g) in cpu.rows.iter().zip(&on_gpu.rows) {
            assert_eq!((c.step, &c.region, c.cells, c.alive), (g.step, &g.region, g.cells, g.alive), "{name}: alive cells differ");
            assert!(close(c.mean_abs_state, g.mean_abs_state), "{name}: {c:?} vs {g:?}");
            assert!(close_or_none(c.mean_abs_update, g.mean_abs_update), "{name}: {c:?} vs {g:?}");
            assert!(close_or_none(c.loss, g.loss), "{name}: {c:?} vs {g:?}");
            assert!(close_or_none(c.accuracy, g.accuracy) && close_or_none(c.agreement, g.agreement), "{name}: {c:?} vs {g:?}");
            assert_eq!(c.majority, g.majority, "{name}: {c:?} vs {g:?}");
        }
        let alive = |g: &nca_sandbox::model::Grid| scene.kind.alive_mask(g);
        assert_eq!(alive(&cpu.last), alive(&on_gpu.last), "{name}: final alive masks differ");
        // A second GPU run of the same scenario is bit-identical, tables included.
        let again = play(&scene, seed, &mut gpu);
        assert_eq!(again.last.data, on_gpu.last.data, "{name}: the GPU replays exactly");
        assert_eq!(output::metrics_csv(&[again]), output::metrics_csv(&[on_gpu]), "{name}: the GPU's tables replay exactly");
    }
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn two_runs_of_a_bundled_scenario_write_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let outputs: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let out = dir.path().join(name);
            let status = std::process::Command::new(env!("CARGO_BIN_EXE_nca"))
                .args(["scenario", "run", "assets/scenarios/regeneration.ron", "--seeds", "0,3", "--quiet", "--out"])
                .arg(&out)
                .status()
                .unwrap();
            assert!(status.success());
            files_under(&out)
        })
        .collect();
    let names: Vec<_> = outputs[0].keys().map(|p| p.display().to_string()).collect();
    for expected in
        ["metrics.csv", "summary.csv", "seed-0/final.safetensors", "seed-3/run.gif", "seed-3/grown.safetensors", "seed-0/grown.png"]
    {
        assert!(names.contains(&expected.to_string()), "{expected} missing from {names:?}");
    }
    assert_eq!(outputs[0].len(), outputs[1].len(), "{names:?}");
    for (path, bytes) in &outputs[0] {
        assert!(outputs[1][path] == *bytes, "{} differs between two runs of the same scenario", path.display());
    }
}

#[test]
fn a_playlist_skips_a_broken_file_and_plays_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("assets/scenarios/regeneration.ron", dir.path().join("a_good.ron")).unwrap();
    std::fs::write(dir.path().join("b_broken.ron"), "Scenario(version: 1, grid: (width: 8").unwrap();
    std::fs::write(dir.path().join("c_missing_model.ron"), LIZARDS.replace("lizard_growing", "no_such_model")).unwrap();
    let playlist = nca_sandbox::scene::scenario::read_playlist(dir.path()).unwrap();
    assert_eq!(playlist.items.len(), 1);
    assert!(playlist.items[0].1.ends_with("a_good.ron"));
    std::fs::remove_file(dir.path().join("a_good.ron")).unwrap();
    let e = nca_sandbox::scene::scenario::read_playlist(dir.path()).unwrap_err();
    assert!(e.contains("none of its 2 scenarios") && e.contains("b_broken.ron") && e.contains("no_such_model"), "{e}");
}

/// The peak memory `nca scenario run` reports for a 256² lizard run of `steps` steps, GIF frames
/// every 4 steps.
fn peak_memory_mb(dir: &std::path::Path, steps: u32) -> f64 {
    let file = dir.join(format!("steps-{steps}.ron"));
    std::fs::write(
        &file,
        format!(
            r#"Scenario(version: 1, grid: (width: 256, height: 256), species: [(name: "l", model: "trained/lizard_regenerating.safetensors")],
               organisms: [(species: "l", at: (128, 128))], steps: {steps}, record: (every: 10, gif: (every: 4, scale: 1)))"#
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["scenario", "run", file.to_str().unwrap(), "--quiet", "--out"])
        .arg(dir.join(format!("out-{steps}")))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let peak = stdout.split("peak memory ").nth(1).and_then(|s| s.split(' ').next()).unwrap_or_else(|| panic!("{stdout}"));
    peak.parse().unwrap()
}

#[test]
fn a_runs_memory_does_not_grow_with_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (short, long) = (peak_memory_mb(dir.path(), 24), peak_memory_mb(dir.path(), 480));
    // Kept frames would add 121 states of 4 MB (the grid) and their pictures: ~500 MB.
    assert!(long < short + 48.0, "peak {long} MB after 480 steps against {short} MB after 24");
}
