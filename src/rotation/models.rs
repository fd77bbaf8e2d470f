//! Model discovery: which symbols have a trained model in `model_dir`.
//!
//! A model file's symbol is its name up to the first `_` or `.`: `BTCUSDT.pt`,
//! `BTCUSDT_v3_2025-10.pt` and `BTCUSDT.final.pt` all name BTCUSDT. Files that match the
//! glob but name no exchangeInfo symbol are reported, not used.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::select::Pattern;

/// What a scan of the model folder found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scan {
    /// File name → symbol, for files that name a known symbol.
    pub models: BTreeMap<String, String>,
    /// Files matching the glob whose name is no known symbol.
    pub unknown: Vec<String>,
}

impl Scan {
    pub fn symbols(&self) -> BTreeSet<String> {
        self.models.values().cloned().collect()
    }

    pub fn files(&self) -> BTreeSet<String> {
        self.models.keys().cloned().collect()
    }
}

/// The symbol a model file names: its name up to the first `_` or `.`.
pub fn symbol_of(file_name: &str) -> &str {
    file_name.split(['_', '.']).next().unwrap_or(file_name)
}

/// Scans `dir` (not recursively) for files matching `glob`: file name → symbol.
pub fn scan(dir: &Path, glob: &Pattern) -> Result<BTreeMap<String, String>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("rotation.model_dir {}: {e}", dir.display()))?;
    let mut found = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("rotation.model_dir {}: {e}", dir.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if glob.matches(&name) {
            let symbol = symbol_of(&name).to_owned();
            found.insert(name, symbol);
        }
    }
    Ok(found)
}

/// Splits scanned files into those naming a `known` symbol and the others.
pub fn classify(found: &BTreeMap<String, String>, known: &BTreeSet<String>) -> Scan {
    let mut scan = Scan::default();
    for (file, symbol) in found {
        if known.contains(symbol) {
            scan.models.insert(file.clone(), symbol.clone());
        } else {
            scan.unknown.push(file.clone());
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_symbol_is_the_name_up_to_the_first_underscore_or_dot() {
        assert_eq!(symbol_of("BTCUSDT.pt"), "BTCUSDT");
        assert_eq!(symbol_of("BTCUSDT_v3_2025.pt"), "BTCUSDT");
        assert_eq!(symbol_of("1000PEPEUSDT.final.pt"), "1000PEPEUSDT");
        assert_eq!(symbol_of("README"), "README");
    }

    #[test]
    fn scans_known_and_reports_unknown() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "BTCUSDT.pt",
            "ETHUSDT_v2.pt",
            "NOPE.pt",
            "BTCUSDT.txt",
            "notes.md",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("SOLUSDT.pt")).unwrap();
        let known: BTreeSet<String> = ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map(String::from).into();
        let scan = classify(
            &scan(dir.path(), &Pattern::new("*.pt").unwrap()).unwrap(),
            &known,
        );
        assert_eq!(
            scan.symbols(),
            ["BTCUSDT", "ETHUSDT"].map(String::from).into()
        );
        assert_eq!(scan.unknown, ["NOPE.pt"]);
        assert!(super::scan(&dir.path().join("missing"), &Pattern::new("*").unwrap()).is_err());
    }
}
