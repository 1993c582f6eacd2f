//! `Configuration::load(None)` and `$RFY_CONF_DIR` (own test binary: it sets
//! an environment variable).

use rfy_conf::{options, Configuration, CONF_DIR_ENV};

#[test]
fn load_without_dir_uses_env_or_nothing() {
    std::env::remove_var(CONF_DIR_ENV);
    assert!(Configuration::load(None).unwrap().is_empty());

    let dir = std::env::temp_dir().join(format!("rfy-conf-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::env::set_var(CONF_DIR_ENV, &dir);
    let err = Configuration::load(None).unwrap_err().to_string();
    assert!(err.contains(&dir.join("config.yaml").display().to_string()), "{err}");

    std::fs::write(dir.join("config.yaml"), "rest.port: 18081\n").unwrap();
    let conf = Configuration::load(None).unwrap();
    assert_eq!(conf.get(&options::REST_PORT), 18081);

    std::env::set_var(CONF_DIR_ENV, "");
    assert!(Configuration::load(None).unwrap().is_empty());
    std::env::remove_var(CONF_DIR_ENV);
    std::fs::remove_dir_all(&dir).unwrap();
}
