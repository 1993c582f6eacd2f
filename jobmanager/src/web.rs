//! The web UI's overview page. Server-rendered HTML with relative links only,
//! so it works at `/` and behind YARN's web proxy (`/proxy/<appId>/`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use crate::dispatcher::Dispatcher;
use crate::rest::{esc, html, sorted_jobs};

pub(crate) async fn index(State(c): State<Arc<Dispatcher>>) -> Html<String> {
    let jobs = sorted_jobs(&c);
    let mut rows = String::new();
    for j in &jobs {
        rows.push_str(&format!(
            "<tr><td><a href=\"jobs/{id}\">{id}</a></td><td>{name}</td><td class=\"state {state}\">{state}</td><td>{dur:.1} s</td><td>{tasks}</td></tr>\n",
            id = esc(&j.job_id),
            name = esc(&j.name),
            state = j.state.name(),
            dur = j.duration_ms() as f64 / 1000.0,
            tasks = j.tasks.len(),
        ));
    }
    let mut tms = String::new();
    for t in c.rm.task_managers() {
        tms.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} / {}</td><td>{} ms</td></tr>\n",
            esc(&t.resource_id),
            esc(&t.address),
            t.free_slots,
            t.slots,
            t.since_heartbeat_ms
        ));
    }
    html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>rfy JobManager</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}.FAILED{{color:#b00}}.FINISHED{{color:#070}}.RUNNING{{color:#05a}}</style>
</head><body>
<h1>rfy JobManager</h1>
<p>rfy {version}. JSON: <a href="overview">overview</a> · <a href="jobs/overview">jobs/overview</a> · <a href="taskmanagers">taskmanagers</a> · <a href="config">config</a></p>
<h2>Jobs</h2>
<table id="jobs"><tr><th>Job ID</th><th>Name</th><th>State</th><th>Duration</th><th>Tasks</th></tr>
{rows}</table>
<h2>TaskManagers</h2>
<table id="taskmanagers"><tr><th>ID</th><th>Address</th><th>Free / total slots</th><th>Last heartbeat</th></tr>
{tms}</table>
</body></html>
"#,
        version = crate::rest::VERSION,
    ))
}
