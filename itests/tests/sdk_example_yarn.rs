//! A job built with the SDK (examples/wordcount) on YARN:
//! `rfy-example-wordcount run -m yarn-application` ships the executable
//! itself as the ApplicationMaster's and the TaskManagers' binary (uploaded
//! once, run as `rfy-am` and `rfy-worker`); its HDFS output equals Flink's
//! counts. Submitted twice: the first submission uploads the executable
//! into the bundle cache, the second finds it there ("cached"), uploads
//! nothing and reaches RUNNING sooner. Needs HADOOP_CONF_DIR (see
//! `rfy_itests::Cluster::get`).

use std::process::Command;

use rfy_itests::{repo_root, Cluster};

#[tokio::test(flavor = "multi_thread")]
async fn sdk_wordcount_on_yarn_ships_its_executable() {
    let Some(c) = Cluster::get("sdk_wordcount_on_yarn_ships_its_executable") else { return };
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("rfy-example-wordcount");
    assert!(exe.is_file(), "{} is missing: cargo build -p rfy-example-wordcount", exe.display());
    let dir = c.test_dir("sdk-yarn").await;
    c.put_kjv(&dir).await;
    let input = format!("hdfs://{dir}/kjv.txt");
    // A staging root of its own: the first submission finds an empty bundle cache.
    let staging = format!("{dir}/staging");
    let submit = |out: &str| {
        let started = std::time::Instant::now();
        let o = Command::new(&exe)
            .args(["run", "-m", "yarn-application", "-p", "2"])
            .args(["-D", "jobmanager.memory.process.size=512m", "-D", "taskmanager.memory.process.size=512m"])
            .args(["-D", "taskmanager.numberOfTaskSlots=1", "-D", "yarn.application.name=sdk-example-wordcount"])
            .args(["-D", &format!("yarn.staging-directory={staging}")])
            .arg(&exe)
            .args(["--input", &input, "--output", &format!("hdfs://{dir}/{out}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}");
        // "Submitted application <id> to YARN at <rm> (<s> s)" and "Application <id> is RUNNING (<s> s)",
        // seconds since the submission started, as the client prints them.
        let secs = |prefix: &str, marker: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix).filter(|l| l.contains(marker)))
                .and_then(|l| l.rsplit_once(" (")?.1.split(' ').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no '{prefix}...{marker}' line: {text}"))
        };
        let (submitted, running) =
            (secs("Submitted application ", " to YARN at "), secs("Application ", " is RUNNING ("));
        eprintln!(
            "{out}: submitted after {submitted:.1} s, application RUNNING after {running:.1} s, rfy returned after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (text, submitted, running)
    };
    let (first, first_submitted, first_running) = submit("out");
    let (second, second_submitted, second_running) = submit("out2");

    // The executable went into the cache once: uploaded by the first submission, reused by the second.
    let sha = rfy_client::cache::sha256_file(&exe).unwrap();
    let len = std::fs::metadata(&exe).unwrap().len();
    let cached = format!("{staging}/.rfy/cache/{sha}");
    assert!(first.contains(&format!("rfy-am: uploaded {}", rfy_client::cache::megabytes(len))), "{first}");
    assert!(second.contains(&format!("rfy-am: cached ({})", c.fs.qualify(&cached))), "{second}");
    assert!(!second.contains("uploaded"), "the second submission uploaded something: {second}");
    assert_eq!(c.fs.stat(&cached).await.unwrap().size, len);
    // Only the cache is left of both submissions: their staging directories are gone.
    let left: Vec<String> = c.fs.list(&format!("{staging}/.rfy")).await.unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // The upload is the difference: the second submission reaches YARN sooner. (Its time to RUNNING,
    // printed above, is shorter too as the NodeManagers keep the PRIVATE file, but YARN's
    // heartbeats make that one too noisy to assert on a loaded machine.)
    assert!(
        second_submitted < first_submitted,
        "the second submission (submitted after {second_submitted} s, RUNNING after {second_running} s) was not \
         faster than the first ({first_submitted} s, {first_running} s)"
    );

    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    for out in ["out", "out2"] {
        let got = c.read_output(&format!("{dir}/{out}")).await;
        assert!(
            got == expected,
            "SDK word count on YARN ({out}) differs from Flink's counts ({} vs {} lines)",
            got.len(),
            expected.len()
        );
    }
    c.fs.delete(&dir, true).await.unwrap();
}
