//! Word count written against the rfy SDK only: the same arguments and
//! output as rfy's built-in `wordcount` (Flink's WordCount example):
//! lowercase each line, split it on every character that is not ASCII
//! alphanumeric or `_`, count each word; `word<TAB>count` lines.

use clap::{Parser, ValueEnum};
use rfy::connectors::{is_hdfs, HdfsTextFileSink, HdfsTextFileSource};
use rfy::sinks::PrintSink;
use rfy::sources::TextFileSource;
use rfy::{Collector, DataStream, JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment, Word};

/// What the job emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// One line per distinct word with its final count (BATCH).
    Final,
    /// One line per input word with its running count (STREAMING).
    Updates,
}

/// The job's arguments (as the built-in `wordcount`).
#[derive(Debug, Parser)]
#[command(name = "wordcount")]
struct Args {
    /// Input text file: a local path or `hdfs:///path`.
    #[arg(long)]
    input: String,
    /// Output directory (local or `hdfs:///dir`); without it (and without --discard) the counts are printed.
    #[arg(long, conflicts_with = "discard")]
    output: Option<String>,
    /// Drop the results (for benchmarks).
    #[arg(long)]
    discard: bool,
    /// Final counts, or a running count per input word.
    #[arg(long, value_enum, default_value = "final")]
    mode: Mode,
    /// Pace the source to this many lines per second in total.
    #[arg(long)]
    rate: Option<f64>,
}

/// Splits `line` into lowercase words (Flink's `\W+` tokenizer).
fn tokenize(mut line: String, out: &mut Collector<'_, (Word, u64)>) {
    if line.is_ascii() {
        line.make_ascii_lowercase();
        for w in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
            out.collect((Word::from(w), 1));
        }
    } else {
        let lower = line.to_lowercase();
        for w in lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
            out.collect((Word::from(w), 1));
        }
    }
}

/// `word<TAB>count`.
fn format_count(rec: &(Word, u64), out: &mut Vec<u8>) {
    out.extend_from_slice(rec.0.as_bytes());
    out.push(b'\t');
    out.extend_from_slice(rec.1.to_string().as_bytes());
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let argv = std::iter::once("wordcount".to_string()).chain(args.iter().cloned());
    let a = Args::try_parse_from(argv).map_err(|e| JobError::BadArguments(e.to_string().replace('\n', " ")))?;
    env.set_job_name(format!("WordCount {}", a.input));
    env.set_runtime_mode(Some(match a.mode {
        Mode::Final => RuntimeMode::Batch,
        Mode::Updates => RuntimeMode::Streaming,
    }));
    let lines: DataStream<String> = match (is_hdfs(&a.input), a.rate) {
        (true, Some(r)) => env.add_source(HdfsTextFileSource::new(&a.input).with_rate(r)),
        (true, None) => env.add_source(HdfsTextFileSource::new(&a.input)),
        (false, Some(r)) => env.add_source(TextFileSource::new(&a.input).with_rate(r)),
        (false, None) => env.add_source(TextFileSource::new(&a.input)),
    };
    let counts = lines
        .flat_map(tokenize)
        .name("Tokenizer")
        .key_by(|rec: &(Word, u64)| rec.0.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .name("Sum");
    match (a.output, a.discard) {
        (Some(dir), _) if is_hdfs(&dir) => counts.sink_to(HdfsTextFileSink::new(&dir, format_count)),
        (Some(dir), _) => counts.write_as_text(dir, format_count),
        (None, true) => counts.discard(),
        (None, false) => counts.sink_to(PrintSink::new(format_count)),
    };
    Ok(())
}

/// The job program.
const WORDCOUNT: JobProgram =
    JobProgram { name: "wordcount", description: "count words of a text file (Flink's WordCount example)", build };

fn main() {
    rfy::run(&[WORDCOUNT])
}
