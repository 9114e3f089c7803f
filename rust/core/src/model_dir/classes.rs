//! The output classes of a model, and the colours of classes that metadata does not colour.

use serde::{Deserialize, Serialize};

/// One output class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMeta {
    pub index: usize,
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
}

/// Colours for classes that metadata does not colour.
const PALETTE: [&str; 8] = ["#000000", "#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4", "#46f0f0"];

/// The default `#RRGGBB` colour of class `index`.
pub fn class_color(index: usize) -> String {
    PALETTE[index % PALETTE.len()].to_string()
}
