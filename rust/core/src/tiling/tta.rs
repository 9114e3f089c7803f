//! Test-time augmentation over the 8 symmetries of the square (the dihedral
//! group D4): predict every flipped and rotated version of a tile, undo the
//! transform on each prediction and average. Works on views, so transforms
//! cost nothing until the model needs a contiguous copy.

use crate::Result;
use ndarray::{Array4, ArrayView4, Axis};

/// Number of transforms.
pub const TRANSFORMS: usize = 8;

/// Transform `k` (`0..8`) of a `[N, C, T, T]` batch: a horizontal flip when
/// `k >= 4`, then `k % 4` quarter turns. `k = 0` is the identity.
pub fn transform(mut batch: ArrayView4<f32>, k: usize) -> ArrayView4<f32> {
    if k >= 4 {
        batch.invert_axis(Axis(3));
    }
    quarter_turns(batch, k % 4)
}

/// Undoes [`transform`] `k`.
pub fn inverse(batch: ArrayView4<f32>, k: usize) -> ArrayView4<f32> {
    let mut batch = quarter_turns(batch, (4 - k % 4) % 4);
    if k >= 4 {
        batch.invert_axis(Axis(3));
    }
    batch
}

fn quarter_turns(mut batch: ArrayView4<f32>, turns: usize) -> ArrayView4<f32> {
    for _ in 0..turns {
        batch.swap_axes(2, 3);
        batch.invert_axis(Axis(2));
    }
    batch
}

/// The mean of `predict` over all transforms of `tiles`, each mapped back.
pub fn average(tiles: ArrayView4<f32>, predict: impl Fn(ArrayView4<f32>) -> Result<Array4<f32>>) -> Result<Array4<f32>> {
    let run = |k| predict(transform(tiles.view(), k).as_standard_layout().view());
    let mut sum = run(0)?;
    for k in 1..TRANSFORMS {
        sum += &inverse(run(k)?.view(), k);
    }
    sum /= TRANSFORMS as f32;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    fn batch() -> Array4<f32> {
        Array::from_shape_fn((2, 3, 5, 5), |(n, c, y, x)| (n * 1000 + c * 100 + y * 10 + x) as f32)
    }

    #[test]
    fn transforms_are_the_eight_distinct_symmetries_and_invert_exactly() {
        let b = batch();
        let mut seen = Vec::new();
        for k in 0..TRANSFORMS {
            let t = transform(b.view(), k).to_owned();
            assert_eq!(inverse(t.view(), k), b, "transform {k}");
            assert!(!seen.contains(&t), "transform {k} repeats");
            seen.push(t);
        }
        assert_eq!(seen[0], b);
        // One quarter turn: out[y][x] = in[x][T-1-y].
        assert_eq!(seen[1][[0, 0, 0, 0]], b[[0, 0, 0, 4]]);
        assert_eq!(seen[1][[1, 2, 3, 1]], b[[1, 2, 1, 1]]);
    }

    #[test]
    fn average_of_an_equivariant_prediction_is_the_prediction() {
        let b = batch();
        let calls = std::cell::Cell::new(0);
        let mean = average(b.view(), |t| {
            calls.set(calls.get() + 1);
            assert!(t.is_standard_layout());
            Ok(t.mapv(|v| v * 2.0))
        })
        .unwrap();
        assert_eq!(calls.get(), 8);
        assert_eq!(mean, b.mapv(|v| v * 2.0));
    }
}
