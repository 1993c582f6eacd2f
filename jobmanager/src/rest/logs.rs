//! Log routes, Flink's: `GET /jobmanager/logs` and `/taskmanagers/:id/logs`
//! list a process's log files (Flink's `LogListInfo`, `{"logs": [{"name",
//! "size", "mtime"}]}`); `GET /jobmanager/log`, `/jobmanager/stdout`,
//! `/taskmanagers/:id/log`, `/taskmanagers/:id/stdout` and `.../logs/:name`
//! answer a file as `text/plain`.
//!
//! rfy addition: `?offset=N` answers the file from byte `N` (to follow a
//! growing log; the `X-Log-Size` header gives the file's size), and reads are
//! capped at 4 MiB from the offset (without an offset: the file's last 4 MiB).
//!
//! Where the files are: the JobManager's log directory is `env.log.dir`, else
//! its YARN container's (`LOG_DIRS`); a TaskManager's are asked for over RPC
//! (`ListLogs`/`ReadLog`), so they are served wherever it runs.

use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rfy_conf::logfiles;
use rfy_conf::options;
use rfy_rest_api::{LogInfo, LogListInfo};
use rfy_rpc::{ListLogsRequest, ReadLogRequest};
use serde::Deserialize;

use super::error::{RestError, RestResult};
use super::{RestState, Shared};

/// Largest read answered at once (bytes).
const MAX_READ: u64 = 4 << 20;
/// The JobManager's main log and stdout file names (as the AM's container command and the local cluster write them).
const JM_LOG: &str = "jobmanager.log";
const JM_OUT: &str = "jobmanager.out";
const TM_OUT: &str = "taskmanager.out";

/// `?offset=N`.
#[derive(Deserialize, Default)]
pub(super) struct LogQuery {
    offset: Option<u64>,
}

impl LogQuery {
    /// `(offset, max)` for a file of `size` bytes.
    fn window(&self, size: u64) -> u64 {
        self.offset.unwrap_or_else(|| size.saturating_sub(MAX_READ))
    }
}

/// The JobManager's log directory, if it has one.
fn jm_log_dir(c: &RestState) -> Option<PathBuf> {
    c.dispatcher
        .conf
        .get_optional(&options::ENV_LOG_DIR)
        .or_else(|| std::env::var("LOG_DIRS").ok().and_then(|v| v.split(',').next().map(str::to_string)))
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

fn no_jm_logs() -> RestError {
    RestError::not_found(
        "the JobManager has no log directory: it logs to stderr only (set env.log.dir, or run on YARN)",
    )
}

fn text(data: Vec<u8>, size: u64) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            ("x-log-size".parse().unwrap(), size.to_string()),
        ],
        data,
    )
        .into_response()
}

fn list(files: impl Iterator<Item = (String, u64, u64)>) -> Json<LogListInfo> {
    Json(LogListInfo { logs: files.map(|(name, size, mtime)| LogInfo { name, size, mtime }).collect() })
}

/// `GET /jobmanager/logs`.
pub(super) async fn jm_list(State(c): Shared) -> RestResult<LogListInfo> {
    let Some(dir) = jm_log_dir(&c) else { return Ok(list(std::iter::empty())) };
    let files = logfiles::list(&dir).map_err(|e| RestError::not_found(e.to_string()))?;
    Ok(list(files.into_iter().map(|f| (f.name, f.size, f.mtime_ms))))
}

async fn jm_file(c: &RestState, name: &str, q: &LogQuery) -> Result<Response, RestError> {
    let dir = jm_log_dir(c).ok_or_else(no_jm_logs)?;
    let size = match logfiles::path_of(&dir, name).and_then(|p| {
        std::fs::metadata(&p).map_err(|source| logfiles::LogFileError::Io { path: p.display().to_string(), source })
    }) {
        Ok(m) => m.len(),
        Err(e @ logfiles::LogFileError::BadName(_)) => return Err(RestError::bad_request(e.to_string())),
        Err(e) => return Err(RestError::not_found(e.to_string())),
    };
    let (data, size) =
        logfiles::read(&dir, name, q.window(size), MAX_READ).map_err(|e| RestError::not_found(e.to_string()))?;
    Ok(text(data, size))
}

/// `GET /jobmanager/log`.
pub(super) async fn jm_log(State(c): Shared, Query(q): Query<LogQuery>) -> Result<Response, RestError> {
    jm_file(&c, JM_LOG, &q).await
}

/// `GET /jobmanager/stdout`.
pub(super) async fn jm_stdout(State(c): Shared, Query(q): Query<LogQuery>) -> Result<Response, RestError> {
    jm_file(&c, JM_OUT, &q).await
}

/// `GET /jobmanager/logs/:name`.
pub(super) async fn jm_named(
    State(c): Shared,
    Path(name): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response, RestError> {
    jm_file(&c, &name, &q).await
}

/// A TaskManager's RPC refusal as a REST error naming the TaskManager.
fn tm_error(tm: &str, s: tonic::Status) -> RestError {
    let code = match s.code() {
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_GATEWAY,
    };
    RestError::new(code, format!("TaskManager {tm}: {}", s.message()))
}

fn unknown_tm(tm: &str) -> RestError {
    RestError::not_found(format!("TaskManager {tm} is not registered"))
}

/// `GET /taskmanagers/:id/logs`.
pub(super) async fn tm_list(State(c): Shared, Path(tm): Path<String>) -> RestResult<LogListInfo> {
    let mut client = c.dispatcher.rm.client_of(&tm).ok_or_else(|| unknown_tm(&tm))?;
    match client.list_logs(ListLogsRequest {}).await {
        Ok(r) => Ok(list(r.into_inner().files.into_iter().map(|f| (f.name, f.size, f.mtime_ms)))),
        // Flink answers an empty list for a TaskManager without log files.
        Err(s) if s.code() == tonic::Code::NotFound => Ok(list(std::iter::empty())),
        Err(s) => Err(tm_error(&tm, s)),
    }
}

async fn tm_file(c: &RestState, tm: &str, name: &str, q: &LogQuery) -> Result<Response, RestError> {
    let mut client = c.dispatcher.rm.client_of(tm).ok_or_else(|| unknown_tm(tm))?;
    // Without an offset: the last MAX_READ bytes, which needs the size first.
    let offset = match q.offset {
        Some(o) => o,
        None => {
            let r = client
                .read_log(ReadLogRequest { name: name.to_string(), offset: u64::MAX, max_bytes: 1 })
                .await
                .map_err(|s| tm_error(tm, s))?;
            r.into_inner().size.saturating_sub(MAX_READ)
        }
    };
    let r = client
        .read_log(ReadLogRequest { name: name.to_string(), offset, max_bytes: MAX_READ })
        .await
        .map_err(|s| tm_error(tm, s))?
        .into_inner();
    Ok(text(r.data, r.size))
}

/// `GET /taskmanagers/:id/log`: its main log.
pub(super) async fn tm_log(
    State(c): Shared,
    Path(tm): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response, RestError> {
    tm_file(&c, &tm, "", &q).await
}

/// `GET /taskmanagers/:id/stdout`.
pub(super) async fn tm_stdout(
    State(c): Shared,
    Path(tm): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response, RestError> {
    tm_file(&c, &tm, TM_OUT, &q).await
}

/// `GET /taskmanagers/:id/logs/:name`.
pub(super) async fn tm_named(
    State(c): Shared,
    Path((tm, name)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Response, RestError> {
    tm_file(&c, &tm, &name, &q).await
}
