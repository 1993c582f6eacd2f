//! Enrichment by an HTTP lookup with async I/O (Flink's `AsyncDataStream`):
//! each line of `--input` is a key; the job asks `GET <url>/<key>` and emits
//! `key<TAB>response body`. With `--mode unordered` / `ordered` up to
//! `--capacity` requests per subtask are in flight at once (the HTTP client
//! runs on a tokio runtime the function creates in `open`; the operator only
//! awaits the spawned requests' join handles); `--mode blocking` does one
//! request at a time per subtask, as a plain per-record function would (the
//! baseline of `scripts/bench-async-io`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use rfy_runtime::api::{AsyncDataStream, AsyncError, AsyncFunction, AsyncRetryStrategy, KeyedContext};
use rfy_runtime::{
    Collector, DataStream, JobError, JobProgram, KeyedProcessFunction, OperatorContext, StreamExecutionEnvironment,
    TaskError,
};

/// The built-in `async-lookup` program.
pub const PROGRAM: JobProgram = JobProgram {
    name: "async-lookup",
    description: "enrich lines by an HTTP lookup per line with async I/O (Flink's AsyncDataStream)",
    build,
};

/// How lookups are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Async I/O, results as they complete (`AsyncDataStream.unorderedWait`).
    Unordered,
    /// Async I/O, results in input order (`AsyncDataStream.orderedWait`).
    Ordered,
    /// One blocking request at a time per subtask (the baseline).
    Blocking,
}

/// Arguments of `rfy run async-lookup`.
#[derive(Debug, Parser)]
#[command(name = "async-lookup", about = "Enrich lines by an HTTP lookup per line (async I/O).")]
pub struct Args {
    /// Input text file of keys, one per line: a local path or `hdfs:///path`.
    #[arg(long)]
    pub input: String,
    /// Output directory (local or `hdfs:///dir`) for `key<TAB>value` lines; without it (and without --discard) printed.
    #[arg(long, conflicts_with = "discard")]
    pub output: Option<String>,
    /// Drop the results (for benchmarks).
    #[arg(long)]
    pub discard: bool,
    /// The lookup service: `GET <url>/<key>` answers the value as its body.
    #[arg(long)]
    pub url: String,
    /// Unordered or ordered async I/O, or blocking calls.
    #[arg(long, value_enum, default_value = "unordered")]
    pub mode: Mode,
    /// Requests in flight per subtask at most (async modes).
    #[arg(long, default_value_t = 100)]
    pub capacity: usize,
    /// Time a lookup may take, all attempts together (`5s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = crate::args::duration)]
    pub timeout: Duration,
    /// Attempts per lookup (1: no retry), `--retry-delay` apart.
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,
    /// Delay between attempts.
    #[arg(long, default_value = "100ms", value_parser = crate::args::duration)]
    pub retry_delay: Duration,
    /// Pace the source to this many lines per second in total.
    #[arg(long, value_parser = crate::args::positive_rate)]
    pub rate: Option<f64>,
}

/// An HTTP client on its own tokio runtime, made per subtask in `open`.
struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Client {
    fn new(name: &str) -> Result<Client, TaskError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("async-lookup-http")
            .enable_all()
            .build()
            .map_err(|e| TaskError::io(format!("{name}: cannot start the HTTP client's runtime"), e))?;
        let http = rfy_hadoop::tls::http_client_builder()
            .build()
            .map_err(|e| TaskError::User(format!("{name}: cannot create the HTTP client: {e}")))?;
        Ok(Client { runtime, http })
    }

    /// `GET <base>/<key>`: the response body, or the error naming the URL.
    fn lookup(&self, base: &str, key: String) -> tokio::task::JoinHandle<Result<(String, String), AsyncError>> {
        let url = format!("{}/{key}", base.trim_end_matches('/'));
        let http = self.http.clone();
        self.runtime.spawn(async move {
            let answer = http.get(&url).send().await.and_then(|r| r.error_for_status());
            let body = match answer {
                Ok(r) => r.text().await,
                Err(e) => Err(e),
            };
            match body {
                Ok(b) => Ok((key, b.trim_end().to_string())),
                Err(e) => Err(format!("lookup {url}: {e}").into()),
            }
        })
    }
}

/// The lookup as an [`AsyncFunction`].
#[derive(Clone)]
pub struct HttpLookup {
    url: Arc<str>,
    client: Option<Arc<Client>>,
}

impl HttpLookup {
    /// A lookup against `url` (`GET <url>/<key>`), its client made in `open`.
    pub fn new(url: &str) -> Self {
        HttpLookup { url: url.into(), client: None }
    }
}

impl AsyncFunction<String, (String, String)> for HttpLookup {
    fn open(&mut self, ctx: &OperatorContext) -> Result<(), TaskError> {
        self.client = Some(Arc::new(Client::new(&ctx.task_name)?));
        Ok(())
    }

    fn invoke(&self, key: String) -> impl Future<Output = Result<Vec<(String, String)>, AsyncError>> + Send + 'static {
        let request = self.client.as_ref().map(|c| c.lookup(&self.url, key));
        async move {
            let Some(request) = request else { return Err("the lookup function was not opened".into()) };
            Ok(vec![request.await??])
        }
    }
}

/// The blocking baseline: one request at a time, the task waiting for each.
#[derive(Clone)]
struct BlockingLookup {
    url: Arc<str>,
    client: Option<Arc<Client>>,
}

impl KeyedProcessFunction for BlockingLookup {
    type Key = String;
    type In = String;
    type Out = (String, String);

    fn process_element(
        &mut self,
        key: String,
        _ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, (String, String)>,
    ) -> Result<(), TaskError> {
        if self.client.is_none() {
            self.client = Some(Arc::new(Client::new("Blocking Lookup")?));
        }
        let client = self.client.as_ref().expect("made above");
        let answer = client.runtime.block_on(client.lookup(&self.url, key));
        match answer {
            Ok(Ok(pair)) => {
                out.collect(pair);
                Ok(())
            }
            Ok(Err(e)) => Err(TaskError::User(e.to_string())),
            Err(e) => Err(TaskError::User(format!("lookup {}: {e}", self.url))),
        }
    }
}

/// Formats a `(key, value)` pair as `key<TAB>value`.
pub fn format_pair(rec: &(String, String), out: &mut Vec<u8>) {
    out.extend_from_slice(rec.0.as_bytes());
    out.push(b'\t');
    out.extend_from_slice(rec.1.as_bytes());
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let a: Args = crate::args::parse("async-lookup", args)?;
    if a.capacity == 0 {
        return Err(JobError::BadArguments("--capacity: must be at least 1".into()));
    }
    if a.attempts == 0 {
        return Err(JobError::BadArguments("--attempts: must be at least 1".into()));
    }
    env.set_job_name(format!("Async lookup {} ({:?})", a.input, a.mode));
    let keys: DataStream<String> = if rfy_connectors::is_hdfs(&a.input) {
        let mut source = rfy_connectors::HdfsTextFileSource::new(&a.input);
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
    let lookup = HttpLookup::new(&a.url);
    let retry = AsyncRetryStrategy::fixed_delay(a.attempts, a.retry_delay);
    let enriched: DataStream<(String, String)> = match a.mode {
        Mode::Unordered => AsyncDataStream::unordered_wait_with_retry(&keys, lookup, a.timeout, a.capacity, retry),
        Mode::Ordered => AsyncDataStream::ordered_wait_with_retry(&keys, lookup, a.timeout, a.capacity, retry),
        Mode::Blocking => keys
            .key_by(|k: &String| k.clone())
            .process(BlockingLookup { url: a.url.as_str().into(), client: None })
            .name("Blocking Lookup"),
    };
    match (a.output, a.discard) {
        (Some(dir), _) if rfy_connectors::is_hdfs(&dir) => {
            enriched.sink_to(rfy_connectors::HdfsTextFileSink::new(&dir, format_pair))
        }
        (Some(dir), _) => enriched.write_as_text(dir, format_pair),
        (None, true) => enriched.discard(),
        (None, false) => enriched.sink_to(rfy_runtime::sinks::PrintSink::new(format_pair)),
    };
    Ok(())
}
