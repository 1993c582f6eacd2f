//! Hadoop XML configuration (`org.apache.hadoop.conf.Configuration`).
//!
//! Loads `core-site.xml`, `hdfs-site.xml` and `yarn-site.xml` (in that order,
//! later files override earlier ones unless a property is `<final>true</final>`)
//! from `HADOOP_CONF_DIR` or an explicit directory, and offers typed getters
//! with Hadoop's defaults for the keys rfy uses. Values undergo `${var}`
//! substitution as Hadoop does: `${name}` from the configuration (a process
//! environment variable for `${env.NAME}`, with `${env.NAME:-default}` /
//! `${env.NAME-default}` forms), repeated up to 20 times; an unresolved
//! reference stays as written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;

/// Environment variable naming the Hadoop configuration directory.
pub const HADOOP_CONF_DIR: &str = "HADOOP_CONF_DIR";
/// Site files read by [`HadoopConfig::load_dir`], in override order.
pub const SITE_FILES: [&str; 3] = ["core-site.xml", "hdfs-site.xml", "yarn-site.xml"];

/// `fs.defaultFS`: the default file system URI (Hadoop default `file:///`).
pub const FS_DEFAULT_FS: &str = "fs.defaultFS";
/// `yarn.resourcemanager.hostname` (default `0.0.0.0`).
pub const RM_HOSTNAME: &str = "yarn.resourcemanager.hostname";
/// `yarn.resourcemanager.address`: client RPC (default `${yarn.resourcemanager.hostname}:8032`).
pub const RM_ADDRESS: &str = "yarn.resourcemanager.address";
/// `yarn.resourcemanager.scheduler.address`: ApplicationMasterProtocol (default `...:8030`).
pub const RM_SCHEDULER_ADDRESS: &str = "yarn.resourcemanager.scheduler.address";
/// `yarn.resourcemanager.webapp.address`: web UI and REST API (default `...:8088`).
pub const RM_WEBAPP_ADDRESS: &str = "yarn.resourcemanager.webapp.address";
/// `yarn.resourcemanager.webapp.https.address`: the same over HTTPS (default `...:8090`).
pub const RM_WEBAPP_HTTPS_ADDRESS: &str = "yarn.resourcemanager.webapp.https.address";
/// `yarn.resourcemanager.ha.enabled`: ResourceManager HA (default false; `YarnConfiguration.RM_HA_ENABLED`).
pub const RM_HA_ENABLED: &str = "yarn.resourcemanager.ha.enabled";
/// `yarn.resourcemanager.ha.rm-ids`: the HA ResourceManagers' ids, comma-separated (`YarnConfiguration.RM_HA_IDS`).
/// Each RM's addresses are the address keys suffixed `.<id>` (`HAUtil.addSuffix`).
pub const RM_HA_IDS: &str = "yarn.resourcemanager.ha.rm-ids";
/// `yarn.http.policy`: `HTTP_ONLY` (default) or `HTTPS_ONLY` (`YarnConfiguration.YARN_HTTP_POLICY_KEY`).
pub const YARN_HTTP_POLICY: &str = "yarn.http.policy";

const MAX_SUBST: usize = 20;

/// Errors loading or reading the configuration. Each names the file or key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `HADOOP_CONF_DIR` is not set.
    #[error("HADOOP_CONF_DIR is not set; point it at the directory holding core-site.xml and yarn-site.xml")]
    NoConfDir,
    /// The configuration directory does not exist or is not a directory.
    #[error("Hadoop configuration directory {0} does not exist or is not a directory")]
    BadDir(PathBuf),
    /// A file could not be read.
    #[error("cannot read Hadoop configuration file {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not well-formed XML or not a Hadoop configuration.
    #[error("malformed Hadoop configuration file {file}: {reason}")]
    Xml {
        /// The file (or source name).
        file: String,
        /// What the parser said.
        reason: String,
    },
    /// A value could not be interpreted.
    #[error("bad value {value:?} for {key} (from {source_name}): {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value after substitution.
        value: String,
        /// The file that set it, or `default`.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The short name of the process's Kerberos login user, once one is
/// recorded (`kerberos::set_login_user` records it here, so this module needs
/// nothing of Kerberos).
static LOGIN_USER_NAME: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Records the Hadoop user name of the process's Kerberos login user.
pub(crate) fn set_login_user_name(name: &str) {
    *LOGIN_USER_NAME.write().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
}

/// The Hadoop user name of this process: the short name of the Kerberos
/// login user if one was recorded (`kerberos::set_login_user`),
/// else `HADOOP_USER_NAME`, else `USER`, else `LOGNAME`, else `root` (what a
/// non-secure Hadoop client would assume, `UserGroupInformation` in SIMPLE mode).
pub fn current_user() -> String {
    if let Some(name) = LOGIN_USER_NAME.read().unwrap_or_else(|e| e.into_inner()).clone() {
        return name;
    }
    ["HADOOP_USER_NAME", "USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "root".to_string())
}

/// A `host:port` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl HostPort {
    /// Parses `host:port` (or `[v6]:port`).
    pub fn parse(s: &str) -> Option<HostPort> {
        let s = s.trim();
        let (h, p) = s.rsplit_once(':')?;
        let h = h.trim_start_matches('[').trim_end_matches(']');
        if h.is_empty() {
            return None;
        }
        Some(HostPort { host: h.to_string(), port: p.parse().ok()? })
    }

    /// Whether the host is a wildcard bind address (`0.0.0.0`, `::`).
    pub fn is_wildcard(&self) -> bool {
        self.host == "0.0.0.0" || self.host == "::" || self.host == "0:0:0:0:0:0:0:0"
    }
}

#[derive(Debug, Clone)]
struct Property {
    value: String,
    source: String,
    is_final: bool,
}

/// A set of Hadoop configuration properties.
#[derive(Debug, Clone, Default)]
pub struct HadoopConfig {
    props: HashMap<String, Property>,
    dir: Option<PathBuf>,
}

impl HadoopConfig {
    /// An empty configuration (all getters return Hadoop's defaults).
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the site files from `$HADOOP_CONF_DIR`.
    ///
    /// Errors: [`ConfigError::NoConfDir`] when unset, else as [`Self::load_dir`].
    pub fn from_env() -> Result<Self, ConfigError> {
        let dir = std::env::var_os(HADOOP_CONF_DIR).ok_or(ConfigError::NoConfDir)?;
        Self::load_dir(dir)
    }

    /// Loads `core-site.xml`, `hdfs-site.xml`, `yarn-site.xml` from `dir`;
    /// missing files are skipped, as Hadoop does for site files.
    ///
    /// Errors: [`ConfigError::BadDir`], [`ConfigError::Io`], [`ConfigError::Xml`] naming the file.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(ConfigError::BadDir(dir.to_path_buf()));
        }
        let mut conf = HadoopConfig::new();
        conf.dir = Some(dir.to_path_buf());
        for name in SITE_FILES {
            let file = dir.join(name);
            if file.is_file() {
                conf.add_file(&file)?;
            } else {
                tracing::debug!(file = %file.display(), "Hadoop site file absent; skipped");
            }
        }
        Ok(conf)
    }

    /// The directory the configuration was loaded from, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Adds the properties of one XML file.
    pub fn add_file(&mut self, file: &Path) -> Result<(), ConfigError> {
        let text =
            std::fs::read_to_string(file).map_err(|source| ConfigError::Io { file: file.to_path_buf(), source })?;
        self.add_xml(&text, &file.display().to_string())
    }

    /// Adds the properties of a configuration document
    /// (`<configuration><property><name/><value/><final/></property>...`).
    /// `source_name` is recorded for error messages.
    ///
    /// Errors: [`ConfigError::Xml`] for malformed XML or a root element other than `configuration`.
    pub fn add_xml(&mut self, xml: &str, source_name: &str) -> Result<(), ConfigError> {
        let xml_err = |reason: String| ConfigError::Xml { file: source_name.to_string(), reason };
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let (mut name, mut value, mut is_final) = (None::<String>, None::<String>, false);
        let mut seen_root = false;
        loop {
            let ev = reader.read_event().map_err(|e| xml_err(format!("at byte {}: {e}", reader.buffer_position())))?;
            match ev {
                Event::Start(e) => {
                    let tag = e.local_name().as_ref().to_string();
                    if path.is_empty() {
                        if tag != "configuration" {
                            return Err(xml_err(format!("root element is <{tag}>, expected <configuration>")));
                        }
                        seen_root = true;
                    }
                    if tag == "property" && path.len() == 1 {
                        name = None;
                        value = None;
                        is_final = false;
                    }
                    path.push(tag);
                    text.clear();
                }
                Event::Empty(e) => {
                    let tag = e.local_name().as_ref().to_string();
                    if path.is_empty() {
                        if tag != "configuration" {
                            return Err(xml_err(format!("root element is <{tag}>, expected <configuration>")));
                        }
                        seen_root = true;
                    } else if tag == "value" && path.last().map(String::as_str) == Some("property") {
                        value = Some(String::new());
                    }
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::CData(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    Ok(None) => {
                        let ent: &str = &r;
                        match ent {
                            "amp" => text.push('&'),
                            "lt" => text.push('<'),
                            "gt" => text.push('>'),
                            "quot" => text.push('"'),
                            "apos" => text.push('\''),
                            other => return Err(xml_err(format!("unknown entity &{other};"))),
                        }
                    }
                    Err(e) => return Err(xml_err(format!("bad character reference: {e}"))),
                },
                Event::End(_) => {
                    let tag = path.pop().unwrap_or_default();
                    if path.last().map(String::as_str) == Some("property") {
                        match tag.as_str() {
                            "name" => name = Some(text.trim().to_string()),
                            "value" => value = Some(text.clone()),
                            "final" => is_final = text.trim() == "true",
                            _ => {}
                        }
                    } else if tag == "property" && path.len() == 1 {
                        match (name.take(), value.take()) {
                            (Some(n), Some(v)) if !n.is_empty() => self.set_from(&n, v, source_name, is_final),
                            (Some(n), None) => {
                                tracing::debug!(key = %n, file = source_name, "property without value ignored")
                            }
                            _ => {
                                tracing::debug!(file = source_name, "property without name ignored")
                            }
                        }
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err(xml_err("no <configuration> element".into()));
        }
        if !path.is_empty() {
            return Err(xml_err(format!("unclosed <{}>", path.join("><"))));
        }
        Ok(())
    }

    fn set_from(&mut self, key: &str, value: String, source: &str, is_final: bool) {
        if let Some(old) = self.props.get(key) {
            if old.is_final {
                tracing::warn!(key, file = source, final_in = %old.source, "attempt to override final parameter ignored");
                return;
            }
        }
        self.props.insert(key.to_string(), Property { value, source: source.to_string(), is_final });
    }

    /// Sets a property programmatically (source `programmatically`), as `Configuration#set`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_from(key, value.into(), "programmatically", false);
    }

    /// The value as written, without substitution.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(|p| p.value.as_str())
    }

    /// The file that set `key` (or `programmatically`).
    pub fn source_of(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(|p| p.source.as_str())
    }

    /// All keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.props.keys().map(String::as_str)
    }

    /// The value with `${var}` substitution, or `None` if unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_raw(key).map(|v| self.substitute(v))
    }

    /// The value with substitution, or `default` (itself substituted) if unset.
    pub fn get_or(&self, key: &str, default: &str) -> String {
        match self.get_raw(key) {
            Some(v) => self.substitute(v),
            None => self.substitute(default),
        }
    }

    /// Like [`Self::get_or`], trimmed (Hadoop's `getTrimmed`).
    pub fn get_trimmed_or(&self, key: &str, default: &str) -> String {
        self.get_or(key, default).trim().to_string()
    }

    fn bad_value(&self, key: &str, value: &str, reason: &str) -> ConfigError {
        ConfigError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            source_name: self.source_of(key).unwrap_or("default").to_string(),
            reason: reason.to_string(),
        }
    }

    /// A boolean (`true`/`false`, case-insensitive); `default` if unset.
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.bad_value(key, &v, "expected true or false")),
            },
        }
    }

    /// A signed integer; `default` if unset.
    pub fn get_i64(&self, key: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| self.bad_value(key, &v, "expected an integer")),
        }
    }

    /// Expands `${...}` references in `value`.
    pub fn substitute(&self, value: &str) -> String {
        let mut cur = value.to_string();
        for _ in 0..MAX_SUBST {
            let Some((start, end, var)) = find_var(&cur) else {
                return cur;
            };
            let replacement = self.lookup_var(var);
            match replacement {
                Some(r) => cur = format!("{}{}{}", &cur[..start], r, &cur[end..]),
                // Hadoop leaves an unresolvable expression as it is.
                None => return cur,
            }
        }
        tracing::warn!(value, "variable substitution depth too large; value left partly expanded");
        cur
    }

    fn lookup_var(&self, var: &str) -> Option<String> {
        if let Some(env) = var.strip_prefix("env.") {
            let (name, default) = if let Some((n, d)) = env.split_once(":-") {
                (n, Some((d, true)))
            } else if let Some((n, d)) = env.split_once('-') {
                (n, Some((d, false)))
            } else {
                (env, None)
            };
            let v = std::env::var(name).ok();
            return match (v, default) {
                (Some(v), Some((_, true))) if !v.is_empty() => Some(v),
                (Some(_), Some((d, true))) => Some(d.to_string()),
                (Some(v), _) => Some(v),
                (None, Some((d, _))) => Some(d.to_string()),
                (None, None) => None,
            };
        }
        self.get_raw(var).or_else(|| builtin_default(var)).map(str::to_string)
    }

    /// `fs.defaultFS` (default `file:///`).
    pub fn default_fs(&self) -> String {
        self.get_trimmed_or(FS_DEFAULT_FS, "file:///")
    }

    /// `yarn.resourcemanager.hostname` (default `0.0.0.0`).
    pub fn rm_hostname(&self) -> String {
        self.get_trimmed_or(RM_HOSTNAME, "0.0.0.0")
    }

    fn rm_addr(&self, key: &str, default_port: u16) -> Result<HostPort, ConfigError> {
        let default = format!("${{{RM_HOSTNAME}}}:{default_port}");
        let v = self.get_trimmed_or(key, &default);
        let mut hp = match HostPort::parse(&v) {
            Some(hp) => hp,
            // A bare host gets the default port (NetUtils.createSocketAddr).
            None if !v.is_empty() && !v.contains(':') && !v.contains('$') => {
                HostPort { host: v.clone(), port: default_port }
            }
            None => return Err(self.bad_value(key, &v, "expected host:port")),
        };
        if hp.is_wildcard() {
            // A wildcard bind address is not connectable: use the RM host
            // name, or this machine when that is a wildcard too.
            let rm = self.rm_hostname();
            hp.host = if rm == "0.0.0.0" || rm.is_empty() { "localhost".to_string() } else { rm };
        }
        Ok(hp)
    }

    /// The ResourceManager ids of an HA cluster (`yarn.resourcemanager.ha.rm-ids`,
    /// in configured order) when `yarn.resourcemanager.ha.enabled` is true; `None` otherwise.
    ///
    /// Errors: [`ConfigError::BadValue`] for a non-boolean `ha.enabled`, or HA
    /// enabled with no id (Hadoop's `HAUtil.verifyAndSetRMHAIdsList` refuses it too).
    pub fn rm_ha_ids(&self) -> Result<Option<Vec<String>>, ConfigError> {
        if !self.get_bool(RM_HA_ENABLED, false)? {
            return Ok(None);
        }
        let raw = self.get_or(RM_HA_IDS, "");
        let ids: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if ids.is_empty() {
            return Err(self.bad_value(RM_HA_IDS, &raw, "yarn.resourcemanager.ha.enabled is true: name the RM ids"));
        }
        Ok(Some(ids))
    }

    /// The address `key` of the ResourceManager `id` of an HA cluster, as
    /// Hadoop's `HAUtil.getConfValueForRMInstance` finds it: `<key>.<id>`, else
    /// `yarn.resourcemanager.hostname.<id>` with `default_port`. A wildcard host
    /// becomes `yarn.resourcemanager.hostname.<id>`.
    ///
    /// Errors: [`ConfigError::BadValue`] naming `<key>.<id>` when neither is set or the value is not `host:port`.
    pub fn rm_addr_of(&self, key: &str, default_port: u16, id: &str) -> Result<HostPort, ConfigError> {
        let id_key = format!("{key}.{id}");
        let host_key = format!("{RM_HOSTNAME}.{id}");
        let host = self.get(&host_key).map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        let value = match (self.get(&id_key), &host) {
            (Some(v), _) => v.trim().to_string(),
            (None, Some(h)) => format!("{h}:{default_port}"),
            (None, None) => {
                return Err(self.bad_value(
                    &id_key,
                    "",
                    &format!("unset, and so is {host_key}: RM {id} has no address"),
                ))
            }
        };
        let mut hp = HostPort::parse(&value).ok_or_else(|| self.bad_value(&id_key, &value, "expected host:port"))?;
        if hp.is_wildcard() {
            hp.host = host.unwrap_or_else(|| "localhost".to_string());
        }
        Ok(hp)
    }

    /// `key`'s address of every ResourceManager: one per HA RM id (configured
    /// order, see [`Self::rm_addr_of`]), or the single RM's.
    fn rm_addrs(&self, key: &str, default_port: u16) -> Result<Vec<HostPort>, ConfigError> {
        match self.rm_ha_ids()? {
            Some(ids) => ids.iter().map(|id| self.rm_addr_of(key, default_port, id)).collect(),
            None => Ok(vec![self.rm_addr(key, default_port)?]),
        }
    }

    /// The scheduler address (ApplicationMasterProtocol) of every
    /// ResourceManager: `yarn.resourcemanager.scheduler.address.<id>` per HA
    /// RM id, or [`Self::rm_scheduler_address`]. Only the active RM listens there.
    pub fn rm_scheduler_addresses(&self) -> Result<Vec<HostPort>, ConfigError> {
        self.rm_addrs(RM_SCHEDULER_ADDRESS, 8030)
    }

    /// The REST API base URL of every ResourceManager, in configured order:
    /// `http://<yarn.resourcemanager.webapp.address.<id>>` per HA RM id
    /// (`https://<...webapp.https.address.<id>>` with `yarn.http.policy=HTTPS_ONLY`),
    /// or [`Self::rm_webapp_url`] without HA.
    pub fn rm_webapp_urls(&self) -> Result<Vec<String>, ConfigError> {
        if self.rm_ha_ids()?.is_none() {
            return Ok(vec![self.rm_webapp_url()?]);
        }
        Ok(if self.yarn_https_only() {
            self.rm_addrs(RM_WEBAPP_HTTPS_ADDRESS, 8090)?.iter().map(|a| format!("https://{a}")).collect()
        } else {
            self.rm_addrs(RM_WEBAPP_ADDRESS, 8088)?.iter().map(|a| format!("http://{a}")).collect()
        })
    }

    /// `yarn.resourcemanager.address` (client protocol; default RM host `:8032`).
    pub fn rm_address(&self) -> Result<HostPort, ConfigError> {
        self.rm_addr(RM_ADDRESS, 8032)
    }

    /// `yarn.resourcemanager.scheduler.address` (ApplicationMasterProtocol; default RM host `:8030`).
    pub fn rm_scheduler_address(&self) -> Result<HostPort, ConfigError> {
        self.rm_addr(RM_SCHEDULER_ADDRESS, 8030)
    }

    /// `yarn.resourcemanager.webapp.address` (REST API; default RM host `:8088`).
    /// A wildcard host (`0.0.0.0`) is replaced by `yarn.resourcemanager.hostname`.
    pub fn rm_webapp_address(&self) -> Result<HostPort, ConfigError> {
        self.rm_addr(RM_WEBAPP_ADDRESS, 8088)
    }

    /// `yarn.resourcemanager.webapp.https.address` (REST API over HTTPS; default RM host `:8090`).
    pub fn rm_webapp_https_address(&self) -> Result<HostPort, ConfigError> {
        self.rm_addr(RM_WEBAPP_HTTPS_ADDRESS, 8090)
    }

    /// Whether the YARN daemons serve their web endpoints over HTTPS only
    /// (`yarn.http.policy=HTTPS_ONLY`, as `YarnConfiguration#useHttps`).
    pub fn yarn_https_only(&self) -> bool {
        self.get_trimmed_or(YARN_HTTP_POLICY, "HTTP_ONLY").eq_ignore_ascii_case("HTTPS_ONLY")
    }

    /// The base URL of the RM REST API: `http://<webapp address>`, or
    /// `https://<webapp https address>` with `yarn.http.policy=HTTPS_ONLY`.
    pub fn rm_webapp_url(&self) -> Result<String, ConfigError> {
        if self.yarn_https_only() {
            return Ok(format!("https://{}", self.rm_webapp_https_address()?));
        }
        Ok(format!("http://{}", self.rm_webapp_address()?))
    }
}

/// Hadoop's defaults (`core-default.xml`, `yarn-default.xml`) for the keys
/// that other defaults refer to.
fn builtin_default(key: &str) -> Option<&'static str> {
    match key {
        RM_HOSTNAME => Some("0.0.0.0"),
        FS_DEFAULT_FS => Some("file:///"),
        "hadoop.tmp.dir" => Some("/tmp/hadoop-${user.name}"),
        _ => None,
    }
}

/// Finds the first `${name}` whose name has no `$`, `}` or space. Returns (start, end, name).
fn find_var(s: &str) -> Option<(usize, usize, &str)> {
    let mut from = 0;
    while let Some(rel) = s[from..].find("${") {
        let start = from + rel;
        let name_start = start + 2;
        let rest = &s[name_start..];
        let stop = rest.find(['}', '$', ' ']);
        match stop {
            Some(i) if i > 0 && rest.as_bytes()[i] == b'}' => {
                return Some((start, name_start + i + 1, &rest[..i]));
            }
            _ => from = name_start,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = r#"<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<configuration>
  <property><name>fs.defaultFS</name><value>hdfs://${nn.host}:9000</value></property>
  <property><name>nn.host</name><value>namenode.local</value></property>
  <property>
    <name> locked </name>
    <value>a &amp; b &#65;</value>
    <final>true</final>
  </property>
  <property><name>loop</name><value>${loop}</value></property>
  <property><name>empty</name><value/></property>
</configuration>"#;

    const YARN: &str = r#"<configuration>
  <property><name>yarn.resourcemanager.hostname</name><value>rm.local</value></property>
  <property><name>locked</name><value>changed</value></property>
  <property><name>yarn.resourcemanager.webapp.address</name><value>0.0.0.0:18088</value></property>
  <property><name>with.env</name><value>${env.RFY_SURELY_UNSET_VAR:-fallback}/x</value></property>
</configuration>"#;

    fn conf() -> HadoopConfig {
        let mut c = HadoopConfig::new();
        c.add_xml(CORE, "core-site.xml").unwrap();
        c.add_xml(YARN, "yarn-site.xml").unwrap();
        c
    }

    #[test]
    fn parses_and_substitutes() {
        let c = conf();
        assert_eq!(c.default_fs(), "hdfs://namenode.local:9000");
        assert_eq!(c.get("locked").unwrap(), "a & b A"); // final: not overridden
        assert_eq!(c.get("empty").unwrap(), "");
        assert_eq!(c.get("loop").unwrap(), "${loop}"); // gives up, no hang
        assert_eq!(c.get("with.env").unwrap(), "fallback/x");
        assert_eq!(c.get("unknown.var"), None);
        assert_eq!(c.substitute("${missing} x"), "${missing} x");
    }

    #[test]
    fn rm_addresses_with_defaults() {
        let c = conf();
        assert_eq!(c.rm_scheduler_address().unwrap().to_string(), "rm.local:8030");
        assert_eq!(c.rm_address().unwrap().to_string(), "rm.local:8032");
        // 0.0.0.0 is replaced by the RM host name.
        assert_eq!(c.rm_webapp_address().unwrap().to_string(), "rm.local:18088");
        assert_eq!(c.rm_webapp_url().unwrap(), "http://rm.local:18088");
        let mut https = c.clone();
        https.set(YARN_HTTP_POLICY, "HTTPS_ONLY");
        assert_eq!(https.rm_webapp_url().unwrap(), "https://rm.local:8090");
        https.set(RM_WEBAPP_HTTPS_ADDRESS, "0.0.0.0:28090");
        assert_eq!(https.rm_webapp_url().unwrap(), "https://rm.local:28090");
        let empty = HadoopConfig::new();
        assert_eq!(empty.rm_webapp_address().unwrap().to_string(), "localhost:8088");
        assert_eq!(empty.default_fs(), "file:///");
    }

    #[test]
    fn rm_ha_addresses_per_id() {
        let mut c = HadoopConfig::new();
        assert_eq!(c.rm_ha_ids().unwrap(), None);
        assert_eq!(c.rm_webapp_urls().unwrap(), ["http://localhost:8088"]);
        c.set(RM_HA_ENABLED, "true");
        let e = c.rm_ha_ids().unwrap_err().to_string();
        assert!(e.contains(RM_HA_IDS), "{e}");
        c.set(RM_HA_IDS, " rm1, rm2 ");
        c.set("yarn.resourcemanager.webapp.address.rm1", "h1:37088");
        c.set("yarn.resourcemanager.hostname.rm2", "h2");
        c.set("yarn.resourcemanager.scheduler.address.rm2", "0.0.0.0:37130");
        assert_eq!(c.rm_ha_ids().unwrap().unwrap(), ["rm1", "rm2"]);
        // rm2's web address from its host name and the default port.
        assert_eq!(c.rm_webapp_urls().unwrap(), ["http://h1:37088", "http://h2:8088"]);
        // rm1 has neither a scheduler address nor a host name: the error names the key.
        let e = c.rm_scheduler_addresses().unwrap_err().to_string();
        assert!(e.contains("yarn.resourcemanager.scheduler.address.rm1"), "{e}");
        c.set("yarn.resourcemanager.hostname.rm1", "h1");
        let s: Vec<String> = c.rm_scheduler_addresses().unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(s, ["h1:8030", "h2:37130"]); // wildcard -> hostname.rm2
        c.set(YARN_HTTP_POLICY, "HTTPS_ONLY");
        c.set("yarn.resourcemanager.webapp.https.address.rm2", "h2:37190");
        assert_eq!(c.rm_webapp_urls().unwrap(), ["https://h1:8090", "https://h2:37190"]);
        c.set(RM_HA_ENABLED, "yes");
        assert!(c.rm_ha_ids().unwrap_err().to_string().contains(RM_HA_ENABLED));
    }

    #[test]
    fn errors_name_file_and_key() {
        let mut c = HadoopConfig::new();
        let e = c.add_xml("<configuration><property>", "broken.xml").unwrap_err();
        assert!(e.to_string().contains("broken.xml"), "{e}");
        let e = c.add_xml("<foo/>", "foo.xml").unwrap_err();
        assert!(e.to_string().contains("foo.xml"), "{e}");
        c.add_xml(
            "<configuration><property><name>yarn.resourcemanager.scheduler.address</name><value>host:notaport</value></property></configuration>",
            "yarn-site.xml",
        )
        .unwrap();
        let e = c.rm_scheduler_address().unwrap_err().to_string();
        assert!(e.contains("yarn.resourcemanager.scheduler.address") && e.contains("yarn-site.xml"), "{e}");
    }

    #[test]
    fn load_dir_reads_site_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("core-site.xml"), CORE).unwrap();
        std::fs::write(dir.path().join("yarn-site.xml"), YARN).unwrap();
        let c = HadoopConfig::load_dir(dir.path()).unwrap();
        assert_eq!(c.rm_hostname(), "rm.local");
        assert!(c.source_of("nn.host").unwrap().ends_with("core-site.xml"));
        assert!(HadoopConfig::load_dir(dir.path().join("nope")).is_err());
    }

    #[test]
    fn garbage_xml_never_panics() {
        let mut seed = 0x1234_5678_u64;
        for _ in 0..500 {
            let len = (seed % 200) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let alphabet = b"<>/&;#x=\"' abcnamevaluepropertyconfiguration${}";
                s.push(alphabet[(seed % alphabet.len() as u64) as usize] as char);
            }
            let mut c = HadoopConfig::new();
            let _ = c.add_xml(&s, "fuzz");
            for k in c.keys().map(str::to_string).collect::<Vec<_>>() {
                let _ = c.get(&k);
            }
        }
    }
}
