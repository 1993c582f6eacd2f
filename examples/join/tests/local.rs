//! The join example on the embedded local cluster at parallelism 2: every
//! order with a known customer comes out once with the customer's name,
//! orders of unknown customers do not, as a join computed here says.

use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn orders_are_joined_with_their_customers() {
    let tmp = tempfile::tempdir().unwrap();
    let customers: Vec<(String, String)> = (0..50).map(|c| (format!("c{c}"), format!("Name{c}"))).collect();
    // Orders for customers c0..c59: c50..c59 are unknown.
    let orders: Vec<(String, String, u32)> =
        (0..1500u32).map(|o| (format!("o{o}"), format!("c{}", (o * 13) % 60), o % 97)).collect();
    let c_text: String = customers.iter().map(|(id, n)| format!("{id},{n}\n")).collect();
    let o_text: String = orders.iter().map(|(o, c, a)| format!("{o},{c},{a}\n")).collect();
    std::fs::write(tmp.path().join("customers.csv"), c_text).unwrap();
    std::fs::write(tmp.path().join("orders.csv"), o_text).unwrap();
    let exe = env!("CARGO_BIN_EXE_rfy-example-join");
    let args = ["--customers", "customers.csv", "--orders", "orders.csv", "--output", "out"];
    let out = Command::new(exe).args(["run", "-p", "2", exe]).args(args).current_dir(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let names: BTreeMap<&str, &str> = customers.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let mut want: Vec<String> =
        orders.iter().filter_map(|(o, c, a)| names.get(c.as_str()).map(|n| format!("{n}\t{o}\t{a}"))).collect();
    want.sort();
    let mut got: Vec<String> = Vec::new();
    for e in std::fs::read_dir(tmp.path().join("out")).unwrap().flatten() {
        got.extend(std::fs::read_to_string(e.path()).unwrap().lines().map(str::to_string));
    }
    got.sort();
    assert_eq!(got.len(), 1250);
    assert_eq!(got, want);
}
