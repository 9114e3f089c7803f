//! One thing wrong with a model folder, as validation and checksum checks report it.

use serde::{Deserialize, Serialize};

/// One thing wrong with a model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The file concerned, relative to the folder; empty for the folder itself.
    pub file: String,
    pub reason: String,
}

impl Problem {
    pub fn new(file: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem { file: file.into(), reason: reason.into() }
    }
}
