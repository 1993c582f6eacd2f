//! Enriches user ids with their names from an HTTP service, with async I/O
//! (Flink's `AsyncDataStream.unorderedWait`): `--input` holds one user id
//! per line, `GET <--url>/<id>` answers the name; the job writes
//! `id<TAB>name` lines to `--output`, up to 100 lookups in flight per
//! subtask, each given 5 s and 3 attempts 100 ms apart.
//!
//! The HTTP client (reqwest) needs tokio: the function starts a small tokio
//! runtime in `open` and spawns each request onto it; the future rfy polls
//! awaits the request's join handle.
//!
//! ```text
//! cargo build --release -p rfy-example-async-lookup
//! rfy run ./target/release/rfy-example-async-lookup --input ids.txt --url http://127.0.0.1:8080/users --output out
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rfy::async_io::{AsyncDataStream, AsyncError, AsyncFunction, AsyncRetryStrategy, OperatorContext};
use rfy::{JobError, JobProgram, StreamExecutionEnvironment, TaskError};

/// Looks a user's name up by id; one per parallel instance after `open`.
#[derive(Clone)]
struct NameLookup {
    url: Arc<str>,
    client: Option<Arc<(tokio::runtime::Runtime, reqwest::Client)>>,
}

impl AsyncFunction<String, (String, String)> for NameLookup {
    fn open(&mut self, ctx: &OperatorContext) -> Result<(), TaskError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| TaskError::io(format!("{}: cannot start a tokio runtime", ctx.task_name), e))?;
        // rfy's reqwest carries no crypto provider of its own: build clients from
        // the SDK's builder, which installs ring for HTTPS (plain HTTP here).
        let http = rfy::http_client_builder()
            .build()
            .map_err(|e| TaskError::User(format!("{}: cannot create the HTTP client: {e}", ctx.task_name)))?;
        self.client = Some(Arc::new((runtime, http)));
        Ok(())
    }

    fn invoke(&self, id: String) -> impl Future<Output = Result<Vec<(String, String)>, AsyncError>> + Send + 'static {
        let url = format!("{}/{id}", self.url.trim_end_matches('/'));
        let request = self.client.as_ref().map(|c| {
            let http = c.1.clone();
            c.0.spawn(async move {
                let name = http.get(&url).send().await?.error_for_status()?.text().await?;
                Ok::<_, reqwest::Error>(name)
            })
        });
        async move {
            let name = request.ok_or("not opened")?.await??;
            Ok(vec![(id, name.trim_end().to_string())])
        }
    }
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let input = rfy::arg(args, "--input")?;
    let url = rfy::arg(args, "--url")?;
    let output = rfy::arg(args, "--output")?;
    let ids = rfy::read_text_file(env, &input);
    let lookup = NameLookup { url: url.as_str().into(), client: None };
    let retry = AsyncRetryStrategy::fixed_delay(3, Duration::from_millis(100));
    let named = AsyncDataStream::unordered_wait_with_retry(&ids, lookup, Duration::from_secs(5), 100, retry);
    rfy::write_text_file(&named, &output, |(id, name): &(String, String), out: &mut Vec<u8>| {
        out.extend_from_slice(format!("{id}\t{name}").as_bytes())
    });
    Ok(())
}

const ASYNC_LOOKUP: JobProgram =
    JobProgram { name: "async-lookup", description: "user ids enriched with names by an HTTP lookup", build };

fn main() {
    rfy::run(&[ASYNC_LOOKUP])
}
