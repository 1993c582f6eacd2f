//! The bundle of a YARN submission: which binaries ship (rfy's own
//! `rfy-am`/`rfy-worker`, or a job executable as both), and their upload
//! into the content-addressed bundle cache beside the per-application
//! staging files (configuration, JobGraph, manifest).

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use rfy_am::bundle::{self, BundleFile, Manifest};
use rfy_conf::{options, Configuration};
use rfy_hadoop::config::HadoopConfig;
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::rest::LocalResourceInfo;
use rfy_hadoop::yarn::{LocalResourceType, LocalResourceVisibility};
use rfy_runtime::JobGraph;

use crate::cache::{self, BundleCache, Provenance};
use crate::progress::delayed_bar;

/// Set by a job executable (`rfy::run`): it ships itself as the AM's and
/// the TaskManagers' binary instead of the sibling `rfy-am` / `rfy-worker`.
static SHIP_CURRENT_EXECUTABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes `rfy run -m yarn-application` ship this executable as `rfy-am` and
/// `rfy-worker` (a job executable takes its role from that name).
pub fn ship_current_executable() {
    SHIP_CURRENT_EXECUTABLE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// True in a job executable (see [`ship_current_executable`]), false in rfy's own client.
pub fn ships_current_executable() -> bool {
    SHIP_CURRENT_EXECUTABLE.load(std::sync::atomic::Ordering::Relaxed)
}

/// The sibling binaries `rfy-am` and `rfy-worker` of this executable (or
/// the executable itself twice, see [`ship_current_executable`]).
fn sibling_binaries() -> Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    if SHIP_CURRENT_EXECUTABLE.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok((exe.clone(), exe));
    }
    let dir = exe.parent().ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?;
    let find = |name: &str| {
        let p = dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(anyhow!(
                "{name} not found next to {} (in {}): build it with the client (cargo build -p rfy-client -p rfy-am -p rfy-worker)",
                exe.display(),
                dir.display()
            ))
        }
    };
    Ok((find(bundle::AM_BINARY)?, find(bundle::WORKER_BINARY)?))
}

/// Puts the AM and worker binaries and the Hadoop XMLs into the bundle cache and
/// writes the configuration, JobGraph and manifest to `staging`; returns the
/// files with their HDFS stamps.
pub(crate) async fn upload_bundle(
    fs: &Hdfs,
    staging: &str,
    hconf: &HadoopConfig,
    conf: &Configuration,
    manifest: &mut Manifest,
    job_graph: Option<&JobGraph>,
) -> Result<Vec<BundleFile>> {
    let (am, worker) = sibling_binaries()?;
    let mut locals: Vec<(String, PathBuf)> =
        vec![(bundle::AM_BINARY.into(), am), (bundle::WORKER_BINARY.into(), worker)];
    if let Some(dir) = hconf.dir() {
        for x in bundle::HADOOP_XMLS {
            let p = dir.join(x);
            if p.is_file() {
                locals.push((x.to_string(), p));
            }
        }
    }
    // The same file under two names (a job executable as AM and worker) is put once.
    let same_binary = locals[0].1 == locals[1].1;
    if same_binary {
        locals.remove(1);
    }
    let cache = BundleCache::new(fs.clone(), conf, &manifest.user);
    // Progress per finished file (the HDFS upload reports no finer steps).
    let total: u64 = locals.iter().filter_map(|(_, p)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let bar = delayed_bar(
        Some(total),
        "{spinner} putting the bundle into the HDFS cache {bar:30} {bytes}/{total_bytes} ({elapsed}) {msg}",
        conf.get(&options::CLIENT_PROGRESS_BAR_DELAY),
    );
    let puts = locals.iter().map(|(name, local)| {
        let cache = &cache;
        let bar = bar.clone();
        async move {
            let f = cache.put(local).await.with_context(|| {
                format!("putting {} into the bundle cache {}", local.display(), fs.qualify(cache.dir()))
            })?;
            // suspend: a hidden bar's println prints nothing, and the line must not tear a drawn bar.
            bar.suspend(|| match f.provenance {
                Provenance::Cached => eprintln!("{name}: cached ({})", f.resource.resource),
                Provenance::Uploaded(n) => {
                    eprintln!("{name}: uploaded {} ({})", cache::megabytes(n), f.resource.resource)
                }
            });
            bar.inc(std::fs::metadata(local).map(|m| m.len()).unwrap_or(0));
            bar.set_message(format!("{name} done"));
            Ok::<_, anyhow::Error>(BundleFile { name: name.clone(), resource: f.resource })
        }
    });
    let put = futures::future::join_all(puts).await.into_iter().collect::<Result<Vec<_>>>();
    bar.finish_and_clear();
    let mut files: Vec<BundleFile> = put?;
    if same_binary {
        let worker = BundleFile { name: bundle::WORKER_BINARY.into(), resource: files[0].resource.clone() };
        files.insert(1, worker);
    }
    let write_small = |name: &'static str, data: Vec<u8>| async move {
        let path = format!("{staging}/{name}");
        let stamp =
            fs.write(&path, &data, 0o600, true).await.with_context(|| format!("writing {}", fs.qualify(&path)))?;
        Ok::<_, anyhow::Error>(BundleFile {
            name: name.to_string(),
            resource: LocalResourceInfo {
                resource: fs.qualify(&path),
                kind: LocalResourceType::File,
                visibility: LocalResourceVisibility::Application,
                size: stamp.size as i64,
                timestamp: stamp.modification_time as i64,
            },
        })
    };
    files.push(write_small(bundle::CONF_FILE, serde_json::to_vec_pretty(&conf.to_map())?).await?);
    if let Some(g) = job_graph {
        files.push(write_small(bundle::JOB_GRAPH_FILE, serde_json::to_vec(g)?).await?);
    }
    manifest.files = files.clone();
    files.push(write_small(bundle::MANIFEST_FILE, serde_json::to_vec_pretty(&manifest)?).await?);
    Ok(files)
}
