//! Typed reading of spanned TOML values, reporting every mistake instead of stopping at one.
//!
//! Declarations are read by walking `toml`'s spanned document rather than deriving serde
//! structs: serde stops at the first error, while `strata check` must report all of them, each
//! at its own position, and name the closest valid field for an unknown one.

use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostics::FileSink;
use crate::cron::CronSchedule;
use crate::duration::parse_duration;
use crate::suggest;

/// A spanned TOML value.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// "a string", "an integer", … for messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The value of `key` in `table`.
pub(crate) fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Value<'i>> {
    table.get(key)
}

/// Reports every key of `table` not in `allowed`, suggesting the closest allowed one.
///
/// `special` lists keys with their own message (`"…"` is appended to `` `key` ``), such as
/// fields that belong to another kind of asset or features not supported yet.
pub(crate) fn check_keys(
    sink: &mut FileSink<'_>,
    table: &DeTable<'_>,
    allowed: &[&str],
    special: &[(&str, &str)],
    context: &str,
) {
    for (key, _) in table.iter() {
        let name = key.get_ref().as_ref();
        if allowed.contains(&name) {
            continue;
        }
        if let Some((_, message)) = special.iter().find(|(k, _)| *k == name) {
            sink.span(key.span(), format!("`{name}` {message}"), None);
            continue;
        }
        let hint = suggest::did_you_mean(name, allowed.iter().copied())
            .unwrap_or_else(|| format!("valid fields: {}", allowed.join(", ")));
        sink.span(
            key.span(),
            format!("unknown field `{name}` in {context}"),
            Some(hint),
        );
    }
}

/// Reports a value of the wrong type.
pub(crate) fn wrong_type(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str, expected: &str) {
    sink.span(
        value.span(),
        format!(
            "`{what}` must be {expected}, found {}",
            type_name(value.get_ref())
        ),
        None,
    );
}

/// A string.
pub(crate) fn string(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::String(text) => Some(text.to_string()),
        _ => {
            wrong_type(sink, value, what, "a string");
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn nonempty_string(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
) -> Option<String> {
    let text = string(sink, value, what)?;
    if text.trim().is_empty() {
        sink.span(value.span(), format!("`{what}` must not be empty"), None);
        return None;
    }
    Some(text)
}

/// An array of strings, each with its span.
pub(crate) fn string_list(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
) -> Option<Vec<Spanned<String>>> {
    let DeValue::Array(items) = value.get_ref() else {
        wrong_type(sink, value, what, "an array of strings");
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match item.get_ref() {
            DeValue::String(text) => out.push(Spanned::new(item.span(), text.to_string())),
            _ => {
                wrong_type(sink, item, &format!("{what}[]"), "a string");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// An integer.
pub(crate) fn integer(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<i64> {
    match value.get_ref() {
        DeValue::Integer(int) => match i64::from_str_radix(int.as_str(), int.radix()) {
            Ok(n) => Some(n),
            Err(_) => {
                sink.span(value.span(), format!("`{what}` is too large"), None);
                None
            }
        },
        _ => {
            wrong_type(sink, value, what, "an integer");
            None
        }
    }
}

/// An integer within `min..=max`.
pub(crate) fn integer_in(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
    min: i64,
    max: i64,
) -> Option<i64> {
    let n = integer(sink, value, what)?;
    if n < min || n > max {
        let range = if max == i64::MAX {
            format!("at least {min}")
        } else {
            format!("between {min} and {max}")
        };
        sink.span(
            value.span(),
            format!("`{what}` must be {range}, found {n}"),
            None,
        );
        return None;
    }
    Some(n)
}

/// A finite number (an integer is accepted).
pub(crate) fn number(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<f64> {
    let n = match value.get_ref() {
        DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
        DeValue::Integer(int) => i64::from_str_radix(int.as_str(), int.radix())
            .ok()
            .map(|n| n as f64),
        _ => {
            wrong_type(sink, value, what, "a number");
            return None;
        }
    };
    match n {
        Some(n) if n.is_finite() => Some(n),
        _ => {
            sink.span(
                value.span(),
                format!("`{what}` must be a finite number"),
                None,
            );
            None
        }
    }
}

/// A finite number ≥ 0.
pub(crate) fn price(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<f64> {
    let n = number(sink, value, what)?;
    if n < 0.0 {
        sink.span(value.span(), format!("`{what}` must not be negative"), None);
        return None;
    }
    Some(n)
}

/// A boolean.
pub(crate) fn boolean(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<bool> {
    match value.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            wrong_type(sink, value, what, "a boolean (`true` or `false`)");
            None
        }
    }
}

/// A table.
pub(crate) fn table<'t, 'i>(
    sink: &mut FileSink<'_>,
    value: &'t Value<'i>,
    what: &str,
) -> Option<&'t DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Some(table),
        _ => {
            wrong_type(sink, value, what, "a table");
            None
        }
    }
}

/// A duration string (`"90s"`, `"1h30m"`); errors point inside the string.
pub(crate) fn duration(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<Duration> {
    let DeValue::String(text) = value.get_ref() else {
        wrong_type(
            sink,
            value,
            what,
            "a duration string such as \"90s\" or \"1h30m\"",
        );
        return None;
    };
    match parse_duration(text) {
        Ok(duration) => Some(duration),
        Err(error) => {
            let offset = sink.offset_in_string(value.span(), text, error.offset);
            sink.at(
                offset,
                format!("`{what}`: {error}"),
                Some("durations look like \"90s\", \"15m\", \"26h\", \"7d\" or \"1h30m\"".into()),
            );
            None
        }
    }
}

/// A duration longer than zero.
pub(crate) fn positive_duration(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
) -> Option<Duration> {
    let d = duration(sink, value, what)?;
    if d.is_zero() {
        sink.span(
            value.span(),
            format!("`{what}` must be longer than zero"),
            None,
        );
        return None;
    }
    Some(d)
}

/// A five-field cron string.
pub(crate) fn cron(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
) -> Option<(String, CronSchedule)> {
    let text = string(sink, value, what)?;
    match CronSchedule::parse(&text) {
        Ok(schedule) => Some((text, schedule)),
        Err(error) => {
            sink.span(
                value.span(),
                format!("`{what}`: {error}"),
                Some(
                    "five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * *\""
                        .into(),
                ),
            );
            None
        }
    }
}

/// An IANA time zone name.
pub(crate) fn timezone(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<Tz> {
    let text = string(sink, value, what)?;
    match suggest::parse_timezone(&text) {
        Ok(tz) => Some(tz),
        Err((message, hint)) => {
            sink.span(value.span(), format!("`{what}`: {message}"), hint);
            None
        }
    }
}

/// One of `names` (a string).
pub(crate) fn choice<'n>(
    sink: &mut FileSink<'_>,
    value: &Value<'_>,
    what: &str,
    names: &[&'n str],
) -> Option<&'n str> {
    let text = string(sink, value, what)?;
    if let Some(found) = names.iter().find(|n| **n == text) {
        return Some(found);
    }
    let hint = suggest::did_you_mean(&text, names.iter().copied())
        .unwrap_or_else(|| format!("valid values: {}", suggest::one_of(names)));
    sink.span(
        value.span(),
        format!("invalid `{what}` \"{text}\""),
        Some(hint),
    );
    None
}

/// A serde type read from a spanned value (partition specs), with serde's message made
/// friendlier: an unknown field or variant names the closest valid one.
pub(crate) fn deserialize<T>(sink: &mut FileSink<'_>, value: &Value<'_>, what: &str) -> Option<T>
where
    T: for<'de> Deserialize<'de>,
{
    match T::deserialize(value.clone().into_deserializer()) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let span = error.span().unwrap_or_else(|| value.span());
            let (message, hint) = friendly_serde_message(error.message());
            sink.span(span, format!("`{what}`: {message}"), hint);
            None
        }
    }
}

/// `unknown field `x`, expected one of `a`, `b`` → (`unknown field `x``, closest or list).
fn friendly_serde_message(message: &str) -> (String, Option<String>) {
    let message = message.trim();
    for marker in [", expected one of ", ", expected "] {
        if let Some((head, expected)) = message.split_once(marker)
            && (head.starts_with("unknown field `") || head.starts_with("unknown variant `"))
        {
            let word = head.split('`').nth(1).unwrap_or_default();
            let names: Vec<&str> = expected
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, name)| name)
                .collect();
            let hint = suggest::did_you_mean(word, names.iter().copied())
                .unwrap_or_else(|| format!("valid: {}", suggest::one_of(&names)));
            return (head.to_string(), Some(hint));
        }
    }
    (message.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_get_suggestions() {
        let (message, hint) =
            friendly_serde_message("unknown field `timezon`, expected one of `start`, `timezone`");
        assert_eq!(message, "unknown field `timezon`");
        assert_eq!(hint.as_deref(), Some("did you mean `timezone`?"));
        let (message, hint) =
            friendly_serde_message("unknown variant `weakly`, expected `weekly` or `daily`");
        assert_eq!(message, "unknown variant `weakly`");
        assert_eq!(hint.as_deref(), Some("did you mean `weekly`?"));
        assert_eq!(friendly_serde_message("other").0, "other");
    }
}
