//! `manifest.json` in an imported history folder: every archive file merged, with its
//! SHA-256, the rows it brought and the time it covers. A rerun skips what it lists
//! unchanged, sees a file Binance has since replaced (another checksum), and knows which
//! file a row came from when a newer one disagrees.

use std::collections::BTreeMap;
use std::path::Path;

use super::tree::Kind;

pub const FILE: &str = "manifest.json";

/// The manifest: by file name below `futures/um/`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub files: BTreeMap<String, Entry>,
}

/// One merged file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub symbol: String,
    pub kind: Kind,
    pub sha256: String,
    /// Rows read from it (those within `[from_ms, to_ms)`).
    pub rows: usize,
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Manifest {
    /// The manifest of `out`; `None` when there is none.
    pub fn read(out: &Path) -> Result<Option<Self>, String> {
        let path = out.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The files merged for `symbol` of `kind`.
    pub fn of<'a>(
        &'a self,
        symbol: &'a str,
        kind: Kind,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        self.files
            .iter()
            .filter(move |(_, e)| e.symbol == symbol && e.kind == kind)
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        bytes
    }
}
