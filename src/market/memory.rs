//! A source that answers from memory: the bodies are given, nothing is sent. The whole
//! pipeline runs on it inside a unit test (hyperfine's mock executor is the model).

use std::collections::HashMap;
use std::path::Path;

use super::{Endpoint, FetchError, Source};

/// Bodies by endpoint; klines by symbol, whatever window is asked for.
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    bodies: HashMap<String, Vec<u8>>,
}

impl MemorySource {
    /// The body `endpoint` answers with.
    pub fn insert(&mut self, endpoint: &Endpoint<'_>, body: impl Into<Vec<u8>>) {
        self.bodies.insert(key(endpoint), body.into());
    }

    /// Every body of a snapshot folder (`universe snapshot`'s layout), read into memory.
    pub fn from_snapshot(dir: &Path) -> std::io::Result<Self> {
        let mut source = Self::default();
        for (name, endpoint) in [
            ("time.json", Endpoint::Time),
            ("exchangeInfo.json", Endpoint::ExchangeInfo),
            ("ticker_24hr.json", Endpoint::Ticker24h),
            ("bookTicker.json", Endpoint::BookTicker),
        ] {
            source.insert(&endpoint, std::fs::read(dir.join(name))?);
        }
        for entry in std::fs::read_dir(dir.join("klines"))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(symbol) = name.strip_suffix(".json") {
                let endpoint = Endpoint::Klines {
                    symbol,
                    start_time: 0,
                    limit: 0,
                };
                source.insert(&endpoint, std::fs::read(entry.path())?);
            }
        }
        Ok(source)
    }
}

fn key(endpoint: &Endpoint<'_>) -> String {
    match endpoint {
        Endpoint::Klines { symbol, .. } => format!("klines/{symbol}"),
        other => other.path_and_query(),
    }
}

impl Source for MemorySource {
    fn fetch(&self, endpoint: &Endpoint<'_>) -> Result<Vec<u8>, FetchError> {
        let key = key(endpoint);
        self.bodies
            .get(&key)
            .cloned()
            .ok_or_else(|| FetchError::Snapshot(format!("no body in memory for {key}")))
    }

    /// Given bodies are recorded data: their age says nothing about a fault.
    fn is_replay(&self) -> bool {
        true
    }
}
