//! Nexmark as a built-in job: `rfy run nexmark --query qN`, the queries
//! written with the public DataStream API only, over the built-in generator
//! ([`generator_source::NexmarkSource`]) or a JSON-lines event file it wrote
//! ([`write_events`], `rfy nexmark-gen`), so Flink SQL can read exactly the
//! same events.
//!
//! Each query prints or writes one tab-separated line per result row, with
//! the columns of the nexmark project's SQL for that query (see each query's
//! docs); timestamps print as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).

pub mod auctions;
pub mod file_source;
pub mod generator;
pub mod generator_source;
pub mod joins;
pub mod model;
pub mod stateless;
pub mod windows;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use rfy_runtime::record::Record;
use rfy_runtime::{DataStream, JobError, JobProgram, StreamExecutionEnvironment};

use generator::{GeneratorConfig, DEFAULT_BASE_TIME_MS};
use generator_source::NexmarkSource;
use model::{Bid, Event};

/// The built-in `nexmark` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "nexmark",
    description: "Nexmark benchmark queries over the built-in generator or an event file",
    build,
};

/// The queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Query {
    /// Pass-through of bids.
    Q0,
    /// Bid prices in euros.
    Q1,
    /// Bids on every 123rd auction.
    Q2,
    /// Local item suggestion (a join).
    Q3,
    /// Average price per category (closed auctions).
    Q4,
    /// Hot items (sliding window).
    Q5,
    /// Highest bid (tumbling window).
    Q7,
    /// New users (window join).
    Q8,
    /// Winning bids (closed auctions).
    Q9,
    /// User sessions (session window).
    Q11,
    /// Bids per bidder per 10 s processing-time window.
    Q12,
}

/// Arguments of `rfy run nexmark`.
#[derive(Debug, Parser)]
#[command(name = "nexmark", about = "Nexmark benchmark queries.")]
pub struct Args {
    /// The query.
    #[arg(long, value_enum)]
    pub query: Query,
    /// Read the events from this JSON-lines file (written by `rfy nexmark-gen`) instead of generating them.
    #[arg(long, conflicts_with_all = ["events", "rate"])]
    pub input: Option<PathBuf>,
    /// Events to generate in total; 0 means unbounded.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Events per second of event time (spacing of the timestamps).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub event_rate: u64,
    /// Limit the generator to this many events per second of wall time in total.
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rate: Option<f64>,
    /// Output directory for part files `part-<subtask>`; without it (and without --discard) rows are printed.
    #[arg(long, conflicts_with = "discard")]
    pub output: Option<PathBuf>,
    /// Drop the results (for benchmarks).
    #[arg(long)]
    pub discard: bool,
    /// With --input: the event file's out-of-orderness bound (Flink's
    /// `forBoundedOutOfOrderness`), e.g. `2002ms`: the watermark trails each split's largest timestamp by this;
    /// later events are late (dropped by windows, counted in `numLateRecordsDropped`).
    #[arg(long, value_parser = crate::args::duration, default_value = "0ms", requires = "input")]
    pub max_out_of_orderness: std::time::Duration,
}

impl Args {
    fn generator(&self) -> GeneratorConfig {
        GeneratorConfig {
            seed: self.seed,
            events: (self.events > 0).then_some(self.events),
            event_rate: self.event_rate,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            rate_limit: self.rate,
        }
    }
}

/// The events of the job: generated, or read from `--input` (see [`file_source`]).
pub fn events(env: &StreamExecutionEnvironment, a: &Args) -> DataStream<Event> {
    match &a.input {
        None => env.add_source(NexmarkSource::new(a.generator())),
        Some(path) => env.add_source(file_source::EventFileSource::new(path).watermarks(a.max_out_of_orderness, None)),
    }
}

/// The bids of the event stream.
pub fn bids(events: &DataStream<Event>) -> DataStream<Bid> {
    events
        .flat_map(|e: Event, out| {
            if let Event::Bid(b) = e {
                out.collect(b)
            }
        })
        .name("Bids")
}

/// Sends a query's rows where `--output`/`--discard` say, one line each.
pub(crate) fn sink<T: Record>(rows: &DataStream<T>, a: &Args, format: fn(&T, &mut Vec<u8>)) {
    match (&a.output, a.discard) {
        (Some(dir), _) => {
            rows.write_as_text(dir.clone(), format);
        }
        (None, true) => {
            rows.discard();
        }
        (None, false) => {
            rows.sink_to(rfy_runtime::sinks::PrintSink::new(format));
        }
    }
}

/// Appends `ms` as a SQL timestamp.
pub(crate) fn push_time(ms: i64, out: &mut Vec<u8>) {
    let mut s = String::with_capacity(23);
    model::format_sql_time(ms, &mut s);
    out.extend_from_slice(s.as_bytes());
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("nexmark", args)?;
    env.set_job_name(format!("Nexmark {:?}", a.query).to_lowercase().replace("nexmark", "Nexmark"));
    let events = events(env, &a);
    match a.query {
        Query::Q0 => stateless::q0(&events, &a),
        Query::Q1 => stateless::q1(&events, &a),
        Query::Q2 => stateless::q2(&events, &a),
        Query::Q3 => joins::q3(&events, &a),
        Query::Q4 => auctions::q4(&events, &a),
        Query::Q5 => windows::q5(&events, &a),
        Query::Q7 => windows::q7(&events, &a),
        Query::Q8 => joins::q8(&events, &a),
        Query::Q9 => auctions::q9(&events, &a),
        Query::Q11 => windows::q11(&events, &a),
        Query::Q12 => windows::q12(&events, &a),
    }
    Ok(())
}

/// Writes events `0..events` of `config` to `path` as JSON lines, in event
/// order (what `rfy nexmark-gen` does). Returns the number of bytes written.
///
/// Errors: the file cannot be created or written (the error names it).
pub fn write_events(config: &GeneratorConfig, events: u64, path: &Path) -> Result<u64, std::io::Error> {
    write_events_delayed(config, events, Duration::ZERO, path)
}

/// [`write_events`], out of order: each event arrives (is written) after a
/// delay drawn uniformly from `0..=max_delay` (ms steps, seeded by the
/// generator's seed), i.e. in the order of `timestamp + delay`, ties in
/// event order; timestamps are unchanged. An event thus follows events up
/// to `max_delay` newer than itself: a watermark bound of `max_delay`
/// keeps every event on time. `rfy nexmark-gen --max-delay`.
///
/// Errors: as `write_events`.
pub fn write_events_delayed(
    config: &GeneratorConfig,
    events: u64,
    max_delay: Duration,
    path: &Path,
) -> Result<u64, std::io::Error> {
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(named)?);
    let max_delay_ms = max_delay.as_millis().min(i64::MAX as u128 / 4) as i64;
    let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x6465_6c61_7973); // "delays"
                                                                            // Events waiting to arrive: (arrival ms, event number, JSON line). Every
                                                                            // later event arrives at or after its own timestamp, so those arriving
                                                                            // by the current event's timestamp can be written.
    let mut waiting: BinaryHeap<Reverse<(i64, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut bytes = 0u64;
    let mut write = |line: &[u8]| -> Result<(), std::io::Error> {
        bytes += line.len() as u64;
        out.write_all(line).map_err(named)
    };
    for n in 0..events {
        let event = config.event(n);
        let ts = event.timestamp();
        while waiting.peek().is_some_and(|Reverse((arrival, _, _))| *arrival <= ts) {
            let Some(Reverse((_, _, line))) = waiting.pop() else { break };
            write(&line)?;
        }
        let mut line = Vec::with_capacity(256);
        event.to_json(&mut line);
        line.push(b'\n');
        let delay = if max_delay_ms > 0 { rng.i64(0..=max_delay_ms) } else { 0 };
        waiting.push(Reverse((ts + delay, n, line)));
    }
    while let Some(Reverse((_, _, line))) = waiting.pop() {
        write(&line)?;
    }
    out.flush().map_err(named)?;
    Ok(bytes)
}
