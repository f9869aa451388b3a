//! The importers decode every published reference model, and our format round-trips.

mod common;

use common::{lizard, reference, reference_dir};
use nca_sandbox::model::NcaWeights;
use nca_sandbox::model::import::{self, SourceFormat};
use nca_sandbox::model::spec::GrowingMode;

#[test]
fn every_distill_webgl_model_imports() {
    let dir = reference_dir().join("weights/growing_ca_webgl8");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let weights = import::load_model_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let w = &weights.expect_growing().unwrap();
        let name = path.file_stem().unwrap().to_str().unwrap();
        let expected_mode = match &name[..3] {
            "ex1" => GrowingMode::Growing,
            "ex2" => GrowingMode::Persistent,
            _ => GrowingMode::Regenerating,
        };
        assert_eq!(w.spec.mode, expected_mode, "{name}");
        // Quantised weights are bounded by half their scale; a decoder that reads the wrong
        // rows or scales would not stay within these ranges for every file.
        assert!(w.w1.iter().all(|v| v.abs() < 5.0) && w.b1.iter().any(|&v| v != 0.0), "{name}");
        count += 1;
    }
    assert_eq!(count, 31, "expected the 31 published WebGL models");
}

#[test]
fn webgl_lizard_decodes_known_values() {
    let w = lizard().expect_growing().unwrap().clone();
    assert_eq!(w.spec.target, "lizard");
    assert_eq!(w.spec.mode, GrowingMode::Regenerating);
    // The two scales from the file bound every decoded value.
    let (ws1, bs1) = (1.190_991_4f32, 0.376_088_3f32);
    assert!(w.w1.iter().all(|v| v.abs() <= ws1 / 2.0 + 1e-6));
    assert!(w.b1.iter().all(|v| v.abs() <= bs1 / 2.0 + 1e-6));
    let max = w.w1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max > ws1 * 0.45, "the scale is used in full: max |w1| = {max}");
}

#[test]
fn tfjs_graph_models_import_with_filter_major_reorder() {
    for name in ["lizard_regenerating_run0_tfjs_graph.json", "planarian_8000_tfjs_graph.json"] {
        let path = reference(&format!("weights/growing_ca_float/{name}"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(import::sniff(&bytes), Some(SourceFormat::TfjsGraph));
        let w = import::load_model_file(&path).unwrap().expect_growing().unwrap().clone();
        assert!(w.w1.iter().all(|v| v.is_finite()));
        assert!(w.w2.iter().any(|&v| v != 0.0));
    }
    // Identity inputs of the alpha channel (row 3) must come from TF's row 3·3 + 0 = 9.
    let raw = std::fs::read(reference("weights/growing_ca_float/lizard_regenerating_run0_tfjs_graph.json")).unwrap();
    let w = import::load_model_bytes(&raw, "lizard_regenerating").unwrap().expect_growing().unwrap().clone();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let node = json["modelTopology"]["node"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attr"]["value"]["tensor"]["tensorShape"]["dim"].as_array().is_some_and(|d| d.len() == 4 && d[2]["size"] == "48"))
        .unwrap();
    use base64::Engine;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(node["attr"]["value"]["tensor"]["tensorContent"].as_str().unwrap()).unwrap();
    let tf = |row: usize, col: usize| {
        let i = (row * 128 + col) * 4;
        f32::from_le_bytes(bytes[i..i + 4].try_into().unwrap())
    };
    for col in [0, 17, 127] {
        assert_eq!(w.w1[3 * 128 + col], tf(9, col)); // identity of channel 3
        assert_eq!(w.w1[(16 + 3) * 128 + col], tf(10, col)); // Sobel-x of channel 3
        assert_eq!(w.w1[(32 + 15) * 128 + col], tf(47, col)); // Sobel-y of channel 15
    }
}

#[test]
fn imported_model_round_trips_through_safetensors_bit_exactly() {
    let weights = lizard();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lizard.safetensors");
    weights.save(&path).unwrap();
    let back = NcaWeights::load(&path).unwrap();
    assert_eq!(back, weights);
    let w = back.expect_growing().unwrap().clone();
    assert!(w.provenance.get("nca.source").is_some_and(|s| s.contains("WebGL")));
}

#[test]
fn import_cli_writes_a_loadable_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_nca"))
        .args(["import", reference("weights/growing_ca_webgl8/ex2_1f98e.json").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let w = NcaWeights::load(&out).unwrap().expect_growing().unwrap().clone();
    assert_eq!(w.spec.mode, GrowingMode::Persistent);
}

#[test]
fn shipped_targets_load_through_the_distill_recipe() {
    use nca_sandbox::model::target::Target;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            let target = Target::load(&path, 40, 16).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((target.width(), target.height()), (72, 72), "{}", path.display());
            let covered = target.rgba.data.chunks(4).filter(|c| c[3] > 0.5).count();
            assert!(covered > 300, "{}: only {covered} opaque cells", path.display());
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(names.len() >= 10 && names.iter().any(|n| n == "lizard"), "{names:?}");
}

#[test]
fn a_non_image_target_is_a_clear_error() {
    use nca_sandbox::model::target::Target;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not_an_image.png");
    std::fs::write(&path, b"definitely not a PNG").unwrap();
    let err = Target::load(&path, 40, 16).unwrap_err().to_string();
    assert!(err.contains("not_an_image.png") && err.contains("not a readable image"), "{err}");
}
