//! The class map: one 8-bit grayscale PNG whose pixel values are class indices.

use super::staged::PngRows;
use super::LabelSink;
use crate::Result;
use ndarray::ArrayView2;
use std::path::Path;

/// Streams labels into an 8-bit grayscale PNG (value = class index).
pub struct ClassMap(PngRows);

impl ClassMap {
    pub fn create(path: &Path, width: usize, height: usize) -> Result<ClassMap> {
        Ok(ClassMap(PngRows::create(path, width, height, png::ColorType::Grayscale)?))
    }
}

impl LabelSink for ClassMap {
    fn write_labels(&mut self, y: usize, labels: ArrayView2<u8>) -> Result<()> {
        self.0.write_rows(y, labels.as_standard_layout().as_slice().expect("standard layout"))
    }

    fn finish(&mut self) -> Result<()> {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::ProbabilitySink;
    use ndarray::{array, s, Array2};

    #[test]
    fn labels_round_trip_and_the_file_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classes.png");
        let labels = Array2::from_shape_fn((5, 7), |(y, x)| ((x + 2 * y) % 3) as u8);
        let mut map = ClassMap::create(&path, 7, 5).unwrap();
        map.write_labels(0, labels.slice(s![..2, ..])).unwrap();
        assert!(!path.exists());
        map.write_labels(2, labels.slice(s![2.., ..])).unwrap();
        LabelSink::finish(&mut map).unwrap();
        let read = image::open(&path).unwrap().into_luma8();
        assert_eq!(read.dimensions(), (7, 5));
        assert_eq!(read.into_raw(), labels.into_raw_vec_and_offset().0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn probabilities_become_their_argmax() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classes.png");
        let mut map = ClassMap::create(&path, 2, 1).unwrap();
        map.write_rows(0, array![[[0.2f32, 0.6]], [[0.8, 0.4]]].view()).unwrap();
        ProbabilitySink::finish(&mut map).unwrap();
        assert_eq!(image::open(&path).unwrap().into_luma8().into_raw(), [1, 0]);
    }

    #[test]
    fn incomplete_or_unordered_rows_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("classes.png");
        let row = Array2::<u8>::zeros((1, 4));
        let mut map = ClassMap::create(&path, 4, 3).unwrap();
        let e = map.write_labels(1, row.view()).unwrap_err().to_string();
        assert!(e.contains("rows 1..2 arrived, expected rows from 0 of 3"), "{e}");
        map.write_labels(0, row.view()).unwrap();
        let e = LabelSink::finish(&mut map).unwrap_err().to_string();
        assert!(e.contains("only 1 of 3 rows were written"), "{e}");
        drop(map);
        let dropped = ClassMap::create(&path, 4, 3).unwrap();
        drop(dropped);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
