//! The one error type of the library. Errors are values: nothing in the core panics on bad
//! input, and every message names what was wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong in crystalpot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be parsed; `line` is 1-based (0 when the problem is not tied to a line).
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A structure that no computation can use (singular cell, NaN coordinates, overlapping atoms…).
    #[error("invalid structure: {0}")]
    InvalidStructure(String),
    /// An argument outside its domain (negative tolerance, p <= 0, wrong array length…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The requested accuracy cannot be reached in double precision.
    #[error("tolerance cannot be reached: {0}")]
    Tolerance(String),
    /// A model file that is missing, corrupt or inconsistent.
    #[error("model error: {0}")]
    Model(String),
    /// An operating-system I/O error, with the path involved.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for a parse error at `line` of `path`.
    pub fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// Wraps an `std::io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
