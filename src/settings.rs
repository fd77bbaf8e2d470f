//! Every knob, resolved once: command line > environment > config file > default.
//!
//! The config file is TOML (`--config`, `UNIVERSE_CONFIG`); `examples/universe.toml`
//! lists every key. A key the file does not know, a value of the wrong type or out of
//! range is a usage error that names the key and where the value came from (the file,
//! the flag or the variable). Each resolved value remembers its origin, for
//! `universe config`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use toml::Value;

use crate::error::UsageError;
use crate::market::client::ClientSettings;
use crate::policy::{ExitParams, field};
use crate::select::churn::Churn;
use crate::select::{Filters, LeverageTable, Lists, Pattern, Weights};
use crate::store::{Keys, Location};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// Values given on the command line or by environment variable, by config key.
#[derive(Debug, Default)]
pub struct Overrides {
    values: BTreeMap<&'static str, (Value, Origin)>,
}

impl Overrides {
    /// Records `value` for `key` if the argument `id` was given, noting whether it came
    /// from the command line or from `env`.
    pub fn take<T: Into<Value>>(
        &mut self,
        matches: &ArgMatches,
        id: &str,
        key: &'static str,
        env: &str,
        value: Option<T>,
    ) {
        let Some(value) = value else { return };
        let origin = match matches.value_source(id) {
            Some(ValueSource::EnvVariable) => Origin::Env(env.to_owned()),
            _ => Origin::Flag(format!("--{}", id.replace('_', "-"))),
        };
        self.values.insert(key, (value.into(), origin));
    }
}

/// One resolved value, for `universe config`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub key: String,
    /// JSON rendering of the value (secrets redacted).
    pub value: serde_json::Value,
    pub origin: String,
}

/// Regimes by the median `atr_pct_15m` of the scored symbols, and their weight multipliers.
#[derive(Debug, Clone, PartialEq)]
pub struct Regimes {
    pub high_vol_above: f64,
    pub low_vol_below: f64,
    pub high_vol: Weights,
    pub low_vol: Weights,
}

/// Everything a command may read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client: ClientSettings,
    pub filters: Filters,
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
    /// `[policy.extra]`: field name → JSON text, written into the policy as given.
    pub extra: BTreeMap<String, String>,
    /// `[policy.harvest_params]`, `[policy.kill_params]`: carried into the policy.
    pub exit_params: ExitParams,
    pub rotation: crate::rotation::Settings,
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
    /// Opens the configured store.
    pub fn open_store(&self) -> Result<Box<dyn crate::store::Store>, crate::error::StoreError> {
        self.store.open(&self.keys, self.tls_ca.as_deref())
    }

    /// Resolves every knob from `overrides`, the file at `config` (if any) and defaults.
    pub fn resolve(config: Option<&Path>, overrides: Overrides) -> Result<Self, UsageError> {
        let file = match config {
            Some(path) => Some(ConfigFile::read(path)?),
            None => None,
        };
        let mut r = Resolver {
            file,
            overrides,
            used: BTreeSet::new(),
            entries: Vec::new(),
        };
        let settings = resolve_all(&mut r)?;
        r.reject_unknown_keys()?;
        Ok(Self {
            entries: r.entries,
            ..settings
        })
    }
}

fn resolve_all(r: &mut Resolver) -> Result<Settings, UsageError> {
    let client = exchange(r)?;
    let max_data_age: u64 = r.get(
        "exchange.max_data_age_s",
        300u64,
        |v| *v <= 30 * 86_400,
        "0 (off) to 2592000 seconds",
    )?;
    let filters = filters(r)?;
    let top: usize = r.get(
        "selection.top",
        10usize,
        |v| (1..=1000).contains(v),
        "1 to 1000",
    )?;
    // by default 3, or the whole universe when it is smaller
    let min_symbols: usize = r.get(
        "selection.min_symbols",
        3usize.min(top),
        |v| (1..=top).contains(v),
        &format!("1 to selection.top ({top})"),
    )?;
    let weights = weights_at(r, "score.weights", &Weights::DEFAULT, "a finite number ≥ 0")?;
    if weights.sum() <= 0.0 {
        return Err(UsageError(
            "score.weights: at least one weight must be above 0".into(),
        ));
    }
    let hybrid: bool = r.get("score.hybrid", false, |_| true, "")?;
    let hybrid_min_trades: u64 = r.get(
        "score.hybrid_min_trades",
        5u64,
        |v| *v >= 1,
        "a whole number ≥ 1",
    )?;
    let leverage = leverage_table(r)?;
    let churn = churn(r)?;
    let regimes = regimes(r)?;
    let max_correlation: f64 = r.get(
        "diversity.max_correlation",
        1.0,
        |v: &f64| (-1.0..=1.0).contains(v),
        "-1 to 1 (1 turns diversity off)",
    )?;
    let lists = lists(r, top)?;
    let store = store_location(r)?;
    let keys = store_keys(r)?;
    let valid_for_s = r.get(
        "policy.valid_for_s",
        3600u64,
        |v| (60..=7 * 86_400).contains(v),
        "60 to 604800 seconds",
    )?;
    let rotation = rotation(r, top)?;
    let cache_dir = cache_dir(r, &store)?;
    let tls_ca: String = r.get("store.tls_ca_file", String::new(), |_| true, "")?;
    let extra = r.extra()?;
    let exit_params = ExitParams {
        harvest: r.numbers("policy.harvest_params", &ExitParams::HARVEST_DEFAULTS)?,
        kill: r.numbers("policy.kill_params", &ExitParams::KILL_DEFAULTS)?,
    };
    Ok(Settings {
        exit_params,
        max_data_age: (max_data_age > 0).then(|| Duration::from_secs(max_data_age)),
        rotation,
        cache_dir,
        tls_ca: (!tls_ca.is_empty()).then(|| PathBuf::from(tls_ca)),
        client,
        filters,
        top,
        min_symbols,
        weights,
        hybrid_min_trades: hybrid.then_some(hybrid_min_trades),
        leverage,
        churn,
        regimes,
        max_correlation: (max_correlation < 1.0).then_some(max_correlation),
        lists,
        store,
        keys,
        valid_for_s,
        extra,
        entries: Vec::new(),
    })
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the shape of a validator: Fn(&T) -> bool
/// `cache.dir`, by default `cache/` in the file store's folder (the state folder when the
/// store is Redis); `cache.enabled = false` or `--no-cache` turns the cache off.
fn cache_dir(r: &mut Resolver, store: &Location) -> Result<Option<PathBuf>, UsageError> {
    let enabled: bool = r.get("cache.enabled", true, |_| true, "")?;
    let dir: String = r.get("cache.dir", String::new(), |_| true, "")?;
    if !enabled {
        return Ok(None);
    }
    if !dir.is_empty() {
        return Ok(Some(PathBuf::from(dir)));
    }
    let state = match store {
        Location::File(dir) => Some(dir.clone()),
        Location::Redis(_) => default_state_dir().map(|d| d.join("universe")),
    };
    Ok(state.map(|d| d.join("cache")))
}

fn rotation(r: &mut Resolver, top: usize) -> Result<crate::rotation::Settings, UsageError> {
    use crate::rotation::{Mode, Settings};
    let fraction = |v: &f64| (0.0..=1.0).contains(v);
    let mode: String = r.get(
        "rotation.mode",
        "advisory".to_owned(),
        |m: &String| m == "advisory" || m == "execution",
        "\"advisory\" or \"execution\"",
    )?;
    let model_dir: String = r.get("rotation.model_dir", String::new(), |_| true, "")?;
    let glob: String = r.get(
        "rotation.model_glob",
        "*.pt".to_owned(),
        |g: &String| Pattern::new(g).is_ok(),
        "a glob without spaces",
    )?;
    Ok(Settings {
        mode: if mode == "execution" {
            Mode::Execution
        } else {
            Mode::Advisory
        },
        min_trades_for_eviction: r.get("rotation.min_trades_for_eviction", 10u64, |_| true, "")?,
        eviction_win_rate: r.get(
            "rotation.eviction_win_rate",
            0.40,
            fraction,
            "a fraction, 0 to 1",
        )?,
        eviction_drawdown: r.get(
            "rotation.eviction_drawdown",
            0.12,
            fraction,
            "a fraction, 0 to 1",
        )?,
        // a hard upper bound on what is published; below top it could never hold
        max_symbols: r.get(
            "rotation.max_symbols",
            top,
            |v| *v >= top && *v <= 1000,
            &format!(
                "selection.top ({top}) to 1000: the universe holds top symbols before rotation"
            ),
        )?,
        model_dir: (!model_dir.is_empty()).then(|| PathBuf::from(model_dir)),
        model_glob: Pattern::new(&glob).map_err(UsageError)?,
        require_model: r.get("rotation.require_model", false, |_| true, "")?,
    })
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the shape of a validator: Fn(&T) -> bool
fn non_negative(v: &f64) -> bool {
    v.is_finite() && *v >= 0.0
}

fn exchange(r: &mut Resolver) -> Result<ClientSettings, UsageError> {
    let base_url: String = r.get(
        "exchange.base_url",
        "https://fapi.binance.com".to_owned(),
        |u: &String| u.starts_with("http://") || u.starts_with("https://"),
        "an http:// or https:// URL",
    )?;
    let seconds = |v: &u64| (1..=3600).contains(v);
    Ok(ClientSettings {
        base_url: base_url.trim_end_matches('/').to_owned(),
        concurrency: r.get(
            "exchange.concurrency",
            16usize,
            |v| (1..=64).contains(v),
            "1 to 64",
        )?,
        weight_budget: r.get(
            "exchange.weight_budget",
            1200u32,
            |v| (50..=6000).contains(v),
            "50 to 6000 (the largest request weighs 40)",
        )?,
        deadline: Duration::from_secs(r.get(
            "exchange.deadline_s",
            120u64,
            seconds,
            "1 to 3600 seconds",
        )?),
        request_timeout: Duration::from_secs(r.get(
            "exchange.request_timeout_s",
            10u64,
            seconds,
            "1 to 3600 seconds",
        )?),
    })
}

fn filters(r: &mut Resolver) -> Result<Filters, UsageError> {
    let expected = "a finite number ≥ 0";
    Ok(Filters {
        min_quote_volume: r.get(
            "filters.min_quote_volume",
            20_000_000.0,
            non_negative,
            expected,
        )?,
        max_spread_bps: r.get("filters.max_spread_bps", 15.0, non_negative, expected)?,
        min_age_days: r.get("filters.min_age_days", 30.0, non_negative, expected)?,
    })
}

fn churn(r: &mut Resolver) -> Result<Churn, UsageError> {
    if let Some(file) = r
        .file
        .as_ref()
        .filter(|f| f.values.contains_key("churn.buffer"))
    {
        return Err(UsageError(format!(
            "churn.buffer in {}: removed; churn control is now the pair rule, in which only a challenger that outscores an incumbent by churn.margin replaces it (README, \"Churn control\"): delete the line",
            file.path.display()
        )));
    }
    Ok(Churn {
        enabled: r.get("churn.enabled", true, |_| true, "")?,
        margin: r.get(
            "churn.margin",
            5.0,
            non_negative,
            "a finite number ≥ 0 (score points)",
        )?,
        max_replacements: r.get(
            "churn.max_replacements",
            3usize,
            |v| *v <= 1000,
            "0 to 1000",
        )?,
        min_hold: r.get(
            "churn.min_hold",
            Duration::from_secs(2 * 3600),
            |_| true,
            "",
        )?,
    })
}

fn regimes(r: &mut Resolver) -> Result<Regimes, UsageError> {
    let atr = "a finite number ≥ 0 (ATR %)";
    let multiplier = "a finite multiplier ≥ 0";
    let regimes = Regimes {
        high_vol_above: r.get("regimes.high_vol_above", 1.5, non_negative, atr)?,
        low_vol_below: r.get("regimes.low_vol_below", 0.5, non_negative, atr)?,
        high_vol: weights_at(
            r,
            "regimes.high_vol",
            &Weights {
                trend_1h: 1.5,
                ..Weights::ONES
            },
            multiplier,
        )?,
        low_vol: weights_at(
            r,
            "regimes.low_vol",
            &Weights {
                mom_15m: 1.5,
                mom_1h: 1.5,
                ..Weights::ONES
            },
            multiplier,
        )?,
    };
    if regimes.low_vol_below > regimes.high_vol_above {
        return Err(UsageError(format!(
            "regimes.low_vol_below ({}) must not exceed regimes.high_vol_above ({})",
            regimes.low_vol_below, regimes.high_vol_above
        )));
    }
    Ok(regimes)
}

fn weights_at(
    r: &mut Resolver,
    section: &str,
    defaults: &Weights,
    expected: &str,
) -> Result<Weights, UsageError> {
    let ok = |v: &f64| v.is_finite() && *v >= 0.0;
    Ok(Weights {
        trend_1h: r.get(
            &format!("{section}.trend_1h"),
            defaults.trend_1h,
            ok,
            expected,
        )?,
        mom_15m: r.get(
            &format!("{section}.mom_15m"),
            defaults.mom_15m,
            ok,
            expected,
        )?,
        mom_1h: r.get(&format!("{section}.mom_1h"), defaults.mom_1h, ok, expected)?,
        vol_fit: r.get(
            &format!("{section}.vol_fit"),
            defaults.vol_fit,
            ok,
            expected,
        )?,
        liquidity: r.get(
            &format!("{section}.liquidity"),
            defaults.liquidity,
            ok,
            expected,
        )?,
    })
}

fn leverage_table(r: &mut Resolver) -> Result<LeverageTable, UsageError> {
    let default = LeverageTable::default();
    let steps: Vec<(f64, u32)> = r.get(
        "leverage.steps",
        default.steps.clone(),
        |steps: &Vec<(f64, u32)>| {
            steps.windows(2).all(|w| w[0].0 > w[1].0)
                && steps
                    .iter()
                    .all(|(atr, lev)| atr.is_finite() && (1..=125).contains(lev))
        },
        "[[atr_above, leverage], …] with atr_above strictly decreasing and leverage 1 to 125",
    )?;
    let calm: u32 = r.get(
        "leverage.calm",
        default.calm,
        |v| (1..=125).contains(v),
        "1 to 125",
    )?;
    Ok(LeverageTable { steps, calm })
}

fn lists(r: &mut Resolver, top: usize) -> Result<Lists, UsageError> {
    let patterns = |r: &mut Resolver, key: &str| -> Result<Vec<Pattern>, UsageError> {
        let texts: Vec<String> = r.get(key, Vec::new(), |_| true, "")?;
        texts
            .iter()
            .map(|t| Pattern::new(t).map_err(|e| UsageError(format!("{key}: {e}"))))
            .collect()
    };
    let deny = patterns(r, "lists.deny")?;
    let allow = patterns(r, "lists.allow")?;
    let pin: Vec<String> = r.get(
        "lists.pin",
        Vec::new(),
        |pins: &Vec<String>| pins.len() <= top,
        &format!("at most selection.top ({top}) symbols"),
    )?;
    Ok(Lists {
        deny,
        allow,
        pin,
        models: None,
    })
}

fn store_location(r: &mut Resolver) -> Result<Location, UsageError> {
    let text: String = r.get_secret("store.url", String::new())?;
    if !text.is_empty() {
        return Location::parse(&text).map_err(|e| UsageError(format!("store.url: {}", e.0)));
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

fn store_keys(r: &mut Resolver) -> Result<Keys, UsageError> {
    let default = Keys::default();
    let name = |v: &String| !v.is_empty() && !v.contains(char::is_whitespace);
    let prefix: String = r.get(
        "store.prefix",
        default.prefix.clone(),
        |v: &String| !v.contains(char::is_whitespace),
        "a key prefix without spaces",
    )?;
    Ok(Keys {
        policy: r.get("store.policy_key", default.policy, name, "a key name")?,
        audit: r.get("store.audit_stream", default.audit, name, "a key name")?,
        updates: r.get("store.update_stream", default.updates, name, "a key name")?,
        held: r.get("store.held_set", default.held, name, "a key name")?,
        performance: r.get(
            "store.performance_key",
            default.performance,
            |v: &String| name(v) && v.contains("{SYMBOL}"),
            "a key name containing {SYMBOL}",
        )?,
        models_seen: r.get(
            "store.models_seen_key",
            default.models_seen,
            name,
            "a key name",
        )?,
        trades: r.get("store.trades_stream", default.trades, name, "a key name")?,
        trades_group: r.get(
            "store.trades_group",
            default.trades_group,
            name,
            "a consumer group name",
        )?,
        prefix,
    })
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

/// A parsed config file, flattened to dotted keys.
#[derive(Debug)]
struct ConfigFile {
    path: PathBuf,
    values: BTreeMap<String, Value>,
}

impl ConfigFile {
    fn read(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?;
        // a parse error quotes the line, which may hold a password
        let table: toml::Table = text.parse().map_err(|e| {
            UsageError(crate::store::redact_all(&format!(
                "{}: {e}",
                path.display()
            )))
        })?;
        let mut values = BTreeMap::new();
        flatten("", table, &mut values);
        Ok(Self {
            path: path.to_owned(),
            values,
        })
    }
}

/// Tables become dotted keys, except `policy.extra`, whose fields are data.
fn flatten(prefix: &str, table: toml::Table, out: &mut BTreeMap<String, Value>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Table(inner) if key != "policy.extra" => flatten(&key, inner, out),
            other => {
                out.insert(key, other);
            }
        }
    }
}

struct Resolver {
    file: Option<ConfigFile>,
    overrides: Overrides,
    used: BTreeSet<String>,
    entries: Vec<Entry>,
}

impl Resolver {
    /// The value of `key`, from the first layer that has it, checked by `valid`.
    fn get<T: FromValue>(
        &mut self,
        key: &str,
        default: T,
        valid: impl Fn(&T) -> bool,
        expected: &str,
    ) -> Result<T, UsageError> {
        self.resolve(key, default, valid, expected, false)
    }

    /// Like `get`, for a value whose secrets `universe config` must not print.
    fn get_secret(&mut self, key: &str, default: String) -> Result<String, UsageError> {
        self.resolve(key, default, |_| true, "", true)
    }

    fn resolve<T: FromValue>(
        &mut self,
        key: &str,
        default: T,
        valid: impl Fn(&T) -> bool,
        expected: &str,
        secret: bool,
    ) -> Result<T, UsageError> {
        self.used.insert(key.to_owned());
        let found = self.overrides.values.get(key).cloned().or_else(|| {
            let file = self.file.as_ref()?;
            Some((
                file.values.get(key)?.clone(),
                Origin::File(file.path.clone()),
            ))
        });
        let (value, origin, shown) = if let Some((raw, origin)) = found {
            // a flag or variable arrives as text; in the file a value has its TOML type
            if matches!(origin, Origin::File(_)) && !T::is_file_type(&raw) {
                let what = T::from_value(&Value::Boolean(false))
                    .err()
                    .or_else(|| T::from_value(&Value::Integer(-1)).err())
                    .unwrap_or("another type");
                return Err(UsageError(format!(
                    "{key} = {} ({origin}): expected {what}, not a {}",
                    show(&raw),
                    raw.type_str()
                )));
            }
            let value = T::from_value(&raw).map_err(|what| {
                UsageError(format!(
                    "{key} = {} ({origin}): expected {what}",
                    show(&raw)
                ))
            })?;
            if !valid(&value) {
                return Err(UsageError(format!(
                    "{key} = {} ({origin}): expected {expected}",
                    show(&raw)
                )));
            }
            (value, origin, to_json(&raw))
        } else {
            let shown = default.to_json();
            (default, Origin::Default, shown)
        };
        let shown = match (&shown, secret) {
            (serde_json::Value::String(s), true) => {
                serde_json::Value::String(crate::store::redact(s))
            }
            _ => shown,
        };
        self.entries.push(Entry {
            key: key.to_owned(),
            value: shown,
            origin: origin.to_string(),
        });
        Ok(value)
    }

    /// A table of named finite numbers: each default key, then any other key the file
    /// sets in the section (the trading side may read parameters this version does not
    /// know).
    fn numbers(
        &mut self,
        section: &str,
        defaults: &[(&str, f64)],
    ) -> Result<BTreeMap<String, f64>, UsageError> {
        let finite = |v: &f64| v.is_finite();
        let mut table = BTreeMap::new();
        for (name, default) in defaults {
            let value = self.get(
                &format!("{section}.{name}"),
                *default,
                finite,
                "a finite number",
            )?;
            table.insert((*name).to_owned(), value);
        }
        let prefix = format!("{section}.");
        let more: Vec<String> = self
            .file
            .iter()
            .flat_map(|f| f.values.keys())
            .filter(|k| !self.used.contains(*k))
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|name| !name.contains('.'))
            .map(str::to_owned)
            .collect();
        for name in more {
            let value = self.get(
                &format!("{prefix}{name}"),
                f64::NAN,
                finite,
                "a finite number",
            )?;
            table.insert(name, value);
        }
        Ok(table)
    }

    /// `[policy.extra]`: every field JSON-encoded, as the services expect to read it.
    fn extra(&mut self) -> Result<BTreeMap<String, String>, UsageError> {
        self.used.insert("policy.extra".into());
        let Some(file) = &self.file else {
            return Ok(BTreeMap::new());
        };
        let Some(value) = file.values.get("policy.extra") else {
            return Ok(BTreeMap::new());
        };
        let Value::Table(table) = value else {
            return Err(UsageError(format!(
                "policy.extra in {}: expected a table",
                file.path.display()
            )));
        };
        let mut extra = BTreeMap::new();
        for (name, value) in table {
            if let Some(section) = [field::HARVEST_PARAMS, field::KILL_PARAMS]
                .into_iter()
                .find(|f| f == name)
            {
                return Err(UsageError(format!(
                    "policy.extra.{name} in {}: {name} is written from [policy.{section}], one finite number per key; set it there",
                    file.path.display()
                )));
            }
            if crate::policy::is_generated_field(name) {
                return Err(UsageError(format!(
                    "policy.extra.{name} in {}: {name} is written by the generator and cannot be set",
                    file.path.display()
                )));
            }
            let json = match value {
                Value::String(s) => s.clone(),
                other => to_json(other).to_string(),
            };
            self.entries.push(Entry {
                key: format!("policy.extra.{name}"),
                value: serde_json::Value::String(json.clone()),
                origin: Origin::File(file.path.clone()).to_string(),
            });
            extra.insert(name.clone(), json);
        }
        Ok(extra)
    }

    fn reject_unknown_keys(&self) -> Result<(), UsageError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let unknown: Vec<&str> = file
            .values
            .keys()
            .filter(|k| !self.used.contains(*k))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(UsageError(format!(
                "{}: unknown key{} {} (examples/universe.toml lists every key)",
                file.path.display(),
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", ")
            )))
        }
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn show(value: &Value) -> String {
    to_json(value).to_string()
}

/// A Rust value from a TOML value; the error says what was expected.
trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, &'static str>;
    fn to_json(&self) -> serde_json::Value;
    /// Whether a config file's value has the TOML type this takes (`top = "5"` does not).
    fn is_file_type(value: &Value) -> bool;
}

impl FromValue for f64 {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::Float(_) | Value::Integer(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Float(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            Value::String(s) => s.trim().parse().map_err(|_| "a number"),
            _ => Err("a number"),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn is_file_type(value: &Value) -> bool {
                matches!(value, Value::Integer(_))
            }
            fn from_value(value: &Value) -> Result<Self, &'static str> {
                let n = match value {
                    Value::Integer(i) => *i,
                    Value::String(s) => s.trim().parse().map_err(|_| "a whole number")?,
                    _ => return Err("a whole number"),
                };
                <$t>::try_from(n).map_err(|_| "a whole number ≥ 0")
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::json!(self)
            }
        }
    )*};
}
unsigned!(u32, u64, usize);

impl FromValue for bool {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::Boolean(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Boolean(b) => Ok(*b),
            Value::String(s) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Value::String(s) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            _ => Err("true or false"),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

impl FromValue for String {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        value.as_str().map(str::to_owned).ok_or("a string")
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

impl FromValue for Vec<String> {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::Array(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        let expected = "a list of strings";
        match value {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or(expected))
                .collect(),
            // from a flag or variable: comma-separated
            Value::String(s) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            _ => Err(expected),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

impl FromValue for Duration {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::String(_) | Value::Integer(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        let expected = "a duration such as \"90m\" or \"2h\", or whole seconds";
        match value {
            Value::Integer(i) => u64::try_from(*i)
                .map(Duration::from_secs)
                .map_err(|_| expected),
            Value::String(s) => humantime::parse_duration(s).map_err(|_| expected),
            _ => Err(expected),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(humantime::format_duration(*self).to_string())
    }
}

impl FromValue for Vec<(f64, u32)> {
    fn is_file_type(value: &Value) -> bool {
        matches!(value, Value::Array(_))
    }
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        let expected = "a list of [atr_above, leverage] pairs";
        let Value::Array(rows) = value else {
            return Err(expected);
        };
        rows.iter()
            .map(|row| match row.as_array().map(Vec::as_slice) {
                Some([atr, lev]) => Ok((f64::from_value(atr)?, u32::from_value(lev)?)),
                _ => Err(expected),
            })
            .collect()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(
            self.iter()
                .map(|(a, l)| serde_json::json!([a, l]))
                .collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests;
