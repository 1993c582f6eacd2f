//! Flink's error body, and its empty body.

use serde::{Deserialize, Serialize};

/// Flink's `ErrorResponseBody`: `{"errors": ["..."]}`, the body of every
/// answer with a 4xx or 5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponseBody {
    /// One or more messages, each naming what was wrong (the job id, the field, the path).
    pub errors: Vec<String>,
}

/// Flink's `EmptyResponseBody`: `{}` (202 to `PATCH /jobs/:id`, `DELETE /cluster`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyResponseBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_round_trips_flinks_shape() {
        let v: ErrorResponseBody = serde_json::from_str(r#"{"errors": ["Job 00 not found"]}"#).unwrap();
        assert_eq!(v.errors, vec!["Job 00 not found".to_string()]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"errors":["Job 00 not found"]}"#);
        assert!(serde_json::from_str::<ErrorResponseBody>("{}").is_err(), "errors is required");
        assert_eq!(serde_json::to_string(&EmptyResponseBody {}).unwrap(), "{}");
    }
}
