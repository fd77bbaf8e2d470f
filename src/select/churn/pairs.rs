//! Churn control's pairs: the best challengers against the worst replaceable incumbents,
//! while the margin is cleared and `max_replacements` allows (rule 5 of [`super`]).

use super::{Action, Choice, Context, Pair, Why, is_challenger, too_correlated};
use crate::select::Scored;

/// Best challenger against worst replaceable incumbent, while the margin is cleared and
/// `max_replacements` allows.
pub(super) fn pair(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    let margin = ctx.churn.margin;
    let mut challenger = 0;
    for incumbent in replaceable(ranked, ctx, choice) {
        let mine = &ranked[incumbent];
        let next = next_challenger(ranked, ctx, choice, &mut challenger, incumbent);
        let symbol = mine.candidate.symbol;
        let Some(c) = next.filter(|&c| ranked[c].score >= mine.score + margin) else {
            let why = Why::NoChallenger {
                rank: incumbent + 1,
                margin,
            };
            choice.decide(symbol, Action::Kept, why);
            break;
        };
        let lead = ranked[c].score - mine.score;
        if choice.pairs.len() >= ctx.churn.max_replacements {
            let why = Why::MaxReplacements {
                rank: incumbent + 1,
                challenger: ranked[c].candidate.symbol,
                lead,
                margin,
                max: ctx.churn.max_replacements,
            };
            choice.decide(symbol, Action::Kept, why);
            break;
        }
        replace(ranked, choice, incumbent, c, margin);
    }
}

/// The incumbents a challenger may replace, worst first: scored, not pinned, not held,
/// and in the universe for `min_hold`; the young ones' reasons say until when they stay.
fn replaceable(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) -> Vec<usize> {
    let min_hold = ctx.churn.min_hold.as_secs() as i64;
    let mut replaceable: Vec<usize> = Vec::new();
    for &i in &choice.members {
        let symbol = ranked[i].candidate.symbol;
        let incumbent = ctx.incumbents.contains(&symbol);
        if !incumbent || ctx.lists.is_pinned(symbol.as_str()) || ctx.held.contains(&symbol) {
            continue;
        }
        match ctx.joined_at.get(&symbol) {
            Some(&joined) if ctx.now - joined < min_hold => {
                let reason = Why::Young {
                    rank: i + 1,
                    joined,
                    min_hold_s: min_hold,
                };
                choice
                    .decisions
                    .iter_mut()
                    .filter(|d| d.symbol == symbol)
                    .for_each(|d| d.reason.clone_from(&reason));
            }
            _ => replaceable.push(i),
        }
    }
    replaceable.sort_unstable_by(|a, b| b.cmp(a)); // worst first
    replaceable
}

/// The best challenger from `*from` on that is not too close to the universe without
/// `incumbent`; `*from` moves past every challenger looked at.
fn next_challenger(
    ranked: &[Scored],
    ctx: &Context<'_>,
    choice: &mut Choice,
    from: &mut usize,
    incumbent: usize,
) -> Option<usize> {
    loop {
        let i = (*from..ranked.len()).find(|&i| is_challenger(ranked, ctx, choice, i))?;
        *from = i + 1;
        if !too_correlated(ranked, ctx, choice, i, Some(incumbent)) {
            return Some(i);
        }
    }
}

/// Challenger `c` replaces `incumbent`: the swap, both decisions and the pair.
fn replace(ranked: &[Scored], choice: &mut Choice, incumbent: usize, c: usize, margin: f64) {
    let (mine, theirs) = (&ranked[incumbent], &ranked[c]);
    let symbol = mine.candidate.symbol;
    let lead = theirs.score - mine.score;
    choice.members.retain(|&m| m != incumbent);
    choice.members.push(c);
    choice.replacements += 1;
    let replaced = Why::Replaced {
        by: theirs.candidate.symbol,
        lead,
        margin,
    };
    choice.decide(symbol, Action::Removed, replaced);
    let entry = Why::Replaces {
        rank: c + 1,
        replaced: symbol,
        lead,
        margin,
    };
    choice.decide(theirs.candidate.symbol, Action::Added, entry);
    choice.pairs.push(Pair {
        entrant: theirs.candidate.symbol,
        replaced: symbol,
        entrant_score: theirs.score,
        replaced_score: mine.score,
    });
}
