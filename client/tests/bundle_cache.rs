//! The content-addressed bundle cache (`rfy_client::cache`) on the real HDFS
//! named by `HADOOP_CONF_DIR`: upload once, reuse, concurrent uploads of the
//! same bytes, the eviction rule, and `rfy cache list|clean`. Each test works
//! in a staging root of its own (`yarn.staging-directory`). Without
//! `HADOOP_CONF_DIR` a test prints why and passes, unless `RFY_REQUIRE_HADOOP`
//! is set (`scripts/test`), where it fails.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rfy_client::cache::{BundleCache, Limits, Provenance};
use rfy_conf::{options, Configuration, Source};
use rfy_hadoop::config::{current_user, HadoopConfig};
use rfy_hadoop::hdfs::Hdfs;
use rfy_hadoop::yarn::LocalResourceVisibility;

const HOUR_MS: u64 = 3_600_000;

fn hdfs_or_skip(test: &str) -> Option<Hdfs> {
    if std::env::var_os("HADOOP_CONF_DIR").is_none() {
        assert!(
            std::env::var_os("RFY_REQUIRE_HADOOP").is_none(),
            "{test}: HADOOP_CONF_DIR is not set but RFY_REQUIRE_HADOOP is"
        );
        println!("{test}: skipped: HADOOP_CONF_DIR is not set");
        return None;
    }
    let conf = HadoopConfig::from_env().expect("HADOOP_CONF_DIR readable");
    Some(Hdfs::from_config(&conf, None).expect("HDFS client"))
}

/// A configuration whose staging root (and so cache) is unique to this test.
fn conf_for(tag: &str) -> (Configuration, String) {
    let root = format!("/user/{}/.rfy-cache-test/{tag}-{}", current_user(), uuid_like());
    let mut c = Configuration::new();
    c.set(options::YARN_STAGING_DIRECTORY.key, &root, Source::Dynamic).unwrap();
    (c, root)
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn file(dir: &Path, name: &str, len: usize, seed: u8) -> std::path::PathBuf {
    let p = dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    std::fs::write(&p, data).unwrap();
    p
}

#[tokio::test]
async fn uploads_once_and_reuses_the_entry() {
    let Some(fs) = hdfs_or_skip("uploads_once_and_reuses_the_entry") else { return };
    let (conf, root) = conf_for("reuse");
    let cache = BundleCache::new(fs.clone(), &conf, &current_user());
    let tmp = tempfile::tempdir().unwrap();
    let exe = file(tmp.path(), "exe", 3 << 20, 1);
    let sha = rfy_client::cache::sha256_file(&exe).unwrap();

    let first = cache.put(&exe).await.unwrap();
    assert_eq!(first.provenance, Provenance::Uploaded(3 << 20));
    assert_eq!(first.sha256, sha);
    assert_eq!(first.resource.resource, fs.qualify(&format!("{root}/.rfy/cache/{sha}")));
    assert_eq!(first.resource.visibility, LocalResourceVisibility::Private);
    assert_eq!(first.resource.size, 3 << 20);
    assert_eq!(fs.read(&format!("{root}/.rfy/cache/{sha}")).await.unwrap(), std::fs::read(&exe).unwrap());

    // Make the entry look unused for 2 h, then use it again: nothing is uploaded,
    // the modification time (YARN's timestamp) stays, the last use moves to now.
    fs.set_access_time(&format!("{root}/.rfy/cache/{sha}"), now_ms() - 2 * HOUR_MS).await.unwrap();
    let before = cache.list().await.unwrap();
    assert_eq!(before.len(), 1);
    assert!(before[0].last_used < now_ms() - HOUR_MS, "{before:?}");
    let t = now_ms();
    let second = cache.put(&exe).await.unwrap();
    assert_eq!(second.provenance, Provenance::Cached);
    assert_eq!(second.resource, first.resource, "same file, same size and timestamp");
    let after = cache.list().await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].last_used + 5_000 >= t, "last use not updated: {after:?}");
    assert_eq!(after[0].uploaded, first.resource.timestamp as u64);

    // Different bytes: a second entry.
    let other = file(tmp.path(), "other", 1000, 2);
    assert_eq!(cache.put(&other).await.unwrap().provenance, Provenance::Uploaded(1000));
    assert_eq!(cache.list().await.unwrap().len(), 2);
    fs.delete(&root, true).await.unwrap();
}

#[tokio::test]
async fn concurrent_submissions_of_the_same_bytes_share_one_entry() {
    let Some(fs) = hdfs_or_skip("concurrent_submissions_of_the_same_bytes_share_one_entry") else { return };
    let (conf, root) = conf_for("race");
    let tmp = tempfile::tempdir().unwrap();
    let exe = file(tmp.path(), "exe", 2 << 20, 3);
    let puts = (0..4).map(|_| {
        let cache = BundleCache::new(fs.clone(), &conf, &current_user());
        let exe = exe.clone();
        tokio::spawn(async move { cache.put(&exe).await })
    });
    let results: Vec<_> = futures::future::join_all(puts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    // Every submission names the same file with the same (final) timestamp.
    let entries = BundleCache::new(fs.clone(), &conf, &current_user()).list().await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    for r in &results {
        assert_eq!(r.resource.timestamp as u64, entries[0].uploaded, "{results:?}");
        assert_eq!(r.resource.size, 2 << 20);
    }
    // No temporary file is left behind, and the bytes are whole.
    let names: Vec<String> =
        fs.list(&format!("{root}/.rfy/cache")).await.unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(fs.read(&names[0]).await.unwrap(), std::fs::read(&exe).unwrap());
    fs.delete(&root, true).await.unwrap();
}

#[tokio::test]
async fn eviction_by_age_then_by_size_least_recently_used_first() {
    let Some(fs) = hdfs_or_skip("eviction_by_age_then_by_size_least_recently_used_first") else { return };
    let (conf, root) = conf_for("evict");
    let cache = BundleCache::new(fs.clone(), &conf, &current_user());
    let tmp = tempfile::tempdir().unwrap();
    let now = now_ms();
    // Four 1000-byte entries last used 9 d, 5 h, 3 h and 10 min ago.
    let mut shas = Vec::new();
    for (i, idle) in [9 * 24 * HOUR_MS, 5 * HOUR_MS, 3 * HOUR_MS, HOUR_MS / 6].into_iter().enumerate() {
        let f = cache.put(&file(tmp.path(), &format!("f{i}"), 1000, i as u8)).await.unwrap();
        fs.set_access_time(&format!("{root}/.rfy/cache/{}", f.sha256), now - idle).await.unwrap();
        shas.push(f.sha256);
    }
    // Two temporary files (uploads that died or are in progress), written now.
    let dead = format!("{root}/.rfy/cache/.{}.dead.tmp", shas[0]);
    let live = format!("{root}/.rfy/cache/.{}.live.tmp", shas[1]);
    fs.write(&dead, b"x", 0o644, false).await.unwrap();
    fs.write(&live, b"x", 0o644, false).await.unwrap();

    // Age 7 d and at most 1500 bytes: the 9-day-old entry goes by age, then the
    // 5 h and 3 h ones by size, least recently used first, until 1000 <= 1500.
    let limits = Limits { max_size: 1500, max_age: Duration::from_secs(7 * 86400) };
    let gone = cache.evict(Some(limits), now).await.unwrap();
    let gone: Vec<&str> = gone.iter().map(|e| e.sha256.as_str()).collect();
    assert_eq!(gone, vec![shas[0].as_str(), shas[1].as_str(), shas[2].as_str()]);
    let left: Vec<String> = cache.list().await.unwrap().into_iter().map(|e| e.sha256).collect();
    assert_eq!(left, vec![shas[3].clone()]);
    // Fresh temporary files stay; 1 h after their last write they go.
    assert!(fs.exists(&live).await.unwrap() && fs.exists(&dead).await.unwrap());
    let later = cache.evict(Some(limits), now + 2 * HOUR_MS).await.unwrap();
    assert!(later.is_empty(), "{later:?}");
    assert!(!fs.exists(&dead).await.unwrap() && !fs.exists(&live).await.unwrap());

    // Protection: with max-size 0 the entry used 10 min ago still stays.
    let none = cache.evict(Some(Limits { max_size: 0, max_age: limits.max_age }), now).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
    fs.delete(&root, true).await.unwrap();
}

#[tokio::test]
async fn cache_list_and_clean_commands() {
    let Some(fs) = hdfs_or_skip("cache_list_and_clean_commands") else { return };
    let (conf, root) = conf_for("cli");
    let cache = BundleCache::new(fs.clone(), &conf, &current_user());
    let tmp = tempfile::tempdir().unwrap();
    let a = cache.put(&file(tmp.path(), "a", 2_000_000, 7)).await.unwrap();
    let rfy = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rfy"))
            .args(args)
            .args(["-D", &format!("yarn.staging-directory={root}")])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "rfy {args:?}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let list = rfy(&["cache", "list"]);
    assert!(list.contains(&a.sha256) && list.contains("2.0 MB"), "{list}");
    assert!(list.contains(&format!("1 entries, 2.0 MB in {root}/.rfy/cache")), "{list}");
    // The rule keeps a fresh entry; --all removes it.
    let clean = rfy(&["cache", "clean"]);
    assert!(clean.contains("0 entries removed"), "{clean}");
    let clean = rfy(&["cache", "clean", "--all"]);
    assert!(clean.contains(&format!("removed {}", a.sha256)) && clean.contains("1 entries removed"), "{clean}");
    assert!(cache.list().await.unwrap().is_empty());
    fs.delete(&root, true).await.unwrap();
}
