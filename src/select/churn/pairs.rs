//! Churn control's pairs: the best challengers against the worst replaceable incumbents,
//! while the margin is cleared and `max_replacements` allows (rule 5 of [`super`]).

use super::{Action, Choice, Context, Pair, is_challenger, too_correlated};
use crate::output;
use crate::select::Scored;

/// Best challenger against worst replaceable incumbent, while the margin is cleared and
/// `max_replacements` allows.
pub(super) fn pair(ranked: &[Scored], ctx: &Context<'_>, choice: &mut Choice) {
    let margin = ctx.churn.margin;
    let mut challenger = 0;
    for incumbent in replaceable(ranked, ctx, choice) {
        let mine = &ranked[incumbent];
        let next = next_challenger(ranked, ctx, choice, &mut challenger, incumbent);
        let symbol = mine.candidate.symbol.clone();
        let Some(c) = next.filter(|&c| ranked[c].score >= mine.score + margin) else {
            let reason = format!(
                "rank {}; no challenger outscores it by margin {margin}",
                incumbent + 1
            );
            choice.decide(&symbol, Action::Kept, reason);
            break;
        };
        let lead = ranked[c].score - mine.score;
        if choice.pairs.len() >= ctx.churn.max_replacements {
            let reason = format!(
                "rank {}; {} outscores it by {lead:.2} ≥ margin {margin}, but max_replacements {} was reached",
                incumbent + 1,
                ranked[c].candidate.symbol,
                ctx.churn.max_replacements
            );
            choice.decide(&symbol, Action::Kept, reason);
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
        let symbol = &ranked[i].candidate.symbol;
        let incumbent = ctx.incumbents.contains(symbol);
        if !incumbent || ctx.lists.is_pinned(symbol) || ctx.held.contains(symbol) {
            continue;
        }
        match ctx.joined_at.get(symbol) {
            Some(&joined) if ctx.now - joined < min_hold => {
                // said with fixed times, so that two runs a second apart agree
                let reason = format!(
                    "rank {}; joined {}, within min_hold {} (until {})",
                    i + 1,
                    output::epoch(joined),
                    output::span(min_hold),
                    output::epoch(joined + min_hold)
                );
                choice
                    .decisions
                    .iter_mut()
                    .filter(|d| &d.symbol == symbol)
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
    let symbol = mine.candidate.symbol.clone();
    let lead = theirs.score - mine.score;
    choice.members.retain(|&m| m != incumbent);
    choice.members.push(c);
    choice.replacements += 1;
    choice.decide(
        &symbol,
        Action::Removed,
        format!(
            "replaced by {}, which outscores it by {lead:.2} ≥ margin {margin}",
            theirs.candidate.symbol
        ),
    );
    choice.decide(
        &theirs.candidate.symbol,
        Action::Added,
        format!(
            "rank {}; replaces {} (outscores it by {lead:.2} ≥ margin {margin})",
            c + 1,
            symbol
        ),
    );
    choice.pairs.push(Pair {
        entrant: theirs.candidate.symbol.clone(),
        replaced: symbol,
        entrant_score: theirs.score,
        replaced_score: mine.score,
    });
}
