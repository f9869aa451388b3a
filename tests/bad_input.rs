//! Broken weights files give a one-line error naming the file and the problem, through the
//! library and through the CLI (non-zero exit, no panic).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nca_sandbox::model::spec::GrowingSpec;
use nca_sandbox::model::weights::f32_to_le_bytes;
use nca_sandbox::model::{GrowingWeights, NcaWeights};
use safetensors::tensor::TensorView;

fn good() -> NcaWeights {
    let mut w = GrowingWeights::zeros(GrowingSpec::default());
    w.b1.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32 * 0.01);
    NcaWeights::Growing(w)
}

/// A safetensors file with arbitrary tensors and metadata.
fn custom(tensors: &[(&str, Vec<usize>, Vec<f32>)], meta: &[(&str, &str)]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, d)| f32_to_le_bytes(d)).collect();
    let views: Vec<(&str, TensorView<'_>)> =
        tensors.iter().zip(&bytes).map(|((n, s, _), b)| (*n, TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    let meta: HashMap<String, String> = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn growing_tensors() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        ("w1", vec![48, 128], vec![0.0; 48 * 128]),
        ("b1", vec![128], vec![0.0; 128]),
        ("w2", vec![128, 16], vec![0.0; 128 * 16]),
        ("b2", vec![16], vec![0.0; 16]),
    ]
}

fn mnist_tensors() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        ("conv_w", vec![3, 3, 20, 80], vec![0.0; 3 * 3 * 20 * 80]),
        ("conv_b", vec![80], vec![0.0; 80]),
        ("w1", vec![80, 80], vec![0.0; 80 * 80]),
        ("b1", vec![80], vec![0.0; 80]),
        ("w2", vec![80, 19], vec![0.0; 80 * 19]),
        ("b2", vec![19], vec![0.0; 19]),
    ]
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Words the error must contain.
    expect: &'static str,
}

fn cases() -> Vec<Case> {
    let ok = good().to_safetensors();
    let mut wrong_shape = growing_tensors();
    wrong_shape[0] = ("w1", vec![48, 64], vec![0.0; 48 * 64]);
    let mut nan = growing_tensors();
    nan[2].2[37] = f32::NAN;
    let mut missing = growing_tensors();
    missing.pop();
    let mnist_ok = custom(&mnist_tensors(), &[("nca.kind", "mnist")]);
    let mut mnist_wrong_shape = mnist_tensors();
    mnist_wrong_shape[0] = ("conv_w", vec![3, 3, 16, 80], vec![0.0; 3 * 3 * 16 * 80]);
    let mut mnist_missing = mnist_tensors();
    mnist_missing.remove(2);
    vec![
        Case { name: "mnist-truncated", bytes: mnist_ok[..mnist_ok.len() - 40].to_vec(), expect: "not a valid safetensors" },
        Case {
            name: "mnist-wrong-shape",
            bytes: custom(&mnist_wrong_shape, &[("nca.kind", "mnist")]),
            expect: "tensor 'conv_w' has shape [3, 3, 16, 80], expected [3, 3, 20, 80]",
        },
        Case { name: "mnist-missing-tensor", bytes: custom(&mnist_missing, &[("nca.kind", "mnist")]), expect: "missing tensor 'w1'" },
        Case {
            name: "mnist-tensors-as-growing",
            bytes: custom(&mnist_tensors(), &[("nca.kind", "growing")]),
            expect: "tensor 'w1' has shape [80, 80], expected [48, 128]",
        },
        Case {
            name: "growing-tensors-as-mnist",
            bytes: custom(&growing_tensors(), &[("nca.kind", "mnist")]),
            expect: "missing tensor 'conv_w'",
        },
        Case {
            name: "newer-format",
            bytes: custom(&growing_tensors(), &[("nca.kind", "growing"), ("nca.format", "999")]),
            expect: "nca.format is '999'",
        },
        Case { name: "truncated", bytes: ok[..ok.len() / 2].to_vec(), expect: "not a valid safetensors" },
        Case { name: "empty", bytes: Vec::new(), expect: "not a model file" },
        Case {
            name: "wrong-shape",
            bytes: custom(&wrong_shape, &[("nca.kind", "growing")]),
            expect: "tensor 'w1' has shape [48, 64], expected [48, 128]",
        },
        Case { name: "nan", bytes: custom(&nan, &[("nca.kind", "growing")]), expect: "tensor 'w2' holds NaN at index 37" },
        Case {
            name: "wrong-kind",
            bytes: custom(&growing_tensors(), &[("nca.kind", "mnist-classifier")]),
            expect: "unknown model kind 'mnist-classifier'",
        },
        Case { name: "no-kind", bytes: custom(&growing_tensors(), &[]), expect: "no 'nca.kind'" },
        Case { name: "missing-tensor", bytes: custom(&missing, &[("nca.kind", "growing")]), expect: "missing tensor 'b2'" },
        Case {
            name: "wrong-channels",
            bytes: custom(&growing_tensors(), &[("nca.kind", "growing"), ("nca.channels", "20")]),
            expect: "nca.channels is '20'",
        },
        Case { name: "not-json", bytes: b"{ this is not json".to_vec(), expect: "not JSON" },
    ]
}

fn write(dir: &Path, case: &Case) -> PathBuf {
    let path = dir.join(format!("{}.safetensors", case.name));
    std::fs::write(&path, &case.bytes).unwrap();
    path
}

#[test]
fn library_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let path = write(dir.path(), &case);
        let err = nca_sandbox::model::import::load_model_file(&path).expect_err(case.name).to_string();
        assert!(err.contains(path.to_str().unwrap()), "{}: error does not name the file: {err}", case.name);
        assert!(err.contains(case.expect), "{}: expected '{}' in: {err}", case.name, case.expect);
        assert_eq!(err.lines().count(), 1, "{}: not one line: {err}", case.name);
    }
}

#[test]
fn cli_reports_bad_models_with_one_line_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.safetensors");
    for case in cases() {
        let path = write(dir.path(), &case);
        for args in [
            vec!["info", path.to_str().unwrap()],
            vec!["step", "--model", path.to_str().unwrap(), "--steps", "1", "--out", state.to_str().unwrap()],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_nca")).args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{}: {args:?} succeeded", case.name);
            assert_ne!(out.status.code(), Some(101), "{}: panicked: {stderr}", case.name);
            assert_eq!(stderr.trim().lines().count(), 1, "{}: {stderr}", case.name);
            assert!(stderr.contains(case.expect) && stderr.contains(case.name), "{}: {stderr}", case.name);
        }
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_nca")).args(["info", "/no/such/model.safetensors"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/no/such/model.safetensors") && stderr.contains("cannot read"), "{stderr}");
}

/// Outputs must be (or become) regular files, names from metadata never escape their folder,
/// and counts of zero are refused: each was a finding of issue 20's bad-input campaign.
#[test]
fn outputs_metadata_paths_and_counts_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    good().save(&model).unwrap();
    let m = model.to_str().unwrap();
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let f = folder.to_str().unwrap();
    // A model whose nca.target climbs out of assets/targets.
    let mut evil = good().expect_growing().unwrap().clone();
    evil.spec.target = "../../../../etc/passwd".into();
    let evil_path = dir.path().join("evil.safetensors");
    NcaWeights::Growing(evil).save(&evil_path).unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/targets/lizard.png");
    // Not a regular file (like /dev/full, which a write-then-rename would replace, but harmless).
    let pipe = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    let p = pipe.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["render", "--model", m, "--steps", "1", "--out", f], "is a folder"),
        (vec!["step", "--model", m, "--steps", "1", "--backend", "cpu", "--out", f], "is a folder"),
        (vec!["step", "--model", m, "--steps", "1", "--backend", "cpu", "--out", p], "not a regular file"),
        (vec!["train", "growing", "--target", target.to_str().unwrap(), "--iterations", "1", "--out", f], "is a folder"),
        (vec!["eval", "growing", evil_path.to_str().unwrap(), "--seeds", "1"], "not a plain name"),
        (vec!["eval", "growing", m, "--seeds", "0"], "--seeds 0 is outside"),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_nca")).current_dir(env!("CARGO_MANIFEST_DIR")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "nca {args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    assert!(std::fs::read_dir(&folder).unwrap().next().is_none(), "nothing was written into or beside the folder");
    assert!(!dir.path().join("a-folder.ckpt.safetensors").exists(), "no checkpoint beside a folder given as OUT");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&pipe).unwrap().file_type().is_fifo(), "the pipe is still a pipe");
    // A negative rotation is a value, not a flag.
    let state = dir.path().join("s.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["step", "--model", m, "--steps", "1", "--backend", "cpu", "--rotation", "-90", "--out", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A PNG that is only its signature and a header declaring `width`×`height` pixels.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(width.to_be_bytes());
    chunk.extend(height.to_be_bytes());
    chunk.extend([1, 0, 0, 0, 0]); // 1-bit grey
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&chunk);
    png.extend(crc32(&chunk).to_be_bytes());
    png
}

/// Pictures are judged by their header (a tiny file declaring 20,000² pixels is refused before
/// anything is allocated), and the window's folder and screenshot flags are checked before a
/// window opens.
#[test]
fn pictures_and_window_flags_are_judged_before_use() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_header_only(20_000, 20_000)).unwrap();
    let out = dir.path().join("m.safetensors");
    let model = dir.path().join("model.safetensors");
    good().save(&model).unwrap();
    let folder = dir.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "growing", "--target", huge.to_str().unwrap(), "--iterations", "1", "--out", out.to_str().unwrap()],
            "larger than 4096",
        ),
        (vec!["render", "--model", model.to_str().unwrap(), "--steps", "1", "--digit-image", huge.to_str().unwrap(), "--out", "x.png"], ""),
        (
            vec!["run", "--model", model.to_str().unwrap(), "--trained-dir", "/no/such/folder"],
            "--trained-dir /no/such/folder: no such folder",
        ),
        (vec!["run", "--model", model.to_str().unwrap(), "--frames", "1", "--screenshot", folder], "is a folder"),
        // A lesson's picture is judged as the trainer reads it, before a window opens.
        (vec!["run", "--model", model.to_str().unwrap(), "--teach", huge.to_str().unwrap()], "--teach"),
        (vec!["run", "--model", model.to_str().unwrap(), "--teach", "/no/such/picture.png"], "picture.png"),
        (vec!["run", "--model", model.to_str().unwrap(), "--teach", folder], "--teach"),
        (vec!["run", "--model", model.to_str().unwrap(), "--frames", "1", "--report", folder], "--report"),
        (vec!["run", "--model", model.to_str().unwrap(), "--teach-mode", "growing"], "--teach"),
    ];
    for (args, expected) in cases {
        let result = Command::new(env!("CARGO_BIN_EXE_nca")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success() && stderr.contains(expected), "nca {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "nca {args:?}: {stderr}");
    }
    let error = nca_sandbox::model::mnist::grey_picture(&huge).unwrap_err().to_string();
    assert!(error.contains("huge.png") && error.contains("larger than 4096"), "{error}");
}

/// A huge file is judged from its size before it is read, and a folder given as a model is
/// called a folder, by the library and by the CLI.
#[test]
fn huge_files_and_folders_given_as_models_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.safetensors");
    // Sparse: a gigabyte on paper, nothing on disk.
    std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
    let error = NcaWeights::load(&huge).unwrap_err().to_string();
    assert!(error.contains("huge.safetensors") && error.contains("larger than any model"), "{error}");
    let error = nca_sandbox::model::import::load_model_file(&huge).unwrap_err().to_string();
    assert!(error.contains("larger than any model"), "{error}");
    let error = nca_sandbox::model::import::load_model_file(dir.path()).unwrap_err().to_string();
    assert!(error.contains("is a folder"), "{error}");
    for (args, expected) in
        [(vec!["info", huge.to_str().unwrap()], "larger than any model"), (vec!["info", dir.path().to_str().unwrap()], "is a folder")]
    {
        let result = Command::new(env!("CARGO_BIN_EXE_nca")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success() && stderr.contains(expected) && stderr.lines().count() == 1, "nca {args:?}: {stderr}");
    }
}
