//! The parquet-lake example on the embedded local cluster at parallelism 2:
//! every payment is in the Parquet files of its hour's partition (read back
//! with the parquet crate's reader), and each partition has `_SUCCESS`.

use std::collections::BTreeMap;
use std::process::Command;

use parquet::file::reader::{FileReader, SerializedFileReader};

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

#[test]
fn payments_land_in_their_hour_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    // 5000 payments over 5 hours, in order, 3.6 s apart.
    let mut text = String::new();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..5000i64 {
        let ts = T0 + i * 3600;
        text.push_str(&format!("{ts},user{},{}.5\n", i % 13, i % 100));
        *want.entry(format!("dt=2024-01-01/hour={:02}", i * 3600 / 3_600_000)).or_default() += 1;
    }
    text.push_str("not a payment\n");
    std::fs::write(tmp.path().join("payments.csv"), &text).unwrap();
    let exe = env!("CARGO_BIN_EXE_rfy-example-parquet-lake");
    let out = Command::new(exe)
        .args(["run", "-p", "2", exe, "--input", "payments.csv", "--output", "lake"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let lake = tmp.path().join("lake/dt=2024-01-01");
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    for hour in std::fs::read_dir(&lake).unwrap().flatten() {
        let name = format!("dt=2024-01-01/{}", hour.file_name().to_string_lossy());
        assert!(hour.path().join("_SUCCESS").exists(), "{name} has no _SUCCESS");
        for f in std::fs::read_dir(hour.path()).unwrap().flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.starts_with('_') {
                continue;
            }
            assert!(fname.starts_with("part-") && fname.ends_with(".parquet"), "{fname}");
            let reader = SerializedFileReader::new(std::fs::File::open(f.path()).unwrap()).unwrap();
            *got.entry(name.clone()).or_default() += reader.metadata().file_metadata().num_rows();
        }
    }
    assert_eq!(got, want);
}
