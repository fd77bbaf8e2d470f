//! Every knob, resolved once: command line > environment > config file > default.
//!
//! The knobs are one table ([`knobs::KNOBS`]): key, flag, variable, default, range,
//! help. [`layers`] resolves each from the first layer that has it and checks it against
//! the table; this module assembles the resolved values into the settings the commands
//! run on, with the rules that tie knobs together (`min_symbols ≤ top`, …). The config
//! file is TOML (`--config`, `UNIVERSE_CONFIG`); `examples/universe.toml` lists every key.
//! A key the file does not know, a value of the wrong type or out of range is a usage
//! error that names the key and where the value came from (the file, the flag or the
//! variable). Each resolved value remembers its origin, for `universe config`.

mod kind;
pub mod knobs;
mod layers;
mod values;

use crate::market::listing::ListingFrom;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use layers::ConfigFile;
pub use layers::{Entry, Origin, Overrides};
use values::Values;

use crate::error::UsageError;
use crate::market::client::ClientSettings;
use crate::policy::ExitParams;
use crate::select::churn::Churn;
use crate::select::{Filters, LeverageTable, Lists, Pattern, Regimes, Spread, Weights};
use crate::store::{Keys, Location};

/// Everything a command may read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client: ClientSettings,
    pub filters: Filters,
    /// `filters.listing_from`, resolved for `exchange.base_url`.
    pub listing_from: ListingFrom,
    pub top: usize,
    pub min_symbols: usize,
    pub weights: Weights,
    /// `score.hybrid`: multiply scores by the performance factor of symbols with at least
    /// this many trades; `None`: off.
    pub hybrid_min_trades: Option<u64>,
    pub leverage: LeverageTable,
    pub churn: Churn,
    pub regimes: Regimes,
    pub max_correlation: Option<f64>,
    pub lists: Lists,
    pub store: Location,
    pub keys: Keys,
    pub valid_for_s: u64,
    /// `policy.refresh_interval_s`: when the next refresh is due, after a publish.
    pub refresh_interval_s: u64,
    /// `policy.signing_key_file`: where the key that signs each policy is; `None`: unsigned.
    pub signing_key_file: Option<PathBuf>,
    /// `policy.trusted_keys`: the keys `proof` accepts a signature by.
    pub trusted_keys: crate::policy::signing::Trusted,
    /// `[policy.extra]`: field name → JSON text, written into the policy as given.
    pub extra: BTreeMap<String, String>,
    /// `[policy.harvest_params]`, `[policy.kill_params]`: carried into the policy.
    pub exit_params: ExitParams,
    pub rotation: crate::rotation::Config,
    /// How far the exchange's clock may lag the local one before a live refresh fails
    /// closed; `None`: not checked.
    pub max_data_age: Option<Duration>,
    /// Where closed candles are cached between live refreshes; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// The CA that signed a `rediss://` server's certificate, when not a public root.
    pub tls_ca: Option<PathBuf>,
    /// Every value with its origin.
    pub entries: Vec<Entry>,
}

impl Settings {
    /// The key that signs policies, if one is configured; a key file that cannot be read,
    /// or that others may read, is a usage error.
    pub fn signer(&self) -> Result<Option<crate::policy::signing::Signer>, UsageError> {
        self.signing_key_file
            .as_deref()
            .map(|path| {
                crate::policy::signing::Signer::from_file(path)
                    .map_err(|e| UsageError(format!("policy.signing_key_file: {e}")))
            })
            .transpose()
    }

    /// Opens the configured store.
    pub fn open_store(&self) -> Result<Box<dyn crate::store::Store>, crate::error::StoreError> {
        self.store.open(&self.keys, self.tls_ca.as_deref())
    }

    /// What the decision reads, built once: the spread filter on.
    pub fn decision(&self) -> crate::decide::Config {
        crate::decide::Config {
            filters: self.filters,
            spread: Spread::Checked,
            lists: self.lists.clone(),
            top: self.top,
            min_symbols: self.min_symbols,
            weights: self.weights,
            regimes: self.regimes.clone(),
            hybrid_min_trades: self.hybrid_min_trades,
            leverage: self.leverage.clone(),
            churn: self.churn.clone(),
            max_correlation: self.max_correlation,
            rotation: self.rotation.clone(),
        }
    }

    /// Resolves every knob from `overrides`, the file at `config` (if any) and defaults.
    pub fn resolve(config: Option<&Path>, overrides: Overrides) -> Result<Self, UsageError> {
        let file = match config {
            Some(path) => Some(ConfigFile::read(path)?),
            None => None,
        };
        if let Some(file) = file
            .as_ref()
            .filter(|f| f.values.contains_key("churn.buffer"))
        {
            return Err(UsageError(format!(
                "churn.buffer in {}: removed; churn control is now the pair rule, in which only a challenger that outscores an incumbent by churn.margin replaces it (README, \"Churn control\"): delete the line",
                file.path.display()
            )));
        }
        let mut v = Values::resolve(file, overrides)?;
        let settings = assemble(&mut v)?;
        v.reject_unknown_keys()?;
        Ok(Self {
            entries: v.entries,
            ..settings
        })
    }
}

fn assemble(v: &mut Values) -> Result<Settings, UsageError> {
    let (top, min_symbols) = size(v)?;
    let store = store_location(v)?;
    let extra = v.extra()?;
    let exit_params = ExitParams {
        harvest: v.numbers("policy.harvest_params", &ExitParams::HARVEST_DEFAULTS)?,
        kill: v.numbers("policy.kill_params", &ExitParams::KILL_DEFAULTS)?,
    };
    let max_data_age = v.whole::<u64>("exchange.max_data_age_s");
    let max_correlation = v.number("diversity.max_correlation");
    let tls_ca = v.text("store.tls_ca_file");
    if !tls_ca.is_empty()
        && matches!(&store, Location::Redis(url) if url.expose().starts_with("redis://"))
    {
        return Err(v.refuse(
            "store.tls_ca_file",
            "no CA file with a redis:// store, which does not use TLS (a rediss:// URL does)",
        ));
    }
    Ok(Settings {
        client: exchange(v),
        filters: filters(v),
        listing_from: ListingFrom::resolve(
            &v.text("filters.listing_from"),
            &v.text("exchange.base_url"),
        ),
        top,
        min_symbols,
        weights: score_weights(v)?,
        hybrid_min_trades: v
            .switch("score.hybrid")
            .then(|| v.whole("score.hybrid_min_trades")),
        leverage: LeverageTable {
            steps: v.leverage_steps("leverage.steps"),
            calm: v.whole("leverage.calm"),
        },
        churn: Churn {
            enabled: v.switch("churn.enabled"),
            margin: v.number("churn.margin"),
            max_replacements: v.whole("churn.max_replacements"),
            min_hold: v.duration("churn.min_hold"),
        },
        regimes: regimes(v)?,
        max_correlation: (max_correlation < 1.0).then_some(max_correlation),
        lists: lists(v, top)?,
        keys: store_keys(v),
        valid_for_s: v.whole("policy.valid_for_s"),
        refresh_interval_s: v.whole("policy.refresh_interval_s"),
        signing_key_file: signing_key_file(v),
        trusted_keys: trusted_keys(v)?,
        rotation: rotation(v, top)?,
        cache_dir: cache_dir(v, &store),
        store,
        tls_ca: (!tls_ca.is_empty()).then(|| PathBuf::from(tls_ca)),
        extra,
        exit_params,
        max_data_age: (max_data_age > 0).then(|| Duration::from_secs(max_data_age)),
        entries: Vec::new(),
    })
}

fn filters(v: &mut Values) -> Filters {
    Filters {
        min_quote_volume: v.number("filters.min_quote_volume"),
        max_spread_bps: v.number("filters.max_spread_bps"),
        min_age_days: v.number("filters.min_age_days"),
    }
}

/// `selection.top` and `selection.min_symbols`: by default 3, or the whole universe when
/// it is smaller; never above it.
fn size(v: &mut Values) -> Result<(usize, usize), UsageError> {
    let top: usize = v.whole("selection.top");
    v.adjust_default("selection.min_symbols", 3.min(top as u64));
    let min_symbols: usize = v.whole("selection.min_symbols");
    if min_symbols > top {
        return Err(v.refuse(
            "selection.min_symbols",
            &format!("1 to selection.top ({top})"),
        ));
    }
    Ok((top, min_symbols))
}

fn signing_key_file(v: &Values) -> Option<PathBuf> {
    Some(v.text("policy.signing_key_file"))
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

fn trusted_keys(v: &Values) -> Result<crate::policy::signing::Trusted, UsageError> {
    crate::policy::signing::Trusted::parse(&v.list("policy.trusted_keys"))
        .map_err(|e| UsageError(format!("policy.trusted_keys: {e}")))
}

fn exchange(v: &Values) -> ClientSettings {
    ClientSettings {
        base_url: v.text("exchange.base_url").trim_end_matches('/').to_owned(),
        concurrency: v.whole("exchange.concurrency"),
        weight_budget: v.whole("exchange.weight_budget"),
        deadline: Duration::from_secs(v.whole("exchange.deadline_s")),
        request_timeout: Duration::from_secs(v.whole("exchange.request_timeout_s")),
    }
}

fn weights(v: &Values, section: &str) -> Weights {
    let [trend_1h, mom_15m, mom_1h, vol_fit, liquidity] =
        Weights::NAMES.map(|name| v.number(&format!("{section}.{name}")));
    Weights {
        trend_1h,
        mom_15m,
        mom_1h,
        vol_fit,
        liquidity,
    }
}

fn score_weights(v: &Values) -> Result<Weights, UsageError> {
    let weights = weights(v, "score.weights");
    if weights.sum() <= 0.0 {
        return Err(UsageError(
            "score.weights: at least one weight must be above 0".into(),
        ));
    }
    Ok(weights)
}

fn regimes(v: &Values) -> Result<Regimes, UsageError> {
    let regimes = Regimes {
        high_vol_above: v.number("regimes.high_vol_above"),
        low_vol_below: v.number("regimes.low_vol_below"),
        high_vol: weights(v, "regimes.high_vol"),
        low_vol: weights(v, "regimes.low_vol"),
    };
    if regimes.low_vol_below > regimes.high_vol_above {
        return Err(UsageError(format!(
            "regimes.low_vol_below ({}) must not exceed regimes.high_vol_above ({})",
            regimes.low_vol_below, regimes.high_vol_above
        )));
    }
    Ok(regimes)
}

fn lists(v: &Values, top: usize) -> Result<Lists, UsageError> {
    let patterns = |key: &str| -> Result<Vec<Pattern>, UsageError> {
        v.list(key)
            .iter()
            .map(|t| Pattern::new(t).map_err(|e| UsageError(format!("{key}: {e}"))))
            .collect()
    };
    let pin = v.list("lists.pin");
    if pin.len() > top {
        return Err(v.refuse(
            "lists.pin",
            &format!("at most selection.top ({top}) symbols"),
        ));
    }
    Ok(Lists {
        deny: patterns("lists.deny")?,
        allow: patterns("lists.allow")?,
        pin,
    })
}

fn store_location(v: &Values) -> Result<Location, UsageError> {
    let text = v.text("store.url");
    if !text.is_empty() {
        // named by where it came from: a config file's key is not the flag
        let origin = v.origin("store.url");
        return Location::parse(&text).map_err(|e| {
            let why = e.0.replacen("--store ", "", 1);
            UsageError(format!("store.url ({origin}): {why}"))
        });
    }
    default_state_dir()
        .map(|dir| Location::File(dir.join("universe")))
        .ok_or_else(|| {
            UsageError(
                "no store.url (--store, UNIVERSE_STORE) and neither XDG_STATE_HOME nor HOME is set"
                    .into(),
            )
        })
}

fn store_keys(v: &Values) -> Keys {
    Keys {
        prefix: v.text("store.prefix"),
        policy: v.text("store.policy_key"),
        audit: v.text("store.audit_stream"),
        updates: v.text("store.update_stream"),
        held: v.text("store.held_set"),
        performance: v.text("store.performance_key"),
        models_seen: v.text("store.models_seen_key"),
        trades: v.text("store.trades_stream"),
        trades_group: v.text("store.trades_group"),
        failure: v.text("store.failure_key"),
    }
}

fn rotation(v: &mut Values, top: usize) -> Result<crate::rotation::Config, UsageError> {
    use crate::rotation::Mode;
    // a hard upper bound on what is published; below top it could never hold
    v.adjust_default("rotation.max_symbols", top as u64);
    let max_symbols: usize = v.whole("rotation.max_symbols");
    if max_symbols < top {
        return Err(v.refuse(
            "rotation.max_symbols",
            &format!(
                "selection.top ({top}) to 1000: the universe holds top symbols before rotation"
            ),
        ));
    }
    let model_dir = v.text("rotation.model_dir");
    let glob = v.text("rotation.model_glob");
    Ok(crate::rotation::Config {
        mode: if v.text("rotation.mode") == "execution" {
            Mode::Execution
        } else {
            Mode::Advisory
        },
        min_trades_for_eviction: v.whole("rotation.min_trades_for_eviction"),
        eviction_win_rate: v.number("rotation.eviction_win_rate"),
        eviction_drawdown: v.number("rotation.eviction_drawdown"),
        max_symbols,
        model_dir: (!model_dir.is_empty()).then(|| PathBuf::from(model_dir)),
        model_glob: Pattern::new(&glob).map_err(UsageError)?,
        require_model: v.switch("rotation.require_model"),
    })
}

/// `cache.dir`, by default `cache/` in the file store's folder (the state folder when the
/// store is Redis); `cache.enabled = false` or `--no-cache` turns the cache off.
fn cache_dir(v: &Values, store: &Location) -> Option<PathBuf> {
    if !v.switch("cache.enabled") {
        return None;
    }
    let dir = v.text("cache.dir");
    if !dir.is_empty() {
        return Some(PathBuf::from(dir));
    }
    let state = match store {
        Location::File(dir) => Some(dir.clone()),
        Location::Redis(_) => default_state_dir().map(|d| d.join("universe")),
    };
    state.map(|d| d.join("cache"))
}

fn default_state_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| from_env("HOME").map(|home| home.join(".local/state")))
}

#[cfg(test)]
mod tests;
