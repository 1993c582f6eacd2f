//! Progress bars on stderr for the client's slow steps (uploads, waiting for YARN).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar (a spinner when `len` is `None`) drawn on stderr only once
/// it has existed for `delay` (`client.progress-bar.delay`, default 1 s), so
/// quick steps print nothing; it ticks by itself. Needs a tokio runtime.
pub(crate) fn delayed_bar(len: Option<u64>, template: &str, delay: Duration) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, indicatif::ProgressDrawTarget::hidden());
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let shown = bar.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            shown.enable_steady_tick(Duration::from_millis(120));
        }
    });
    bar
}
