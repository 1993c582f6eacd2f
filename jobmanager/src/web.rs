//! The web UI: a Flink-dashboard-like single-page app (`web/`, built into
//! `web/dist/app.js` by `web/build.sh` and committed), embedded here at
//! compile time and served at `/` and `/app.js`. It reads the REST API with
//! relative URLs only, so it works at `/` and behind YARN's web proxy
//! (`/proxy/<appId>/`), and needs no internet access.

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// The page.
const INDEX_HTML: &str = include_str!("../../web/index.html");
/// The bundled app (Preact, htm, dagre and rfy's pages).
const APP_JS: &str = include_str!("../../web/dist/app.js");

pub(crate) async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

pub(crate) async fn app_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS)
}
