//! Objects from class maps: connected regions of one class traced into
//! polygons with measurements, row band by row band, and written as
//! QuPath's GeoJSON and as a measurement table.

pub mod components;
pub mod measure;
pub mod options;
pub mod output;
pub mod trace;

pub use measure::{Calibration, Measurement, ObjectPixels};
pub use options::{AreaUnit, CustomMeasurements, ObjectOptions, ObjectType};
pub use output::{GeoJsonWriter, ObjectSink, ObjectTable};

use crate::geometry::raster::Rasterizer;
use crate::geometry::{simplify, validity, Polygon};
use crate::tiling::RegionReader;
use crate::{Error, Result};
use components::{Component, Components};
use measure::PixelStats;
use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayView3};
use serde::Serialize;

/// A class that objects are made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectClass {
    pub name: String,
    pub color: [u8; 3],
}

/// One traced object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectedObject {
    /// Numbered from 1 in the order the objects were finished.
    pub id: u64,
    pub object_type: ObjectType,
    pub class_index: usize,
    pub polygon: Polygon,
    /// In the order of [`ObjectTracer::measurement_names`].
    pub measurements: Vec<f64>,
}

/// Turns label rows, with their probabilities and image rows when given,
/// into objects handed to a sink as soon as each is complete.
pub struct ObjectTracer<'a> {
    options: ObjectOptions,
    classes: Vec<ObjectClass>,
    traced: Vec<bool>,
    calibration: Option<Calibration>,
    min_area: f64,
    fill_below: f64,
    probabilities: bool,
    channels: usize,
    names: Vec<String>,
    /// The image, read again for custom measurements.
    reader: Option<&'a dyn RegionReader>,
    width: usize,
    components: Components<PixelStats>,
    next_id: u64,
    labels: Vec<u32>,
    /// Rows of [`ObjectOptions::clip`], with one row of room.
    clip: Option<(Rasterizer, Vec<bool>)>,
    origin: [usize; 2],
}

/// What the tracer measures from besides the labels.
pub struct TracerInputs<'a> {
    pub classes: Vec<ObjectClass>,
    pub width: usize,
    pub calibration: Option<Calibration>,
    /// Whether rows come with class probabilities.
    pub probabilities: bool,
    /// Names of the image channels that rows come with (none: no intensities).
    pub channel_names: Vec<String>,
    /// Required by [`ObjectOptions::custom`], which reads each object's bounding box.
    pub reader: Option<&'a dyn RegionReader>,
    /// Where the rows' first pixel lies in the image (of `reader`, of the
    /// clip polygons and of the objects): rows may cover part of it.
    pub origin: [usize; 2],
}

impl<'a> ObjectTracer<'a> {
    pub fn new(options: ObjectOptions, inputs: TracerInputs<'a>) -> Result<ObjectTracer<'a>> {
        let names: Vec<String> = inputs.classes.iter().map(|c| c.name.clone()).collect();
        let traced = options.traced_classes(&names)?;
        if let Some(c) = &inputs.calibration {
            if !(c.pixel_size.is_finite() && c.pixel_size > 0.0) {
                return Err(Error::config(format!("the pixel size must be a positive number, got {}", c.pixel_size)));
            }
        }
        let size = inputs.calibration.as_ref().map(|c| c.pixel_size);
        let (min_area, fill_below) = (options.pixels(options.min_area, size)?, options.pixels(options.fill_holes_below, size)?);
        if !options.custom.0.is_empty() && inputs.reader.is_none() {
            return Err(Error::config("custom measurements need the image to read each object's pixels"));
        }
        let mut measurement_names = measure::builtin_names(inputs.calibration.as_ref(), inputs.probabilities, &inputs.channel_names);
        for m in &options.custom.0 {
            measurement_names.extend(m.names());
        }
        if let Some(dup) = measurement_names.iter().enumerate().find(|(i, n)| measurement_names[..*i].contains(n)) {
            return Err(Error::config(format!("the measurement '{}' is named twice", dup.1)));
        }
        Ok(ObjectTracer {
            options,
            classes: inputs.classes,
            traced,
            calibration: inputs.calibration,
            min_area,
            fill_below,
            probabilities: inputs.probabilities,
            channels: inputs.channel_names.len(),
            names: measurement_names,
            reader: inputs.reader,
            width: inputs.width,
            components: Components::new(),
            next_id: 1,
            labels: Vec::new(),
            clip: None,
            origin: inputs.origin,
        }
        .with_clip())
    }

    /// Starts the clip's rows at the origin, for as many rows as any clip polygon reaches.
    fn with_clip(mut self) -> ObjectTracer<'a> {
        if let Some(polygons) = &self.options.clip {
            let [x, y] = self.origin;
            let bottom = polygons.iter().map(|p| p.bounds()).map(|b| (b.y + b.height).ceil().max(0.0) as usize).max().unwrap_or(0);
            let rows = bottom.saturating_sub(y);
            self.clip = Some((Rasterizer::new(polygons, x as i64, y as i64, self.width, rows), vec![false; self.width]));
        }
        self
    }

    pub fn measurement_names(&self) -> &[String] {
        &self.names
    }

    pub fn classes(&self) -> &[ObjectClass] {
        &self.classes
    }

    /// Adds the next rows: `labels` `[rows, W]`, and when the tracer was made
    /// for them, `probabilities` `[K, rows, W]` and `image` `[C, rows, W]`.
    pub fn push_rows(
        &mut self,
        labels: ArrayView2<u8>,
        probabilities: Option<ArrayView3<f32>>,
        image: Option<ArrayView3<f32>>,
        sink: &mut dyn ObjectSink,
    ) -> Result<()> {
        let (rows, width) = labels.dim();
        let shape_ok = width == self.width
            && probabilities.is_some() == self.probabilities
            && probabilities.is_none_or(|p| p.dim() == (self.classes.len(), rows, width))
            && image.map_or(self.channels == 0, |i| i.dim() == (self.channels, rows, width));
        if !shape_ok {
            return Err(Error::config(format!(
                "object rows of {rows}x{width} labels, probabilities {:?} and image {:?} do not fit a tracer for {} classes, {} channels, width {}",
                probabilities.map(|p| p.dim()),
                image.map(|i| i.dim()),
                self.classes.len(),
                self.channels,
                self.width
            )));
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= self.classes.len() && l != crate::region::OUTSIDE) {
            return Err(Error::config(format!("label {bad} beyond the {} classes", self.classes.len())));
        }
        let mut finished = Vec::new();
        for r in 0..rows {
            let row = labels.row(r);
            self.labels.clear();
            self.labels.extend(row.iter().map(|&l| u32::from(l)));
            if let Some((rows, inside)) = &mut self.clip {
                if !rows.next_row(inside) {
                    inside.fill(false);
                }
                // Outside the clip, a label no class has: never traced.
                for (l, &keep) in self.labels.iter_mut().zip(inside.iter()) {
                    if !keep {
                        *l = u32::MAX;
                    }
                }
            }
            let (prob_rows, channel_rows) = (row_of(probabilities, r), row_of(image, r));
            let traced = &self.traced;
            self.components.push_row(
                &self.labels,
                |l| traced.get(l as usize).copied().unwrap_or(false),
                |stats, label, run| stats.add(run, prob_rows.get(label as usize).copied(), &channel_rows),
                &mut |c| finished.push(c),
            );
        }
        for c in finished {
            self.emit(c, sink)?;
        }
        Ok(())
    }

    /// Hands out the objects still open; call after the last row.
    pub fn finish(&mut self, sink: &mut dyn ObjectSink) -> Result<()> {
        let mut finished = Vec::new();
        self.components.finish_all(&mut |c| finished.push(c));
        for c in finished {
            self.emit(c, sink)?;
        }
        sink.finish()
    }

    fn emit(&mut self, mut component: Component<PixelStats>, sink: &mut dyn ObjectSink) -> Result<()> {
        let [x, y] = self.origin.map(|v| v as u32);
        if x > 0 || y > 0 {
            for run in &mut component.runs {
                (run.y, run.x0, run.x1) = (run.y + y, run.x0 + x, run.x1 + x);
            }
            let n = component.data.pixels as f64;
            component.data.sum_x += f64::from(x) * n;
            component.data.sum_y += f64::from(y) * n;
        }
        let mut polygon = trace::polygon(&component.runs);
        if self.fill_below > 0.0 {
            polygon.holes.retain(|h| crate::geometry::signed_area(h).abs() >= self.fill_below);
        }
        if polygon.area() < self.min_area {
            return Ok(());
        }
        let polygon = self.refine(polygon);
        let perimeter = measure::perimeter(&component.runs);
        let mut measurements =
            measure::builtin_values(&polygon, perimeter, &component.data, self.calibration.as_ref(), self.probabilities);
        if !self.options.custom.0.is_empty() {
            let pixels = self.pixels(&component)?;
            let class = &self.classes[component.label as usize].name;
            for m in &self.options.custom.0 {
                let values = m.measure(&polygon, class, &pixels)?;
                if values.len() != m.names().len() {
                    return Err(Error::config(format!(
                        "a custom measurement gave {} values for its {} names",
                        values.len(),
                        m.names().len()
                    )));
                }
                measurements.extend(values);
            }
        }
        let object = DetectedObject {
            id: self.next_id,
            object_type: self.options.object_type,
            class_index: component.label as usize,
            polygon,
            measurements,
        };
        self.next_id += 1;
        sink.write(&object, &self.classes, &self.names)
    }

    /// Simplified and smoothed as the options say; the pixel outline stays
    /// where the change would make the polygon invalid (rings crossing, a
    /// hole left outside).
    fn refine(&self, polygon: Polygon) -> Polygon {
        let (tolerance, passes) = (self.options.simplify, self.options.smooth);
        if tolerance == 0.0 && passes == 0 {
            return polygon;
        }
        let ring = |r: &Vec<[f64; 2]>| simplify::chaikin(&simplify::douglas_peucker(r, tolerance), passes);
        let refined = Polygon { exterior: ring(&polygon.exterior), holes: polygon.holes.iter().map(ring).collect() };
        if validity::problem(&refined).is_some() {
            return polygon;
        }
        refined
    }

    /// The object's bounding box of the image and its mask.
    fn pixels(&self, component: &Component<PixelStats>) -> Result<ObjectPixels> {
        let reader = self.reader.expect("checked in new");
        let x0 = component.runs.iter().map(|r| r.x0).min().unwrap_or(0) as usize;
        let x1 = component.runs.iter().map(|r| r.x1).max().unwrap_or(0) as usize;
        let (y0, y1) = (component.runs[0].y as usize, component.runs[component.runs.len() - 1].y as usize + 1);
        let (w, h) = (x1 - x0, y1 - y0);
        crate::limits::check_memory(
            &format!("measuring a {w}x{h} object"),
            crate::limits::product(&[reader.channels() * 4 + 1, w, h]),
        )?;
        let mut mask = Array2::from_elem((h, w), false);
        for r in &component.runs {
            mask.slice_mut(s![r.y as usize - y0, r.x0 as usize - x0..r.x1 as usize - x0]).fill(true);
        }
        Ok(ObjectPixels { x: x0, y: y0, image: reader.read(x0, y0, w, h)?, mask })
    }
}

/// Row `r` of each plane of `planes`, as views.
fn row_of<'v>(planes: Option<ArrayView3<'v, f32>>, r: usize) -> Vec<ArrayView1<'v, f32>> {
    planes.map(|a| (0..a.dim().0).map(|k| a.slice_move(s![k, r, ..])).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn classes(n: usize) -> Vec<ObjectClass> {
        let mut c = vec![ObjectClass { name: "Background".into(), color: [0, 0, 0] }];
        c.extend((1..n).map(|i| ObjectClass { name: format!("Class {i}"), color: [i as u8, 0, 0] }));
        c
    }

    fn inputs(k: usize, width: usize) -> TracerInputs<'static> {
        TracerInputs {
            classes: classes(k),
            width,
            calibration: None,
            probabilities: false,
            channel_names: vec![],
            reader: None,
            origin: [0, 0],
        }
    }

    /// Blobby random labels: a coarse random grid, upsampled, with noise.
    fn random_labels(h: usize, w: usize, k: u8, seed: u64) -> Array2<u8> {
        let mut rng = StdRng::seed_from_u64(seed);
        let coarse = Array2::from_shape_simple_fn((h / 3 + 1, w / 3 + 1), || rng.random_range(0..k));
        Array2::from_shape_fn((h, w), |(y, x)| if rng.random_bool(0.1) { rng.random_range(0..k) } else { coarse[[y / 3, x / 3]] })
    }

    /// 4-connected components by flood fill: (label, pixels) per component.
    fn reference(labels: &Array2<u8>) -> Vec<(u8, Vec<(usize, usize)>)> {
        let (h, w) = labels.dim();
        let mut seen = Array2::from_elem((h, w), false);
        let mut out = Vec::new();
        for y in 0..h {
            for x in 0..w {
                if seen[[y, x]] || labels[[y, x]] == 0 {
                    continue;
                }
                let l = labels[[y, x]];
                let (mut stack, mut pixels) = (vec![(y, x)], vec![]);
                seen[[y, x]] = true;
                while let Some((y, x)) = stack.pop() {
                    pixels.push((y, x));
                    let n = [(y.wrapping_sub(1), x), (y + 1, x), (y, x.wrapping_sub(1)), (y, x + 1)];
                    for (ny, nx) in n {
                        if ny < h && nx < w && !seen[[ny, nx]] && labels[[ny, nx]] == l {
                            seen[[ny, nx]] = true;
                            stack.push((ny, nx));
                        }
                    }
                }
                out.push((l, pixels));
            }
        }
        out
    }

    fn trace_in_bands(labels: &Array2<u8>, k: usize, band: usize) -> Vec<DetectedObject> {
        let mut tracer = ObjectTracer::new(ObjectOptions::default(), inputs(k, labels.ncols())).unwrap();
        let mut objects = Vec::new();
        for y in (0..labels.nrows()).step_by(band) {
            let rows = labels.slice(s![y..(y + band).min(labels.nrows()), ..]);
            tracer.push_rows(rows, None, None, &mut objects).unwrap();
        }
        tracer.finish(&mut objects).unwrap();
        objects
    }

    #[test]
    fn objects_are_the_connected_components_whatever_the_bands() {
        for seed in 0..6 {
            let labels = random_labels(37 + seed as usize * 5, 41, 3, seed);
            let expected = reference(&labels);
            for band in [1, 7, 64] {
                let objects = trace_in_bands(&labels, 3, band);
                assert_eq!(objects.len(), expected.len(), "seed {seed}, band {band}");
                let mut areas: Vec<(usize, u64)> = objects.iter().map(|o| (o.class_index, o.polygon.area() as u64)).collect();
                let mut want: Vec<(usize, u64)> = expected.iter().map(|(l, p)| (*l as usize, p.len() as u64)).collect();
                areas.sort_unstable();
                want.sort_unstable();
                assert_eq!(areas, want, "seed {seed}, band {band}");
            }
            // Each pixel centre lies in the one object of its component.
            let objects = trace_in_bands(&labels, 3, 5);
            for (label, pixels) in &expected {
                let &(y, x) = &pixels[0];
                let centre = [x as f64 + 0.5, y as f64 + 0.5];
                let holding: Vec<_> = objects.iter().filter(|o| o.polygon.contains(centre)).collect();
                assert_eq!(holding.len(), 1, "seed {seed}: pixel ({x}, {y})");
                assert_eq!(holding[0].class_index, *label as usize);
                assert_eq!(holding[0].polygon.area() as usize, pixels.len());
                assert!(crate::geometry::signed_area(&holding[0].polygon.exterior) > 0.0);
                assert!(holding[0].polygon.holes.iter().all(|h| crate::geometry::signed_area(h) < 0.0));
            }
        }
    }

    #[test]
    fn small_objects_are_dropped_and_small_holes_filled() {
        let mut labels = Array2::zeros((12, 12));
        labels.slice_mut(s![1..9, 1..9]).fill(1u8);
        labels[[4, 4]] = 0;
        labels[[10, 10]] = 1;
        let options = ObjectOptions { min_area: 2.0, fill_holes_below: 2.0, ..Default::default() };
        let mut tracer = ObjectTracer::new(options, inputs(2, 12)).unwrap();
        let mut objects: Vec<DetectedObject> = Vec::new();
        tracer.push_rows(labels.view(), None, None, &mut objects).unwrap();
        tracer.finish(&mut objects).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!((objects[0].polygon.area(), objects[0].polygon.holes.len()), (64.0, 0));
        let names = tracer.measurement_names();
        assert_eq!(objects[0].measurements[names.iter().position(|n| n == "Centroid X px").unwrap()], (64.0 * 5.0 - 4.5) / 63.0, "the filled hole's pixel is not the object's");
    }

    /// Counts an object's pixels and sums its first channel, from what the hook is given.
    struct MaskSum;

    impl Measurement for MaskSum {
        fn names(&self) -> Vec<String> {
            vec!["Mask pixels".into(), "Channel sum".into()]
        }

        fn measure(&self, polygon: &Polygon, class: &str, pixels: &ObjectPixels) -> Result<Vec<f64>> {
            assert_eq!(class, "Class 1");
            assert!(polygon.area() > 0.0);
            let n = pixels.mask.iter().filter(|&&m| m).count();
            let sum: f32 = pixels.image.index_axis(ndarray::Axis(0), 0).iter().zip(&pixels.mask).filter(|(_, &m)| m).map(|(v, _)| v).sum();
            Ok(vec![n as f64, f64::from(sum)])
        }
    }

    #[test]
    fn custom_measurements_see_each_objects_pixels() {
        let labels = random_labels(30, 40, 2, 7);
        let image = crate::tiling::InMemoryImage(ndarray::Array3::from_shape_fn((1, 30, 40), |(_, y, x)| (y * 40 + x) as f32));
        let options = ObjectOptions { custom: CustomMeasurements(vec![std::sync::Arc::new(MaskSum)]), ..Default::default() };
        let with_image = TracerInputs { channel_names: vec!["DAPI".into()], reader: Some(&image), ..inputs(2, 40) };
        let mut tracer = ObjectTracer::new(options, with_image).unwrap();
        let names = tracer.measurement_names().to_vec();
        assert_eq!(names[names.len() - 2..], ["Mask pixels", "Channel sum"]);
        let mut objects: Vec<DetectedObject> = Vec::new();
        tracer.push_rows(labels.view(), None, Some(image.0.view()), &mut objects).unwrap();
        tracer.finish(&mut objects).unwrap();
        let at = |n: &str| names.iter().position(|m| m == n).unwrap();
        assert!(!objects.is_empty());
        for o in &objects {
            let m = &o.measurements;
            assert_eq!(m[at("Mask pixels")], m[at("Area px^2")]);
            assert!((m[at("Channel sum")] - m[at("DAPI: Mean")] * m[at("Area px^2")]).abs() < 1e-3 * m[at("Channel sum")].max(1.0));
        }
        let e = ObjectTracer::new(ObjectOptions { custom: CustomMeasurements(vec![std::sync::Arc::new(MaskSum)]), ..Default::default() }, inputs(2, 40))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("custom measurements need the image"), "{e}");
    }

    #[test]
    fn simplified_and_smoothed_outlines_stay_valid() {
        let labels = random_labels(60, 60, 3, 11);
        for (simplify, smooth) in [(0.0, 0), (0.5, 0), (1.5, 0), (0.0, 2), (1.0, 3), (4.0, 1)] {
            let options = ObjectOptions { simplify, smooth, ..Default::default() };
            let mut tracer = ObjectTracer::new(options, inputs(3, 60)).unwrap();
            let mut objects: Vec<DetectedObject> = Vec::new();
            tracer.push_rows(labels.view(), None, None, &mut objects).unwrap();
            tracer.finish(&mut objects).unwrap();
            assert_eq!(objects.len(), reference(&labels).len());
            for o in &objects {
                assert_eq!(validity::problem(&o.polygon), None, "simplify {simplify}, smooth {smooth}: {:?}", o.polygon);
            }
        }
    }

    #[test]
    fn objects_are_cut_to_the_clip_polygon() {
        let labels = random_labels(40, 40, 2, 3);
        // An L: the left half, and the bottom quarter.
        let exterior = vec![[0.0, 0.0], [20.0, 0.0], [20.0, 30.0], [40.0, 30.0], [40.0, 40.0], [0.0, 40.0], [0.0, 0.0]];
        let l = Polygon { exterior, holes: vec![] };
        let options = ObjectOptions { clip: Some(vec![l.clone()]), ..Default::default() };
        let mut tracer = ObjectTracer::new(options, inputs(2, 40)).unwrap();
        let mut objects: Vec<DetectedObject> = Vec::new();
        for y in (0..40).step_by(16) {
            tracer.push_rows(labels.slice(s![y..(y + 16).min(40), ..]), None, None, &mut objects).unwrap();
        }
        tracer.finish(&mut objects).unwrap();
        let mut masked = labels.clone();
        masked.indexed_iter_mut().filter(|((y, x), _)| !l.contains([*x as f64 + 0.5, *y as f64 + 0.5])).for_each(|(_, v)| *v = 0);
        assert_eq!(objects.len(), reference(&masked).len());
        let area: f64 = objects.iter().map(|o| o.polygon.area()).sum();
        assert_eq!(area, masked.iter().filter(|&&v| v == 1).count() as f64);
        let bowtie = Polygon { exterior: vec![[0.0, 0.0], [4.0, 4.0], [4.0, 0.0], [0.0, 4.0], [0.0, 0.0]], holes: vec![] };
        let e = ObjectTracer::new(ObjectOptions { clip: Some(vec![bowtie]), ..Default::default() }, inputs(2, 40)).err().unwrap().to_string();
        assert!(e.contains("objects.clip polygon 0 is not valid"), "{e}");
    }

    #[test]
    fn rows_that_do_not_fit_are_refused() {
        let mut tracer = ObjectTracer::new(ObjectOptions::default(), inputs(2, 4)).unwrap();
        let e = tracer.push_rows(Array2::<u8>::zeros((1, 5)).view(), None, None, &mut Vec::<DetectedObject>::new()).unwrap_err().to_string();
        assert!(e.contains("do not fit a tracer for 2 classes, 0 channels, width 4"), "{e}");
        let e = tracer.push_rows(Array2::<u8>::from_elem((1, 4), 2).view(), None, None, &mut Vec::<DetectedObject>::new()).unwrap_err().to_string();
        assert!(e.contains("label 2 beyond the 2 classes"), "{e}");
    }
}
