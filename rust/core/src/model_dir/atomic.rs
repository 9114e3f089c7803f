//! Whole-directory writes that either fully happen or leave nothing behind.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Refuses an existing `target` unless `overwrite`; lets long jobs fail
/// before they start rather than when they write.
pub fn ensure_writable(target: &Path, overwrite: bool) -> Result<()> {
    if target.exists() && !overwrite {
        return Err(Error::data(target, "already exists; choose another output folder or allow overwriting"));
    }
    Ok(())
}

/// Fills a fresh temporary folder beside `target` with `fill`, then renames
/// it into place. An existing `target` is an error unless `overwrite`, in
/// which case it is replaced only after the new folder is complete.
pub fn write_atomically(target: &Path, overwrite: bool, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    ensure_writable(target, overwrite)?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = target.file_name().ok_or_else(|| Error::data(target, "not a folder name"))?.to_string_lossy();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    fill(staging.path())?;
    let staged = staging.keep();
    let result = replace(&staged, target);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staged);
    }
    result
}

/// A temporary file beside `target`, readable by others like a normally
/// created file (temporary files are private by default), to be renamed onto it.
pub fn staged_file(target: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = target.file_name().ok_or_else(|| Error::data(target, "not a file name"))?.to_string_lossy();
    let prefix = format!(".{name}.tmp-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))
}

/// An output file that appears only when complete: written as a
/// [`staged_file`], renamed onto `target` by [`StagedFile::commit`], and
/// deleted if dropped before that.
pub struct StagedFile {
    temp: Option<tempfile::TempPath>,
    target: PathBuf,
}

impl StagedFile {
    /// The staged file and the open file to write it through.
    pub fn create(target: &Path) -> Result<(StagedFile, std::fs::File)> {
        let (file, temp) = staged_file(target)?.into_parts();
        Ok((StagedFile { temp: Some(temp), target: target.to_path_buf() }, file))
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Whether it was committed already.
    pub fn is_committed(&self) -> bool {
        self.temp.is_none()
    }

    /// Renames the finished file into place, replacing any file there.
    pub fn commit(&mut self) -> Result<()> {
        let temp = self.temp.take().ok_or_else(|| Error::data(&self.target, "the file was already finished"))?;
        temp.persist(&self.target).map_err(|e| Error::io(&self.target, e.error))
    }
}

fn replace(staged: &Path, target: &Path) -> Result<()> {
    if !target.exists() {
        return std::fs::rename(staged, target).map_err(|e| Error::io(target, e));
    }
    // Move the old folder aside first so that the target is never half-written.
    let old = staged.with_extension("old");
    std::fs::rename(target, &old).map_err(|e| Error::io(target, e))?;
    if let Err(e) = std::fs::rename(staged, target) {
        let _ = std::fs::rename(&old, target);
        return Err(Error::io(target, e));
    }
    std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_leaves_nothing_and_success_replaces() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("model");
        let err = write_atomically(&target, false, |dir| {
            std::fs::write(dir.join("a"), "1").unwrap();
            Err(Error::config("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "no temp folder left behind");

        write_atomically(&target, false, |dir| std::fs::write(dir.join("a"), "1").map_err(|e| Error::io(dir, e))).unwrap();
        let again = write_atomically(&target, false, |_| Ok(())).unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        write_atomically(&target, true, |dir| std::fs::write(dir.join("b"), "2").map_err(|e| Error::io(dir, e))).unwrap();
        assert!(!target.join("a").exists() && target.join("b").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn staged_files_become_ordinary_readable_files() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("result.png");
        staged_file(&target).unwrap().persist(&target).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
    }
}
