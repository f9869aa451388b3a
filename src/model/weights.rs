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
//! `nca.format = "1"`. For `mnist`:
//!
//! | tensor   | shape          | meaning                                           |
//! |----------|----------------|---------------------------------------------------|
//! | `conv_w` | [3, 3, 20, 80] | the learned perception, `[ky, kx, in, out]` (HWIO) |
//! | `conv_b` | [80]           | its bias                                          |
//! | `w1`     | [80, 80]       | `[in, out]`                                       |
//! | `b1`     | [80]           |                                                   |
//! | `w2`     | [80, 19]       | `[in, out]`: the update of channels 1–19          |
//! | `b2`     | [19]           |                                                   |
//!
//! Metadata: `nca.kind = "mnist"`, `nca.channels = "20"`, `nca.hidden = "80"`, `nca.fire_rate`,
//! `nca.noise_std`, `nca.role` (`classifier | adversary`), `nca.format = "1"`.
//!
//! Any other key (provenance such as `nca.source`, `nca.train.command`, `nca.train.iterations`,
//! `nca.train.loss`) is kept and written back untouched.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::{MEMORY, ModelError};
use super::kind::ModelKind;
pub use super::mnist::MnistWeights;
use super::mnist::{self, MnistRole, MnistSpec};
use super::spec::{GROWING_CHANNELS, GROWING_HIDDEN, GROWING_PERCEPTION, GrowingMode, GrowingSpec};

/// Version of the metadata layout written by this build.
pub const FORMAT_VERSION: &str = "1";

/// Largest model file read: the biggest model this build knows is well under a megabyte, so
/// anything past this is refused from its size alone, before a byte of it is read.
pub const MAX_MODEL_BYTES: u64 = 64 << 20;

/// A model file's bytes, after judging it from its metadata: a folder or a file larger than
/// [`MAX_MODEL_BYTES`] is refused without reading it.
pub fn read_model_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    super::files::read_input(path, "model", MAX_MODEL_BYTES)
}

/// Largest |weight| accepted: trained NCAs stay within a few units, so anything near this is a
/// broken file whose first step would overflow the state.
pub const MAX_WEIGHT_MAGNITUDE: f32 = 1e6;

/// Keys this module owns; everything else in the metadata is provenance.
const SPEC_KEYS: [&str; 9] =
    ["nca.kind", "nca.format", "nca.channels", "nca.hidden", "nca.fire_rate", "nca.mode", "nca.target", "nca.noise_std", "nca.role"];

/// Any model this build can run.
#[derive(Clone, Debug, PartialEq)]
pub enum NcaWeights {
    /// A Growing NCA.
    Growing(GrowingWeights),
    /// A self-classifying MNIST NCA.
    Mnist(MnistWeights),
}

impl NcaWeights {
    /// The model's kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Growing(_) => ModelKind::Growing,
            Self::Mnist(_) => ModelKind::Mnist,
        }
    }

    /// Channels per cell.
    pub fn channels(&self) -> usize {
        self.kind().channels()
    }

    /// The growing weights, if that is what this is.
    pub fn as_growing(&self) -> Option<&GrowingWeights> {
        match self {
            Self::Growing(w) => Some(w),
            _ => None,
        }
    }

    /// The MNIST weights, if that is what this is.
    pub fn as_mnist(&self) -> Option<&MnistWeights> {
        match self {
            Self::Mnist(w) => Some(w),
            _ => None,
        }
    }

    /// The growing weights, or an error that says what the file holds instead.
    pub fn expect_growing(&self) -> Result<&GrowingWeights, String> {
        self.as_growing().ok_or_else(|| format!("this is a {} model, but a growing model is needed here", self.kind()))
    }

    /// The MNIST weights, or an error that says what the file holds instead.
    pub fn expect_mnist(&self) -> Result<&MnistWeights, String> {
        self.as_mnist().ok_or_else(|| format!("this is a {} model, but an MNIST model is needed here", self.kind()))
    }

    /// A short human description ("growing · regenerating · lizard", "mnist · classifier").
    pub fn describe(&self) -> String {
        match self {
            Self::Growing(w) => format!("growing · {} · {}", w.spec.mode, w.spec.target),
            Self::Mnist(w) => w.describe(),
        }
    }

    /// Whether every weight is a finite number: a teaching job's weights are checked before
    /// they reach a running grid, since one NaN spreads through the whole state in a few steps.
    pub fn is_finite(&self) -> bool {
        match self {
            Self::Growing(w) => w.tensors().iter().all(|(_, _, data)| data.iter().all(|v| v.is_finite())),
            Self::Mnist(w) => w.tensors().iter().all(|(_, _, data)| data.iter().all(|v| v.is_finite())),
        }
    }

    /// Refuses weights no trained NCA has: a value that is not a number, or one so large
    /// ([`MAX_WEIGHT_MAGNITUDE`]) that the first step overflows the state to infinity.
    pub fn check_values(&self) -> Result<(), String> {
        let tensors = match self {
            Self::Growing(w) => w.tensors().to_vec(),
            Self::Mnist(w) => w.tensors().to_vec(),
        };
        for (name, _, data) in tensors {
            check_finite(name, data)?;
            if let Some(i) = data.iter().position(|v| v.abs() > MAX_WEIGHT_MAGNITUDE) {
                return Err(format!(
                    "tensor '{name}' holds {:e} at index {i}: no NCA weight is that large (at most ±{MAX_WEIGHT_MAGNITUDE:e}); a broken or hostile file?",
                    data[i]
                ));
            }
        }
        Ok(())
    }

    /// The probability that a cell updates in a step.
    pub fn fire_rate(&self) -> f32 {
        match self {
            Self::Growing(w) => w.spec.fire_rate,
            Self::Mnist(w) => w.spec.fire_rate,
        }
    }

    /// Provenance metadata (`nca.source`, `nca.train.*`, …).
    pub fn provenance(&self) -> &BTreeMap<String, String> {
        match self {
            Self::Growing(w) => &w.provenance,
            Self::Mnist(w) => &w.provenance,
        }
    }

    /// Provenance metadata, mutably.
    pub fn provenance_mut(&mut self) -> &mut BTreeMap<String, String> {
        match self {
            Self::Growing(w) => &mut w.provenance,
            Self::Mnist(w) => &mut w.provenance,
        }
    }

    /// The model's hyper-parameters as `key: value` lines for `nca info` (provenance apart).
    pub fn spec_lines(&self) -> Vec<(String, String)> {
        let mut lines = vec![("kind".to_string(), self.kind().to_string())];
        match self {
            Self::Growing(w) => {
                lines.push(("mode".into(), w.spec.mode.to_string()));
                lines.push(("target".into(), w.spec.target.clone()));
                lines.push(("fire_rate".into(), w.spec.fire_rate.to_string()));
            }
            Self::Mnist(w) => {
                lines.push(("role".into(), w.spec.role.as_str().into()));
                lines.push(("fire_rate".into(), w.spec.fire_rate.to_string()));
                lines.push(("noise_std".into(), w.spec.noise_std.to_string()));
            }
        }
        lines
    }

    /// One species' block of the GPU weights buffer (the kind's layout; see
    /// [`crate::model::KindLayout::species_stride`]).
    pub fn species_block(&self) -> Vec<f32> {
        match self {
            Self::Growing(w) => w.species_block(),
            Self::Mnist(w) => w.species_block(),
        }
    }

    /// Reads and validates a `.safetensors` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = read_model_file(path)?;
        Self::from_safetensors(&bytes).map_err(|e| e.with_path(path))
    }

    /// Parses and validates `.safetensors` bytes.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, ModelError> {
        let fail = |message: String| ModelError::format(MEMORY, message);
        let st = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let kind = meta.get("nca.kind").ok_or_else(|| fail("metadata has no 'nca.kind': not an nca-sandbox model".into()))?;
        let kind: ModelKind = kind.parse().map_err(fail)?;
        if let Some(format) = meta.get("nca.format").filter(|f| f.trim() != FORMAT_VERSION) {
            return Err(fail(format!(
                "nca.format is '{format}', but this build reads format {FORMAT_VERSION} only (a newer nca-sandbox wrote it?)"
            )));
        }
        match kind {
            ModelKind::Growing => GrowingWeights::from_parts(&st, &meta).map(Self::Growing).map_err(fail),
            ModelKind::Mnist => mnist_from_parts(&st, &meta).map(Self::Mnist).map_err(fail),
        }
    }

    /// Serialises to `.safetensors` bytes.
    pub fn to_safetensors(&self) -> Vec<u8> {
        match self {
            Self::Growing(w) => w.to_safetensors(),
            Self::Mnist(w) => {
                let fields = [
                    ("nca.kind", ModelKind::Mnist.to_string()),
                    ("nca.format", FORMAT_VERSION.to_string()),
                    ("nca.channels", mnist::CHANNELS.to_string()),
                    ("nca.hidden", mnist::HIDDEN.to_string()),
                    ("nca.fire_rate", w.spec.fire_rate.to_string()),
                    ("nca.noise_std", w.spec.noise_std.to_string()),
                    ("nca.role", w.spec.role.as_str().to_string()),
                ];
                serialize(&w.tensors(), &w.provenance, &fields)
            }
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
        validate_tensors(&self.tensors())?;
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

    /// One species' block of the GPU weights buffer: `w1 | b1 | w2 | b2`, then the integer fire
    /// threshold stored bit for bit in a float slot, padded to
    /// [`super::spec::GROWING_SPECIES_STRIDE`].
    pub fn species_block(&self) -> Vec<f32> {
        let mut block = [&self.w1[..], &self.b1, &self.w2, &self.b2].concat();
        block.push(f32::from_bits(super::fire::threshold(self.spec.fire_rate)));
        block.resize(super::spec::GROWING_SPECIES_STRIDE, 0.0);
        block
    }

    fn from_parts(st: &SafeTensors<'_>, meta: &HashMap<String, String>) -> Result<Self, String> {
        expect_number(meta, "growing", "nca.channels", GROWING_CHANNELS)?;
        expect_number(meta, "growing", "nca.hidden", GROWING_HIDDEN)?;
        let fire_rate = read_number(meta, "nca.fire_rate", super::spec::DEFAULT_FIRE_RATE)?;
        let mode = match meta.get("nca.mode") {
            None => GrowingMode::default(),
            Some(v) => v.parse()?,
        };
        let spec = GrowingSpec { fire_rate, mode, target: meta.get("nca.target").cloned().unwrap_or_default() };
        let mut w = Self::zeros(spec);
        w.read_tensors(st)?;
        w.provenance = provenance_of(meta);
        w.validate()?;
        Ok(w)
    }

    fn to_safetensors(&self) -> Vec<u8> {
        let fields = [
            ("nca.kind", ModelKind::Growing.to_string()),
            ("nca.format", FORMAT_VERSION.to_string()),
            ("nca.channels", GROWING_CHANNELS.to_string()),
            ("nca.hidden", GROWING_HIDDEN.to_string()),
            ("nca.fire_rate", self.spec.fire_rate.to_string()),
            ("nca.mode", self.spec.mode.to_string()),
            ("nca.target", self.spec.target.clone()),
        ];
        serialize(&self.tensors(), &self.provenance, &fields)
    }
}

fn mnist_from_parts(st: &SafeTensors<'_>, meta: &HashMap<String, String>) -> Result<MnistWeights, String> {
    expect_number(meta, "mnist", "nca.channels", mnist::CHANNELS)?;
    expect_number(meta, "mnist", "nca.hidden", mnist::HIDDEN)?;
    let spec = MnistSpec {
        fire_rate: read_number(meta, "nca.fire_rate", mnist::DEFAULT_FIRE_RATE)?,
        noise_std: read_number(meta, "nca.noise_std", mnist::DEFAULT_NOISE_STD)?,
        role: match meta.get("nca.role") {
            None => MnistRole::Classifier,
            Some(v) => v.trim().parse()?,
        },
    };
    let mut w = MnistWeights::zeros(spec);
    let shapes: Vec<(&str, Vec<usize>)> = w.tensors().iter().map(|(n, s, _)| (*n, s.clone())).collect();
    for ((name, shape), slot) in shapes.into_iter().zip(w.tensors_mut()) {
        let view = st.tensor(name).map_err(|_| format!("missing tensor '{name}' (an MNIST model has conv_w, conv_b, w1, b1, w2, b2)"))?;
        *slot = read_f32(name, &view, &shape)?;
    }
    w.provenance = provenance_of(meta);
    w.validate()?;
    Ok(w)
}

/// A metadata number that must equal what the kind has, if it is there at all.
fn expect_number(meta: &HashMap<String, String>, kind: &str, key: &str, expected: usize) -> Result<(), String> {
    match meta.get(key) {
        None => Ok(()),
        Some(v) if v.trim().parse::<usize>() == Ok(expected) => Ok(()),
        Some(v) => Err(format!("{key} is '{v}', but a{} {kind} model has {expected}", if kind.starts_with('m') { "n" } else { "" })),
    }
}

/// A float from the metadata, or `default` when the key is absent.
fn read_number(meta: &HashMap<String, String>, key: &str, default: f32) -> Result<f32, String> {
    match meta.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse::<f32>().map_err(|_| format!("{key} '{v}' is not a number")),
    }
}

/// The metadata that is not the model's own spec: provenance, kept verbatim.
fn provenance_of(meta: &HashMap<String, String>) -> BTreeMap<String, String> {
    meta.iter().filter(|(k, _)| !SPEC_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Checks that every tensor has the values its shape asks for, all finite.
pub fn validate_tensors(tensors: &[(&'static str, Vec<usize>, &[f32])]) -> Result<(), String> {
    for (name, shape, data) in tensors {
        let expected: usize = shape.iter().product();
        if data.len() != expected {
            return Err(format!("tensor '{name}' has {} values, expected {expected} {shape:?}", data.len()));
        }
        check_finite(name, data)?;
    }
    Ok(())
}

/// `.safetensors` bytes of `tensors`, with the provenance and then the spec `fields` (which win)
/// as metadata.
fn serialize(tensors: &[(&'static str, Vec<usize>, &[f32])], provenance: &BTreeMap<String, String>, fields: &[(&str, String)]) -> Vec<u8> {
    let mut meta: HashMap<String, String> = provenance.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in fields {
        meta.insert(k.to_string(), v.clone());
    }
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, d)| f32_to_le_bytes(d)).collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| (*name, TensorView::new(Dtype::F32, shape.clone(), b).expect("shape matches data")))
        .collect();
    serialize_with_sorted_metadata(views, meta.into_iter().collect()).expect("in-memory serialisation cannot fail")
}

/// `.safetensors` bytes whose metadata keys come in sorted order, so the same tensors and the
/// same metadata always give the same bytes (the crate writes its `HashMap` in hash order, which
/// changes from run to run and defeats checksums).
pub fn serialize_with_sorted_metadata<'a>(
    views: Vec<(&str, TensorView<'a>)>,
    metadata: BTreeMap<String, String>,
) -> Result<Vec<u8>, String> {
    let plain = safetensors::serialize(views, None).map_err(|e| e.to_string())?;
    let header_len = u64::from_le_bytes(plain[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&plain[8..8 + header_len]).map_err(|e| e.to_string())?.trim_end();
    let tensors = header.strip_prefix('{').ok_or("safetensors header is not a JSON object")?;
    let mut json = String::from("{");
    if !metadata.is_empty() {
        json.push_str("\"__metadata__\":");
        json.push_str(&serde_json::to_string(&metadata).map_err(|e| e.to_string())?);
        if tensors != "}" {
            json.push(',');
        }
    }
    json.push_str(tensors);
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + plain.len() - 8 - header_len);
    out.extend((json.len() as u64).to_le_bytes());
    out.extend(json.as_bytes());
    out.extend(&plain[8 + header_len..]);
    Ok(out)
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
    let data: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
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

/// Refuses an output path that is not, or would not become, a regular file: a folder, a device
/// (`/dev/full` would be replaced by the rename), a pipe.
pub fn check_output(path: &Path) -> Result<(), ModelError> {
    let fail = |m: &str| ModelError::format(path, m);
    if path.as_os_str().is_empty() {
        return Err(fail("no file name given"));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(fail("is a folder; give a file name to write")),
        Ok(meta) if !meta.is_file() => Err(fail("is not a regular file (a device or a pipe?); nca-sandbox writes only regular files")),
        _ => Ok(()),
    }
}

/// Writes a picture as PNG to `path`, as [`write_atomically`] does.
pub fn save_png(image: impl Into<image::DynamicImage>, path: &Path) -> Result<(), ModelError> {
    check_output(path)?;
    let mut bytes = Vec::new();
    image
        .into()
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| ModelError::format(path, format!("cannot encode PNG ({e})")))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    check_output(path)?;
    crate::platform::write_file(path, bytes).map_err(|source| ModelError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GrowingWeights {
        let mut w = GrowingWeights::zeros(GrowingSpec { fire_rate: 0.5, mode: GrowingMode::Persistent, target: "lizard".into() });
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
    fn mnist_round_trip_is_bit_exact_and_names_its_tensors() {
        let mut w = MnistWeights::zeros(MnistSpec { fire_rate: 0.5, noise_std: 0.02, role: MnistRole::Adversary });
        for (i, v) in w.conv_w.iter_mut().enumerate() {
            *v = (i as f32 * 0.11).cos();
        }
        w.b2[18] = 0.75;
        w.provenance.insert("nca.source".into(), "unit test".into());
        let w = NcaWeights::Mnist(w);
        let bytes = w.to_safetensors();
        assert_eq!(NcaWeights::from_safetensors(&bytes).unwrap(), w);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        for (name, shape) in [
            ("conv_w", vec![3, 3, 20, 80]),
            ("conv_b", vec![80]),
            ("w1", vec![80, 80]),
            ("b1", vec![80]),
            ("w2", vec![80, 19]),
            ("b2", vec![19]),
        ] {
            assert_eq!(st.tensor(name).unwrap().shape(), &shape[..], "{name}");
        }
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let mut bytes = NcaWeights::Growing(sample()).to_safetensors();
        let key = b"\"nca.format\":\"1\"";
        let at = bytes.windows(key.len()).position(|w| w == key).expect("the header names the format");
        bytes[at + key.len() - 2] = b'9';
        let err = NcaWeights::from_safetensors(&bytes).unwrap_err().to_string();
        assert!(err.contains("nca.format is '9'"), "{err}");
    }

    #[test]
    fn the_same_model_always_gives_the_same_bytes() {
        let mut w = sample();
        for i in 0..40 {
            w.provenance.insert(format!("nca.test.key{i}"), i.to_string());
        }
        let bytes = NcaWeights::Growing(w.clone()).to_safetensors();
        for _ in 0..8 {
            assert_eq!(NcaWeights::Growing(w.clone()).to_safetensors(), bytes, "metadata in hash order");
        }
        let header = String::from_utf8_lossy(&bytes[8..200]).to_string();
        assert!(header.starts_with("{\"__metadata__\":{\"nca.channels\""), "{header}");
        assert_eq!(NcaWeights::from_safetensors(&bytes).unwrap(), NcaWeights::Growing(w));
    }

    #[test]
    fn truncated_bytes_are_refused() {
        let bytes = NcaWeights::Growing(sample()).to_safetensors();
        let err = NcaWeights::from_safetensors(&bytes[..bytes.len() - 100]).unwrap_err();
        assert!(err.to_string().contains("not a valid safetensors"), "{err}");
    }
}
