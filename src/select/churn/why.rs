//! Why churn control (or rotation, in execution mode) decided what it did about a symbol:
//! a typed reason, put into words only where it is shown or stored ([`fmt::Display`], and
//! the audit entry's JSON, which holds the words).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::select::{Reason, Symbol};

/// An incumbent that was not scored: its exclusion, or that exchangeInfo no longer has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Exclusion {
    Excluded { reason: Reason, detail: String },
    NoLongerListed,
}

impl Exclusion {
    /// The exclusion's reason, if it has one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Exclusion::Excluded { reason, .. } => Some(*reason),
            Exclusion::NoLongerListed => None,
        }
    }
}

/// Why a symbol is kept, added or removed. Ranks are 1-based.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// A scored incumbent, kept (churn control resists rank noise).
    Rank {
        rank: usize,
    },
    Pinned {
        rank: usize,
    },
    /// Pinned, but not scored.
    PinnedButOut(Exclusion),
    /// An open position, scored.
    Held {
        rank: usize,
    },
    /// An open position kept with its previous figures and leverage: not scored, but not
    /// positively ineligible either.
    Carried(Exclusion),
    /// Not scored: out, and with it an open position if `position_left`.
    Out {
        exclusion: Exclusion,
        position_left: bool,
    },
    /// Churn control off: outside the plain Top-N.
    OutsideTop {
        rank: usize,
        top: usize,
    },
    /// `top` was lowered: the worst of those who stayed leave.
    Trimmed {
        rank: usize,
        top: usize,
    },
    /// A free place, taken in rank order; `plain`: churn control is off.
    Filled {
        rank: usize,
        plain: bool,
    },
    /// The worst replaceable incumbent, which no challenger outscores by the margin.
    NoChallenger {
        rank: usize,
        margin: f64,
    },
    /// A challenger clears the margin, but the refresh made its `max` replacements.
    MaxReplacements {
        rank: usize,
        challenger: Symbol,
        lead: f64,
        margin: f64,
        max: usize,
    },
    /// In the universe for less than `min_hold_s` since `joined` (epoch seconds).
    Young {
        rank: usize,
        joined: i64,
        min_hold_s: i64,
    },
    /// Replaced by `by`, which outscores it by `lead`.
    Replaced {
        by: Symbol,
        lead: f64,
        margin: f64,
    },
    /// The challenger that replaces `replaced`.
    Replaces {
        rank: usize,
        replaced: Symbol,
        lead: f64,
        margin: f64,
    },
    /// Rotation evicted it on its results.
    Evicted {
        why: String,
    },
    /// Rotation added it for its model file.
    Expansion {
        model: String,
        rank: usize,
    },
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Excluded { reason, detail } => write!(f, "{reason}: {detail}"),
            Exclusion::NoLongerListed => f.write_str("no longer listed"),
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Rank { rank } => write!(f, "rank {rank}"),
            Why::Pinned { rank } => write!(f, "pinned (rank {rank})"),
            Why::PinnedButOut(out) => write!(f, "pinned but {out}"),
            Why::Held { rank } => write!(f, "held position (rank {rank})"),
            Why::Carried(out) => write!(
                f,
                "held position, kept with its previous figures and leverage although {out}"
            ),
            Why::Out {
                exclusion,
                position_left: true,
            } => write!(f, "{exclusion} (an open position left the universe)"),
            Why::Out { exclusion, .. } => write!(f, "{exclusion}"),
            Why::OutsideTop { rank, top } => write!(f, "rank {rank} outside the top {top}"),
            Why::Trimmed { rank, top } => {
                write!(f, "rank {rank} and the universe holds only top {top}")
            }
            Why::Filled { rank, plain: false } => write!(f, "rank {rank} (a free place)"),
            Why::Filled { rank, plain: true } => write!(f, "rank {rank} (plain Top-N)"),
            Why::NoChallenger { rank, margin } => write!(
                f,
                "rank {rank}; no challenger outscores it by margin {margin}"
            ),
            Why::MaxReplacements {
                rank,
                challenger: by,
                lead,
                margin,
                max,
            } => write!(
                f,
                "rank {rank}; {by} outscores it by {lead:.2} ≥ margin {margin}, but max_replacements {max} was reached"
            ),
            Why::Young {
                rank,
                joined,
                min_hold_s,
            } => young(f, *rank, *joined, *min_hold_s),
            Why::Replaced { by, lead, margin } => write!(
                f,
                "replaced by {by}, which outscores it by {lead:.2} ≥ margin {margin}"
            ),
            Why::Replaces {
                rank,
                replaced,
                lead,
                margin,
            } => write!(
                f,
                "rank {rank}; replaces {replaced} (outscores it by {lead:.2} ≥ margin {margin})"
            ),
            Why::Evicted { why } => write!(f, "evicted: {why}"),
            Why::Expansion { model, rank } => write!(f, "expansion: model {model} (rank {rank})"),
        }
    }
}

/// The words of [`Why::Young`]: said with fixed times, so that two runs a second apart
/// agree.
fn young(f: &mut fmt::Formatter<'_>, rank: usize, joined: i64, min_hold_s: i64) -> fmt::Result {
    write!(
        f,
        "rank {rank}; joined {}, within min_hold {} (until {})",
        crate::clock::epoch(joined),
        crate::clock::span(min_hold_s),
        crate::clock::epoch(joined + min_hold_s)
    )
}

/// Stored as its words: the audit entry's `decisions` are read by people and scripts.
impl Serialize for Why {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
