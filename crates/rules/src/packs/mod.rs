//! Built-in rule packs: rule sets Quarry ships and generates, selectable with `--pack`.

pub mod rmm;

use crate::model::Rule;

/// The names `--pack` accepts.
pub const NAMES: &[&str] = &[rmm::PACK];

/// The RMM pack (see [`rmm`]).
pub fn rmm() -> Vec<Rule> {
    rmm::rules()
}

/// A pack by name.
pub fn by_name(name: &str) -> Option<Vec<Rule>> {
    match name {
        rmm::PACK => Some(rmm()),
        _ => None,
    }
}
