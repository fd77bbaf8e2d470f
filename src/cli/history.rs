//! `universe history`: the subcommands that build a history folder for backtests.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Knobs;
use crate::settings::knobs::on;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: HistoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Fetch closed 15m candles of every USDT perpetual into a history folder; a rerun
    /// resumes where each symbol's file ends.
    Fetch(HistoryFetchArgs),
    /// Import Binance's public archive (data.binance.vision, as downloaded) into a history
    /// folder: 15m klines and funding rates of USDT perpetuals, delisted ones included.
    /// A rerun adds what is new and changes nothing else.
    Import(HistoryImportArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
The archive: data/futures/um/monthly/klines/SYMBOL/15m/SYMBOL-15m-YYYY-MM.zip,
data/futures/um/daily/klines/SYMBOL/15m/SYMBOL-15m-YYYY-MM-DD.zip and
data/futures/um/monthly/fundingRate/SYMBOL/SYMBOL-fundingRate-YYYY-MM.zip, each with its
.CHECKSUM beside it. Daily files fill the months that have no monthly file; where both cover
a candle they must agree exactly. A file with a bad checksum, a zip that does not open, a row
that breaks the candle rules, or a disagreement is named by file and line and not merged:
everything else is imported, and the run exits 3 with the summary. Delivery contracts
(BTCUSDT_240628) are skipped. manifest.json in the history folder lists every merged file
with its checksum; a file Binance has since replaced is reported, and merged again only with
--replace-changed.

Example:
  universe history import ~/binance-archive --out ~/history --exchange-info exchangeInfo.json")]
pub struct HistoryImportArgs {
    /// The archive as downloaded: a folder holding data/futures/um/ (or that folder itself).
    #[arg(value_name = "ARCHIVE_DIR")]
    pub archive: PathBuf,

    /// The history folder (created if missing; an earlier import's is added to).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Only these symbols, comma-separated [default: every USDT perpetual in the archive].
    #[arg(long, value_name = "SYMBOLS", value_delimiter = ',')]
    pub symbols: Vec<String>,

    /// First day, UTC: 2024-01-01 [default: the archive's first].
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,

    /// End day (exclusive), UTC: 2025-01-01 [default: after the archive's last].
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,

    /// An exchangeInfo body (GET /fapi/v1/exchangeInfo) whose records the history keeps
    /// for the symbols it lists; the others get records derived from the archive.
    #[arg(long, value_name = "FILE")]
    pub exchange_info: Option<PathBuf>,

    /// Merge again the files Binance replaced since they were imported.
    #[arg(long)]
    pub replace_changed: bool,

    /// Print what was imported as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryFetchArgs {
    /// The history folder (created if missing; an existing one is resumed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// First candle, UTC: 2023-07-01 or "2023-07-01 12:00".
    #[arg(long, value_name = "TIME")]
    pub from: String,

    /// End (exclusive), UTC [default: the exchange's time now].
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Only these USDT perpetuals, comma-separated [default: all of them].
    #[arg(long, value_name = "SYMBOLS", value_delimiter = ',')]
    pub symbols: Vec<String>,

    /// Stop after this long (90m, 6h, 2d); what was fetched stays, a rerun resumes.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub deadline: std::time::Duration,

    #[command(flatten)]
    pub knobs: Knobs<{ on::FETCH }>,

    /// Print what was fetched as JSON.
    #[arg(long, env = "UNIVERSE_JSON")]
    pub json: bool,
}
