//! `objects.geojson` and `objects.csv`: the objects of each traced class,
//! measured against the class probabilities and the image itself.

use super::{ClassifiedSink, PixelSize};
use crate::data::parse_color;
use crate::model_dir::ClassMeta;
use crate::objects::{
    Calibration, DetectedObject, GeoJsonWriter, ObjectClass, ObjectOptions, ObjectSink, ObjectTable, ObjectTracer, TracerInputs,
};
use crate::tiling::{RegionReader, Window};
use crate::{Error, Result};
use ndarray::{ArrayView2, ArrayView3};
use serde::Serialize;
use std::path::Path;

/// How many objects a run made, of each class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectSummary {
    pub count: u64,
    /// By class index.
    pub per_class: Vec<u64>,
    /// The measurement columns of `objects.csv`.
    pub measurements: Vec<String>,
}

/// Counts objects by class.
struct Counter(Vec<u64>);

impl ObjectSink for Counter {
    fn write(&mut self, object: &DetectedObject, _: &[crate::objects::ObjectClass], _: &[String]) -> Result<()> {
        self.0[object.class_index] += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Traces the predicted classes of a whole image into objects and writes
/// them as they are finished.
pub struct ObjectFiles<'a> {
    tracer: ObjectTracer<'a>,
    reader: &'a dyn RegionReader,
    window: Window,
    geojson: GeoJsonWriter,
    table: ObjectTable,
    counter: Counter,
}

impl<'a> ObjectFiles<'a> {
    /// Objects of `classes` in `window` of the image of `reader` (its
    /// channels named by `channel_names`), in image coordinates, written to
    /// `geojson` and `table`; rows count from the window's top.
    pub fn create(
        geojson: &Path,
        table: &Path,
        options: &ObjectOptions,
        classes: &[ClassMeta],
        reader: &'a dyn RegionReader,
        window: Window,
        channel_names: Vec<String>,
        pixel_size: Option<&PixelSize>,
    ) -> Result<ObjectFiles<'a>> {
        let (classes, calibration) = check(options, classes, pixel_size)?;
        let k = classes.len();
        let inputs = TracerInputs {
            classes,
            width: window.width,
            calibration,
            probabilities: true,
            channel_names,
            reader: Some(reader),
            origin: [window.x, window.y],
        };
        let tracer = ObjectTracer::new(options.clone(), inputs)?;
        let table = ObjectTable::create(table, tracer.measurement_names())?;
        Ok(ObjectFiles { geojson: GeoJsonWriter::create(geojson)?, table, tracer, reader, window, counter: Counter(vec![0; k]) })
    }

    pub fn summary(&self) -> ObjectSummary {
        ObjectSummary {
            count: self.counter.0.iter().sum(),
            per_class: self.counter.0.clone(),
            measurements: self.tracer.measurement_names().to_vec(),
        }
    }
}

/// The object classes and calibration for `options`, checked: everything
/// that can be refused before a run starts.
pub fn check(options: &ObjectOptions, classes: &[ClassMeta], pixel_size: Option<&PixelSize>) -> Result<(Vec<ObjectClass>, Option<Calibration>)> {
    let classes = classes
        .iter()
        .map(|c| {
            let color = parse_color(&c.color)
                .ok_or_else(|| Error::config(format!("class '{}' has colour '{}', expected #RRGGBB", c.name, c.color)))?;
            Ok(ObjectClass { name: c.name.clone(), color })
        })
        .collect::<Result<Vec<_>>>()?;
    let calibration = pixel_size.map(calibration).transpose()?;
    let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    options.traced_classes(&names)?;
    let size = calibration.as_ref().map(|c| c.pixel_size);
    options.pixels(options.min_area, size)?;
    Ok((classes, calibration))
}

/// Objects are measured in one unit along both axes.
fn calibration(size: &PixelSize) -> Result<Calibration> {
    if size.width != size.height {
        return Err(Error::config(format!(
            "objects are measured on square pixels, but the pixel size is {} x {} {}",
            size.width, size.height, size.unit
        )));
    }
    Ok(Calibration { pixel_size: size.width, unit: size.unit.clone() })
}

impl ClassifiedSink for ObjectFiles<'_> {
    fn write_classified(&mut self, y: usize, probs: ArrayView3<f32>, labels: ArrayView2<u8>) -> Result<()> {
        let (rows, width) = labels.dim();
        let image = self.reader.read(self.window.x, self.window.y + y, width, rows)?;
        let mut sinks: Vec<&mut dyn ObjectSink> = vec![&mut self.geojson, &mut self.table, &mut self.counter];
        self.tracer.push_rows(labels, Some(probs), Some(image.view()), &mut sinks)
    }

    fn finish(&mut self) -> Result<()> {
        let mut sinks: Vec<&mut dyn ObjectSink> = vec![&mut self.geojson, &mut self.table, &mut self.counter];
        self.tracer.finish(&mut sinks)
    }
}
