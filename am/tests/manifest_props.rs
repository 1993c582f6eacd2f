//! Property tests of the bundle manifest (`rfy-bundle.json`, issue 11): the
//! AM parses what a client of any version uploaded. Random bytes, byte-level
//! mutations of a valid manifest (changed, cut; possibly no longer UTF-8) and
//! JSON-level ones (a field replaced by a value of another type, a field
//! removed, a field added) must parse or fail with a one-line error naming
//! the manifest file, never panic. A manifest of another version is refused
//! naming both versions.
//!
//! Seeded (fixed RNG seed, so a failure reproduces), 10 000 cases per property.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rfy_am::bundle::{BundleFile, ClusterMode, Manifest, MANIFEST_VERSION};
use rfy_hadoop::yarn::rest::LocalResourceInfo;
use rfy_hadoop::yarn::{LocalResourceType, LocalResourceVisibility};
use serde_json::Value;

const PATH: &str = "/tmp/staging/application_1_0001/rfy-bundle.json";

fn config(seed: u64) -> Config {
    Config { cases: 10_000, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

fn valid() -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        application_id: "application_1700000000000_0001".into(),
        user: "rfy".into(),
        staging_dir: "/user/rfy/.rfy/application_1700000000000_0001".into(),
        job: "wordcount".into(),
        args: vec!["--input".into(), "hdfs:///in".into()],
        log_filter: "info".into(),
        files: vec![BundleFile {
            name: "rfy-worker".into(),
            resource: LocalResourceInfo {
                resource: "hdfs://nn:9000/user/rfy/.rfy/application_1700000000000_0001/rfy-worker".into(),
                kind: LocalResourceType::File,
                visibility: LocalResourceVisibility::Application,
                size: 123456,
                timestamp: 1700000000000,
            },
        }],
        mode: ClusterMode::Session,
    }
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match Manifest::from_bytes(bytes, Path::new(PATH)) {
        Ok(m) => prop_assert_eq!(m.version, MANIFEST_VERSION),
        Err(e) => {
            let e = e.to_string();
            prop_assert!(e.contains(PATH), "error does not name the file: {}", e);
            prop_assert!(!e.contains('\n'), "not one line: {}", e);
        }
    }
    Ok(())
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(serde_json::json!(u64::MAX)),
        ".{0,12}".prop_map(Value::String),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([{"name": 1}])),
        Just(serde_json::json!("session-or-not")),
    ]
}

proptest! {
    #![proptest_config(config(0x5eed_0301))]
    #[test]
    fn mutated_manifest_bytes_parse_or_error(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
        truncate in any::<bool>(),
        random in proptest::collection::vec(any::<u8>(), 0..256),
        use_random in proptest::bool::weighted(0.2),
    ) {
        let mut b = if use_random { random } else { serde_json::to_vec(&valid()).unwrap() };
        let n = b.len().max(1);
        for (i, v) in edits {
            if let Some(x) = b.get_mut(i % n) {
                *x = v;
            }
        }
        if truncate {
            b.truncate(cut % (b.len() + 1));
        }
        check(&b)?;
    }
}

proptest! {
    #![proptest_config(config(0x5eed_0302))]
    #[test]
    fn manifests_with_wrong_fields_parse_or_error(
        field in 0..20usize,
        value in any_json(),
        action in 0..3u8,
        in_file in any::<bool>(),
    ) {
        let mut v = serde_json::to_value(valid()).unwrap();
        let target = if in_file { &mut v["files"][0]["resource"] } else { &mut v };
        let obj = target.as_object_mut().unwrap();
        let keys: Vec<String> = obj.keys().cloned().collect();
        let key = keys[field % keys.len()].clone();
        match action {
            0 => {
                obj.insert(key, value);
            }
            1 => {
                obj.remove(&key);
            }
            _ => {
                obj.insert(format!("{key}-extra"), value);
            }
        }
        check(&serde_json::to_vec(&v).unwrap())?;
    }
}

#[test]
fn another_manifest_version_is_refused_naming_both() {
    let mut m = valid();
    m.version = MANIFEST_VERSION + 1;
    let e = Manifest::from_bytes(&serde_json::to_vec(&m).unwrap(), Path::new(PATH)).unwrap_err().to_string();
    assert!(e.contains(&format!("manifest version {}", MANIFEST_VERSION + 1)), "{e}");
    assert!(e.contains(&format!("reads {MANIFEST_VERSION}")), "{e}");
    assert!(Manifest::from_bytes(&serde_json::to_vec(&valid()).unwrap(), Path::new(PATH)).is_ok());
}
