//! rfy's built-in job programs, compiled into the client, the
//! ApplicationMaster and the TaskManager so they run with no compile step.

pub mod args;
pub mod async_lookup;
pub mod kafka_copy;
pub mod kafka_to_parquet;
pub mod kafka_wordcount;
pub mod nexmark;
pub mod rules;
pub mod statebench;
pub mod wordcount;

use rfy_runtime::JobProgram;

/// Every built-in program.
pub static BUILTIN: &[JobProgram] = &[
    wordcount::PROGRAM,
    statebench::PROGRAM,
    kafka_wordcount::PROGRAM,
    kafka_copy::PROGRAM,
    nexmark::PROGRAM,
    rules::PROGRAM,
    async_lookup::PROGRAM,
    kafka_to_parquet::PROGRAM,
];

/// The built-in program called `name`.
pub fn find(name: &str) -> Option<JobProgram> {
    BUILTIN.iter().find(|p| p.name == name).copied()
}
