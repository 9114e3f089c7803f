//! The overlay of the classes: by default their colours blended over the
//! image (an RGB PNG), or the colours alone (an RGBA PNG to lay over it).

use super::display::Display;
use super::staged::PngRows;
use super::LabelSink;
use crate::data::parse_color;
use crate::model_dir::ClassMeta;
use crate::tiling::RegionReader;
use crate::{Error, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What `overlay.png` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlayMode {
    /// Class colours blended over the image at their alpha, as RGB.
    #[default]
    Blend,
    /// Class colours only, as RGBA, to lay over the image elsewhere.
    Classes,
}

impl std::str::FromStr for OverlayMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<OverlayMode> {
        match s {
            "blend" => Ok(OverlayMode::Blend),
            "classes" => Ok(OverlayMode::Classes),
            _ => Err(Error::config(format!("unknown overlay mode '{s}'; use blend or classes"))),
        }
    }
}

/// Streams labels into a PNG, each class painted in its colour, over the
/// image when it has one to read.
pub struct Overlay<'a> {
    png: PngRows,
    palette: [[u8; 4]; 256],
    image: Option<(&'a dyn RegionReader, Display)>,
}

impl Overlay<'static> {
    /// The colour-only overlay: `colors[i]` is the RGBA colour of class `i`;
    /// classes without one are transparent, as is any class whose alpha is 0
    /// (e.g. background).
    pub fn create(path: &Path, width: usize, height: usize, colors: &[[u8; 4]]) -> Result<Overlay<'static>> {
        Ok(Overlay { png: PngRows::create(path, width, height, png::ColorType::Rgba)?, palette: palette(colors)?, image: None })
    }
}

impl<'a> Overlay<'a> {
    /// The overlay over the image of `reader`, shown through `display`: each
    /// pixel is `(1 - a) * image + a * colour` with the class colour's alpha
    /// `a` (out of 255), so classes with alpha 0 leave the image as it is.
    /// The image rows are read from `reader` as the labels of those rows arrive.
    pub fn blended(path: &Path, reader: &'a dyn RegionReader, display: Display, colors: &[[u8; 4]]) -> Result<Overlay<'a>> {
        let png = PngRows::create(path, reader.width(), reader.height(), png::ColorType::Rgb)?;
        Ok(Overlay { png, palette: palette(colors)?, image: Some((reader, display)) })
    }
}

fn palette(colors: &[[u8; 4]]) -> Result<[[u8; 4]; 256]> {
    let mut palette = [[0; 4]; 256];
    palette
        .get_mut(..colors.len())
        .ok_or_else(|| Error::config(format!("an overlay has at most 256 class colours, got {}", colors.len())))?
        .copy_from_slice(colors);
    Ok(palette)
}

/// `colour` at `alpha` (0-255) over `under`, rounded.
fn blend(under: u8, colour: u8, alpha: u8) -> u8 {
    let (u, c, a) = (u32::from(under), u32::from(colour), u32::from(alpha));
    ((u * (255 - a) + c * a + 127) / 255) as u8
}

impl LabelSink for Overlay<'_> {
    fn write_labels(&mut self, y: usize, labels: ArrayView2<u8>) -> Result<()> {
        let pixels: Vec<u8> = match &self.image {
            None => labels.iter().flat_map(|&l| self.palette[usize::from(l)]).collect(),
            Some((reader, display)) => {
                let (rows, width) = labels.dim();
                let image = display.rgb(reader.read(0, y, width, rows)?.view());
                labels
                    .iter()
                    .zip(image)
                    .flat_map(|(&l, rgb)| {
                        let [r, g, b, a] = self.palette[usize::from(l)];
                        [blend(rgb[0], r, a), blend(rgb[1], g, a), blend(rgb[2], b, a)]
                    })
                    .collect()
            }
        };
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

/// The colours to blend over the image: as [`class_colors`], but a class
/// named "Background" (in any case) is hidden, so that the image shows
/// through where nothing was found.
pub fn blend_colors(classes: &[ClassMeta], alpha: u8) -> Result<Vec<[u8; 4]>> {
    let mut colors = class_colors(classes, alpha)?;
    for class in classes.iter().filter(|c| c.name.trim().eq_ignore_ascii_case("background")) {
        colors[class.index][3] = 0;
    }
    Ok(colors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::InMemoryImage;
    use ndarray::{array, Array3};

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

    fn blended_pixels(image: Array3<f32>, ranges: Option<&[(f32, f32)]>, labels: ndarray::Array2<u8>, colors: &[[u8; 4]]) -> Vec<[u8; 3]> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overlay.png");
        let img = InMemoryImage(image);
        let display = Display::for_image(&img, ranges).unwrap();
        let mut overlay = Overlay::blended(&path, &img, display, colors).unwrap();
        let rows = labels.nrows();
        overlay.write_labels(0, labels.slice(ndarray::s![..1, ..])).unwrap();
        assert!(!path.exists());
        overlay.write_labels(1, labels.slice(ndarray::s![1..rows, ..])).unwrap();
        LabelSink::finish(&mut overlay).unwrap();
        let read = image::open(&path).unwrap();
        assert_eq!(read.color(), image::ColorType::Rgb8);
        read.into_rgb8().pixels().map(|p| p.0).collect()
    }

    #[test]
    fn classes_are_blended_over_an_8_bit_grey_image() {
        let classes = [class(0, "#000000"), class(1, "#FF0000"), class(2, "#0000FF")];
        let mut colors = class_colors(&classes, 64).unwrap();
        colors[0][3] = 0;
        let image = array![[[0.0f32, 100.0, 200.0], [255.0, 50.0, 10.0]]];
        let pixels = blended_pixels(image, Some(&[(0.0, 255.0)]), array![[0u8, 1, 2], [1, 0, 2]], &colors);
        // (v * 191 + c * 64 + 127) / 255 per channel.
        let red = |v: u32| [((v * 191 + 255 * 64 + 127) / 255) as u8, ((v * 191 + 127) / 255) as u8, ((v * 191 + 127) / 255) as u8];
        let blue = |v: u32| [((v * 191 + 127) / 255) as u8, ((v * 191 + 127) / 255) as u8, ((v * 191 + 255 * 64 + 127) / 255) as u8];
        assert_eq!(pixels, [[0, 0, 0], red(100), blue(200), red(255), [50, 50, 50], blue(10)]);
        assert_eq!(red(100), [139, 75, 75]);
    }

    #[test]
    fn sixteen_bit_rgb_images_are_stretched_by_their_display_range() {
        let colors = [[0, 0, 0, 0], [0, 255, 0, 255]];
        let image = array![[[0.0f32, 32768.0, 65535.0]], [[1000.0, 2000.0, 4000.0]], [[0.0, 0.0, 500.0]]];
        let ranges = [(0.0, 65535.0), (1000.0, 4000.0), (0.0, 1000.0)];
        let pixels = blended_pixels(image.clone(), Some(&ranges), array![[0u8, 0, 1]], &colors);
        assert_eq!(pixels, [[0, 0, 0], [128, 85, 0], [0, 255, 0]]);
        // A sampled range stretches the image's own extremes to black and white.
        let pixels = blended_pixels(image, None, array![[0u8, 0, 0]], &colors);
        assert_eq!(pixels, [[0, 0, 0], [128, 85, 0], [255, 255, 255]]);
    }

    #[test]
    fn background_is_hidden_when_blending() {
        let classes = [ClassMeta { index: 0, name: "Background".into(), color: "#101010".into() }, class(1, "#FF0000")];
        assert_eq!(blend_colors(&classes, 90).unwrap(), [[0x10, 0x10, 0x10, 0], [255, 0, 0, 90]]);
        assert_eq!(class_colors(&classes, 90).unwrap()[0], [0x10, 0x10, 0x10, 90]);
    }
}
