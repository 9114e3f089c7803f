//! Which training loss a run uses; the losses themselves are `train::Loss`.

use serde::{Deserialize, Serialize};

/// The loss functions users can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    #[default]
    CrossEntropy,
    /// Cross-entropy plus (1 - soft Dice), Dice over labelled pixels only.
    CeDice,
}
