//! Where the client puts what a YARN application needs: each application's
//! staging directory `<root>/<application id>` and the bundle cache
//! `<root>/cache` share one root, [`staging_root`].

use rfy_conf::{options, Configuration};

/// The directory under which each application's staging directory is made:
/// `<yarn.staging-directory>/.rfy`, else `/user/<user>/.rfy` (an HDFS path
/// without scheme; `hdfs://nn/path` in the option becomes `/path`).
pub fn staging_root(conf: &Configuration, user: &str) -> String {
    match conf.get_optional(&options::YARN_STAGING_DIRECTORY) {
        Some(d) if !d.trim().is_empty() => {
            let d = d.trim().trim_end_matches('/');
            // Accept `hdfs://nn/path` as well as `/path`.
            match d.strip_prefix("hdfs://") {
                Some(rest) => rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_else(|| "/".into()),
                None => d.to_string(),
            }
            .trim_end_matches('/')
            .to_string()
                + "/.rfy"
        }
        _ => format!("/user/{user}/.rfy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_root_defaults_to_home() {
        let c = Configuration::new();
        assert_eq!(staging_root(&c, "alice"), "/user/alice/.rfy");
        let mut c = Configuration::new();
        c.set(options::YARN_STAGING_DIRECTORY.key, "hdfs://nn:9000/tmp/st/", rfy_conf::Source::Dynamic).unwrap();
        assert_eq!(staging_root(&c, "alice"), "/tmp/st/.rfy");
    }
}
