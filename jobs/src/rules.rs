//! Dynamic alert rules (Flink's broadcast state pattern): rules from one
//! text file are broadcast to every subtask and applied to the events of
//! another, keyed by event key.
//!
//! * Events: lines `time_ms,key,value` (time ascending), e.g. `1200,sensor-7,93`.
//! * Rules: lines `time_ms,rule,threshold` (time ascending), e.g.
//!   `1000,hot,90`; threshold `-` deletes the rule from that time on.
//! * Output: one line `time<TAB>key<TAB>rule<TAB>value` for each event and
//!   each rule in force at the event's time whose threshold the value
//!   exceeds (the newest version of the rule with time ≤ the event's time).
//!
//! The result does not depend on how the two inputs interleave: each
//! event waits in keyed state until the watermark (the minimum over both
//! inputs) passes its time, so every rule version up to it has arrived;
//! rule versions are kept in broadcast state by time. Checkpointed: the
//! broadcast state as operator state (one copy per subtask), the waiting
//! events and their timers as keyed state.

use std::path::PathBuf;

use clap::Parser;
use rfy_runtime::api::{
    BroadcastContext, KeyedBroadcastProcessFunction, KeyedReadOnlyContext, KeyedStateStore, ListState,
    MapStateDescriptor,
};
use rfy_runtime::time::WatermarkStrategy;
use rfy_runtime::{Collector, DataStream, JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment, TaskError};

/// The built-in `rules` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "rules",
    description: "apply dynamic alert rules from one file to the events of another (broadcast state)",
    build,
};

/// Arguments of `rfy run rules`.
#[derive(Debug, Parser)]
#[command(name = "rules", about = "Apply dynamic alert rules (broadcast state) to keyed events.")]
pub struct Args {
    /// Events: lines `time_ms,key,value`, time ascending (a local path or `hdfs:///path`).
    #[arg(long)]
    pub events: PathBuf,
    /// Rules: lines `time_ms,rule,threshold` (threshold `-` deletes), time ascending.
    #[arg(long)]
    pub rules: PathBuf,
    /// Output directory (local or `hdfs:///dir`) for alert part files; without it alerts are printed.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Pace the events source to this many lines per second.
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub events_rate: Option<f64>,
    /// Pace the rules source to this many lines per second.
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rules_rate: Option<f64>,
}

/// An event: `(time ms, key, value)`.
pub type Event = (i64, String, u64);
/// A rule version: `(time ms, rule, threshold; None deletes the rule)`.
pub type Rule = (i64, String, Option<u64>);
/// An alert: `(time ms, key, rule, value)`.
pub type Alert = (i64, String, String, u64);

/// A parsed line, or the line that does not parse with the reason (the
/// operator fails the task with it: no line is dropped silently).
type Parsed<T> = Result<T, String>;

/// Rule versions by rule name, time ascending (the broadcast state).
pub const RULES: MapStateDescriptor<String, Vec<(i64, Option<u64>)>> = MapStateDescriptor::new("rules");

/// Parses an events line `time_ms,key,value`.
///
/// Errors: the line and what it should look like.
pub fn parse_event(line: &str) -> Result<Event, String> {
    let mut f = line.splitn(3, ',');
    let (t, k, v) = (f.next(), f.next(), f.next());
    match (t.and_then(|t| t.trim().parse().ok()), k, v.and_then(|v| v.trim().parse().ok())) {
        (Some(t), Some(k), Some(v)) if !k.is_empty() => Ok((t, k.trim().to_string(), v)),
        _ => Err(format!("events: bad line '{line}': expected time_ms,key,value")),
    }
}

/// Parses a rules line `time_ms,rule,threshold` (threshold `-`: delete).
///
/// Errors: the line and what it should look like.
pub fn parse_rule(line: &str) -> Result<Rule, String> {
    let mut f = line.splitn(3, ',');
    let (t, r, v) = (f.next(), f.next(), f.next().map(str::trim));
    let threshold = match v {
        Some("-") => Some(None),
        Some(v) => v.parse().ok().map(Some),
        None => None,
    };
    match (t.and_then(|t| t.trim().parse().ok()), r, threshold) {
        (Some(t), Some(r), Some(th)) if !r.is_empty() => Ok((t, r.trim().to_string(), th)),
        _ => Err(format!("rules: bad line '{line}': expected time_ms,rule,threshold (or - to delete)")),
    }
}

/// The threshold of each rule in force at `time` over `versions` (time ascending).
fn in_force(versions: &[(i64, Option<u64>)], time: i64) -> Option<u64> {
    versions.iter().rev().find(|(t, _)| *t <= time).and_then(|(_, th)| *th)
}

/// Events of a key waiting for the watermark: `(time ms, value)`.
type Waiting = Vec<(i64, u64)>;

/// The rules operator (see the module docs).
#[derive(Clone, Default)]
pub struct ApplyRules {
    waiting: Option<ListState<(i64, u64)>>,
}

impl KeyedBroadcastProcessFunction for ApplyRules {
    type Key = String;
    type In1 = Parsed<Event>;
    type In2 = Parsed<Rule>;
    type Out = Alert;

    fn open(&mut self, state: &mut KeyedStateStore<String>) {
        self.waiting = Some(state.list_state("waiting"));
    }

    fn process_element(
        &mut self,
        event: Parsed<Event>,
        ctx: &mut KeyedReadOnlyContext<'_, String>,
        _out: &mut Collector<'_, Alert>,
    ) -> Result<(), TaskError> {
        let (t, _, v) = event.map_err(TaskError::User)?;
        let Some(waiting) = &self.waiting else { return Ok(()) };
        waiting.add(ctx.keyed(), (t, v));
        ctx.timer_service().register_event_time_timer(t);
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        rule: Parsed<Rule>,
        ctx: &mut BroadcastContext<'_>,
        _out: &mut Collector<'_, Alert>,
    ) -> Result<(), TaskError> {
        let (t, name, threshold) = rule.map_err(TaskError::User)?;
        let mut rules = ctx.broadcast_state(&RULES)?;
        let mut versions = rules.remove(&name).unwrap_or_default();
        let at = versions.partition_point(|(vt, _)| *vt <= t);
        versions.insert(at, (t, threshold));
        rules.put(name, versions);
        Ok(())
    }

    fn on_timer(
        &mut self,
        now: i64,
        ctx: &mut KeyedReadOnlyContext<'_, String>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), TaskError> {
        let Some(waiting) = &self.waiting else { return Ok(()) };
        let rules = ctx.broadcast_state(&RULES)?;
        let key = ctx.current_key().clone();
        let (due, later): (Waiting, Waiting) = waiting.get(ctx.keyed()).iter().copied().partition(|(t, _)| *t <= now);
        for (t, v) in due {
            for (name, versions) in rules.entries() {
                if in_force(versions, t).is_some_and(|th| v > th) {
                    out.set_absolute_timestamp(t);
                    out.collect((t, key.clone(), name.clone(), v));
                }
            }
        }
        if later.is_empty() {
            waiting.clear(ctx.keyed());
        } else {
            waiting.update(ctx.keyed(), later);
        }
        Ok(())
    }
}

/// Formats an alert as `time<TAB>key<TAB>rule<TAB>value`.
pub fn format_alert(a: &Alert, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{}\t{}\t{}\t{}", a.0, a.1, a.2, a.3).as_bytes());
}

fn lines(env: &StreamExecutionEnvironment, path: &std::path::Path, rate: Option<f64>) -> DataStream<String> {
    let p = path.to_string_lossy();
    let stream = if rfy_connectors::is_hdfs(&p) {
        let mut source = rfy_connectors::HdfsTextFileSource::new(&p);
        if let Some(r) = rate {
            source = source.with_rate(r);
        }
        env.add_source(source)
    } else {
        let mut source = rfy_runtime::sources::TextFileSource::new(path);
        if let Some(r) = rate {
            source = source.with_rate(r);
        }
        env.add_source(source)
    };
    // One reader per file keeps its lines in time order (monotonous watermarks).
    stream.set_parallelism(1)
}

/// The time of a parsed line; a bad line gets `i64::MIN` (it fails the task when it arrives).
fn time_of<T>(p: &Parsed<T>, time: impl Fn(&T) -> i64) -> i64 {
    p.as_ref().map(time).unwrap_or(i64::MIN)
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("rules", args)?;
    env.set_job_name(format!("Rules {} on {}", a.rules.display(), a.events.display()));
    env.set_runtime_mode(Some(RuntimeMode::Streaming));
    let events = lines(env, &a.events, a.events_rate)
        .map(|l: String| parse_event(&l))
        .name("Parse events")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &Parsed<Event>, _| time_of(e, |e| e.0)),
        );
    let rules = lines(env, &a.rules, a.rules_rate)
        .map(|l: String| parse_rule(&l))
        .name("Parse rules")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|r: &Parsed<Rule>, _| time_of(r, |r| r.0)),
        )
        .broadcast_with(&RULES);
    let alerts = events
        .key_by(|e: &Parsed<Event>| e.as_ref().map(|e| e.1.clone()).unwrap_or_default())
        .connect(&rules)
        .process(ApplyRules::default())
        .name("Apply rules")
        .uid("apply-rules");
    match a.output {
        Some(dir) if rfy_connectors::is_hdfs(&dir.to_string_lossy()) => {
            alerts.sink_to(rfy_connectors::HdfsTextFileSink::new(&dir.to_string_lossy(), format_alert))
        }
        Some(dir) => alerts.write_as_text(dir, format_alert),
        None => alerts.sink_to(rfy_runtime::sinks::PrintSink::new(format_alert)),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_bad_ones_name_the_line() {
        assert_eq!(parse_event("1200,sensor-7,93"), Ok((1200, "sensor-7".into(), 93)));
        assert_eq!(parse_rule("1000,hot,90"), Ok((1000, "hot".into(), Some(90))));
        assert_eq!(parse_rule("1000,hot,-"), Ok((1000, "hot".into(), None)));
        let e = parse_event("12,x").unwrap_err();
        assert!(e.contains("'12,x'") && e.contains("time_ms,key,value"), "{e}");
        assert!(parse_rule("a,hot,3").unwrap_err().contains("'a,hot,3'"));
    }

    #[test]
    fn the_newest_version_up_to_the_time_is_in_force() {
        let v = [(10, Some(5)), (20, None), (30, Some(7))];
        assert_eq!(in_force(&v, 9), None);
        assert_eq!(in_force(&v, 10), Some(5));
        assert_eq!(in_force(&v, 25), None, "deleted at 20");
        assert_eq!(in_force(&v, 30), Some(7));
    }
}
