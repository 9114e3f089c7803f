//! Which training loss a run uses; the losses themselves are `train::Loss`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The loss functions users can pick, with the Python extension's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    #[default]
    #[serde(alias = "ce", alias = "crossentropy")]
    CrossEntropy,
    /// Cross-entropy plus (1 - soft Dice), Dice over labelled pixels only.
    #[serde(alias = "dice_ce", alias = "ce+dice")]
    CeDice,
}

impl LossKind {
    /// Parses a name as the Python extension writes it (`ce_dice`,
    /// `cross_entropy`) or labels it in its dialog ("Cross Entropy").
    pub fn from_name(name: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(super::name_key(name))).map_err(|_| {
            let known = ["focal", "focal_dice", "boundary_ce", "boundary_ce_dice", "lovasz", "ce_lovasz"];
            let hint = if known.contains(&super::name_key(name).as_str()) { " (a loss of the Python extension not available here)" } else { "" };
            Error::config(format!("unknown loss '{name}'{hint}; use cross_entropy or ce_dice"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_the_extensions_labels_parse() {
        assert_eq!(LossKind::from_name("ce_dice").unwrap(), LossKind::CeDice);
        assert_eq!(LossKind::from_name("Cross Entropy").unwrap(), LossKind::CrossEntropy);
        assert_eq!(LossKind::from_name("CE").unwrap(), LossKind::CrossEntropy);
        assert!(LossKind::from_name("lovasz").unwrap_err().to_string().contains("not available here"));
        assert!(LossKind::from_name("l2").unwrap_err().to_string().contains("unknown loss 'l2'; use"));
    }
}
