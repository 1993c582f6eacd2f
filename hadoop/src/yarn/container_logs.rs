//! A running application's container logs through YARN's web services:
//! which containers it has and on which NodeManager (ResourceManager,
//! `RMWebServices`: `/ws/v1/cluster/apps/{appid}/appattempts` and
//! `.../appattempts/{attemptid}/containers`, DAOs `AppAttemptInfo` and
//! `ContainerInfo`), and their log files (NodeManager, `NMWebServices`:
//! `/ws/v1/node/containers/{containerid}/logs` lists them as
//! `ContainerLogsInfo`/`ContainerLogFileInfo`, `/ws/v1/node/containerlogs/{containerid}/{filename}`
//! serves one, `?size=N` its first N bytes, `?size=-N` its last N).
//!
//! The NodeManager wraps a file's bytes in a text header and footer
//! (`LogToolUtils.outputContainerLogThroughZeroCopy`: `Container: ...`,
//! `LogType:`, `LogLastModifiedTime:`, `LogLength:<file length>`,
//! `LogContents:` and then the bytes; `End of LogType:...` after them);
//! [`NmLogClient::read`] returns the bytes alone with the file length.

use serde_json::Value;

use super::rest::{remote_exception_message, RestError, RmRestClient, CONNECT_TIMEOUT, REQUEST_TIMEOUT};
use crate::kerberos::KerberosCredentials;

/// A container of a running application, as the ResourceManager lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningContainer {
    /// `container_...`.
    pub id: String,
    /// The NodeManager's web address, `host:port` (no scheme).
    pub node_http_address: String,
    /// The NodeManager's id, `host:port` (its IPC address; names its aggregated log file).
    pub node_id: String,
}

/// One file in a container's log directory (`ContainerLogFileInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileInfo {
    /// File name (`jobmanager.log`, `stderr`...).
    pub name: String,
    /// Length, bytes.
    pub size: u64,
}

/// A JSON field as a string, whether the server sent a string or a number.
fn str_field(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `x` if it is an array, `[x]` if it is an object (Jersey's JSON writes a
/// one-element list either way, depending on its configuration), else `[]`.
fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => vec![],
    }
}

/// `host:port` without any `http://`/`https://`.
fn strip_scheme(addr: &str) -> String {
    addr.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/').to_string()
}

fn container_of(v: &Value) -> Option<RunningContainer> {
    Some(RunningContainer {
        id: str_field(v, "containerId")?,
        node_http_address: strip_scheme(&str_field(v, "nodeHttpAddress")?),
        node_id: str_field(v, "nodeId").or_else(|| str_field(v, "assignedNodeId")).unwrap_or_default(),
    })
}

impl RmRestClient {
    /// The application's attempts, oldest first: each attempt's id
    /// (`appattempt_...`) and its ApplicationMaster container.
    ///
    /// Errors: unreachable RM, unknown application (the RM's 404 message), or
    /// JSON not shaped like `{"appAttempts":{"appAttempt":[...]}}`.
    pub async fn app_attempts(&self, app_id: &str) -> Result<Vec<(String, RunningContainer)>, RestError> {
        let path = format!("/ws/v1/cluster/apps/{app_id}/appattempts");
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        let v: Value = self.parse(&path, &text)?;
        let attempts = list(&v["appAttempts"]["appAttempt"])
            .into_iter()
            .filter_map(|a| Some((str_field(a, "appAttemptId")?, container_of(a)?)))
            .collect::<Vec<_>>();
        if attempts.is_empty() {
            return Err(RestError::Json {
                url: self.url(&path),
                reason: format!("no application attempt listed: {text}"),
            });
        }
        Ok(attempts)
    }

    /// The running containers of attempt `attempt_id` of `app_id` (the
    /// ApplicationMaster's included).
    ///
    /// Errors: as [`RmRestClient::app_attempts`].
    pub async fn attempt_containers(&self, app_id: &str, attempt_id: &str) -> Result<Vec<RunningContainer>, RestError> {
        let path = format!("/ws/v1/cluster/apps/{app_id}/appattempts/{attempt_id}/containers");
        let (_, text) = self.send("GET", &path, None, &[200]).await?;
        let v: Value = self.parse(&path, &text)?;
        let items = if v.get("container").is_some() { &v["container"] } else { &v["containers"]["container"] };
        Ok(list(items).into_iter().filter_map(container_of).collect())
    }
}

/// A client of the NodeManagers' log web services, acting as one user.
#[derive(Debug, Clone)]
pub struct NmLogClient {
    user: String,
    http: reqwest::Client,
    /// `Some`: SPNEGO with these credentials instead of `?user.name=` (a
    /// Kerberized cluster's NodeManager web services).
    kerberos: Option<KerberosCredentials>,
}

impl NmLogClient {
    /// A client acting as `user` (`?user.name=`), with the RM client's timeouts.
    pub fn new(user: &str) -> Result<Self, RestError> {
        let builder = crate::tls::client_builder(None)?.connect_timeout(CONNECT_TIMEOUT).timeout(REQUEST_TIMEOUT);
        let http = crate::tls::build(builder, None)?;
        Ok(NmLogClient { user: user.to_string(), http, kerberos: None })
    }

    /// The same client authenticating every request with SPNEGO (`HTTP@<NodeManager host>`)
    /// from `credentials` instead of `?user.name=`.
    pub fn with_kerberos(mut self, credentials: KerberosCredentials) -> Self {
        self.kerberos = Some(credentials);
        self
    }

    /// GETs `url`, JSON if `json` (the listing; a log file is text/plain only).
    async fn get(&self, url: &str, size: Option<i64>, json: bool) -> Result<(u16, bytes::Bytes), RestError> {
        let mut req = match &self.kerberos {
            None => self.http.get(url).query(&[("user.name", self.user.as_str())]),
            Some(k) => self.http.get(url).header("Authorization", super::rest::negotiate(k, url).await?),
        };
        if json {
            req = req.header("Accept", "application/json");
        }
        if let Some(n) = size {
            req = req.query(&[("size", n)]);
        }
        let resp =
            req.send().await.map_err(|source| RestError::NodeManagerUnreachable { url: url.to_string(), source })?;
        let status = resp.status().as_u16();
        let body =
            resp.bytes().await.map_err(|source| RestError::NodeManagerUnreachable { url: url.to_string(), source })?;
        Ok((status, body))
    }

    /// The files in container `c`'s log directory on its NodeManager.
    ///
    /// Errors: unreachable NodeManager; a non-200 answer (e.g. the NM no
    /// longer knows the container) with its message; unexpected JSON.
    pub async fn list(&self, c: &RunningContainer) -> Result<Vec<LogFileInfo>, RestError> {
        let url = format!("http://{}/ws/v1/node/containers/{}/logs", c.node_http_address, c.id);
        let (status, body) = self.get(&url, None, true).await?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(RestError::NodeManager { url, status, message: remote_exception_message(&text) });
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| RestError::Json { url: url.clone(), reason: e.to_string() })?;
        // `[ContainerLogsInfo]`, possibly wrapped (`{"containerLogsInfo": ...}`);
        // only the LOCAL one lists the files in the container's directory.
        let infos = match &v {
            Value::Object(o) if o.len() == 1 && !o.contains_key("containerLogInfo") => {
                list(o.values().next().expect("one value"))
            }
            _ => list(&v),
        };
        let mut files = Vec::new();
        for info in infos.into_iter().filter(|i| i["logAggregationType"].as_str().is_none_or(|t| t == "LOCAL")) {
            for f in list(&info["containerLogInfo"]) {
                let (Some(name), Some(size)) = (str_field(f, "fileName"), str_field(f, "fileSize")) else { continue };
                let size = size
                    .parse()
                    .map_err(|_| RestError::Json { url: url.clone(), reason: format!("fileSize {size:?}") })?;
                files.push(LogFileInfo { name, size });
            }
        }
        Ok(files)
    }

    /// Container `c`'s state as its NodeManager sees it (`NMWebServices`:
    /// `/ws/v1/node/containers/{containerid}`, DAO `ContainerInfo`, field
    /// `state`: the NodeManager's own `ContainerState`, e.g. `RUNNING`,
    /// `EXITED_WITH_SUCCESS`, `DONE`), or `None` once the NodeManager no
    /// longer knows the container (404).
    ///
    /// Errors: unreachable NodeManager; another non-200 answer with its
    /// message; JSON without `container.state`.
    pub async fn container_state(&self, c: &RunningContainer) -> Result<Option<String>, RestError> {
        let url = format!("http://{}/ws/v1/node/containers/{}", c.node_http_address, c.id);
        let (status, body) = self.get(&url, None, true).await?;
        let text = String::from_utf8_lossy(&body);
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            return Err(RestError::NodeManager { url, status, message: remote_exception_message(&text) });
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| RestError::Json { url: url.clone(), reason: e.to_string() })?;
        str_field(&v["container"], "state")
            .map(Some)
            .ok_or_else(|| RestError::Json { url, reason: format!("no container.state in {text}") })
    }

    /// Log file `file` of container `c`: its first `size` bytes (`size` ≥ 0),
    /// its last `-size` bytes (`size` < 0), or all of it (`None`). Returns the
    /// bytes and the file's length when the NodeManager read it, bytes; a
    /// suffix of length `n` is the file's bytes `[length - n, length)`.
    ///
    /// Errors: unreachable NodeManager; a non-200 answer (unknown container or
    /// file) with its message; an answer without the NodeManager's
    /// `LogLength:`/`LogContents:` header.
    pub async fn read(&self, c: &RunningContainer, file: &str, size: Option<i64>) -> Result<(Vec<u8>, u64), RestError> {
        let url = format!("http://{}/ws/v1/node/containerlogs/{}/{file}", c.node_http_address, c.id);
        let (status, body) = self.get(&url, size, false).await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            return Err(RestError::NodeManager { url, status, message: remote_exception_message(&text) });
        }
        unwrap_log(&body, size).ok_or_else(|| RestError::Json {
            url,
            reason: "no LogLength:/LogContents: header in the NodeManager's answer".to_string(),
        })
    }
}

/// The file bytes and file length out of an NM log answer (see the module docs).
fn unwrap_log(body: &[u8], size: Option<i64>) -> Option<(Vec<u8>, u64)> {
    const LENGTH: &[u8] = b"\nLogLength:";
    const CONTENTS: &[u8] = b"LogContents:\n";
    let find =
        |needle: &[u8], from: usize| body[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from);
    let l = find(LENGTH, 0)? + LENGTH.len();
    let end = l + body[l..].iter().position(|b| *b == b'\n')?;
    let length: u64 = std::str::from_utf8(&body[l..end]).ok()?.trim().parse().ok()?;
    let start = find(CONTENTS, end)? + CONTENTS.len();
    let n = match size {
        Some(s) => s.unsigned_abs().min(length),
        None => length,
    } as usize;
    let bytes = body.get(start..start + n)?.to_vec();
    Some((bytes, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nm_answer_is_unwrapped_to_the_file_bytes() {
        let body = b"Container: container_1_0001_01_000001 on h:1\nLogAggregationType: LOCAL\n====\nLogType:jobmanager.log\nLogLastModifiedTime:Sat\nLogLength:12\nLogContents:\nhello\nworld\nEnd of LogType:jobmanager.log.\n****\n";
        assert_eq!(unwrap_log(body, None), Some((b"hello\nworld\n".to_vec(), 12)));
        let tail = b"LogType:x\nLogLength:12\nLogContents:\nworld\nEnd of LogType:x";
        assert_eq!(unwrap_log(tail, Some(-6)), Some((b"world\n".to_vec(), 12)));
        assert_eq!(unwrap_log(b"<html>not found</html>", None), None);
    }

    #[test]
    fn containers_from_either_json_shape() {
        let one = serde_json::json!({"containerId": "container_1_0001_01_000002", "nodeHttpAddress": "http://h:8042", "nodeId": "h:4545"});
        assert_eq!(
            list(&one).into_iter().filter_map(container_of).collect::<Vec<_>>(),
            [RunningContainer {
                id: "container_1_0001_01_000002".into(),
                node_http_address: "h:8042".into(),
                node_id: "h:4545".into()
            }]
        );
        assert!(list(&serde_json::json!([one, one])).len() == 2 && list(&Value::Null).is_empty());
    }
}
