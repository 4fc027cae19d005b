//! The command protocol's files: what a command reports in `STRATA_EVENTS`, and reading what
//! it wrote to `STRATA_OUTPUT` in any of the four formats.
//!
//! ```text
//!   executor ── env STRATA_OUTPUT, STRATA_EVENTS ──▶ command (any program)
//!                                                      │ exits 0
//!   events::parse_events(text) ◀── JSON lines ─────────┤
//!     → Reported events + warnings for the step log    │
//!   output::read_output(path, spec) ◀── one file ──────┘
//!     → schema + batches (typed, checked against the asset's earlier partitions)
//! ```
//!
//! Both sides are the user's code talking to Strata, so neither trusts what it reads: a bad
//! events line is a warning, never a crash (the command already succeeded), while a bad output
//! file is an error that says what to change — because committing it would break every reader
//! of the asset.
//!
//! - [`events`]: parse the events file into [`Reported`] events.
//! - [`output`]: read the output file into Arrow batches, inferring or pinning column types and
//!   refusing schema drift.

pub mod events;
pub mod output;

pub use events::{ColumnSource, ParsedEvents, Reported, parse_events};
pub use output::{Output, OutputError, OutputSpec, Position, read_output};

/// The longest value echoed in a warning or error, in characters.
const ECHO_LIMIT: usize = 80;

/// Shortens user text echoed in a message, so one huge line cannot flood the step log.
fn clip(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT - 1) {
        Some((cut, _)) if text[cut..].chars().nth(1).is_some() => format!("{}…", &text[..cut]),
        _ => text.to_string(),
    }
}

/// A value as JSON text, shortened: how messages show what the command wrote.
fn echo_json(value: &serde_json::Value) -> String {
    clip(&value.to_string())
}

/// A serde_json error without its "at line 1 column N" suffix: the caller parses one line at a
/// time and names the file line itself, so serde's line number would only mislead. The column
/// stays when serde knows it (it says 0 when it does not).
fn json_error_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match full.strip_suffix(&suffix) {
        Some(message) if error.column() > 0 => format!("{message} (column {})", error.column()),
        Some(message) => message.to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_at_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let exact = "é".repeat(ECHO_LIMIT);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(ECHO_LIMIT + 1);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), ECHO_LIMIT);
        assert!(clipped.ends_with("é…"));
    }

    #[test]
    fn json_error_message_names_the_column_not_serdes_line() {
        let error = serde_json::from_str::<serde_json::Value>("{\"a\": }").unwrap_err();
        assert_eq!(json_error_message(&error), "expected value (column 7)");
    }
}
