//! Headless Chromium driven over the DevTools protocol (the `headless_chrome`
//! crate: synchronous, launches the installed Chromium, no download), for
//! tests that click through the web UI as a user does: `Element::click`
//! scrolls the element into view and dispatches real mouse events at its
//! centre (`Input.dispatchMouseEvent`), so the page's own handlers and its
//! hash router run.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};

/// One Chromium with one tab (a 1280×900 window, like the screenshots).
pub struct Page {
    // Kept alive: dropping it ends Chromium.
    _browser: Browser,
    tab: Arc<Tab>,
}

impl Page {
    /// Launches headless Chromium ([`crate::chromium`]) and opens `url`.
    /// Panics with Chromium's error if it cannot start or load the page.
    pub fn open(url: &str) -> Page {
        let args: Vec<&OsStr> = [
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        let options = LaunchOptions::default_builder()
            .path(Some(crate::chromium()))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1280, 900)))
            // A loaded machine: generous limits, the waits below are event-driven.
            .idle_browser_timeout(Duration::from_secs(600))
            .args(args)
            .build()
            .expect("Chromium launch options");
        let browser = Browser::new(options).expect("launch headless Chromium");
        let tab = browser.new_tab().expect("a Chromium tab");
        tab.set_default_timeout(Duration::from_secs(60));
        tab.navigate_to(url).and_then(|t| t.wait_until_navigated()).unwrap_or_else(|e| panic!("load {url}: {e}"));
        Page { _browser: browser, tab }
    }

    /// The page's current URL.
    pub fn url(&self) -> String {
        self.tab.get_url()
    }

    /// The DOM as HTML now.
    pub fn html(&self) -> String {
        self.tab.get_content().expect("the page's HTML")
    }

    /// Waits (up to `limit`) until the DOM contains every one of `texts`;
    /// returns it. Panics with the DOM after `limit`.
    pub fn wait_for(&self, texts: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let html = self.html();
            if texts.iter().all(|t| html.contains(t)) {
                return html;
            }
            assert!(Instant::now() < deadline, "{} did not show {texts:?} within {limit:?}:\n{html}", self.url());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Clicks the first element matching CSS `selector` (waiting for it to
    /// appear) with a real mouse click; returns its `href`, if any.
    pub fn click(&self, selector: &str) -> Option<String> {
        let el = self.tab.wait_for_element(selector).unwrap_or_else(|e| {
            panic!("no {selector} on {} ({e}):\n{}", self.url(), self.html());
        });
        let href = el.get_attribute_value("href").ok().flatten();
        el.click().unwrap_or_else(|e| panic!("click {selector} on {}: {e}", self.url()));
        href
    }

    /// Saves a PNG of the viewport to `png`.
    pub fn screenshot(&self, png: &Path) {
        let bytes = self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .expect("Chromium screenshot");
        std::fs::write(png, bytes).unwrap_or_else(|e| panic!("write {}: {e}", png.display()));
    }
}

/// The DOM of each page of a click-through and the route each click opened.
pub struct ClickThrough {
    /// The overview (`#/`), as loaded.
    pub overview: String,
    /// The job page, after clicking the job's id on the overview.
    pub job: String,
    /// The first vertex's page, after clicking its name (`a.vertexlink`).
    pub vertex: String,
    /// Its route (`#/job/<jid>/vertex/<vid>`).
    pub vertex_route: String,
    /// The TaskManager page, after clicking a subtask's TaskManager (`a.tmlink`).
    pub taskmanager: String,
    /// Its route (`#/taskmanager/<id>`).
    pub taskmanager_route: String,
    /// The log viewer, after clicking the TaskManager's log link (`a.loglink`).
    pub log: String,
    /// Its route (`#/taskmanager/<id>/log`).
    pub log_route: String,
}

/// Opens the web UI at `base` (its overview, e.g. through YARN's proxy),
/// then clicks job `job` → its first vertex → the first subtask's
/// TaskManager → that TaskManager's log, waiting after each click until the
/// page shows its content (`log_text` on the log viewer). With `shots`,
/// saves `overview.png`, `job.png`, `vertex.png` and `taskmanager-log.png`
/// there. Panics naming the page that lacks a link or its content.
pub fn click_through(base: &str, job: &str, log_text: &str, shots: Option<&Path>) -> ClickThrough {
    let limit = Duration::from_secs(60);
    let page = Page::open(base);
    let shot = |name: &str| {
        if let Some(dir) = shots {
            std::fs::create_dir_all(dir).unwrap();
            page.screenshot(&dir.join(format!("{name}.png")));
        }
    };
    let overview = page.wait_for(&[job, "Slots free / total"], limit);
    shot("overview");
    let href = page.click(&format!("a[href=\"#/job/{job}\"]"));
    assert_eq!(href.as_deref(), Some(format!("#/job/{job}").as_str()));
    let job_page = page.wait_for(&["class=\"dag\"", "class=\"vertexlink\"", "Trigger savepoint"], limit);
    shot("job");
    let vertex_route = page.click("a.vertexlink").expect("a vertex link's href");
    let vertex = page.wait_for(&["Backpressure:", "Watermark", "class=\"tmlink\""], limit);
    assert!(page.url().ends_with(&vertex_route), "the click opened {} (link: {vertex_route})", page.url());
    shot("vertex");
    let taskmanager_route = page.click("a.tmlink").expect("a TaskManager link's href");
    // "Modified": the log files table came (its header shows with its rows).
    let taskmanager = page.wait_for(&["Log files", "Modified", "CPU cores", "class=\"loglink\""], limit);
    assert!(page.url().ends_with(&taskmanager_route), "the click opened {} (link: {taskmanager_route})", page.url());
    let log_route = page.click("a.loglink").expect("a log link's href");
    let log = page.wait_for(&["id=\"logview\"", log_text], limit);
    assert!(page.url().ends_with(&log_route), "the click opened {} (link: {log_route})", page.url());
    shot("taskmanager-log");
    ClickThrough { overview, job: job_page, vertex, vertex_route, taskmanager, taskmanager_route, log, log_route }
}
