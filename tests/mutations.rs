//! Seeded mutation tests: hundreds of broken variants of real inputs (a model of each kind, the
//! Distill JSON formats, the adversarial demo's script, a target picture, a lesson record) go
//! through the library's loaders. Each variant must give a clean error — one line, no panic — or
//! a valid result. A failure names the source, the variant and the seed, so it can be replayed
//! and kept in `tests/bad_input/`.
//!
//! `tests/bad_input/` holds the nastiest cases found so far; every file there is fed to every
//! loader too.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use nca_sandbox::model::target::Target;
use nca_sandbox::model::{NcaWeights, import};
use nca_sandbox::train::Pcg32;

/// Variants per source.
const VARIANTS: usize = 150;

/// One broken variant of `bytes`, chosen by `rng`.
fn mutate(rng: &mut Pcg32, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len().max(1) as u32;
    let at = |rng: &mut Pcg32| rng.range_u32(0, len - 1) as usize;
    match rng.range_u32(0, 6) {
        // Truncated anywhere, including inside a header.
        0 => out.truncate(at(rng)),
        // A few flipped bits.
        1 => {
            for _ in 0..rng.range_u32(1, 8) {
                let i = at(rng).min(out.len() - 1);
                out[i] ^= 1 << rng.range_u32(0, 7);
            }
        }
        // A span overwritten with noise.
        2 => {
            let start = at(rng).min(out.len() - 1);
            let end = (start + rng.range_u32(1, 16) as usize).min(out.len());
            for b in &mut out[start..end] {
                *b = rng.next_u32() as u8;
            }
        }
        // Noise inserted.
        3 => {
            let i = at(rng).min(out.len());
            let noise: Vec<u8> = (0..rng.range_u32(1, 32)).map(|_| rng.next_u32() as u8).collect();
            out.splice(i..i, noise);
        }
        // A number in the first 4 KB (header lengths, shapes, offsets, JSON sizes) changed.
        4 => {
            let digits: Vec<usize> = out.iter().take(4096).enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
            if let Some(&i) = digits.get(rng.range_u32(0, digits.len().max(1) as u32 - 1) as usize) {
                let replacement: &[u8] = match rng.range_u32(0, 3) {
                    0 => b"0",
                    1 => b"99999999999",
                    2 => b"-1",
                    _ => b"4294967296",
                };
                out.splice(i..i + 1, replacement.iter().copied());
            } else {
                out.clear();
            }
        }
        // A span cut out.
        5 => {
            let start = at(rng).min(out.len());
            let end = (start + rng.range_u32(1, 64) as usize).min(out.len());
            out.drain(start..end);
        }
        // The first 8 bytes (a safetensors header's length) replaced.
        _ => {
            for b in out.iter_mut().take(8) {
                *b = rng.next_u32() as u8;
            }
        }
    }
    out
}

/// Runs `load` on `VARIANTS` variants of `bytes`; every error must be one clean line.
fn survive<T>(source: &str, seed: u64, bytes: &[u8], load: impl Fn(&[u8]) -> Result<T, String>) -> (usize, usize) {
    let mut rng = Pcg32::new(seed);
    let (mut refused, mut accepted) = (0, 0);
    for variant in 0..VARIANTS {
        let broken = mutate(&mut rng, bytes);
        let outcome = catch_unwind(AssertUnwindSafe(|| load(&broken)));
        let Ok(result) = outcome else {
            panic!("{source}: variant {variant} of seed {seed} panicked ({} bytes)", broken.len());
        };
        match result {
            Ok(_) => accepted += 1,
            Err(message) => {
                refused += 1;
                assert!(!message.trim().is_empty(), "{source} variant {variant}: an empty error");
                assert!(!message.contains('\n'), "{source} variant {variant}: a multi-line error: {message}");
                assert!(!message.contains("panicked"), "{source} variant {variant}: {message}");
            }
        }
    }
    (refused, accepted)
}

fn load_model(bytes: &[u8], hint: &str) -> Result<NcaWeights, String> {
    import::load_model_bytes(bytes, hint).map_err(|e| e.to_string())
}

#[test]
fn broken_models_of_every_format_are_refused_cleanly() {
    let sources: Vec<(&str, Vec<u8>)> = vec![
        ("lizard.safetensors", common::lizard().to_safetensors()),
        ("mnist.safetensors", NcaWeights::Mnist(common::mnist_model()).to_safetensors()),
        ("ex3_1f98e.json (WebGL uint8)", std::fs::read(common::reference("weights/growing_ca_webgl8/ex3_1f98e.json")).unwrap()),
        ("mnist_ca_tfjs_graph.json", std::fs::read(common::reference("weights/mnist_ca/mnist_ca_tfjs_graph.json")).unwrap()),
        ("mnist_adversarial_data.js", std::fs::read(common::reference("weights/adversarial/mnist_adversarial_data.js")).unwrap()),
    ];
    for (seed, (name, bytes)) in sources.iter().enumerate() {
        assert!(load_model(bytes, name).is_ok(), "{name} itself loads");
        let (refused, accepted) = survive(name, seed as u64, bytes, |b| load_model(b, name));
        eprintln!("{name}: {refused} variants refused, {accepted} still valid");
        // Most variants break the file; a flipped bit inside a weight is still a model.
        assert!(refused > VARIANTS / 3, "{name}: only {refused} of {VARIANTS} variants refused ({accepted} accepted)");
    }
}

#[test]
fn broken_pictures_are_refused_cleanly() {
    let butterfly = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/targets/butterfly.png")).unwrap();
    let (refused, _) = survive("butterfly.png as a target", 11, &butterfly, |b| Target::from_image_bytes(b, 40, 16));
    assert!(refused > VARIANTS / 3, "only {refused} broken pictures refused");
}

#[test]
fn broken_lesson_records_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let record = br#"{"version":1,"kind":"growing","what":"butterfly","parent":"lizard_regenerating.safetensors","iteration":1703,"handwriting":[[[0,255,3],7]]}"#;
    std::fs::write(dir.path().join("lesson.ckpt.safetensors"), b"x").unwrap();
    let read = |bytes: &[u8]| {
        std::fs::write(dir.path().join("lesson.json"), bytes).unwrap();
        nca_sandbox::scene::teach::read_unfinished(dir.path()).map(|_| ())
    };
    assert!(read(record).is_ok());
    let (refused, _) = survive("lesson.json", 12, record, read);
    assert!(refused > VARIANTS / 3);
}

/// The kept corpus: every file goes through every loader.
#[test]
fn the_bad_input_corpus_is_refused_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    assert!(files.len() >= 5, "the corpus at {} is missing", dir.display());
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e != "md")) {
        let bytes = std::fs::read(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let model = catch_unwind(|| load_model(&bytes, &name));
        let refused = model.as_ref().is_ok_and(|r| r.is_err());
        assert!(refused, "{name} as a model: {}", if model.is_err() { "panicked" } else { "accepted" });
        let picture = catch_unwind(|| Target::from_image_bytes(&bytes, 40, 16).map(|_| ()));
        assert!(picture.as_ref().is_ok_and(|r| r.is_err()), "{name} as a picture");
        let error = model.unwrap().unwrap_err();
        assert!(!error.contains('\n') && !error.is_empty(), "{name}: {error}");
        let own_reader = match file.extension().and_then(|e| e.to_str()) {
            Some("ron") => Some(catch_unwind(|| nca_sandbox::model::scenario::LoadedScenario::load(file).map(|_| ()))),
            Some("idx") => Some(catch_unwind(|| nca_sandbox::model::idx::read_images(file).map(|_| ()).map_err(|e| e.to_string()))),
            _ => None,
        };
        if let Some(outcome) = own_reader {
            let error = outcome.unwrap_or_else(|_| panic!("{name}: its reader panicked")).expect_err(&name);
            assert!(!error.contains('\n') && error.contains(&name), "{name}: {error}");
        }
    }
}
