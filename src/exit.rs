//! Process exit codes: the contract with cron, systemd and `policy_refresh.sh`.
//!
//! Errors carry their category as a typed error somewhere in their `anyhow` chain;
//! [`classify`] finds it, so no code below `main` decides how the process ends.

use crate::error::{FailClosed, StoreError, UsageError};

/// How `universe` ends. The numbers are documented in the README and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what it was asked.
    Success = 0,
    /// Anything not covered below (I/O on a snapshot folder, nothing published yet, …).
    Failure = 1,
    /// A bad flag, variable or value; nothing was fetched or written.
    Usage = 2,
    /// Market data was not trustworthy; nothing was published, the previous policy stands.
    FailClosed = 3,
    /// The store could not be reached, read or written.
    Store = 4,
    /// `proof` found at least one failing check.
    ProofFailed = 5,
    /// `diff-hash`: the universe has not changed for longer than `--stuck-after`.
    Stuck = 6,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit code an error stands for: the first typed category found in its chain.
pub fn classify(error: &anyhow::Error) -> ExitCode {
    for cause in error.chain() {
        if cause.is::<UsageError>() {
            return ExitCode::Usage;
        }
        if cause.is::<FailClosed>() {
            return ExitCode::FailClosed;
        }
        if cause.is::<StoreError>() {
            return ExitCode::Store;
        }
    }
    ExitCode::Failure
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn category_is_found_below_context() {
        let err = anyhow::Error::new(FailClosed::Banned {
            url: "u".into(),
            retry_after_s: None,
        })
        .context("generate");
        assert_eq!(classify(&err), ExitCode::FailClosed);
        let err: anyhow::Result<()> =
            Err(StoreError::new("file:/x", "disk full")).context("publishing");
        assert_eq!(classify(&err.unwrap_err()), ExitCode::Store);
        assert_eq!(classify(&anyhow::anyhow!("other")), ExitCode::Failure);
    }
}
