//! Where values come from ([`Source`]) and what can go wrong ([`ConfError`]).

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from; named in every error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The option's built-in default.
    Default,
    /// A YAML file (normally `<conf dir>/config.yaml`).
    File(PathBuf),
    /// A `-D key=value` command-line argument.
    Dynamic,
    /// Set from Rust code (including a map shipped from another process).
    Programmatic,
}

impl fmt::Display for Source {
    /// Renders as a phrase that follows a key in a message:
    /// `in /etc/rfy/config.yaml`, `(from -D)`, `(set in code)`, `(default)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("(default)"),
            Source::File(path) => write!(f, "in {}", path.display()),
            Source::Dynamic => f.write_str("(from -D)"),
            Source::Programmatic => f.write_str("(set in code)"),
        }
    }
}

/// Every error this crate returns. Each message names the key (when there is
/// one) and where the value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// The key is not a registered option (see [`crate::options::all`]).
    #[error("unknown configuration key '{key}' {origin}{}", did_you_mean(.suggestion))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where it was written.
        origin: Source,
        /// The closest registered key, when one is close enough.
        suggestion: Option<String>,
    },

    /// The value does not parse as the option's type or is not an allowed choice.
    #[error("bad value '{value}' for '{key}' {origin}: {source}")]
    BadValue {
        /// The option's key.
        key: String,
        /// The value as written.
        value: String,
        /// The option's type name, e.g. `u32`, `Duration`, `MemorySize`.
        expected: &'static str,
        /// What was expected, e.g. `expected a whole number from 0 to 4294967295`.
        #[source]
        source: Box<crate::value::ValueError>,
        /// Where the value was written.
        origin: Source,
    },

    /// The same key was given twice in one file (e.g. once flat, once nested).
    #[error("configuration key '{key}' is set twice {origin}")]
    DuplicateKey {
        /// The flattened key.
        key: String,
        /// The file (or other source) that sets it twice.
        origin: Source,
    },

    /// A key was given an empty value (`-D key=` or `key:` in a file):
    /// never taken as "unset" or as the default.
    #[error("empty value for '{key}' {origin}: give a value, or leave the key out")]
    EmptyValue {
        /// The option's key.
        key: String,
        /// Where it was written.
        origin: Source,
    },

    /// The configuration directory (`--conf-dir` or `$RFY_CONF_DIR`) does not exist.
    #[error("configuration directory {} ({origin}) does not exist", .path.display())]
    NoConfDir {
        /// The directory as given.
        path: PathBuf,
        /// `--conf-dir` or `$RFY_CONF_DIR`.
        origin: &'static str,
    },

    /// A configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", .path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A configuration file is not valid YAML, or not a map of keys to scalars.
    #[error("invalid YAML {origin}: {message}")]
    Yaml {
        /// The file (or other source) with the bad YAML.
        origin: Source,
        /// What is wrong, with line and column when known.
        message: String,
    },

    /// A `-D` argument is not of the form `key=value`.
    #[error("bad dynamic property '-D {arg}': {message}")]
    BadDynamic {
        /// The argument as given (without `-D`).
        arg: String,
        /// What is wrong with it.
        message: String,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean '{s}'?"),
        None => String::new(),
    }
}
