//! `dlclassifier bench-objects`: objects traced and measured from a class map
//! in memory, the speed that `bench/opencv_objects_bench.py` measures OpenCV's
//! contours and moments at on the same map.

use clap::Args;
use dlclassifier::data::read_mask;
use dlclassifier::objects::{DetectedObject, ObjectClass, ObjectOptions, ObjectSink, ObjectTracer, TracerInputs};
use dlclassifier::Result;
use ndarray::s;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchObjectsArgs {
    /// Class map (8-bit PNG of class indices); class 0 is not traced.
    #[arg(long)]
    class_map: PathBuf,
    /// Rows per band, as tiled inference delivers them.
    #[arg(long, default_value_t = 256)]
    band: usize,
    /// Untimed runs first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// Counts objects without keeping them.
struct Count(usize);

impl ObjectSink for Count {
    fn write(&mut self, _: &DetectedObject, _: &[ObjectClass], _: &[String]) -> Result<()> {
        self.0 += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

pub fn run(a: BenchObjectsArgs) -> Result<()> {
    let labels = read_mask(&a.class_map)?;
    let classes = usize::from(labels.iter().copied().max().unwrap_or(0)) + 1;
    let trace = || -> Result<usize> {
        let inputs = TracerInputs {
            classes: (0..classes).map(|i| ObjectClass { name: format!("class {i}"), color: [0, 0, 0] }).collect(),
            width: labels.ncols(),
            calibration: None,
            probabilities: false,
            channel_names: vec![],
            reader: None,
            origin: [0, 0],
        };
        let options = ObjectOptions { skip_classes: Some(vec!["class 0".into()]), ..Default::default() };
        let mut tracer = ObjectTracer::new(options, inputs)?;
        let mut count = Count(0);
        for y in (0..labels.nrows()).step_by(a.band) {
            tracer.push_rows(labels.slice(s![y..(y + a.band).min(labels.nrows()), ..]), None, None, &mut count)?;
        }
        tracer.finish(&mut count)?;
        Ok(count.0)
    };
    for _ in 0..a.warmup {
        trace()?;
    }
    let start = Instant::now();
    let mut objects = 0;
    for _ in 0..a.runs {
        objects = trace()?;
    }
    let seconds = start.elapsed().as_secs_f64() / a.runs as f64;
    let megapixels = labels.len() as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({"megapixels": megapixels, "objects": objects, "seconds": seconds, "mpx_per_s": megapixels / seconds, "band": a.band})
    );
    Ok(())
}
