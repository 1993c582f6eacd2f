//! Word count, as Flink's streaming WordCount example: split lines into
//! lowercase words and count each word.
//!
//! Tokenization is the example's `line.toLowerCase().split("\\W+")` with
//! empty tokens dropped: lowercase the line, split on every character that is
//! not ASCII alphanumeric or `_`.

use clap::{Parser, ValueEnum};
use rfy_runtime::{Collector, DataStream, JobError, JobProgram, RuntimeMode, StreamExecutionEnvironment, Word};
use std::path::PathBuf;

/// The built-in `wordcount` program.
pub const PROGRAM: JobProgram =
    JobProgram { name: "wordcount", description: "count words of a text file (Flink's WordCount example)", build };

/// What the job emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One `word<TAB>count` line per distinct word with its final count
    /// (BATCH runtime mode).
    Final,
    /// One `word<TAB>running count` line per input word (STREAMING), as
    /// Flink's streaming WordCount emits.
    Updates,
}

/// Arguments of `rfy run wordcount`.
#[derive(Debug, Parser)]
#[command(name = "wordcount", about = "Count words of a text file (Flink's WordCount example).")]
pub struct Args {
    /// Input text file: a local path or `hdfs:///path`.
    #[arg(long)]
    pub input: PathBuf,
    /// Output directory (local or `hdfs:///dir`) for part files `part-<subtask>`; without it (and
    /// without --discard) the counts are printed.
    #[arg(long, conflicts_with = "discard")]
    pub output: Option<PathBuf>,
    /// Drop the results (for benchmarks).
    #[arg(long)]
    pub discard: bool,
    /// Final counts, or a running count per input word.
    #[arg(long, value_enum, default_value = "final")]
    pub mode: Mode,
    /// Pace the source to this many lines per second in total.
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rate: Option<f64>,
}

/// `WORD_BYTE[b]`: byte `b` belongs to a word (ASCII alphanumeric or `_`).
static WORD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
};

/// Splits `line` into lowercase words, Flink's tokenizer (see module docs).
/// Takes the line by value to lowercase it in place: no allocation per word
/// (words up to 24 bytes are stored inline).
#[inline]
pub fn tokenize(mut line: String, out: &mut Collector<'_, (Word, u64)>) {
    if line.is_ascii() {
        line.make_ascii_lowercase();
        let bytes = line.as_bytes();
        let (mut i, n) = (0, bytes.len());
        while i < n {
            while i < n && !WORD_BYTE[bytes[i] as usize] {
                i += 1;
            }
            let start = i;
            while i < n && WORD_BYTE[bytes[i] as usize] {
                i += 1;
            }
            if i > start {
                out.collect((Word::from(&line[start..i]), 1));
            }
        }
    } else {
        // Unicode lowercasing can change lengths (and even yield ASCII letters),
        // so lowercase first, then split, exactly as Java does.
        let lower = line.to_lowercase();
        for w in lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
            out.collect((Word::from(w), 1));
        }
    }
}

/// Formats a `(word, count)` pair as `word<TAB>count`.
pub fn format_count(rec: &(Word, u64), out: &mut Vec<u8>) {
    out.extend_from_slice(rec.0.as_bytes());
    out.push(b'\t');
    out.extend_from_slice(rec.1.to_string().as_bytes());
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("wordcount", args)?;
    env.set_job_name(format!("WordCount {}", a.input.display()));
    env.set_runtime_mode(Some(match a.mode {
        Mode::Final => RuntimeMode::Batch,
        Mode::Updates => RuntimeMode::Streaming,
    }));
    let input = a.input.to_string_lossy();
    let lines: DataStream<String> = if rfy_connectors::is_hdfs(&input) {
        let mut source = rfy_connectors::HdfsTextFileSource::new(&input);
        if let Some(r) = a.rate {
            source = source.with_rate(r);
        }
        env.add_source(source)
    } else {
        let mut source = rfy_runtime::sources::TextFileSource::new(&a.input);
        if let Some(r) = a.rate {
            source = source.with_rate(r);
        }
        env.add_source(source)
    };
    let counts: DataStream<(Word, u64)> = lines
        .flat_map(tokenize)
        .name("Tokenizer")
        .key_by(|rec: &(Word, u64)| rec.0.clone())
        .reduce(|a, b| (a.0, a.1 + b.1))
        .name("Sum");
    match (a.output, a.discard) {
        (Some(dir), _) if rfy_connectors::is_hdfs(&dir.to_string_lossy()) => {
            counts.sink_to(rfy_connectors::HdfsTextFileSink::new(&dir.to_string_lossy(), format_count))
        }
        (Some(dir), _) => counts.write_as_text(dir, format_count),
        (None, true) => counts.discard(),
        (None, false) => counts.sink_to(rfy_runtime::sinks::PrintSink::new(format_count)),
    };
    Ok(())
}
