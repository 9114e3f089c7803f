//! SHA-256 of model files, and `checksums.sha256` (the `sha256sum` format),
//! which unpacking a bundle writes into each model folder so that the folder
//! can be checked later without the bundle.

use super::problem::Problem;
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

pub const CHECKSUMS_FILE: &str = "checksums.sha256";

/// Lower-case hex of a finished digest.
pub(super) fn hex(hasher: Sha256) -> String {
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file's bytes, in lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(hex(hasher));
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes `<dir>/checksums.sha256` for `(file name, sha256)` pairs.
pub(super) fn write_checksums<'a>(dir: &Path, files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let text: String = files.into_iter().map(|(name, sha)| format!("{sha}  {name}\n")).collect();
    let path = dir.join(CHECKSUMS_FILE);
    std::fs::write(&path, text).map_err(|e| Error::io(path, e))
}

/// What disagrees with `<dir>/checksums.sha256`; nothing when the file is absent.
pub(super) fn check_checksums(dir: &Path) -> Vec<Problem> {
    let path = dir.join(CHECKSUMS_FILE);
    if !path.is_file() {
        return Vec::new();
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![Problem::new(CHECKSUMS_FILE, format!("cannot be read: {e}"))],
    };
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Some((want, name)) = line.split_once("  ") else {
            problems.push(Problem::new(CHECKSUMS_FILE, format!("line {} is not `<sha256>  <file>`", number + 1)));
            continue;
        };
        // Names are single files of this folder; anything else could point outside it.
        if name.contains('/') || name.contains('\\') || name == ".." {
            problems.push(Problem::new(CHECKSUMS_FILE, format!("line {} names {name:?}, not a file of this folder", number + 1)));
            continue;
        }
        match sha256_file(&dir.join(name)) {
            Ok(got) if got == want => {}
            Ok(_) => problems.push(Problem::new(name, "SHA-256 differs from checksums.sha256; the file was changed")),
            Err(e) => problems.push(Problem::new(name, format!("listed in checksums.sha256 but unreadable: {e}"))),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_catch_changed_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "abc").unwrap();
        std::fs::write(dir.path().join("b"), "x").unwrap();
        assert!(check_checksums(dir.path()).is_empty(), "no file, nothing to check");
        let a = sha256_file(&dir.path().join("a")).unwrap();
        assert_eq!(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let b = sha256_file(&dir.path().join("b")).unwrap();
        write_checksums(dir.path(), [("a", a.as_str()), ("b", b.as_str())]).unwrap();
        assert!(check_checksums(dir.path()).is_empty());
        std::fs::write(dir.path().join("a"), "abd").unwrap();
        std::fs::remove_file(dir.path().join("b")).unwrap();
        let problems = check_checksums(dir.path());
        assert_eq!(problems.iter().map(|p| p.file.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(problems[0].reason.contains("changed"), "{problems:?}");
    }
}
