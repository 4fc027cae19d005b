//! (in progress)

/// A five-field cron schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSchedule {}

/// Why a cron string is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

impl CronSchedule {
    /// Parses a five-field cron string (`minute hour day-of-month month day-of-week`).
    pub fn parse(_text: &str) -> Result<Self, CronError> {
        Ok(Self {})
    }
}
