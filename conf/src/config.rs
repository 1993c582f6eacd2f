//! [`Configuration`]: explicitly set values (as text, with their [`Source`])
//! over the registered options' defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{ConfError, Source};
use crate::option::ConfigOption;
use crate::options;
use crate::suggest::closest_key;
use crate::value::OptionValue;

/// Name of the configuration file inside a configuration directory.
pub const CONFIG_FILE_NAME: &str = "config.yaml";

/// Environment variable naming the configuration directory when none is given.
pub const CONF_DIR_ENV: &str = "RFY_CONF_DIR";

/// The explicitly set values of a configuration: key -> (text, source).
/// Every value was validated against its registered option when set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    values: BTreeMap<String, (String, Source)>,
}

impl Configuration {
    /// An empty configuration: every `get` returns the option's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `<dir>/config.yaml` when `conf_dir` is `Some`, else
    /// `$RFY_CONF_DIR/config.yaml` when that variable is set and not empty,
    /// else returns an empty configuration.
    ///
    /// Errors: [`ConfError::NoConfDir`] when the named directory does not
    /// exist; [`ConfError::Io`] naming the file when it has no readable
    /// `config.yaml`; any error of [`Configuration::from_yaml_str`].
    pub fn load(conf_dir: Option<&Path>) -> Result<Self, ConfError> {
        let (dir, origin): (PathBuf, &'static str) = match conf_dir {
            Some(dir) => (dir.to_path_buf(), "--conf-dir"),
            None => match std::env::var_os(CONF_DIR_ENV) {
                Some(dir) if !dir.is_empty() => (PathBuf::from(dir), "$RFY_CONF_DIR"),
                _ => {
                    tracing::debug!("no configuration directory given and ${CONF_DIR_ENV} unset");
                    return Ok(Self::new());
                }
            },
        };
        if !dir.is_dir() {
            return Err(ConfError::NoConfDir { path: dir, origin });
        }
        Self::load_file(&dir.join(CONFIG_FILE_NAME))
    }

    /// Reads one YAML configuration file.
    /// Errors: [`ConfError::Io`] naming the file; any error of [`Configuration::from_yaml_str`].
    pub fn load_file(path: &Path) -> Result<Self, ConfError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfError::Io { path: path.to_path_buf(), source })?;
        let conf = Self::from_yaml_str(&text, Source::File(path.to_path_buf()))?;
        tracing::debug!(file = %path.display(), values = conf.values.len(), "configuration loaded");
        Ok(conf)
    }

    /// Parses Flink 2 style `config.yaml` text (flat keys, nested maps, or both).
    /// `source` is recorded with each value and named in errors.
    ///
    /// Errors: [`ConfError::Yaml`] (with line and column), [`ConfError::UnknownKey`],
    /// [`ConfError::BadValue`], [`ConfError::DuplicateKey`].
    pub fn from_yaml_str(text: &str, source: Source) -> Result<Self, ConfError> {
        let mut conf = Self::new();
        for (key, value) in crate::yaml::flatten(text, &source)? {
            conf.set(&key, &value, source.clone())?;
        }
        Ok(conf)
    }

    /// Applies one `-D key=value` command-line argument (without the `-D`);
    /// key and value are trimmed, the value may contain '='. A later value for
    /// the same key replaces an earlier one.
    ///
    /// Errors: [`ConfError::BadDynamic`] without '=' or with an empty key;
    /// [`ConfError::UnknownKey`] / [`ConfError::BadValue`] with source `Dynamic`.
    pub fn apply_dynamic(&mut self, key_value: &str) -> Result<(), ConfError> {
        let Some((key, value)) = key_value.split_once('=') else {
            return Err(ConfError::BadDynamic {
                arg: key_value.to_string(),
                message: "expected key=value".to_string(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfError::BadDynamic {
                arg: key_value.to_string(),
                message: "the key is empty; expected key=value".to_string(),
            });
        }
        self.set(key, value, Source::Dynamic)
    }

    /// Sets `key` to `value` (text in the option's syntax) after checking that
    /// `key` is a registered option (or an alias of one, see [`options::KEY_ALIASES`];
    /// stored under the registered key) and that `value` parses as its type (and is
    /// one of its choices, for enum-like options; stored in the listed spelling).
    /// Replaces any earlier value.
    ///
    /// Errors: [`ConfError::UnknownKey`] (with a suggestion), [`ConfError::BadValue`],
    /// [`ConfError::EmptyValue`] for an empty value from a file or `-D`; each names `source`.
    pub fn set(&mut self, key: &str, value: &str, source: Source) -> Result<(), ConfError> {
        let Some(info) = options::resolve(key) else {
            return Err(ConfError::UnknownKey {
                key: key.to_string(),
                origin: source,
                suggestion: closest_key(key).map(str::to_string),
            });
        };
        // What a user wrote (a file or -D) must say something; code may clear a key.
        if value.trim().is_empty() && matches!(source, Source::Dynamic | Source::File(_)) {
            return Err(ConfError::EmptyValue { key: key.to_string(), origin: source });
        }
        let text = info.check(value).map_err(|cause| ConfError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            expected: info.type_name,
            source: Box::new(cause),
            origin: source.clone(),
        })?;
        self.values.insert(info.key.to_string(), (text, source));
        Ok(())
    }

    /// Sets a typed value from code (source [`Source::Programmatic`]).
    /// Errors: as [`Configuration::set`] (an unregistered key, or a value
    /// outside the option's choices).
    pub fn set_value<T: OptionValue>(&mut self, option: &ConfigOption<T>, value: &T) -> Result<(), ConfError> {
        self.set(option.key, &value.to_text(), Source::Programmatic)
    }

    /// The set value, else the option's default. Set values were validated, so
    /// this cannot fail for registered options; should a stored value or the
    /// default not parse as `T` (a programming error), it is logged and the
    /// default, or else `T::default()`, is returned.
    pub fn get<T: OptionValue>(&self, option: &ConfigOption<T>) -> T {
        match self.get_optional(option) {
            Some(v) => v,
            None => {
                tracing::error!(
                    key = option.key,
                    "get on an option with no value and no default; using {}::default()",
                    T::type_name()
                );
                T::default()
            }
        }
    }

    /// The set value, else the option's default, else `None` (unset option
    /// without a default). Never fails: a value that does not parse as `T`
    /// (a programming error) is logged and treated as unset.
    pub fn get_optional<T: OptionValue>(&self, option: &ConfigOption<T>) -> Option<T> {
        if let Some((text, source)) = self.values.get(option.key) {
            match T::parse_value(text) {
                Ok(v) => return Some(v),
                Err(message) => tracing::error!(
                    key = option.key, value = %text, %source, %message,
                    "stored value does not parse as {}; using the default", T::type_name()
                ),
            }
        }
        let default = option.default?;
        match T::parse_value(default) {
            Ok(v) => Some(v),
            Err(message) => {
                tracing::error!(key = option.key, default, %message, "default does not parse as {}", T::type_name());
                None
            }
        }
    }

    /// Whether `key` was explicitly set (defaults do not count).
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Where the explicit value of `key` came from; `None` when unset.
    pub fn source_of(&self, key: &str) -> Option<&Source> {
        self.values.get(key).map(|(_, s)| s)
    }

    /// Removes an explicit value; returns its text if there was one.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.values.remove(key).map(|(v, _)| v)
    }

    /// Iterates over the explicitly set values as (key, text, source), sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Source)> {
        self.values.iter().map(|(k, (v, s))| (k.as_str(), v.as_str(), s))
    }

    /// Number of explicitly set values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is explicitly set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// All explicitly set values as key -> text, e.g. to ship the configuration
    /// to another process and rebuild it there with [`Configuration::from_map`].
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.values.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect()
    }

    /// Rebuilds a configuration from [`Configuration::to_map`] output, validating
    /// every entry; each value gets `source`.
    /// Errors: [`ConfError::UnknownKey`], [`ConfError::BadValue`].
    pub fn from_map(map: &BTreeMap<String, String>, source: Source) -> Result<Self, ConfError> {
        let mut conf = Self::new();
        for (key, value) in map {
            conf.set(key, value, source.clone())?;
        }
        Ok(conf)
    }

    /// Merges `other` into `self`: values set in `other` override those in
    /// `self` and keep `other`'s sources.
    pub fn merge(&mut self, other: &Configuration) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
    }
}
