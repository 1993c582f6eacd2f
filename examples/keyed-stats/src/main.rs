//! Per-key running statistics with keyed state: input lines `key,value`
//! (value an integer); for each record the job emits its key's statistics
//! so far as `key<TAB>count<TAB>sum<TAB>min<TAB>max<TAB>distinct`, where
//! `distinct` is the number of distinct values seen for the key. The count,
//! sum, min and max live in a `ValueState`, the distinct values in a
//! `MapState` (value → occurrences). The last line of each key holds its
//! final statistics.

use rfy::state::{KeyedStateStore, MapState, ValueState};
use rfy::{Collector, JobError, JobProgram, KeyedContext, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};

/// Count, sum, min, max of one key.
type Stats = (u64, i64, i64, i64);

/// The keyed function holding the state.
#[derive(Clone, Default)]
struct RunningStats {
    stats: Option<ValueState<Stats>>,
    values: Option<MapState<i64, u64>>,
}

impl KeyedProcessFunction for RunningStats {
    type Key = String;
    type In = String;
    type Out = String;

    fn open(&mut self, state: &mut KeyedStateStore<String>) {
        self.stats = Some(state.value_state("stats"));
        self.values = Some(state.map_state("values"));
    }

    fn process_element(
        &mut self,
        line: String,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        let (key, value) = parse(&line).map_err(TaskError::User)?;
        let (stats, values) = (self.stats.as_ref().expect("opened"), self.values.as_ref().expect("opened"));
        let (count, sum, min, max) = stats.value(ctx).unwrap_or((0, 0, i64::MAX, i64::MIN));
        let s = (count + 1, sum + value, min.min(value), max.max(value));
        stats.update(ctx, s);
        let seen = values.get(ctx, &value).copied().unwrap_or(0);
        values.put(ctx, value, seen + 1);
        let distinct = values.entries(ctx).count();
        out.collect(format!("{key}\t{}\t{}\t{}\t{}\t{distinct}", s.0, s.1, s.2, s.3));
        Ok(())
    }
}

/// The key of a `key,value` line (the whole line if it has no comma: the
/// keyed function then fails the job naming the line).
fn key_of(line: &str) -> String {
    line.split(',').next().unwrap_or_default().trim().to_string()
}

/// `key,value` → `(key, value)`; a line that is not one is a task failure naming it.
fn parse(line: &str) -> Result<(String, i64), String> {
    let (k, v) = line.split_once(',').ok_or_else(|| format!("not a key,value line: {line:?}"))?;
    let v = v.trim().parse().map_err(|_| format!("not an integer value: {line:?}"))?;
    Ok((k.trim().to_string(), v))
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let input = rfy::arg(args, "--input")?;
    let output = rfy::arg(args, "--output")?;
    env.set_job_name(format!("KeyedStats {input}"));
    let lines = rfy::read_text_file(env, &input).filter(|l: &String| !l.trim().is_empty());
    let stats = lines.key_by(|l: &String| key_of(l)).process(RunningStats::default()).name("RunningStats");
    rfy::write_text_file(&stats, &output, |line: &String, out: &mut Vec<u8>| out.extend_from_slice(line.as_bytes()));
    Ok(())
}

/// The job program.
const KEYED_STATS: JobProgram =
    JobProgram { name: "keyed-stats", description: "per-key running statistics (ValueState, MapState)", build };

fn main() {
    rfy::run(&[KEYED_STATS])
}
