//! Converters from the published Distill model files to [`NcaWeights`].
//!
//! - **WebGL uint8 JSON** (`webgl_models8/exN_*.json`): a list of two layers
//!   `{data_b64, in_ch, out_ch, weight_scale, bias_scale, type: "uint8"}`. The bytes form a
//!   row-major `[(in_ch + 1), out_ch]` matrix whose last row is the bias, and a byte `u`
//!   decodes to `(u / 255 − 0.5) · scale`. Inputs are already filter-major.
//! - **TF.js graph-model JSON**: float32 `Const` tensors inline as base64 `tensorContent`,
//!   shapes `[1,1,48,128]`, `[128]`, `[1,1,128,16]`, `[16]`. TensorFlow's depthwise
//!   convolution emits perception channel-major (`row = c·3 + f`), so `w1`'s rows are
//!   reordered to filter-major (`f·16 + c`).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use super::error::{MEMORY, ModelError};
use super::spec::{
    GROWING_CHANNELS, GROWING_FILTERS, GROWING_HIDDEN, GROWING_PERCEPTION, GrowingMode, GrowingSpec,
};
use super::weights::{GrowingWeights, NcaWeights};

/// The formats a model file can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// This project's `.safetensors`.
    Safetensors,
    /// Distill WebGL uint8 JSON.
    DistillWebgl8,
    /// TF.js graph-model JSON.
    TfjsGraph,
}

/// Reads any supported model file, deciding the format from its content.
///
/// `name_hint` (usually the file stem, e.g. `ex3_1f98e`) fills in the mode and target that the
/// Distill formats do not store.
pub fn load_model_file(path: impl AsRef<Path>) -> Result<NcaWeights, ModelError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    let hint = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    load_model_bytes(&bytes, hint).map_err(|e| e.with_path(path))
}

/// [`load_model_file`] on bytes already in memory.
pub fn load_model_bytes(bytes: &[u8], name_hint: &str) -> Result<NcaWeights, ModelError> {
    match sniff(bytes) {
        Some(SourceFormat::Safetensors) => NcaWeights::from_safetensors(bytes),
        Some(format) => import_json(bytes, format, name_hint),
        None => Err(ModelError::format(
            MEMORY,
            "not a model file: expected .safetensors, Distill WebGL JSON or TF.js graph JSON",
        )),
    }
}

/// Guesses the format from the first bytes.
pub fn sniff(bytes: &[u8]) -> Option<SourceFormat> {
    // The safetensors test comes first: its first byte is a length, which may happen to be '['.
    if looks_like_safetensors(bytes) {
        return Some(SourceFormat::Safetensors);
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => Some(SourceFormat::DistillWebgl8),
        b'{' => Some(SourceFormat::TfjsGraph),
        // Other binary data of at least a header's length is treated as a (broken) safetensors
        // file, so the error says what a safetensors reader found wrong with it.
        _ if bytes.len() >= 8 && !bytes.is_ascii() => Some(SourceFormat::Safetensors),
        _ => None,
    }
}

/// A safetensors file starts with a little-endian u64 header length followed by `{`.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.len() > 8 && {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        n > 0 && n < (bytes.len() as u64) && bytes[8] == b'{'
    }
}

/// Converts Distill JSON bytes in `format`.
pub fn import_json(bytes: &[u8], format: SourceFormat, name_hint: &str) -> Result<NcaWeights, ModelError> {
    let fail = |m: String| ModelError::format(MEMORY, m);
    let mut weights = match format {
        SourceFormat::DistillWebgl8 => from_webgl8(bytes).map_err(fail)?,
        SourceFormat::TfjsGraph => from_tfjs_graph(bytes).map_err(fail)?,
        SourceFormat::Safetensors => return NcaWeights::from_safetensors(bytes),
    };
    let (mode, target) = guess_mode_and_target(name_hint);
    weights.spec.mode = mode;
    weights.spec.target = target;
    weights.provenance.insert(
        "nca.source".into(),
        format!("imported from {} ({})", if name_hint.is_empty() { "memory" } else { name_hint }, match format {
            SourceFormat::DistillWebgl8 => "Distill WebGL uint8 JSON",
            _ => "TF.js graph-model JSON",
        }),
    );
    weights.validate().map_err(fail)?;
    Ok(NcaWeights::Growing(weights))
}

/// Distill names files `ex1_*` (growing), `ex2_*` (persistent), `ex3_*` (regenerating);
/// other names (`lizard_regenerating_run0`) are searched for a mode word.
pub fn guess_mode_and_target(name: &str) -> (GrowingMode, String) {
    let lower = name.to_ascii_lowercase();
    let (mode, rest) = match lower.split_once('_') {
        Some(("ex1", rest)) => (GrowingMode::Growing, rest.to_string()),
        Some(("ex2", rest)) => (GrowingMode::Persistent, rest.to_string()),
        Some(("ex3", rest)) => (GrowingMode::Regenerating, rest.to_string()),
        _ => {
            let mode = GrowingMode::ALL
                .into_iter()
                .rev()
                .find(|m| lower.contains(m.as_str()))
                .unwrap_or_default();
            (mode, lower.split('_').next().unwrap_or("").to_string())
        }
    };
    let target = match rest.as_str() {
        "1f98e" => "lizard".to_string(),
        other => other.to_string(),
    };
    (mode, target)
}

#[derive(Deserialize)]
struct Webgl8Layer {
    data_b64: String,
    in_ch: usize,
    out_ch: usize,
    weight_scale: f32,
    bias_scale: f32,
    #[serde(rename = "type", default)]
    dtype: Option<String>,
}

/// Decodes the Distill WebGL uint8 format.
pub fn from_webgl8(bytes: &[u8]) -> Result<GrowingWeights, String> {
    let layers: Vec<Webgl8Layer> =
        serde_json::from_slice(bytes).map_err(|e| format!("not Distill WebGL JSON ({e})"))?;
    if layers.len() != 2 {
        return Err(format!("expected 2 layers, found {}", layers.len()));
    }
    let decode = |idx: usize, expect_in: usize, expect_out: usize| -> Result<(Vec<f32>, Vec<f32>), String> {
        let layer = &layers[idx];
        if let Some(t) = layer.dtype.as_deref().filter(|t| *t != "uint8") {
            return Err(format!("layer {idx} has type '{t}', only uint8 is supported"));
        }
        if (layer.in_ch, layer.out_ch) != (expect_in, expect_out) {
            return Err(format!(
                "layer {idx} is {}→{}, expected {expect_in}→{expect_out}",
                layer.in_ch, layer.out_ch
            ));
        }
        let data = BASE64.decode(layer.data_b64.trim()).map_err(|e| format!("layer {idx}: bad base64 ({e})"))?;
        let expected = (expect_in + 1) * expect_out;
        if data.len() != expected {
            return Err(format!("layer {idx} holds {} bytes, expected {expected}", data.len()));
        }
        let value = |u: u8, scale: f32| (u as f32 / 255.0 - 0.5) * scale;
        let (w, b) = data.split_at(expect_in * expect_out);
        Ok((
            w.iter().map(|&u| value(u, layer.weight_scale)).collect(),
            b.iter().map(|&u| value(u, layer.bias_scale)).collect(),
        ))
    };
    let mut out = GrowingWeights::zeros(GrowingSpec::default());
    (out.w1, out.b1) = decode(0, GROWING_PERCEPTION, GROWING_HIDDEN)?;
    (out.w2, out.b2) = decode(1, GROWING_HIDDEN, GROWING_CHANNELS)?;
    Ok(out)
}

/// Decodes a TF.js graph model holding a growing NCA.
pub fn from_tfjs_graph(bytes: &[u8]) -> Result<GrowingWeights, String> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let nodes = root
        .pointer("/modelTopology/node")
        .and_then(Value::as_array)
        .ok_or("not a TF.js graph model: no modelTopology.node list")?;
    let mut found: [Option<Vec<f32>>; 4] = Default::default();
    let wanted: [&[usize]; 4] = [
        &[1, 1, GROWING_PERCEPTION, GROWING_HIDDEN],
        &[GROWING_HIDDEN],
        &[1, 1, GROWING_HIDDEN, GROWING_CHANNELS],
        &[GROWING_CHANNELS],
    ];
    for node in nodes {
        let Some(tensor) = node.pointer("/attr/value/tensor") else { continue };
        if tensor.get("dtype").and_then(Value::as_str) != Some("DT_FLOAT") {
            continue;
        }
        let Some(content) = tensor.get("tensorContent").and_then(Value::as_str) else { continue };
        let shape: Vec<usize> = tensor
            .pointer("/tensorShape/dim")
            .and_then(Value::as_array)
            .map(|dims| {
                dims.iter()
                    .filter_map(|d| match d.get("size") {
                        Some(Value::String(s)) => s.parse().ok(),
                        Some(v) => v.as_u64().map(|n| n as usize),
                        None => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(slot) = wanted.iter().position(|w| *w == shape.as_slice()) else { continue };
        if found[slot].is_some() {
            continue;
        }
        let raw = BASE64.decode(content).map_err(|e| format!("tensor {shape:?}: bad base64 ({e})"))?;
        let expected: usize = shape.iter().product::<usize>() * 4;
        if raw.len() != expected {
            return Err(format!("tensor {shape:?} holds {} bytes, expected {expected}", raw.len()));
        }
        found[slot] = Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
    }
    let names = ["w1 [1,1,48,128]", "b1 [128]", "w2 [1,1,128,16]", "b2 [16]"];
    let mut it = found.into_iter().zip(names).map(|(t, n)| t.ok_or(format!("no float tensor {n} in the graph")));
    let (w1_channel_major, b1, w2, b2) = (it.next().unwrap()?, it.next().unwrap()?, it.next().unwrap()?, it.next().unwrap()?);

    let mut out = GrowingWeights::zeros(GrowingSpec::default());
    for c in 0..GROWING_CHANNELS {
        for f in 0..GROWING_FILTERS {
            let src = (c * GROWING_FILTERS + f) * GROWING_HIDDEN;
            let dst = (f * GROWING_CHANNELS + c) * GROWING_HIDDEN;
            out.w1[dst..dst + GROWING_HIDDEN].copy_from_slice(&w1_channel_major[src..src + GROWING_HIDDEN]);
        }
    }
    (out.b1, out.w2, out.b2) = (b1, w2, b2);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_mode_and_target() {
        assert_eq!(guess_mode_and_target("ex3_1f98e"), (GrowingMode::Regenerating, "lizard".into()));
        assert_eq!(guess_mode_and_target("ex1_1f600"), (GrowingMode::Growing, "1f600".into()));
        assert_eq!(
            guess_mode_and_target("lizard_regenerating_run0_tfjs_graph"),
            (GrowingMode::Regenerating, "lizard".into())
        );
    }

    #[test]
    fn webgl8_decodes_scale_and_bias_row() {
        let mut l0 = vec![255u8; 49 * 128];
        l0[48 * 128] = 0; // first bias
        let l1 = vec![128u8; 129 * 16];
        let json = format!(
            r#"[{{"data_b64":"{}","in_ch":48,"out_ch":128,"weight_scale":2.0,"bias_scale":4.0,"type":"uint8"}},
                {{"data_b64":"{}","in_ch":128,"out_ch":16,"weight_scale":1.0,"bias_scale":1.0,"type":"uint8"}}]"#,
            BASE64.encode(&l0),
            BASE64.encode(&l1)
        );
        let w = from_webgl8(json.as_bytes()).unwrap();
        assert_eq!(w.w1[0], 1.0);
        assert_eq!(w.b1[0], -2.0);
        assert_eq!(w.b1[1], 2.0);
        assert!((w.w2[0] - (128.0 / 255.0 - 0.5)).abs() < 1e-7);
    }

    #[test]
    fn garbage_is_not_a_model() {
        assert!(load_model_bytes(b"hello", "x").is_err());
        assert!(load_model_bytes(b"", "x").is_err());
        assert!(load_model_bytes(b"[1,2,3]", "x").unwrap_err().to_string().contains("WebGL"));
    }
}
