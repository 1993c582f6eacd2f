//! Configuration: YAML (flat and nested), -D overrides, errors, maps, loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rfy_conf::options::{self, *};
use rfy_conf::{ConfError, Configuration, MemorySize, OptionValue, Source};

fn file_source() -> Source {
    Source::File(PathBuf::from("/etc/rfy/config.yaml"))
}

fn yaml(text: &str) -> Configuration {
    Configuration::from_yaml_str(text, file_source()).unwrap_or_else(|e| panic!("{e}"))
}

fn yaml_err(text: &str) -> String {
    Configuration::from_yaml_str(text, file_source()).expect_err(text).to_string()
}

#[test]
fn defaults_when_empty() {
    let conf = Configuration::new();
    assert_eq!(conf.get(&PARALLELISM_DEFAULT), 1);
    assert_eq!(conf.get(&PIPELINE_MAX_PARALLELISM), 128);
    assert_eq!(conf.get(&EXECUTION_RUNTIME_MODE), "STREAMING");
    assert_eq!(conf.get(&JOBMANAGER_RPC_PORT), 6123);
    assert_eq!(conf.get(&REST_PORT), 8081);
    assert_eq!(conf.get(&HEARTBEAT_INTERVAL), Duration::from_secs(1));
    assert_eq!(conf.get(&HEARTBEAT_TIMEOUT), Duration::from_secs(5));
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_SEGMENT_SIZE), MemorySize(32 * 1024));
    assert_eq!(conf.get(&EXECUTION_BUFFER_TIMEOUT_INTERVAL), Duration::from_millis(100));
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_PROCESS_SIZE).mebibytes(), 1024);
    assert_eq!(conf.get(&EXECUTION_CHECKPOINTING_TIMEOUT), Duration::from_secs(600));
    assert_eq!(conf.get(&EXECUTION_CHECKPOINTING_MIN_PAUSE), Duration::ZERO);
    assert_eq!(conf.get(&RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER), 1.5);
    assert_eq!(conf.get(&RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS_BEFORE_RESET_BACKOFF), i32::MAX as u32);
    assert_eq!(conf.get_optional(&EXECUTION_CHECKPOINTING_INTERVAL), None);
    assert_eq!(conf.get_optional(&TASKMANAGER_HOST), None);
    assert_eq!(conf.get_optional(&RESTART_STRATEGY_TYPE), None);
    assert_eq!(conf.get_optional(&REST_PORT), Some(8081));
    // `get` on an unset option without default does not panic.
    assert_eq!(conf.get(&EXECUTION_CHECKPOINTING_INTERVAL), Duration::ZERO);
    assert!(conf.is_empty());
    assert!(!conf.contains("parallelism.default"));
}

#[test]
fn every_registered_option_is_sound() {
    let mut keys = std::collections::HashSet::new();
    for o in options::all() {
        assert!(keys.insert(o.key), "{} registered twice", o.key);
        assert!(!o.description.is_empty(), "{}", o.key);
        if let Some(d) = o.default {
            assert_eq!(o.check(d).as_deref(), Ok(d), "default of {}", o.key);
        }
        for c in o.choices {
            assert_eq!(o.check(c).as_deref(), Ok(*c));
        }
    }
    // The type names in the table match the Rust types of the constants.
    let ty = |key: &str| options::find(key).unwrap().type_name;
    assert_eq!(ty(PARALLELISM_DEFAULT.key), u32::type_name());
    assert_eq!(ty(HEARTBEAT_TIMEOUT.key), Duration::type_name());
    assert_eq!(ty(TASKMANAGER_MEMORY_SEGMENT_SIZE.key), MemorySize::type_name());
    assert_eq!(ty(REST_ADDRESS.key), String::type_name());
    assert_eq!(ty(RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER.key), f64::type_name());
}

#[test]
fn flat_yaml() {
    let conf = yaml(
        "parallelism.default: 4\n\
         taskmanager.numberOfTaskSlots: 2\n\
         heartbeat.timeout: 10 s\n\
         taskmanager.memory.process.size: 1728m\n\
         rest.bind-address: 0.0.0.0\n\
         restart-strategy.exponential-delay.backoff-multiplier: 2\n\
         execution.checkpointing.interval: 30s\n",
    );
    assert_eq!(conf.get(&PARALLELISM_DEFAULT), 4);
    assert_eq!(conf.get(&TASKMANAGER_NUMBER_OF_TASK_SLOTS), 2);
    assert_eq!(conf.get(&HEARTBEAT_TIMEOUT), Duration::from_secs(10));
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_PROCESS_SIZE), MemorySize(1728 << 20));
    assert_eq!(conf.get(&REST_BIND_ADDRESS), "0.0.0.0");
    assert_eq!(conf.get(&RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER), 2.0);
    assert_eq!(conf.get_optional(&EXECUTION_CHECKPOINTING_INTERVAL), Some(Duration::from_secs(30)));
    assert_eq!(conf.source_of("parallelism.default"), Some(&file_source()));
    assert_eq!(conf.len(), 7);
}

#[test]
fn nested_and_mixed_yaml() {
    let conf = yaml(
        "taskmanager:\n\
        \x20 numberOfTaskSlots: 3\n\
        \x20 memory:\n\
        \x20   process.size: 2 gb\n\
        \x20   segment-size: 64kb\n\
        jobmanager: { rpc: { address: jm.example, port: 7000 } }\n\
        rest.port: 9000\n\
        execution:\n\
        \x20 runtime-mode: batch\n\
        \x20 checkpointing:\n\
        \x20   # interval: 10 s\n",
    );
    assert_eq!(conf.get(&TASKMANAGER_NUMBER_OF_TASK_SLOTS), 3);
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_PROCESS_SIZE), MemorySize(2 << 30));
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_SEGMENT_SIZE), MemorySize(64 << 10));
    assert_eq!(conf.get(&JOBMANAGER_RPC_ADDRESS), "jm.example");
    assert_eq!(conf.get(&JOBMANAGER_RPC_PORT), 7000);
    assert_eq!(conf.get(&REST_PORT), 9000);
    // Enum-like values are matched ignoring case and stored as listed.
    assert_eq!(conf.get(&EXECUTION_RUNTIME_MODE), "BATCH");
    assert!(!conf.contains("execution.checkpointing.interval"));
}

#[test]
fn empty_and_comment_only_yaml_is_fine() {
    assert!(yaml("").is_empty());
    assert!(yaml("   \n").is_empty());
    assert!(yaml("# nothing here\n# parallelism.default: 3\n").is_empty());
}

#[test]
fn enum_like_options() {
    let mut conf = Configuration::new();
    conf.set("restart-strategy.type", "fixeddelay", Source::Programmatic).unwrap();
    assert_eq!(conf.get(&RESTART_STRATEGY_TYPE), "fixed-delay");
    conf.set("restart-strategy.type", "off", Source::Programmatic).unwrap();
    assert_eq!(conf.get(&RESTART_STRATEGY_TYPE), "none");
    conf.set("execution.checkpointing.mode", "at_least_once", Source::Programmatic).unwrap();
    assert_eq!(conf.get(&EXECUTION_CHECKPOINTING_MODE), "AT_LEAST_ONCE");
    let err = conf.set("execution.runtime-mode", "FAST", Source::Dynamic).unwrap_err().to_string();
    assert_eq!(
        err,
        "bad value 'FAST' for 'execution.runtime-mode' (from -D): expected one of STREAMING, BATCH, AUTOMATIC"
    );
}

#[test]
fn dynamic_overrides_file_and_later_wins() {
    let mut conf = yaml("parallelism.default: 4\nrest.port: 9000\n");
    conf.apply_dynamic("parallelism.default=8").unwrap();
    conf.apply_dynamic(" heartbeat.interval = 2 s ").unwrap();
    conf.apply_dynamic("parallelism.default=16").unwrap();
    assert_eq!(conf.get(&PARALLELISM_DEFAULT), 16);
    assert_eq!(conf.get(&REST_PORT), 9000);
    assert_eq!(conf.get(&HEARTBEAT_INTERVAL), Duration::from_secs(2));
    assert_eq!(conf.source_of("parallelism.default"), Some(&Source::Dynamic));
    assert_eq!(conf.source_of("rest.port"), Some(&file_source()));
    // A value may contain '='.
    conf.apply_dynamic("yarn.application.name=a=b").unwrap();
    assert_eq!(conf.get_optional(&YARN_APPLICATION_NAME).as_deref(), Some("a=b"));
}

#[test]
fn bad_dynamic_arguments() {
    let mut conf = Configuration::new();
    for bad in ["parallelism.default", "=3", "  = 3", ""] {
        let err = conf.apply_dynamic(bad).unwrap_err();
        assert!(matches!(err, ConfError::BadDynamic { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("key=value"), "{err}");
    }
}

#[test]
fn unknown_key_in_dynamic() {
    let mut conf = Configuration::new();
    let err = conf.apply_dynamic("paralelism.default=2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown configuration key 'paralelism.default' (from -D); did you mean 'parallelism.default'?"
    );
    match err {
        ConfError::UnknownKey { key, origin, suggestion } => {
            assert_eq!(key, "paralelism.default");
            assert_eq!(origin, Source::Dynamic);
            assert_eq!(suggestion.as_deref(), Some("parallelism.default"));
        }
        other => panic!("{other:?}"),
    }
    let err = conf.apply_dynamic("no.such.thing=1").unwrap_err().to_string();
    assert_eq!(err, "unknown configuration key 'no.such.thing' (from -D)");
    assert!(conf.is_empty());
}

#[test]
fn unknown_key_in_file() {
    let err = yaml_err("taskmanager.numberOfTaskslots: 2\n");
    assert_eq!(
        err,
        "unknown configuration key 'taskmanager.numberOfTaskslots' in /etc/rfy/config.yaml; \
         did you mean 'taskmanager.numberOfTaskSlots'?"
    );
    // Nested: the flattened key is named.
    let err = yaml_err("rest:\n  prot: 8081\n");
    assert_eq!(err, "unknown configuration key 'rest.prot' in /etc/rfy/config.yaml; did you mean 'rest.port'?");
    // An empty section that is no prefix of any option.
    let err = yaml_err("restt:\n");
    assert!(err.starts_with("unknown configuration key 'restt' in /etc/rfy/config.yaml"), "{err}");
}

#[test]
fn bad_values_name_key_value_type_and_source() {
    let err = yaml_err("taskmanager.numberOfTaskSlots: x\n");
    assert_eq!(
        err,
        "bad value 'x' for 'taskmanager.numberOfTaskSlots' in /etc/rfy/config.yaml: \
         expected a whole number from 0 to 4294967295"
    );
    let mut conf = Configuration::new();
    let cases = [
        ("parallelism.default", "-1", "whole number"),
        ("heartbeat.timeout", "soon", "duration"),
        ("heartbeat.timeout", "10 parsecs", "unknown time unit 'parsecs'"),
        ("taskmanager.memory.process.size", "lots", "memory size"),
        ("taskmanager.memory.segment-size", "32 kilo", "unknown memory unit 'kilo'"),
        ("restart-strategy.exponential-delay.backoff-multiplier", "double", "decimal number"),
        ("restart-strategy.type", "sometimes", "expected one of none, fixed-delay"),
        ("taskmanager.numberOfTaskSlots", "0", "expected a whole number of at least 1"),
        ("parallelism.default", "0", "at least 1"),
        ("pipeline.max-parallelism", "0", "at least 1"),
    ];
    for (key, value, expected) in cases {
        let err = conf.apply_dynamic(&format!("{key}={value}")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("bad value '{value}' for '{key}' (from -D): ")), "{text}");
        assert!(text.contains(expected), "{text}");
        match err {
            ConfError::BadValue { key: k, value: v, origin, expected, .. } => {
                assert_eq!((k.as_str(), v.as_str(), origin), (key, value, Source::Dynamic));
                assert_eq!(expected, options::find(key).unwrap().type_name);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(conf.is_empty(), "failed sets leave nothing behind");
    // The bound lets the smallest sensible value through.
    conf.apply_dynamic("taskmanager.numberOfTaskSlots=1").unwrap();
    assert_eq!(conf.get(&options::TASKMANAGER_NUMBER_OF_TASK_SLOTS), 1);
}

#[test]
fn yaml_structure_errors() {
    let err = yaml_err("parallelism.default: [1, 2]\n");
    assert!(
        err.starts_with(
            "bad value '[1, 2]' for 'parallelism.default' in /etc/rfy/config.yaml: expected a single value"
        ),
        "{err}"
    );
    let err = yaml_err("parallelism.default: 1\nparallelism: { default: 2 }\n");
    assert_eq!(err, "configuration key 'parallelism.default' is set twice in /etc/rfy/config.yaml");
    let err = yaml_err("rest.port: 1\nrest.port: 2\n");
    assert!(err.starts_with("invalid YAML in /etc/rfy/config.yaml"), "{err}");
    let err = yaml_err("a: b: c\n");
    assert!(err.contains("line 1"), "{err}");
    let err = yaml_err("rest.port: 1\n  bad indentation: 2\n");
    assert!(err.contains("line 2"), "{err}");
    let err = yaml_err("- just\n- a list\n");
    assert!(err.contains("expected a map"), "{err}");
    let err = yaml_err("parallelism.default: !tag 3\n");
    assert!(err.contains("expected a single value"), "{err}");
}

#[test]
fn key_aliases_of_flink_2() {
    let conf = yaml("execution.checkpointing.dir: hdfs:///cp\nexecution.checkpointing.num-retained: 3\n");
    assert_eq!(conf.get_optional(&STATE_CHECKPOINTS_DIR).as_deref(), Some("hdfs:///cp"));
    assert_eq!(conf.get(&STATE_CHECKPOINTS_NUM_RETAINED), 3);
    assert!(conf.contains("state.checkpoints.dir"));
}

#[test]
fn set_value_from_code() {
    let mut conf = Configuration::new();
    conf.set_value(&HEARTBEAT_TIMEOUT, &Duration::from_millis(2500)).unwrap();
    conf.set_value(&TASKMANAGER_MEMORY_PROCESS_SIZE, &MemorySize::from_mebibytes(1728)).unwrap();
    conf.set_value(&PARALLELISM_DEFAULT, &7).unwrap();
    assert_eq!(conf.get(&HEARTBEAT_TIMEOUT), Duration::from_millis(2500));
    assert_eq!(conf.get(&TASKMANAGER_MEMORY_PROCESS_SIZE).mebibytes(), 1728);
    assert_eq!(conf.get(&PARALLELISM_DEFAULT), 7);
    assert_eq!(conf.source_of("parallelism.default"), Some(&Source::Programmatic));
    let err = conf.set_value(&EXECUTION_RUNTIME_MODE, &"FAST".to_string()).unwrap_err();
    assert!(err.to_string().contains("(set in code)"), "{err}");
}

#[test]
fn to_map_from_map_round_trip() {
    let mut conf = yaml("taskmanager: { numberOfTaskSlots: 4, memory.process.size: 2g }\n");
    conf.apply_dynamic("heartbeat.timeout=7s").unwrap();
    conf.apply_dynamic("execution.runtime-mode=batch").unwrap();
    let map = conf.to_map();
    let expected: BTreeMap<String, String> = [
        ("execution.runtime-mode", "BATCH"),
        ("heartbeat.timeout", "7s"),
        ("taskmanager.memory.process.size", "2g"),
        ("taskmanager.numberOfTaskSlots", "4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(map, expected);
    let rebuilt = Configuration::from_map(&map, Source::Programmatic).unwrap();
    assert_eq!(rebuilt.to_map(), map);
    assert_eq!(rebuilt.get(&TASKMANAGER_NUMBER_OF_TASK_SLOTS), 4);
    assert_eq!(rebuilt.get(&HEARTBEAT_TIMEOUT), Duration::from_secs(7));

    let mut bad = map.clone();
    bad.insert("heartbeat.timout".into(), "1 s".into());
    let err = Configuration::from_map(&bad, Source::Programmatic).unwrap_err().to_string();
    assert!(err.contains("'heartbeat.timout' (set in code); did you mean 'heartbeat.timeout'"), "{err}");
}

#[test]
fn merge_overrides() {
    let mut base = yaml("parallelism.default: 2\nrest.port: 9000\n");
    let mut top = Configuration::new();
    top.apply_dynamic("parallelism.default=5").unwrap();
    top.apply_dynamic("heartbeat.timeout=3 s").unwrap();
    base.merge(&top);
    assert_eq!(base.get(&PARALLELISM_DEFAULT), 5);
    assert_eq!(base.get(&REST_PORT), 9000);
    assert_eq!(base.get(&HEARTBEAT_TIMEOUT), Duration::from_secs(3));
    assert_eq!(base.source_of("parallelism.default"), Some(&Source::Dynamic));
    assert_eq!(base.len(), 3);
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rfy-conf-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_from_dir() {
    let dir = scratch_dir("load");
    std::fs::write(dir.join("config.yaml"), "parallelism.default: 3\n").unwrap();
    let conf = Configuration::load(Some(&dir)).unwrap();
    assert_eq!(conf.get(&PARALLELISM_DEFAULT), 3);
    assert_eq!(conf.source_of("parallelism.default"), Some(&Source::File(dir.join("config.yaml"))));

    std::fs::write(dir.join("config.yaml"), "parallelism.default: three\n").unwrap();
    let err = Configuration::load(Some(&dir)).unwrap_err().to_string();
    let file = dir.join("config.yaml");
    assert!(err.contains(&format!("in {}", file.display())), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_of_missing_file_names_the_path() {
    let dir = scratch_dir("missing");
    let err = Configuration::load(Some(&dir)).unwrap_err();
    let file = dir.join("config.yaml");
    assert!(matches!(&err, ConfError::Io { path, .. } if *path == file), "{err:?}");
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");

    let err = Configuration::load(Some(Path::new("/no/such/rfy/dir"))).unwrap_err();
    assert!(matches!(err, ConfError::NoConfDir { .. }), "{err:?}");
    assert_eq!(err.to_string(), "configuration directory /no/such/rfy/dir (--conf-dir) does not exist");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shipped_config_yaml_loads_and_lists_every_option() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let conf = Configuration::load(Some(dir)).unwrap();
    assert!(conf.is_empty(), "all options in the example are commented out: {:?}", conf.to_map());

    let text = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    for o in options::all() {
        let line = match o.default {
            Some(d) => format!("# {}: {d}\n", o.key),
            None => format!("# {}:\n", o.key),
        };
        assert!(text.contains(&line), "config.yaml lacks {line:?}");
    }
    // Uncommenting every line gives a valid configuration with the defaults.
    let uncommented: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| options::all().iter().any(|o| l.starts_with(&format!("{}:", o.key))))
        .filter(|l| !l.trim_end().ends_with(':'))
        .map(|l| format!("{l}\n"))
        .collect();
    let conf = Configuration::from_yaml_str(&uncommented, Source::Programmatic).unwrap();
    for o in options::all() {
        assert_eq!(conf.to_map().get(o.key).map(String::as_str), o.default, "{}", o.key);
    }
}
