//! How class maps become objects: the Python extension's object options.

use super::measure::Measurement;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// QuPath's two kinds of object: many small detections, or editable annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    #[default]
    Detection,
    Annotation,
}

impl ObjectType {
    /// The `objectType` QuPath writes in GeoJSON.
    pub fn qupath_name(self) -> &'static str {
        match self {
            ObjectType::Detection => "detection",
            ObjectType::Annotation => "annotation",
        }
    }
}

/// The unit of [`ObjectOptions::min_area`] and [`ObjectOptions::fill_holes_below`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaUnit {
    /// Full-resolution pixels.
    #[default]
    Pixels,
    /// The pixel size's unit squared (e.g. µm²); needs a pixel size.
    Calibrated,
}

/// Options for tracing objects. The defaults keep every object with its
/// exact pixel outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectOptions {
    pub object_type: ObjectType,
    /// Objects of a smaller area (holes excluded) are dropped.
    pub min_area: f64,
    /// Holes of a smaller area are filled.
    pub fill_holes_below: f64,
    pub area_unit: AreaUnit,
    /// Douglas-Peucker tolerance in pixels; 0 keeps the pixel outline. A
    /// ring that simplification would make invalid keeps its outline.
    pub simplify: f64,
    /// Passes of corner cutting (Chaikin) that round the outline; 0 keeps it.
    pub smooth: u32,
    /// Names of classes not traced; `None`: the classes named `Background`
    /// (in any case), or none if no class is.
    pub skip_classes: Option<Vec<String>>,
    /// Objects only inside these polygons (a parent annotation), cut at
    /// pixel level: a pixel is in when its centre is; `None`: everywhere.
    pub clip: Option<Vec<crate::geometry::Polygon>>,
    /// The caller's own measurements, after the built-in ones (not in JSON).
    #[serde(skip)]
    pub custom: CustomMeasurements,
}

/// Caller-defined measurements, compared by identity.
#[derive(Clone, Default)]
pub struct CustomMeasurements(pub Vec<Arc<dyn Measurement>>);

impl std::fmt::Debug for CustomMeasurements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|m| m.names())).finish()
    }
}

impl PartialEq for CustomMeasurements {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl Default for ObjectOptions {
    fn default() -> Self {
        ObjectOptions {
            object_type: ObjectType::Detection,
            min_area: 0.0,
            fill_holes_below: 0.0,
            area_unit: AreaUnit::Pixels,
            simplify: 0.0,
            smooth: 0,
            skip_classes: None,
            clip: None,
            custom: CustomMeasurements::default(),
        }
    }
}

/// The most corner-cutting passes: each doubles the vertices.
pub const MAX_SMOOTH: u32 = 5;

impl ObjectOptions {
    /// Checks the values, and which of `classes` are traced (by index).
    pub fn traced_classes(&self, classes: &[String]) -> Result<Vec<bool>> {
        for (name, v) in [("min_area", self.min_area), ("fill_holes_below", self.fill_holes_below), ("simplify", self.simplify)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(format!("objects.{name} must be a finite number of at least 0, got {v}")));
            }
        }
        if self.smooth > MAX_SMOOTH {
            return Err(Error::config(format!("objects.smooth must be from 0 to {MAX_SMOOTH} passes, got {}", self.smooth)));
        }
        for (i, polygon) in self.clip.iter().flatten().enumerate() {
            // Either orientation: the clip is rasterized by winding.
            if let Some(problem) = crate::geometry::validity::problem(&polygon.clone().oriented()) {
                return Err(Error::config(format!("objects.clip polygon {i} is not valid: {problem}")));
            }
        }
        match &self.skip_classes {
            None => Ok(classes.iter().map(|c| !c.eq_ignore_ascii_case("background")).collect()),
            Some(skip) => {
                if let Some(unknown) = skip.iter().find(|s| !classes.contains(s)) {
                    return Err(Error::config(format!(
                        "objects.skip_classes names '{unknown}', which is not a class of the model ({})",
                        classes.join(", ")
                    )));
                }
                Ok(classes.iter().map(|c| !skip.contains(c)).collect())
            }
        }
    }

    /// `area` in [`Self::area_unit`] as full-resolution pixels, with `pixel_size` units per pixel.
    pub fn pixels(&self, area: f64, pixel_size: Option<f64>) -> Result<f64> {
        match (self.area_unit, pixel_size) {
            (AreaUnit::Pixels, _) => Ok(area),
            (AreaUnit::Calibrated, Some(s)) => Ok(area / (s * s)),
            (AreaUnit::Calibrated, None) => {
                Err(Error::config("objects.area_unit is 'calibrated' but no pixel size is known: give one, or areas in pixels"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn background_is_skipped_unless_told_otherwise() {
        let o = ObjectOptions::default();
        assert_eq!(o.traced_classes(&names(&["background", "Nucleus"])).unwrap(), [false, true]);
        assert_eq!(o.traced_classes(&names(&["Tissue", "DAB"])).unwrap(), [true, true]);
        let o = ObjectOptions { skip_classes: Some(names(&["DAB"])), ..o };
        assert_eq!(o.traced_classes(&names(&["Tissue", "DAB"])).unwrap(), [true, false]);
        let e = o.traced_classes(&names(&["Tissue"])).unwrap_err().to_string();
        assert!(e.contains("names 'DAB', which is not a class of the model (Tissue)"), "{e}");
    }

    #[test]
    fn bad_values_and_missing_calibration_are_refused() {
        let e = ObjectOptions { min_area: -1.0, ..Default::default() }.traced_classes(&[]).unwrap_err().to_string();
        assert!(e.contains("objects.min_area must be a finite number of at least 0, got -1"), "{e}");
        let e = ObjectOptions { smooth: 9, ..Default::default() }.traced_classes(&[]).unwrap_err().to_string();
        assert!(e.contains("from 0 to 5 passes"), "{e}");
        let o = ObjectOptions { area_unit: AreaUnit::Calibrated, ..Default::default() };
        assert_eq!(o.pixels(1.0, Some(0.5)).unwrap(), 4.0);
        assert!(o.pixels(1.0, None).unwrap_err().to_string().contains("no pixel size is known"));
        let parsed: ObjectOptions = serde_json::from_str(r#"{"object_type":"annotation","min_area":5}"#).unwrap();
        assert_eq!((parsed.object_type, parsed.min_area), (ObjectType::Annotation, 5.0));
        assert!(serde_json::from_str::<ObjectOptions>(r#"{"minArea":5}"#).is_err());
    }
}
