//! The duration syntax of declarations: `"90s"`, `"15m"`, `"26h"`, `"7d"`, `"1h30m"`.
//!
//! Lags, lookbacks, intervals, timeouts and retry delays are all written this way, so one parser
//! gives every field the same rules and the same error messages. A duration is one or more
//! `<digits><unit>` parts, units `d`, `h`, `m`, `s` in descending order, each at most once.

use std::fmt;
use std::time::Duration;

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{text}`: {reason}")]
pub struct DurationError {
    /// The rejected text.
    pub text: String,
    /// Byte offset in `text` where the problem is.
    pub offset: usize,
    /// What is wrong, and what was expected.
    pub reason: String,
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses a duration such as `"90s"`, `"7d"` or `"1h30m"`.
///
/// Zero (`"0s"`) is a valid duration; fields that need a positive one check that themselves.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |offset: usize, reason: String| DurationError {
        text: text.to_string(),
        offset,
        reason,
    };
    if text.trim().is_empty() {
        return Err(error(
            0,
            "expected a number and a unit, e.g. `90s`, `15m`, `26h`, `7d` or `1h30m`".into(),
        ));
    }
    let bytes = text.as_bytes();
    let mut position = 0;
    let mut total: u64 = 0;
    // Index in UNITS of the last unit seen: later parts must use a smaller unit.
    let mut last_unit: Option<usize> = None;
    while position < bytes.len() {
        let digits_start = position;
        while position < bytes.len() && bytes[position].is_ascii_digit() {
            position += 1;
        }
        if position == digits_start {
            let found = text[position..].chars().next().unwrap_or(' ');
            return Err(error(
                position,
                format!("expected a number at `{found}`, e.g. `90s` or `1h30m`"),
            ));
        }
        let number: u64 = text[digits_start..position]
            .parse()
            .map_err(|_| error(digits_start, "the number is too large".into()))?;
        let Some(unit_char) = text[position..].chars().next() else {
            return Err(error(
                position,
                format!("`{number}` needs a unit: `s`, `m`, `h` or `d`"),
            ));
        };
        let Some(unit_index) = UNITS.iter().position(|(c, _)| *c == unit_char) else {
            return Err(error(
                position,
                format!("unknown unit `{unit_char}`; units are `s`, `m`, `h` and `d`"),
            ));
        };
        if let Some(last) = last_unit
            && unit_index <= last
        {
            return Err(error(
                position,
                format!(
                    "`{unit_char}` after `{}`: write units once each, largest first (`1h30m`)",
                    UNITS[last].0
                ),
            ));
        }
        last_unit = Some(unit_index);
        total = number
            .checked_mul(UNITS[unit_index].1)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| error(digits_start, "the duration is too large".into()))?;
        position += unit_char.len_utf8();
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration in the declaration syntax, largest units first (`5400s` → `1h30m`).
///
/// Sub-second parts are dropped: declarations cannot express them.
pub fn format_duration(duration: Duration) -> String {
    struct Show(u64);
    impl fmt::Display for Show {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut rest = self.0;
            if rest == 0 {
                return f.write_str("0s");
            }
            for (unit, seconds) in UNITS {
                if rest >= seconds {
                    write!(f, "{}{unit}", rest / seconds)?;
                    rest %= seconds;
                }
            }
            Ok(())
        }
    }
    Show(duration.as_secs()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        parse_duration(text).unwrap().as_secs()
    }

    #[test]
    fn parses_every_contract_example() {
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("15m"), 900);
        assert_eq!(secs("26h"), 26 * 3600);
        assert_eq!(secs("7d"), 7 * 86_400);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1d2h3m4s"), 86_400 + 7200 + 180 + 4);
        assert_eq!(secs("0s"), 0);
    }

    #[test]
    fn rejects_with_precise_reasons() {
        let cases = [
            ("", 0, "expected a number and a unit"),
            ("90", 2, "`90` needs a unit"),
            ("5x", 1, "unknown unit `x`"),
            (
                "30m1h",
                4,
                "`h` after `m`: write units once each, largest first",
            ),
            ("1h1h", 3, "`h` after `h`"),
            ("h", 0, "expected a number at `h`"),
            ("1h 30m", 2, "expected a number at ` `"),
            ("-5s", 0, "expected a number at `-`"),
            ("99999999999999999999s", 0, "the number is too large"),
            ("999999999999999999d", 0, "the duration is too large"),
        ];
        for (text, offset, reason) in cases {
            let error = parse_duration(text).unwrap_err();
            assert_eq!(error.offset, offset, "{text}: {error}");
            assert!(error.reason.starts_with(reason), "{text}: {error}");
        }
        assert_eq!(
            parse_duration("5x").unwrap_err().to_string(),
            "invalid duration `5x`: unknown unit `x`; units are `s`, `m`, `h` and `d`"
        );
    }

    #[test]
    fn formats_back() {
        for text in ["90s", "15m", "26h", "7d", "1h30m", "0s", "1d2h3m4s"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(
                parse_duration(&format_duration(duration)).unwrap(),
                duration
            );
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    proptest::proptest! {
        #[test]
        fn format_and_parse_round_trip(seconds in 0u64..10_000_000) {
            let duration = Duration::from_secs(seconds);
            proptest::prop_assert_eq!(parse_duration(&format_duration(duration)).unwrap(), duration);
        }

        #[test]
        fn never_panics(text in "[0-9dhms x]{0,12}") {
            let _ = parse_duration(&text);
        }
    }
}
