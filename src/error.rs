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
    /// A computation whose result overflowed to infinity or NaN (inputs such as charges or
    /// weights too large for double precision): never returned as a success.
    #[error("non-finite result: {0}")]
    NonFinite(String),
    /// An operating-system I/O error, with the path involved (an empty path is named as such).
    #[error("{}: {source}", shown_path(path))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// A path for a message: `(empty path)` rather than nothing before the colon.
fn shown_path(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        "(empty path)".into()
    } else {
        path.display().to_string()
    }
}

/// Fails unless every value is finite, naming the first offender: `what` is what the values
/// are ("the energy", "the forces"), `index` their position when there are several.
pub fn check_finite(what: &str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    match values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((i, v)) => Err(Error::NonFinite(format!(
            "{what} (value {i}) is {v}: an input (a charge, a weight, a model parameter) is \
             too large for double precision"
        ))),
    }
}

/// Prints `message` on stderr the first time a warning of this `kind` occurs in the process,
/// and never again: a warning that holds for every step of an MD run must not flood its log.
/// Callers that want every occurrence read [`crate::model::Results::warnings`].
pub fn warn_once(kind: &'static str, message: &str) {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !seen.contains(&kind) {
        seen.push(kind);
        eprintln!("crystalpot: warning: {message} (shown once)");
    }
}

/// A number for a user message: at most 4 significant digits in scientific notation, never
/// the 300 digits that `{}` prints for 1e300.
pub fn short(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-3..1e6).contains(&x.abs()) {
        format!("{x:.3e}")
    } else {
        format!("{}", (x * 1e4).round() / 1e4)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_messages_stay_short() {
        assert_eq!(short(1e300), "1.000e300");
        assert_eq!(short(-2.5e-9), "-2.500e-9");
        assert_eq!(short(0.31234567), "0.3123");
        assert_eq!(short(1000.0), "1000");
        assert_eq!(short(f64::INFINITY), "inf");
    }

    #[test]
    fn an_empty_path_is_named() {
        let e = Error::io("", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with("(empty path): "), "{e}");
    }

    #[test]
    fn non_finite_values_are_named() {
        assert!(check_finite("x", [1.0, 2.0]).is_ok());
        let e = check_finite("the forces", [1.0, f64::NEG_INFINITY]).unwrap_err();
        assert!(
            e.to_string().contains("the forces (value 1) is -inf"),
            "{e}"
        );
    }
}
