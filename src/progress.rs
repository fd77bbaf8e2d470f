//! Progress on stderr while candles are fetched, only when stderr is a terminal.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar on stderr if it is a terminal, else nothing.
    pub fn for_stderr() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} market overview · {elapsed}")
                .expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some(bar))
    }

    pub fn hidden() -> Self {
        Self(None)
    }

    /// The overview is in: from now on, candles for `total` symbols.
    pub fn start(&self, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_style(
                ProgressStyle::with_template(
                    "candles {bar:30} {pos}/{len} symbols · weight {msg} · {elapsed}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            bar.set_length(total);
        }
    }

    /// One more symbol done; `weight` is the request weight used so far.
    pub fn advance(&self, weight: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            bar.set_message(weight.to_string());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
