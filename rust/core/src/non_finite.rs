//! Input values that are NaN or infinite. A network turns one such pixel
//! into NaN probabilities for its whole neighbourhood, which argmax then
//! reads as background, so they are never passed on silently: refused with
//! their count and the first one's place, or, when the caller opts in, read
//! as zero.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// What inference does with non-finite input values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonFinite {
    /// Fail with the count and the position of the first one.
    #[default]
    Refuse,
    /// Read them as 0 (before normalization).
    Zero,
}

/// How many of `values` are not finite, and the index of the first.
pub fn find(values: impl IntoIterator<Item = f32>) -> Option<(usize, usize)> {
    let mut found = None;
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            found = Some(found.map_or((1, i), |(n, first)| (n + 1, first)));
        }
    }
    found
}

/// Applies `policy` to `values` in place: zeroes them, or refuses them with
/// an error saying where (`place` describes the index of the first) and how to opt in.
pub fn enforce(policy: NonFinite, values: &mut [f32], what: &str, place: impl Fn(usize) -> String) -> Result<()> {
    match policy {
        NonFinite::Zero => values.iter_mut().filter(|v| !v.is_finite()).for_each(|v| *v = 0.0),
        NonFinite::Refuse => {
            if let Some((count, first)) = find(values.iter().copied()) {
                return Err(refusal(what, count, &place(first)));
            }
        }
    }
    Ok(())
}

/// The error for `count` non-finite values in `what`, the first at `place`.
pub fn refusal(what: &str, count: usize, place: &str) -> Error {
    Error::config(format!(
        "{what} holds {count} non-finite value{} (NaN or infinity), the first at {place}; \
         set the inference option non_finite to \"zero\" to read them as 0",
        if count == 1 { "" } else { "s" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_counted_refused_with_their_place_or_zeroed() {
        let mut values = [1.0, f32::NAN, 2.0, f32::INFINITY, f32::NEG_INFINITY];
        assert_eq!(find(values), Some((3, 1)));
        assert_eq!(find([0.0, 1.0]), None);
        let err = enforce(NonFinite::Refuse, &mut values, "the tiles", |i| format!("index {i}")).unwrap_err().to_string();
        assert!(err.contains("the tiles holds 3 non-finite values (NaN or infinity), the first at index 1"), "{err}");
        enforce(NonFinite::Zero, &mut values, "the tiles", |i| format!("index {i}")).unwrap();
        assert_eq!(values, [1.0, 0.0, 2.0, 0.0, 0.0]);
    }
}
