//! [`RestError`]: a handler's failure, answered as Flink's `{"errors": [...]}`
//! body (`ErrorResponseBody`) with its HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rfy_rest_api::ErrorResponseBody;

/// An HTTP status and the messages of Flink's error body; each message names
/// what is at fault (the job id, the field, the path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestError {
    pub(crate) status: StatusCode,
    pub(crate) errors: Vec<String>,
}

impl RestError {
    /// One message with `status`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        RestError { status, errors: vec![message.into()] }
    }

    /// 400: the request is malformed.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the job, vertex, operation or file is not there.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the job already reached a terminal state.
    pub(crate) fn terminal(job_id: &str) -> Self {
        Self::new(StatusCode::CONFLICT, format!("Job {job_id} already reached a terminal state"))
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorResponseBody { errors: self.errors })).into_response()
    }
}

/// A handler's answer: a typed body, or Flink's error body.
pub(crate) type RestResult<T> = Result<Json<T>, RestError>;

/// A handler's answer with 202 Accepted (Flink's triggers and submissions).
pub(crate) type Accepted<T> = Result<(StatusCode, Json<T>), RestError>;

/// `body` with 202 Accepted.
pub(crate) fn accepted<T>(body: T) -> (StatusCode, Json<T>) {
    (StatusCode::ACCEPTED, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_flinks_error_body_with_the_status() {
        let r = RestError::not_found("Job 00 not found").into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(r.into_body(), 1 << 10).await.unwrap();
        let parsed: ErrorResponseBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.errors, vec!["Job 00 not found".to_string()]);
        assert_eq!(RestError::terminal("ab").status, StatusCode::CONFLICT);
    }
}
