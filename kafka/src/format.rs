//! Record formats: how keys and values become bytes and back (Flink's
//! `KafkaRecordDeserializationSchema` / `KafkaRecordSerializationSchema`).
//! Static dispatch throughout: the source and sink are generic over their
//! (de)serializer, so the record path makes no dynamic call per record.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One way of encoding a key or a value.
pub trait Format: Send + Sync + 'static {
    /// The decoded type.
    type Item;
    /// Decodes `bytes`. Errors: a one-line reason.
    fn decode(&self, bytes: &[u8]) -> Result<Self::Item, String>;
    /// Appends the encoding of `item` to `out`. Errors: a one-line reason.
    fn encode(&self, item: &Self::Item, out: &mut Vec<u8>) -> Result<(), String>;
}

/// Raw bytes, as is (`Vec<u8>`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bytes;

impl Format for Bytes {
    type Item = Vec<u8>;
    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
    fn encode(&self, item: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(item);
        Ok(())
    }
}

/// UTF-8 text (`String`, Flink's `SimpleStringSchema`); invalid UTF-8 is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8;

impl Format for Utf8 {
    type Item = String;
    fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| format!("invalid UTF-8: {e}"))
    }
    fn encode(&self, item: &String, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(item.as_bytes());
        Ok(())
    }
}

/// JSON via serde (Flink's `JsonDeserializationSchema`).
pub struct Json<T>(PhantomData<fn() -> T>);

impl<T> Json<T> {
    /// The JSON format of `T`.
    pub fn new() -> Self {
        Json(PhantomData)
    }
}

impl<T> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Format for Json<T> {
    type Item = T;
    fn decode(&self, bytes: &[u8]) -> Result<T, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))
    }
    fn encode(&self, item: &T, out: &mut Vec<u8>) -> Result<(), String> {
        serde_json::to_writer(out, item).map_err(|e| format!("cannot encode JSON: {e}"))
    }
}

/// Turns a Kafka record (key and value bytes) into a stream element.
pub trait KafkaDeserializer<T>: Send + Sync + 'static {
    /// Decodes one record; a tombstone has no value. Errors: a one-line reason.
    fn deserialize(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<T, String>;
}

/// Turns a stream element into a Kafka record's key and value.
pub trait KafkaSerializer<T>: Send + Sync + 'static {
    /// Appends the key (if any) to `key` and the value to `value` (both
    /// empty on entry); returns whether the record has a key.
    /// Errors: a one-line reason.
    fn serialize(&self, record: &T, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool, String>;
}

/// Values only: the element is the decoded value; keys are ignored when
/// reading and absent when writing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueOnly<V>(pub V);

impl<V: Format> KafkaDeserializer<V::Item> for ValueOnly<V> {
    fn deserialize(&self, _key: Option<&[u8]>, value: Option<&[u8]>) -> Result<V::Item, String> {
        self.0.decode(value.ok_or("record has no value (tombstone)")?)
    }
}

impl<V: Format> KafkaSerializer<V::Item> for ValueOnly<V> {
    fn serialize(&self, record: &V::Item, _key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool, String> {
        self.0.encode(record, value)?;
        Ok(false)
    }
}

/// Key and value: the element is `(Option<key>, value)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyValue<K, V>(pub K, pub V);

impl<K: Format, V: Format> KafkaDeserializer<(Option<K::Item>, V::Item)> for KeyValue<K, V> {
    fn deserialize(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<(Option<K::Item>, V::Item), String> {
        let k = key.map(|k| self.0.decode(k).map_err(|e| format!("key: {e}"))).transpose()?;
        let v = self.1.decode(value.ok_or("record has no value (tombstone)")?).map_err(|e| format!("value: {e}"))?;
        Ok((k, v))
    }
}

impl<K: Format, V: Format> KafkaSerializer<(Option<K::Item>, V::Item)> for KeyValue<K, V> {
    fn serialize(
        &self,
        record: &(Option<K::Item>, V::Item),
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, String> {
        if let Some(k) = &record.0 {
            self.0.encode(k, key)?;
        }
        self.1.encode(&record.1, value)?;
        Ok(record.0.is_some())
    }
}

/// A serializer from a function `(record, key, value) -> has key`.
pub struct FnSerializer<F>(pub F);

impl<T, F> KafkaSerializer<T> for FnSerializer<F>
where
    F: Fn(&T, &mut Vec<u8>, &mut Vec<u8>) -> bool + Send + Sync + 'static,
{
    fn serialize(&self, record: &T, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<bool, String> {
        Ok((self.0)(record, key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_rejects_invalid_bytes() {
        assert_eq!(ValueOnly(Utf8).deserialize(None, Some(b"hi")).unwrap(), "hi");
        let e = ValueOnly(Utf8).deserialize(None, Some(&[0xff, 0xfe])).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
        assert!(ValueOnly(Utf8).deserialize(None, None).unwrap_err().contains("tombstone"));
    }

    #[test]
    fn json_round_trips_and_names_bad_input() {
        let f = KeyValue(Utf8, Json::<Vec<u32>>::new());
        let (mut k, mut v) = (Vec::new(), Vec::new());
        assert!(f.serialize(&(Some("a".to_string()), vec![1, 2]), &mut k, &mut v).unwrap());
        assert_eq!(v, b"[1,2]");
        assert_eq!(f.deserialize(Some(&k), Some(&v)).unwrap(), (Some("a".to_string()), vec![1, 2]));
        let e = f.deserialize(None, Some(b"{oops")).unwrap_err();
        assert!(e.starts_with("value: invalid JSON"), "{e}");
    }
}
