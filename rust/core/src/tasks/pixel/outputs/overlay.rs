//! A colour overlay of the classes: an RGBA PNG to lay over the image.

use super::staged::PngRows;
use super::LabelSink;
use crate::model_dir::ClassMeta;
use crate::data::parse_color;
use crate::{Error, Result};
use ndarray::ArrayView2;
use std::path::Path;

/// Streams labels into an RGBA PNG, each class painted in its colour.
pub struct Overlay {
    png: PngRows,
    palette: [[u8; 4]; 256],
}

impl Overlay {
    /// `colors[i]` is the RGBA colour of class `i`; classes without one are
    /// transparent, as is any class whose alpha is 0 (e.g. background).
    pub fn create(path: &Path, width: usize, height: usize, colors: &[[u8; 4]]) -> Result<Overlay> {
        let mut palette = [[0; 4]; 256];
        palette
            .get_mut(..colors.len())
            .ok_or_else(|| Error::config(format!("an overlay has at most 256 class colours, got {}", colors.len())))?
            .copy_from_slice(colors);
        Ok(Overlay { png: PngRows::create(path, width, height, png::ColorType::Rgba)?, palette })
    }
}

impl LabelSink for Overlay {
    fn write_labels(&mut self, y: usize, labels: ArrayView2<u8>) -> Result<()> {
        let pixels: Vec<u8> = labels.iter().flat_map(|&l| self.palette[usize::from(l)]).collect();
        self.png.write_rows(y, &pixels)
    }

    fn finish(&mut self) -> Result<()> {
        self.png.finish()
    }
}

/// The colours of `classes` (their `#RRGGBB`), indexed by class index, all
/// with the given `alpha`; set an entry's alpha to 0 to hide that class.
pub fn class_colors(classes: &[ClassMeta], alpha: u8) -> Result<Vec<[u8; 4]>> {
    let mut colors = vec![[0; 4]; classes.iter().map(|c| c.index + 1).max().unwrap_or(0)];
    for class in classes {
        let [r, g, b] = parse_color(&class.color)
            .ok_or_else(|| Error::config(format!("class '{}' has colour '{}', expected #RRGGBB", class.name, class.color)))?;
        colors[class.index] = [r, g, b, alpha];
    }
    Ok(colors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn class(index: usize, color: &str) -> ClassMeta {
        ClassMeta { index, name: format!("c{index}"), color: color.into() }
    }

    #[test]
    fn colours_come_from_metadata() {
        let colors = class_colors(&[class(1, "#FF8000"), class(0, "#00aa00")], 128).unwrap();
        assert_eq!(colors, [[0, 0xAA, 0, 128], [0xFF, 0x80, 0, 128]]);
        let e = class_colors(&[class(0, "red")], 128).unwrap_err().to_string();
        assert!(e.contains("class 'c0' has colour 'red', expected #RRGGBB"), "{e}");
    }

    #[test]
    fn classes_are_painted_in_their_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overlay.png");
        let mut colors = class_colors(&[class(0, "#000000"), class(1, "#FF0000")], 100).unwrap();
        colors[0][3] = 0;
        let mut overlay = Overlay::create(&path, 3, 2, &colors).unwrap();
        overlay.write_labels(0, array![[0u8, 1, 2], [1, 1, 0]].view()).unwrap();
        LabelSink::finish(&mut overlay).unwrap();
        let read = image::open(&path).unwrap().into_rgba8();
        let pixels: Vec<[u8; 4]> = read.pixels().map(|p| p.0).collect();
        let (hidden, red) = ([0, 0, 0, 0], [255, 0, 0, 100]);
        assert_eq!(pixels, [hidden, red, hidden, red, red, hidden]);
    }

    #[test]
    fn more_than_256_colours_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = Overlay::create(&dir.path().join("o.png"), 1, 1, &[[0; 4]; 257]).err().unwrap().to_string();
        assert!(e.contains("at most 256 class colours"), "{e}");
    }
}
