//! The `.safetensors` weights format and the in-memory weight types.
//!
//! A file holds little-endian `F32` tensors plus string metadata. Every kind of model stores
//! `nca.kind`; the rest depends on the kind. For `growing`:
//!
//! | tensor | shape      | meaning                                                    |
//! |--------|------------|------------------------------------------------------------|
//! | `w1`   | [48, 128]  | perception → hidden, layout `[in, out]`, inputs filter-major |
//! | `b1`   | [128]      | hidden bias                                                |
//! | `w2`   | [128, 16]  | hidden → update, layout `[in, out]`                          |
//! | `b2`   | [16]       | update bias                                                |
//!
//! Metadata: `nca.kind = "growing"`, `nca.channels = "16"`, `nca.hidden = "128"`,
//! `nca.fire_rate`, `nca.mode` (`growing | persistent | regenerating`), `nca.target`, and
//! `nca.format = "1"`. Any other key (provenance such as `nca.source`, `nca.train.command`,
//! `nca.train.iterations`, `nca.train.loss`) is kept and written back untouched.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::{MEMORY, ModelError};
use super::spec::{
    GROWING_CHANNELS, GROWING_HIDDEN, GROWING_PERCEPTION, GrowingMode, GrowingSpec, ModelKind,
};

/// Version of the metadata layout written by this build.
pub const FORMAT_VERSION: &str = "1";

/// Keys this module owns; everything else in the metadata is provenance.
const SPEC_KEYS: [&str; 7] = [
    "nca.kind",
    "nca.format",
    "nca.channels",
    "nca.hidden",
    "nca.fire_rate",
    "nca.mode",
    "nca.target",
];

/// Any model this build can run.
#[derive(Clone, Debug, PartialEq)]
pub enum NcaWeights {
    /// A Growing NCA.
    Growing(GrowingWeights),
}

impl NcaWeights {
    /// The model's kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Growing(_) => ModelKind::Growing,
        }
    }

    /// Channels per cell.
    pub fn channels(&self) -> usize {
        match self {
            Self::Growing(_) => GROWING_CHANNELS,
        }
    }

    /// The growing weights, if that is what this is.
    pub fn as_growing(&self) -> Option<&GrowingWeights> {
        match self {
            Self::Growing(w) => Some(w),
        }
    }

    /// A short human description ("growing · regenerating · lizard").
    pub fn describe(&self) -> String {
        match self {
            Self::Growing(w) => format!("growing · {} · {}", w.spec.mode, w.spec.target),
        }
    }

    /// Reads and validates a `.safetensors` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
        Self::from_safetensors(&bytes).map_err(|e| e.with_path(path))
    }

    /// Parses and validates `.safetensors` bytes.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, ModelError> {
        let fail = |message: String| ModelError::format(MEMORY, message);
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let kind = meta
            .get("nca.kind")
            .ok_or_else(|| fail("metadata has no 'nca.kind': not an nca-sandbox model".into()))?;
        let kind: ModelKind = kind.parse().map_err(fail)?;
        match kind {
            ModelKind::Growing => GrowingWeights::from_parts(&st, &meta).map(Self::Growing).map_err(fail),
        }
    }

    /// Serialises to `.safetensors` bytes.
    pub fn to_safetensors(&self) -> Vec<u8> {
        match self {
            Self::Growing(w) => w.to_safetensors(),
        }
    }

    /// Writes a `.safetensors` file (via a temporary file, so a crash never leaves half a model).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        write_atomically(path.as_ref(), &self.to_safetensors())
    }
}

/// Weights of a Growing NCA: `dx = W2ᵀ·relu(W1ᵀ·p + b1) + b2`.
#[derive(Clone, Debug, PartialEq)]
pub struct GrowingWeights {
    /// Hyper-parameters.
    pub spec: GrowingSpec,
    /// `[48, 128]`, layout `[in, out]`.
    pub w1: Vec<f32>,
    /// `[128]`.
    pub b1: Vec<f32>,
    /// `[128, 16]`, layout `[in, out]`.
    pub w2: Vec<f32>,
    /// `[16]`.
    pub b2: Vec<f32>,
    /// Provenance metadata, kept verbatim (`nca.source`, `nca.train.*`, ...).
    pub provenance: BTreeMap<String, String>,
}

impl GrowingWeights {
    /// All-zero weights: every update is zero, so a seed stays a seed. This is also how the
    /// trainer initialises the last layer.
    pub fn zeros(spec: GrowingSpec) -> Self {
        Self {
            spec,
            w1: vec![0.0; GROWING_PERCEPTION * GROWING_HIDDEN],
            b1: vec![0.0; GROWING_HIDDEN],
            w2: vec![0.0; GROWING_HIDDEN * GROWING_CHANNELS],
            b2: vec![0.0; GROWING_CHANNELS],
            provenance: BTreeMap::new(),
        }
    }

    /// The tensors by name with their expected shapes.
    pub fn tensors(&self) -> [(&'static str, Vec<usize>, &[f32]); 4] {
        [
            ("w1", vec![GROWING_PERCEPTION, GROWING_HIDDEN], &self.w1),
            ("b1", vec![GROWING_HIDDEN], &self.b1),
            ("w2", vec![GROWING_HIDDEN, GROWING_CHANNELS], &self.w2),
            ("b2", vec![GROWING_CHANNELS], &self.b2),
        ]
    }

    /// Checks lengths and finiteness (for weights built in memory, e.g. by an importer).
    pub fn validate(&self) -> Result<(), String> {
        for (name, shape, data) in self.tensors() {
            let expected: usize = shape.iter().product();
            if data.len() != expected {
                return Err(format!("tensor '{name}' has {} values, expected {expected} {shape:?}", data.len()));
            }
            check_finite(name, data)?;
        }
        if !(self.spec.fire_rate > 0.0 && self.spec.fire_rate <= 1.0) {
            return Err(format!("nca.fire_rate {} is outside (0, 1]", self.spec.fire_rate));
        }
        Ok(())
    }

    /// Replaces `w1`, `b1`, `w2`, `b2` with the tensors of those names in `st` (checked for
    /// dtype, shape and finiteness). Also used by training checkpoints.
    pub fn read_tensors(&mut self, st: &SafeTensors<'_>) -> Result<(), String> {
        for (name, slot) in [("w1", &mut self.w1), ("b1", &mut self.b1), ("w2", &mut self.w2), ("b2", &mut self.b2)] {
            let view = st.tensor(name).map_err(|_| format!("missing tensor '{name}'"))?;
            *slot = read_f32(name, &view, &expected_shape(name))?;
        }
        Ok(())
    }

    fn from_parts(st: &SafeTensors<'_>, meta: &HashMap<String, String>) -> Result<Self, String> {
        let expect_number = |key: &str, expected: usize| -> Result<(), String> {
            match meta.get(key) {
                None => Ok(()),
                Some(v) if v.trim().parse::<usize>() == Ok(expected) => Ok(()),
                Some(v) => Err(format!("{key} is '{v}', but a growing model has {expected}")),
            }
        };
        expect_number("nca.channels", GROWING_CHANNELS)?;
        expect_number("nca.hidden", GROWING_HIDDEN)?;
        let fire_rate = match meta.get("nca.fire_rate") {
            None => super::spec::DEFAULT_FIRE_RATE,
            Some(v) => v.trim().parse::<f32>().map_err(|_| format!("nca.fire_rate '{v}' is not a number"))?,
        };
        let mode = match meta.get("nca.mode") {
            None => GrowingMode::default(),
            Some(v) => v.parse()?,
        };
        let spec = GrowingSpec { fire_rate, mode, target: meta.get("nca.target").cloned().unwrap_or_default() };
        let mut w = Self::zeros(spec);
        w.read_tensors(st)?;
        w.provenance = meta
            .iter()
            .filter(|(k, _)| !SPEC_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        w.validate()?;
        Ok(w)
    }

    fn to_safetensors(&self) -> Vec<u8> {
        let mut meta: HashMap<String, String> =
            self.provenance.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, v) in [
            ("nca.kind", ModelKind::Growing.to_string()),
            ("nca.format", FORMAT_VERSION.to_string()),
            ("nca.channels", GROWING_CHANNELS.to_string()),
            ("nca.hidden", GROWING_HIDDEN.to_string()),
            ("nca.fire_rate", self.spec.fire_rate.to_string()),
            ("nca.mode", self.spec.mode.to_string()),
            ("nca.target", self.spec.target.clone()),
        ] {
            meta.insert(k.to_string(), v);
        }
        let tensors = self.tensors();
        let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, d)| f32_to_le_bytes(d)).collect();
        let views: Vec<(&str, TensorView<'_>)> = tensors
            .iter()
            .zip(&bytes)
            .map(|((name, shape, _), b)| {
                (*name, TensorView::new(Dtype::F32, shape.clone(), b).expect("shape matches data"))
            })
            .collect();
        safetensors::serialize(views, Some(meta)).expect("in-memory serialisation cannot fail")
    }
}

fn expected_shape(name: &str) -> Vec<usize> {
    match name {
        "w1" => vec![GROWING_PERCEPTION, GROWING_HIDDEN],
        "b1" => vec![GROWING_HIDDEN],
        "w2" => vec![GROWING_HIDDEN, GROWING_CHANNELS],
        _ => vec![GROWING_CHANNELS],
    }
}

/// Reads an `F32` tensor of exactly `shape`, refusing NaN and infinities.
pub fn read_f32(name: &str, view: &TensorView<'_>, shape: &[usize]) -> Result<Vec<f32>, String> {
    if view.dtype() != Dtype::F32 {
        return Err(format!("tensor '{name}' is {:?}, expected F32", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!("tensor '{name}' has shape {:?}, expected {shape:?}", view.shape()));
    }
    let data: Vec<f32> =
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    check_finite(name, &data)?;
    Ok(data)
}

/// Fails on the first NaN or infinite value.
pub fn check_finite(name: &str, data: &[f32]) -> Result<(), String> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(format!("tensor '{name}' holds {} at index {i}", data[i])),
    }
}

/// Little-endian bytes of an `f32` slice.
pub fn f32_to_le_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let io = |source| ModelError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GrowingWeights {
        let mut w = GrowingWeights::zeros(GrowingSpec {
            fire_rate: 0.5,
            mode: GrowingMode::Persistent,
            target: "lizard".into(),
        });
        for (i, v) in w.w1.iter_mut().enumerate() {
            *v = (i as f32 * 0.37).sin();
        }
        w.b2[3] = -0.25;
        w.provenance.insert("nca.source".into(), "unit test".into());
        w
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let w = NcaWeights::Growing(sample());
        let back = NcaWeights::from_safetensors(&w.to_safetensors()).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn truncated_bytes_are_refused() {
        let bytes = NcaWeights::Growing(sample()).to_safetensors();
        let err = NcaWeights::from_safetensors(&bytes[..bytes.len() - 100]).unwrap_err();
        assert!(err.to_string().contains("not a valid safetensors"), "{err}");
    }
}
