//! The headless tools and the window, end to end through the `nca` binary.

mod common;

use std::process::{Command, Output};
use std::sync::Mutex;

use common::{diff, reference};
use nca_sandbox::model::snapshot::load_state;

fn nca(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_nca")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "nca {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn step_dumps_the_same_state_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let model = reference("weights/growing_ca_webgl8/ex3_1f98e.json");
    let mut states = Vec::new();
    for backend in ["cpu", "gpu"] {
        let out = dir.path().join(format!("{backend}.safetensors"));
        nca(&[
            "step",
            "--model",
            model.to_str().unwrap(),
            "--steps",
            "60",
            "--seed",
            "4",
            "--size",
            "64",
            "--backend",
            backend,
            "--out",
            out.to_str().unwrap(),
        ]);
        states.push(load_state(&out).unwrap());
    }
    assert_eq!((states[0].width, states[0].height, states[0].channels), (64, 64, 16));
    let (max, mean) = diff(&states[0].data, &states[1].data);
    assert!(mean <= 1e-4 && max <= 1e-2, "cpu and gpu dumps differ: max {max:e}, mean {mean:e}");
    assert_eq!(states[0].alive_mask(), states[1].alive_mask());
    assert!(states[0].alive_mask().iter().filter(|&&a| a).count() > 200, "the lizard should have grown");
}

#[test]
fn render_writes_the_grown_picture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frame.png");
    let model = reference("weights/growing_ca_webgl8/ex3_1f98e.json");
    nca(&["render", "--model", model.to_str().unwrap(), "--steps", "150", "--scale", "2", "--out", out.to_str().unwrap()]);
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (144, 144));
    assert!(count_lizard_green(&img) > 500, "too little lizard in the picture");
}

/// Pixels clearly green (the lizard's body), as opposed to the white background.
fn count_lizard_green(img: &image::RgbImage) -> usize {
    img.pixels().filter(|p| p[1] > 120 && (p[1] as i32 - p[0] as i32) > 40 && (p[1] as i32 - p[2] as i32) > 40).count()
}

/// `xvfb-run -a` picks its display number by looking for a free lock file, so two started at
/// once can pick the same one and the second app finds no display. The window tests take turns.
static XVFB: Mutex<()> = Mutex::new(());

/// `nca ARGS` in a window on a fresh Xvfb screen, from the project root.
fn nca_under_xvfb(args: &[&str]) -> Output {
    let _turn = XVFB.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let xvfb = Command::new("xvfb-run").arg("--help").output();
    assert!(xvfb.is_ok(), "xvfb-run is missing: `apt-get install -y xvfb` (.ci/run installs it)");
    Command::new("xvfb-run")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-a", "-s", "-screen 0 1024x768x24", env!("CARGO_BIN_EXE_nca")])
        .args(args)
        .output()
        .unwrap()
}

/// The real windowed app under Xvfb, as `cargo run --release` starts it (no `--model`: the
/// shipped `trained/lizard_regenerating`, or the fallback while it is not there; grid 128×128):
/// it starts, grows the lizard from one cell, and saves a screenshot 200 frames later.
#[test]
fn window_grows_the_default_lizard_and_takes_a_screenshot() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let out = nca_under_xvfb(&["run", "--speed", "1", "--frames", "200", "--screenshot", shot.to_str().unwrap()]);
    assert!(out.status.success(), "window app failed: {}", String::from_utf8_lossy(&out.stderr));
    let default_shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trained/lizard_regenerating.safetensors").is_file();
    let fell_back = String::from_utf8_lossy(&out.stderr).contains("is not there yet");
    assert_eq!(fell_back, !default_shipped, "nca run should open trained/lizard_regenerating.safetensors exactly when it ships");
    let img = image::open(&shot).unwrap().to_rgb8();
    let green = count_lizard_green(&img);
    assert!(green > 5_000, "screenshot holds {green} lizard-green pixels; no grown organism");
}

/// Two species from the command line: a butterfly planted beside the lizard grows too, and the
/// species view paints the two in different colours.
#[test]
fn window_grows_a_second_species_planted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let lizard = reference("weights/growing_ca_webgl8/ex3_1f98e.json");
    let butterfly = reference("weights/growing_ca_webgl8/ex3_1f98b.json");
    let plant = format!("{}@100,60", butterfly.display());
    let mut shots = Vec::new();
    for view in ["rgb", "species"] {
        let shot = dir.path().join(format!("{view}.png"));
        let out = nca_under_xvfb(&[
            "run",
            "--model",
            lizard.to_str().unwrap(),
            "--plant",
            &plant,
            "--view",
            view,
            "--speed",
            "4",
            "--frames",
            "100",
            "--screenshot",
            shot.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "window app failed: {}", String::from_utf8_lossy(&out.stderr));
        shots.push(image::open(&shot).unwrap().to_rgb8());
    }
    // The butterfly's orange wings (RGB view) and species 1's palette orange (species view).
    let orange = |img: &image::RgbImage| img.pixels().filter(|p| p[0] > 180 && (90..190).contains(&p[1]) && p[2] < 90).count();
    assert!(count_lizard_green(&shots[0]) > 2_000, "the lizard should grow");
    assert!(orange(&shots[0]) > 2_000, "the planted butterfly should grow: {} orange pixels", orange(&shots[0]));
    let species_orange = shots[1].pixels().filter(|p| p[0] > 180 && p[1] < 120 && p[2] < 60).count();
    assert!(species_orange > 2_000, "species view should paint species 1: {species_orange} pixels");
    let bad = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["run", "--model", lizard.to_str().unwrap(), "--plant", "nowhere.safetensors@5,5"])
        .output()
        .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("nowhere.safetensors"));
}

/// The shipped MNIST model, or (until it ships) the published one converted from the reference.
fn mnist_model_file(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trained/mnist.safetensors");
    if shipped.is_file() {
        return shipped;
    }
    let converted = dir.join("mnist.safetensors");
    let graph = reference("weights/mnist_ca/mnist_ca_tfjs_graph.json");
    nca(&["import", graph.to_str().unwrap(), "--out", converted.to_str().unwrap()]);
    converted
}

/// Screen pixels right of the panel in each class's full colour (the inside of strokes, where
/// grey is 1; the panel's digit buttons are left out).
fn class_pixels(img: &image::RgbImage) -> [usize; 10] {
    use nca_sandbox::model::display::{ClassPalette, class_color};
    let colours: Vec<[i32; 3]> = (0..10).map(|c| class_color(c, ClassPalette::Paper, 0.0).map(|v| (v * 255.0).round() as i32)).collect();
    let mut counts = [0; 10];
    for (x, _, p) in img.enumerate_pixels() {
        if (x as f32) < nca_sandbox::scene::PANEL_WIDTH {
            continue;
        }
        let p = [p[0] as i32, p[1] as i32, p[2] as i32];
        if let Some(c) = (0..10).find(|&c| colours[c].iter().zip(p).all(|(a, b)| (a - b).abs() <= 12)) {
            counts[c] += 1;
        }
    }
    counts
}

/// The digits scene in a real window: a bundled 3 on the canvas, 300 frames later most of its
/// coloured pixels are in class 3's colour; a chimera and bad digit flags are handled.
#[test]
fn window_classifies_a_bundled_digit_and_refuses_bad_digit_flags() {
    let dir = tempfile::tempdir().unwrap();
    let model = mnist_model_file(dir.path());
    let shot = dir.path().join("three.png");
    let out = nca_under_xvfb(&[
        "run",
        "--model",
        model.to_str().unwrap(),
        "--digit",
        "3",
        "--frames",
        "300",
        "--screenshot",
        shot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "window app failed: {}", String::from_utf8_lossy(&out.stderr));
    let counts = class_pixels(&image::open(&shot).unwrap().to_rgb8());
    let total: usize = counts.iter().sum();
    assert!(total > 300, "too few class-coloured pixels: {counts:?}");
    assert!(counts[3] * 2 > total, "most of the digit should be class 3's colour: {counts:?}");
    if let Ok(keep) = std::env::var("NCA_TEST_PICTURES") {
        std::fs::copy(&shot, std::path::Path::new(&keep).join("digits_three.png")).unwrap();
    }

    let lizard = reference("weights/growing_ca_webgl8/ex3_1f98e.json");
    let model = model.to_str().unwrap();
    let refused: [(&[&str], &str); 6] = [
        (&["run", "--model", model, "--digit", "12"], "'12' is not D or D@X,Y"),
        (&["run", "--model", model, "--digit", "3@500,10"], "outside the 160×64 canvas"),
        (&["run", "--model", model, "--chimera", "3-5"], "is not A/B"),
        (&["run", "--model", model, "--adversaries", "0"], "(0, 1]"),
        (&["run", "--model", model, "--canvas", "160x0"], "outside 3..=4096"),
        (&["run", "--model", lizard.to_str().unwrap(), "--digit", "3"], "are for MNIST models"),
    ];
    for (args, expected) in refused {
        let out = Command::new(env!("CARGO_BIN_EXE_nca")).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "nca {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "nca {args:?} panicked: {stderr}");
    }
}

/// A lesson from the command line, in the real window: the regenerating lizard learns the
/// butterfly while the scene runs; the report shows swaps into the grid, a falling loss and every
/// frame's time.
#[test]
fn window_teaches_a_picture_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let shot = dir.path().join("shot.png");
    let lizard = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trained/lizard_regenerating.safetensors");
    let out = nca_under_xvfb(&[
        "run",
        "--model",
        lizard.to_str().unwrap(),
        "--teach",
        "assets/targets/butterfly.png",
        "--frames",
        "900",
        "--screenshot",
        shot.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "window app failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let frames = report["frame_ms"].as_array().unwrap();
    assert!(frames.len() >= 899, "every frame's time: {}", frames.len());
    let teach = &report["teach"];
    assert!(teach["swaps"].as_u64().unwrap() >= 1, "weights reached the grid: {teach}");
    let (first, last) = (teach["loss_first"].as_f64().unwrap(), teach["loss_last"].as_f64().unwrap());
    assert!(last < first, "the loss falls: {first} → {last}");
    assert!(teach["iterations"].as_u64().unwrap() >= 10, "{teach}");
    assert!(image::open(&shot).is_ok());
}

/// Record GIF in the real window (`--record-gif`, the panel's button from the command line): a
/// scenario playing for 60 frames becomes an animated GIF of the window at half size, a frame
/// every 4th frame, and its last frame shows the grown lizards.
#[test]
fn window_records_a_scenario_into_a_gif() {
    let dir = tempfile::tempdir().unwrap();
    let (shot, gif) = (dir.path().join("shot.png"), dir.path().join("screen.gif"));
    let out = nca_under_xvfb(&[
        "run",
        "--scenario",
        "assets/scenarios/two_lizards_meet.ron",
        "--speed",
        "4",
        "--frames",
        "60",
        "--screenshot",
        shot.to_str().unwrap(),
        "--record-gif",
        gif.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "window app failed: {}", String::from_utf8_lossy(&out.stderr));
    let window = image::open(&shot).unwrap().to_rgb8();
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(&gif).unwrap()).unwrap();
    assert_eq!((decoder.width() as u32, decoder.height() as u32), (window.width() / 2, window.height() / 2));
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        frames.push(frame.buffer.to_vec());
    }
    // 15 captures asked for; a screenshot arrives a frame or two after it is asked, so the last
    // may miss the stop.
    assert!((13..=15).contains(&frames.len()), "{} frames", frames.len());
    assert_ne!(frames.first(), frames.last(), "the scene moved while it was recorded");
    let green = frames
        .last()
        .unwrap()
        .chunks_exact(4)
        .filter(|p| p[1] > 120 && p[1] as i32 - p[0] as i32 > 40 && p[1] as i32 - p[2] as i32 > 40)
        .count();
    assert!(green > 200, "the last frame shows the lizards: {green} green pixels");
    let refused = Command::new(env!("CARGO_BIN_EXE_nca")).args(["run", "--record-gif", "x.gif"]).output().unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("give --frames or --seconds"));
}

/// `nca scenario run` end to end: several seeds (a panic in clap once), both backends, the files
/// other tools read; and a broken scenario is one line with its line and column, exit status 1.
#[test]
fn scenario_runs_headless_over_seeds_and_refuses_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.ron");
    let lizard = std::path::absolute("trained/lizard_regenerating.safetensors").unwrap();
    std::fs::write(
        &file,
        format!(
            r#"Scenario(version: 1, grid: (width: 48, height: 48), species: [(name: "l", model: "{}")],
               organisms: [(species: "l", at: (24, 24))], steps: 40,
               events: [(step: 30, do: Cut(from: (0.0, 24.0), to: (48.0, 24.0), width: 3.0))],
               record: (every: 5, gif: (every: 10, scale: 1)))"#,
            lizard.display()
        ),
    )
    .unwrap();
    for backend in ["cpu", "gpu"] {
        let out = dir.path().join(backend);
        nca(&[
            "scenario",
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--backend",
            backend,
            "--seeds",
            "0..3",
            "--quiet",
        ]);
        let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 3 * 9 * 2, "3 seeds × 9 recorded steps × (grid, organism)");
        assert!(out.join("summary.csv").is_file() && out.join("seed-2/run.gif").is_file());
        let last = load_state(&out.join("seed-0/final.safetensors")).unwrap();
        assert_eq!((last.width, last.height, last.channels), (48, 48, 16));
    }
    let cpu = load_state(&dir.path().join("cpu/seed-1/final.safetensors")).unwrap();
    let gpu = load_state(&dir.path().join("gpu/seed-1/final.safetensors")).unwrap();
    assert!(diff(&cpu.data, &gpu.data).0 < 1e-3, "CPU and GPU runs of one scenario agree");

    std::fs::write(&file, "Scenario(\n  version: 1,\n  grid: (width: 48 height: 48),\n)").unwrap();
    let bad =
        Command::new(env!("CARGO_BIN_EXE_nca")).args(["scenario", "run", file.to_str().unwrap(), "--out", "unused"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("{}:3:", file.display())), "{stderr}");
}
