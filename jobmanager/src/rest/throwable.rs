//! Flink's `failure-cause` of an asynchronous operation (a failed savepoint or
//! checkpoint): a `SerializedThrowable` as Flink's REST client reads it
//! (`SerializedThrowableDeserializer` in `flink-runtime`: the field
//! `serialized-throwable` holds the Java serialization of an
//! `org.apache.flink.util.SerializedThrowable`, base64).
//!
//! The bytes come from a template made once with Flink's own classes
//! (`itests/flink-cli/SerializedThrowableTemplate.java` prints it): a
//! SerializedThrowable whose original exception was not serializable, so
//! Flink's `deserializeError()` answers the SerializedThrowable itself, and
//! whose three strings (class name, message, stack trace text) rfy replaces.

use base64::Engine;
use rfy_rest_api::FailureCause;

/// The template's Java serialization stream, hex (see the module docs).
const TEMPLATE: [&str; 14] = [
    "aced0005737200296f72672e6170616368652e666c696e6b2e7574696c2e53657269616c697a65645468726f7761626c",
    "6565169df51fa713f30200034c001966756c6c537472696e676966696564537461636b54726163657400124c6a617661",
    "2f6c616e672f537472696e673b4c00166f726967696e616c4572726f72436c6173734e616d6571007e00015b00137365",
    "7269616c697a6564457863657074696f6e7400025b42787200136a6176612e6c616e672e457863657074696f6ed0fd1f",
    "3e1a3b1cc4020000787200136a6176612e6c616e672e5468726f7761626c65d5c635273977b8cb0300044c0005636175",
    "73657400154c6a6176612f6c616e672f5468726f7761626c653b4c000d64657461696c4d65737361676571007e00015b",
    "000a737461636b547261636574001e5b4c6a6176612f6c616e672f537461636b5472616365456c656d656e743b4c0014",
    "73757070726573736564457863657074696f6e737400104c6a6176612f7574696c2f4c6973743b78707074002f536572",
    "69616c697a65645468726f7761626c6554656d706c61746524556e73657269616c697a61626c653a20404d407572001e",
    "5b4c6a6176612e6c616e672e537461636b5472616365456c656d656e743b02462a3c3cfd223902000078700000000073",
    "72001f6a6176612e7574696c2e436f6c6c656374696f6e7324456d7074794c6973747ab817b43ca79ede020000787078",
    "74003053657269616c697a65645468726f7761626c6554656d706c61746524556e73657269616c697a61626c653a2040",
    "4d400a74002a53657269616c697a65645468726f7761626c6554656d706c61746524556e73657269616c697a61626c65",
    "70",
];

/// The placeholder class name and message in [`TEMPLATE`].
const CLASS: &str = "SerializedThrowableTemplate$Unserializable";
const MESSAGE: &str = "@M@";

/// The class name rfy reports for its failures.
pub(crate) const FAILURE_CLASS: &str = "rfy.CheckpointException";

/// A Java serialization string record: `TC_STRING` with a 2-byte length, or
/// `TC_LONGSTRING` with an 8-byte one, then the text in Java's modified UTF-8.
fn java_string(s: &str) -> Vec<u8> {
    let mut utf = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007f => utf.push(unit as u8),
            0x0000 | 0x0080..=0x07ff => utf.extend([0xc0 | (unit >> 6) as u8, 0x80 | (unit & 0x3f) as u8]),
            _ => utf.extend([0xe0 | (unit >> 12) as u8, 0x80 | ((unit >> 6) & 0x3f) as u8, 0x80 | (unit & 0x3f) as u8]),
        }
    }
    let mut out = Vec::with_capacity(utf.len() + 9);
    match u16::try_from(utf.len()) {
        Ok(n) => {
            out.push(0x74);
            out.extend(n.to_be_bytes());
        }
        Err(_) => {
            out.push(0x7c);
            out.extend((utf.len() as u64).to_be_bytes());
        }
    }
    out.extend(utf);
    out
}

fn replace_once(bytes: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    if let Some(at) = bytes.windows(from.len()).position(|w| w == from) {
        bytes.splice(at..at + from.len(), to.iter().copied());
    }
}

/// The Java serialization of a `SerializedThrowable` of class `class` with `message`.
pub(crate) fn serialized_throwable(class: &str, message: &str) -> Vec<u8> {
    let hex: String = TEMPLATE.concat();
    let mut bytes: Vec<u8> =
        (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect();
    let text = format!("{class}: {message}");
    // Flink prints `class: message` itself (SerializedThrowable.toString).
    // The stack trace text first: it contains the message text.
    replace_once(&mut bytes, &java_string(&format!("{CLASS}: {MESSAGE}\n")), &java_string(&format!("{text}\n")));
    replace_once(&mut bytes, &java_string(&format!("{CLASS}: {MESSAGE}")), &java_string(message));
    replace_once(&mut bytes, &java_string(CLASS), &java_string(class));
    bytes
}

/// Flink's `failure-cause` JSON for a failure described by `text`: `class` and
/// `stack-trace` (read by rfy's client) and `serialized-throwable` (read by Flink's).
pub(crate) fn failure_cause(text: &str) -> FailureCause {
    let serialized = base64::engine::general_purpose::STANDARD.encode(serialized_throwable(FAILURE_CLASS, text));
    FailureCause { class: FAILURE_CLASS.into(), stack_trace: text.into(), serialized_throwable: serialized }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_strings_use_modified_utf8_and_long_strings_past_64k() {
        assert_eq!(java_string("ab"), vec![0x74, 0, 2, b'a', b'b']);
        assert_eq!(java_string("\0"), vec![0x74, 0, 2, 0xc0, 0x80]);
        // A supplementary character is a surrogate pair, 3 bytes each.
        assert_eq!(java_string("😀").len(), 3 + 6);
        let long = "x".repeat(70_000);
        assert_eq!(java_string(&long)[0], 0x7c);
    }

    #[test]
    fn every_placeholder_is_replaced() {
        let bytes = serialized_throwable("a.B", "savepoint failed: no space");
        let as_text = String::from_utf8_lossy(&bytes);
        assert!(!as_text.contains(MESSAGE) && !as_text.contains("Template"), "{as_text}");
        assert!(as_text.contains("a.B: savepoint failed: no space\n"), "{as_text}");
        assert_eq!(&bytes[..4], &[0xac, 0xed, 0x00, 0x05], "Java serialization stream magic");
    }
}
