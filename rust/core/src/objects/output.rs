//! Where finished objects go: QuPath's GeoJSON, a measurement table, or memory.
//!
//! Both files stream: each object is written when it is finished, into a
//! temporary file that `finish` renames into place, so a failed run leaves
//! neither file behind.

use super::{DetectedObject, ObjectClass};
use crate::model_dir::StagedFile;
use crate::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Receives objects as they are finished.
pub trait ObjectSink {
    /// `classes` are indexed by [`DetectedObject::class_index`];
    /// `names` name [`DetectedObject::measurements`].
    fn write(&mut self, object: &DetectedObject, classes: &[ObjectClass], names: &[String]) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// Objects kept in memory.
impl ObjectSink for Vec<DetectedObject> {
    fn write(&mut self, object: &DetectedObject, _: &[ObjectClass], _: &[String]) -> Result<()> {
        self.push(object.clone());
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Several sinks fed alike.
impl ObjectSink for Vec<&mut dyn ObjectSink> {
    fn write(&mut self, object: &DetectedObject, classes: &[ObjectClass], names: &[String]) -> Result<()> {
        self.iter_mut().try_for_each(|s| s.write(object, classes, names))
    }

    fn finish(&mut self) -> Result<()> {
        self.iter_mut().try_for_each(|s| s.finish())
    }
}

/// A text file that appears only when complete.
struct StagedText {
    out: Option<BufWriter<File>>,
    file: StagedFile,
}

impl StagedText {
    fn create(target: &Path) -> Result<StagedText> {
        let (file, open) = StagedFile::create(target)?;
        Ok(StagedText { out: Some(BufWriter::new(open)), file })
    }

    fn write(&mut self, text: &str) -> Result<()> {
        let out = self.out.as_mut().ok_or_else(|| Error::data(self.file.target(), "written after it was finished"))?;
        out.write_all(text.as_bytes()).map_err(|e| Error::io(self.file.target(), e))
    }

    fn commit(&mut self) -> Result<()> {
        let target = self.file.target().to_path_buf();
        let out = self.out.take().ok_or_else(|| Error::data(&target, "finished twice"))?;
        out.into_inner().map_err(|e| Error::io(&target, e.into_error()))?.sync_all().map_err(|e| Error::io(&target, e))?;
        self.file.commit()
    }
}

/// A GeoJSON FeatureCollection as QuPath imports and exports it: each
/// feature has a UUID `id`, the polygon, and `properties.objectType`,
/// `properties.classification {name, color}` and `properties.measurements`.
pub struct GeoJsonWriter {
    file: StagedText,
    first: bool,
}

impl GeoJsonWriter {
    pub fn create(path: &Path) -> Result<GeoJsonWriter> {
        let mut file = StagedText::create(path)?;
        file.write("{\"type\":\"FeatureCollection\",\"features\":[")?;
        Ok(GeoJsonWriter { file, first: true })
    }
}

/// The QuPath GeoJSON feature of `object`, its measurements in their order.
pub fn feature(object: &DetectedObject, classes: &[ObjectClass], names: &[String]) -> String {
    let rings: Vec<&Vec<[f64; 2]>> = std::iter::once(&object.polygon.exterior).chain(&object.polygon.holes).collect();
    let class = &classes[object.class_index];
    let measurements: Vec<String> =
        names.iter().zip(&object.measurements).map(|(n, v)| format!("{}:{}", text(n), number(*v))).collect();
    format!(
        r#"{{"type":"Feature","id":"{}","geometry":{{"type":"Polygon","coordinates":{}}},"properties":{{"objectType":"{}","classification":{{"name":{},"color":{}}},"measurements":{{{}}}}}}}"#,
        uuid(),
        text(&rings),
        object.object_type.qupath_name(),
        text(&class.name),
        text(&class.color),
        measurements.join(",")
    )
}

fn text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and numbers serialize")
}

/// JSON has no NaN: such measurements are written as `null`, as QuPath reads them.
fn number(v: f64) -> String {
    if v.is_finite() {
        serde_json::Number::from_f64(v).expect("finite").to_string()
    } else {
        "null".to_string()
    }
}

/// A random (version 4) UUID, as QuPath gives every object.
fn uuid() -> String {
    let b = (rand::random::<u128>() & !(0xF000u128 << 64) & !(0xC0u128 << 56)) | (0x4000u128 << 64) | (0x80u128 << 56);
    let h = format!("{b:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl ObjectSink for GeoJsonWriter {
    fn write(&mut self, object: &DetectedObject, classes: &[ObjectClass], names: &[String]) -> Result<()> {
        let text = feature(object, classes, names);
        self.file.write(if self.first { "\n" } else { ",\n" })?;
        self.first = false;
        self.file.write(&text)
    }

    fn finish(&mut self) -> Result<()> {
        self.file.write("\n]}\n")?;
        self.file.commit()
    }
}

/// One row per object: `Object ID,Object type,Class,` then the measurements.
pub struct ObjectTable {
    file: StagedText,
}

impl ObjectTable {
    /// The table of objects measured as `names` say (see `ObjectTracer::measurement_names`).
    pub fn create(path: &Path, names: &[String]) -> Result<ObjectTable> {
        let mut file = StagedText::create(path)?;
        let mut line = String::from("Object ID,Object type,Class");
        for n in names {
            line.push(',');
            line.push_str(&csv_field(n));
        }
        line.push('\n');
        file.write(&line)?;
        Ok(ObjectTable { file })
    }
}

impl ObjectSink for ObjectTable {
    fn write(&mut self, object: &DetectedObject, classes: &[ObjectClass], _: &[String]) -> Result<()> {
        let mut line = format!("{},{},{}", object.id, object.object_type.qupath_name(), csv_field(&classes[object.class_index].name));
        for v in &object.measurements {
            line.push(',');
            if v.is_finite() {
                line.push_str(&v.to_string());
            }
        }
        line.push('\n');
        self.file.write(&line)
    }

    fn finish(&mut self) -> Result<()> {
        self.file.commit()
    }
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
