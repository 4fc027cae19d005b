//! "Now": the real clock, `STRATA_NOW`, or a command's `--now`.

use chrono::{DateTime, Utc};

use crate::CliError;

/// Parses an RFC 3339 time given on the command line or in `STRATA_NOW`.
pub(crate) fn parse_time(text: &str, origin: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            CliError::Usage(format!(
                "{origin} `{text}` is not an RFC 3339 time ({e}); write e.g. 2013-06-01T00:00:00Z or 2013-06-01T00:00:00-04:00"
            ))
        })
}

/// `--now` if given, else `STRATA_NOW` if set, else the real clock.
pub(crate) fn now(flag: Option<&str>) -> Result<DateTime<Utc>, CliError> {
    if let Some(text) = flag {
        return parse_time(text, "--now");
    }
    match std::env::var("STRATA_NOW") {
        Ok(text) if !text.is_empty() => parse_time(&text, "STRATA_NOW"),
        _ => Ok(Utc::now()),
    }
}

/// The clock events are stamped with: fixed at `STRATA_NOW` when set, else the wall clock.
pub(crate) fn event_clock() -> Result<strata_engine::executor::Clock, CliError> {
    match std::env::var("STRATA_NOW") {
        Ok(text) if !text.is_empty() => {
            let fixed = parse_time(&text, "STRATA_NOW")?.timestamp_millis();
            Ok(std::sync::Arc::new(move || fixed))
        }
        _ => Ok(std::sync::Arc::new(|| Utc::now().timestamp_millis())),
    }
}
