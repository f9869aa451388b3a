//! One error type for everything that reads user-supplied model data.

use std::path::PathBuf;

/// What went wrong while reading, checking or converting model data.
///
/// Every variant renders as a single line so the CLI and the panel can show it as is.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read at all.
    #[error("{path}: cannot read file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not in the expected container format.
    #[error("{path}: {message}")]
    Format {
        /// The file (or `<memory>` for bytes without a path).
        path: PathBuf,
        /// What is wrong, in one line.
        message: String,
    },
}

impl ModelError {
    /// A format error for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format { path: path.into(), message: message.into() }
    }

    /// Re-attributes an error produced without a path (parsing from memory) to `path`.
    pub fn with_path(self, path: impl Into<PathBuf>) -> Self {
        match self {
            Self::Format { message, .. } => Self::Format { path: path.into(), message },
            other => other,
        }
    }
}

/// The path used for data that did not come from a file.
pub const MEMORY: &str = "<memory>";
