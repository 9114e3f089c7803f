//! Model bundles: one zip holding model folders (`<model>/<file>`) and a
//! `manifest.json` with each file's size and SHA-256. Reading refuses, with
//! the reason, anything that fails its checksum, is missing or unlisted,
//! could land outside the target folder, is a symbolic link, or is too large.

use super::checksum::{hex, sha256_file, write_checksums, CHECKSUMS_FILE};
use crate::cache_dir::cache_root;
use crate::model_dir::{read_json, staged_file, write_atomically, write_json, ModelMetadata};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zip::write::FileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

pub const MANIFEST_FILE: &str = "manifest.json";
/// Bumped when the manifest layout changes.
pub const BUNDLE_FORMAT: u32 = 1;
/// Default limit on a bundle's total uncompressed size: 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// The manifest is small; a larger one is refused before it is parsed.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// What the packer says about a bundle; only the name is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledFile {
    /// `<model>/<file>` inside the zip.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// One model of a bundle: its folder name and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledModel {
    pub name: String,
    pub metadata: ModelMetadata,
    pub files: Vec<BundledFile>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    #[serde(flatten)]
    pub info: BundleInfo,
    /// RFC 3339 creation time.
    pub created: String,
    pub models: Vec<BundledModel>,
}

impl Manifest {
    /// The model called `name`, or the only one when `name` is `None`.
    pub fn model(&self, name: Option<&str>) -> Result<&BundledModel> {
        let names = || self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ");
        match name {
            Some(name) => self
                .models
                .iter()
                .find(|m| m.name == name)
                .ok_or_else(|| Error::config(format!("the bundle has no model '{name}'; it has {}", names()))),
            None if self.models.len() == 1 => Ok(&self.models[0]),
            None => Err(Error::config(format!("the bundle holds several models; name one of {}", names()))),
        }
    }
}

/// Writes the model folders `models` into the zip `out` (atomically) and
/// returns its manifest. Folders must be flat and readable as models; their
/// names become the model names and must differ.
pub fn pack_bundle(models: &[PathBuf], out: &Path, info: &BundleInfo) -> Result<Manifest> {
    if models.is_empty() {
        return Err(Error::config("a bundle needs at least one model folder"));
    }
    let staged = staged_file(out)?;
    let mut zip = ZipWriter::new(staged.as_file());
    let options = FileOptions::default().compression_method(CompressionMethod::Deflated);
    let zip_error = |e: zip::result::ZipError| Error::data(out, format!("cannot write the zip: {e}"));
    let mut bundled = Vec::new();
    let mut seen = HashSet::new();
    for dir in models {
        let metadata = ModelMetadata::read(dir)?;
        let name = dir.canonicalize().map_err(|e| Error::io(dir, e))?.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.ok_or_else(|| Error::data(dir, "a model folder needs a name"))?;
        if !seen.insert(name.clone()) {
            return Err(Error::config(format!("two model folders are called '{name}'; bundled models need distinct names")));
        }
        let mut files = Vec::new();
        for file in model_files(dir)? {
            let path = format!("{name}/{}", file.file_name().expect("listed files have names").to_string_lossy());
            zip.start_file(path.as_str(), options).map_err(zip_error)?;
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            zip.write_all(&bytes).map_err(|e| Error::io(out, e))?;
            let mut hasher = Sha256::new();
            hasher.update(&bytes);
            files.push(BundledFile { path, size: bytes.len() as u64, sha256: hex(hasher) });
        }
        bundled.push(BundledModel { name, metadata, files });
    }
    let manifest =
        Manifest { format: BUNDLE_FORMAT, info: info.clone(), created: chrono::Local::now().to_rfc3339(), models: bundled };
    zip.start_file(MANIFEST_FILE, options).map_err(zip_error)?;
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::data(out, e.to_string()))?;
    zip.write_all(&text).map_err(|e| Error::io(out, e))?;
    zip.finish().map_err(zip_error)?;
    drop(zip);
    staged.persist(out).map_err(|e| Error::io(out, e.error))?;
    Ok(manifest)
}

/// The regular files of a model folder, sorted; `checksums.sha256` is left
/// out because unpacking writes it afresh from the manifest.
fn model_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if !kind.is_file() {
            return Err(Error::data(entry.path(), "only plain files can be bundled; model folders hold no folders or links"));
        }
        if entry.file_name() != CHECKSUMS_FILE {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the whole bundle, checking every entry against the manifest, and
/// returns the manifest; nothing is written.
pub fn verify_bundle(zip: &Path, max_bytes: u64) -> Result<Manifest> {
    read_bundle(zip, max_bytes, None)
}

/// Verifies and extracts the bundle into the new folder `dest` (atomically),
/// with the manifest beside the model folders and a `checksums.sha256` in each.
pub fn unpack_bundle(zip: &Path, dest: &Path, max_bytes: u64) -> Result<Manifest> {
    unpack(zip, dest, max_bytes, false)
}

fn unpack(zip: &Path, dest: &Path, max_bytes: u64, overwrite: bool) -> Result<Manifest> {
    let mut manifest = None;
    write_atomically(dest, overwrite, |staging| {
        let read = read_bundle(zip, max_bytes, Some(staging))?;
        for model in &read.models {
            let names = model.files.iter().map(|f| (f.path.rsplit('/').next().expect("split yields one"), f.sha256.as_str()));
            write_checksums(&staging.join(&model.name), names)?;
        }
        write_json(&staging.join(MANIFEST_FILE), &read)?;
        manifest = Some(read);
        Ok(())
    })?;
    Ok(manifest.expect("filled on success"))
}

/// The folder of model `name` (or of the only model) of the bundle `zip`,
/// unpacked once into `<cache>/models/<sha256 of the zip>/` and reused while
/// its files still match their checksums.
pub fn open_bundle(zip: &Path, name: Option<&str>) -> Result<PathBuf> {
    let root = cache_root().ok_or_else(|| Error::config("no cache folder: set DLC_CACHE or HOME"))?;
    let dest = root.join("models").join(sha256_file(zip)?);
    let manifest = match intact(&dest) {
        Some(manifest) => manifest,
        None => unpack(zip, &dest, DEFAULT_MAX_BYTES, true)?,
    };
    Ok(dest.join(&manifest.model(name)?.name))
}

/// The manifest of an unpacked bundle whose files all match their checksums.
fn intact(dest: &Path) -> Option<Manifest> {
    let manifest: Manifest = read_json(&dest.join(MANIFEST_FILE)).ok()?;
    let ok = manifest.models.iter().all(|m| {
        let dir = dest.join(&m.name);
        dir.join(CHECKSUMS_FILE).is_file() && super::checksum::check_checksums(&dir).is_empty()
    });
    ok.then_some(manifest)
}

/// The one reader behind verify and unpack: checks names, kinds and sizes of
/// all entries before reading any data, then hashes each entry (writing it
/// under `dest` when given) and compares it with the manifest.
fn read_bundle(path: &Path, max_bytes: u64, dest: Option<&Path>) -> Result<Manifest> {
    let refuse = |reason: String| Error::data(path, format!("bundle refused: {reason}"));
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = ZipArchive::new(file).map_err(|e| refuse(format!("not a readable zip file ({e})")))?;
    let manifest = read_manifest(&mut archive).map_err(refuse)?;
    let mut expected: HashMap<&str, &BundledFile> = HashMap::new();
    for model in &manifest.models {
        safe_name(&model.name).map_err(|r| refuse(format!("model name {:?} {r}", model.name)))?;
        for file in &model.files {
            let inside = file.path.strip_prefix(&format!("{}/", model.name)).unwrap_or("");
            if inside.is_empty() || inside.contains('/') || safe_name(inside).is_err() {
                return Err(refuse(format!("manifest entry {:?} is not a file of model '{}'", file.path, model.name)));
            }
            expected.insert(&file.path, file);
        }
    }

    let mut entries = Vec::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|e| refuse(format!("entry {index} is unreadable ({e})")))?;
        let name = entry.name().to_string();
        safe_path(&name).map_err(|r| refuse(format!("entry {name:?} {r}")))?;
        // The unix file type bits of a symbolic link; other systems store none.
        if entry.unix_mode().is_some_and(|mode| mode & 0o170000 == 0o120000) {
            return Err(refuse(format!("entry {name:?} is a symbolic link")));
        }
        if entry.is_dir() || name == MANIFEST_FILE {
            continue;
        }
        let listed = expected.remove(name.as_str()).ok_or_else(|| refuse(format!("entry {name:?} is not listed in the manifest")))?;
        if entry.size() != listed.size {
            return Err(refuse(format!("entry {name:?} declares {} bytes, the manifest {}", entry.size(), listed.size)));
        }
        total = total.saturating_add(listed.size);
        if total > max_bytes {
            return Err(refuse(format!("it unpacks to more than the limit of {max_bytes} bytes")));
        }
        entries.push((index, listed));
    }
    if let Some(missing) = expected.keys().min() {
        return Err(refuse(format!("{missing} is listed in the manifest but missing from the zip")));
    }

    for (index, listed) in entries {
        let mut entry = archive.by_index(index).map_err(|e| refuse(format!("entry {} is unreadable ({e})", listed.path)))?;
        let mut sink: Box<dyn Write> = match dest {
            Some(dest) => {
                let target = dest.join(&listed.path);
                let parent = target.parent().expect("entries lie in a model folder");
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                Box::new(File::create(&target).map_err(|e| Error::io(&target, e))?)
            }
            None => Box::new(std::io::sink()),
        };
        // One byte past the declared size is enough to catch an entry that inflates beyond it.
        let mut limited = (&mut entry).take(listed.size + 1);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut read = 0u64;
        loop {
            let n = limited.read(&mut buf).map_err(|e| refuse(format!("{} is damaged ({e})", listed.path)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            sink.write_all(&buf[..n]).map_err(|e| Error::io(dest.unwrap_or(path), e))?;
            read += n as u64;
        }
        if read != listed.size {
            return Err(refuse(format!("{} holds {} bytes, not the {} declared", listed.path, read, listed.size)));
        }
        if hex(hasher) != listed.sha256 {
            return Err(refuse(format!("{} fails its SHA-256 checksum; the bundle was changed or damaged", listed.path)));
        }
    }
    Ok(manifest)
}

fn read_manifest(archive: &mut ZipArchive<File>) -> std::result::Result<Manifest, String> {
    let entry = archive.by_name(MANIFEST_FILE).map_err(|_| format!("{MANIFEST_FILE} is missing"))?;
    if entry.size() > MAX_MANIFEST_BYTES {
        return Err(format!("{MANIFEST_FILE} is larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    let manifest: Manifest =
        serde_json::from_reader(entry.take(MAX_MANIFEST_BYTES)).map_err(|e| format!("{MANIFEST_FILE} is invalid ({e})"))?;
    if manifest.format > BUNDLE_FORMAT {
        return Err(format!("bundle format {} is newer than this library supports ({BUNDLE_FORMAT}); update dlclassifier", manifest.format));
    }
    Ok(manifest)
}

/// A relative path of ordinary names: no absolute path, drive, `..` or `.`,
/// so that joining it to a folder stays inside the folder (zip slip).
fn safe_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        return Err("is an absolute path");
    }
    path.trim_end_matches('/').split('/').try_for_each(safe_name)
}

fn safe_name(name: &str) -> std::result::Result<(), &'static str> {
    match name {
        "" | "." => Err("has an empty path component"),
        ".." => Err("climbs out of the bundle with '..'"),
        _ if name.contains(['/', '\\', '\0']) => Err("is not a plain name"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_named() {
        assert!(safe_path("m/model.onnx").is_ok() && safe_path("m/").is_ok());
        assert_eq!(safe_path("../evil"), Err("climbs out of the bundle with '..'"));
        assert_eq!(safe_path("m/../../evil"), Err("climbs out of the bundle with '..'"));
        assert_eq!(safe_path("/etc/passwd"), Err("is an absolute path"));
        assert_eq!(safe_path("C:\\x"), Err("is an absolute path"));
        assert_eq!(safe_path("m//x"), Err("has an empty path component"));
    }

    /// A zip written entry by entry, for bundles a packer would never write.
    fn write_zip(path: &Path, entries: &[(&str, &[u8])], link: Option<&str>) {
        let mut zip = ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in entries {
            zip.start_file(*name, FileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
        if let Some(name) = link {
            zip.add_symlink(name, "/etc/passwd", FileOptions::default()).unwrap();
        }
        zip.finish().unwrap();
    }

    fn manifest_json(files: &[(&str, &[u8])]) -> Vec<u8> {
        let files: Vec<_> = files
            .iter()
            .map(|(p, b)| {
                let mut h = Sha256::new();
                h.update(b);
                serde_json::json!({ "path": p, "size": b.len(), "sha256": hex(h) })
            })
            .collect();
        let old = serde_json::from_str(include_str!("../model_dir/testdata/metadata_v0.json")).unwrap();
        let metadata = crate::model_dir::migrate(Path::new("metadata.json"), old).unwrap();
        serde_json::to_vec(&serde_json::json!({
            "format": 1, "name": "b", "version": "1", "description": "", "created": "2024-01-01T00:00:00Z",
            "models": [{ "name": "m", "metadata": metadata, "files": files }]
        }))
        .unwrap()
    }

    fn refusal(entries: &[(&str, &[u8])], listed: &[(&str, &[u8])], link: Option<&str>, max: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("b.zip");
        let manifest = manifest_json(listed);
        let mut all = entries.to_vec();
        all.push((MANIFEST_FILE, &manifest));
        write_zip(&zip, &all, link);
        let err = unpack_bundle(&zip, &dir.path().join("out"), max).unwrap_err().to_string();
        assert!(!dir.path().join("out").exists(), "nothing unpacked");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no staging left behind");
        err
    }

    #[test]
    fn hand_made_bad_bundles_are_refused_with_the_reason() {
        let good: &[(&str, &[u8])] = &[("m/a.bin", b"hello")];
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("ok.zip");
        let manifest = manifest_json(good);
        write_zip(&zip, &[good[0], (MANIFEST_FILE, &manifest)], None);
        let read = unpack_bundle(&zip, &dir.path().join("out"), 100).unwrap();
        assert_eq!(read.models[0].name, "m");
        assert_eq!(std::fs::read(dir.path().join("out/m/a.bin")).unwrap(), b"hello");
        assert!(super::super::checksum::check_checksums(&dir.path().join("out/m")).is_empty());

        let changed = refusal(&[("m/a.bin", b"hellO")], good, None, 100);
        assert!(changed.contains("m/a.bin fails its SHA-256 checksum"), "{changed}");
        let missing = refusal(&[], good, None, 100);
        assert!(missing.contains("m/a.bin is listed in the manifest but missing"), "{missing}");
        let slip = refusal(&[good[0], ("../evil", b"x")], good, None, 100);
        assert!(slip.contains("\"../evil\" climbs out of the bundle"), "{slip}");
        let link = refusal(good, good, Some("m/link"), 100);
        assert!(link.contains("\"m/link\" is a symbolic link"), "{link}");
        let unlisted = refusal(&[good[0], ("m/extra", b"x")], good, None, 100);
        assert!(unlisted.contains("\"m/extra\" is not listed"), "{unlisted}");
        let big = refusal(good, good, None, 4);
        assert!(big.contains("more than the limit of 4 bytes"), "{big}");
    }
}
