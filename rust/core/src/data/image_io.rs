//! Reading training images (TIFF, PNG, JPEG, QuPath `.raw`) as CHW float
//! intensities, and class masks as 8-bit index images.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ndarray::{Array2, Array3, Axis, Slice};
use tiff::decoder::{Decoder, DecodingResult};

use super::raw::read_raw;
use crate::{Error, Result};

/// A decoded image and the bit depth of its stored samples.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedImage {
    /// CHW, raw intensities (not rescaled).
    pub data: Array3<f32>,
    /// `None` for `.raw`, whose floats may hold data of any original depth.
    pub bit_depth: Option<u32>,
}

/// Whether `path` has an extension [`load_image`] understands.
pub fn is_image_file(path: &Path) -> bool {
    matches!(extension(path).as_deref(), Some("tif" | "tiff" | "png" | "jpg" | "jpeg" | "raw"))
}

/// Reads an image as CHW floats.
pub fn read_image(path: impl AsRef<Path>) -> Result<Array3<f32>> {
    load_image(path).map(|im| im.data)
}

/// Reads an image and its bit depth. TIFF keeps every stored sample as a
/// channel (QuPath writes multi-channel fluorescence there); PNG and JPEG
/// drop alpha, which is transparency rather than a measurement.
pub fn load_image(path: impl AsRef<Path>) -> Result<LoadedImage> {
    let path = path.as_ref();
    match extension(path).as_deref() {
        Some("tif" | "tiff") => read_tiff(path),
        Some("raw") => Ok(LoadedImage { data: read_raw(path)?, bit_depth: None }),
        Some("png" | "jpg" | "jpeg") => read_with_image_crate(path),
        _ => Err(Error::data(path, "unsupported image format (expected .tif, .tiff, .png, .jpg, .jpeg or .raw)")),
    }
}

/// Reads a class-index mask, which must be 8-bit single-channel.
pub fn read_mask(path: impl AsRef<Path>) -> Result<Array2<u8>> {
    let path = path.as_ref();
    let image = decode_with_image_crate(path)?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    match image {
        image::DynamicImage::ImageLuma8(gray) => {
            Ok(Array2::from_shape_vec((h, w), gray.into_raw()).expect("buffer matches dimensions"))
        }
        other => Err(Error::data(
            path,
            format!("a mask must be 8-bit single-channel class indices, but this is {:?}", other.color()),
        )),
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

fn read_tiff(path: &Path) -> Result<LoadedImage> {
    let bad = |e: tiff::TiffError| Error::data(path, format!("cannot decode TIFF: {e}"));
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = Decoder::new(BufReader::new(file)).map_err(bad)?;
    let (w, h) = decoder.dimensions().map_err(bad)?;
    let (w, h) = (w as usize, h as usize);
    let color = decoder.colortype().map_err(bad)?;
    // Palette indices, CMYK and YCbCr are not intensities the model could use as they are.
    if !matches!(
        color,
        tiff::ColorType::Gray(_)
            | tiff::ColorType::GrayA(_)
            | tiff::ColorType::RGB(_)
            | tiff::ColorType::RGBA(_)
            | tiff::ColorType::Multiband { .. }
    ) {
        return Err(Error::data(path, format!("unsupported TIFF colour type {color:?}")));
    }
    let mut buffer = DecodingResult::U8(Vec::new());
    let layout = decoder.read_image_to_buffer(&mut buffer).map_err(bad)?;
    if buffer.as_buffer(0).as_bytes().len() < layout.complete_len {
        return Err(Error::data(path, "TIFF too large to decode all its channel planes"));
    }
    let samples: Vec<f32> = match buffer {
        DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(|x| x as f32).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(|x| x as f32).collect(),
        DecodingResult::F32(v) => v,
        DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        _ => return Err(Error::data(path, format!("unsupported TIFF sample type ({color:?})"))),
    };
    // Samples per pixel from the data: RGB with extra non-alpha samples still reports RGB.
    if h * w == 0 || samples.len() % (h * w) != 0 {
        return Err(Error::data(
            path,
            format!("TIFF decoded to {} samples, not a whole number of {w}x{h} planes ({color:?})", samples.len()),
        ));
    }
    let channels = samples.len() / (h * w);
    let data = if layout.planes > 1 {
        Array3::from_shape_vec((channels, h, w), samples).expect("length checked")
    } else {
        hwc_to_chw(Array3::from_shape_vec((h, w, channels), samples).expect("length checked"))
    };
    Ok(LoadedImage { data, bit_depth: Some(u32::from(color.bit_depth())) })
}

fn decode_with_image_crate(path: &Path) -> Result<image::DynamicImage> {
    image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::data(path, format!("cannot decode image: {e}")))
}

fn read_with_image_crate(path: &Path) -> Result<LoadedImage> {
    let image = decode_with_image_crate(path)?;
    let color = image.color();
    let (w, h) = (image.width() as usize, image.height() as usize);
    let stored = usize::from(color.channel_count());
    let sample_bytes = usize::from(color.bytes_per_pixel()) / stored;
    let bytes = image.as_bytes();
    let samples: Vec<f32> = match (color, sample_bytes) {
        (image::ColorType::Rgb32F | image::ColorType::Rgba32F, _) => {
            bytes.chunks_exact(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect()
        }
        (_, 1) => bytes.iter().map(|&b| f32::from(b)).collect(),
        (_, 2) => bytes.chunks_exact(2).map(|b| f32::from(u16::from_ne_bytes(b.try_into().unwrap()))).collect(),
        _ => return Err(Error::data(path, format!("unsupported pixel type {color:?}"))),
    };
    let keep = if color.has_alpha() { stored - 1 } else { stored };
    let hwc = Array3::from_shape_vec((h, w, stored), samples).expect("buffer matches dimensions");
    let data = hwc_to_chw(hwc.slice_axis(Axis(2), Slice::from(0..keep)).to_owned());
    Ok(LoadedImage { data, bit_depth: Some(8 * sample_bytes as u32) })
}

fn hwc_to_chw(hwc: Array3<f32>) -> Array3<f32> {
    hwc.permuted_axes([2, 0, 1]).as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use tiff::encoder::{colortype, TiffEncoder};

    fn write_tiff<C: colortype::ColorType>(path: &Path, w: u32, h: u32, data: &[C::Inner])
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut enc = TiffEncoder::new(File::create(path).unwrap()).unwrap();
        enc.write_image::<C>(w, h, data).unwrap();
    }

    /// Five 16-bit samples per pixel, as QuPath writes multiplexed fluorescence.
    struct Gray16x5;
    impl colortype::ColorType for Gray16x5 {
        type Inner = u16;
        const TIFF_VALUE: tiff::tags::PhotometricInterpretation = tiff::tags::PhotometricInterpretation::BlackIsZero;
        const BITS_PER_SAMPLE: &'static [u16] = &[16; 5];
        const SAMPLE_FORMAT: &'static [tiff::tags::SampleFormat] = &[tiff::tags::SampleFormat::Uint; 5];
        fn horizontal_predict(_: &[u16], _: &mut Vec<u16>) {
            unreachable!("written without a predictor")
        }
    }

    #[test]
    fn tiff_gray_8_16_and_float() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tif");
        write_tiff::<colortype::Gray8>(&p, 3, 2, &[1, 2, 3, 4, 5, 255]);
        let im = load_image(&p).unwrap();
        assert_eq!(im.data, array![[[1.0, 2.0, 3.0], [4.0, 5.0, 255.0]]]);
        assert_eq!(im.bit_depth, Some(8));

        let p = dir.path().join("b.TIFF");
        write_tiff::<colortype::Gray16>(&p, 2, 1, &[0, 65535]);
        let im = load_image(&p).unwrap();
        assert_eq!((im.data, im.bit_depth), (array![[[0.0, 65535.0]]], Some(16)));

        let p = dir.path().join("c.tiff");
        write_tiff::<colortype::Gray32Float>(&p, 1, 2, &[-1.5, 1e6]);
        let im = load_image(&p).unwrap();
        assert_eq!((im.data, im.bit_depth), (array![[[-1.5], [1e6]]], Some(32)));
    }

    #[test]
    fn tiff_chunky_rgb_and_multiband_become_chw() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rgb.tif");
        // Two pixels: (10, 20, 30) and (40, 50, 60).
        write_tiff::<colortype::RGB8>(&p, 2, 1, &[10, 20, 30, 40, 50, 60]);
        assert_eq!(read_image(&p).unwrap(), array![[[10.0, 40.0]], [[20.0, 50.0]], [[30.0, 60.0]]]);

        let p = dir.path().join("multi.tif");
        let data: Vec<u16> = (0..2 * 5).map(|i| i * 1000).collect();
        write_tiff::<Gray16x5>(&p, 2, 1, &data);
        let im = load_image(&p).unwrap();
        assert_eq!(im.data.dim(), (5, 1, 2));
        assert_eq!(im.data[[3, 0, 1]], 8000.0);
        assert_eq!(im.data[[4, 0, 0]], 4000.0);
        assert_eq!(im.bit_depth, Some(16));
    }

    /// A hand-built little-endian TIFF: 2x2, two 8-bit samples, PlanarConfiguration 2.
    fn planar_tiff() -> Vec<u8> {
        let entries: [(u16, u16, u32, u32); 10] = [
            (256, 3, 1, 2),           // ImageWidth
            (257, 3, 1, 2),           // ImageLength
            (258, 3, 2, 8 | 8 << 16), // BitsPerSample 8, 8 (inline)
            (259, 3, 1, 1),           // Compression none
            (262, 3, 1, 1),           // BlackIsZero
            (273, 4, 2, 134),         // StripOffsets -> array at 134
            (277, 3, 1, 2),           // SamplesPerPixel
            (278, 3, 1, 2),           // RowsPerStrip
            (279, 4, 2, 142),         // StripByteCounts -> array at 142
            (284, 3, 1, 2),           // PlanarConfiguration planar
        ];
        let mut b = b"II*\0".to_vec();
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, ty, count, value) in entries {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(&count.to_le_bytes());
            b.extend_from_slice(&value.to_le_bytes());
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(b.len(), 134);
        for v in [150u32, 154, 4, 4] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[1, 2, 3, 4, 101, 102, 103, 104]);
        b
    }

    #[test]
    fn tiff_planar_channels_are_separated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("planar.tif");
        std::fs::write(&p, planar_tiff()).unwrap();
        assert_eq!(read_image(&p).unwrap(), array![[[1.0, 2.0], [3.0, 4.0]], [[101.0, 102.0], [103.0, 104.0]]]);
    }

    #[test]
    fn png_keeps_gray_and_rgb_drops_alpha_and_reads_16_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rgba.png");
        image::RgbaImage::from_raw(2, 1, vec![1, 2, 3, 200, 4, 5, 6, 0]).unwrap().save(&p).unwrap();
        let im = load_image(&p).unwrap();
        assert_eq!((im.data, im.bit_depth), (array![[[1.0, 4.0]], [[2.0, 5.0]], [[3.0, 6.0]]], Some(8)));

        let p = dir.path().join("gray16.png");
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(1, 2, vec![300u16, 65535]).unwrap().save(&p).unwrap();
        let im = load_image(&p).unwrap();
        assert_eq!((im.data, im.bit_depth), (array![[[300.0], [65535.0]]], Some(16)));
    }

    #[test]
    fn jpeg_decodes_close_to_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("flat.jpg");
        image::RgbImage::from_pixel(16, 8, image::Rgb([200, 100, 50])).save(&p).unwrap();
        let im = read_image(&p).unwrap();
        assert_eq!(im.dim(), (3, 8, 16));
        for (c, expected) in [200.0, 100.0, 50.0].into_iter().enumerate() {
            assert!(im.index_axis(Axis(0), c).iter().all(|v| (v - expected).abs() <= 3.0), "channel {c}");
        }
    }

    #[test]
    fn masks_must_be_8_bit_single_channel() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.png");
        image::GrayImage::from_raw(2, 2, vec![0, 1, 255, 2]).unwrap().save(&p).unwrap();
        assert_eq!(read_mask(&p).unwrap(), array![[0, 1], [255, 2]]);

        let p = dir.path().join("rgb.png");
        image::RgbImage::new(2, 2).save(&p).unwrap();
        let e = read_mask(&p).unwrap_err().to_string();
        assert!(e.contains("rgb.png") && e.contains("8-bit single-channel") && e.contains("Rgb8"), "{e}");

        let p = dir.path().join("m16.png");
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(1, 1, vec![1u16]).unwrap().save(&p).unwrap();
        assert!(read_mask(&p).unwrap_err().to_string().contains("L16"));
    }

    #[test]
    fn corrupt_unknown_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.tiff");
        std::fs::write(&p, b"II*\0garbage").unwrap();
        let e = read_image(&p).unwrap_err().to_string();
        assert!(e.contains("broken.tiff: cannot decode TIFF"), "{e}");
        let p = dir.path().join("broken.png");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\nnope").unwrap();
        assert!(read_image(&p).unwrap_err().to_string().contains("cannot decode image"));
        assert!(read_image(dir.path().join("x.bmp")).unwrap_err().to_string().contains("unsupported image format"));
        assert!(matches!(read_image(dir.path().join("missing.tif")), Err(Error::Io { .. })));
        assert!(is_image_file(Path::new("a/patch_0001.TIF")) && !is_image_file(Path::new("a/.DS_Store")));
    }
}
