//! A job that holds a chosen amount of keyed state, for checkpoint
//! benchmarks: a generator source emits `--keys` records `(key, payload of
//! --value-bytes bytes)` spread over its subtasks, then idles (unbounded, so
//! checkpoints keep being taken); a keyed reduce keeps the latest payload per
//! key; the results are dropped. State ≈ keys × (value-bytes + 8) bytes.
//! The payload serializes as one byte block (as a Flink job would give a
//! `byte[]` field a bytes serializer), not byte by byte.

use clap::Parser;
use rfy_runtime::context::OperatorContext;
use rfy_runtime::sources::{Source, SourceReader, SourceStatus, SOURCE_BATCH};
use rfy_runtime::{JobError, JobProgram, StreamExecutionEnvironment, TaskError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The built-in `statebench` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "statebench",
    description: "hold N keys of B bytes of keyed state (checkpoint benchmark)",
    build,
};

/// Arguments of `rfy run statebench`.
#[derive(Debug, Parser)]
#[command(name = "statebench", about = "Hold N keys × B bytes of keyed state, then idle.")]
struct Args {
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Payload bytes per key.
    #[arg(long, default_value_t = 1024)]
    value_bytes: usize,
}

/// A payload of bytes, serialized as one block.
#[derive(Debug, Clone)]
pub struct Payload(pub Vec<u8>);

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

struct Generator {
    keys: u64,
    value_bytes: usize,
}

struct GeneratorReader {
    next: u64,
    step: u64,
    end: u64,
    value_bytes: usize,
}

impl SourceReader<(u64, Payload)> for GeneratorReader {
    fn poll_next(&mut self, out: &mut Vec<(u64, Payload)>) -> Result<SourceStatus, TaskError> {
        if self.next >= self.end {
            std::thread::sleep(std::time::Duration::from_millis(50));
            return Ok(SourceStatus::Idle);
        }
        for _ in 0..SOURCE_BATCH {
            if self.next >= self.end {
                break;
            }
            let byte = (self.next % 251) as u8;
            out.push((self.next, Payload(vec![byte; self.value_bytes])));
            self.next += self.step;
        }
        Ok(SourceStatus::Available)
    }

    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>, TaskError> {
        Ok(vec![self.next.to_le_bytes().to_vec()])
    }
}

impl Source<(u64, Payload)> for Generator {
    fn name(&self) -> String {
        "Source: Generator".into()
    }
    fn bounded(&self) -> bool {
        false
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<(u64, Payload)>>, TaskError> {
        let mut next = ctx.subtask_index as u64;
        if let Some(cp) = &ctx.checkpointing {
            // Same parallelism only: one position per subtask.
            if let Some(items) = cp.restored_operator(&ctx.uid, ctx.subtask_index, ctx.parallelism)? {
                if let Some(b) = items.first().and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok()) {
                    next = u64::from_le_bytes(b);
                }
            }
        }
        Ok(Box::new(GeneratorReader {
            next,
            step: ctx.parallelism as u64,
            end: self.keys,
            value_bytes: self.value_bytes,
        }))
    }
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("statebench", args)?;
    env.set_job_name(format!("StateBench {} keys x {} B", a.keys, a.value_bytes));
    env.add_source(Generator { keys: a.keys, value_bytes: a.value_bytes })
        .key_by(|r: &(u64, Payload)| r.0)
        .reduce(|_old, new| new)
        .name("Latest")
        .discard();
    Ok(())
}
