//! A symbol name, validated once ([`is_symbol_name`]) and interned: `Copy`, compared and
//! hashed by address (one name, one address), ordered and shown by its name. Only a valid name makes one, so
//! whatever holds a `Symbol` never meets a name that could leave a folder, hide in a
//! terminal or run to 10 kB.
//!
//! Interned names are kept for the life of the process: a refresh sees some hundreds of
//! names (exchangeInfo's, the store's), each at most 32 bytes.

use std::collections::HashSet;
use std::fmt;
use std::sync::{OnceLock, RwLock};

use serde::{Serialize, Serializer};

use super::eligibility::is_symbol_name;

/// The interned name: every `Symbol` of one name holds the same address.
#[derive(Clone, Copy)]
pub struct Symbol(&'static str);

/// Every name interned so far.
fn table() -> &'static RwLock<HashSet<&'static str>> {
    static TABLE: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(RwLock::default)
}

impl Symbol {
    /// The symbol named `name`, if it is a symbol name.
    pub fn new(name: &str) -> Option<Self> {
        if !is_symbol_name(name) {
            return None;
        }
        if let Some(&interned) = table().read().expect("symbol table").get(name) {
            return Some(Self(interned));
        }
        let mut table = table().write().expect("symbol table");
        if let Some(&interned) = table.get(name) {
            return Some(Self(interned));
        }
        let interned: &'static str = Box::leak(name.to_owned().into_boxed_str());
        table.insert(interned);
        Some(Self(interned))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Symbol {}

impl std::hash::Hash for Symbol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

/// A symbol reads as its name wherever text is expected.
impl std::ops::Deref for Symbol {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self == other {
            return std::cmp::Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq<str> for Symbol {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Symbol {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Symbol {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// For tests: a name known to be a symbol's.
#[cfg(test)]
impl From<&str> for Symbol {
    fn from(name: &str) -> Self {
        Self::new(name).expect("a symbol name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_symbol_name_makes_a_symbol_and_the_same_name_the_same_one() {
        let a = Symbol::new("BTCUSDT").unwrap();
        assert_eq!(Symbol::new("BTCUSDT"), Some(a));
        assert_eq!(a.as_str(), "BTCUSDT");
        assert_eq!(a, "BTCUSDT");
        for bad in ["", "../x", "A B", ".X", "X\u{1b}[2J", &"X".repeat(33)] {
            assert_eq!(Symbol::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn symbols_order_by_name_not_by_when_they_were_made() {
        let z = Symbol::new("ZZZUSDT").unwrap();
        let a = Symbol::new("AAAUSDT").unwrap();
        let mut list = vec![z, a];
        list.sort();
        assert_eq!(list, [a, z]);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["AAAUSDT","ZZZUSDT"]"#
        );
    }
}
