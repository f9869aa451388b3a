//! Seeded mutations of every bundled scenario: numbers pushed to their limits and past them,
//! events and regions duplicated, odd names, files that name what is not a model. Each variant
//! goes through `nca scenario check`, and a short `nca scenario run`, as a separate process
//! under a memory cap and a time bound; each must end in a valid run or one clean line of
//! error, never a panic, an abort, an out-of-memory kill or a hang. A failure names the
//! scenario, the mutation and the seed, so it can be replayed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nca_sandbox::model::scenario::{Action, Event, NamedRegion, Scenario, Side};
use nca_sandbox::train::Pcg32;

/// Variants per bundled scenario through `check`; every `RUN_EVERY`th is also run.
const VARIANTS: usize = 24;
const RUN_EVERY: usize = 4;
/// Address space each process may take: far below the machine's memory, far above what any
/// valid variant needs.
const MEMORY_CAP_KB: u64 = 6 << 20;
const TIME_LIMIT: Duration = Duration::from_secs(90);

fn pick<T: Copy>(rng: &mut Pcg32, values: &[T]) -> T {
    values[rng.range_u32(0, values.len() as u32 - 1) as usize]
}

const EXTREME_U32: [u32; 7] = [0, 1, 3, 4096, 4097, 10_000_001, u32::MAX];
const EXTREME_F32: [f32; 9] = [0.0, -1.0, 1e-3, 0.5, 4096.0, 1e30, f32::MAX, f32::NAN, f32::INFINITY];
const ODD_NAMES: [&str; 7] = ["grid", "", "a,b", "quote\"d", "ünïcödé ☃", "final", "species lizard"];

/// One mutation of `s`, described.
fn mutate(rng: &mut Pcg32, s: &mut Scenario) -> String {
    match rng.range_u32(0, 11) {
        0 => {
            let (w, h) = (pick(rng, &EXTREME_U32), pick(rng, &EXTREME_U32));
            (s.grid.width, s.grid.height) = (w, h);
            format!("grid {w}×{h}")
        }
        1 => {
            s.steps = pick(rng, &EXTREME_U32);
            format!("steps {}", s.steps)
        }
        2 if !s.events.is_empty() => {
            let i = rng.range_u32(0, s.events.len() as u32 - 1) as usize;
            let copies = pick(rng, &[10usize, 1000, 20_000, 100_001]);
            let event = s.events[i].clone();
            s.events.extend(std::iter::repeat_n(event, copies));
            format!("event {i} repeated {copies} times")
        }
        3 if !s.events.is_empty() => {
            let i = rng.range_u32(0, s.events.len() as u32 - 1) as usize;
            s.events[i].step = pick(rng, &[0, s.steps, s.steps.saturating_add(1), u32::MAX]);
            format!("event {i} at step {}", s.events[i].step)
        }
        4 => {
            let (w, h) = (s.grid.width as f32, s.grid.height as f32);
            let r = pick(rng, &EXTREME_F32);
            let copies = pick(rng, &[1usize, 200]);
            // One long stroke, or many short ones: 200 strokes of 10⁵ points would be a file of
            // hundreds of megabytes, which the size limit refuses before anything else.
            let points = if copies == 1 { pick(rng, &[2usize, 1000, 100_000]) } else { 2 };
            let action = match rng.range_u32(0, 5) {
                0 => Action::EraseDisc { center: [pick(rng, &EXTREME_F32), h / 2.0], radius: r },
                1 => Action::Cut { from: [0.0, 0.0], to: [w, h], width: r },
                2 => Action::Stroke {
                    points: (0..points).map(|i| if i % 2 == 0 { [0.0, 0.0] } else { [w, h] }).collect(),
                    radius: r,
                    species: None,
                },
                3 => Action::Adversaries { species: s.species[0].name.clone(), fraction: pick(rng, &EXTREME_F32), rect: None },
                4 => Action::EraseRect { min: [pick(rng, &EXTREME_U32), 0], max: [pick(rng, &EXTREME_U32), pick(rng, &EXTREME_U32)] },
                _ => Action::EraseHalf(Side::Bottom),
            };
            let text = format!("{action:?}");
            s.events.extend(std::iter::repeat_n(Event { step: 1, action }, copies));
            format!("{copies}× {}", &text[..text.len().min(80)])
        }
        5 => {
            let name = pick(rng, &ODD_NAMES).to_string();
            s.record.regions.push(NamedRegion { name: name.clone(), min: [0, 0], max: [2, 2] });
            s.record.regions.push(NamedRegion { name: name.clone(), min: [1, 1], max: [3, 3] });
            format!("two regions named {name:?}")
        }
        6 => {
            s.record.every = pick(rng, &[0, 1, u32::MAX]);
            if let Some(gif) = &mut s.record.gif {
                gif.every = pick(rng, &[0, 1, 1000]);
                gif.scale = pick(rng, &[0, 1, 16, 17, 1000]);
            }
            s.record.frames = pick(rng, &[None, Some(0), Some(1)]);
            format!("record {:?}", s.record)
        }
        7 => {
            let name = pick(rng, &ODD_NAMES).to_string();
            s.events.push(Event { step: 1, action: Action::Snapshot(name.clone()) });
            s.events.push(Event { step: 2, action: Action::Snapshot(name.clone()) });
            format!("two snapshots named {name:?}")
        }
        8 => {
            let model = pick(rng, &["/dev/zero", "trained", "/no/such/model.safetensors", "README.md", "assets/targets/lizard.png"]);
            s.species[0].model = PathBuf::from(model);
            format!("species model {model}")
        }
        9 => {
            let name = pick(rng, &ODD_NAMES).to_string();
            let mut twin = s.species[0].clone();
            twin.name = name.clone();
            s.species.push(twin);
            format!("another species named {name:?}")
        }
        _ => {
            s.grid.rotation = pick(rng, &EXTREME_F32);
            s.grid.background = [pick(rng, &EXTREME_F32), 0.0, 1.0];
            format!("rotation {} background {:?}", s.grid.rotation, s.grid.background)
        }
    }
}

/// Runs the binary under the memory cap; `None` if it outlived the time limit (then killed).
fn capped(args: &[&str]) -> (Option<std::process::ExitStatus>, String) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_nca"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match common::run_bounded(&mut command, TIME_LIMIT) {
        Some(out) => (Some(out.status), String::from_utf8_lossy(&out.stderr).into_owned()),
        None => (None, String::new()),
    }
}

/// A valid outcome: success, or exit status 1 with one `error:` line.
fn judge(what: &str, args: &[&str]) -> bool {
    let (status, stderr) = capped(args);
    let status = status.unwrap_or_else(|| panic!("{what}: hung (killed after {TIME_LIMIT:?})"));
    if status.success() {
        return true;
    }
    let stderr = stderr.trim();
    assert_eq!(status.code(), Some(1), "{what}: died ({status}) — a panic, an abort or the memory cap: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("error:") && !stderr.contains("panicked"), "{what}: {stderr}");
    false
}

fn bundled() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "ron")).collect();
    files.sort();
    assert!(files.len() >= 5);
    files
}

#[test]
fn mutated_bundled_scenarios_end_in_a_valid_run_or_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut valid, mut refused) = (0, 0);
    for (n, file) in bundled().iter().enumerate() {
        let original = Scenario::load(file).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        for variant in 0..VARIANTS {
            let seed = (n * 1000 + variant) as u64;
            let mut rng = Pcg32::new(seed);
            let mut scenario = original.clone();
            let what: Vec<String> = (0..rng.range_u32(1, 2)).map(|_| mutate(&mut rng, &mut scenario)).collect();
            let what = format!("{name} seed {seed} ({})", what.join("; "));
            let path = dir.path().join(format!("{name}-{variant}.ron"));
            // Scenario paths resolve beside the file or from the working folder (the crate root).
            std::fs::write(&path, scenario.to_ron()).unwrap();
            let ok = judge(&format!("check {what}"), &["scenario", "check", path.to_str().unwrap()]);
            if ok {
                valid += 1
            } else {
                refused += 1
            }
            if variant % RUN_EVERY == 0 {
                // A short run: few steps and a small grid keep the bound on time; the hostile
                // parts (events, names, recording) stay as mutated.
                scenario.steps = scenario.steps.clamp(1, 24);
                for e in &mut scenario.events {
                    e.step = e.step.min(scenario.steps);
                }
                (scenario.grid.width, scenario.grid.height) = (scenario.grid.width.min(160), scenario.grid.height.min(160));
                std::fs::write(&path, scenario.to_ron()).unwrap();
                let out = dir.path().join(format!("out-{name}-{variant}"));
                judge(&format!("run {what}"), &["scenario", "run", path.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]);
            }
        }
    }
    eprintln!("{valid} variants valid, {refused} refused cleanly");
    assert!(refused > valid / 2, "most mutations push past a limit: {refused} refused, {valid} valid");
    assert!(valid > 0, "some mutations stay valid");
}
