//! Reading `config.yaml`: flat (`a.b.c: v`) and nested (`a: {b: {c: v}}`)
//! keys, flattened by joining with '.'; scalars turned into text.

use serde_norway::Value;

use crate::error::{ConfError, Source};
use crate::options;
use crate::value::ValueError;

/// Parses YAML text into flattened `(key, text value)` pairs, in document order.
/// An empty document gives no pairs. Keys with an empty value (`key:`) are
/// skipped. Errors: [`ConfError::Yaml`] for invalid YAML, a non-map document
/// or non-scalar keys; [`ConfError::BadValue`] for a list or tagged value;
/// [`ConfError::DuplicateKey`] for a key set twice after flattening;
/// [`ConfError::UnknownKey`] for an empty key that is no option nor a prefix of one.
pub fn flatten(text: &str, origin: &Source) -> Result<Vec<(String, String)>, ConfError> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| ConfError::Yaml {
        origin: origin.clone(),
        message: match e.location() {
            Some(loc) => format!("line {}, column {}: {e}", loc.line(), loc.column()),
            None => e.to_string(),
        },
    })?;
    let mut out = Vec::new();
    match doc {
        Value::Null => {}
        Value::Mapping(_) => walk("", &doc, origin, &mut out)?,
        other => {
            return Err(ConfError::Yaml {
                origin: origin.clone(),
                message: format!("expected a map of keys to values, found {}", kind(&other)),
            })
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &out {
        if !seen.insert(key.as_str()) {
            return Err(ConfError::DuplicateKey { key: key.clone(), origin: origin.clone() });
        }
    }
    Ok(out)
}

fn walk(prefix: &str, value: &Value, origin: &Source, out: &mut Vec<(String, String)>) -> Result<(), ConfError> {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let part = scalar_text(k).ok_or_else(|| ConfError::Yaml {
                    origin: origin.clone(),
                    message: format!("keys must be plain text, found {} under '{prefix}'", kind(k)),
                })?;
                let key = if prefix.is_empty() { part } else { format!("{prefix}.{part}") };
                walk(&key, v, origin, out)?;
            }
            Ok(())
        }
        Value::Null => {
            // `key:` with nothing (e.g. a section whose entries are all commented
            // out) sets nothing, but a misspelt key is still reported.
            let known = options::all().iter().any(|o| {
                o.key == prefix || (o.key.starts_with(prefix) && o.key.as_bytes().get(prefix.len()) == Some(&b'.'))
            });
            if known {
                Ok(())
            } else {
                Err(ConfError::UnknownKey {
                    key: prefix.to_string(),
                    origin: origin.clone(),
                    suggestion: crate::suggest::closest_key(prefix).map(str::to_string),
                })
            }
        }
        Value::Sequence(_) | Value::Tagged(_) => Err(ConfError::BadValue {
            key: prefix.to_string(),
            value: short_yaml(value),
            expected: "scalar",
            source: Box::new(ValueError::Syntax { expected: format!("a single value, found {}", kind(value)).into() }),
            origin: origin.clone(),
        }),
        scalar => {
            // Bool, Number, String: always Some.
            let text = scalar_text(scalar).unwrap_or_default();
            out.push((prefix.to_string(), text));
            Ok(())
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// One-line flow-style rendering of a value for messages, cut at 60 chars.
fn short_yaml(value: &Value) -> String {
    let text = flow(value);
    if text.chars().count() > 60 {
        text.chars().take(57).chain("...".chars()).collect()
    } else {
        text
    }
}

fn flow(value: &Value) -> String {
    match value {
        Value::Null => "~".to_string(),
        Value::Sequence(items) => {
            format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", "))
        }
        Value::Mapping(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", flow(k), flow(v))).collect::<Vec<_>>().join(", ")
        ),
        Value::Tagged(t) => format!("{} {}", t.tag, flow(&t.value)),
        scalar => scalar_text(scalar).unwrap_or_default(),
    }
}
