//! rfy-conf: rfy's configuration.
//!
//! Typed options with Flink's key names ([`options`]), read from a Flink 2
//! style `config.yaml` ([`Configuration::load`]), overridden by `-D key=value`
//! ([`Configuration::apply_dynamic`]) and read back typed ([`Configuration::get`]).
//! Durations and memory sizes use Flink's syntaxes (`"10 s"`, `"1728m"`).
//!
//! ```
//! use rfy_conf::{options, Configuration, Source};
//! let mut conf = Configuration::from_yaml_str("parallelism.default: 2", Source::Programmatic)?;
//! conf.apply_dynamic("heartbeat.timeout=10 s")?;
//! assert_eq!(conf.get(&options::PARALLELISM_DEFAULT), 2);
//! assert_eq!(conf.get(&options::HEARTBEAT_TIMEOUT), std::time::Duration::from_secs(10));
//! # Ok::<(), rfy_conf::ConfError>(())
//! ```

#![warn(missing_docs)]

mod config;
mod error;
pub mod logfiles;
pub mod logging;
pub mod memory;
mod option;
pub mod options;
mod port_range;
mod suggest;
mod value;
mod yaml;

pub use config::{Configuration, CONFIG_FILE_NAME, CONF_DIR_ENV};
pub use error::{ConfError, Source};
pub use memory::{MemoryConfigError, TaskExecutorMemory};
pub use option::{ConfigOption, OptionInfo};
pub use port_range::{parse_port_range, PortRangeError};
pub use suggest::{closest_key, edit_distance};
pub use value::{format_duration, parse_duration, MemorySize, OptionValue, ValueError};
