//! The part of an image a run is restricted to: polygons (a QuPath
//! annotation, as GeoJSON or WKT) or a mask, checked against the image and
//! streamed as row masks over its bounding box.

mod rows;

pub use rows::{add_pixels, RegionRows};

use crate::data::read_mask;
use crate::geometry::{geojson, validity, wkt, Polygon};
use crate::tiling::Window;
use crate::{Error, Result};
use ndarray::Array2;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The label of pixels outside a run's region: no class has it, so a run
/// restricted to a region takes models of at most 255 classes.
pub const OUTSIDE: u8 = 255;

/// A region as callers give it (in JSON settings: one of these keys).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RegionSpec {
    /// `[{"exterior": [[x, y], ...], "holes": [[[x, y], ...], ...]}, ...]`.
    Polygons(Vec<Polygon>),
    /// `POLYGON (...)` or `MULTIPOLYGON (...)`.
    Wkt(String),
    /// A GeoJSON geometry, feature or feature collection of polygons.
    Geojson(serde_json::Value),
    /// An image file the size of the image: nonzero pixels are inside.
    Mask(PathBuf),
}

/// A region in full-resolution image coordinates; pixels whose centre is
/// inside belong to it. Several polygons unite.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    Polygons(Vec<Polygon>),
    /// `[H, W]`, the image's size.
    Mask(Array2<bool>),
}

/// The polygons of a GeoJSON file (text starting with `{`) or a WKT file.
pub fn read_polygons(path: &Path) -> Result<Vec<Polygon>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let polygons = if text.trim_start().starts_with('{') {
        let value = serde_json::from_str(&text).map_err(|e| Error::data(path, format!("not GeoJSON: {e}")))?;
        geojson::parse(&value)
    } else {
        wkt::parse(&text)
    };
    polygons.map_err(|e| match e {
        Error::Config(message) => Error::data(path, message),
        other => other,
    })
}

impl RegionSpec {
    /// The region, with polygons checked valid (either orientation) and a mask file read.
    pub fn resolve(self) -> Result<Region> {
        let polygons = match self {
            RegionSpec::Polygons(p) => p,
            RegionSpec::Wkt(text) => wkt::parse(&text)?,
            RegionSpec::Geojson(value) => geojson::parse(&value)?,
            RegionSpec::Mask(path) => return Ok(Region::Mask(read_mask(&path)?.mapv(|v| v != 0))),
        };
        Region::polygons(polygons)
    }
}

impl Region {
    /// Polygons that are each valid, in either orientation.
    pub fn polygons(polygons: Vec<Polygon>) -> Result<Region> {
        if polygons.is_empty() {
            return Err(Error::config("the region has no polygons"));
        }
        let polygons: Vec<Polygon> = polygons.into_iter().map(Polygon::oriented).collect();
        for (i, p) in polygons.iter().enumerate() {
            if let Some(problem) = validity::problem(p) {
                return Err(Error::config(format!("region polygon {i} is not valid: {problem}")));
            }
        }
        Ok(Region::Polygons(polygons))
    }

    /// The smallest window of a `width` x `height` image holding every
    /// pixel of the region (for polygons, clipped to the image), refusing a
    /// region outside the image and a mask of another size. Polygons may
    /// still cover no pixel centre: [`add_pixels`] counts them.
    pub fn bounds(&self, width: usize, height: usize) -> Result<Window> {
        match self {
            Region::Mask(mask) => {
                if mask.dim() != (height, width) {
                    return Err(Error::config(format!("the region mask is {}x{} but the image is {width}x{height}", mask.ncols(), mask.nrows())));
                }
                let mut bounds: Option<(usize, usize, usize, usize)> = None;
                for (y, row) in mask.outer_iter().enumerate() {
                    if let (Some(first), Some(last)) = (row.iter().position(|&v| v), row.iter().rposition(|&v| v)) {
                        let (x0, y0, x1, _) = bounds.unwrap_or((first, y, last, y));
                        bounds = Some((x0.min(first), y0, x1.max(last), y));
                    }
                }
                let (x0, y0, x1, y1) = bounds.ok_or_else(|| Error::config("the region mask has no pixel inside"))?;
                Ok(Window { x: x0, y: y0, width: x1 + 1 - x0, height: y1 + 1 - y0 })
            }
            Region::Polygons(polygons) => {
                let window = polygons.iter().map(|p| p.bounds()).fold(None, |acc: Option<(f64, f64, f64, f64)>, b| {
                    let (x0, y0, x1, y1) = acc.unwrap_or((f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY));
                    Some((x0.min(b.x), y0.min(b.y), x1.max(b.x + b.width), y1.max(b.y + b.height)))
                });
                let (x0, y0, x1, y1) = window.expect("checked non-empty");
                // Pixels whose centres the bounds hold, clipped to the image.
                let first = |v: f64, len: usize| ((v - 0.5).ceil().max(0.0) as usize).min(len);
                let (left, top) = (first(x0, width), first(y0, height));
                let (right, bottom) = (first(x1, width), first(y1, height));
                let bounds = Window { x: left, y: top, width: right.saturating_sub(left), height: bottom.saturating_sub(top) };
                if x1 <= 0.0 || y1 <= 0.0 || x0 >= width as f64 || y0 >= height as f64 {
                    return Err(Error::config(format!("the region ({x0}, {y0}) to ({x1}, {y1}) lies outside the {width}x{height} image")));
                }
                if bounds.width == 0 || bounds.height == 0 {
                    return Err(Error::config("the region covers no pixel centre of the image"));
                }
                Ok(bounds)
            }
        }
    }

    /// The region's row masks over `window`, top to bottom.
    pub fn rows(&self, window: Window) -> RegionRows<'_> {
        RegionRows::new(self, window)
    }
}
