//! The operator's lists: `deny` and `allow` patterns, and `pin`ned symbols.
//!
//! Patterns are globs over the whole symbol: `*` matches any run of characters (also
//! none), `?` exactly one; everything else matches itself. `*DOWNUSDT`, `1000*`, `BTCUSDT`.

use std::fmt;

/// One glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(format!(
                "{text:?} is not a pattern (a glob like *DOWNUSDT, without spaces)"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Whether the whole of `symbol` matches.
    pub fn matches(&self, symbol: &str) -> bool {
        glob(
            &self.0.chars().collect::<Vec<_>>(),
            &symbol.chars().collect::<Vec<_>>(),
        )
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterative glob matching with backtracking to the last `*` (linear in practice).
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    /// A symbol matching any of these is excluded (`denied`).
    pub deny: Vec<Pattern>,
    /// When not empty, a symbol matching none of these is excluded (`not_allowed`).
    pub allow: Vec<Pattern>,
    /// Always in the universe while eligible; counted in `top`.
    pub pin: Vec<String>,
}

impl Lists {
    /// The first deny pattern `symbol` matches.
    pub fn denied_by(&self, symbol: &str) -> Option<&Pattern> {
        self.deny.iter().find(|p| p.matches(symbol))
    }

    /// Whether `symbol` passes the allow list (an empty list allows everything).
    pub fn allows(&self, symbol: &str) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|p| p.matches(symbol))
    }

    pub fn is_pinned(&self, symbol: &str) -> bool {
        self.pin.iter().any(|p| p == symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_the_whole_symbol() {
        let p = |s: &str| Pattern::new(s).unwrap();
        assert!(p("*DOWNUSDT").matches("BTCDOWNUSDT"));
        assert!(!p("*DOWNUSDT").matches("BTCDOWNUSDTX"));
        assert!(p("1000*").matches("1000PEPEUSDT"));
        assert!(p("BTC?USDT").matches("BTCXUSDT") && !p("BTC?USDT").matches("BTCUSDT"));
        assert!(p("*").matches("币安人生USDT"));
        assert!(p("*安*").matches("币安人生USDT"));
        assert!(p("BTCUSDT").matches("BTCUSDT") && !p("BTCUSDT").matches("ETHUSDT"));
        assert!(p("A*B*C").matches("AxxBxxC") && !p("A*B*C").matches("AxxCxxB"));
        assert!(Pattern::new("has space").is_err() && Pattern::new("").is_err());
    }

    #[test]
    fn an_empty_allow_list_allows_everything() {
        let lists = Lists::default();
        assert!(lists.allows("ANYUSDT"));
        let lists = Lists {
            allow: vec![Pattern::new("BTC*").unwrap()],
            ..Lists::default()
        };
        assert!(lists.allows("BTCUSDT") && !lists.allows("ETHUSDT"));
    }
}
