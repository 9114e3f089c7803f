//! `dlclassifier devices` and `dlclassifier estimate`.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlclassifier")).args(args).output().unwrap()
}

#[test]
fn devices_lists_the_cpu_and_estimate_suggests_a_batch() {
    let out = run(&["devices", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["device"]["id"], "cpu");
    assert!(rows[0]["device"]["threads"].as_u64().unwrap() >= 1);
    assert!(rows[0]["in_use"]["peak"].as_u64().unwrap() >= rows[0]["in_use"]["current"].as_u64().unwrap());
    let out = run(&["devices"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("cpu "));

    let out = run(&["estimate", "--encoder", "resnet18", "--tile", "256", "--batch", "4", "--budget-gib", "2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = value["estimate"]["total"].as_u64().unwrap();
    let suggested = &value["suggested"];
    assert!(suggested["batch_size"].as_u64().unwrap() >= 1 && suggested["total"].as_u64().unwrap() <= 2 << 30, "{value}");
    assert!(total > 0);

    let out = run(&["estimate", "--encoder", "resnet18", "--tile", "256", "--budget", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("even batch 1 needs"));
}
