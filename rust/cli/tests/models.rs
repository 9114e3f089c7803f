//! `dlclassifier models` on a model the binary trains.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlclassifier")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn list_verify_bundle_unbundle_and_refuse_a_tampered_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("classifiers");
    let model = root.join("nuclei");
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/nuclei-dsb2018");
    let trained = run(&["train", "--data", data.to_str().unwrap(), "--out", model.to_str().unwrap(), "--encoder", "resnet18",
        "--epochs", "1", "--samples-per-epoch", "4", "--tile-size", "64", "--batch-size", "2", "--threads", "2", "--device", "cpu", "--json"]);
    assert!(trained.status.success(), "{}", text(&trained.stderr));
    let (root_s, model_s) = (root.to_str().unwrap(), model.to_str().unwrap());

    let list = run(&["models", "list", root_s, "--json"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed[0]["encoder"], "resnet18");
    assert_eq!(listed[0]["classes"].as_array().unwrap().len(), 2);

    let verify = run(&["models", "verify", model_s]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    let zip = dir.path().join("nuclei.zip");
    let zip_s = zip.to_str().unwrap();
    let bundle = run(&["models", "bundle", "--out", zip_s, "--name", "nuclei", "--version", "2.1", model_s]);
    assert!(bundle.status.success(), "{}", text(&bundle.stderr));
    let verify = run(&["models", "verify", zip_s]);
    assert_eq!(text(&verify.stdout).trim(), "ok: nuclei 2.1 (nuclei)");
    let unbundle = run(&["models", "unbundle", zip_s]);
    assert!(unbundle.status.success(), "{}", text(&unbundle.stderr));
    let unpacked = dir.path().join("nuclei/nuclei");
    assert!(run(&["models", "verify", unpacked.to_str().unwrap()]).status.success());
    let again = run(&["models", "unbundle", zip_s]);
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    // A changed file in the unpacked copy, and a bundle over the size limit, are refused with the reason.
    std::fs::write(unpacked.join("model.pt"), b"changed").unwrap();
    let bad = run(&["models", "verify", unpacked.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(3), "an invalid model folder is a file error");
    let err = text(&bad.stderr);
    assert!(err.starts_with("error: ") && err.lines().count() == 1, "{err}");
    assert!(err.contains("model.pt: cannot be loaded") && err.contains("model.pt: SHA-256 differs"), "{err}");
    let big = run(&["models", "verify", zip_s, "--max-bytes", "1000"]);
    assert!(text(&big.stderr).contains("more than the limit of 1000 bytes"), "{}", text(&big.stderr));
}
