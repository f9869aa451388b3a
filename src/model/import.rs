//! Converters from the published Distill model files to [`NcaWeights`].
//!
//! - **WebGL uint8 JSON** (`webgl_models8/exN_*.json`): a list of two layers
//!   `{data_b64, in_ch, out_ch, weight_scale, bias_scale, type: "uint8"}`. The bytes form a
//!   row-major `[(in_ch + 1), out_ch]` matrix whose last row is the bias, and a byte `u`
//!   decodes to `(u / 255 − 0.5) · scale`. Inputs are already filter-major.
//! - **TF.js graph-model JSON**: float32 `Const` tensors inline as base64 `tensorContent`. The
//!   layers are found by node name: each Keras `conv2d[_N]` layer reads its kernel through
//!   `…/conv2d[_N]/Conv2D/ReadVariableOp` and its bias through `…/BiasAdd/ReadVariableOp`
//!   (Identity nodes, followed back to their `Const`), and `N` orders the layers. Two layers
//!   `[1,1,48,128]`, `[1,1,128,16]` make a growing model: TensorFlow's depthwise convolution
//!   emits perception channel-major (`row = c·3 + f`), so `w1`'s rows are reordered to
//!   filter-major (`f·16 + c`). Three layers `[3,3,20,80]`, `[1,1,80,80]`, `[1,1,80,19]` make an
//!   MNIST model (the Distill self-classifying MNIST graph); their layouts are already ours.
//! - **The adversarial-reprogramming demo's data** (`mnist_adversarial_data.js`):
//!   `window.WEIGHTS_B64` (the MNIST model) and `window.ADV_WEIGHTS_B64` (the adversary), each
//!   six base64 little-endian float32 arrays in the MNIST model's order and layouts.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use super::error::{MEMORY, ModelError};
use super::mnist::{self, MnistRole, MnistSpec, MnistWeights};
use super::spec::{GROWING_CHANNELS, GROWING_FILTERS, GROWING_HIDDEN, GROWING_PERCEPTION, GrowingMode, GrowingSpec};
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
    /// The adversarial-reprogramming demo's `window.WEIGHTS_B64 = […]` script.
    AdversarialJs,
}

/// Which model of a file that holds two (the adversarial demo's data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// The file's main model (`WEIGHTS_B64`).
    #[default]
    Main,
    /// The adversary (`ADV_WEIGHTS_B64`).
    Adversary,
}

/// Reads any supported model file, deciding the format from its content.
///
/// `name_hint` (usually the file stem, e.g. `ex3_1f98e`) fills in the mode and target that the
/// Distill formats do not store.
pub fn load_model_file(path: impl AsRef<Path>) -> Result<NcaWeights, ModelError> {
    load_model_file_picking(path, Pick::Main)
}

/// [`load_model_file`], choosing which model of a two-model file to read.
pub fn load_model_file_picking(path: impl AsRef<Path>, pick: Pick) -> Result<NcaWeights, ModelError> {
    let path = path.as_ref();
    let bytes = super::weights::read_model_file(path)?;
    let hint = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    load_model_bytes_picking(&bytes, hint, pick).map_err(|e| e.with_path(path))
}

/// [`load_model_file`] on bytes already in memory.
pub fn load_model_bytes(bytes: &[u8], name_hint: &str) -> Result<NcaWeights, ModelError> {
    load_model_bytes_picking(bytes, name_hint, Pick::Main)
}

fn load_model_bytes_picking(bytes: &[u8], name_hint: &str, pick: Pick) -> Result<NcaWeights, ModelError> {
    let format = sniff(bytes);
    if pick == Pick::Adversary && format != Some(SourceFormat::AdversarialJs) {
        return Err(ModelError::format(MEMORY, "holds no adversary: --adversary reads the adversarial demo's data (.js)"));
    }
    let weights = match format {
        Some(SourceFormat::Safetensors) => NcaWeights::from_safetensors(bytes),
        Some(SourceFormat::AdversarialJs) => from_adversarial_js(bytes, pick).map_err(|m| ModelError::format(MEMORY, m)),
        Some(format) => import_json(strip_bom(bytes), format, name_hint),
        None => Err(ModelError::format(
            MEMORY,
            "not a model file: expected .safetensors, Distill WebGL JSON, TF.js graph JSON or the adversarial demo's .js",
        )),
    }?;
    weights.check_values().map_err(|m| ModelError::format(MEMORY, m))?;
    Ok(weights)
}

/// Text files saved by some editors start with a UTF-8 byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Guesses the format from the first bytes.
pub fn sniff(bytes: &[u8]) -> Option<SourceFormat> {
    // The safetensors test comes first: its first byte is a length, which may happen to be '['.
    if looks_like_safetensors(bytes) {
        return Some(SourceFormat::Safetensors);
    }
    let text = strip_bom(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| text[i..].starts_with(b"window.")) {
        return Some(SourceFormat::AdversarialJs);
    }
    match text.get(start?)? {
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
        SourceFormat::TfjsGraph => match from_tfjs_graph(bytes).map_err(fail)? {
            NcaWeights::Growing(w) => w,
            NcaWeights::Mnist(mut w) => {
                w.provenance.insert("nca.source".into(), format!("imported from {} (TF.js graph-model JSON)", describe_hint(name_hint)));
                return Ok(NcaWeights::Mnist(w));
            }
        },
        SourceFormat::Safetensors => return NcaWeights::from_safetensors(bytes),
        SourceFormat::AdversarialJs => return from_adversarial_js(bytes, Pick::Main).map_err(fail),
    };
    let (mode, target) = guess_mode_and_target(name_hint);
    weights.spec.mode = mode;
    weights.spec.target = target;
    weights.provenance.insert(
        "nca.source".into(),
        format!(
            "imported from {} ({})",
            describe_hint(name_hint),
            match format {
                SourceFormat::DistillWebgl8 => "Distill WebGL uint8 JSON",
                _ => "TF.js graph-model JSON",
            }
        ),
    );
    weights.validate().map_err(fail)?;
    Ok(NcaWeights::Growing(weights))
}

fn describe_hint(name_hint: &str) -> &str {
    if name_hint.is_empty() { "memory" } else { name_hint }
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
            let mode = GrowingMode::ALL.into_iter().rev().find(|m| lower.contains(m.as_str())).unwrap_or_default();
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
    let layers: Vec<Webgl8Layer> = serde_json::from_slice(bytes).map_err(|e| format!("not Distill WebGL JSON ({e})"))?;
    if layers.len() != 2 {
        return Err(format!("expected 2 layers, found {}", layers.len()));
    }
    let decode = |idx: usize, expect_in: usize, expect_out: usize| -> Result<(Vec<f32>, Vec<f32>), String> {
        let layer = &layers[idx];
        if let Some(t) = layer.dtype.as_deref().filter(|t| *t != "uint8") {
            return Err(format!("layer {idx} has type '{t}', only uint8 is supported"));
        }
        if (layer.in_ch, layer.out_ch) != (expect_in, expect_out) {
            return Err(format!("layer {idx} is {}→{}, expected {expect_in}→{expect_out}", layer.in_ch, layer.out_ch));
        }
        let data = BASE64.decode(layer.data_b64.trim()).map_err(|e| format!("layer {idx}: bad base64 ({e})"))?;
        let expected = (expect_in + 1) * expect_out;
        if data.len() != expected {
            return Err(format!("layer {idx} holds {} bytes, expected {expected}", data.len()));
        }
        let value = |u: u8, scale: f32| (u as f32 / 255.0 - 0.5) * scale;
        let (w, b) = data.split_at(expect_in * expect_out);
        Ok((w.iter().map(|&u| value(u, layer.weight_scale)).collect(), b.iter().map(|&u| value(u, layer.bias_scale)).collect()))
    };
    let mut out = GrowingWeights::zeros(GrowingSpec::default());
    (out.w1, out.b1) = decode(0, GROWING_PERCEPTION, GROWING_HIDDEN)?;
    (out.w2, out.b2) = decode(1, GROWING_HIDDEN, GROWING_CHANNELS)?;
    Ok(out)
}

/// One Keras layer of a TF.js graph: its kernel and bias with their shapes.
struct GraphLayer {
    kernel: (Vec<usize>, Vec<f32>),
    bias: (Vec<usize>, Vec<f32>),
}

/// Decodes a TF.js graph model holding a growing or an MNIST NCA (see the module docs).
pub fn from_tfjs_graph(bytes: &[u8]) -> Result<NcaWeights, String> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let nodes =
        root.pointer("/modelTopology/node").and_then(Value::as_array).ok_or("not a TF.js graph model: no modelTopology.node list")?;
    let by_name: std::collections::HashMap<&str, &Value> = nodes.iter().filter_map(|n| Some((n.get("name")?.as_str()?, n))).collect();
    // Every layer the graph mentions, by its kernel or its bias: a layer with only one of them, or
    // one that is not `conv2d[_N]`, is a broken graph to refuse, not a layer to skip.
    let mut prefixes = std::collections::BTreeSet::new();
    for name in by_name.keys() {
        if let Some(prefix) = name.strip_suffix("/Conv2D/ReadVariableOp").or_else(|| name.strip_suffix("/BiasAdd/ReadVariableOp")) {
            prefixes.insert(prefix);
        }
    }
    let mut layers: Vec<(usize, String)> = Vec::new();
    for prefix in prefixes {
        let layer = prefix.rsplit('/').next().unwrap_or(prefix);
        let index = match layer.strip_prefix("conv2d") {
            Some("") => Some(0),
            Some(n) => n.strip_prefix('_').and_then(|n| n.parse::<usize>().ok()),
            None => None,
        };
        let index = index.ok_or_else(|| format!("the graph has a layer '{prefix}' that is not a conv2d layer of an NCA"))?;
        if let Some((_, other)) = layers.iter().find(|(i, _)| *i == index) {
            return Err(format!("the graph has two layers numbered {index}: '{other}' and '{prefix}'"));
        }
        layers.push((index, prefix.to_string()));
    }
    layers.sort();
    let layers: Vec<GraphLayer> = layers
        .iter()
        .map(|(_, prefix)| {
            let part = |suffix: &str, what: &str| {
                graph_tensor(&by_name, &format!("{prefix}/{suffix}"))
                    .map_err(|e| format!("layer '{prefix}' is incomplete: its {what}: {e}"))
            };
            Ok(GraphLayer { kernel: part("Conv2D/ReadVariableOp", "kernel")?, bias: part("BiasAdd/ReadVariableOp", "bias")? })
        })
        .collect::<Result<_, String>>()?;
    let shapes: Vec<String> = layers.iter().map(|l| format!("{:?}", l.kernel.0)).collect();
    let is = |layer: &GraphLayer, kernel: &[usize], bias: usize| layer.kernel.0 == kernel && layer.bias.0 == [bias];
    let (g, c) = (GROWING_PERCEPTION, GROWING_CHANNELS);
    match layers.as_slice() {
        [l1, l2] if is(l1, &[1, 1, g, GROWING_HIDDEN], GROWING_HIDDEN) && is(l2, &[1, 1, GROWING_HIDDEN, c], c) => {
            let mut out = GrowingWeights::zeros(GrowingSpec::default());
            for ch in 0..GROWING_CHANNELS {
                for f in 0..GROWING_FILTERS {
                    let src = (ch * GROWING_FILTERS + f) * GROWING_HIDDEN;
                    let dst = (f * GROWING_CHANNELS + ch) * GROWING_HIDDEN;
                    out.w1[dst..dst + GROWING_HIDDEN].copy_from_slice(&l1.kernel.1[src..src + GROWING_HIDDEN]);
                }
            }
            (out.b1, out.w2, out.b2) = (l1.bias.1.clone(), l2.kernel.1.clone(), l2.bias.1.clone());
            Ok(NcaWeights::Growing(out))
        }
        [l1, l2, l3]
            if is(l1, &[3, 3, mnist::CHANNELS, mnist::HIDDEN], mnist::HIDDEN)
                && is(l2, &[1, 1, mnist::HIDDEN, mnist::HIDDEN], mnist::HIDDEN)
                && is(l3, &[1, 1, mnist::HIDDEN, mnist::UPDATE], mnist::UPDATE) =>
        {
            let mut out = MnistWeights::zeros(MnistSpec::default());
            for (slot, values) in out
                .tensors_mut()
                .into_iter()
                .zip([l1, l1, l2, l2, l3, l3].iter().enumerate().map(|(i, l)| if i % 2 == 0 { &l.kernel.1 } else { &l.bias.1 }))
            {
                slot.clone_from(values);
            }
            out.validate()?;
            Ok(NcaWeights::Mnist(out))
        }
        _ => Err(format!(
            "the graph's conv2d layers have kernels {} — neither a growing NCA ([1, 1, 48, 128], [1, 1, 128, 16]) nor an MNIST NCA ([3, 3, 20, 80], [1, 1, 80, 80], [1, 1, 80, 19])",
            if shapes.is_empty() { "(none)".to_string() } else { shapes.join(", ") }
        )),
    }
}

/// The float tensor a graph node reads: follows Identity nodes back to the `Const` holding it.
fn graph_tensor(nodes: &std::collections::HashMap<&str, &Value>, name: &str) -> Result<(Vec<usize>, Vec<f32>), String> {
    let mut current = name;
    for _ in 0..16 {
        let node = nodes.get(current).ok_or_else(|| format!("the graph has no node '{current}' (needed for '{name}')"))?;
        match node.get("op").and_then(Value::as_str) {
            Some("Const") => return const_tensor(node).map_err(|e| format!("node '{current}': {e}")),
            Some("Identity") => {
                current = node
                    .get("input")
                    .and_then(Value::as_array)
                    .and_then(|inputs| inputs.iter().filter_map(Value::as_str).find(|i| !i.starts_with('^')))
                    .ok_or_else(|| format!("node '{current}' has no input"))?;
            }
            other => return Err(format!("node '{current}' is a {}, not a constant", other.unwrap_or("node without an op"))),
        }
    }
    Err(format!("'{name}' does not lead to a constant"))
}

/// A float32 `Const` node's shape and values.
fn const_tensor(node: &Value) -> Result<(Vec<usize>, Vec<f32>), String> {
    let tensor = node.pointer("/attr/value/tensor").ok_or("no tensor value")?;
    if tensor.get("dtype").and_then(Value::as_str) != Some("DT_FLOAT") {
        return Err("not a float32 tensor".into());
    }
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
    let content = tensor.get("tensorContent").and_then(Value::as_str).ok_or("no inline tensorContent")?;
    let raw = BASE64.decode(content).map_err(|e| format!("bad base64 ({e})"))?;
    let expected = shape.iter().product::<usize>() * 4;
    if raw.len() != expected {
        return Err(format!("shape {shape:?} needs {expected} bytes, holds {}", raw.len()));
    }
    Ok((shape, le_floats(&raw)))
}

fn le_floats(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Reads `window.WEIGHTS_B64` (or `ADV_WEIGHTS_B64`) from the adversarial demo's data script.
pub fn from_adversarial_js(bytes: &[u8], pick: Pick) -> Result<NcaWeights, String> {
    let text = std::str::from_utf8(strip_bom(bytes)).map_err(|_| "not a text file".to_string())?;
    let variable = match pick {
        Pick::Main => "WEIGHTS_B64",
        Pick::Adversary => "ADV_WEIGHTS_B64",
    };
    let marker = format!("window.{variable}");
    let at = text
        .match_indices(&marker)
        .map(|(i, _)| i + marker.len())
        .find(|&i| text[i..].trim_start().starts_with('='))
        .ok_or_else(|| format!("no window.{variable} = […] in the script"))?;
    let value_text = text[at..].trim_start().trim_start_matches('=');
    let arrays: Vec<String> = serde_json::Deserializer::from_str(value_text)
        .into_iter::<Vec<String>>()
        .next()
        .ok_or_else(|| format!("window.{variable} holds no list"))?
        .map_err(|e| format!("window.{variable} is not a list of base64 strings ({e})"))?;
    let mut out = MnistWeights::zeros(MnistSpec {
        role: if pick == Pick::Adversary { MnistRole::Adversary } else { MnistRole::Classifier },
        ..MnistSpec::default()
    });
    let names: Vec<(&str, usize)> = out.tensors().iter().map(|(n, s, _)| (*n, s.iter().product())).collect();
    if arrays.len() != names.len() {
        return Err(format!("window.{variable} holds {} arrays, an MNIST model has {}", arrays.len(), names.len()));
    }
    for ((slot, (name, len)), encoded) in out.tensors_mut().into_iter().zip(names).zip(&arrays) {
        let raw = BASE64.decode(encoded.trim()).map_err(|e| format!("window.{variable}, {name}: bad base64 ({e})"))?;
        if raw.len() != len * 4 {
            return Err(format!("window.{variable}, {name}: {} bytes, expected {}", raw.len(), len * 4));
        }
        *slot = le_floats(&raw);
    }
    out.provenance.insert("nca.source".into(), format!("imported from the adversarial-reprogramming demo (window.{variable})"));
    out.validate()?;
    Ok(NcaWeights::Mnist(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_mode_and_target() {
        assert_eq!(guess_mode_and_target("ex3_1f98e"), (GrowingMode::Regenerating, "lizard".into()));
        assert_eq!(guess_mode_and_target("ex1_1f600"), (GrowingMode::Growing, "1f600".into()));
        assert_eq!(guess_mode_and_target("lizard_regenerating_run0_tfjs_graph"), (GrowingMode::Regenerating, "lizard".into()));
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
    fn adversarial_script_needs_six_arrays() {
        let script = format!("window.WEIGHTS_B64 = [\"{}\"];", BASE64.encode([0u8; 8]));
        let err = from_adversarial_js(script.as_bytes(), Pick::Main).unwrap_err();
        assert!(err.contains("holds 1 arrays"), "{err}");
        assert!(from_adversarial_js(script.as_bytes(), Pick::Adversary).unwrap_err().contains("no window.ADV_WEIGHTS_B64"));
        assert_eq!(sniff(script.as_bytes()), Some(SourceFormat::AdversarialJs));
    }

    #[test]
    fn a_byte_order_mark_is_not_a_format() {
        assert_eq!(sniff(b"\xef\xbb\xbf[{}]"), Some(SourceFormat::DistillWebgl8));
    }

    #[test]
    fn garbage_is_not_a_model() {
        assert!(load_model_bytes(b"hello", "x").is_err());
        assert!(load_model_bytes(b"", "x").is_err());
        assert!(load_model_bytes(b"[1,2,3]", "x").unwrap_err().to_string().contains("WebGL"));
    }
}
