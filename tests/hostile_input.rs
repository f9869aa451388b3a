//! The second hostile-input campaign's classes, each through the release binary's own command
//! line: pictures that are not digits, metadata used as a size, files that are not files,
//! outputs judged before the work, silent acceptances, errors that name the wrong thing, and
//! the parser's promise. Every case must end in a clean error (one line, the documented exit
//! status, no panic) within a bound of time: a hang is a failure here, not a stuck CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::idx;
use nca_sandbox::model::NcaWeights;

/// What a finished `nca` run said.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `nca args…` from the crate root; a run that outlives `limit` is killed and fails the test.
fn nca_within(args: &[&str], limit: Duration, env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nca"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args).envs(env.iter().copied());
    let out = common::run_bounded(&mut command, limit).unwrap_or_else(|| panic!("nca {args:?} hung: still running after {limit:?}"));
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Outcome { code: out.status.code(), stdout: text(out.stdout), stderr: text(out.stderr) }
}

fn nca(args: &[&str]) -> Outcome {
    nca_within(args, Duration::from_secs(120), &[])
}

/// A clean refusal: exit status 1, one line that starts `error:` and holds `expected`.
fn refused(args: &[&str], expected: &str) -> String {
    refused_with(nca(args), args, expected, 1)
}

fn refused_with(out: Outcome, args: &[&str], expected: &str, code: i32) -> String {
    let stderr = out.stderr.trim().to_string();
    assert_eq!(out.code, Some(code), "nca {args:?} exit status: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("error:") && last.contains(expected), "nca {args:?}: expected '{expected}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "nca {args:?}: {stderr}");
    last.to_string()
}

fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An MNIST folder whose test images are `rows × cols`.
fn mnist_of_size(dir: &Path, rows: u32, cols: u32) -> PathBuf {
    let folder = dir.join(format!("mnist-{rows}x{cols}"));
    std::fs::create_dir_all(&folder).unwrap();
    let count = 3;
    let pixels = vec![200u8; (count * rows * cols) as usize];
    std::fs::write(folder.join("t10k-images-idx3-ubyte"), idx(0x803, &[count, rows, cols], &pixels)).unwrap();
    std::fs::write(folder.join("t10k-labels-idx1-ubyte"), idx(0x801, &[count], &[1, 2, 3])).unwrap();
    folder
}

#[test]
fn digits_that_are_not_28_by_28_are_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = mnist_of_size(dir.path(), 28, 29);
    let w = s(&wrong);
    let out = dir.path().join("samples.png");
    refused(&["eval", "mnist-adversary", "trained/mnist.safetensors", "trained/mnist_adversary.safetensors", "--mnist", w], "28×29");
    refused(&["mnist-samples", "--mnist", w, "--per-class", "1", "--out", s(&out)], "28×29");
    let scenario = dir.path().join("mnist_digit.ron");
    std::fs::write(
        &scenario,
        r#"Scenario(version: 1, grid: (width: 40, height: 40), species: [(name: "c", model: "trained/mnist.safetensors")],
           digits: [(digit: Mnist(1), at: (20.0, 20.0))], steps: 3)"#,
    )
    .unwrap();
    let tiny = mnist_of_size(dir.path(), 5, 5);
    let out = dir.path().join("o");
    for command in ["check", "run"] {
        let args = ["scenario", command, s(&scenario), "--out", s(&out)];
        let args = if command == "check" { &args[..3] } else { &args[..] };
        let outcome = nca_within(args, Duration::from_secs(60), &[("NCA_MNIST_DIR", s(&tiny))]);
        refused_with(outcome, args, "5×5", 1);
    }
}

#[test]
fn training_metadata_is_not_trusted_as_a_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut weights = NcaWeights::load("trained/mnist.safetensors").unwrap();
    let mnist = common::reference_dir().join("mnist");
    for claim in ["18446744073709551615", "1000000000000000"] {
        let NcaWeights::Mnist(w) = &mut weights else { panic!("an MNIST model") };
        w.provenance.insert("nca.train.iterations".into(), claim.into());
        let model = dir.path().join(format!("claims-{}.safetensors", claim.len()));
        weights.save(&model).unwrap();
        let out = dir.path().join("out.safetensors");
        let args = ["train", "mnist", "--init", s(&model), "--iterations", "2", "--mnist", s(&mnist), "--out", s(&out)];
        let line = refused(&args, "nca.train.iterations");
        assert!(line.contains(s(&model)), "{line}");
        assert!(!out.exists());
    }
}

#[test]
fn files_that_are_not_files_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = mkfifo(dir.path(), "pipe.png");
    let model_pipe = mkfifo(dir.path(), "pipe.safetensors");
    let scenario_pipe = mkfifo(dir.path(), "pipe.ron");
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    mkfifo(&samples, "7_a.png");
    let out = dir.path().join("out.png");
    let (taught, grown) = (dir.path().join("t.safetensors"), dir.path().join("g.safetensors"));
    let limit = Duration::from_secs(60);
    let cases: Vec<Vec<&str>> = vec![
        vec!["info", s(&model_pipe)],
        vec!["render", "--model", s(&model_pipe), "--steps", "1", "--out", s(&out)],
        vec!["eval", "growing", "trained/lizard_growing.safetensors", "--target", s(&pipe), "--seeds", "1"],
        vec!["scenario", "check", s(&scenario_pipe)],
        vec!["render", "--model", "trained/mnist.safetensors", "--digit-image", s(&pipe), "--steps", "1", "--out", s(&out)],
        vec!["render", "--model", "trained/mnist.safetensors", "--digit-image", "/dev/zero", "--steps", "1", "--out", s(&out)],
        vec!["run", "--model", "trained/lizard_regenerating.safetensors", "--teach", s(&pipe)],
        vec!["run", "--model", "trained/lizard_regenerating.safetensors", "--teach", "/dev/zero"],
        vec!["teach", "handwriting", "--model", "trained/mnist.safetensors", "--samples", s(&samples), "--out", s(&taught)],
        vec!["train", "growing", "--target", "/dev/zero", "--iterations", "1", "--out", s(&grown)],
    ];
    for args in cases {
        let outcome = nca_within(&args, limit, &[]);
        refused_with(outcome, &args, "not a regular file", 1);
    }
}

#[test]
fn outputs_are_judged_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = common::reference_dir().join("mnist");
    let unwritable = "/proc/version/x.png";
    let plot = dir.path().join("plot");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["scenario", "run", "assets/scenarios/regeneration.ron", "--seeds", "0..4", "--out", "/dev/full"], "/dev/full"),
        (vec!["eval", "mnist", "trained/mnist.safetensors", "--mnist", s(&mnist), "--plot", unwritable], "--plot"),
        (vec!["eval", "growing", "trained/lizard_growing.safetensors", "--seeds", "1", "--strip", unwritable], "--strip"),
        (
            vec![
                "teach",
                "handwriting",
                "--model",
                "trained/mnist.safetensors",
                "--samples",
                "assets",
                "--out",
                "/proc/version/t.safetensors",
            ],
            "--out",
        ),
        (vec!["render", "--model", "trained/lizard_growing.safetensors", "--steps", "1", "--out", "x.txt"], "'.txt'"),
        (vec!["run", "--frames", "1", "--record-gif", "screen.png"], "'.png'"),
        (vec!["plot", "trained/mnist.loss.csv", "--out", s(&plot)], "no extension"),
    ];
    for (args, expected) in cases {
        refused(&args, expected);
    }
    // Nothing was started: no progress of a seed or a digit before the refusal.
    let out = nca(&["eval", "mnist", "trained/mnist.safetensors", "--mnist", s(&mnist), "--plot", unwritable]);
    assert!(!out.stderr.contains("digits,"), "the evaluation ran before its plot was judged: {}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn silent_acceptances_are_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let scenario = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let head = r#"Scenario(version: 1, grid: (width: 32, height: 32), species: [(name: "l", model: "trained/lizard_growing.safetensors")],
        organisms: [(species: "l", at: (16, 16))], steps: 4"#;
    let final_snapshot = scenario("final.ron", &format!("{head}, events: [(step: 2, do: Snapshot(\"final\"))])"));
    let twice = scenario("twice.ron", &format!("{head}, events: [(step: 2, do: Snapshot(\"a\")), (step: 3, do: Snapshot(\"a\"))])"));
    let grid_region = scenario("grid.ron", &format!("{head}, record: (regions: [(name: \"grid\", min: (0, 0), max: (4, 4))]))"));
    let same_regions = scenario(
        "same.ron",
        &format!("{head}, record: (regions: [(name: \"r\", min: (0, 0), max: (4, 4)), (name: \"r\", min: (4, 4), max: (8, 8))]))"),
    );
    for (file, expected) in [
        (&final_snapshot, "may not be called 'final'"),
        (&twice, "already taken"),
        (&grid_region, "'grid' is already"),
        (&same_regions, "'r' is already"),
    ] {
        refused(&["scenario", "check", s(file)], expected);
    }
    let args = ["scenario", "run", "assets/scenarios/regeneration.ron", "--seeds", "1,1,1", "--out", s(&out)];
    refused_with(nca(&args), &args, "seed 1 is given twice", 2);
    let mnist = common::reference_dir().join("mnist");
    let model = dir.path().join("m.safetensors");
    refused(
        &[
            "train",
            "mnist",
            "--mnist",
            s(&mnist),
            "--lr-drop-at",
            "100",
            "--lr-second-drop-at",
            "10",
            "--iterations",
            "1",
            "--out",
            s(&model),
        ],
        "--lr-second-drop-at 10 comes before --lr-drop-at 100",
    );
    // Weights of 3e38 are finite and still no model.
    let mut huge = NcaWeights::load("trained/lizard_growing.safetensors").unwrap();
    if let NcaWeights::Growing(w) = &mut huge {
        w.w2[5] = 3e38;
    }
    let huge_path = dir.path().join("huge_weight.safetensors");
    std::fs::write(&huge_path, huge.to_safetensors()).unwrap();
    refused(&["info", s(&huge_path)], "no NCA weight is that large");
    // A PNG missing its last byte.
    let png = std::fs::read("assets/targets/lizard.png").unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &png[..png.len() - 1]).unwrap();
    refused(&["eval", "growing", "trained/lizard_growing.safetensors", "--target", s(&cut), "--seeds", "1"], "cut short");
    // Black digits and no digits.
    for (count, ink, expected) in [(0u32, 0u8, "holds no images"), (4, 0, "all black")] {
        let folder = dir.path().join(format!("mnist-{count}-{ink}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("train-images-idx3-ubyte"), idx(0x803, &[count, 28, 28], &vec![ink; count as usize * 784])).unwrap();
        std::fs::write(folder.join("train-labels-idx1-ubyte"), idx(0x801, &[count], &vec![1; count as usize])).unwrap();
        refused(&["train", "mnist", "--mnist", s(&folder), "--iterations", "1", "--out", s(&model)], expected);
    }
}

#[test]
fn a_tfjs_graph_with_an_incomplete_extra_layer_is_refused() {
    let text = std::fs::read_to_string(common::reference("weights/mnist_ca/mnist_ca_tfjs_graph.json")).unwrap();
    let mut graph: serde_json::Value = serde_json::from_str(&text).unwrap();
    let nodes = graph.pointer_mut("/modelTopology/node").unwrap().as_array_mut().unwrap();
    // A fourth layer with a bias and no kernel.
    let mut bias = nodes.iter().find(|n| n["name"] == "sequential_1/conv2d_2/BiasAdd/ReadVariableOp").unwrap().clone();
    bias["name"] = "sequential_1/conv2d_3/BiasAdd/ReadVariableOp".into();
    nodes.push(bias);
    let error = nca_sandbox::model::import::load_model_bytes(graph.to_string().as_bytes(), "graph").unwrap_err().to_string();
    assert!(error.contains("conv2d_3") && error.contains("incomplete"), "{error}");
}

#[test]
fn errors_name_the_file_and_key_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut adversary = NcaWeights::load("trained/mnist_adversary.safetensors").unwrap();
    let NcaWeights::Mnist(w) = &mut adversary else { panic!() };
    let mut recipe: serde_json::Value = serde_json::from_str(&w.provenance["nca.train.recipe"]).unwrap();
    recipe["adversary_target"] = 200.into();
    w.provenance.insert("nca.train.recipe".into(), recipe.to_string());
    let path = dir.path().join("hostile_adversary.safetensors");
    adversary.save(&path).unwrap();
    let mnist = common::reference_dir().join("mnist");
    let line = refused(&["eval", "mnist-adversary", "trained/mnist.safetensors", s(&path), "--mnist", s(&mnist)], "adversary_target 200");
    assert!(line.contains("hostile_adversary.safetensors") && line.contains("nca.train.recipe"), "{line}");
    // A model whose nca.target picture is not there.
    let mut lost = NcaWeights::load("trained/lizard_growing.safetensors").unwrap();
    if let NcaWeights::Growing(w) = &mut lost {
        w.spec.target = "no_such_picture".into();
    }
    let lost_path = dir.path().join("lost_target.safetensors");
    lost.save(&lost_path).unwrap();
    let line = refused(&["eval", "growing", s(&lost_path), "--seeds", "1"], "no_such_picture");
    assert!(line.contains("lost_target.safetensors") && line.contains("nca.target"), "{line}");
}

#[test]
fn flags_the_parser_refuses_are_one_line_with_status_2() {
    for args in [
        vec!["run", "--canvas", "0x0"],
        vec!["run", "--digit", "10"],
        vec!["scenario", "run", "x.ron", "--out", "o", "--seeds", "5..1"],
        vec!["render", "--no-such-flag"],
        vec!["info"],
    ] {
        let out = nca(&args);
        assert_eq!(out.code, Some(2), "nca {args:?}: {}", out.stderr);
        let stderr = out.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "nca {args:?}: {stderr}");
        assert!(stderr.starts_with("error:") && stderr.ends_with("(see --help)"), "{stderr}");
    }
    let help = nca(&["--help"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("Usage"));
}
