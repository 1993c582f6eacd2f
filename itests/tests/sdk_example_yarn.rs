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

/// A job of a user executable beside a built-in job in one session (issue
/// 8): `rfy-example-wordcount run -m yarn-session` ships the executable to
/// the session's staging directory; its TaskManagers are started from it
/// (registered with its SHA-256), the built-in job's from rfy's own worker;
/// both run at once and both outputs equal Flink's counts. Stop leaves no
/// staging directory (the shipped executable included).
#[tokio::test(flavor = "multi_thread")]
async fn sdk_wordcount_beside_the_builtin_one_in_a_session() {
    use std::time::Duration;

    use rfy_client::follow::RestClient;
    use rfy_itests::yarn::{job_task_managers, session_job_id, KillOnPanic};
    use rfy_itests::{rfy, RfyRun};

    let Some(c) = Cluster::get("sdk_wordcount_beside_the_builtin_one_in_a_session") else { return };
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("rfy-example-wordcount");
    assert!(exe.is_file(), "{} is missing: cargo build -p rfy-example-wordcount", exe.display());
    let dir = c.test_dir("sdk-session").await;
    let input = c.put_kjv(&dir).await;
    let props = tempfile::tempdir().unwrap();
    let props_d = format!("yarn.properties-file.location={}", props.path().display());
    let start = ["yarn-session", "start", "-d", "--name", "sdk-session-itest", "-s", "1", "-jm", "512m", "-tm", "512m"];
    let (st, out, _) = rfy(&[&start[..], &["-D", &props_d]].concat(), &[], Duration::from_secs(180));
    assert!(st.success(), "yarn-session start failed:\n{out}");
    let app = out.lines().find_map(|l| l.strip_prefix("YARN application: ")).unwrap().trim().to_string();
    let _guard = KillOnPanic(app.clone());

    let job_args = |name: &str| {
        let out = format!("hdfs://{dir}/{name}");
        vec!["--input".to_string(), input.clone(), "--output".into(), out, "--rate".into(), "8000".into()]
    };
    let head = ["run", "-m", "yarn-session", "-D", &props_d, "-p", "1"];
    let builtin_args: Vec<String> =
        head.iter().map(|s| s.to_string()).chain(["wordcount".to_string()]).chain(job_args("builtin")).collect();
    let mut builtin = RfyRun::start(&builtin_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let user_args: Vec<String> =
        head.iter().map(|s| s.to_string()).chain([exe.display().to_string()]).chain(job_args("user")).collect();
    let mut user = RfyRun::start(&user_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    builtin.wait_for_job_running(Duration::from_secs(120));
    user.wait_for_job_running(Duration::from_secs(120));
    let out_user = user.output();
    assert!(
        out_user.contains("/.rfy/cache/"),
        "the executable shipped to the session through the bundle cache:\n{out_user}"
    );
    let rest = RestClient::new(format!("{}/proxy/{app}", c.rm.base_url())).unwrap();
    let (job_b, job_u) = (session_job_id(&builtin.output()).unwrap(), session_job_id(&out_user).unwrap());
    let (tms_b, tms_u) = (job_task_managers(&rest, &job_b).await, job_task_managers(&rest, &job_u).await);
    assert!(!tms_b.is_empty() && !tms_u.is_empty(), "{tms_b:?} {tms_u:?}");
    assert!(tms_b.iter().all(|t| !tms_u.contains(t)), "the user job runs on its own TaskManagers: {tms_b:?} {tms_u:?}");
    let mut expected: Vec<String> = std::fs::read_to_string(repo_root().join("data/kjv.flink-counts.tsv"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    for (run, name) in [(builtin, "builtin"), (user, "user")] {
        let (st, out, _) = run.finish(Duration::from_secs(300));
        assert!(st.success(), "{name} job failed:\n{out}");
        let got = c.read_output(&format!("{dir}/{name}")).await;
        assert!(
            got == expected,
            "{name} job's output differs from Flink's counts ({} vs {} lines)",
            got.len(),
            expected.len()
        );
    }

    let (st, out, _) = rfy(&["yarn-session", "stop", "-D", &props_d], &[], Duration::from_secs(120));
    assert!(st.success(), "yarn-session stop failed:\n{out}");
    c.wait_no_containers(&app, Duration::from_secs(60)).await;
    assert!(!c.fs.exists(&c.staging_dir(&app)).await.unwrap(), "staging directory (and shipped executable) left");
    c.fs.delete(&dir, true).await.unwrap();
}
