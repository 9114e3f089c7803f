//! Per-class pixel counts and areas of a prediction, as JSON and CSV tables.

use super::staged::write_file;
use super::LabelSink;
use crate::objects::output::csv_field;
use crate::region::OUTSIDE;
use crate::{Error, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The physical size of one pixel, to report areas in calibrated units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelSize {
    pub width: f64,
    pub height: f64,
    /// e.g. `µm`; areas are in this unit squared.
    pub unit: String,
}

impl PixelSize {
    /// Refuses sizes that are not positive numbers.
    pub fn validate(&self) -> Result<()> {
        for (axis, v) in [("width", self.width), ("height", self.height)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(format!("the pixel {axis} must be a positive number of {}, got {v}", self.unit)));
            }
        }
        Ok(())
    }
}

/// One class's share of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMeasurement {
    pub index: usize,
    pub name: String,
    pub pixels: u64,
    /// Share of all pixels, 0 to 1.
    pub fraction: f64,
    /// In [`Measurements::area_unit`]; only with a pixel size.
    pub area: Option<f64>,
}

/// Class areas of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub total_pixels: u64,
    pub pixel_size: Option<PixelSize>,
    /// e.g. `µm^2`; only with a pixel size.
    pub area_unit: Option<String>,
    pub classes: Vec<ClassMeasurement>,
    /// The same under QuPath's names for an annotation's measurement list,
    /// in class order: `<class> area µm^2` (the unit as calibrated; `px`
    /// without a pixel size) and `<class> %` (0-100).
    pub named: Vec<NamedValue>,
}

/// A measurement under its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedValue {
    pub name: String,
    pub value: f64,
}

impl Measurements {
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::data(path, e.to_string()))?;
        write_file(path, text.as_bytes())
    }

    /// One row per class: `index,name,pixels,fraction,area,area_unit`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_file(path, self.to_csv().as_bytes())
    }

    fn to_csv(&self) -> String {
        let mut text = String::from("index,name,pixels,fraction,area,area_unit\n");
        for c in &self.classes {
            let area = c.area.map(|a| a.to_string()).unwrap_or_default();
            let unit = self.area_unit.as_deref().unwrap_or_default();
            let _ = writeln!(text, "{},{},{},{},{area},{}", c.index, csv_field(&c.name), c.pixels, c.fraction, csv_field(unit));
        }
        text
    }
}

/// Counts the pixels of each class as labels stream by.
pub struct ClassCounts {
    histogram: [u64; 256],
    classes: usize,
}

impl ClassCounts {
    pub fn new(classes: usize) -> ClassCounts {
        ClassCounts { histogram: [0; 256], classes }
    }

    pub fn counts(&self) -> &[u64] {
        &self.histogram[..self.classes]
    }

    /// The counts as a table, one name per class.
    pub fn measurements(&self, names: &[String], pixel_size: Option<PixelSize>) -> Result<Measurements> {
        if names.len() != self.classes {
            return Err(Error::config(format!("{} class names for {} classes", names.len(), self.classes)));
        }
        let total: u64 = self.counts().iter().sum();
        let pixel_area = pixel_size.as_ref().map(|p| p.width * p.height);
        let classes: Vec<ClassMeasurement> = (0..self.classes)
            .map(|i| {
                let pixels = self.histogram[i];
                ClassMeasurement {
                    index: i,
                    name: names[i].clone(),
                    pixels,
                    fraction: if total == 0 { 0.0 } else { pixels as f64 / total as f64 },
                    area: pixel_area.map(|a| pixels as f64 * a),
                }
            })
            .collect();
        let area_unit = pixel_size.as_ref().map(|p| format!("{}^2", p.unit));
        let named = classes
            .iter()
            .flat_map(|c| {
                let area = match (&area_unit, c.area) {
                    (Some(unit), Some(area)) => NamedValue { name: format!("{} area {unit}", c.name), value: area },
                    _ => NamedValue { name: format!("{} area px", c.name), value: c.pixels as f64 },
                };
                [area, NamedValue { name: format!("{} %", c.name), value: 100.0 * c.fraction }]
            })
            .collect();
        Ok(Measurements { total_pixels: total, pixel_size, area_unit, classes, named })
    }
}

impl LabelSink for ClassCounts {
    fn write_labels(&mut self, _y: usize, labels: ArrayView2<u8>) -> Result<()> {
        for &label in labels {
            self.histogram[usize::from(label)] += 1;
        }
        let beyond = (self.classes..256).find(|&l| self.histogram[l] > 0 && l != usize::from(OUTSIDE));
        match beyond {
            Some(label) => Err(Error::config(format!("label {label} beyond the {} classes", self.classes))),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn counted() -> ClassCounts {
        let mut counts = ClassCounts::new(3);
        counts.write_labels(0, array![[0u8, 1, 1, 0], [1, 1, 1, 0]].view()).unwrap();
        counts.write_labels(2, array![[1u8, 1, 1, 1]].view()).unwrap();
        counts
    }

    fn names() -> Vec<String> {
        vec!["Background".into(), "Tumor, invasive".into(), "Stroma".into()]
    }

    #[test]
    fn counts_fractions_and_areas_are_exact() {
        let counts = counted();
        assert_eq!(counts.counts(), [3, 9, 0]);
        let size = PixelSize { width: 0.5, height: 0.25, unit: "µm".into() };
        let m = counts.measurements(&names(), Some(size)).unwrap();
        assert_eq!(m.total_pixels, 12);
        assert_eq!(m.area_unit.as_deref(), Some("µm^2"));
        assert_eq!(m.classes[1], ClassMeasurement { index: 1, name: "Tumor, invasive".into(), pixels: 9, fraction: 0.75, area: Some(1.125) });
        assert_eq!((m.classes[2].fraction, m.classes[2].area), (0.0, Some(0.0)));
        let named = |m: &Measurements, i: usize| (m.named[i].name.clone(), m.named[i].value);
        assert_eq!([named(&m, 2), named(&m, 3)], [("Tumor, invasive area µm^2".to_string(), 1.125), ("Tumor, invasive %".to_string(), 75.0)]);
        let plain = counts.measurements(&names(), None).unwrap();
        assert_eq!((plain.classes[0].area, plain.area_unit.as_deref()), (None, None));
        assert_eq!([named(&plain, 0), named(&plain, 1)], [("Background area px".to_string(), 3.0), ("Background %".to_string(), 25.0)]);
        assert!(counts.measurements(&names()[..2], None).unwrap_err().to_string().contains("2 class names for 3 classes"));
    }

    #[test]
    fn labels_beyond_the_classes_are_refused() {
        let e = ClassCounts::new(2).write_labels(0, array![[2u8]].view()).unwrap_err().to_string();
        assert!(e.contains("label 2 beyond the 2 classes"), "{e}");
        // Pixels outside a run's region are not counted.
        let mut counts = ClassCounts::new(2);
        counts.write_labels(0, array![[OUTSIDE, 1, OUTSIDE]].view()).unwrap();
        assert_eq!(counts.measurements(&names()[..2], None).unwrap().total_pixels, 1);
    }

    #[test]
    fn tables_round_trip_as_json_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let m = counted().measurements(&names(), Some(PixelSize { width: 2.0, height: 2.0, unit: "mm".into() })).unwrap();
        m.write_json(&dir.path().join("m.json")).unwrap();
        m.write_csv(&dir.path().join("m.csv")).unwrap();
        let json: Measurements = serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
        assert_eq!(json, m);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("m.csv")).unwrap(),
            "index,name,pixels,fraction,area,area_unit\n\
             0,Background,3,0.25,12,mm^2\n\
             1,\"Tumor, invasive\",9,0.75,36,mm^2\n\
             2,Stroma,0,0,0,mm^2\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
