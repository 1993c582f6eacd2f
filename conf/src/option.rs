//! [`ConfigOption`] (a typed key) and [`OptionInfo`] (its untyped registry entry).

use std::fmt;
use std::marker::PhantomData;

use crate::value::{OptionValue, ValueError};

/// A typed option: key, default (as text, parsed by `T`), description.
/// Read it with [`crate::Configuration::get`] / [`crate::Configuration::get_optional`].
pub struct ConfigOption<T> {
    /// The key, e.g. `parallelism.default` (Flink's name where Flink has the option).
    pub key: &'static str,
    /// The default as text in `T`'s syntax; `None` when the option has no default.
    pub default: Option<&'static str>,
    /// What the option does, with units.
    pub description: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> ConfigOption<T> {
    /// A typed option. `default` is text in `T`'s syntax (e.g. `"1 s"`, `"32 kb"`).
    pub const fn new(key: &'static str, default: Option<&'static str>, description: &'static str) -> Self {
        ConfigOption { key, default, description, _type: PhantomData }
    }
}

// Manual impls: derives would needlessly require `T: Clone` etc.
impl<T> Clone for ConfigOption<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ConfigOption<T> {}
impl<T> fmt::Debug for ConfigOption<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigOption").field("key", &self.key).field("default", &self.default).finish()
    }
}

/// The registry entry of an option: everything about it without its Rust type.
/// The full list is [`crate::options::all`].
#[derive(Clone, Copy)]
pub struct OptionInfo {
    /// The key, e.g. `parallelism.default`.
    pub key: &'static str,
    /// The value type's name (`u32`, `Duration`, `MemorySize`, `String`, ...).
    pub type_name: &'static str,
    /// The default as text; `None` when the option has no default.
    pub default: Option<&'static str>,
    /// What the option does, with units.
    pub description: &'static str,
    /// For enum-like `String` options, the allowed values (matched ignoring
    /// case, `-` and `_`; stored in the spelling listed here). Empty: any value of the type.
    pub choices: &'static [&'static str],
    /// Other accepted spellings of choices: (alias, choice), e.g. `("off", "none")`.
    pub value_aliases: &'static [(&'static str, &'static str)],
    /// For integer options, the smallest value that makes sense (e.g. 1
    /// for `taskmanager.numberOfTaskSlots`); checked when the configuration loads.
    pub min: Option<i64>,
    /// Checks that text parses as the option's type. Errors: what was expected.
    pub validator: fn(&str) -> Result<(), ValueError>,
}

impl OptionInfo {
    /// Validates `text` and returns the text to store: trimmed, and for
    /// options with [`choices`](Self::choices) the listed spelling.
    /// Errors: a [`ValueError`] saying what was expected.
    pub fn check(&self, text: &str) -> Result<String, ValueError> {
        (self.validator)(text)?;
        let trimmed = text.trim();
        if let (Some(min), Ok(v)) = (self.min, trimmed.parse::<i64>()) {
            if v < min {
                return Err(ValueError::BelowMinimum { min });
            }
        }
        if self.choices.is_empty() {
            return Ok(trimmed.to_string());
        }
        let mut wanted = normalize_choice(trimmed);
        if let Some((_, choice)) = self.value_aliases.iter().find(|(alias, _)| normalize_choice(alias) == wanted) {
            wanted = normalize_choice(choice);
        }
        self.choices
            .iter()
            .find(|c| normalize_choice(c) == wanted)
            .map(|c| c.to_string())
            .ok_or(ValueError::NotAChoice { choices: self.choices })
    }
}

impl fmt::Debug for OptionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptionInfo")
            .field("key", &self.key)
            .field("type_name", &self.type_name)
            .field("default", &self.default)
            .field("choices", &self.choices)
            .finish()
    }
}

fn normalize_choice(text: &str) -> String {
    text.chars().filter(|c| *c != '-' && *c != '_').map(|c| c.to_ascii_lowercase()).collect()
}

/// The validator of an option of type `T`: `T::parse_value` must succeed.
pub(crate) fn validate_as<T: OptionValue>(text: &str) -> Result<(), ValueError> {
    T::parse_value(text).map(|_| ())
}
