//! Predictors: opening models, predicting tiles in caller memory, applying
//! a model to a whole image.

use super::{any_overlap, BytesMut, Image, ImageSource, Predictor};
use crate::error::FfiError;
use dlclassifier::tasks::pixel::apply::{apply_to_image, ApplyReport, ApplySettings};
use dlclassifier::data::read_image;
use dlclassifier::inference::InferenceOptions;
use dlclassifier::tasks::pixel::classify::classify_region;
use dlclassifier::tasks::pixel::{clear_cache as clear_model_cache, open_cached, ModelInfo, Outputs};
use dlclassifier::tiling::{InMemoryImage, RegionReader, Window};
use dlclassifier::job::JobControl;
use std::sync::Arc;

bridge_fn! {
    /// Opens a model folder written by training, through the engine's model
    /// cache: predictors of one folder with equal options share one loaded
    /// model, reloaded when the folder's files change; `dlc_clear_cache`
    /// releases models no predictor holds. A blank tile is run at once, so
    /// model files that contradict their metadata fail here.
    ///
    /// `options` may be NULL for defaults, else a JSON object with any of
    /// `"backend"` (`"auto"`, `"onnx"`, `"torch"`), `"device"` (`"auto"`,
    /// `"cpu"`, `"cuda"`, `"cuda:N"`, `"mps"`), `"fp16"`, `"threads"`,
    /// `"concurrent_runs"`, `"gpu_reservation"` (`{"bytes": N, "timeout_ms": N}`,
    /// see `dlc_reserve`). On success `*out` is a predictor to free with
    /// `dlc_predictor_free`; on failure it is NULL.
    fn predictor_open(model_dir: path, options: json[InferenceOptions]) -> handle[Predictor] {
        Ok(open_cached(&model_dir, &options)?)
    }
}

bridge_fn! {
    /// Opens an external ONNX model. Channels, classes and any fixed input
    /// size come from the graph; `metadata_path` (may be NULL) names a
    /// `metadata.json` adding class names, colours and normalization.
    /// Options as for `dlc_predictor_open` (the backend must be `"auto"` or `"onnx"`).
    fn predictor_open_onnx(onnx_path: path, metadata_path: opt_path, options: json[InferenceOptions]) -> handle[Predictor] {
        Ok(Arc::new(Predictor::open_onnx(&onnx_path, metadata_path.as_deref(), &options)?))
    }
}

bridge_fn! {
    /// What the model takes and gives, as JSON: `name`, `source`,
    /// `in_channels`, `num_classes`, `classes` (`index`, `name`, `color`),
    /// `tile_size`, `fixed_size` (`[height, width]` or null), `min_size` (the
    /// smallest side the model runs on; smaller tiles are padded up to it),
    /// `backend`, `downsample` (of the training images; inference runs at it
    /// by default) and `training_pixel_size_um` (µm per full-resolution pixel
    /// of the training images, or null). Free `*out` with `dlc_string_free`.
    fn predictor_info_json(predictor: handle[Predictor]) -> json[ModelInfo] {
        Ok(predictor.info().clone())
    }
}

bridge_fn! {
    /// Predicts a batch of tiles. The model's training normalization is
    /// applied inside; tiles of any size work.
    ///
    /// `tiles` holds the bytes of the batch laid out as `layout` says. Give
    /// `probabilities` (in the input's order, `[N][H][W][K]` for HWC,
    /// `[N][K][H][W]` for CHW; `probability_format` 0 for `float`, 1 for
    /// `uint8_t` as round(255 x p)), `class_map` (one byte per pixel, the most
    /// likely class, `[N][H][W]`), or both; the other has `data` NULL. Buffers
    /// must not overlap. Nothing is written unless the call succeeds.
    fn predictor_predict(
        predictor: handle[Predictor],
        tiles: bytes,
        layout: layout,
        probabilities: opt_bytes_mut,
        probability_format: probability_format,
        class_map: opt_bytes_mut,
    ) {
        let (mut probabilities, mut class_map) = (probabilities, class_map);
        if any_overlap(&[Some(tiles.range()), probabilities.as_ref().map(BytesMut::range), class_map.as_ref().map(BytesMut::range)]) {
            return Err(FfiError::invalid_argument("the output buffers must not overlap the tiles or each other"));
        }
        let outputs = Outputs {
            probabilities: probabilities.as_mut().map(|p| (p.as_mut_slice(), probability_format)),
            class_map: class_map.as_mut().map(BytesMut::as_mut_slice),
        };
        Ok(predictor.predict(tiles.as_slice(), &layout, outputs)?)
    }
}

bridge_fn! {
    /// Classifies a whole image (C: a TIFF, PNG or JPEG file at `image`) tile
    /// by tile and writes the results into `out_dir` (created if needed), each
    /// file only once complete: `class_map.png`, `overlay.png`,
    /// `probabilities.tif` (if asked for), `measurements.json` and `.csv`.
    ///
    /// `options` may be NULL for defaults, else a JSON object with any of
    /// `"tile_size"`, `"overlap"` (default: the model's tiling), `"blend"`
    /// (`"linear"`, `"gaussian"`, `"center_crop"`, `"none"`), `"batch_size"`,
    /// `"tta"`, `"class_map"` (bool), `"probabilities"` (`"float32"` or
    /// `"uint8"`), `"overlay_alpha"` (0-255, or null for no overlay),
    /// `"overlay_mode"` (`"blend"`: the class colours over the image, a class
    /// named Background left out, the default; `"classes"`: the colours
    /// alone, as RGBA), `"display_range"` (`[[min, max], ...]` per image
    /// channel under a blended overlay; default: the 0.5th to 99.5th
    /// percentile of a sample of the image), `"measurements"` (bool),
    /// `"objects"` (trace the classes into `objects.geojson`, QuPath's
    /// GeoJSON, and `objects.csv`: `{"object_type": "detection" |
    /// "annotation", "min_area", "fill_holes_below", "area_unit": "pixels" |
    /// "calibrated", "simplify", "smooth", "skip_classes": [...], "clip":
    /// [{"exterior": [[x, y], ...], "holes": [[[x, y], ...], ...]}, ...]}`,
    /// each optional; `clip` keeps objects to a parent region), `"region"`
    /// (restricts the run to `{"polygons": [{"exterior": [[x, y], ...],
    /// "holes": [...]}, ...]}`, `{"wkt": "POLYGON (...)"}`, `{"geojson":
    /// {...}}` (a geometry, feature or feature collection) or `{"mask":
    /// "file"}` (nonzero inside, the image's size): only the tiles it needs
    /// run, every output covers its bounding box, `class_map.png` is 255
    /// outside it; invalid polygons, a region outside the image or a mask of
    /// another size are refused before anything is written), `"pixel_size"` (`{"width", "height", "unit"}`;
    /// in µm it also chooses the downsample, with the model's pixel size),
    /// `"downsample"` (the factor the image is downsampled by before the
    /// model sees it; default: from the pixel sizes, else the model's
    /// training downsample; outputs stay at full resolution) and `"truth"`
    /// (a mask file to score against). `job` (may be NULL) can cancel the run
    /// from another thread (`DLC_CANCELLED`). On success `*out` (if `out` is
    /// not NULL) is a JSON object with `files`, `measurements` (its `named`:
    /// `[{"name", "value"}]` under QuPath's names, `<class> area µm^2` and
    /// `<class> %`), `truth` (scores or null), `objects` (`count`, `per_class`, `measurements`:
    /// the table's columns; or null), `region` (`bounds` `{x, y, width,
    /// height}`, `pixels`, `tiles_skipped`; or null), `tiles` (run),
    /// `downsample` (the factor used)
    /// and `seconds`, to free with `dlc_string_free`.
    fn predictor_apply(predictor: handle[Predictor], image: image, out_dir: path, options: json[ApplySettings], job: opt_handle[Job]) -> report[ApplyReport] {
        let ImageSource { image, mut progress, measurements } = image;
        let tiling = options.tiling(predictor.info());
        // Before an image file is read, so that bad settings fail at once.
        tiling.validate_for(predictor.info().fixed_size.map(|(side, _)| side))?;
        let mut outputs = options.outputs()?;
        if let Some(objects) = outputs.objects.as_mut() {
            objects.custom.0.extend(measurements);
        }
        let reader: Box<dyn RegionReader> = match image {
            Image::File(path) => Box::new(InMemoryImage(read_image(path)?)),
            Image::Reader(reader) => reader,
        };
        let control = job.map_or_else(JobControl::new, |job| (*job).clone());
        let report = apply_to_image(&predictor, reader.as_ref(), &out_dir, &tiling, &outputs, &control, &mut |p| {
            if !progress(p.tiles_done, p.tiles_total) {
                control.cancel();
            }
        })?;
        Ok(report)
    }
}

bridge_fn! {
    /// Classifies the rectangle `x`, `y`, `width` x `height` of an image (C: a
    /// TIFF, PNG or JPEG file at `image`, read whole on each call) into caller
    /// buffers, as a live overlay needs: the result a whole-image
    /// `dlc_predictor_apply` gives there, with context read from the image
    /// around the rectangle, at the resolution the settings choose, returned
    /// at full resolution. `options` as for `dlc_predictor_apply`, but only
    /// its tiling (`"tile_size"`, `"overlap"`, `"blend"`, `"batch_size"`,
    /// `"tta"`), `"downsample"` and `"pixel_size"` fields. Give
    /// `probabilities` (planar, `[K][height][width]`, `probability_format` 0
    /// for `float`, 1 for `uint8_t`), `class_map` (`[height][width]` bytes),
    /// or both; the other has `data` NULL. They are written only if the call
    /// succeeds. `job` (may be NULL) can cancel it.
    fn predictor_classify_region(
        predictor: handle[Predictor],
        image: image,
        x: size,
        y: size,
        width: size,
        height: size,
        options: json[ApplySettings],
        probabilities: opt_bytes_mut,
        probability_format: probability_format,
        class_map: opt_bytes_mut,
        job: opt_handle[Job],
    ) {
        let (mut probabilities, mut class_map) = (probabilities, class_map);
        if any_overlap(&[probabilities.as_ref().map(BytesMut::range), class_map.as_ref().map(BytesMut::range)]) {
            return Err(FfiError::invalid_argument("the output buffers must not overlap"));
        }
        let outputs = Outputs {
            probabilities: probabilities.as_mut().map(|p| (p.as_mut_slice(), probability_format)),
            class_map: class_map.as_mut().map(BytesMut::as_mut_slice),
        };
        let reader: Box<dyn RegionReader> = match image.image {
            Image::File(path) => Box::new(InMemoryImage(read_image(path)?)),
            Image::Reader(reader) => reader,
        };
        let control = job.map_or_else(JobControl::new, |job| (*job).clone());
        let window = Window { x, y, width, height };
        Ok(classify_region(&predictor, reader.as_ref(), window, &options, outputs, &control)?)
    }
}

bridge_fn! {
    /// Frees a predictor. NULL, or a predictor already freed, is ignored.
    /// Calls still running on it finish first.
    fn predictor_free(predictor: handle_id[Predictor]) {
        crate::handles::remove::<Predictor>(predictor);
        Ok(())
    }
}

bridge_fn! {
    /// Releases the loaded models that no open predictor holds (the cache
    /// of `dlc_predictor_open`).
    fn clear_cache() {
        clear_model_cache();
        Ok(())
    }
}
